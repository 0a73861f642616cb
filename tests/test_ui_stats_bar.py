"""The stats bar is one widget: it draws what its four widgets drew, cell for cell."""

from __future__ import annotations

from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Sparkline, Static

from tests.test_ui_coldstart import cells
from tests.test_ui_helpers import _quiet
from tuiqueue.core.queues import QueueInfo
from tuiqueue.core.records import Stats
from tuiqueue.core.status import TERMINAL, Status
from tuiqueue.ui.app import styles_dir
from tuiqueue.ui.widgets.stats_bar import (
    HISTORY,
    NARROW_STORE_WIDTH,
    STORE_WIDTH,
    StatsBar,
    store_label,
)

__all__ = ["_quiet"]

pytestmark = pytest.mark.anyio


class FourWidgetBar(Horizontal):
    """The bar as it was (0.27): a Horizontal of the counts, the store, "done/s" and a
    Sparkline, each its own widget; the counts line is StatsBar's."""

    stats: reactive[Stats | None] = reactive(None, always_update=True)
    marked: reactive[int] = reactive(0)

    def __init__(self, *, mode: str, store: str) -> None:
        super().__init__(id="old")
        self.mode = mode
        self.store = store
        self._finished: int | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="stats-text", markup=False)
        yield Static(Text(store_label(self.store)), id="stats-store", markup=False)
        yield Static("done/s", id="stats-label")
        yield Sparkline([0.0] * HISTORY, id="stats-spark")

    def fold(self, narrow: bool) -> None:
        self.set_class(narrow, "-narrow")
        width = NARROW_STORE_WIDTH if narrow else STORE_WIDTH
        self.query_one("#stats-store", Static).update(Text(store_label(self.store, width)))

    def watch_stats(self, stats: Stats | None) -> None:
        if stats is None:
            return
        self.set_class(stats.queue_paused, "-paused")
        self.query_one("#stats-text", Static).update(self.render_stats(stats), layout=False)
        finished = sum(stats.counts.get(s, 0) for s in TERMINAL)
        if self._finished is not None:
            spark = self.query_one(Sparkline)
            data = [*list(spark.data or []), float(max(0, finished - self._finished))]
            spark.data = data[-HISTORY:]
        self._finished = finished

    def watch_marked(self, marked: int) -> None:
        if self.stats is not None:
            self.query_one("#stats-text", Static).update(
                self.render_stats(self.stats), layout=False
            )

    def render_stats(self, stats: Stats) -> Text:
        return StatsBar.render_stats(self, stats)  # type: ignore[arg-type]

    def render_queues(self, stats: Stats, text: Text) -> None:
        StatsBar.render_queues(self, stats, text)  # type: ignore[arg-type]


OLD_CSS = """
#old { dock: top; height: 1; background: $panel; }
#old.-paused { background: $warning 20%; }
#stats-text { width: 1fr; height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
#stats-label { width: auto; color: $text-muted; padding: 0 1; }
#stats-store { width: auto; color: $text-muted; padding: 0 1; text-wrap: nowrap; }
#old.-narrow #stats-label, #old.-narrow #stats-spark { display: none; }
#stats-spark { width: 16; margin-right: 1; }
#stats-spark > .sparkline--max-color { color: $success; }
#stats-spark > .sparkline--min-color { color: $success 30%; }
"""
"""The four widgets' rules, as they were in dashboard.tcss."""


class BarHarness(App[None]):
    """One bar, the old or the new, styled as in the dashboard."""

    CSS_PATH = str(styles_dir() / "dashboard.tcss")
    CSS = OLD_CSS
    AUTO_FOCUS = None

    def __init__(self, old: bool, theme: str, mode: str, store: str) -> None:
        super().__init__()
        self.old = old
        self._theme_name = theme
        self.bar: Any = (
            FourWidgetBar(mode=mode, store=store)
            if old
            else StatsBar(id="stats", mode=mode, store=store)
        )

    def compose(self) -> ComposeResult:
        yield self.bar

    def on_mount(self) -> None:
        self.theme = self._theme_name


def stats(finished: int = 0, *, paused: bool = False, queues: bool = False) -> Stats:
    """Stats with a few of each status (`finished` completed), optionally named queues."""
    counts = {Status.RUNNING: 2, Status.PENDING: 1234, Status.COMPLETED: finished}
    counts[Status.FAILED] = 1
    named = (
        (QueueInfo("default"), QueueInfo("mail", paused=True, limit=2, running=1)) if queues else ()
    )
    return Stats(
        counts=counts,
        active=2,
        capacity=3,
        processed=finished,
        queue_paused=paused,
        workers=2,
        fleet_active=3,
        fleet_capacity=6,
        fleet_processed=finished + 7,
        queues=named,
    )


SCENES: dict[str, dict[str, Any]] = {
    "first-frame": {"updates": []},
    "counts": {"updates": [stats(5, queues=True)]},
    "sparkline": {"updates": [stats(0), stats(3), stats(3), stats(10), stats(11)]},
    "marked-paused-read-only": {
        "updates": [stats(2, paused=True)],
        "marked": 12,
        "mode": "read-only",
    },
    "narrow-cut": {"updates": [stats(0), stats(4, queues=True)], "narrow": True, "width": 80},
    "watching-long-store": {
        "updates": [stats(1)],
        "mode": "watching",
        "store": "/var/lib/a/very/long/path/to/the/queue/database/jobs.db",
    },
}
"""What each comparison shows: the stats pushed in turn, marks, mode, store, width."""


async def _bar_cells(
    old: bool, theme: str, scene: dict[str, Any]
) -> dict[tuple[int, int], tuple[str, str, str]]:
    app = BarHarness(
        old, theme, scene.get("mode", "worker"), scene.get("store", "~/.local/jobs.db")
    )
    async with app.run_test(size=(scene.get("width", 140), 3)) as pilot:
        bar = app.bar
        bar.fold(bool(scene.get("narrow")))
        for update in scene["updates"]:
            bar.stats = update
            await pilot.pause()
        bar.marked = scene.get("marked", 0)
        await pilot.pause()
        return cells(app.export_screenshot())


@pytest.mark.parametrize("scene", list(SCENES))
@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
async def test_the_one_widget_bar_draws_what_the_four_did(theme: str, scene: str) -> None:
    old = await _bar_cells(True, theme, SCENES[scene])
    new = await _bar_cells(False, theme, SCENES[scene])
    line = "".join(old.get((0, x), ("", " ", ""))[1] for x in range(200)).strip()
    assert "done/s" in line or SCENES[scene].get("narrow")  # (the bar is on screen)
    assert new == old


async def test_the_bar_keeps_the_last_samples() -> None:
    app = BarHarness(False, "textual-dark", "worker", "x.db")
    async with app.run_test(size=(100, 3)) as pilot:
        bar = app.bar
        for finished in range(HISTORY + 5):
            bar.stats = stats(finished * 2)
        await pilot.pause()
        assert bar.samples == [2.0] * HISTORY
        assert "1 failed" in bar.text.plain
