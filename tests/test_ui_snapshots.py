"""Snapshot tests of each dashboard screen (frozen clock and ids, no animations, no toasts)."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from tests.test_ui_helpers import (
    _quiet,
    choose_type,
    fixed_workers,
    new_app,
    no_blink,
    status_of,
    table,
    wait_for,
)
from tuiqueue.engine import runner
from tuiqueue.ui.app import QueueApp
from tuiqueue.ui.screens.confirm import ConfirmScreen
from tuiqueue.ui.screens.detail import DetailScreen
from tuiqueue.ui.screens.workers import WorkersScreen
from tuiqueue.ui.widgets.job_form import JobForm
from tuiqueue.ui.widgets.log_tail import LogTail

__all__ = ["_quiet"]

SIZE = (140, 36)


async def with_jobs(pilot: Pilot[Any]) -> None:
    """Two gate jobs running, one queued, one failed, and fresh stats."""
    app = pilot.app
    assert isinstance(app, QueueApp)
    await wait_for(pilot, lambda: app.stats is not None)
    await app.engine.submit("kaput", {})
    await wait_for(pilot, lambda: status_of(app, 1) == "failed")
    for label in ("alpha", "beta", "gamma"):
        await app.engine.submit("gate", {"label": label}, priority="high")
    await wait_for(
        pilot,
        lambda: (
            status_of(app, 3) == "running"
            and 4 in table(app).jobs
            and table(app).jobs[3].progress == 40
        ),
    )
    await app.refresh_stats()
    table(app).focus()
    table(app).move_cursor(row=0)
    await settled_pane(pilot)
    no_blink(app)
    await pilot.pause()


async def settled_pane(pilot: Pilot[Any]) -> None:
    """The detail pane (when shown) has caught up with the cursor: its job and its log."""
    app = pilot.app
    assert isinstance(app, QueueApp)
    main = app.main
    if not main.pane.display:
        return
    await wait_for(
        pilot,
        lambda: (
            main.pane_job == table(app).selected_id
            and main.pane.job is not None
            and main.pane.log_tail.line_count >= 2
        ),
    )


def test_main_screen_with_running_jobs(snap_compare: Any) -> None:
    assert snap_compare(new_app(), terminal_size=SIZE, run_before=with_jobs)


def test_main_screen_80x24(snap_compare: Any) -> None:
    """The narrowest: the form folded away, no pane, the columns that matter."""
    assert snap_compare(new_app(), terminal_size=(80, 24), run_before=with_jobs)


def test_main_screen_120x40(snap_compare: Any) -> None:
    assert snap_compare(new_app(), terminal_size=(120, 40), run_before=with_jobs)


def test_main_screen_200x60(snap_compare: Any) -> None:
    assert snap_compare(new_app(), terminal_size=(200, 60), run_before=with_jobs)


def test_form_open_at_80x24(snap_compare: Any) -> None:
    """n at 80x24: the form comes out beside the queue, Submit in view."""

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, QueueApp)
        await with_jobs(pilot)
        await pilot.press("n")
        await choose_type(pilot, "hello")
        app.main.query_one(JobForm).focus_first()
        no_blink(app)
        await pilot.pause()

    assert snap_compare(new_app(), terminal_size=(80, 24), run_before=run_before)


def test_log_search_in_the_pane(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, QueueApp)
        await with_jobs(pilot)
        app.main.pane.log_tail.focus()
        await pilot.press("slash", *"bold", "enter")
        await pilot.pause()

    assert snap_compare(new_app(), terminal_size=(120, 40), run_before=run_before)


def test_form_with_a_validation_error(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, QueueApp)
        await wait_for(pilot, lambda: app.stats is not None)
        await choose_type(pilot, "hello")
        field = app.main.query_one("#param-count", Input)
        field.focus()
        await pilot.press(*"99", "ctrl+s")
        no_blink(app)
        await pilot.pause()

    assert snap_compare(new_app(), terminal_size=(140, 44), run_before=run_before)


def test_detail_view(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, QueueApp)
        await with_jobs(pilot)
        app.show_detail(2)
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, DetailScreen)
                and app.screen.job is not None
                and any(log.line_count >= 2 for log in app.screen.query(LogTail))
            ),
        )

    assert snap_compare(new_app(), terminal_size=SIZE, run_before=run_before)


FIXED_TRACEBACK = """Traceback (most recent call last):
  File "tuiqueue/core/runner.py", line 1, in body
    value = await kind.fn(ctx, **job.params)
  File "tests/test_ui_helpers.py", line 1, in kaput
    raise RuntimeError(why)
RuntimeError: [red]boom[/red]
"""
"""A traceback as the runner stores it, without the checkout path or Python version in it."""


def test_failed_job_detail(snap_compare: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real traceback names absolute paths and line numbers (and Python adds ^^^ markers
    # by version), so a snapshot of it only passes in the checkout that made it.
    monkeypatch.setattr(
        runner, "_error", lambda exc: (f"{type(exc).__name__}: {exc}", FIXED_TRACEBACK)
    )

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, QueueApp)
        await with_jobs(pilot)
        app.show_detail(1)
        await wait_for(
            pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.job is not None
        )

    assert snap_compare(new_app(), terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, QueueApp)
        await wait_for(pilot, lambda: app.stats is not None)
        table(app).focus()
        await pilot.press("question_mark")

    assert snap_compare(new_app(), terminal_size=(140, 44), run_before=run_before)


def test_main_screen_light_theme(snap_compare: Any) -> None:
    assert snap_compare(new_app(theme="textual-light"), terminal_size=SIZE, run_before=with_jobs)


async def show_workers(pilot: Pilot[Any]) -> None:
    """The workers view over this dashboard and three other workers (alive, dead, stopped)."""
    app = pilot.app
    assert isinstance(app, QueueApp)
    await wait_for(pilot, lambda: app.stats is not None)
    await fixed_workers(app)
    table(app).focus()
    await pilot.press("w")
    await wait_for(
        pilot,
        lambda: (
            isinstance(app.screen, WorkersScreen)
            and app.screen.query_one("#workers").row_count == 4
        ),
    )


def test_workers_view(snap_compare: Any) -> None:
    assert snap_compare(new_app(), terminal_size=(140, 20), run_before=show_workers)


def test_quit_confirm_dialog(snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, QueueApp)
        await with_jobs(pilot)
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))

    assert snap_compare(new_app(), terminal_size=SIZE, run_before=run_before)
