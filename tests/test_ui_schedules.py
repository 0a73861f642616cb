"""The Schedules view: a Pilot walk through its keys and a snapshot (frozen clock)."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from tests.test_ui_helpers import NOW, _quiet, choose_type, new_app, no_blink, table, wait_for
from tuiqueue.ui.app import QueueApp
from tuiqueue.ui.screens.schedule_add import ScheduleAddScreen
from tuiqueue.ui.screens.schedules import SchedulesScreen

__all__ = ["_quiet"]


async def three_schedules(app: QueueApp) -> None:
    """A frequent one, a nightly cron in a named zone, a paused one with a last run."""
    engine = app.engine
    await engine.schedule("tick", "gate", {"label": "t"}, every="30s", tz="UTC")
    await engine.schedule(
        "nightly", "hello", {}, cron="30 2 * * *", tz="Europe/Berlin", priority="high"
    )
    await engine.schedule("fives", "gate", {}, cron="*/5 * * * *", tz="UTC")
    await engine.run_schedule("fives")
    await engine.pause_schedule("fives")


def rows(app: QueueApp) -> list[list[str]]:
    grid = app.screen.query_one("#schedules", DataTable)
    return [[str(c) for c in grid.get_row_at(i)] for i in range(grid.row_count)]


async def open_schedules(pilot: Pilot[Any]) -> QueueApp:
    app = pilot.app
    assert isinstance(app, QueueApp)
    await wait_for(pilot, lambda: app.stats is not None or not app.engine.worker)
    await three_schedules(app)
    table(app).focus()
    await pilot.press("s")
    await wait_for(
        pilot,
        lambda: isinstance(app.screen, SchedulesScreen) and len(app.screen.shown) == 3,
    )
    return app


def test_schedules_view(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_schedules(pilot)

    # No worker: the job `fives` made stays pending (its outcome in the picture).
    assert snap_compare(new_app(worker=False), terminal_size=(140, 16), run_before=run_before)


@pytest.mark.anyio
async def test_keys_pause_run_delete_undo_and_add_from_the_form() -> None:
    app = new_app()
    async with app.run_test(size=(140, 30)) as pilot:
        await open_schedules(pilot)
        screen = app.screen
        assert isinstance(screen, SchedulesScreen)
        first = rows(app)[0]
        assert first[0] == "fives" and first[-1] == "paused" and first[3] == "-"
        tick = rows(app)[2]
        assert tick[2] == "every 30 seconds (UTC)" and tick[4] == "in 30s"
        nightly = rows(app)[1]
        assert nightly[2] == "at 02:30 every day (Europe/Berlin)"

        await pilot.press("p")  # resume fives
        await wait_for(pilot, lambda: rows(app)[0][-1] == "active")
        assert rows(app)[0][4] == "in 1m40s"  # NOW is 22:13:20 UTC: the next 5 minutes at 22:15
        await pilot.press("r")  # run it now
        await wait_for(pilot, lambda: screen.shown[0].last_job == 2)

        await pilot.press("d")
        await wait_for(pilot, lambda: [r[0] for r in rows(app)] == ["nightly", "tick"])
        await pilot.press("u")
        await wait_for(pilot, lambda: [r[0] for r in rows(app)] == ["fives", "nightly", "tick"])

        # `a` schedules the job the queue screen's form holds
        await pilot.press("escape")
        await choose_type(pilot, "hello")
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SchedulesScreen))
        await wait_for(pilot, lambda: len(app.screen.shown) == 3)  # type: ignore[attr-defined]
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ScheduleAddScreen))
        no_blink(app)
        assert app.screen.query_one("#schedule-name", Input).has_focus
        await pilot.press(*"greet", "enter", *"10m", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SchedulesScreen))
        await wait_for(pilot, lambda: "greet" in [r[0] for r in rows(app)])
        made = {s.name: s for s in await app.engine.schedules()}["greet"]
        assert (made.type, made.every, made.params["count"]) == ("hello", 600.0, 3)
        assert made.next_run == NOW + 600


@pytest.mark.anyio
async def test_a_read_only_dashboard_shows_schedules_but_changes_nothing() -> None:
    from tuiqueue.core.schedule import make_schedule

    app = new_app(read_only=True)
    async with app.run_test(size=(140, 20)) as pilot:
        await app.engine.store.add_schedule(
            make_schedule("tick", "gate", {}, every="30s", tz="UTC", now=NOW)
        )
        table(app).focus()
        await pilot.press("s")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, SchedulesScreen) and len(app.screen.shown) == 1,
        )
        await pilot.press("p", "r", "d")
        await pilot.pause()
        [schedule] = await app.engine.schedules()
        assert not schedule.paused and schedule.last_job is None
        assert await app.engine.list() == []
