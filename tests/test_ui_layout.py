"""The dashboard's layout (issue 14): the detail pane, narrow screens, log search and wrap."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Button, Input

from tests.test_ui_helpers import (
    GATE,
    NOW,
    _quiet,
    choose_type,
    new_app,
    status_of,
    table,
    wait_for,
)
from tuiqueue.core.status import Status
from tuiqueue.ui.app import QueueApp
from tuiqueue.ui.screens.detail import DetailScreen
from tuiqueue.ui.screens.main import FILTERS
from tuiqueue.ui.widgets.job_form import JobForm
from tuiqueue.ui.widgets.log_tail import LogTail
from tuiqueue.ui.widgets.stats_bar import store_label
from tuiqueue.ui.widgets.type_list import TypeList

__all__ = ["_quiet"]

pytestmark = pytest.mark.anyio


def pane_shows(app: QueueApp, job_id: int, lines: int = 2) -> bool:
    """The pane shows this job, with at least `lines` of its log."""
    main = app.main
    pane = main.pane
    return (
        main.pane_job == job_id
        and pane.job is not None
        and pane.job.id == job_id
        and pane.log_tail.line_count >= lines
    )


async def three_gates(pilot: Any) -> QueueApp:
    """Three gate jobs (two run, one waits), the cursor on the top row, the table focused."""
    app = pilot.app
    assert isinstance(app, QueueApp)
    await wait_for(pilot, lambda: app.stats is not None)
    for label in ("alpha", "beta", "gamma"):
        await app.engine.submit("gate", {"label": label})
    await wait_for(pilot, lambda: status_of(app, 1) == status_of(app, 2) == "running")
    await wait_for(pilot, lambda: 3 in table(app).jobs)
    table(app).focus()
    return app


async def test_the_pane_follows_the_cursor_and_streams_only_its_jobs_log() -> None:
    app = new_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await three_gates(pilot)
        assert app.main.pane.display
        first = table(app).selected_id
        assert first is not None
        await wait_for(pilot, lambda: pane_shows(app, first))
        assert app.main.pane.log_tail.lines[0] == "started [/oops] [bold]not bold[/bold]"

        # Reads of logs, recorded: the pane asks only for the job under the cursor.
        asked: list[int] = []
        logs = app.engine.logs

        async def recording(job_id: int, after: int = 0, limit: int | None = None) -> Any:
            asked.append(job_id)
            return await logs(job_id, after, limit)

        app.engine.logs = recording  # type: ignore[method-assign]
        await pilot.press("down")
        second = table(app).selected_id
        assert second is not None and second != first
        await wait_for(pilot, lambda: pane_shows(app, second))
        assert set(asked) == {second}
        assert app.main.pane.query_one("#detail-facts").border_title == f"Job #{second}"

        # Other jobs changing read nothing; the pane's job finishing is shown.
        asked.clear()
        GATE["open"] = True
        pane = app.main.pane
        await wait_for(pilot, lambda: all(status_of(app, i) == "completed" for i in (1, 2, 3)))
        await wait_for(pilot, lambda: pane.job is not None and pane.job.status is Status.COMPLETED)
        assert set(asked) <= {second}


async def test_the_pane_key_toggles_it_and_enter_still_opens_the_detail() -> None:
    app = new_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await three_gates(pilot)
        pane = app.main.pane
        assert pane.display
        await pilot.press("i")
        assert not pane.display and app.main.pane_job is None
        await pilot.press("i")
        assert pane.display
        selected = table(app).selected_id
        assert selected is not None
        await wait_for(pilot, lambda: pane_shows(app, selected))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))


async def test_short_screens_start_without_the_pane() -> None:
    app = new_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await three_gates(pilot)
        assert not app.main.pane.display
        await pilot.press("i")
        assert app.main.pane.display


async def test_the_form_collapses_below_120_columns_and_a_key_shows_it() -> None:
    app = new_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        left = app.main.query_one("#left")
        assert left.has_class("-collapsed") and not left.display
        await pilot.press("f")
        assert left.display
        await pilot.press("f")
        assert not left.display
        await pilot.resize_terminal(140, 40)
        await wait_for(pilot, lambda: bool(left.display))
        await pilot.resize_terminal(100, 40)
        await wait_for(pilot, lambda: not left.display)
        # n opens it at the type list, enter goes on to the fields; escape goes back to the
        # queue and folds it away.
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.focused, TypeList) and bool(left.display))
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.focused, Input))
        assert app.main.query_one(JobForm).job_type is not None
        await pilot.press("escape")
        assert not left.display and app.focused is table(app)


def on_screen(app: QueueApp, widget: Any) -> bool:
    """The widget is drawn whole, inside the screen and inside its scrolling parent."""
    region = widget.region
    screen = app.screen.region
    form = app.main.query_one(JobForm).content_region
    return (
        region.area > 0
        and screen.contains_region(region)
        and form.contains_region(region)
        and widget.visible
    )


async def test_at_80x24_a_job_is_chosen_filled_submitted_and_watched() -> None:
    app = new_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await pilot.press("n")  # the form comes out, at the type list
        assert isinstance(app.focused, TypeList)
        await choose_type(pilot, "hello")
        submit = app.main.query_one("#submit", Button)
        await pilot.pause()
        assert on_screen(app, submit)  # the form scrolls, Submit stays in view
        app.main.query_one(JobForm).focus_first()
        await pilot.press("end", "backspace", "4")
        assert app.main.query_one("#param-count", Input).value == "4"
        # Tab through every field down to the last: Submit never leaves the view.
        for _ in range(6):
            await pilot.press("tab")
            assert on_screen(app, submit)
        await pilot.click(submit)
        await wait_for(pilot, lambda: status_of(app, 1) == "completed")
        await pilot.press("escape")
        assert table(app).row_index(1) == 0
        assert "completed" in table(app).cell_text(1, "status")
        job = await app.engine.get(1)
        assert job.params["count"] == 4


async def test_narrow_tables_keep_id_type_status_progress_and_message() -> None:
    app = new_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await three_gates(pilot)
        shown = table(app).shown_columns()
        assert shown == ["id", "type", "status", "progress", "message"]
        assert table(app).virtual_size.width <= table(app).scrollable_content_region.width


async def test_scheduled_and_waiting_rows_say_when_and_after_what() -> None:
    app = new_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        first = await app.engine.submit("gate", {})
        later = await app.engine.submit("hello", {}, delay=250)
        after = await app.engine.submit("hello", {}, after=[first.id])
        await wait_for(pilot, lambda: after.id in table(app).jobs and later.id in table(app).jobs)
        assert app.engine.clock() == NOW
        assert table(app).cell_text(later.id, "message") == "runs in 4m 10s"
        assert table(app).cell_text(after.id, "message") == f"after #{first.id}"


def test_the_status_filter_offers_every_status() -> None:
    singles = {next(iter(s)) for _, s in FILTERS if s is not None and len(s) == 1}
    assert singles == set(Status)


def test_the_header_names_the_store_and_never_its_password() -> None:
    assert store_label("/tmp/jobs.db") == "/tmp/jobs.db"
    shown = store_label("redis://:hunter2@cache.internal:6379/6")
    assert "hunter2" not in shown and "***" in shown
    assert store_label("/very/" + "long/" * 20 + "jobs.db").endswith("/jobs.db")
    assert store_label("/very/" + "long/" * 20 + "jobs.db", 16) == "…ng/long/jobs.db"


async def test_log_search_highlights_matches_and_wrap_reflows() -> None:
    app = new_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await three_gates(pilot)
        app.show_detail(1)
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, DetailScreen)
                and any(log.line_count >= 2 for log in app.screen.query(LogTail))
            ),
        )
        log = app.screen.query_one(LogTail)
        assert app.focused is log
        await pilot.press("slash")
        field = app.screen.query_one(".log-search", Input)
        assert app.focused is field
        await pilot.press(*"BOLD")
        assert log.search == "BOLD" and log.matches() == [0]
        await pilot.press("enter")
        assert app.focused is log and log.search == "BOLD"
        # The match is styled on the plain text: the markup-looking text stays as it is.
        strip = log.render_line(0)
        text = "".join(segment.text for segment in strip)
        assert text.startswith("started [/oops] [bold]not bold[/bold]")
        match = log.get_component_rich_style("log-tail--current")
        styled = [s.text for s in strip if s.style and s.style.bgcolor == match.bgcolor]
        assert styled == ["bold", "bold", "bold"]
        await pilot.press("n")  # one matching line: next stays on it
        assert log.matches() == [0]
        # Escape in the search field clears the search.
        await pilot.press("slash", "escape")
        assert log.search == "" and app.focused is log

        # Wrap: a line wider than the log takes more rows.
        log.add([(100, "x" * 500)])
        await pilot.pause()
        unwrapped = log.virtual_size.height
        await pilot.press("w")
        await pilot.pause()
        assert log.wrap and log.virtual_size.height > unwrapped
        await pilot.press("w")
        await pilot.pause()
        assert not log.wrap and log.virtual_size.height == unwrapped


async def test_the_pane_has_log_search_too() -> None:
    app = new_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await three_gates(pilot)
        first = table(app).selected_id
        assert first is not None
        await wait_for(pilot, lambda: pane_shows(app, first))
        log = app.main.pane.log_tail
        log.focus()
        await pilot.press("slash", *"escape", "enter")
        assert log.search == "escape" and log.matches() == [1]


async def test_toasts_keep_off_the_cursor_row() -> None:
    app = new_app(toasts=True)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        for _ in range(30):  # more than fit: End puts the cursor on the lowest row
            await app.engine.submit("gate", {})
        await wait_for(pilot, lambda: table(app).row_count == 30)
        table(app).focus()
        for key in ("end", "home"):
            await pilot.press(key)
            app.notify("a toast", timeout=30)
            await pilot.pause()
            racks = [w for w in app.screen.children if type(w).__name__ == "ToastRack"]
            rack = racks[0]
            await wait_for(pilot, lambda rack=rack: bool(rack.children))
            await pilot.pause()
            table_ = table(app)
            row_y = table_.region.y + 1 + table_.cursor_row - int(table_.scroll_y)
            toasts = [t for h in rack.children for t in h.children]
            assert toasts
            for toast in toasts:
                region = toast.region
                assert not region.y <= row_y < region.y + region.height, (key, region, row_y)


async def test_sort_keys_show_the_column_and_direction() -> None:
    app = new_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await three_gates(pilot)
        jobs = table(app)
        await pilot.press("o")
        assert jobs.sort_column == "id" and not jobs.sort_reverse
        assert jobs.row_ids() == [1, 2, 3]
        await pilot.press("O")
        assert jobs.row_ids() == [3, 2, 1]
        assert jobs.border_title == "Queue · by id ▼"
        header = "".join(segment.text for segment in jobs.render_line(0))
        assert "ID ▼" in header
        for _ in range(6):
            await pilot.press("o")
        assert jobs.sort_column is None and jobs.border_title == "Queue"


async def test_the_pane_says_why_a_queued_job_waits_and_when_a_delayed_one_runs() -> None:
    app = new_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.pause_queue("slow")
        waiting = await app.engine.submit("hello", {}, queue="slow")
        await wait_for(pilot, lambda: waiting.id in table(app).jobs)
        table(app).focus()
        pane = app.main.pane
        await wait_for(pilot, lambda: pane.summary.waiting == "queue slow is paused")
        later = await app.engine.submit("hello", {}, delay=250)
        await wait_for(pilot, lambda: later.id in table(app).jobs)
        table(app).select(later.id)
        await wait_for(pilot, lambda: app.main.pane_job == later.id and pane.job is not None)
        shown = pane.summary.job
        assert shown is not None
        rendered = pane.summary.render_job(shown)
        text = "".join(
            segment.text for segment in app.console.render(rendered, app.console.options)
        )
        assert "in 4m 10s" in text
        assert pane.summary.waiting is None


async def test_a_following_log_stays_at_its_newest_line_when_the_layout_shrinks() -> None:
    app = new_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await three_gates(pilot)
        app.show_detail(1)
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, DetailScreen)
                and any(log.line_count >= 2 for log in app.screen.query(LogTail))
            ),
        )
        log = app.screen.query_one(LogTail)
        log.add([(100 + i, f"line {i}") for i in range(200)])
        await wait_for(pilot, lambda: log.max_scroll_y > 0 and log.scroll_y == log.max_scroll_y)
        await pilot.resize_terminal(120, 12)  # the layout clamps the offset: not the person
        await pilot.resize_terminal(120, 40)
        await wait_for(pilot, lambda: log.scroll_y == log.max_scroll_y)
        assert log.following
        await pilot.press("up")  # the person: stops following
        assert not log.following
