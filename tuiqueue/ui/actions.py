"""What the app hands its screens: the engine, the feeds they follow, and the job commands."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from textual.notifications import SeverityLevel
from textual.signal import Signal
from textual.timer import Timer

from tuiqueue.core.job import Job
from tuiqueue.core.lifecycle import ReadOnly, UnknownJob
from tuiqueue.core.placement import live_workers, waiting_reason
from tuiqueue.core.records import Stats
from tuiqueue.core.status import QUEUED, TERMINAL, Priority, Status, TransitionError
from tuiqueue.engine.engine import Engine
from tuiqueue.ui.messages import Batch

logger = logging.getLogger(__name__)

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
        elif name == "rerun":
            new = await engine.rerun(job.id)
            notify(f"Job #{job.id} queued again as #{new.id}")
    except STEER_ERRORS as exc:
        notify(str(exc), severity="warning", markup=False)
