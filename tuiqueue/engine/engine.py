"""The Engine: claims jobs from a store, runs them with a concurrency limit, publishes events."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable
from types import TracebackType

import anyio
import anyio.lowlevel
import anyio.to_thread
from anyio.abc import TaskGroup, TaskStatus

from tuiqueue.core.events import Event, EventBus, EventKind
from tuiqueue.core.lifecycle import Outcome
from tuiqueue.core.records import Stats as Stats
from tuiqueue.core.records import WorkerInfo
from tuiqueue.core.registry import REGISTRY, Registry, ensure_job_types
from tuiqueue.core.status import TERMINAL, UNFINISHED, Status
from tuiqueue.engine.commands import MAX_ATTEMPTS as MAX_ATTEMPTS
from tuiqueue.engine.commands import Commands
from tuiqueue.engine.parking import Alarm
from tuiqueue.engine.pool import RunnerPool
from tuiqueue.engine.recovery import (
    DEAD_AFTER,
    RECOVERY_INTERVAL,
    Heartbeat,
    describe_process,
    recover,
    resolve,
)
from tuiqueue.engine.runner import (
    ABANDON_AFTER,
    Running,
    Slot,
)
from tuiqueue.engine.ticks import FLUSH_INTERVAL as FLUSH_INTERVAL
from tuiqueue.engine.ticks import Ticks
from tuiqueue.engine.watcher import Watcher
from tuiqueue.store.base import Store, StoreError

logger = logging.getLogger(__name__)

RETENTION_KEEP = 10_000
"""Finished jobs a running engine keeps by default (newest first); older ones are deleted."""
RETENTION_INTERVAL = 60.0
"""Seconds between retention passes of a running engine."""
RETENTION_BATCH = 200
"""Jobs (with their logs) deleted per transaction by retention..."""
RETENTION_PAUSE = 0.01
"""...and seconds between those transactions, so other processes' writes get in between."""


def make_worker_id() -> str:
    """host:pid:random, unique across machines and restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Engine(Ticks, RunnerPool, Commands):
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
        self._alarm = Alarm()
        """Where the dispatcher sleeps between ticks."""
        self._ticking = False
        """A tick (record ended runs, claim free slots) is under way..."""
        self._retick = False
        """...and another was asked for meanwhile: whoever ticks runs it next."""
        self._tick_error: Exception | None = None
        """A runner's tick failed (the store): the dispatcher raises it."""
        self._runner_tg: TaskGroup | None = None
        self._yield_at = 0.0
        """When a runner ticking back to back must next let other tasks run."""
        self._stopping = False
        self._started = False
        self._stopped = anyio.Event()
        self._tg: TaskGroup | None = None
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
        self.last_error: str | None = None
        """The newest failure of a background task (heartbeat, retention), for `health`."""
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
    def health(self) -> str:
        """"ok", or the newest background failure (heartbeat, retention) of this engine."""
        return self.last_error or "ok"

    @property
    def running(self) -> bool:
        """True while run() is executing jobs."""
        return self._started and not self._stopped.is_set()

    def wake(self) -> None:
        """Make the dispatcher look for work now."""
        self._woken = True
        self._alarm.wake()

    async def _run_started(self, *, task_status: TaskStatus[None]) -> None:
        await self.run(task_status=task_status)

    async def run(
        self, *, drain: bool = False, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Run jobs until stop() (or, with drain, until nothing is left to run)."""
        if self.registry is REGISTRY:
            ensure_job_types()  # the README's `Engine(open_store(...))` knows the built-ins
        await self.store.open()
        await self.store.verify()  # a damaged file is refused before a worker writes to it
        self._started = True
        self._stopping = False
        self._tick_error = None  # one left by a runner of an earlier run() is not ours
        await self._register()
        task_status.started()
        try:
            await self._recover()
            async with anyio.create_task_group() as tg:
                if self.store.shared:
                    watcher = Watcher(self.store, self.bus, self.published,
                                      poll_interval=self.poll_interval,
                                      running_ids=self.running_ids,
                                      apply_control=self.apply_control, wake=self.wake)
                    tg.start_soon(watcher.run)
                tg.start_soon(self._keep_alive)
                if self.retention_keep is not None or self.retention_days is not None:
                    tg.start_soon(self._retain)
                self._runner_tg = tg
                await self._dispatch(drain)
                tg.cancel_scope.cancel()
        finally:
            self._stopping = True  # a runner ticking now claims nothing more
            try:
                with anyio.CancelScope(shield=True):
                    while self._ticking:  # (only a store that awaits I/O can be mid-tick)
                        await anyio.sleep(0.001)
                    await self._flush(force=True)
                    self._close_slots()
                    if self._running:
                        # Cancelled from outside (the app quit): resolve what still ran.
                        runs = list(self._running.values())
                        reason = f"interrupted: worker {self.worker_id} stopped before it finished"
                        outcomes = [resolve(run.job, self.registry, reason) for run in runs]
                        for job in await self.store.finish(outcomes, self.clock()):
                            self._publish_job(job)
                        self._running.clear()
                    await self._unregister()
            finally:
                self._close_slots()
                self._runner_tg = None
                self._alarm.close()
                self._stopped.set()

    # -- heartbeats and crash recovery ------------------------------------------------------

    async def _register(self) -> None:
        now = self.clock()
        await self.store.register_worker(WorkerInfo(
            id=self.worker_id, host=socket.gethostname(), pid=os.getpid(),
            concurrency=self._concurrency, started_at=now, heartbeat=now))
        if self.store.shared:
            self._heartbeat = Heartbeat(self.store.clone, self.worker_id,
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
                error, self._heartbeat.error = self._heartbeat.error, None  # (once)
                if error is not None:
                    self.last_error = f"heartbeat stopped: {error!r}"
            else:
                await self.store.heartbeat(self.worker_id, len(self._running), self.processed,
                                           self.clock())
            if anyio.current_time() >= next_recovery:
                next_recovery = anyio.current_time() + RECOVERY_INTERVAL
                await self._recover()

    async def _track_process(self, job_id: int, pgid: int) -> None:
        run = self._running.get(job_id)
        process = describe_process(pgid, run.job.token or "") if run is not None else None
        if process is not None:
            await self.store.set_job_process(job_id, process)

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
            except StoreError as exc:  # best effort: the next pass tries again
                logger.warning("retention pass failed: %s", exc)
                self.last_error = f"retention pass failed: {exc}"

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

    async def _dispatch(self, drain: bool) -> None:
        idle_checks = 0
        while True:
            self._woken = False
            if self._tick_error is not None:
                error, self._tick_error = self._tick_error, None
                raise error
            if self._ticking:
                self._retick = True  # a runner is ticking: it runs ours next
            else:
                await self._tick()
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
                await self._alarm.sleep(timeout)

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
