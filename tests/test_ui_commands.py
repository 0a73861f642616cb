"""Pilot tests of the screens' own commands: the palette's routes and the form's submit message."""

from __future__ import annotations

from typing import Any

import pytest
from textual.app import SystemCommand
from textual.widgets import Button, Select

from tests.test_ui_helpers import _quiet, choose_type, new_app, status_of, table, wait_for
from tuiqueue.core.status import Priority
from tuiqueue.ui.messages import SubmitRequested
from tuiqueue.ui.screens.confirm import ConfirmScreen
from tuiqueue.ui.screens.main import MainScreen
from tuiqueue.ui.screens.workers import WorkersScreen
from tuiqueue.ui.widgets.job_form import JobForm

__all__ = ["_quiet"]

pytestmark = pytest.mark.anyio


def command(app: Any, title: str) -> SystemCommand:
    """The palette's command of that title on the current screen."""
    return next(c for c in app.get_system_commands(app.screen) if c.title == title)


async def test_palette_commands_reach_the_screen_that_owns_them() -> None:
    app = new_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.submit("gate", {})
        await wait_for(pilot, lambda: status_of(app, 1) == "running")
        table(app).focus()
        await command(app, "Pause/resume job").callback()
        await wait_for(pilot, lambda: status_of(app, 1) == "paused")
        await command(app, "Pause/resume queue").callback()
        await wait_for(pilot, lambda: app.stats is not None and app.stats.queue_paused)
        app.show_detail(1)
        await pilot.pause()
        await command(app, "Cancel job").callback()  # the detail view's job
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))  # it started
        await pilot.press("y")
        await wait_for(pilot, lambda: status_of(app, 1) == "cancelled")
        await command(app, "Workers").callback()
        await wait_for(pilot, lambda: isinstance(app.screen, WorkersScreen))


async def test_the_submit_message_carries_the_forms_values() -> None:
    app = new_app()
    seen: list[SubmitRequested] = []
    async with app.run_test(
        size=(140, 44),
        message_hook=lambda m: seen.append(m) if isinstance(m, SubmitRequested) else None,
    ) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await choose_type(pilot, "hello")
        form = app.main.query_one(JobForm)
        form.query_one("#priority", Select).value = Priority.HIGH
        form.query_one("#submit", Button).press()
        await wait_for(pilot, lambda: bool(seen))
        assert isinstance(app.screen, MainScreen)
        message = seen[0]
        assert (message.type_name, message.priority, message.errors) == ("hello", Priority.HIGH, {})
        assert message.params["count"] == 3 and message.params["lang"] == "en"
        await wait_for(pilot, lambda: 1 in table(app).jobs)
        job = await app.engine.get(1)
        assert (job.type, job.priority, job.params) == ("hello", Priority.HIGH, message.params)
