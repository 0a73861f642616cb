"""The Stats view (`g`): the last hour from the store, after a restart too; its empty state,
its refresh, and snapshots at 80x24 and 200x60 (frozen clock, a seeded hour)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from tests.test_ui_helpers import GATE, NOW, _quiet, make_ui_registry, new_app, table, wait_for
from tuiqueue.core.history import FinishedCount, History, window_start
from tuiqueue.core.job import NewJob
from tuiqueue.core.lifecycle import Outcome
from tuiqueue.core.status import Status
from tuiqueue.store.base import Store
from tuiqueue.store.sqlite import SqliteStore
from tuiqueue.ui.app import QueueApp, make_app
from tuiqueue.ui.screens.help import HelpScreen
from tuiqueue.ui.screens.stats import EMPTY, StatsScreen
from tuiqueue.ui.widgets.finished_chart import FinishedChart, minute_labels, y_ticks

__all__ = ["_quiet"]

T_NOW = 1_699_999_980.0 + 3540 + 30
"""Half a minute into the last bucket of an hour that starts on a whole minute."""


def rows(screen: StatsScreen) -> list[list[str]]:
    grid = screen.query_one("#history-types", DataTable)
    return [[str(c) for c in grid.get_row_at(i)] for i in range(grid.row_count)]


def summary(screen: StatsScreen) -> str:
    return str(screen.query_one("#history-summary", Static).render())


async def open_stats(pilot: Pilot[Any], loads: int = 1) -> StatsScreen:
    """Press g on the queue and wait for the view's first read of the store."""
    app = pilot.app
    assert isinstance(app, QueueApp)
    await wait_for(pilot, lambda: app.stats is not None)
    table(app).focus()
    await pilot.press("g")
    await wait_for(pilot, lambda: isinstance(app.screen, StatsScreen) and app.screen.loads >= loads)
    screen = app.screen
    assert isinstance(screen, StatsScreen)
    return screen


async def seed_hour(store: Store, now: float) -> None:
    """Jobs of three types finished over the last hour in a fixed pattern."""
    since = window_start(now)
    for minute in range(60):
        start = since + minute * 60
        for i in range((minute * 7) % 5 + (minute // 20)):
            kind = ("resize", "fetch_urls", "report")[i % 3]
            status = Status.FAILED if (minute + i) % 9 == 0 else Status.COMPLETED
            (job,) = await store.add([NewJob(kind, {})], start)
            (claimed,) = await store.claim("seed", 1, start + i)
            took = 0.4 + (i * 3 + minute) % 7 * (1.5 if kind == "report" else 0.3)
            outcome = Outcome(job.id, claimed.token or "", status, error="boom")
            await store.finish([outcome], min(now, start + i + took))


def file_app(path: Path, clock: float) -> QueueApp:
    return make_app(
        SqliteStore(path),
        clock=lambda: clock,
        registry=make_ui_registry(),
        worker_id="test-worker",
        toasts=False,
        stats_interval=3600,
        grace=0.5,
    )


@pytest.mark.anyio
async def test_the_stats_view_shows_the_last_hour_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    first = file_app(path, NOW)
    async with first.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: first.stats is not None)
        jobs = [
            await first.engine.submit("hello", {}),
            await first.engine.submit("hello", {}),
            await first.engine.submit("kaput", {}),
        ]
        for job in jobs:
            await first.engine.wait(job.id, timeout=10)
    # A new dashboard on the same file two minutes later: nothing in its memory.
    second = file_app(path, NOW + 120)
    async with second.run_test(size=(120, 40)) as pilot:
        screen = await open_stats(pilot)
        history = screen.history
        assert history is not None and not history.empty
        assert sum(history.completed) == 2 and sum(history.failed) == 1
        assert history.completed[-3] == 2  # two minutes ago, the newest minute on the right
        assert rows(screen) == [
            ["hello", "2", "2", "0", "0", "100.0%", "0ms", "0ms"],
            ["kaput", "1", "0", "1", "0", "0.0%", "-", "-"],
        ]
        text = summary(screen)
        assert "3 finished" in text and "2 completed" in text and "1 failed" in text
        assert "success 66.7%" in text
        assert screen.query_one("#history-chart").display
        assert not screen.query_one("#history-empty").display
        await pilot.press("t")  # the chart follows the theme
        await pilot.pause()
        assert second.theme == "textual-light" and screen.query_one("#history-chart").display
        await pilot.press("g")  # g (or esc) goes back
        await wait_for(pilot, lambda: not isinstance(second.screen, StatsScreen))


@pytest.mark.anyio
async def test_empty_state_then_a_finished_job_shows_on_the_next_refresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("tuiqueue.ui.screens.stats.REFRESH", 0.05)
    app = new_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_stats(pilot)
        assert screen.history is not None and screen.history.empty
        empty = screen.query_one("#history-empty", Static)
        assert empty.display and EMPTY in str(empty.render())
        assert not screen.query_one("#history-chart").display
        assert not screen.query_one("#history-types").display
        job = await app.engine.submit("gate", {"label": "a"})
        GATE["open"] = True
        await app.engine.wait(job.id, timeout=5)
        await wait_for(pilot, lambda: screen.history is not None and not screen.history.empty)
        await pilot.pause()
        assert rows(screen) == [["gate", "1", "1", "0", "0", "100.0%", "0ms", "0ms"]]
        assert screen.query_one("#history-chart").display and not empty.display


@pytest.mark.anyio
async def test_palette_and_help_offer_the_stats_view() -> None:
    app = new_app(read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None or not app.engine.worker)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Stats" in titles  # a read-only dashboard shows it too: it only reads
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        keys = {
            (b.key, b.action)
            for _, bindings in help_screen.sections
            for b in bindings  # type: ignore[union-attr]
        }
        assert ("g", "app.stats") in keys


def stats_snapshot(size: tuple[int, int]) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, QueueApp)
        await seed_hour(app.engine.store, NOW)
        await open_stats(pilot)
        await pilot.pause()

    return new_app(worker=False), size, run_before


def test_stats_view_80x24(snap_compare: Any) -> None:
    app, size, run_before = stats_snapshot((80, 24))
    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_stats_view_200x60(snap_compare: Any) -> None:
    app, size, run_before = stats_snapshot((200, 60))
    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_stats_view_empty(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_stats(pilot)
        await pilot.pause()

    assert snap_compare(new_app(worker=False), terminal_size=(80, 24), run_before=run_before)


@pytest.mark.anyio
async def test_a_costly_store_is_read_less_often(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tuiqueue.ui.screens.stats.REFRESH", 0.05)
    app = new_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_stats(pilot)
        assert screen.next_in == 0.05  # a cheap read: the plain interval
        monkeypatch.setattr("tuiqueue.ui.screens.stats.LOAD_SHARE", 1e-9)
        loads = screen.loads
        await wait_for(pilot, lambda: screen.loads > loads)
        assert screen.next_in > 60  # the read's cost, however small, spaces the next one out


def test_chart_ticks() -> None:
    assert y_ticks(0) == [0.0, 1.0]
    assert y_ticks(6) == [0.0, 2.0, 4.0, 6.0]
    assert y_ticks(37) == [0.0, 10.0, 20.0, 30.0, 40.0]
    assert minute_labels(60) == (
        [0.0, 14.0, 29.0, 44.0, 59.0],
        ["-59m", "-45m", "-30m", "-15m", "now"],
    )


@pytest.mark.anyio
async def test_the_chart_alone_draws_a_history() -> None:
    """The widget in a small harness app: bars, whole-number counts, minutes back to now."""

    class Harness(App[None]):
        def compose(self) -> ComposeResult:
            yield FinishedChart(id="chart")

    harness = Harness()
    async with harness.run_test(size=(80, 14)) as pilot:
        chart = harness.query_one(FinishedChart)
        completed = [0] * 59 + [3]
        failed = [0] * 58 + [1, 1]
        history = History.build(
            window_start(T_NOW),
            T_NOW,
            60.0,
            [
                FinishedCount(59, "a", Status.COMPLETED, 3),
                FinishedCount(58, "a", Status.FAILED, 1),
                FinishedCount(59, "a", Status.FAILED, 1),
            ],
            [],
        )
        assert list(history.completed) == completed and list(history.failed) == failed
        chart.show(history)
        await pilot.pause()
        lines = chart.lines(80, 12)
        drawn = "\n".join(line.plain for line in lines)
        assert len(lines) == 12 and all(len(line.plain) == 80 for line in lines)
        assert "now" in drawn and "-59m" in drawn and "4" in drawn and "█" in drawn
        # The last two minutes are bars of their own: 1 job, a gap, then 4 jobs at full height.
        axis = lines[0].plain.index("┤") + 1 if "┤" in lines[0].plain else 2
        bars = [line.plain[axis:] for line in lines[:-2]]
        heights = [sum(row[x] != " " for row in bars) for x in range(len(bars[0]))]
        drawn_at = [x for x, h in enumerate(heights) if h]
        assert heights[drawn_at[-1]] == len(bars)  # 4 is the top tick: that minute is full
        assert heights[drawn_at[0]] < len(bars)  # the 1-job minute is not
        assert any(h == 0 for h in heights[drawn_at[0] : drawn_at[-1]])  # a gap between them
