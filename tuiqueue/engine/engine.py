"""The Engine: claims jobs from a store, runs them with a concurrency limit, publishes events."""

from __future__ import annotations

import builtins
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
from anyio.abc import TaskGroup, TaskStatus

from tuiqueue.core import logs
from tuiqueue.core.events import Event, EventBus, EventKind, Subscription
from tuiqueue.core.history import WINDOW_BUCKETS, History, window_start
from tuiqueue.core.job import Job, NewJob
from tuiqueue.core.lifecycle import FORCE, Command, ReadOnly, UnknownJob
from tuiqueue.core.params import MAX_INT
from tuiqueue.core.preset import Preset
from tuiqueue.core.queues import DEFAULT_QUEUE, QueueInfo, check_queue_name
from tuiqueue.core.records import BulkResult, LogPage, Step, WorkerInfo
from tuiqueue.core.records import Stats as Stats
from tuiqueue.core.registry import REGISTRY, Registry, ensure_job_types
from tuiqueue.core.schedule import Origin, Schedule
from tuiqueue.core.status import ACTIVE, TERMINAL, UNFINISHED, Priority, Status, TransitionError
from tuiqueue.core.submission import MAX_ATTEMPTS as MAX_ATTEMPTS
from tuiqueue.core.submission import is_int, new_job
from tuiqueue.engine.defaults import RETENTION_KEEP as RETENTION_KEEP
from tuiqueue.engine.defaults import STOP_WRITES as STOP_WRITES
from tuiqueue.engine.dispatcher import FLUSH_INTERVAL as FLUSH_INTERVAL
from tuiqueue.engine.dispatcher import Dispatcher
from tuiqueue.engine.on_finish import OnFinish
from tuiqueue.engine.presets import PresetBook
from tuiqueue.engine.recovery import (
    DEAD_AFTER,
    RECOVERY_INTERVAL,
    Heartbeat,
    recover,
    resolve,
)
from tuiqueue.engine.runner import (
    ABANDON_AFTER,
)
from tuiqueue.engine.scheduler import Scheduler
from tuiqueue.engine.watcher import Watcher
from tuiqueue.store.base import Store, StoreAuthError, StoreError

logger = logs.logger(__name__)

RETENTION_INTERVAL = 60.0
"""Seconds between retention passes of a running engine."""
RETENTION_BATCH = 200
"""Jobs (with their logs) deleted per transaction by retention..."""
RETENTION_PAUSE = 0.01
"""...and seconds between those transactions, so other processes' writes get in between."""


BULK_YIELD = 100
"""A command on many jobs lets the event loop run after this many of them."""


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
        worker: bool = True,
        read_only: bool = False,
        queues: Iterable[str] | None = None,
        on_finish: str | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        taken = None if queues is None else frozenset(check_queue_name(q) for q in queues)
        if taken is not None and not taken:
            raise ValueError("queues must name at least one queue (or be None for every queue)")
        self.store = store
        self.registry = registry if registry is not None else REGISTRY
        self.clock = clock
        self.worker_id = worker_id or make_worker_id()
        self.poll_interval = poll_interval
        self.grace = grace
        self.bus = EventBus()
        self.published: dict[int, int] = {}
        """Job id -> newest version this engine published (the watcher skips it)."""
        self._d = Dispatcher(
            store,
            self.bus,
            self.registry,
            clock,
            self.worker_id,
            self.published,
            concurrency=concurrency,
            poll_interval=poll_interval,
            abandon_after=abandon_after,
            queues=taken,
        )
        self._started = False
        self._stopped = anyio.Event()
        self._tg: TaskGroup | None = None
        self.dead_after = dead_after
        """Seconds without a heartbeat after which another worker's jobs are recovered."""
        self._heartbeat: Heartbeat | None = None
        self._scopes: list[anyio.CancelScope] = []
        """The running run()'s body and final-writes scopes, cancelled by give_up()."""
        self.gave_up = False
        """The last stop gave up on a store that did not answer in time."""
        self.retention_keep = retention_keep
        """While running, delete finished jobs beyond the newest this many (None: no limit)."""
        self.retention_days = retention_days
        """While running, delete jobs finished more than this many days ago (None: never)."""
        self.retention_interval = retention_interval
        self.last_error: str | None = None
        """The newest failure of a background task (heartbeat, retention), for `health`."""
        self.read_only = read_only
        """Every command (submit, cancel, pause, delete...) raises ReadOnly; implies no worker."""
        self.worker = worker and not read_only
        """Whether run() executes jobs; without, it only watches the store (not listed as a
        worker, holds no slots, recovers nothing)."""
        self.abandon_after = abandon_after
        """Seconds a job gets to stop once asked (cancel, timeout, shutdown) before it is
        abandoned: failed, its slot released, its body left running unreferenced."""
        self.scheduler = Scheduler(store, self.registry, clock, self._scheduled, self._report)
        """Fires due schedules while run() runs a worker; the schedule commands below."""
        self.on_finish = None if on_finish is None else OnFinish(on_finish, notice=self._notice)
        """While run() runs: a shell command per finished job (its worker's jobs, or every
        job it sees without a worker; see engine/on_finish.py)."""
        self.preset_book = PresetBook(store, self.registry, clock)
        """Checks presets when they are saved and when jobs are made from them."""

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

    def wake(self) -> None:
        """Make the dispatcher look for work now."""
        self._d.wake()

    @property
    def processed(self) -> int:
        """Jobs this engine ran to a final status."""
        return self._d.processed

    @property
    def concurrency(self) -> int:
        """How many jobs run at once; may be changed while running."""
        return self._d.concurrency

    @concurrency.setter
    def concurrency(self, value: int) -> None:
        if value < 1:
            raise ValueError("concurrency must be at least 1")
        self._d.concurrency = value
        self.bus.publish(Event(EventKind.QUEUE, concurrency=value))
        self.wake()

    @property
    def health(self) -> str:
        """ "ok", or the newest background failure (heartbeat, retention) of this engine."""
        return self.last_error or "ok"

    @property
    def running(self) -> bool:
        """True while run() is executing jobs."""
        return self._started and not self._stopped.is_set()

    async def _run_started(self, *, task_status: TaskStatus[None]) -> None:
        await self.run(task_status=task_status)

    async def run(
        self, *, drain: bool = False, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Run jobs until stop() (or, with drain, until nothing is left to run)."""
        try:
            if self.on_finish is None:
                await self._run(drain, task_status)
            else:
                # Around the whole run: the jobs its stop fails are called back for too, and
                # stop() returns once the callbacks still running are done (bounded).
                mine = self.worker_id if self.worker else None
                async with self.on_finish.listening(self.bus, mine):
                    await self._run(drain, task_status)
        finally:
            if self._started:  # (a store that failed to open: nothing started, nothing to stop)
                self._stopped.set()

    async def _run(self, drain: bool, task_status: TaskStatus[None]) -> None:
        if self.registry is REGISTRY:
            ensure_job_types()  # the README's `Engine(open_store(...))` knows the built-ins
        if not self.worker:
            await self._watch(task_status)
            return
        await self.store.open()
        await self.store.verify()  # a damaged file is refused before a worker writes to it
        self._started = True
        self._d.stopping = False
        self._d.tick_error = None  # one left by a runner of an earlier run() is not ours
        await self._register()
        task_status.started()
        self.gave_up = False
        body = anyio.CancelScope()
        self._scopes = [body]
        try:
            with body:
                await self._run_body(drain)
        finally:
            self._d.stopping = True  # a runner ticking now claims nothing more
            try:
                final = anyio.CancelScope(shield=True)
                self._scopes.append(final)
                if self.gave_up:
                    final.cancel()
                with final:
                    await self._final_writes()
            finally:
                self._scopes = []
                self._d.close_slots()
                self._d.runner_tg = None
                self._d.alarm.close()

    async def _watch(self, task_status: TaskStatus[None]) -> None:
        """run() without a worker: publish what other processes change until stop()."""
        await self.store.open()
        self._started = True
        self._d.stopping = False
        task_status.started()
        async with anyio.create_task_group() as tg:
            if self.store.shared:
                tg.start_soon(self._watcher().run)
            while not self._d.stopping:
                await self._d.alarm.sleep(self.poll_interval)
            tg.cancel_scope.cancel()

    def _watcher(self) -> Watcher:
        """Publishes what other processes change in a shared store."""
        return Watcher(
            self.store,
            self.bus,
            self.published,
            poll_interval=self.poll_interval,
            running_ids=self.running_ids,
            apply_control=self.apply_control,
            wake=self.wake,
        )

    def _writable(self, what: str = "change jobs") -> None:
        if self.read_only:
            raise ReadOnly(what)

    async def _run_body(self, drain: bool) -> None:
        """Recover, then watch, beat, prune and dispatch until stopped."""
        await self._recover()
        async with anyio.create_task_group() as tg:
            if self.store.shared:
                tg.start_soon(self._watcher().run)
            tg.start_soon(self._keep_alive)
            if self.retention_keep is not None or self.retention_days is not None:
                tg.start_soon(self._retain)
            tg.start_soon(self.scheduler.run)
            self._d.runner_tg = tg
            await self._d.dispatch(drain)
            tg.cancel_scope.cancel()

    async def _final_writes(self) -> None:
        """Record what ran, hand back what still runs, unregister (bounded by give_up())."""
        try:
            while self._d.ticking:  # (only a store that awaits I/O can be mid-tick)
                await anyio.sleep(0.001)
            await self._d.flush(force=True)
            self._d.close_slots()
            if self._d.running:
                # Cancelled from outside (the app quit): resolve what still ran.
                runs = list(self._d.running.values())
                reason = f"interrupted: worker {self.worker_id} stopped before it finished"
                outcomes = [resolve(run.job, self.registry, reason) for run in runs]
                for job in await self.store.finish(outcomes, self.clock()):
                    self._d.publish_job(job)
                self._d.running.clear()
        finally:
            await self._unregister()

    # -- heartbeats and crash recovery ------------------------------------------------------

    async def _register(self) -> None:
        now = self.clock()
        await self.store.register_worker(
            WorkerInfo(
                id=self.worker_id,
                host=socket.gethostname(),
                pid=os.getpid(),
                concurrency=self._d.concurrency,
                started_at=now,
                heartbeat=now,
                types=tuple(sorted(self.registry.names())),
                queues=None if self._d.queues is None else tuple(sorted(self._d.queues)),
            )
        )
        if self.store.shared:
            d = self._d
            self._heartbeat = Heartbeat(
                self.store.clone, self.worker_id, lambda: (len(d.running), d.processed), self.clock
            )
            self._heartbeat.start()

    async def _unregister(self) -> None:
        if self._heartbeat is not None:
            beat, self._heartbeat = self._heartbeat, None
            beat.signal_stop()  # (a daemon thread: one stuck in a dead store ends with us)
            await anyio.to_thread.run_sync(beat.stop, abandon_on_cancel=True)
        now = self.clock()
        # Its last count, so `tuiqueue workers` says what a stopped worker did.
        await self.store.heartbeat(self.worker_id, 0, self._d.processed, now)
        await self.store.stop_worker(self.worker_id, now)

    async def _keep_alive(self) -> None:
        """Tick for the heartbeat thread (or beat here when there is none); recover orphans."""
        next_recovery = anyio.current_time() + RECOVERY_INTERVAL
        while True:
            await anyio.sleep(min(0.25, RECOVERY_INTERVAL))
            # Each beat also asks whether another attempt took over a run here: that run
            # is stopped at once (within a heartbeat, even a job that never logs).
            if self._heartbeat is not None:
                self._heartbeat.tick = time.monotonic()
                self._heartbeat.attempts = self._d.attempts()
                error, self._heartbeat.error = self._heartbeat.error, None  # (once)
                if isinstance(error, StoreAuthError):
                    # Retrying cannot help, and jobs whose end cannot be recorded would
                    # only run twice: stop with the store's one line.
                    self.last_error = str(error)
                    raise error
                if error is not None:
                    self.last_error = f"heartbeat stopped: {error!r}"
                    await self._report(self.last_error)
                found = self._heartbeat.take_superseded()
            else:
                found = await self.store.heartbeat(
                    self.worker_id,
                    len(self._d.running),
                    self._d.processed,
                    self.clock(),
                    self._d.attempts(),
                )
            if found:
                self._d.supersede(found)
            if anyio.current_time() >= next_recovery:
                next_recovery = anyio.current_time() + RECOVERY_INTERVAL
                await self._recover()

    async def _recover(self) -> None:
        for job in await recover(self.store, self.registry, self.clock(), self.dead_after):
            self._d.publish_job(job)

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
                await self._report(self.last_error)

    def _notice(self, job_id: int, message: str) -> None:
        """Tell every subscriber something a person should hear of (the worker prints it)."""
        self.bus.publish(Event(EventKind.NOTICE, job_id, lines=(message,)))

    async def _report(self, error: str) -> None:
        """Make a background failure visible to `tuiqueue workers` (best effort, logged)."""
        try:
            await self.store.report_worker_error(self.worker_id, error)
        except Exception:
            logger.exception("could not record this worker's error in the store")

    async def prune(self) -> int:
        """Apply the retention limits once; returns how many finished jobs were deleted.

        The store deletes RETENTION_BATCH jobs (with their logs) per short transaction and
        pauses between them, so submits and claims from any process get in between.
        """
        deleted = 0
        batch, pause = RETENTION_BATCH, RETENTION_PAUSE
        if self.retention_days is not None:
            cutoff = self.clock() - self.retention_days * 86_400
            deleted += await self.store.clear(
                TERMINAL, finished_before=cutoff, batch=batch, pause=pause
            )
        keep = self.retention_keep
        if keep is not None:
            counts = await self.store.counts()
            # Prune only once clearly over the limit: one pass (and one dashboard resync)
            # per ~10% of new jobs, not one per finished job.
            if sum(counts[s] for s in TERMINAL) > keep + max(100, keep // 10):
                deleted += await self.store.clear(
                    TERMINAL, keep_newest=keep, batch=batch, pause=pause
                )
        if deleted:
            self.bus.publish(Event(EventKind.RESYNC))
        return deleted

    async def stop(self, grace: float | None = None) -> None:
        """Take no new jobs; give running ones `grace` seconds, then stop them and requeue
        (or fail, see stop_fates). Paused runs get no grace: they are not working."""
        if not self._started or self._stopped.is_set():
            return
        self._d.stopping = True
        self.wake()
        with anyio.move_on_after(self.grace if grace is None else grace):
            while self._d.working():
                await anyio.sleep(0.05)
        for run in list(self._d.running.values()):
            run.interrupt()
        with anyio.move_on_after(STOP_WRITES):
            await self._stopped.wait()
        if not self._stopped.is_set():
            self.give_up()
            await self._stopped.wait()

    def give_up(self) -> None:
        """Stop waiting for the store (unreachable, or locked by another process): end run()
        now; the jobs it could not record are recovered like a dead worker's."""
        if not self._scopes or self._stopped.is_set():
            return
        logger.warning("worker %s: the store did not answer; stopping without it", self.worker_id)
        self.gave_up = True
        for scope in self._scopes:
            scope.cancel()

    def abort(self) -> None:
        """Stop every running job now (they are requeued); used on a second Ctrl-C."""
        self.grace = 0
        self._d.stopping = True
        for run in list(self._d.running.values()):
            run.ctx.stop_grace = 0.0  # shell jobs SIGKILL their processes at once
            run.interrupt()
        self.wake()

    # -- commands and queries ----------------------------------------------------------

    def apply_control(self, job: Job) -> None:
        """Make a job this engine runs follow its stored state (cancel/pause/resume)."""
        run = self._d.running.get(job.id)
        if run is None or job.token != run.job.token:
            return
        run.job.status = job.status
        run.job.cancel_requested = job.cancel_requested
        if job.cancel_requested >= FORCE:
            run.kill()
        elif job.cancel_requested:
            run.cancel()
        else:
            self._d.set_paused(run, job.status is Status.PAUSED)

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
        queue: str = DEFAULT_QUEUE,
    ) -> NewJob:
        """Validate a submission (raises UnknownJobType, ValidationError or QueueNameError)
        without storing it."""
        return new_job(
            self.registry,
            self.clock,
            type,
            params,
            priority=priority,
            delay=delay,
            run_at=run_at,
            after=after,
            rerun_of=rerun_of,
            max_attempts=max_attempts,
            timeout=timeout,
            queue=queue,
        )

    async def submit(self, type: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Job:
        """Validate and queue one job; returns it with its id."""
        return (await self.submit_many([self.new_job(type, params, **kw)]))[0]

    async def submit_many(
        self, jobs: Iterable[NewJob | tuple[str, Mapping[str, Any]]]
    ) -> list[Job]:
        """Validate and queue many jobs in one transaction (all or nothing)."""
        self._writable("submit jobs")
        batch = [j if isinstance(j, NewJob) else self.new_job(j[0], j[1]) for j in jobs]
        added = await self.store.add(batch, self.clock())
        for job in added:
            self._d.publish_job(job)
        self.wake()
        return added

    async def get(self, job_id: int) -> Job:
        """The job with this id, or UnknownJob."""
        job = await self.store.get(job_id)
        if job is None:
            raise UnknownJob(job_id)
        return job

    async def _command(self, job_id: int, command: Command) -> Job:
        self._writable(f"{command} jobs")
        job = await self.store.command(job_id, command, self.clock())
        self.apply_control(job)
        self._d.publish_job(job)
        self.wake()
        return job

    async def cancel(self, job_id: int, *, force: bool = False) -> Job:
        """Cancel a queued job (it never starts) or stop a running one; force stops it at
        once (its process group killed, its task cancelled) rather than asking it to."""
        return await self._command(job_id, "kill" if force else "cancel")

    def killable(self, job: Job) -> bool:
        """Whether a forced cancel can stop this job at once: False for a plain `def` job
        running in a thread (nothing can stop a thread; it is only asked)."""
        if job.type not in self.registry:
            return True  # its worker knows; nothing to say from here
        kind = self.registry.get(job.type)
        return kind.isolation == "process" or kind.is_async

    async def set_priority(self, job_id: int, priority: Priority | str | int) -> Job:
        """Change a job's priority before it starts; it moves in the run order at once."""
        self._writable("change priorities")
        job = await self.store.set_priority(job_id, Priority.parse(priority), self.clock())
        self._d.publish_job(job)
        self.wake()
        return job

    async def pause(self, job_id: int) -> Job:
        """Pause a job: a queued one is not started, a running one waits at its checkpoints."""
        return await self._command(job_id, "pause")

    async def resume(self, job_id: int) -> Job:
        """Resume a paused job."""
        return await self._command(job_id, "resume")

    async def rerun(self, job_id: int, params: Mapping[str, Any] | None = None, **kw: Any) -> Job:
        """Queue a new job of the same type, linked to the original (its `rerun_of`): with
        the same params, priority and queue unless given (params are validated as submit()
        validates them)."""
        old = await self.get(job_id)
        kw.setdefault("priority", old.priority)
        kw.setdefault("queue", old.queue)
        chosen = old.params if params is None else params
        return await self.submit(old.type, chosen, rerun_of=old.id, **kw)

    async def reruns(self, job_id: int) -> builtins.list[int]:
        """Ids of the jobs made as reruns of this one, oldest first ("rerun as #17")."""
        return await self.store.reruns(job_id)

    async def rerun_many(
        self, job_ids: Sequence[int], *, only: Iterable[Status] | None = None
    ) -> BulkResult:
        """Rerun many jobs (each with its own type, params, priority and queue) in one
        submit; with `only`, jobs in other statuses (and deleted ones) are skipped."""
        self._writable("rerun jobs")
        wanted = None if only is None else frozenset(only)
        news: builtins.list[NewJob] = []
        skipped: dict[int, str] = {}
        for count, job_id in enumerate(job_ids, 1):
            old = await self.store.get(job_id)
            if old is None:
                skipped[job_id] = "deleted"
            elif wanted is not None and old.status not in wanted:
                skipped[job_id] = str(old.status)
            else:
                try:
                    news.append(
                        self.new_job(
                            old.type,
                            old.params,
                            priority=old.priority,
                            queue=old.queue,
                            rerun_of=old.id,
                        )
                    )
                except (LookupError, ValueError) as exc:  # its type is not loaded here
                    skipped[job_id] = str(exc.args[0] if exc.args else exc)
            if count % BULK_YIELD == 0:
                await anyio.lowlevel.checkpoint()  # keys and frames get in between reads
        made = await self.submit_many(news) if news else []
        return BulkResult(tuple(n.rerun_of or 0 for n in news), tuple(made), skipped)

    async def command_many(self, job_ids: Sequence[int], command: Command) -> BulkResult:
        """Cancel, kill, pause or resume many jobs in one call: each job the command cannot
        apply to (finished, deleted meanwhile) is skipped, saying why, never raised; the
        dispatcher is woken once, and the events go out as one batch to every screen."""
        self._writable(f"{command} jobs")
        done: builtins.list[Job] = []
        skipped: dict[int, str] = {}
        now = self.clock()
        for count, job_id in enumerate(job_ids, 1):
            try:
                job = await self.store.command(job_id, command, now)
            except UnknownJob:
                skipped[job_id] = "deleted"
            except TransitionError as exc:
                skipped[job_id] = str(exc)
            else:
                self.apply_control(job)
                self._d.publish_job(job)
                done.append(job)
            if count % BULK_YIELD == 0:
                await anyio.lowlevel.checkpoint()
        self.wake()
        return BulkResult(tuple(j.id for j in done), tuple(done), skipped)

    async def set_priority_many(self, levels: Mapping[int, Priority | str | int]) -> BulkResult:
        """Give many jobs new priorities (job id -> priority); jobs that have started or
        finished are skipped."""
        self._writable("change priorities")
        done: builtins.list[Job] = []
        skipped: dict[int, str] = {}
        now = self.clock()
        for count, (job_id, level) in enumerate(levels.items(), 1):
            try:
                job = await self.store.set_priority(job_id, Priority.parse(level), now)
            except UnknownJob:
                skipped[job_id] = "deleted"
            except TransitionError as exc:
                skipped[job_id] = str(exc)
            else:
                self._d.publish_job(job)
                done.append(job)
            if count % BULK_YIELD == 0:
                await anyio.lowlevel.checkpoint()
        self.wake()
        return BulkResult(tuple(j.id for j in done), tuple(done), skipped)

    async def delete_many(self, job_ids: Sequence[int]) -> BulkResult:
        """Delete many jobs in one transaction; when some cannot go (one started running,
        one is gone already), the others are deleted one by one and those are skipped."""
        self._writable("delete jobs")
        try:
            return BulkResult(tuple(await self.delete(job_ids)))
        except (UnknownJob, ValueError):
            pass
        skipped: dict[int, str] = {}
        deleted: builtins.list[int] = []
        for count, job_id in enumerate(job_ids, 1):
            try:
                deleted += await self.delete([job_id])
            except UnknownJob:
                skipped[job_id] = "deleted"
            except ValueError:
                skipped[job_id] = "running"
            if count % BULK_YIELD == 0:
                await anyio.lowlevel.checkpoint()
        return BulkResult(tuple(deleted), skipped=skipped)

    async def delete(self, job_ids: Sequence[int]) -> list[int]:
        """Delete jobs that are not running."""
        self._writable("delete jobs")
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
        self._writable("clear jobs")
        cutoff = self.clock() - older_than if older_than is not None else None
        count = await self.store.clear(
            set(statuses), finished_before=cutoff, keep_newest=keep_newest
        )
        if count:
            self.bus.publish(Event(EventKind.RESYNC))
        return count

    async def set_queue_paused(self, paused: bool) -> None:
        """Pause or resume claiming on every worker sharing this store."""
        self._writable("pause or resume the queue")
        await self.store.set_queue_paused(paused)
        self.bus.publish(Event(EventKind.QUEUE, queue_paused=paused))
        self.wake()

    async def pause_queue(self, name: str, paused: bool = True) -> None:
        """Pause (or resume) one queue on every worker sharing this store."""
        await self.store.pause_queue(check_queue_name(name), paused)
        self.bus.publish(Event(EventKind.QUEUE))
        self.wake()

    async def limit_queue(self, name: str, limit: int | None) -> None:
        """Run at most `limit` of a queue's jobs at once across the fleet (None: no cap)."""
        if limit is not None and not (is_int(limit) and 0 <= limit <= MAX_INT):
            raise ValueError("a queue limit must be a whole number, 0 or more")
        await self.store.limit_queue(check_queue_name(name), limit)
        self.bus.publish(Event(EventKind.QUEUE))
        self.wake()

    async def queues(self) -> builtins.list[QueueInfo]:
        """Every queue with settings or queued/running jobs, with its load."""
        return await self.store.queues()

    @property
    def taken_queues(self) -> frozenset[str] | None:
        """The queues this engine's worker takes (None: every queue)."""
        return self._d.queues

    async def stats(self) -> Stats:
        """Counts per status, this engine's load and the live workers' together."""
        now = self.clock()
        workers = await self.store.workers()
        counts = await self.store.counts()
        paused = await self.store.queue_paused()
        queues = tuple(await self.store.queues())
        # Our own load as of now (not as of our last heartbeat), read after every await.
        running, processed = len(self._d.running), self._d.processed
        others = [w for w in workers if w.id != self.worker_id]
        own = (running, self._d.concurrency, processed) if self.worker and self.running else None
        return Stats.of(
            counts,
            paused,
            queues,
            others,
            now,
            self.dead_after,
            active=running,
            capacity=self._d.concurrency if self.worker else 0,
            processed=processed,
            own=own,
        )

    async def history(self, minutes: int = WINDOW_BUCKETS) -> History:
        """Jobs finished in the last `minutes` minutes, the current one included, per minute
        and per type, read from the store (so it is the same after a restart)."""
        now = self.clock()
        return await self.store.finished_history(window_start(now, minutes), now)

    async def logs(self, job_id: int, after: int = 0, limit: int | None = None) -> LogPage:
        """A job's stored log lines after sequence number `after` (flushed ~10x a second)."""
        return await self.store.logs(job_id, after, limit)

    async def steps(self, job_id: int) -> builtins.list[Step]:
        """A job's steps (ctx.step()) with their times, in order."""
        return await self.store.steps(job_id)

    async def list(self, **kw: Any) -> builtins.list[Job]:
        """Jobs newest first (see Store.list for filters and keyset paging)."""
        return await self.store.list_jobs(**kw)

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
                    self._d.running or self._d.outcomes
                ):
                    return
                await anyio.sleep(delay)
                delay = min(delay * 2, 0.1)

    def running_ids(self) -> builtins.list[int]:
        """Ids of the jobs this engine runs now."""
        return list(self._d.running)

    def stop_fates(self) -> builtins.list[tuple[Job, bool, bool]]:
        """What a stop now would do to each run: (job, paused, requeued). Paused runs are
        stopped at once; a stopped run is requeued when its type is retry-safe and it has
        attempts left, else failed as interrupted."""
        working = set(self._d.working())
        return [
            (
                run.job,
                job_id not in working,
                resolve(run.job, self.registry, "").status is Status.PENDING,
            )
            for job_id, run in self._d.running.items()
        ]

    def is_active(self, job: Job) -> bool:
        """Whether job is running here (its state comes from us, not from the store)."""
        return job.id in self._d.running and job.status in ACTIVE

    # -- schedules (engine/scheduler.py) ------------------------------------------------

    def _scheduled(self, jobs: builtins.list[Job]) -> None:
        for job in jobs:
            self._d.publish_job(job)
        self.wake()

    async def schedule(
        self, name: str, type: str, params: Mapping[str, Any] | None = None, **kw: Any
    ) -> Schedule:
        """Add a schedule: `cron=` (5 fields, or 6 with seconds first) or `every=` ("30s",
        "1h" or seconds), optional tz, priority, queue, missed ("skip" or "catch-up"),
        overlap=False (skip a slot while the previous run is unfinished), paused.
        Params are checked as submit() checks them; ScheduleExists if the name is taken."""
        self._writable("add schedules")
        schedule = self.scheduler.define(name, type, params, **kw)
        await self.store.add_schedule(schedule)
        return schedule

    async def schedules(self) -> builtins.list[Schedule]:
        """Every schedule on the store, by name."""
        return await self.store.schedules()

    async def schedule_outcomes(self, schedules: builtins.list[Schedule]) -> dict[str, str]:
        """How each schedule's last slot went (see Scheduler.outcomes)."""
        return await self.scheduler.outcomes(schedules)

    async def pause_schedule(self, name: str) -> Schedule:
        """Stop a schedule firing until resume_schedule(); UnknownSchedule."""
        self._writable("pause schedules")
        return await self.store.set_schedule_paused(name, True, None)

    async def resume_schedule(self, name: str) -> Schedule:
        """Fire a paused schedule again, from its next slot on."""
        self._writable("resume schedules")
        return await self.scheduler.resume(name)

    async def remove_schedule(self, name: str) -> Schedule:
        """Delete a schedule (its jobs stay); returns it, for restore_schedule()."""
        self._writable("remove schedules")
        return await self.store.remove_schedule(name)

    async def restore_schedule(self, schedule: Schedule) -> None:
        """Put back a removed schedule (undo), its slots counted on from now."""
        self._writable("add schedules")
        now = self.clock()
        nxt = schedule.next_run
        if nxt is not None and nxt <= now:
            nxt = schedule.slot_after(now)
        await self.store.add_schedule(schedule.with_state(next_run=nxt))

    async def run_schedule(self, name: str) -> Job:
        """Make a schedule's job now (its slots are unchanged)."""
        self._writable("run schedules")
        return await self.scheduler.run_now(name)

    async def job_origin(self, job_id: int) -> Origin | None:
        """Which schedule and slot made a job (None: it was submitted)."""
        return await self.store.job_origin(job_id)

    # -- presets (engine/presets.py) -----------------------------------------------------

    async def save_preset(
        self,
        name: str,
        type: str,
        params: Mapping[str, Any] | None = None,
        *,
        priority: Priority | str | int = Priority.NORMAL,
        queue: str = DEFAULT_QUEUE,
        replace: bool = False,
    ) -> Preset:
        """Save a named preset of a job type, its params checked as submit() checks them;
        PresetExists if the name is taken (replace=True overwrites it). Returns it as stored."""
        self._writable("save presets")
        preset = self.preset_book.define(name, type, params, priority=priority, queue=queue)
        return await self.store.save_preset(preset, replace=replace)

    async def presets(self, type: str | None = None) -> builtins.list[Preset]:
        """Every preset on the store (with type: that job type's), by name."""
        return await self.store.presets(type)

    async def preset(self, name: str) -> Preset:
        """The preset called name, or UnknownPreset."""
        return await self.preset_book.get(name)

    async def remove_preset(self, name: str) -> Preset:
        """Delete a preset; returns it as it was. UnknownPreset if there is none."""
        self._writable("remove presets")
        return await self.store.remove_preset(name)

    async def preset_job(
        self, name: str, params: Mapping[str, Any] | None = None, **kw: Any
    ) -> NewJob:
        """A checked job from a preset, not yet stored: its params with `params` over them;
        kw as for new_job (priority and queue default to the preset's). UnknownPreset, or
        PresetError when the preset no longer fits its job type."""
        preset = await self.preset_book.get(name)
        values = self.preset_book.job_params(preset, params or {})
        kw.setdefault("priority", preset.priority)
        kw.setdefault("queue", preset.queue)
        return self.new_job(preset.type, values, **kw)

    async def submit_preset(
        self, name: str, params: Mapping[str, Any] | None = None, **kw: Any
    ) -> Job:
        """Queue one job from a preset (see preset_job); returns it with its id."""
        self._writable("submit jobs")
        return (await self.submit_many([await self.preset_job(name, params, **kw)]))[0]
