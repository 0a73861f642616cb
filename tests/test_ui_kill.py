"""Pilot: `C` asks, then stops a process job at once; `+` raises a queued job's priority."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from tests.test_ui_helpers import _quiet, make_ui_registry, new_app, status_of, table, wait_for
from tuiqueue.core.context import JobContext
from tuiqueue.core.status import Priority
from tuiqueue.ui.screens.confirm import ConfirmScreen

__all__ = ["_quiet"]

pytestmark = pytest.mark.anyio


def spin(ctx: JobContext) -> None:
    """A busy loop in a child process that never checks in."""
    ctx.progress(5, "spinning")
    while True:
        pass


def registry() -> Any:
    reg = make_ui_registry()
    reg.job_type("spin", isolation="process")(spin)
    return reg


async def test_kill_key_asks_then_stops_a_process_job() -> None:
    app = new_app(registry=registry(), concurrency=1)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.submit("spin", {})
        await app.engine.submit("gate", {})
        await wait_for(pilot, lambda: status_of(app, 1) == "running", 10)
        table(app).focus()
        table(app).select(2)
        await pilot.press("plus")
        await wait_for(pilot, lambda: table(app).jobs[2].priority is Priority.HIGH)
        table(app).select(1)
        await pilot.pause()
        await pilot.press("C")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: status_of(app, 1) == "cancelled", 5)
        await wait_for(pilot, lambda: status_of(app, 2) == "running", 5)


async def stepped(ctx: JobContext) -> str:
    """Two steps."""
    ctx.step("download")
    ctx.step("unpack")
    return "ok"


async def test_detail_view_lists_the_steps_with_durations() -> None:
    from tuiqueue.ui.widgets.job_summary import JobSummary

    reg = registry()
    reg.job_type("stepped")(stepped)
    app = new_app(registry=reg)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.submit("stepped", {})
        await wait_for(pilot, lambda: status_of(app, 1) == "completed")
        app.show_detail(1)
        await pilot.pause()
        summary = app.screen.query_one(JobSummary)
        await wait_for(pilot, lambda: [s.name for s in summary.steps] == ["download", "unpack"])
        console = Console(width=100, record=True)
        console.print(summary.render_steps())
        text = console.export_text()
        assert "download" in text and "unpack" in text and "0.00s" in text
        assert summary.job is not None
