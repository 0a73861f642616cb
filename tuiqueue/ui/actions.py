"""What the app hands its screens: the engine, the feeds they follow, and the job commands."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from textual.notifications import SeverityLevel
from textual.signal import Signal
from textual.timer import Timer

from tuiqueue.core import logs
from tuiqueue.core.job import Job
from tuiqueue.core.lifecycle import ReadOnly, UnknownJob
from tuiqueue.core.placement import live_workers, waiting_reason
from tuiqueue.core.records import Stats
from tuiqueue.core.status import ACTIVE, QUEUED, TERMINAL, Priority, Status, TransitionError
from tuiqueue.engine.engine import Engine
from tuiqueue.ui.messages import Batch

logger = logs.logger(__name__)

STEER_ERRORS = (TransitionError, UnknownJob, ValueError, ReadOnly)
"""Why a job command can be refused (shown as a warning, not raised)."""


@dataclass
class Dashboard:
    """The app's shared parts, given to each screen when it is built (attributes down)."""

    engine: Engine
    batches: Signal[Batch]
    """Engine changes, one batch per interval."""
    stats: Signal[Stats]
    """The stats, each time they are reloaded (or re-sent unchanged on a tick)."""
    tick: float = 1.0
    """Seconds between ticks of the ages in the queue table."""
    undo_seconds: float = 5.0
    """How long a job deleted with `d` can be brought back with `u`."""
    paint_cost: float = 0.0
    """Seconds the last repaint of the queue took (the main screen reports it; paces batches)."""
    doomed: dict[int, Timer] = field(default_factory=dict)
    """Jobs deleted with `d` whose undo time has not run out yet (flushed at quit)."""
    stopping: bool = False
    """The app is quitting."""
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    """The store is open and the engine runs: screens may load from it."""
    loaded: asyncio.Event = field(default_factory=asyncio.Event)
    """The main screen's first window is in."""

    @property
    def clock(self) -> Callable[[], float]:
        """The engine's clock."""
        return self.engine.clock


class Notify(Protocol):
    """How a screen tells the person something (its `notify`)."""

    def __call__(
        self, message: str, *, severity: SeverityLevel = ..., markup: bool = ...
    ) -> object: ...


NOT_KILLABLE = (
    "Job #{id} is a plain `def` job in a worker thread and cannot be killed; it was asked to "
    'stop and ends at its next ctx.check() (isolation="process" makes a job killable)'
)


def confirm_kill(job: Job) -> str:
    """The question asked before `C` (cancel --force) stops a job at once."""
    return (
        f"Stop job #{job.id} ({job.type}) at once? Its processes are killed without a chance "
        "to clean up."
    )


def _ids(jobs: list[Job], with_type: bool = False) -> str:
    return ", ".join(f"#{j.id} ({j.type})" if with_type else f"#{j.id}" for j in jobs)


def quit_question(fates: list[tuple[Job, bool, bool]], grace: float) -> str:
    """What quitting does to each job this dashboard runs (fates: Engine.stop_fates)."""
    working = sum(1 for _, paused, _ in fates if not paused)
    paused = len(fates) - working
    counts = [f"{working} running"] if working else []
    counts += [f"{paused} paused"] if paused else []
    head = f"{' and '.join(counts)} job{'s' if len(fates) != 1 else ''} here. Stop and quit?"
    when = [f"Running jobs get {grace:g}s to finish"] if working else []
    when += ["paused ones stop at once"] if paused else []
    requeued = [job for job, _, again in fates if again]
    failed = [job for job, _, again in fates if not again]
    ends = []
    if requeued:
        ends.append(f"{_ids(requeued)} {'is' if len(requeued) == 1 else 'are'} requeued")
    if failed:
        verb = "fails" if len(failed) == 1 else "fail"
        ends.append(f"{_ids(failed, True)} {verb} as interrupted (not retry-safe)")
    return f"{head} {', '.join(when)}; unfinished then, {' and '.join(ends)}."


def confirm_cancel(job: Job) -> str:
    """The question asked before `c` cancels a job that has started (its work is lost)."""
    return f"Cancel job #{job.id} ({job.type})? It has started; its work so far is lost."


def question(name: str, job: Job) -> tuple[str, str] | None:
    """(question, yes label) to ask before a job command from the keyboard, or None:
    killing always asks; cancelling asks once the job has started (issue 14)."""
    if name == "kill":
        return confirm_kill(job), "Kill"
    if name == "cancel" and job.status in ACTIVE:
        return confirm_cancel(job), "Cancel job"
    return None


async def why_waiting(engine: Engine, job: Job) -> str | None:
    """Why a queued job is not starting (no live worker has its type or queue, its queue is
    paused), or None: two reads (workers, queues), so once per job shown, never per row."""
    if job.status not in QUEUED:
        return None
    live = live_workers(await engine.workers(), engine.clock(), engine.dead_after)
    paused = {q.name for q in await engine.queues() if q.paused}
    return waiting_reason(job, live, paused)


async def steer(engine: Engine, name: str, job: Job, notify: Notify) -> None:
    """Cancel (or kill), pause/resume, re-prioritise or rerun a job; refusals are warnings."""
    try:
        if name == "cancel":
            await engine.cancel(job.id)
        elif name == "kill":
            done = await engine.cancel(job.id, force=True)
            if done.status not in TERMINAL and not engine.killable(done):
                notify(NOT_KILLABLE.format(id=job.id), severity="warning", markup=False)
        elif name in ("priority_up", "priority_down"):
            step = 1 if name == "priority_up" else -1
            level = min(Priority.CRITICAL, max(Priority.LOW, job.priority + step))
            changed = await engine.set_priority(job.id, level)
            notify(f"Job #{job.id}: priority {changed.priority}")
        elif name == "toggle_pause":
            current = await engine.get(job.id)
            if current.status is Status.PAUSED:
                await engine.resume(job.id)
            else:
                await engine.pause(job.id)
        elif name in ("rerun", "retry"):
            new = await engine.rerun(job.id)
            notify(f"Job #{job.id} queued again as #{new.id}")
    except STEER_ERRORS as exc:
        notify(str(exc), severity="warning", markup=False)
