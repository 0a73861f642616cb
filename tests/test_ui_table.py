"""Pilot tests of the queue table: the cursor follows its job, paging, search, undo."""

from __future__ import annotations

from dataclasses import replace

import pytest
from textual.widgets import Input

from tests.test_ui_helpers import _quiet, new_app, status_of, table, wait_for
from tuiqueue.core.job import Job, NewJob
from tuiqueue.ui import app as app_module
from tuiqueue.ui.screens.detail import DetailScreen
from tuiqueue.ui.window import MAX_KEPT

__all__ = ["_quiet"]

pytestmark = pytest.mark.anyio


def row_ids(app: app_module.QueueApp) -> list[int]:
    """The job ids in row order."""
    return table(app).row_ids()


async def test_cursor_follows_its_job_across_resorts_and_removals() -> None:
    app = new_app(concurrency=1)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        for label in "abcd":
            await app.engine.submit("gate", {"label": label})
        await wait_for(pilot, lambda: status_of(app, 1) == "running" and table(app).row_count == 4)
        t = table(app)
        t.focus()
        await pilot.press("down", "down", "down")
        assert t.selected_id == 4
        await app.engine.cancel(1)  # 1 moves to the bottom, 2 starts: rows shift up
        await wait_for(pilot, lambda: status_of(app, 2) == "running")
        assert row_ids(app) == [2, 3, 4, 1]
        assert t.selected_id == 4
        await app.engine.submit("gate", {"label": "e"}, priority="high")  # inserted above
        await wait_for(pilot, lambda: 5 in t.jobs)
        assert row_ids(app) == [2, 5, 3, 4, 1]
        assert t.selected_id == 4
        await app.engine.delete([3])  # a row above goes away
        await wait_for(pilot, lambda: 3 not in t.jobs)
        assert t.selected_id == 4
        await pilot.press("c")  # acts on the selected job, not on whatever took its row
        await wait_for(pilot, lambda: status_of(app, 4) == "cancelled")
        assert status_of(app, 5) == "pending"
        assert t.selected_id == 4


async def test_home_and_end_move_the_cursor() -> None:
    app = new_app()
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.set_queue_paused(True)
        await app.engine.submit_many([NewJob("gate", {"label": f"j{i}"}) for i in range(60)])
        await wait_for(pilot, lambda: table(app).row_count == 60)
        table(app).focus()
        await pilot.press("end")
        assert table(app).cursor_row == 59
        assert table(app).selected_id == 60
        await pilot.press("home")
        assert table(app).cursor_row == 0
        assert table(app).selected_id == 1


async def test_a_click_selects_the_row_under_it_after_rows_moved() -> None:
    app = new_app()
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.set_queue_paused(True)
        await app.engine.submit_many([NewJob("gate", {"label": f"j{i}"}) for i in range(10)])
        await wait_for(pilot, lambda: table(app).row_count == 10)
        # The table's border, then its header, then the rows.
        await pilot.click("#jobs", offset=(3, 2 + 2))
        assert table(app).selected_id == 3
        # Rows move up under unchanged cells (drawn from the cell cache): a click must
        # still find the job now on that line, not the one drawn there before.
        await app.engine.delete([1, 2])
        await wait_for(pilot, lambda: row_ids(app)[:2] == [3, 4])
        await pilot.click("#jobs", offset=(3, 2 + 2))
        assert table(app).selected_id == 5


async def test_submit_selects_the_new_job_and_the_form_keeps_focus() -> None:
    app = new_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.set_queue_paused(True)
        await app.engine.submit_many([NewJob("gate", {"label": f"j{i}"}) for i in range(5)])
        await wait_for(pilot, lambda: table(app).row_count == 5)
        await pilot.press("n", *"new", "ctrl+s")
        await wait_for(pilot, lambda: table(app).selected_id == 6)
        assert isinstance(app.focused, Input)
        await pilot.press(*"er")
        assert app.focused.value == "newer"


async def test_text_filter_searches_jobs_outside_the_window() -> None:
    app = new_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.set_queue_paused(True)
        jobs = [NewJob("gate", {"label": f"job-{i:04}"}) for i in range(1, 1501)]
        await app.engine.submit_many(jobs)
        await wait_for(pilot, lambda: table(app).floors[0] is not None)
        assert 1407 not in table(app).jobs  # only the next jobs to run are kept
        await pilot.press("slash", *"job-1407")
        await wait_for(pilot, lambda: row_ids(app) == [1407], timeout=20)
        assert "searched" in str(table(app).border_subtitle)
        await pilot.press("escape")
        app.main.query_one("#text-filter", Input).value = ""
        await wait_for(pilot, lambda: table(app).row_count == app_module.PAGE, timeout=20)


async def test_end_pages_in_older_jobs() -> None:
    app = new_app()
    await app.engine.set_queue_paused(True)
    await app.engine.submit_many([NewJob("gate", {}) for _ in range(250)])
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 100)
        table(app).focus()
        await pilot.press("end")
        await wait_for(pilot, lambda: table(app).row_count == 200)
        await pilot.press("end")
        await wait_for(pilot, lambda: table(app).row_count == 250)
        assert "End" not in str(table(app).border_subtitle)


async def test_delete_can_be_undone_then_happens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_module, "UNDO_SECONDS", 0.5)
    app = new_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.submit("kaput", {})
        await app.engine.submit("kaput", {})
        await wait_for(
            pilot,
            lambda: (
                status_of(app, 2) == "failed"
                and status_of(app, 1) == "failed"
                and table(app).row_count == 2
            ),
        )
        t = table(app)
        t.focus()
        t.move_cursor(row=1)
        assert t.selected_id == 1
        await pilot.press("d")
        await wait_for(pilot, lambda: row_ids(app) == [2])
        assert any("press u to undo" in str(n.message) for n in app._notifications)
        await pilot.press("u")
        await wait_for(pilot, lambda: row_ids(app) == [2, 1])
        assert t.selected_id == 1
        await pilot.pause(0.7)
        assert len(await app.engine.list()) == 2  # undone: never deleted
        await pilot.press("d")
        await wait_for(pilot, lambda: 1 not in t.jobs, timeout=3)
        assert [j.id for j in await app.engine.list()] == [2]


async def test_quit_deletes_what_is_waiting_for_undo() -> None:
    app = new_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.submit("kaput", {})
        await wait_for(pilot, lambda: status_of(app, 1) == "failed")
        table(app).focus()
        await pilot.press("d", "q")
        await wait_for(pilot, lambda: not app.is_running, timeout=5)
    assert await app.engine.store.get(1) is None


async def test_a_burst_beyond_the_window_is_trimmed_in_bulk_and_rows_catch_up() -> None:
    app = new_app()
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.set_queue_paused(True)
        await app.engine.submit_many([NewJob("gate", {"label": f"j{i}"}) for i in range(1200)])
        t = table(app)
        await wait_for(pilot, lambda: t.floors[0] is not None)
        # One batch of 1,200 new jobs: only the next MAX_KEPT to run became rows, in order.
        assert t.row_count == len(t.jobs) == MAX_KEPT
        assert row_ids(app) == list(range(1, 501))
        assert t.floors[0] == 500  # End pages the dropped ones back in, oldest first
        # Rows off screen are updated when they scroll into view, not on every change.
        last = t.jobs[500]
        t.apply({500: replace(last, message="moved on")})
        assert t.jobs[500].message == "moved on"
        t.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        lines = [t.render_line(y).text for y in range(t.size.height)]
        assert any("moved on" in line for line in lines), lines
        # Deleting many at once keeps the rows and their indexes consistent.
        t.apply({}, deleted=range(100, 400))
        assert row_ids(app) == [*range(1, 100), *range(400, 501)]
        assert [t.row_index(i) for i in row_ids(app)] == list(range(t.row_count))


async def test_after_a_burst_the_window_shows_the_next_to_run_and_the_newest_finished() -> None:
    app = new_app(concurrency=20)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.set_queue_paused(True)
        await app.engine.submit_many([NewJob("hello", {}) for _ in range(1000)])
        await app.engine.submit("hello", {}, priority="high")  # #1001 runs first
        t = table(app)
        await wait_for(pilot, lambda: 1001 in t.jobs)
        # The queued rows are the next MAX_KEPT to run, in run order, not the last to run.
        assert row_ids(app) == [1001, *range(1, MAX_KEPT)]
        await app.engine.set_queue_paused(False)
        await wait_for(
            pilot,
            lambda: (
                all(str(j.status) == "completed" for j in t.jobs.values())
                and 1000 in t.jobs
                and t.row_count == MAX_KEPT
            ),
            timeout=30,
        )
        # Every job finished: the newest finished are shown, newest first.
        assert row_ids(app) == list(range(1001, 1001 - MAX_KEPT, -1))


async def test_an_existing_backlog_shows_the_next_to_run_first() -> None:
    """A dashboard opened on a backlog pages queued jobs in from the oldest (they run next)."""
    app = new_app()
    await app.engine.set_queue_paused(True)
    await app.engine.submit_many([NewJob("gate", {"label": "j"}) for _ in range(700)])
    async with app.run_test(size=(140, 30)) as pilot:
        t = table(app)
        await wait_for(pilot, lambda: t.row_count == app_module.PAGE)
        assert row_ids(app) == list(range(1, app_module.PAGE + 1))
        t.focus()
        await pilot.press("end")  # the next page: the next to run after those
        await wait_for(pilot, lambda: t.row_count == 2 * app_module.PAGE)
        assert row_ids(app) == list(range(1, 2 * app_module.PAGE + 1))


async def test_queued_rows_are_refilled_as_they_start() -> None:
    """As the queued jobs in the window start, the next ones to run are paged in by themselves
    (before: once they had all started, no queued row was shown until End was pressed)."""
    app = new_app(concurrency=60)
    await app.engine.set_queue_paused(True)
    await app.engine.submit_many([NewJob("gate", {"label": "j"}) for _ in range(400)])
    async with app.run_test(size=(140, 30)) as pilot:
        t = table(app)
        await wait_for(pilot, lambda: t.row_count == app_module.PAGE)
        await app.engine.set_queue_paused(False)
        await wait_for(pilot, lambda: status_of(app, 60) == "running" and 200 in t.jobs)
        ids = row_ids(app)
        assert ids[:60] == list(range(1, 61))  # running
        assert ids[60:] == list(range(61, 201))  # then the next to run, in order
        assert status_of(app, 61) == "pending"


async def test_the_cursor_stays_on_top_until_a_job_is_picked() -> None:
    """Untouched, the cursor stays on the top row when its job finishes (the view does not
    follow it to the bottom); once a job is picked it follows that job; Home lets go."""
    app = new_app(concurrency=1)
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.submit_many([NewJob("gate", {"label": f"j{i}"}) for i in range(6)])
        t = table(app)
        await wait_for(pilot, lambda: status_of(app, 1) == "running" and t.row_count == 6)
        t.focus()
        assert t.cursor_row == 0 and t.selected_id == 1
        await app.engine.cancel(1)  # 1 goes to the bottom, 2 starts
        await wait_for(pilot, lambda: status_of(app, 2) == "running")
        assert row_ids(app) == [2, 3, 4, 5, 6, 1]
        assert t.cursor_row == 0 and t.selected_id == 2
        await pilot.press("down")  # picks 3: from now on the cursor follows it
        await app.engine.cancel(2)
        await wait_for(pilot, lambda: status_of(app, 3) == "running")
        assert row_ids(app) == [3, 4, 5, 6, 2, 1]
        assert t.selected_id == 3 and t.cursor_row == 0
        await app.engine.cancel(3)
        await wait_for(pilot, lambda: status_of(app, 4) == "running")
        assert row_ids(app) == [4, 5, 6, 3, 2, 1]
        assert t.selected_id == 3 and t.cursor_row == 3  # followed it down
        await pilot.press("home")  # back to the top, and it stays there again
        await app.engine.cancel(4)
        await wait_for(pilot, lambda: status_of(app, 5) == "running")
        assert t.cursor_row == 0 and t.selected_id == 5


async def test_ids_past_five_digits_are_shown_whole() -> None:
    """Issue 14: id 100000 was cut to "10000" by a fixed five-cell id column."""
    app = new_app()
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        t = table(app)
        t.load([Job(id=100000, type="gate", params={}), Job(id=7, type="gate", params={})])
        await pilot.pause()
        lines = [t.render_line(y).text for y in range(t.size.height)]
        assert any(line.lstrip().startswith("100000 ") for line in lines), lines
        t.apply({1234567: Job(id=1234567, type="gate", params={})})
        await pilot.pause()
        lines = [t.render_line(y).text for y in range(t.size.height)]
        assert any(line.lstrip().startswith("1234567 ") for line in lines), lines


async def test_a_header_click_sorts_then_reverses_then_resets() -> None:
    app = new_app()
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.set_queue_paused(True)
        for priority in ("low", "high", "normal", "low"):
            await app.engine.submit("gate", {}, priority=priority)
        t = table(app)
        await wait_for(pilot, lambda: t.row_count == 4)
        queue_order = row_ids(app)
        by_priority = sorted(t.jobs, key=lambda i: (int(t.jobs[i].priority), i))
        assert queue_order != by_priority  # else the clicks below would prove nothing
        # The border, then the header: Prio is the fifth column (after 7 + 12 + 10 + 14 cells).
        await pilot.click("#jobs", offset=(1 + 7 + 12 + 10 + 14 + 2, 1))
        assert row_ids(app) == by_priority
        assert "Prio ▲" in t.render_line(0).text
        await pilot.click("#jobs", offset=(1 + 7 + 12 + 10 + 14 + 2, 1))
        assert row_ids(app) == by_priority[::-1]
        assert "Prio ▼" in t.render_line(0).text
        await pilot.click("#jobs", offset=(1 + 7 + 12 + 10 + 14 + 2, 1))
        assert row_ids(app) == queue_order
        assert "▲" not in t.render_line(0).text and "▼" not in t.render_line(0).text


async def test_a_click_on_the_cursor_row_opens_the_job() -> None:
    app = new_app()
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.set_queue_paused(True)
        await app.engine.submit_many([NewJob("gate", {"label": f"j{i}"}) for i in range(3)])
        await wait_for(pilot, lambda: table(app).row_count == 3)
        await pilot.click("#jobs", offset=(3, 2 + 1))  # picks job 2
        assert table(app).selected_id == 2
        assert not isinstance(app.screen, DetailScreen)
        await pilot.click("#jobs", offset=(3, 2 + 1))  # the same row again opens it
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert app.screen.job_id == 2
