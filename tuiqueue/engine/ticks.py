"""The Engine's ticks: record ended runs, claim free slots, flush progress, publish (mixed in)."""

from __future__ import annotations

import builtins
import logging
import time
from typing import TYPE_CHECKING

from tuiqueue.core.events import Event, EventBus, EventKind
from tuiqueue.core.job import Job
from tuiqueue.core.records import ProgressUpdate
from tuiqueue.core.status import TERMINAL

if TYPE_CHECKING:
    from collections.abc import Callable

    from tuiqueue.core.lifecycle import Outcome
    from tuiqueue.engine.runner import Running
    from tuiqueue.store.base import Store

logger = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.1
"""Progress and logs are written and published at most this often (10 times a second)."""


class Ticks:
    """One tick: a store call that records the ended runs and claims the free slots."""

    if TYPE_CHECKING:  # provided by Engine
        store: Store
        bus: EventBus
        clock: Callable[[], float]
        worker_id: str
        processed: int
        published: dict[int, int]
        _concurrency: int
        _running: dict[int, Running]
        _outcomes: builtins.list[tuple[Running, Outcome]]
        _ticking: bool
        _retick: bool
        _stopping: bool
        _last_flush: float

        def _start(self, job: Job) -> None: ...

    async def _tick(self) -> None:
        """Record the ended runs and claim the free slots in one store call; start the claimed.

        The dispatcher ticks when woken and on its timer; a runner that runs out of claimed
        jobs ticks itself (no hand-over to the dispatcher and back per batch). One tick at a
        time: one asked for meanwhile (_retick) is run next by whoever is ticking.
        """
        self._ticking = True
        try:
            while True:
                self._retick = False
                for job in await self._flush(claim=not self._stopping):
                    self._start(job)
                if not self._retick:
                    return
        finally:
            self._ticking = False

    async def _flush(self, force: bool = False, claim: bool = False) -> builtins.list[Job]:
        """Write finished runs, progress and logs; publish what changed.

        With claim, the free slots are claimed in the same store call as the finished runs
        are recorded (one transaction per tick); returns the claimed jobs.
        """
        now = self.clock()
        outcomes, self._outcomes = self._outcomes, []
        tick = time.monotonic()
        if force or tick - self._last_flush >= FLUSH_INTERVAL:
            self._last_flush = tick
            await self._flush_progress(now, list(self._running.values()))
        elif outcomes:
            ended = [run for run, _ in outcomes if run.ctx.unflushed]
            if ended:  # what they reported since the last flush goes in before they finish
                await self._flush_progress(now, ended)
        running = self._running
        free = self._concurrency - len(running) + len(outcomes) if claim else 0
        if not outcomes and free <= 0:
            return []
        try:
            finished, claimed = await self.store.finish_and_claim(
                [o for _, o in outcomes], self.worker_id, free, now)
        except BaseException:
            # Not recorded: the next flush tries them again (a store that did record them
            # ignores the repeat, their tokens being spent).
            self._outcomes[:0] = outcomes
            raise
        for run, _ in outcomes:
            running.pop(run.job.id, None)
        for job in finished:
            if job.status in TERMINAL:
                self.processed += 1
        if self.bus.has_subscribers:
            for job in finished:
                self._publish_job(job)
        return claimed

    async def _flush_progress(self, now: float, runs: builtins.list[Running]) -> None:
        updates, logs = [], {}
        for run in runs:
            ctx = run.ctx
            if not ctx.unflushed:
                continue
            ctx.unflushed = False
            if ctx.has_lines:
                logs[run.job.id] = ctx.take_lines()
            if ctx.dirty:
                ctx.dirty = False
                run.job.progress, run.job.message = ctx.percent, ctx.message
                updates.append(
                    ProgressUpdate(run.job.id, run.job.token or "", ctx.percent, ctx.message)
                )
        if updates:
            await self.store.save_progress(updates, now)
        if logs:
            await self.store.append_logs(logs)
        if self.bus.has_subscribers:
            for run in runs:
                if run.job.id in logs:
                    lines = tuple(logs[run.job.id])
                    self.bus.publish(Event(EventKind.LOG, run.job.id, lines=lines))
            for job_id, _, _, _ in updates:
                run = self._running.get(job_id) or next(r for r in runs if r.job.id == job_id)
                snap = run.job.copy()
                snap.updated_at = now
                self.bus.publish(Event(EventKind.PROGRESS, job_id, snap))

    def _publish_job(self, job: Job) -> None:
        if self.bus.has_subscribers:
            if self.store.shared:
                self.published[job.id] = max(job.version, self.published.get(job.id, 0))
            self.bus.publish(Event(EventKind.JOB, job.id, job.copy()))
