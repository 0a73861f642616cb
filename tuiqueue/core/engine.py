"""The Engine: claims jobs from a store, runs them with a concurrency limit, publishes events."""

from __future__ import annotations

import asyncio
import builtins
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
from anyio.abc import TaskGroup, TaskStatus

from tuiqueue.core.context import JobContext
from tuiqueue.core.events import Event, EventBus, EventKind, Subscription
from tuiqueue.core.job import Job, NewJob
from tuiqueue.core.lifecycle import Command, Outcome, UnknownJob
from tuiqueue.core.params import MAX_INT
from tuiqueue.core.recovery import (
    DEAD_AFTER,
    RECOVERY_INTERVAL,
    Heartbeat,
    describe_process,
    recover,
    resolve,
)
from tuiqueue.core.registry import REGISTRY, Registry, UnknownJobType
from tuiqueue.core.runner import (
    ABANDON_AFTER,
    Running,
    Slot,
    abandon,
    execute,
    outcome,
    unknown_type,
)
from tuiqueue.core.status import ACTIVE, TERMINAL, UNFINISHED, Priority, Status
from tuiqueue.core.watcher import Watcher
from tuiqueue.store import open_store
from tuiqueue.store.base import LogPage, Store, StoreError, WorkerInfo

FLUSH_INTERVAL = 0.1
"""Progress and logs are written and published at most this often (10 times a second)."""
RETENTION_KEEP = 10_000
"""Finished jobs a running engine keeps by default (newest first); older ones are deleted."""
RETENTION_INTERVAL = 60.0
"""Seconds between retention passes of a running engine."""
RETENTION_BATCH = 200
"""Jobs (with their logs) deleted per transaction by retention..."""
RETENTION_PAUSE = 0.01
"""...and seconds between those transactions, so other processes' writes get in between."""
MAX_ATTEMPTS = 1_000
"""The most runs a job may be allowed (retries after failures and crashes included)."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _park(timeout: float | None, register: Callable[[Callable[[], None]], None]) -> None:
    """Sleep until the waker handed to `register` is called or `timeout` seconds pass.

    A plain future and timer on asyncio: the dispatcher and every runner park once per tick,
    and an anyio event with move_on_after costs several times more (trio: anyio's).
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        event = anyio.Event()
        register(event.set)
        with anyio.move_on_after(timeout):
            await event.wait()
        return
    future: asyncio.Future[None] = loop.create_future()
    register(partial(_resolve, future))
    timer = None if timeout is None else loop.call_later(timeout, _resolve, future)
    try:
        await future
    finally:
        if timer is not None:
            timer.cancel()


@dataclass(frozen=True, slots=True)
class Stats:
    """Counts per status and this worker's load."""

    counts: dict[Status, int]
    active: int
    capacity: int
    processed: int
    queue_paused: bool

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `tuiqueue stats --json`."""
        return {
            "counts": {str(k): v for k, v in self.counts.items()},
            "total": sum(self.counts.values()),
            "worker": {"active": self.active, "capacity": self.capacity,
                       "processed": self.processed},
            "queue_paused": self.queue_paused,
        }


def make_worker_id() -> str:
    """host:pid:random, unique across machines and restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Engine:
    """Submit, steer and (when running) execute jobs on one store."""

    def __init__(
        self,
        store: Store,
        *,
        concurrency: int = 3,
        registry: Registry | None = None,
        clock: Callable[[], float] = time.time,
        worker_id: str | None = None,
        poll_interval: float = 0.25,
        grace: float = 5.0,
        dead_after: float = DEAD_AFTER,
        retention_keep: int | None = RETENTION_KEEP,
        retention_days: float | None = None,
        retention_interval: float = RETENTION_INTERVAL,
        abandon_after: float = ABANDON_AFTER,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.store = store
        self.registry = registry if registry is not None else REGISTRY
        self.clock = clock
        self.worker_id = worker_id or make_worker_id()
        self.poll_interval = poll_interval
        self.grace = grace
        self.bus = EventBus()
        self.processed = 0
        self._concurrency = concurrency
        self._running: dict[int, Running] = {}
        self._outcomes: list[tuple[Running, Outcome]] = []
        self._ready: deque[Running] = deque()
        """Claimed runs waiting for a free runner task."""
        self._workers = 0
        self._slots: set[Slot] = set()
        """The runner tasks of this run (a detached one, stuck in an abandoned body, is not)."""
        self._idle_runners: deque[Callable[[], None]] = deque()
        """Wakers of runner tasks waiting for a claimed run."""
        self._more_pending = False
        self._woken = False
        self._waker: Callable[[], None] | None = None
        """Wakes the dispatcher while it sleeps between ticks."""
        self._stopping = False
        self._started = False
        self._stopped = anyio.Event()
        self._tg: TaskGroup | None = None
        self._watcher = Watcher(self)
        self._last_flush = 0.0
        self.published: dict[int, int] = {}
        """Job id -> newest version this engine published (the watcher skips it)."""
        self.dead_after = dead_after
        """Seconds without a heartbeat after which another worker's jobs are recovered."""
        self._heartbeat: Heartbeat | None = None
        self.retention_keep = retention_keep
        """While running, delete finished jobs beyond the newest this many (None: no limit)."""
        self.retention_days = retention_days
        """While running, delete jobs finished more than this many days ago (None: never)."""
        self.retention_interval = retention_interval
        self.abandon_after = abandon_after
        """Seconds a job gets to stop once asked (cancel, timeout, shutdown) before it is
        abandoned: failed, its slot released, its body left running unreferenced."""

    # -- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> Engine:
        await self.store.open()
        self._tg = await anyio.create_task_group().__aenter__()
        # start() returns once run() has begun, so an immediate stop() is never missed.
        await self._tg.start(self._run_started)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._tg is not None
        if et is None:
            await self.stop()
        else:
            self._tg.cancel_scope.cancel()
        await self._tg.__aexit__(et, e, tb)
        await self.store.close()

    @property
    def concurrency(self) -> int:
        """How many jobs run at once; may be changed while running."""
        return self._concurrency

    @concurrency.setter
    def concurrency(self, value: int) -> None:
        if value < 1:
            raise ValueError("concurrency must be at least 1")
        self._concurrency = value
        self.bus.publish(Event(EventKind.QUEUE, concurrency=value))
        self.wake()

    @property
    def running(self) -> bool:
        """True while run() is executing jobs."""
        return self._started and not self._stopped.is_set()

    def wake(self) -> None:
        """Make the dispatcher look for work now."""
        self._woken = True
        if self._waker is not None:
            self._waker()

    async def _run_started(self, *, task_status: TaskStatus[None]) -> None:
        await self.run(task_status=task_status)

    async def run(
        self, *, drain: bool = False, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Run jobs until stop() (or, with drain, until nothing is left to run)."""
        await self.store.open()
        self._started = True
        self._stopping = False
        await self._register()
        task_status.started()
        try:
            await self._recover()
            async with anyio.create_task_group() as tg:
                if self.store.shared:
                    tg.start_soon(self._watcher.run)
                tg.start_soon(self._keep_alive)
                if self.retention_keep is not None or self.retention_days is not None:
                    tg.start_soon(self._retain)
                await self._dispatch(tg, drain)
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self._flush(force=True)
                self._close_slots()
                if self._running:
                    # Cancelled from outside (the app quit): resolve what was still running.
                    runs = list(self._running.values())
                    reason = f"interrupted: worker {self.worker_id} stopped before it finished"
                    outcomes = [resolve(run.job, self.registry, reason) for run in runs]
                    for job in await self.store.finish(outcomes, self.clock()):
                        self._publish_job(job)
                    self._running.clear()
                await self._unregister()
            self._stopped.set()

    # -- heartbeats and crash recovery ------------------------------------------------------

    async def _register(self) -> None:
        now = self.clock()
        await self.store.register_worker(WorkerInfo(
            id=self.worker_id, host=socket.gethostname(), pid=os.getpid(),
            concurrency=self._concurrency, started_at=now, heartbeat=now))
        if self.store.shared and self.store.url:
            url = self.store.url
            self._heartbeat = Heartbeat(lambda: open_store(url), self.worker_id,
                                        lambda: (len(self._running), self.processed), self.clock)
            self._heartbeat.start()

    async def _unregister(self) -> None:
        if self._heartbeat is not None:
            beat, self._heartbeat = self._heartbeat, None
            await anyio.to_thread.run_sync(beat.stop)
        await self.store.stop_worker(self.worker_id, self.clock())

    async def _keep_alive(self) -> None:
        """Tick for the heartbeat thread (or beat here when there is none); recover orphans."""
        next_recovery = anyio.current_time() + RECOVERY_INTERVAL
        while True:
            await anyio.sleep(min(0.25, RECOVERY_INTERVAL))
            if self._heartbeat is not None:
                self._heartbeat.tick = time.monotonic()
            else:
                await self.store.heartbeat(self.worker_id, len(self._running), self.processed,
                                           self.clock())
            if anyio.current_time() >= next_recovery:
                next_recovery = anyio.current_time() + RECOVERY_INTERVAL
                await self._recover()

    async def _track_process(self, job: Job, pgid: int) -> None:
        process = describe_process(pgid, job.token or "")
        if process is not None:
            await self.store.set_job_process(job.id, process)

    async def _recover(self) -> None:
        for job in await recover(self.store, self.registry, self.clock(), self.dead_after):
            self._publish_job(job)

    # -- retention ------------------------------------------------------------------------

    async def _retain(self) -> None:
        """Keep the store bounded while running: a pass every retention_interval seconds."""
        while True:
            await anyio.sleep(self.retention_interval)
            try:
                await self.prune()
            except StoreError:
                pass  # best effort: the next pass tries again; jobs matter more than cleanup

    async def prune(self) -> int:
        """Apply the retention limits once; returns how many finished jobs were deleted.

        The store deletes RETENTION_BATCH jobs (with their logs) per short transaction and
        pauses between them, so submits and claims from any process get in between.
        """
        deleted = 0
        batch, pause = RETENTION_BATCH, RETENTION_PAUSE
        if self.retention_days is not None:
            cutoff = self.clock() - self.retention_days * 86_400
            deleted += await self.store.clear(TERMINAL, finished_before=cutoff,
                                              batch=batch, pause=pause)
        keep = self.retention_keep
        if keep is not None:
            counts = await self.store.counts()
            # Prune only once clearly over the limit: one pass (and one dashboard resync)
            # per ~10% of new jobs, not one per finished job.
            if sum(counts[s] for s in TERMINAL) > keep + max(100, keep // 10):
                deleted += await self.store.clear(TERMINAL, keep_newest=keep,
                                                  batch=batch, pause=pause)
        if deleted:
            self.bus.publish(Event(EventKind.RESYNC))
        return deleted

    async def _dispatch(self, tg: TaskGroup, drain: bool) -> None:
        idle_checks = 0
        while True:
            self._woken = False
            claimed = await self._flush(claim=not self._stopping)
            for job in claimed:
                self._start(tg, job)
            if self._ready:
                self._wake_runners(1)  # it wakes more if its job does not end at once
            if self._stopping:
                if not self._running:
                    return
            else:
                if drain and not self._running:
                    counts = await self.store.counts()
                    if not any(counts[s] for s in UNFINISHED if s is not Status.PAUSED):
                        idle_checks += 1
                        if idle_checks > 1:
                            return
                    else:
                        idle_checks = 0
            timeout = FLUSH_INTERVAL if self._running else self.poll_interval
            # With every slot taken a due job could not start anyway; an outcome wakes us.
            full = len(self._running) >= self._concurrency
            due = None if self._stopping or full else await self.store.next_wakeup(self.clock())
            if due is not None:
                timeout = max(0.0, min(timeout, due - self.clock()))
            if self._woken:
                await anyio.lowlevel.checkpoint()  # woken meanwhile: let others run first
            else:
                await _park(timeout, self._set_waker)
                self._waker = None

    async def stop(self, grace: float | None = None) -> None:
        """Take no new jobs; give running ones `grace` seconds, then stop them and requeue."""
        if not self._started or self._stopped.is_set():
            return
        self._stopping = True
        self.wake()
        with anyio.move_on_after(self.grace if grace is None else grace):
            while self._running:
                await anyio.sleep(0.05)
        for run in list(self._running.values()):
            run.interrupt()
        await self._stopped.wait()

    def abort(self) -> None:
        """Stop every running job now (they are requeued); used on a second Ctrl-C."""
        self.grace = 0
        self._stopping = True
        for run in list(self._running.values()):
            run.ctx.stop_grace = 0.0  # shell jobs SIGKILL their processes at once
            run.interrupt()
        self.wake()

    # -- running jobs -------------------------------------------------------------------

    def _start(self, tg: TaskGroup, job: Job) -> None:
        run = Running(job, JobContext(job.id, job.type, job.params, job.attempts),
                      abandon_after=self.abandon_after)
        run.ctx.process_hook = partial(self._track_process, job)
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
                tg.start_soon(self._work, slot, name="tuiqueue job runner")
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
                            await _park(None, self._idle_runners.append)
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
                        if run.stopping:  # stopped before it started
                            result, error = None, None
                        else:
                            result, error = await execute(run, kind, slot)
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

    def _set_waker(self, waker: Callable[[], None]) -> None:
        self._waker = waker

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
        self._outcomes.append((run, out))
        self.wake()

    async def _flush(self, force: bool = False, claim: bool = False) -> builtins.list[Job]:
        """Write finished runs, progress and logs; publish what changed.

        With claim, the free slots are claimed in the same store call as the finished runs
        are recorded (one transaction per tick); returns the claimed jobs.
        """
        now = self.clock()
        outcomes, self._outcomes = self._outcomes, []
        if force or anyio.current_time() - self._last_flush >= FLUSH_INTERVAL:
            self._last_flush = anyio.current_time()
            await self._flush_progress(now, [r for r in self._running.values()])
        elif outcomes:
            await self._flush_progress(now, [r for r, _ in outcomes])
        for run, _ in outcomes:
            self._running.pop(run.job.id, None)
        free = self._concurrency - len(self._running) if claim else 0
        if not outcomes and free <= 0:
            return []
        finished, claimed = await self.store.finish_and_claim(
            [o for _, o in outcomes], self.worker_id, free, now)
        for job in finished:
            if job.status in TERMINAL:
                self.processed += 1
            self._publish_job(job)
        return claimed

    async def _flush_progress(self, now: float, runs: Iterable[Running]) -> None:
        updates, logs = [], {}
        for run in runs:
            ctx = run.ctx
            if ctx.has_lines:
                logs[run.job.id] = ctx.take_lines()
            if ctx.dirty:
                ctx.dirty = False
                run.job.progress, run.job.message = ctx.percent, ctx.message
                updates.append((run.job.id, run.job.token or "", ctx.percent, ctx.message))
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

    def apply_control(self, job: Job) -> None:
        """Make a job this engine runs follow its stored state (cancel/pause/resume)."""
        run = self._running.get(job.id)
        if run is None or job.token != run.job.token:
            return
        run.job.status = job.status
        run.job.cancel_requested = job.cancel_requested
        if job.cancel_requested:
            run.cancel()
        else:
            run.ctx.set_paused(job.status is Status.PAUSED)

    # -- commands -----------------------------------------------------------------------

    def new_job(
        self,
        type: str,
        params: Mapping[str, Any] | None = None,
        *,
        priority: Priority | str | int = Priority.NORMAL,
        delay: float | None = None,
        run_at: float | None = None,
        after: Sequence[int] = (),
        rerun_of: int | None = None,
        max_attempts: int | None = None,
        timeout: float | None = None,
    ) -> NewJob:
        """Validate a submission (raises UnknownJobType or ValidationError) without storing it."""
        kind = self.registry.get(type)
        clean = kind.schema.validate(params or {}, type)
        if delay is not None:
            if not (_is_number(delay) and 0 <= delay < 10**9):
                raise ValueError("delay must be a number of seconds, 0 or more")
            run_at = self.clock() + delay
        if max_attempts is not None and not (
            _is_int(max_attempts) and 1 <= max_attempts <= MAX_ATTEMPTS
        ):
            raise ValueError(f"max_attempts must be a whole number from 1 to {MAX_ATTEMPTS}")
        if timeout is not None and not (_is_number(timeout) and 0 < timeout < 10**9):
            raise ValueError("timeout must be a positive number of seconds")
        # Ids must fit every store's 64-bit integers; a bool or a string is not an id.
        if not isinstance(after, list | tuple) or not all(
            _is_int(i) and 0 < i <= MAX_INT for i in after
        ):
            raise ValueError("after must be a list of job ids")
        return NewJob(
            type=type, params=clean, priority=Priority.parse(priority), run_at=run_at,
            depends_on=tuple(after), rerun_of=rerun_of,
            max_attempts=max_attempts or kind.max_attempts,
            timeout=timeout,
        )

    async def submit(self, type: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Job:
        """Validate and queue one job; returns it with its id."""
        return (await self.submit_many([self.new_job(type, params, **kw)]))[0]

    async def submit_many(
        self, jobs: Iterable[NewJob | tuple[str, Mapping[str, Any]]]
    ) -> list[Job]:
        """Validate and queue many jobs in one transaction (all or nothing)."""
        batch = [j if isinstance(j, NewJob) else self.new_job(j[0], j[1]) for j in jobs]
        added = await self.store.add(batch, self.clock())
        for job in added:
            self._publish_job(job)
        self.wake()
        return added

    async def get(self, job_id: int) -> Job:
        """The job with this id, or UnknownJob."""
        job = await self.store.get(job_id)
        if job is None:
            raise UnknownJob(job_id)
        return job

    async def _command(self, job_id: int, command: Command) -> Job:
        job = await self.store.command(job_id, command, self.clock())
        self.apply_control(job)
        self._publish_job(job)
        self.wake()
        return job

    async def cancel(self, job_id: int) -> Job:
        """Cancel a queued job (it never starts) or stop a running one."""
        return await self._command(job_id, "cancel")

    async def pause(self, job_id: int) -> Job:
        """Pause a job: a queued one is not started, a running one waits at its checkpoints."""
        return await self._command(job_id, "pause")

    async def resume(self, job_id: int) -> Job:
        """Resume a paused job."""
        return await self._command(job_id, "resume")

    async def rerun(self, job_id: int, **kw: Any) -> Job:
        """Queue a new job with the same type and params, linked to the original."""
        old = await self.get(job_id)
        kw.setdefault("priority", old.priority)
        return await self.submit(old.type, old.params, rerun_of=old.id, **kw)

    async def delete(self, job_ids: Sequence[int]) -> list[int]:
        """Delete jobs that are not running."""
        deleted = await self.store.delete(job_ids)
        for job_id in deleted:
            self.bus.publish(Event(EventKind.DELETED, job_id))
        return deleted

    async def clear(
        self,
        statuses: Iterable[Status] = TERMINAL,
        *,
        older_than: float | None = None,
        keep_newest: int = 0,
    ) -> int:
        """Delete finished jobs (optionally only those finished more than older_than s ago)."""
        cutoff = self.clock() - older_than if older_than is not None else None
        count = await self.store.clear(set(statuses), finished_before=cutoff,
                                       keep_newest=keep_newest)
        if count:
            self.bus.publish(Event(EventKind.RESYNC))
        return count

    async def set_queue_paused(self, paused: bool) -> None:
        """Pause or resume claiming on every worker sharing this store."""
        await self.store.set_queue_paused(paused)
        self.bus.publish(Event(EventKind.QUEUE, queue_paused=paused))
        self.wake()

    async def stats(self) -> Stats:
        """Counts per status and this worker's load."""
        return Stats(await self.store.counts(), len(self._running), self._concurrency,
                     self.processed, await self.store.queue_paused())

    async def logs(self, job_id: int, after: int = 0, limit: int | None = None) -> LogPage:
        """A job's stored log lines after sequence number `after` (flushed ~10x a second)."""
        return await self.store.logs(job_id, after, limit)

    async def list(self, **kw: Any) -> builtins.list[Job]:
        """Jobs newest first (see Store.list for filters and keyset paging)."""
        return await self.store.list(**kw)

    async def workers(self) -> builtins.list[WorkerInfo]:
        """Every worker registered on this store."""
        return await self.store.workers()

    # -- waiting ------------------------------------------------------------------------

    def events(self) -> Subscription:
        """An async iterator of every event from now on (unsubscribe when done)."""
        return self.bus.subscribe()

    async def wait(self, job_id: int, timeout: float | None = None) -> Job:
        """Wait until the job is finished and return it."""
        with anyio.fail_after(timeout):
            delay = 0.01
            while True:
                job = await self.get(job_id)
                if job.status in TERMINAL:
                    return job
                await anyio.sleep(delay)
                delay = min(delay * 2, 0.2)

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until no job is queued or running (paused jobs that never started excepted)."""
        with anyio.fail_after(timeout):
            delay = 0.01
            while True:
                counts = await self.store.counts()
                if not any(counts[s] for s in UNFINISHED if s is not Status.PAUSED) and not (
                    self._running or self._outcomes
                ):
                    return
                await anyio.sleep(delay)
                delay = min(delay * 2, 0.1)

    def running_ids(self) -> builtins.list[int]:
        """Ids of the jobs this engine runs now."""
        return list(self._running)

    def is_active(self, job: Job) -> bool:
        """Whether job is running here (its state comes from us, not from the store)."""
        return job.id in self._running and job.status in ACTIVE
