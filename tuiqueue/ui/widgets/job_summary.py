"""The facts about one job: status, params, timestamps, attempts, lineage, result, error."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from tuiqueue.core.job import Job
from tuiqueue.core.records import Step
from tuiqueue.core.status import Status
from tuiqueue.ui.format import badge, clean, is_partial, pretty, span, until


def stamp(when: float | None) -> str:
    """A local timestamp, or "-"."""
    if when is None:
        return "-"
    return datetime.fromtimestamp(when).strftime("%Y-%m-%d %H:%M:%S")


class JobSummary(Static):
    """A job's fields as a table, its result as JSON and its error with the traceback."""

    job: reactive[Job | None] = reactive(None, always_update=True)
    """The job shown."""
    waiting: reactive[str | None] = reactive(None)
    """Why the job is not starting (no live worker can run it, a paused queue), if so."""

    def __init__(self, clock: Callable[[], float] = time.time, **kw: Any) -> None:
        super().__init__(**kw)
        self.clock = clock
        self.steps: list[Step] = []
        """The job's steps (ctx.step()), shown as a list with durations."""
        self.reruns: list[int] = []
        """The jobs rerun from this one (their rerun_of is it): "rerun as #17"."""

    def watch_job(self, job: Job | None) -> None:
        """Re-render for a new snapshot."""
        self.update(self.render_job(job) if job is not None else "Loading…")

    def watch_waiting(self, waiting: str | None) -> None:
        """Re-render with the new reason."""
        self.watch_job(self.job)

    def ran_for(self, job: Job) -> float | None:
        """Seconds run: until now while it runs (the stored value only moves on updates)."""
        if job.started_at is not None and job.finished_at is None:
            return max(0.0, self.clock() - job.started_at)
        return job.duration

    def render_steps(self) -> RenderableType:
        """One line per step: its name and how long it took (or has run so far)."""
        steps = Table.grid(padding=(0, 2))
        steps.add_column()
        steps.add_column(justify="right")
        for step in self.steps:
            end = step.finished
            seconds = max(0.0, (self.clock() if end is None else end) - step.started)
            took = f"{seconds:.2f}s" if seconds < 60 else span(seconds)
            steps.add_row(Text(clean(step.name)), took + ("" if end is not None else " …"))
        return steps

    def render_job(self, job: Job) -> RenderableType:
        """Everything known about the job; user text is plain Text, never markup."""
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", width=10)
        table.add_column()
        table.add_row("Status", badge(job.status, self.app.theme_variables, is_partial(job)))
        if self.waiting:
            warning = self.app.theme_variables.get("warning", "")
            table.add_row("Waiting", Text(clean(self.waiting), style=warning))
        table.add_row("Type", Text(clean(job.type)))
        table.add_row("Queue", Text(clean(job.queue)))
        table.add_row("Priority", str(job.priority))
        table.add_row("Params", Text(clean(pretty(job.params))))
        table.add_row("Created", stamp(job.created_at))
        if job.status is Status.SCHEDULED and job.run_at is not None:
            table.add_row("Runs", f"in {until(job.run_at - self.clock())} ({stamp(job.run_at)})")
        table.add_row("Started", stamp(job.started_at))
        table.add_row("Finished", stamp(job.finished_at))
        table.add_row("Duration", span(self.ran_for(job)))
        table.add_row("Attempts", f"{job.attempts} of {job.max_attempts}")
        if job.worker:
            table.add_row("Worker", Text(clean(job.worker)))
        if job.rerun_of is not None:
            table.add_row("Rerun of", f"#{job.rerun_of}")
        if self.reruns:
            shown = ", ".join(f"#{i}" for i in self.reruns[-5:])
            more = f"{len(self.reruns) - 5} more, " if len(self.reruns) > 5 else ""
            table.add_row("Rerun as", more + shown)
        if job.depends_on:
            table.add_row("After", ", ".join(f"#{i}" for i in job.depends_on))
        parts: list[RenderableType] = [table]
        if self.steps:
            parts += [Text("\nSteps", style="bold"), self.render_steps()]
        if job.result is not None:
            parts += [Text("\nResult", style="bold"), Text(clean(pretty(job.result)))]
        if job.error:
            colour = self.app.theme_variables.get("error", "")
            parts += [Text("\nError", style=f"bold {colour}"), Text(clean(job.error), style=colour)]
        if job.traceback:
            parts += [Text("\nTraceback", style="bold"), Text(clean(job.traceback), style="dim")]
        return Group(*parts)
