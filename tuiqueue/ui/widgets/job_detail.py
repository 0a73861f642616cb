"""One job's progress, facts and log: the full-screen detail view and the queue's side pane."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll

from tuiqueue.core.job import Job
from tuiqueue.core.records import LogPage, Step
from tuiqueue.core.status import QUEUED, TERMINAL
from tuiqueue.ui.format import eta
from tuiqueue.ui.widgets.job_progress import JobProgress
from tuiqueue.ui.widgets.job_summary import JobSummary
from tuiqueue.ui.widgets.log_tail import LogTail
from tuiqueue.ui.widgets.log_view import LogView


class JobDetail(Vertical):
    """Progress with ETA on top; the facts (status, steps, params, result, error) beside the
    live log. It shows what it is given: the screen that owns it reads the engine."""

    def __init__(self, clock: Callable[[], float] = time.time, **kw: Any) -> None:
        super().__init__(**kw)
        self.clock = clock
        self.job: Job | None = None

    def compose(self) -> ComposeResult:
        """Progress, then the facts beside the log."""
        yield JobProgress(id="detail-progress")
        with Horizontal(id="detail-body"):
            with VerticalScroll(id="detail-facts"):
                yield JobSummary(clock=self.clock, id="detail-summary")
            yield LogView(log_id="detail-log", id="detail-logview")

    def on_mount(self) -> None:
        """Border titles."""
        self.query_one("#detail-facts").border_title = "Job"
        self.log_tail.border_title = "Log"

    @property
    def log_tail(self) -> LogTail:
        """The live log."""
        return self.query_one(LogTail)

    @property
    def summary(self) -> JobSummary:
        """The facts."""
        return self.query_one(JobSummary)

    def show(self, job: Job) -> None:
        """Show a new snapshot of the job."""
        self.job = job
        summary = self.summary
        if job.status not in QUEUED:
            summary.waiting = None
        summary.job = job
        progress = self.query_one(JobProgress)
        progress.percent = job.progress
        progress.message = job.error or job.message if job.status in TERMINAL else job.message
        progress.eta = eta(job, self.clock())

    def tick(self) -> None:
        """Move the duration and ETA of an unfinished job on between its updates."""
        job = self.job
        if job is not None and job.status not in TERMINAL:
            self.summary.job = job
            self.query_one(JobProgress).eta = eta(job, self.clock())

    def reset(self) -> None:
        """Forget the job shown (another one comes)."""
        self.job = None
        self.log_tail.clear()
        summary = self.summary
        summary.steps = []
        summary.reruns = []
        summary.waiting = None

    def add_log(self, page: LogPage) -> None:
        """Append a page of log lines (those already shown are skipped)."""
        self.log_tail.add(page.lines, page.dropped)

    def set_reruns(self, reruns: list[int]) -> None:
        """Show the jobs rerun from this one (only a change re-renders)."""
        summary = self.summary
        if reruns != summary.reruns:
            summary.reruns = reruns
            summary.job = self.job

    def set_steps(self, steps: list[Step]) -> None:
        """Show the job's steps (only a change re-renders)."""
        summary = self.summary
        if steps != summary.steps:
            summary.steps = steps
            summary.job = self.job
