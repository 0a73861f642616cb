"""What the dashboard leaves out of its first frame, and that it is there when wanted."""

from __future__ import annotations

import pytest
from textual import events
from textual.app import App, ComposeResult
from textual.message import Message

from tests.test_ui_helpers import _quiet, new_app, table, wait_for
from tuiqueue.ui.app import styles_dir
from tuiqueue.ui.widgets.log_view import LogSearch, LogView
from tuiqueue.ui.widgets.type_list import TypeList

__all__ = ["_quiet"]

pytestmark = pytest.mark.anyio


async def test_the_queue_table_has_the_focus_from_the_start() -> None:
    """No widget is focused on the way to the table (the type list used to be, then blurred:
    restyles and footer rebuilds before the first frame)."""
    focused: list[str] = []

    def hook(message: Message) -> None:
        if isinstance(message, events.DescendantFocus):
            focused.append(type(message.widget).__name__)

    app = new_app()
    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        assert app.focused is table(app)
        assert not isinstance(app.focused, TypeList)
    assert focused and set(focused) == {"JobTable"}


class LogHarness(App[None]):
    """A log view alone, styled as in the dashboard."""

    CSS_PATH = str(styles_dir() / "dashboard.tcss")

    def compose(self) -> ComposeResult:
        yield LogView(log_id="log")


async def test_the_log_search_field_is_built_when_first_opened() -> None:
    app = LogHarness()
    async with app.run_test(size=(80, 20)) as pilot:
        view = app.query_one(LogView)
        assert not view.query(LogSearch)  # not built for a log nobody searches
        view.tail.add([(1, "alpha"), (2, "beta")])
        view.tail.focus()
        await pilot.press("slash")
        field = view.query_one(LogSearch)
        assert app.focused is field and field.display and view.has_class("-searching")
        await pilot.press(*"beta", "enter")
        assert view.tail.search == "beta" and app.focused is view.tail
        assert not field.display
        # Opened again: the same field, holding the current search.
        await pilot.press("slash")
        assert list(view.query(LogSearch)) == [field]
        assert app.focused is field and field.value == "beta"
        await pilot.press("escape")
        assert view.tail.search == "" and app.focused is view.tail
