"""Pilot tests of queues in the dashboard: the queue column and filter, per-queue load in the
stats bar, and the detail view saying why a job waits (no worker has its type)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from textual.widgets import Select

from tests.test_ui_helpers import NOW, _quiet, new_app, table, wait_for
from tuiqueue.core.job import NewJob
from tuiqueue.core.status import Status
from tuiqueue.ui.screens.detail import DetailScreen
from tuiqueue.ui.widgets.job_summary import JobSummary
from tuiqueue.ui.widgets.stats_bar import StatsBar

__all__ = ["_quiet"]

pytestmark = pytest.mark.anyio


async def test_the_queue_column_filter_and_stats_bar() -> None:
    app = new_app()
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.set_queue_paused(True)
        mail = [(await app.engine.submit("gate", {}, queue="mail")).id for _ in range(2)]
        plain = (await app.engine.submit("gate", {})).id
        await app.engine.limit_queue("mail", 2)
        await app.engine.pause_queue("mail")
        t = table(app)
        await wait_for(pilot, lambda: t.row_count == 3)
        assert t.cell_text(mail[0], "queue") == "mail"
        assert t.cell_text(plain, "queue") == "default"
        await app.refresh_stats()
        await pilot.pause()
        bar = app.main.query_one(StatsBar).text.plain
        assert "queues default 0 mail 0/2 ‖" in bar
        select = app.main.query_one("#queue-filter", Select)
        await wait_for(pilot, lambda: app.main.queue_choices == ("default", "mail"))
        select.value = "mail"
        await wait_for(pilot, lambda: sorted(t.row_ids()) == mail)
        # A job of another queue arriving meanwhile is not shown under the filter.
        await app.engine.submit("gate", {})
        await pilot.pause(0.2)
        assert sorted(t.row_ids()) == mail
        select.value = ""
        await wait_for(pilot, lambda: t.row_count == 4)


async def test_the_detail_says_a_job_waits_for_a_worker_with_its_type() -> None:
    app = new_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        # Queued by another process that has a module this dashboard has not loaded.
        [job] = await app.engine.store.add([NewJob("custom", {})], NOW)
        app.engine.wake()
        await app.push_screen(DetailScreen(app.dashboard, job.id))
        summary = app.screen.query_one(JobSummary)
        await wait_for(pilot, lambda: summary.waiting is not None)
        assert summary.waiting is not None
        assert summary.waiting.startswith(
            "waiting for a worker with type 'custom' (1 live worker with types "
        )
        assert "'gate'" in summary.waiting
        console = Console(width=200, record=True, file=io.StringIO())
        assert summary.job is not None
        console.print(summary.render_job(summary.job))
        text = console.export_text()
        rows = {line.split()[0]: " ".join(line.split()[1:]) for line in text.splitlines() if line}
        assert rows["Waiting"].startswith("waiting for a worker with type 'custom'")
        assert rows["Queue"] == "default"
        stored = await app.engine.get(job.id)
        assert stored.status is Status.PENDING and stored.attempts == 0 and stored.error is None


async def test_the_detail_closing_while_it_asks_the_store_does_not_fail_the_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A screen's widgets are removed before its workers are cancelled: a worker that resumes
    from the store in between (a slow store, the detail closed at once) finds them gone, and
    must end quietly rather than fail the dashboard (seen on PostgreSQL in CI)."""
    import anyio

    from tuiqueue.ui.screens import detail
    from tuiqueue.ui.widgets.job_detail import JobDetail

    asked, answer = anyio.Event(), anyio.Event()

    async def slow_why_waiting(engine: object, job: object) -> str:
        asked.set()
        await answer.wait()
        return "waiting for a worker with type 'custom'"

    monkeypatch.setattr(detail, "why_waiting", slow_why_waiting)
    app = new_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        [job] = await app.engine.store.add([NewJob("custom", {})], NOW)
        screen = DetailScreen(app.dashboard, job.id)
        await app.push_screen(screen)
        await wait_for(pilot, asked.is_set)
        await screen.query_one(JobDetail).remove()  # where a closing screen is at that moment
        answer.set()
        await pilot.pause()
        await pilot.pause()
        assert app.screen is screen and app.is_running
        app.pop_screen()
        await pilot.pause()
        assert app.screen is app.main
