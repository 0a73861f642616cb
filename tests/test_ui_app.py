"""Pilot interaction tests of the dashboard: submit, steer, filter, validate, quit."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest
from textual.events import MouseScrollUp
from textual.widgets import Input

from tests.test_ui_helpers import (
    GATE,
    _quiet,
    choose_type,
    make_ui_registry,
    new_app,
    status_of,
    table,
    wait_for,
)
from tuiqueue.core.context import JobContext
from tuiqueue.core.job import NewJob
from tuiqueue.core.status import Status
from tuiqueue.ui import app as app_module
from tuiqueue.ui.screens.confirm import ConfirmScreen
from tuiqueue.ui.screens.detail import DetailScreen
from tuiqueue.ui.screens.help import HelpScreen
from tuiqueue.ui.widgets.log_tail import LogTail
from tuiqueue.ui.widgets.param_field import ParamField

__all__ = ["_quiet"]

pytestmark = pytest.mark.anyio


async def test_submit_with_keys_shows_the_job_running_then_done() -> None:
    app = new_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("n", *"first", "ctrl+s")
        await wait_for(pilot, lambda: status_of(app, 1) == "running")
        job = await app.engine.get(1)
        assert job.params == {"label": "first"}
        # "running" and the job's first progress report may come in different batches.
        await wait_for(pilot, lambda: "40%" in table(app).cell_text(1, "progress"))
        GATE["open"] = True
        await wait_for(pilot, lambda: status_of(app, 1) == "completed")


async def test_ctrl_s_while_typing_and_select_on_focus_replaces_the_default() -> None:
    app = new_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("n", *"abc")
        assert isinstance(app.focused, Input)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: 1 in table(app).jobs)
        assert (await app.engine.get(1)).params == {"label": "abc"}
        assert "Queued job #1" in str(app.main.query_one("#form-status").render())


async def test_cancel_pause_resume_rerun_with_keys() -> None:
    app = new_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.submit("gate", {"label": "a"})
        await wait_for(pilot, lambda: status_of(app, 1) == "running")
        table(app).focus()
        await pilot.press("p")
        await wait_for(pilot, lambda: status_of(app, 1) == "paused")
        await pilot.press("p")
        await wait_for(pilot, lambda: status_of(app, 1) == "running")
        await pilot.press("c", "y")  # running: asked first (issue 14)
        await wait_for(pilot, lambda: status_of(app, 1) == "cancelled")
        await pilot.press("r")
        await wait_for(pilot, lambda: status_of(app, 2) == "running")
        assert (await app.engine.get(2)).rerun_of == 1


async def test_form_errors_show_beside_fields_and_nothing_is_queued() -> None:
    app = new_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await choose_type(pilot, "hello")
        field = app.main.query_one("#param-count", Input)
        field.focus()
        await pilot.press(*"99")
        count = next(f for f in app.main.query(ParamField) if f.param.name == "count")
        assert count.error == "count must be between 1 and 10"
        assert count.has_class("-invalid")
        await pilot.press("ctrl+s")
        form_status = app.main.query_one("#form-status")
        await wait_for(pilot, lambda: "Not submitted" in str(form_status.render()))
        assert await app.engine.list() == []


async def test_text_filter_and_status_filter() -> None:
    app = new_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.submit("gate", {"label": "alpha"})
        await app.engine.submit("gate", {"label": "beta"})
        await wait_for(pilot, lambda: table(app).row_count == 2)
        table(app).focus()
        await pilot.press("slash", *"beta")
        assert table(app).row_ids() == [2]
        await pilot.press("escape")
        app.main.query_one("#text-filter", Input).value = ""
        await wait_for(pilot, lambda: table(app).row_count == 2)


async def test_detail_view_shows_log_lines_literally() -> None:
    app = new_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.submit("gate", {"label": "[/oops]"})
        await wait_for(pilot, lambda: status_of(app, 1) == "running")
        table(app).focus()
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        await wait_for(pilot, lambda: app.screen.query_one(LogTail).line_count >= 2)
        lines = app.screen.query_one(LogTail).lines
        assert "started [/oops] [bold]not bold[/bold]" in lines
        assert any("\\x1b[31m" in line for line in lines)
        await pilot.press("c", "y")  # running: asked first (issue 14)
        await wait_for(pilot, lambda: status_of(app, 1) == "cancelled")
        await pilot.press("escape", "question_mark")
        assert isinstance(app.screen, HelpScreen)


async def test_failed_job_shows_its_error_as_text() -> None:
    app = new_app()
    async with app.run_test(size=(200, 40)) as pilot:  # wide enough for the whole error
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.submit("kaput", {})
        await wait_for(pilot, lambda: status_of(app, 1) == "failed")
        assert "[red]boom[/red]" in table(app).cell_text(1, "message")
        lines = [table(app).render_line(y).text for y in range(table(app).size.height)]
        assert any("[red]boom[/red]" in line for line in lines), lines


async def test_quit_with_running_jobs_asks_then_stops_them_gracefully() -> None:
    app = new_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.submit("gate", {})
        await wait_for(pilot, lambda: status_of(app, 1) == "running")
        table(app).focus()
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("q", "y")
        await wait_for(pilot, lambda: not app.is_running, timeout=5)
    job = await app.engine.store.get(1)
    assert job is not None and job.status is Status.PENDING


async def test_clear_finished_asks_first() -> None:
    app = new_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.submit("kaput", {})
        await wait_for(pilot, lambda: status_of(app, 1) == "failed")
        await app.refresh_stats()
        table(app).focus()
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: table(app).row_count == 0)
        assert await app.engine.list() == []


async def test_leaving_without_q_requeues_running_jobs_before_returning() -> None:
    app = new_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.submit("gate", {})
        await wait_for(pilot, lambda: status_of(app, 1) == "running")
    # Textual cancelled the engine's worker; the app waited for it to finish stopping.
    assert not app.engine.running_ids()
    job = await app.engine.store.get(1)
    assert job is not None and job.status is Status.PENDING


async def test_log_tail_follows_live_lines_until_scrolled_up() -> None:
    said: list[str] = []
    registry = make_ui_registry()

    @registry.job_type("talk", description="Log whatever the test says, live.")
    async def talk(ctx: JobContext) -> None:
        """Log each new entry of `said` as it appears."""
        sent = 0
        while not GATE["open"]:
            for line in said[sent:]:
                ctx.log(line)
            sent = len(said)
            await anyio.sleep(0.01)
            await ctx.checkpoint()

    app = new_app(registry=registry)
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.submit("talk", {})
        await wait_for(pilot, lambda: status_of(app, 1) == "running")
        app.show_detail(1)
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        log = app.screen.query_one(LogTail)

        def at_bottom() -> bool:
            return log.max_scroll_y > 0 and log.scroll_y == log.max_scroll_y

        said.extend(f"line {i}" for i in range(1, 101))  # far more than fit
        await wait_for(pilot, lambda: log.line_count == 100 and at_bottom())
        said.extend(f"line {i}" for i in range(101, 151))
        await wait_for(pilot, lambda: log.line_count == 150 and at_bottom())  # followed

        # The person scrolls up with the wheel to read: new lines no longer pull them down.
        for _ in range(3):
            log.post_message(MouseScrollUp(log, 1, 1, 0, -1, 0, False, False, False))
        await wait_for(pilot, lambda: not log.following)
        reading = log.scroll_y
        assert reading < log.max_scroll_y
        said.extend(f"line {i}" for i in range(151, 201))
        await wait_for(pilot, lambda: log.line_count == 200)
        await pilot.pause()
        assert log.scroll_y == reading and not at_bottom()

        # Back at the bottom, it follows again.
        log.scroll_end(animate=False, immediate=True)
        await wait_for(pilot, lambda: log.following)
        said.extend(f"line {i}" for i in range(201, 251))
        await wait_for(pilot, lambda: log.line_count == 250 and at_bottom())
        assert log.lines[-1] == "line 250"


class AheadClock:
    """The time module as the app sees it, with monotonic() running `ahead` seconds fast."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    def monotonic(self) -> float:
        """time.monotonic(), moved on by the test."""
        return time.monotonic() + self.ahead


async def test_a_burst_of_finished_jobs_gives_one_summary_toast_not_one_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app_module, "TOAST_WINDOW", 1.0)
    clock = AheadClock()
    monkeypatch.setattr(app_module, "time", clock)
    app = new_app(concurrency=40, toasts=True)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.submit("hello", {})
        await wait_for(pilot, lambda: len(app._notifications) == 1)
        single = next(iter(app._notifications))
        assert (single.title, single.message) == ("Completed", "Job #1 hello completed")
        clock.ahead += 1.1  # the single toast's window has passed
        await app.engine.set_queue_paused(True)
        await app.engine.submit_many(
            [NewJob("hello", {}) for _ in range(27)] + [NewJob("kaput", {}) for _ in range(2)]
        )
        await app.engine.set_queue_paused(False)
        await wait_for(pilot, lambda: len(app._notifications) > 1, timeout=5)
        # Deliberate: watch one more window (real time: the app's timer) to see nothing
        # else is gathered; no event can say "nothing happened".
        await pilot.pause(1.2)
        toasts = list(app._notifications)[1:]
        assert [(t.title, t.message, t.severity) for t in toasts] == [
            ("Failed", "27 jobs completed, 2 failed (#29, #30)", "error")
        ]
