"""The dispatcher: claims jobs into free slots, runs them on a pool of runner tasks, and
records and publishes what they did (one store call per tick)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup

from tuiqueue.core import logs
from tuiqueue.core.context import JobContext
from tuiqueue.core.events import Event, EventBus, EventKind
from tuiqueue.core.job import Job
from tuiqueue.core.lifecycle import Outcome
from tuiqueue.core.queues import ClaimScope
from tuiqueue.core.records import LogLines, ProgressUpdate, Superseded
from tuiqueue.core.registry import Registry, UnknownJobType
from tuiqueue.core.status import TERMINAL
from tuiqueue.engine.parking import Alarm, park
from tuiqueue.engine.recovery import describe_process, kill_group
from tuiqueue.engine.runner import Running, Slot, abandon, begin, not_loaded, outcome
from tuiqueue.store.base import Store

logger = logs.logger(__name__)

FLUSH_INTERVAL = 0.1
"""Progress and logs are written and published at most this often (10 times a second)."""
YIELD_EVERY = 0.001
"""Seconds a runner may tick and run jobs back to back before it lets other tasks run."""


class Dispatcher:
    """Owns the running jobs, the runner tasks and the ticks that feed and record them."""

    def __init__(
        self,
        store: Store,
        bus: EventBus,
        registry: Registry,
        clock: Callable[[], float],
        worker_id: str,
        published: dict[int, int],
        *,
        concurrency: int,
        poll_interval: float,
        abandon_after: float,
        queues: frozenset[str] | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.registry = registry
        self.clock = clock
        self.worker_id = worker_id
        self.published = published
        self.poll_interval = poll_interval
        self.abandon_after = abandon_after
        self.queues = queues
        """The queues this worker takes (None: every queue)."""
        self._scope = ClaimScope(registry.names(), queues)
        self.processed = 0
        """Jobs this engine ran to a final status."""
        self.stopping = False
        """No new claims: the engine is stopping."""
        self._last_flush = 0.0
        self.concurrency = concurrency
        self.running: dict[int, Running] = {}
        self.parked: set[int] = set()
        """Ids of paused runs: they give their slot to the next job (people pause to make room)."""
        self.resuming: deque[int] = deque()
        """Ids of resumed runs waiting for a free slot: they get one before any new claim."""
        self.outcomes: list[tuple[Running, Outcome]] = []
        self._ready: deque[Running] = deque()
        """Claimed runs waiting for a free runner task."""
        self._workers = 0
        self._slots: set[Slot] = set()
        """The runner tasks of this run (a detached one, stuck in an abandoned body, is not)."""
        self._idle_runners: deque[Callable[[], None]] = deque()
        """Wakers of runner tasks waiting for a claimed run."""
        self._more_pending = False
        self._woken = False
        self.alarm = Alarm()
        """Where the dispatcher sleeps between ticks."""
        self.ticking = False
        """A tick (record ended runs, claim free slots) is under way..."""
        self._retick = False
        """...and another was asked for meanwhile: whoever ticks runs it next."""
        self.tick_error: Exception | None = None
        """A runner's tick failed (the store): the dispatcher raises it."""
        self.runner_tg: TaskGroup | None = None
        self._yield_at = 0.0
        """When a runner ticking back to back must next let other tasks run."""
        self._threads: anyio.CapacityLimiter | None = None
        """Threads for plain def jobs: as many as the concurrency (anyio's default is 40)."""

    @property
    def scope(self) -> ClaimScope:
        """What this worker claims: the types it has loaded, in the queues it takes."""
        names = self.registry.names()
        if self._scope.types is not names or self._scope.queues is not self.queues:
            self._scope = ClaimScope(names, self.queues)
        return self._scope

    def wake(self) -> None:
        """Make the dispatcher look for work now."""
        self._woken = True
        self.alarm.wake()

    async def _tick(self) -> None:
        """Record the ended runs and claim the free slots in one store call; start the claimed.

        The dispatcher ticks when woken and on its timer; a runner that runs out of claimed
        jobs ticks itself (no hand-over to the dispatcher and back per batch). One tick at a
        time: one asked for meanwhile (_retick) is run next by whoever is ticking.
        """
        self.ticking = True
        try:
            while True:
                self._retick = False
                for job in await self.flush(claim=not self.stopping):
                    self._start(job)
                if not self._retick:
                    return
        finally:
            self.ticking = False

    async def flush(self, force: bool = False, claim: bool = False) -> list[Job]:
        """Write finished runs, progress and logs; publish what changed.

        With claim, the free slots are claimed in the same store call as the finished runs
        are recorded (one transaction per tick); returns the claimed jobs.
        """
        now = self.clock()
        outcomes, self.outcomes = self.outcomes, []
        tick = time.monotonic()
        if force or tick - self._last_flush >= FLUSH_INTERVAL:
            self._last_flush = tick
            await self._flush_progress(now, list(self.running.values()))
        elif outcomes:
            ended = [run for run, _ in outcomes if run.ctx.unflushed]
            if ended:  # what they reported since the last flush goes in before they finish
                await self._flush_progress(now, ended)
        running = self.running
        # Parked runs hold no slot; resumed ones waiting for one are served before new claims.
        free = self.concurrency - len(running) + len(self.parked) + len(outcomes) if claim else 0
        if not outcomes and free <= 0:
            return []
        # The finished jobs are read back only for someone to show them; without a
        # subscriber the store says which outcomes it recorded and nothing more.
        watched = self.bus.has_subscribers
        finished: list[Job] = []
        try:
            if watched:
                finished, claimed = await self.store.finish_and_claim(
                    [o for _, o in outcomes], self.worker_id, free, now, self.scope
                )
                recorded = {job.id for job in finished}
            else:
                recorded, claimed = await self.store.finish_ids_and_claim(
                    [o for _, o in outcomes], self.worker_id, free, now, self.scope
                )
        except BaseException:
            # Not recorded: the next flush tries them again (a store that did record them
            # ignores the repeat, their tokens being spent).
            self.outcomes[:0] = outcomes
            raise
        for run, _ in outcomes:
            running.pop(run.job.id, None)
        if self.resuming:
            self._admit()
        if len(recorded) < len(outcomes):
            self._not_recorded(outcomes, recorded)
        for _, out in outcomes:
            if out.status in TERMINAL and out.job_id in recorded:
                self.processed += 1
        if watched:
            for job in finished:
                self.publish_job(job)
        return claimed

    def _not_recorded(self, outcomes: list[tuple[Running, Outcome]], recorded: set[int]) -> None:
        """Runs that ended here after another attempt took their job over (the store kept
        the newer attempt's state): say so, as for a run stopped when that is found first."""
        for run, out in outcomes:
            if out.job_id not in recorded:
                self._notice(
                    run.job.id,
                    f"job {run.job.id}: attempt {run.job.attempts} ended here ({out.status}) "
                    "after its job was taken over elsewhere; not recorded",
                )

    def _notice(self, job_id: int, message: str) -> None:
        logger.warning("%s", message)
        if self.bus.has_subscribers:
            self.bus.publish(Event(EventKind.NOTICE, job_id, lines=(message,)))

    def attempts(self) -> dict[int, str]:
        """Job id -> token of each run here (what a heartbeat checks is still current)."""
        return {job_id: run.job.token or "" for job_id, run in self.running.items()}

    def supersede(self, found: Iterable[Superseded]) -> None:
        """Stop the runs whose attempt another one took over: at once (their processes are
        killed), recording nothing for them (their token is spent), their slots freed."""
        for stale in found:
            run = self.running.get(stale.job_id)
            if run is None or run.ended or (run.job.token or "") != stale.token:
                continue  # over already (its outcome is not recorded), or a newer run here
            del self.running[stale.job_id]
            self._release(run)
            run.supersede()
            if run.process is not None:
                kill_group(run.process)  # the shell job's own stop follows (no grace)
            self._notice(stale.job_id, stale.describe(run.job.attempts))
        self.wake()

    async def _flush_progress(self, now: float, runs: list[Running]) -> None:
        updates, logs, dropped, steps = [], {}, {}, {}
        for run in runs:
            ctx = run.ctx
            if not ctx.unflushed:
                continue
            ctx.unflushed = False
            if ctx.has_lines:
                logs[run.job.id] = LogLines(run.job.token or "", ctx.take_lines())
                if ctx.lines_dropped:
                    dropped[run.job.id] = ctx.take_dropped()
            if ctx.steps_dirty:  # rare: only jobs that call ctx.step() pay for it
                ctx.steps_dirty = False
                steps[run.job.id] = list(ctx.steps)
            if ctx.dirty:
                ctx.dirty = False
                run.job.progress, run.job.message = ctx.percent, ctx.message
                updates.append(
                    ProgressUpdate(run.job.id, run.job.token or "", ctx.percent, ctx.message)
                )
        if updates:
            await self.store.save_progress(updates, now)
        if logs:
            await self.store.append_logs(logs, dropped)
        if steps:
            await self.store.save_steps(steps)
        if self.bus.has_subscribers:
            for run in runs:
                if run.job.id in logs:
                    lines = tuple(logs[run.job.id].lines)
                    self.bus.publish(Event(EventKind.LOG, run.job.id, lines=lines))
            for job_id, _, _, _ in updates:
                run = self.running.get(job_id) or next(r for r in runs if r.job.id == job_id)
                snap = run.job.copy()
                snap.updated_at = now
                self.bus.publish(Event(EventKind.PROGRESS, job_id, snap))

    def publish_job(self, job: Job) -> None:
        if self.bus.has_subscribers:
            if self.store.shared:
                self.published[job.id] = max(job.version, self.published.get(job.id, 0))
            self.bus.publish(Event(EventKind.JOB, job.id, job.copy()))

    # -- running jobs -------------------------------------------------------------------

    def _start(self, job: Job) -> None:
        ctx = JobContext(job.id, job.type, job.params, job.attempts)
        ctx.process_hook = self._track_process
        run = Running(job, ctx, self.abandon_after)
        self.running[job.id] = run
        self.publish_job(job)
        self._ready.append(run)
        if self._workers < len(self.running):
            self._spawn()

    def _spawn(self) -> None:
        """Start one more runner task."""
        self._workers += 1
        slot = Slot(self._give_up)
        self._slots.add(slot)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not asyncio (trio): runners live in the task group
            assert self.runner_tg is not None
            self.runner_tg.start_soon(self._work, slot, name="tuiqueue job runner")
        else:
            # A plain task, not the task group's: a runner stuck in a body that ignores
            # every stop must not hold up the engine's exit once it is given up on.
            slot.task = loop.create_task(self._work(slot), name="tuiqueue job runner")

    def close_slots(self) -> None:
        """The run is over: stop every runner (a running body is stopped; it records nothing)."""
        for slot in self._slots:
            slot.detached = True
            if slot.current is not None and slot.scope is not None:
                slot.scope.cancel()
        self._slots.clear()
        self._workers = 0
        self._ready.clear()
        self.parked.clear()
        self.resuming.clear()
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
            self._release(run)
            if not run.superseded:
                self.outcomes.append((run, outcome(run, self.registry, self.clock)))
            if self._ready and self._workers < len(self.running):
                self._spawn()  # a superseded run left no outcome to tick for
            self.wake()

    async def _work(self, slot: Slot) -> None:
        """Run claimed jobs one after another; up to `concurrency` of these run at once."""
        # A pool rather than a task per job: spawning a task costs more than a short job.
        try:
            while not slot.detached:
                run: Running | None = None
                with anyio.CancelScope() as scope:
                    slot.scope = scope
                    while not slot.detached and self._workers <= self._room():
                        if not self._ready:
                            # Out of claimed jobs: record the ended ones and claim more right
                            # here, rather than hand over to the dispatcher and back.
                            if not (self.outcomes and await self._runner_tick()):
                                await park(None, self._idle_runners.append)
                            continue
                        run = self._ready.popleft()
                        if self._ready and self._idle_runners:
                            self._more_runners()
                        try:
                            kind = self.registry.get(run.job.type)
                        except UnknownJobType:  # (claims take loaded types only)
                            self._done(run, not_loaded(run))
                            run = None
                            continue
                        result, error = None, None
                        if not run.stopping:  # (else: stopped before it started)
                            try:
                                threads = None if kind.is_async else self._thread_limiter()
                                result = await begin(run, kind, slot, threads)
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

    def _thread_limiter(self) -> anyio.CapacityLimiter:
        """The limiter of def jobs' threads, sized to the concurrency (which may change)."""
        threads = self._threads
        room = self._room()  # (a paused def job still holds its thread)
        if threads is None:
            threads = self._threads = anyio.CapacityLimiter(room)
        elif threads.total_tokens != room:
            threads.total_tokens = room
        return threads

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

    # -- paused runs and their slots ----------------------------------------------------

    def set_paused(self, run: Running, paused: bool) -> None:
        """Pause a run (its slot goes to the next job) or resume it (it takes the next free
        slot, before any queued job; at once if one is free)."""
        job_id = run.job.id
        if paused:
            if job_id in self.parked:
                return
            if job_id in self.resuming:
                self.resuming.remove(job_id)  # (its context is still paused)
            self.parked.add(job_id)
            run.ctx.set_paused(True)
            self.wake()  # a slot is free: claim for it
        elif job_id in self.parked:
            self.parked.discard(job_id)
            self.resuming.append(job_id)
            self._admit()

    def _room(self) -> int:
        """Runner tasks (and threads) allowed: the slots, plus the paused runs' own."""
        return self.concurrency + len(self.parked) + len(self.resuming)

    def working(self) -> list[int]:
        """Ids of the runs at work: neither paused nor waiting to resume (a stop's grace is
        for these only; the others are stopped at once)."""
        return [i for i in self.running if i not in self.parked and i not in self.resuming]

    def _busy(self) -> int:
        """Slots taken: runs that are neither paused nor waiting to resume."""
        return len(self.running) - len(self.parked) - len(self.resuming)

    def _admit(self) -> None:
        """Resume the waiting runs that free slots now have room for, oldest first."""
        while self.resuming and self._busy() < self.concurrency:
            run = self.running.get(self.resuming.popleft())
            if run is not None:
                run.ctx.set_paused(False)

    def _release(self, run: Running) -> None:
        """A run ended: it is neither paused nor waiting for a slot any more."""
        job_id = run.job.id
        self.parked.discard(job_id)
        if job_id in self.resuming:
            self.resuming.remove(job_id)

    def _done(self, run: Running, out: Outcome) -> None:
        # No wake-up: the runner ticks once it runs out of claimed jobs (see _work).
        self._release(run)
        run.ctx.end_steps()
        if not run.superseded:  # (its token is spent: nothing of it is recorded)
            self.outcomes.append((run, out))

    async def _runner_tick(self) -> bool:
        """A runner's tick; False when another is under way (it runs this one after its own)."""
        if len(self.running) > len(self.outcomes) or time.monotonic() >= self._yield_at:
            # Give the other tasks a turn first: jobs that end in this same turn of the event
            # loop (one tick, one store transaction, then records them all), and at least
            # every YIELD_EVERY seconds everybody else (stop(), the dashboard), whom jobs and
            # a store that never wait would otherwise starve until the queue is empty.
            await anyio.lowlevel.checkpoint()
            self._yield_at = time.monotonic() + YIELD_EVERY
            if not self.outcomes:
                return True  # another runner's tick took them
        if self.ticking:
            self._retick = True
            return False
        try:
            await self._tick()
        except Exception as exc:  # the store failed: the dispatcher raises it and stops
            self.tick_error = exc
            self.wake()
            return False
        if not self.running:
            self.wake()  # nothing left here: the dispatcher decides (idle, drain, stop)
        return True

    async def dispatch(self, drain: bool) -> None:
        self._threads = None  # (a limiter belongs to one event loop: a fresh one per run)
        idle_checks = 0
        while True:
            self._woken = False
            if self.tick_error is not None:
                error, self.tick_error = self.tick_error, None
                raise error
            if self.ticking:
                self._retick = True  # a runner is ticking: it runs ours next
            else:
                await self._tick()
            if self._ready:
                self._wake_runners(1)  # it wakes more if its job does not end at once
            if self.stopping:
                if not self.running:
                    return
            else:
                if drain and not self.running:
                    # Jobs no worker here can run (another type or queue) are not ours to wait
                    # for: they stay queued for the worker that can.
                    if not await self.store.has_work(self.scope):
                        idle_checks += 1
                        if idle_checks > 1:
                            return
                    else:
                        idle_checks = 0
            timeout = FLUSH_INTERVAL if self.running else self.poll_interval
            # With every slot taken a due job could not start anyway; an outcome wakes us.
            full = len(self.running) - len(self.parked) >= self.concurrency
            due = None if self.stopping or full else await self.store.next_wakeup(self.clock())
            if due is not None:
                timeout = max(0.0, min(timeout, due - self.clock()))
            if self._woken:
                await anyio.lowlevel.checkpoint()  # woken meanwhile: let others run first
            else:
                await self.alarm.sleep(timeout)

    async def _track_process(self, job_id: int, pgid: int) -> None:
        run = self.running.get(job_id)
        process = describe_process(pgid, run.job.token or "") if run is not None else None
        if run is not None and process is not None:
            run.process = process  # (killed at once if the attempt is superseded)
            await self.store.set_job_process(job_id, process)
