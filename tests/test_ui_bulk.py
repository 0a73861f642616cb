"""Issue 14: marking jobs and acting on all of them at once; edit-and-rerun from the form."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Input

from tests.test_ui_helpers import _quiet, new_app, status_of, table, wait_for
from tests.test_ui_keys14 import sqlite_app
from tuiqueue.core.job import NewJob
from tuiqueue.core.status import Priority, Status
from tuiqueue.ui.app import QueueApp
from tuiqueue.ui.screens.confirm import ConfirmScreen
from tuiqueue.ui.widgets.job_detail import JobDetail
from tuiqueue.ui.widgets.job_form import JobForm
from tuiqueue.ui.widgets.job_table import MARK
from tuiqueue.ui.widgets.stats_bar import StatsBar
from tuiqueue.ui.window import MAX_KEPT

__all__ = ["_quiet"]

pytestmark = pytest.mark.anyio


def marked(app: QueueApp) -> list[int]:
    """The ids the table has marked."""
    return table(app).marks.ids()


def stats_text(app: QueueApp) -> str:
    """What the stats bar says."""
    bar = app.main.query_one(StatsBar)
    assert bar.stats is not None
    return bar.render_stats(bar.stats).plain


async def started(pilot: object, app: QueueApp, n: int, label: str = "g") -> list[int]:
    """Submit n gate jobs and wait until the table shows them all running."""
    jobs = [await app.engine.submit("gate", {"label": f"{label}{i}"}) for i in range(n)]
    ids = [j.id for j in jobs]
    await wait_for(pilot, lambda: all(status_of(app, i) == "running" for i in ids))  # type: ignore[arg-type]
    return ids


async def test_selecting_3_running_jobs_and_cancelling_them_asks_once_and_cancels_all_3(
    tmp_path: Path,
) -> None:
    app = sqlite_app(tmp_path, concurrency=3)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        ids = await started(pilot, app, 3)
        app.main.table.focus()
        app.main.table.move_cursor(table(app).row_index(ids[0]) or 0)
        await pilot.press("space", "shift+down", "shift+down")
        await wait_for(pilot, lambda: len(marked(app)) == 3)
        assert sorted(marked(app)) == ids
        await wait_for(pilot, lambda: "3 marked" in stats_text(app))
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        assert dialog.question.startswith("Cancel 3 running jobs?")
        await pilot.press("y")
        await wait_for(pilot, lambda: all(status_of(app, i) == "cancelled" for i in ids))
        assert not isinstance(app.screen, ConfirmScreen)  # asked once, not once per job
        assert marked(app) == []
        for job_id in ids:
            assert (await app.engine.get(job_id)).status is Status.CANCELLED


async def test_space_marks_shows_a_mark_column_and_escape_clears() -> None:
    app = new_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        jobs = await app.engine.submit_many([NewJob("hello", {}) for _ in range(3)])
        await app.engine.pause(jobs[0].id)
        await wait_for(pilot, lambda: all(j.id in table(app).jobs for j in jobs))
        t = table(app)
        t.focus()
        assert "mark" not in t.shown_columns()  # nothing marked: the column takes no room
        await pilot.press("space")
        first = t.selected_id
        assert first is not None and marked(app) == [first]
        assert "mark" in t.shown_columns() and t.cell_text(first, "mark") == MARK
        await pilot.press("space")  # again: unmarked
        assert marked(app) == []
        await pilot.press("space", "down", "space")
        assert len(marked(app)) == 2
        await pilot.press("escape")
        assert marked(app) == [] and "mark" not in t.shown_columns()
        assert app.focused is t


async def test_select_all_marks_beyond_the_window_and_deletes_with_one_undo(
    tmp_path: Path,
) -> None:
    """`a` takes every matching id from the store, not the rows loaded; d deletes them all,
    u brings them all back."""
    app = sqlite_app(tmp_path, worker=False)
    total = MAX_KEPT + 300
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.submit_many([NewJob("hello", {}) for _ in range(total)])
        await wait_for(pilot, lambda: table(app).row_count >= 100)
        assert table(app).row_count < total  # a window of the queue, not all of it
        table(app).focus()
        await pilot.press("a")
        await wait_for(pilot, lambda: len(marked(app)) == total)
        await wait_for(pilot, lambda: f"{total:,} marked" in stats_text(app))
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.question.startswith(f"Delete {total:,} jobs?")
        await pilot.press("y")
        await wait_for(pilot, lambda: table(app).row_count == 0)
        assert len(app.dashboard.doomed) == total
        await pilot.press("u")
        await wait_for(pilot, lambda: table(app).row_count > 0)
        assert not app.dashboard.doomed
        assert (await app.engine.stats()).counts[Status.PENDING] == total
        # Deleted for real once the undo time runs out: all of them, in one go.
        app.dashboard.undo_seconds = 0.05
        await pilot.press("a")
        await wait_for(pilot, lambda: len(marked(app)) == total)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.dashboard.doomed)
        assert await app.engine.list(limit=10) == []


async def test_select_all_follows_the_filter(tmp_path: Path) -> None:
    app = sqlite_app(tmp_path, worker=False)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        jobs = await app.engine.submit_many(
            [NewJob("hello", {"name": "alpha" if i % 3 == 0 else "beta"}) for i in range(30)]
        )
        await wait_for(pilot, lambda: table(app).row_count == 30)
        filt = app.main.query_one("#text-filter", Input)
        filt.value = "alpha"
        await wait_for(pilot, lambda: table(app).row_count == 10)
        table(app).focus()
        await pilot.press("a")
        await wait_for(pilot, lambda: len(marked(app)) == 10)
        assert sorted(marked(app)) == [j.id for j in jobs if j.params["name"] == "alpha"]


async def test_bulk_actions_skip_what_does_not_apply_and_say_how_many(tmp_path: Path) -> None:
    app = sqlite_app(tmp_path, concurrency=3)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        running = await started(pilot, app, 2)
        done = await app.engine.submit("hello", {})
        await wait_for(pilot, lambda: status_of(app, done.id) == "completed")
        t = table(app)
        t.focus()
        for job_id in [*running, done.id]:
            t.move_cursor(t.row_index(job_id) or 0)
            await pilot.press("space")
        assert len(marked(app)) == 3
        notes: list[str] = []
        app.main.notify = lambda message, **kw: notes.append(str(message))  # type: ignore[method-assign]
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.question == "Pause 2 jobs? 1 other marked job skipped."
        await pilot.press("y")
        await wait_for(pilot, lambda: all(status_of(app, i) == "paused" for i in running))
        await wait_for(pilot, lambda: any("Paused 2 jobs, 1 skipped" in n for n in notes))
        # Marks are cleared after a command; mark the paused ones again: p now resumes.
        for job_id in running:
            t.move_cursor(t.row_index(job_id) or 0)
            await pilot.press("space")
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.question == "Resume 2 paused jobs?"
        await pilot.press("y")
        await wait_for(pilot, lambda: all(status_of(app, i) == "running" for i in running))


async def test_R_reruns_every_marked_failed_job_linked_to_it(tmp_path: Path) -> None:
    app = sqlite_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        failed = [await app.engine.submit("kaput", {"why": f"no {i}"}) for i in range(2)]
        ok = await app.engine.submit("hello", {})
        ids = [f.id for f in failed]
        await wait_for(pilot, lambda: all(status_of(app, i) == "failed" for i in ids))
        await wait_for(pilot, lambda: status_of(app, ok.id) == "completed")
        t = table(app)
        t.focus()
        for job_id in [*ids, ok.id]:
            t.move_cursor(t.row_index(job_id) or 0)
            await pilot.press("space")
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.question == "Rerun 2 failed jobs? 1 other marked job skipped."
        await pilot.press("y")
        await wait_for(pilot, lambda: len(t.jobs) == 5)
        new = [j for j in t.jobs.values() if j.rerun_of is not None]
        assert sorted(j.rerun_of for j in new) == ids  # type: ignore[type-var]
        assert {j.params["why"] for j in new} == {"no 0", "no 1"}
        for job_id in ids:
            assert len(await app.engine.reruns(job_id)) == 1
        assert await app.engine.reruns(ok.id) == []


async def test_priority_keys_change_every_marked_queued_job(tmp_path: Path) -> None:
    app = sqlite_app(tmp_path, worker=False)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        jobs = await app.engine.submit_many([NewJob("hello", {}) for _ in range(3)])
        await wait_for(pilot, lambda: table(app).row_count == 3)
        table(app).focus()
        await pilot.press("a")
        await wait_for(pilot, lambda: len(marked(app)) == 3)
        await pilot.press("plus")
        await wait_for(
            pilot, lambda: all(table(app).jobs[j.id].priority is Priority.HIGH for j in jobs)
        )
        assert len(marked(app)) == 3  # kept: + again goes on
        await pilot.press("plus")
        await wait_for(
            pilot, lambda: all(table(app).jobs[j.id].priority is Priority.CRITICAL for j in jobs)
        )


async def test_read_only_dashboards_mark_nothing_and_refuse_bulk_keys(tmp_path: Path) -> None:
    seed = sqlite_app(tmp_path, worker=False)
    async with seed.run_test() as pilot:
        await wait_for(pilot, lambda: seed.stats is not None)
        await seed.engine.submit_many([NewJob("hello", {}) for _ in range(2)])
    app = sqlite_app(tmp_path, read_only=True)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 2)
        table(app).focus()
        await pilot.press("space", "a", "e")
        await pilot.pause()
        assert marked(app) == []
        assert app.main.query_one(JobForm).rerun_of is None
        assert not app.main.check_action("select_all", ())
        assert not app.main.check_action("edit_rerun", ())


async def test_e_fills_the_form_from_the_job_and_links_the_rerun_both_ways(
    tmp_path: Path,
) -> None:
    """At 100 columns the form is folded away: `e` shows it, filled in."""
    app = sqlite_app(tmp_path, worker=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        old = await app.engine.submit(
            "hello", {"count": 7, "name": "old", "loud": True}, priority="high", queue="q1"
        )
        await wait_for(pilot, lambda: old.id in table(app).jobs)
        left = app.main.query_one("#left")
        assert left.has_class("-collapsed")
        table(app).focus()
        table(app).select(old.id)
        await pilot.press("e")
        form = app.main.query_one(JobForm)
        await wait_for(pilot, lambda: form.rerun_of == old.id)
        assert not left.has_class("-collapsed")
        assert form.job_type is not None and form.job_type.name == "hello"
        assert form.priority is Priority.HIGH and form.queue == "q1"
        params, errors = form.collect()
        assert errors == {} and params["count"] == 7 and params["name"] == "old"
        assert params["loud"] is True
        name = app.main.query_one("#param-name", Input)
        name.value = "new"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: len(table(app).jobs) == 2)
        (new,) = [j for j in table(app).jobs.values() if j.id != old.id]
        assert new.rerun_of == old.id and new.queue == "q1" and new.priority is Priority.HIGH
        assert new.params["name"] == "new" and new.params["count"] == 7
        assert form.rerun_of is None  # the next submit is a plain new job
        assert await app.engine.reruns(old.id) == [new.id]
        # The old job's detail says where it was rerun; the new one's, what it reruns.
        await pilot.press("escape")
        table(app).focus()
        table(app).select(old.id)
        pane = app.main.query_one("#pane", JobDetail)
        assert pane.display
        await wait_for(pilot, lambda: f"rerun as #{new.id}" in summary_text(app))
        table(app).select(new.id)
        await wait_for(pilot, lambda: f"rerun of #{old.id}" in summary_text(app))


def summary_text(app: QueueApp) -> str:
    """What the detail pane's facts say, lower case, spaces squeezed."""
    pane = app.main.query_one("#pane", JobDetail)
    job = pane.summary.job
    if job is None:
        return ""
    out = Console(file=io.StringIO(), width=200, color_system=None)
    out.print(pane.summary.render_job(job))
    return " ".join(out.file.getvalue().split()).lower()  # type: ignore[attr-defined]
