"""One job's progress, facts and log: the full-screen detail view and the queue's side pane."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from tuiqueue.core.job import Job
from tuiqueue.core.records import LogPage, Step
from tuiqueue.core.status import QUEUED, TERMINAL
from tuiqueue.ui.format import eta

if TYPE_CHECKING:
    from tuiqueue.ui.widgets.job_progress import JobProgress
    from tuiqueue.ui.widgets.job_summary import JobSummary
    from tuiqueue.ui.widgets.log_tail import LogTail

# The parts (progress bar, facts, log) are imported when first built: the main screen's first
# frame shows the deferred look only, and they bring Textual's ProgressBar (about 5 ms of
# imports before that frame, with the form's fields).

PROGRESS_FACE = Content.assemble(("━" * 40, "$surface"), "   0%", "  ", ("   ETA -", "dim"))
"""JobProgress before any job: an empty bar (its width is `#detail-bar Bar` in the .tcss),
0% and no ETA."""


class JobDetail(Vertical):
    """Progress with ETA on top; the facts (status, steps, params, result, error) beside the
    live log. It shows what it is given: the screen that owns it reads the engine."""

    def __init__(
        self, clock: Callable[[], float] = time.time, *, deferred: bool = False, **kw: Any
    ) -> None:
        super().__init__(**kw)
        self.clock = clock
        self.job: Job | None = None
        self.built = not deferred
        """Whether the parts are built. A deferred detail (the main screen's pane) is first
        drawn by three plain widgets that look the same with no job shown, and builds its
        eleven (a progress bar of four, a scrolling box, the log) when `build` is called:
        after the dashboard's first frame."""
        self._building = asyncio.Lock()

    def compose(self) -> ComposeResult:
        """Progress, then the facts beside the log (or, deferred, what they look like empty)."""
        if self.built:
            yield from self._parts()
            return
        yield Static(PROGRESS_FACE, classes="detail-face-progress")
        with Horizontal(id="detail-body"):
            facts = Static("Loading…", id="detail-facts", classes="detail-face")
            facts.border_title = "Job"
            yield facts
            log = Static(classes="detail-face-log")
            log.border_title = "Log"
            yield log

    def _parts(self) -> list[Widget]:
        from tuiqueue.ui.widgets.job_progress import JobProgress
        from tuiqueue.ui.widgets.job_summary import JobSummary
        from tuiqueue.ui.widgets.log_view import LogView

        facts = VerticalScroll(JobSummary(clock=self.clock, id="detail-summary"), id="detail-facts")
        facts.border_title = "Job"
        log = LogView(log_id="detail-log", id="detail-logview")
        log.tail.border_title = "Log"
        return [JobProgress(id="detail-progress"), Horizontal(facts, log, id="detail-body")]

    async def build(self) -> None:
        """Put the real parts in place of the deferred look (once)."""
        async with self._building:
            if self.built:
                return
            await self.remove_children()
            await self.mount_all(self._parts())
            self.built = True

    @property
    def log_tail(self) -> LogTail:
        """The live log."""
        from tuiqueue.ui.widgets.log_tail import LogTail

        return self.query_one(LogTail)

    @property
    def _progress(self) -> JobProgress:
        from tuiqueue.ui.widgets.job_progress import JobProgress

        return self.query_one(JobProgress)

    @property
    def summary(self) -> JobSummary:
        """The facts."""
        from tuiqueue.ui.widgets.job_summary import JobSummary

        return self.query_one(JobSummary)

    def show(self, job: Job) -> None:
        """Show a new snapshot of the job."""
        self.job = job
        summary = self.summary
        if job.status not in QUEUED:
            summary.waiting = None
        summary.job = job
        progress = self._progress
        progress.percent = job.progress
        progress.message = job.error or job.message if job.status in TERMINAL else job.message
        progress.eta = eta(job, self.clock())

    def tick(self) -> None:
        """Move the duration and ETA of an unfinished job on between its updates."""
        job = self.job
        if job is not None and job.status not in TERMINAL and self.built:
            self.summary.job = job
            self._progress.eta = eta(job, self.clock())

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
