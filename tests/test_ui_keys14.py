"""Issue 14: typing in the form never fires the dashboard's one-letter keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, Select, Switch

from tests.test_ui_helpers import (
    NOW,
    _quiet,
    choose_type,
    make_ui_registry,
    status_of,
    table,
    wait_for,
)
from tuiqueue.store.sqlite import SqliteStore
from tuiqueue.ui.app import QueueApp, make_app
from tuiqueue.ui.screens.confirm import ConfirmScreen
from tuiqueue.ui.widgets.job_form import JobForm
from tuiqueue.ui.widgets.type_list import TypeList

__all__ = ["_quiet"]

pytestmark = pytest.mark.anyio


def sqlite_app(tmp_path: Path, **kw: Any) -> QueueApp:
    """The dashboard on a fresh SQLite file, frozen clock, fixed worker id."""
    kw.setdefault("concurrency", 2)
    kw.setdefault("registry", make_ui_registry())
    kw.setdefault("toasts", False)
    kw.setdefault("grace", 0.5)
    return make_app(
        SqliteStore(tmp_path / "jobs.db"),
        clock=lambda: NOW,
        worker_id="test-worker",
        stats_interval=3600,
        **kw,
    )


async def test_tab_from_the_type_list_lands_in_the_first_field(tmp_path: Path) -> None:
    """Tab from the types went to the form's scroll container, where no field had the cursor."""
    app = sqlite_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        app.main.query_one(TypeList).focus()
        await wait_for(pilot, lambda: bool(app.main.query_one(JobForm).fields))
        await pilot.press("tab")
        assert isinstance(app.focused, Input) and app.focused.id == "param-label"


@pytest.mark.parametrize("key", ["c", "r", "p", "d", "x", "q", "t", "w"])
async def test_letters_in_the_form_never_run_the_dashboards_keys(tmp_path: Path, key: str) -> None:
    """c cancelled a running job, q quit, r reran while the form's priority had the focus."""
    app = sqlite_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.submit("gate", {"label": "a"})
        await wait_for(pilot, lambda: status_of(app, 1) == "running")
        table(app).focus()  # the table's cursor on job 1, then over to the form
        await pilot.pause()
        app.main.query_one("#priority", Select).focus()
        theme = app.theme
        await pilot.press(key)
        await pilot.pause(0.1)
        assert app.is_running and app.screen is app.main
        assert app.theme == theme
        assert [j.id for j in await app.engine.list()] == [1]
        assert (await app.engine.get(1)).status.value == "running"


async def test_cancelling_a_running_job_with_c_asks_first(tmp_path: Path) -> None:
    """c on a running job stops work someone is waiting for: it is confirmed."""
    app = sqlite_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.submit("gate", {"label": "a"})
        await wait_for(pilot, lambda: status_of(app, 1) == "running")
        table(app).focus()
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert app.screen is app.main
        assert (await app.engine.get(1)).status.value == "running"
        await pilot.press("c", "y")
        await wait_for(pilot, lambda: status_of(app, 1) == "cancelled")


async def test_a_fields_own_keys_still_work_in_the_form(tmp_path: Path) -> None:
    """Space still toggles a switch, letters still go into an input."""
    app = sqlite_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await choose_type(pilot, "hello")
        switch = app.main.query_one("#param-loud", Switch)
        switch.focus()
        await pilot.press("space")
        assert switch.value is True
        name = app.main.query_one("#param-name", Input)
        name.focus()
        await pilot.press("q", "c")
        assert name.value.endswith("qc") and app.is_running
