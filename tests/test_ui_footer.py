"""The footer rebuilds its keys once for a burst of binding changes, and shows the latest."""

from __future__ import annotations

from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Footer, Static

from tuiqueue.ui.widgets.key_footer import KeyFooter

pytestmark = pytest.mark.anyio


class Counted(App[None]):
    """An app whose footer counts its rebuilds; `x` is shown only while `allowed`."""

    BINDINGS = [("x", "thing", "Thing"), ("z", "other", "Other")]

    def __init__(self, footer: type[Footer]) -> None:
        super().__init__()
        self.footer_type = footer
        self.allowed = True
        self.rebuilds = 0

    def compose(self) -> ComposeResult:
        yield Static("body")
        app = self

        class Counting(self.footer_type):  # type: ignore[name-defined,misc]
            async def recompose(self) -> None:
                app.rebuilds += 1
                await super().recompose()

        yield Counting()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.allowed if action == "thing" else True

    def action_thing(self) -> None:
        pass

    def action_other(self) -> None:
        pass


def keys(app: App[Any]) -> set[str]:
    return {str(k.key) for k in app.screen.query("FooterKey")} - {"ctrl+p"}  # type: ignore[attr-defined]


async def burst(footer: type[Footer]) -> tuple[int, set[str], set[str]]:
    app = Counted(footer)
    async with app.run_test() as pilot:
        await pilot.pause()
        before = keys(app)
        app.rebuilds = 0
        app.allowed = False
        for _ in range(5):
            app.screen.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        return app.rebuilds, before, keys(app)


async def test_a_burst_of_binding_changes_rebuilds_the_footer_once() -> None:
    rebuilds, before, after = await burst(KeyFooter)
    assert rebuilds == 1
    assert before == {"x", "z"}
    assert after == {"z"}  # the rebuild read the bindings as they were at its time


async def test_textual_footer_rebuilds_once_per_change() -> None:
    """What KeyFooter saves: Textual's own Footer rebuilds on every signal."""
    rebuilds, _, after = await burst(Footer)
    assert rebuilds == 5
    assert after == {"z"}
