"""The Engine's runner pool: runner tasks that execute claimed jobs (mixed into Engine)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup

from tuiqueue.core.context import JobContext
from tuiqueue.core.job import Job
from tuiqueue.core.lifecycle import Outcome
from tuiqueue.core.registry import UnknownJobType
from tuiqueue.engine.parking import park
from tuiqueue.engine.runner import Running, Slot, abandon, begin, outcome, unknown_type

if TYPE_CHECKING:
    from collections import deque

    from tuiqueue.core.registry import Registry

logger = logging.getLogger(__name__)


YIELD_EVERY = 0.001
"""Seconds a runner may tick and run jobs back to back before it lets other tasks run."""


class RunnerPool:
    """The Engine's runner tasks: start, feed, give up on and close them."""

    if TYPE_CHECKING:  # provided by Engine
        registry: Registry
        clock: Callable[[], float]
        abandon_after: float
        _concurrency: int
        _running: dict[int, Running]
        _outcomes: list[tuple[Running, Outcome]]
        _ready: deque[Running]
        _workers: int
        _slots: set[Slot]
        _idle_runners: deque[Callable[[], None]]
        _more_pending: bool
        _ticking: bool
        _retick: bool
        _tick_error: Exception | None
        _runner_tg: TaskGroup | None
        _yield_at: float

        def wake(self) -> None: ...
        def _publish_job(self, job: Job) -> None: ...
        async def _track_process(self, job_id: int, pgid: int) -> None: ...
        async def _tick(self) -> None: ...

    # -- running jobs -------------------------------------------------------------------

    def _start(self, job: Job) -> None:
        ctx = JobContext(job.id, job.type, job.params, job.attempts)
        ctx.process_hook = self._track_process
        run = Running(job, ctx, self.abandon_after)
        self._running[job.id] = run
        self._publish_job(job)
        self._ready.append(run)
        if self._workers < len(self._running):
            self._workers += 1
            slot = Slot(self._give_up)
            self._slots.add(slot)
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # not asyncio (trio): runners live in the task group
                assert self._runner_tg is not None
                self._runner_tg.start_soon(self._work, slot, name="tuiqueue job runner")
            else:
                # A plain task, not the task group's: a runner stuck in a body that ignores
                # every stop must not hold up the engine's exit once it is given up on.
                slot.task = loop.create_task(self._work(slot), name="tuiqueue job runner")

    def _close_slots(self) -> None:
        """The run is over: stop every runner (a running body is stopped; it records nothing)."""
        for slot in self._slots:
            slot.detached = True
            if slot.current is not None and slot.scope is not None:
                slot.scope.cancel()
        self._slots.clear()
        self._workers = 0
        self._ready.clear()
        self._wake_runners()

    def _give_up(self, run: Running) -> None:
        """A stopped run ignored the stop for abandon_after seconds: fail it, free its slot."""
        slot = run.slot
        if run.ended or slot is None or slot.detached:
            return
        if abandon(run, slot):
            # The body keeps its runner task: record the outcome here and let the next
            # claim start a runner in its place.
            self._slots.discard(slot)
            self._workers -= 1
            self._outcomes.append((run, outcome(run, self.registry, self.clock)))
            self.wake()

    async def _work(self, slot: Slot) -> None:
        """Run claimed jobs one after another; up to `concurrency` of these run at once."""
        # A pool rather than a task per job: spawning a task costs more than a short job.
        try:
            while not slot.detached:
                run: Running | None = None
                with anyio.CancelScope() as scope:
                    slot.scope = scope
                    while not slot.detached and self._workers <= self._concurrency:
                        if not self._ready:
                            # Out of claimed jobs: record the ended ones and claim more right
                            # here, rather than hand over to the dispatcher and back.
                            if not (self._outcomes and await self._runner_tick()):
                                await park(None, self._idle_runners.append)
                            continue
                        run = self._ready.popleft()
                        if self._ready and self._idle_runners:
                            self._more_runners()
                        try:
                            kind = self.registry.get(run.job.type)
                        except UnknownJobType as exc:
                            self._done(run, unknown_type(run, exc))
                            run = None
                            continue
                        result, error = None, None
                        if not run.stopping:  # (else: stopped before it started)
                            try:
                                result = await begin(run, kind, slot)
                            except Exception as exc:
                                error = exc
                            finally:
                                run.end()
                        if slot.detached:
                            return  # given up on (or the run is over): nothing to record
                        self._done(run, outcome(run, self.registry, self.clock, result, error))
                        run = None
                        if scope.cancel_called:
                            break  # that run was stopped: a fresh scope for the next one
                    else:
                        return
                if run is not None:  # its body ended by the stop (the scope's cancellation)
                    run.end()
                    if slot.detached:
                        return
                    self._done(run, outcome(run, self.registry, self.clock))
        finally:
            if not slot.detached:
                self._slots.discard(slot)
                self._workers -= 1
            self.wake()  # its last outcome may be waiting for a tick

    def _wake_runners(self, count: int | None = None) -> None:
        idle = self._idle_runners
        for _ in range(len(idle) if count is None else min(count, len(idle))):
            idle.popleft()()

    def _more_runners(self) -> None:
        """A runner took a run and more are ready: wake runners for them unless it gets to
        them itself (a job that ends without waiting: one runner runs the whole batch)."""
        if self._more_pending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not asyncio (trio): wake them now
            self._wake_runners(len(self._ready))
            return
        self._more_pending = True
        loop.call_soon(self._wake_for_ready)

    def _wake_for_ready(self) -> None:
        self._more_pending = False
        self._wake_runners(len(self._ready))

    def _done(self, run: Running, out: Outcome) -> None:
        # No wake-up: the runner ticks once it runs out of claimed jobs (see _work).
        self._outcomes.append((run, out))

    async def _runner_tick(self) -> bool:
        """A runner's tick; False when another is under way (it runs this one after its own)."""
        if len(self._running) > len(self._outcomes) or time.monotonic() >= self._yield_at:
            # Give the other tasks a turn first: jobs that end in this same turn of the event
            # loop (one tick, one store transaction, then records them all), and at least
            # every YIELD_EVERY seconds everybody else (stop(), the dashboard), whom jobs and
            # a store that never wait would otherwise starve until the queue is empty.
            await anyio.lowlevel.checkpoint()
            self._yield_at = time.monotonic() + YIELD_EVERY
            if not self._outcomes:
                return True  # another runner's tick took them
        if self._ticking:
            self._retick = True
            return False
        try:
            await self._tick()
        except Exception as exc:  # the store failed: the dispatcher raises it and stops
            self._tick_error = exc
            self.wake()
            return False
        if not self._running:
            self.wake()  # nothing left here: the dispatcher decides (idle, drain, stop)
        return True

