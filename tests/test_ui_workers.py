"""Pilot test of the Workers view: it judges alive/dead with the engine's own dead_after."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from tests.test_ui_helpers import _quiet, fixed_workers, new_app, table, wait_for
from tuiqueue.ui.screens.workers import NO_LOAD, WorkersScreen

__all__ = ["_quiet"]

pytestmark = pytest.mark.anyio


async def test_workers_view_lists_every_worker_and_uses_the_engines_dead_after() -> None:
    app = new_app()
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await fixed_workers(app)
        table(app).focus()
        await pilot.press("w")
        assert isinstance(app.screen, WorkersScreen)
        grid = app.screen.query_one(DataTable)
        await wait_for(pilot, lambda: grid.row_count == 4)
        states = {
            str(grid.get_cell(key, "worker")): str(grid.get_cell(key, "state")) for key in grid.rows
        }
        assert states == {
            "test-worker": "alive",
            "node-2:4242": "alive",
            "node-3:77": "dead",
            "node-4:9": "stopped",
        }
        # A dead or stopped worker's last reported load is stale: no count, a dimmed row.
        running = {
            str(grid.get_cell(key, "worker")): str(grid.get_cell(key, "running"))
            for key in grid.rows
        }
        assert running == {
            "test-worker": "0",
            "node-2:4242": "3",
            "node-3:77": NO_LOAD,
            "node-4:9": NO_LOAD,
        }
        assert "dim" in str(grid.get_cell("node-3:77", "host").style)
        assert "dim" not in str(grid.get_cell("node-2:4242", "host").style)
        assert f"dead after {app.engine.dead_after:g}s" in str(grid.border_subtitle)
        await pilot.press("w")
        assert not isinstance(app.screen, WorkersScreen)
