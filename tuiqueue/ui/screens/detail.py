"""The detail view of one job: facts, live progress, result, error and log tail."""

from __future__ import annotations

import json
from contextlib import suppress

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Static

from tuiqueue.core import logs
from tuiqueue.core.job import Job
from tuiqueue.core.lifecycle import UnknownJob
from tuiqueue.core.status import ACTIVE, QUEUED, TERMINAL
from tuiqueue.ui.actions import Dashboard, question, steer, why_waiting
from tuiqueue.ui.format import plain
from tuiqueue.ui.messages import Batch
from tuiqueue.ui.screens.confirm import ConfirmScreen
from tuiqueue.ui.widgets.job_detail import JobDetail
from tuiqueue.ui.widgets.job_summary import JobSummary
from tuiqueue.ui.widgets.key_footer import KeyFooter
from tuiqueue.ui.widgets.log_tail import LogTail

logger = logs.logger(__name__)


class DetailScreen(Screen[None]):
    """Everything about one job, kept live by engine events."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="detail.back", tooltip="Back to the queue"),
        Binding("c", "job('cancel')", "Cancel", id="detail.cancel", tooltip="Cancel this job"),
        Binding(
            "C",
            "job('kill')",
            "Kill",
            id="detail.kill",
            show=False,  # the footer is full; the help screen (?) lists it
            tooltip="Cancel --force: stop this job at once (asks first)",
        ),
        Binding(
            "p",
            "job('toggle_pause')",
            "Pause/resume",
            id="detail.pause",
            tooltip="Pause or resume this job",
        ),
        Binding(
            "r",
            "job('rerun')",
            "Rerun",
            id="detail.rerun",
            tooltip="Queue this job again with the same params",
        ),
        Binding(
            "y",
            "copy",
            "Copy",
            id="detail.copy",
            tooltip="Copy the job (JSON) and its log to the clipboard",
        ),
    ]

    def __init__(self, dashboard: Dashboard, job_id: int) -> None:
        super().__init__()
        self.dashboard = dashboard
        self.engine = dashboard.engine
        self.job_id = job_id
        self.job: Job | None = None

    def compose(self) -> ComposeResult:
        """Title, progress, facts beside the log tail, footer."""
        yield Static(Text(f"Job #{self.job_id}", style="bold"), id="detail-title")
        yield JobDetail(clock=self.dashboard.clock, id="detail")
        yield KeyFooter()

    def on_mount(self) -> None:
        """Load the job and its log; the log has the focus (its keys: search, wrap)."""
        self.query_one(LogTail).focus()
        self.dashboard.batches.subscribe(self, self._on_batch)
        self.run_worker(self._load(), group="detail-load", exclusive=True)
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        """Move the duration and ETA of a running job on between its updates; for a queued
        one, look again at who could run it."""
        job = self.job
        if job is not None and job.status not in TERMINAL:
            self.query_one(JobDetail).tick()
            if job.status in QUEUED:
                self.run_worker(self._explain(job), group="detail-why", exclusive=True)

    # The workers below await the store, and the screen may be closing when they resume: its
    # widgets are removed before its workers are cancelled (at its unmount). What they would
    # show then has nowhere to go, so a widget that is gone (NoMatches) ends the worker
    # quietly instead of failing the app.

    async def _explain(self, job: Job) -> None:
        """Say why a queued job is not starting: no live worker has its type or queue."""
        waiting = await why_waiting(self.engine, job)
        with suppress(NoMatches):
            self.query_one(JobSummary).waiting = waiting

    async def _load(self) -> None:
        try:
            job = await self.engine.get(self.job_id)
        except UnknownJob:
            with suppress(NoMatches):
                self.query_one("#detail-title", Static).update(f"Job #{self.job_id} was deleted")
            return
        with suppress(NoMatches):
            self.show(job)
            await self._explain(job)
            await self._fetch_logs()
            await self._fetch_steps()

    async def _fetch_steps(self) -> None:
        steps = await self.engine.steps(self.job_id)
        reruns = await self.engine.reruns(self.job_id)
        with suppress(NoMatches):
            detail = self.query_one(JobDetail)
            detail.set_steps(steps)
            detail.set_reruns(reruns)

    async def _fetch_logs(self) -> None:
        with suppress(NoMatches):
            after = self.query_one(JobDetail).log_tail.last_seq
            page = await self.engine.logs(self.job_id, after)
            self.query_one(JobDetail).add_log(page)

    def show(self, job: Job) -> None:
        """Show a new snapshot of the job."""
        self.job = job
        title = Text(f"Job #{job.id}  ", style="bold")
        title.append_text(plain(job.type, "bold"))
        self.query_one("#detail-title", Static).update(title)
        self.query_one(JobDetail).show(job)
        self.refresh_bindings()

    def _on_batch(self, batch: Batch) -> None:
        """Follow our job; fetch new log lines (from the engine: in order, no duplicates)."""
        if self.job_id in batch.deleted:
            self.query_one("#detail-title", Static).update(f"Job #{self.job_id} was deleted")
        job = batch.jobs.get(self.job_id)
        if job is None and any(j.rerun_of == self.job_id for j in batch.jobs.values()):
            self.run_worker(self._fetch_steps(), group="detail-steps", exclusive=True)
        if job is not None:
            self.show(job)
            self.run_worker(self._fetch_steps(), group="detail-steps", exclusive=True)
            if job.log_count > self.query_one(LogTail).last_seq:
                self.run_worker(self._fetch_logs(), group="detail-logs", exclusive=True)
        if self.job_id in batch.logs:
            self.run_worker(self._fetch_logs(), group="detail-logs", exclusive=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Show only the keys that apply to this job (none that steer when read-only)."""
        if action != "job":
            return True
        if self.dashboard.engine.read_only:
            return False
        if self.job is None:
            return False
        name = parameters[0] if parameters else ""
        if name in ("cancel", "toggle_pause"):
            return self.job.status not in TERMINAL
        if name == "kill":
            return self.job.status in ACTIVE
        return name != "delete"  # deleting is done from the queue (it can be undone there)

    def action_job(self, name: str) -> None:
        """Cancel, pause/resume or rerun this job."""
        job = self.job
        if job is None:
            return
        asked = question(name, job)
        if asked is not None:

            def answer(yes: bool | None) -> None:
                if yes:
                    self.run_worker(steer(self.engine, name, job, self.notify), group="command")

            self.app.push_screen(ConfirmScreen(asked[0], yes=asked[1]), answer)
            return
        self.run_worker(steer(self.engine, name, job, self.notify), group="command")

    def action_copy(self) -> None:
        """Copy the job as JSON and its log lines to the clipboard."""
        if self.job is None:
            return
        log = "\n".join(self.query_one(LogTail).lines)
        self.app.copy_to_clipboard(json.dumps(self.job.to_dict(), indent=2) + "\n\n" + log)
        self.notify("Copied the job and its log to the clipboard")
