"""Engine commands: submit, steer, query and wait for jobs (mixed into Engine)."""

from __future__ import annotations

import builtins
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import anyio

from tuiqueue.core.events import Event, EventKind, Subscription
from tuiqueue.core.job import Job, NewJob
from tuiqueue.core.lifecycle import Command, UnknownJob
from tuiqueue.core.params import MAX_INT
from tuiqueue.core.records import LogPage, Stats, WorkerInfo
from tuiqueue.core.status import ACTIVE, TERMINAL, UNFINISHED, Priority, Status

if TYPE_CHECKING:
    from collections.abc import Callable

    from tuiqueue.core.events import EventBus
    from tuiqueue.core.lifecycle import Outcome
    from tuiqueue.core.registry import Registry
    from tuiqueue.engine.runner import Running
    from tuiqueue.store.base import Store

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 1_000
"""The most runs a job may be allowed (retries after failures and crashes included)."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)



class Commands:
    """The Engine's command, query and waiting methods."""

    if TYPE_CHECKING:  # provided by Engine
        store: Store
        registry: Registry
        clock: Callable[[], float]
        bus: EventBus
        processed: int
        _concurrency: int
        _running: dict[int, Running]
        _outcomes: builtins.list[tuple[Running, Outcome]]

        def wake(self) -> None: ...
        def _publish_job(self, job: Job) -> None: ...

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
