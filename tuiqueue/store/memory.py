"""MemoryStore: everything in this process's memory (`--db :memory:`), gone on exit."""

from __future__ import annotations

import heapq
import logging
import uuid
from collections.abc import Collection, Sequence

from tuiqueue.core.job import Job, NewJob
from tuiqueue.core.lifecycle import (
    Command,
    Outcome,
    UnknownJob,
    apply_command,
    apply_outcome,
    apply_priority,
    dependency_failure,
    queued_status,
)
from tuiqueue.core.records import (
    Changes,
    JobProcess,
    LogPage,
    ProgressUpdate,
    Step,
    WorkerInfo,
)
from tuiqueue.core.status import ACTIVE, TERMINAL, Priority, Status
from tuiqueue.store.base import LOG_HEAD, LOG_TAIL, Store, clip_line

_ID_BITS = 64
_ID_MASK = (1 << _ID_BITS) - 1


def _ready_key(job: Job) -> int:
    """The ready heap's key: higher priority first, then the oldest id, as one int
    (an int compares faster than a (priority, id) tuple, and the heap is popped per claim)."""
    return ((Priority.CRITICAL - job.priority) << _ID_BITS) | job.id


log = logging.getLogger(__name__)


class MemoryStore(Store):
    """A fast in-process store for tests, demos and benchmarks.

    Reads hand out copies. finish() hands out its own record of a job that reached a final
    status (such a record never changes again), so treat returned jobs as read-only.
    """

    url = ":memory:"

    def __init__(self) -> None:
        self._jobs: dict[int, Job] = {}
        self._next_id = 1
        self._version = 0
        self._deleted: list[tuple[int, int]] = []
        self._ready: list[int] = []
        """Heap of _ready_key(job) for pending jobs."""
        self._scheduled: list[tuple[float, int]] = []
        self._waiting: set[int] = set()
        self._logs: dict[int, tuple[list[tuple[int, str]], int]] = {}
        self._steps: dict[int, list[Step]] = {}
        self._paused = False
        self._workers: dict[str, WorkerInfo] = {}
        self._token_base = uuid.uuid4().hex[:12]
        self._procs: dict[int, JobProcess] = {}
        # Kept up to date on every change (_touch, _remove) so counts() and orphans() never
        # scan every job: the dispatcher asks for counts while draining.
        self._counts = dict.fromkeys(Status, 0)
        self._active: set[int] = set()
        """Ids of started jobs (running or paused with a token): what orphans() looks at."""

    def _touch(self, job: Job, old: Status | None, now: float | None = None) -> None:
        """Record a change to job, whose status was `old` before it (None: a new job)."""
        self._version += 1
        job.version = self._version
        if now is not None:
            job.updated_at = now
        status = job.status
        if old is not status:
            if old is not None:
                self._counts[old] -= 1
            self._counts[status] += 1
        if status in ACTIVE and job.token is not None:
            self._active.add(job.id)
        else:
            self._active.discard(job.id)

    def _enqueue(self, job: Job) -> None:
        if job.status is Status.PENDING:
            heapq.heappush(self._ready, _ready_key(job))
        elif job.status is Status.SCHEDULED and job.run_at is not None:
            heapq.heappush(self._scheduled, (job.run_at, job.id))
        elif job.status is Status.WAITING:
            self._waiting.add(job.id)

    def _dep_status(self, job: Job) -> dict[int, Status | None]:
        if not job.depends_on:
            return {}
        return {d: (self._jobs[d].status if d in self._jobs else None) for d in job.depends_on}

    async def add(self, jobs: Sequence[NewJob], now: float) -> list[Job]:
        for new in jobs:
            for dep in new.depends_on:
                if dep not in self._jobs:
                    raise UnknownJob(dep)
        out = []
        for new in jobs:
            job = new.to_job(self._next_id, now)
            self._next_id += 1
            job.status = queued_status(job, now, self._dep_status(job))
            self._touch(job, None, now)
            self._jobs[job.id] = job
            self._enqueue(job)
            out.append(job.copy())
        return out

    async def get(self, job_id: int) -> Job | None:
        job = self._jobs.get(job_id)
        return job.copy() if job else None

    async def list_jobs(
        self,
        *,
        statuses: Collection[Status] | None = None,
        type: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
        after_id: int | None = None,
    ) -> list[Job]:
        out: list[Job] = []
        for job_id in sorted(self._jobs, reverse=after_id is None):
            if before_id is not None and job_id >= before_id:
                continue
            if after_id is not None and job_id <= after_id:
                continue
            job = self._jobs[job_id]
            if statuses and job.status not in statuses:
                continue
            if type and job.type != type:
                continue
            out.append(job.copy())
            if len(out) >= limit:
                break
        return out

    def _promote(self, now: float) -> None:
        while self._scheduled and self._scheduled[0][0] <= now:
            _, job_id = heapq.heappop(self._scheduled)
            job = self._jobs.get(job_id)
            if (
                job
                and job.status is Status.SCHEDULED
                and job.run_at is not None
                and job.run_at <= now
            ):
                job.status = Status.PENDING
                self._touch(job, Status.SCHEDULED, now)
                self._enqueue(job)
        for job_id in list(self._waiting):
            job = self._jobs.get(job_id)
            if job is None or job.status is not Status.WAITING:
                self._waiting.discard(job_id)
                continue
            deps = self._dep_status(job)
            reason = dependency_failure(job, deps)
            if reason:
                job.status, job.error, job.finished_at = Status.FAILED, reason, now
            elif queued_status(job, now, deps) is Status.WAITING:
                continue
            else:
                job.status = queued_status(job, now, {d: Status.COMPLETED for d in deps})
            self._waiting.discard(job_id)
            self._touch(job, Status.WAITING, now)
            self._enqueue(job)

    async def claim(self, worker: str, limit: int, now: float) -> list[Job]:
        return self._claim(worker, limit, now)

    def _claim(self, worker: str, limit: int, now: float) -> list[Job]:
        if self._paused or limit <= 0:
            return []
        if self._scheduled or self._waiting:
            self._promote(now)
        # The dispatcher's hot path: _touch's bookkeeping inlined, counts moved once per batch.
        out: list[Job] = []
        ready, jobs, active, base = self._ready, self._jobs, self._active, self._token_base
        version = self._version
        while ready and len(out) < limit:
            key = heapq.heappop(ready)
            job = jobs.get(key & _ID_MASK)
            if job is None or job.status is not Status.PENDING or key != _ready_key(job):
                continue  # (gone, taken, or its priority changed: a newer entry stands)
            version += 1
            job.status = Status.RUNNING
            job.started_at = job.updated_at = now
            job.version = version
            job.attempts += 1
            job.worker = worker
            job.token = f"{base}.{job.id}.{job.attempts}"  # unique per run, no uuid
            active.add(job.id)
            out.append(job.copy())
        self._version = version
        self._counts[Status.PENDING] -= len(out)
        self._counts[Status.RUNNING] += len(out)
        return out

    async def next_wakeup(self, now: float) -> float | None:
        while self._scheduled:
            run_at, job_id = self._scheduled[0]
            job = self._jobs.get(job_id)
            if job and job.status is Status.SCHEDULED and job.run_at == run_at:
                return run_at
            heapq.heappop(self._scheduled)
        return None

    async def save_progress(self, updates: Sequence[ProgressUpdate], now: float) -> None:
        for job_id, token, percent, message in updates:
            job = self._jobs.get(job_id)
            if job and job.token == token:
                job.progress, job.message = percent, message
                self._touch(job, job.status, now)

    async def finish(self, outcomes: Sequence[Outcome], now: float) -> list[Job]:
        return self._finish(outcomes, now)

    def _finish(self, outcomes: Sequence[Outcome], now: float) -> list[Job]:
        out = []
        jobs = self._jobs
        for outcome in outcomes:
            job = jobs.get(outcome.job_id)
            if job is None:
                continue
            old = job.status
            if not apply_outcome(job, outcome, now):
                continue
            self._touch(job, old, now)
            if job.status in TERMINAL:
                out.append(job)  # final: this record never changes again, so no copy
            else:
                self._enqueue(job)
                out.append(job.copy())
        return out

    async def finish_and_claim(
        self, outcomes: Sequence[Outcome], worker: str, limit: int, now: float
    ) -> tuple[list[Job], list[Job]]:
        return self._finish(outcomes, now), self._claim(worker, limit, now)

    async def command(self, job_id: int, command: Command, now: float) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise UnknownJob(job_id)
        old = job.status
        if apply_command(job, command, now, self._dep_status(job)):
            self._touch(job, old, now)
            self._enqueue(job)
        return job.copy()

    async def set_priority(self, job_id: int, priority: Priority, now: float) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise UnknownJob(job_id)
        if apply_priority(job, priority):
            self._touch(job, job.status, now)
            self._enqueue(job)  # the old heap entry no longer matches and is skipped
        return job.copy()

    async def save_steps(self, steps: dict[int, list[Step]]) -> None:
        for job_id, marked in steps.items():
            if job_id in self._jobs:
                self._steps[job_id] = list(marked)

    async def steps(self, job_id: int) -> list[Step]:
        return list(self._steps.get(job_id, ()))

    async def append_logs(self, lines: dict[int, list[str]]) -> None:
        for job_id, new in lines.items():
            if job_id not in self._jobs:
                continue
            kept, count = self._logs.get(job_id, ([], 0))
            for line in new:
                count += 1
                kept.append((count, clip_line(line)))
            if len(kept) > LOG_HEAD + LOG_TAIL + 1000:
                kept[LOG_HEAD:] = [item for item in kept[LOG_HEAD:] if item[0] > count - LOG_TAIL]
            self._logs[job_id] = (kept, count)

    async def logs(self, job_id: int, after: int = 0, limit: int | None = None) -> LogPage:
        if job_id not in self._jobs:
            raise UnknownJob(job_id)
        kept, count = self._logs.get(job_id, ([], 0))
        lines = [
            item
            for item in kept
            if item[0] > after and (item[0] <= LOG_HEAD or item[0] > count - LOG_TAIL)
        ]
        if limit is not None:
            lines = lines[:limit]
        return LogPage(lines, max(0, count - LOG_HEAD - LOG_TAIL))

    def _remove(self, job_id: int) -> None:
        self._counts[self._jobs.pop(job_id).status] -= 1
        self._active.discard(job_id)
        self._logs.pop(job_id, None)
        self._steps.pop(job_id, None)
        self._procs.pop(job_id, None)
        self._version += 1
        self._deleted.append((self._version, job_id))

    async def delete(self, job_ids: Sequence[int]) -> list[int]:
        for job_id in job_ids:
            job = self._jobs.get(job_id)
            if job is None:
                raise UnknownJob(job_id)
            if job.status in ACTIVE and job.token is not None:
                raise ValueError(f"job {job_id} is {job.status}; cancel it before deleting it")
        for job_id in job_ids:
            self._remove(job_id)
        return list(job_ids)

    async def clear(
        self,
        statuses: Collection[Status],
        *,
        finished_before: float | None = None,
        keep_newest: int = 0,
        batch: int = 500,
        pause: float = 0.0,
    ) -> int:
        finished = [j for j in self._jobs.values() if j.status in TERMINAL and j.status in statuses]
        finished.sort(key=lambda j: (j.finished_at or 0, j.id), reverse=True)
        doomed = [
            j.id
            for j in finished[keep_newest:]
            if finished_before is None or (j.finished_at or 0) < finished_before
        ]
        for job_id in doomed:
            self._remove(job_id)
        return len(doomed)

    async def counts(self) -> dict[Status, int]:
        return dict(self._counts)

    async def changes(self, since: int) -> Changes:
        jobs = [j.copy() for j in self._jobs.values() if j.version > since]
        deleted = [job_id for v, job_id in self._deleted if v > since]
        return Changes(self._version, jobs, deleted)

    async def version(self) -> int:
        return self._version

    async def set_queue_paused(self, paused: bool) -> None:
        self._paused = paused
        self._version += 1

    async def queue_paused(self) -> bool:
        return self._paused

    async def register_worker(self, info: WorkerInfo) -> None:
        self._workers[info.id] = info

    async def heartbeat(self, worker_id: str, running: int, processed: int, now: float) -> None:
        info = self._workers.get(worker_id)
        if info is not None:
            info.running, info.processed, info.heartbeat = running, processed, now

    async def report_worker_error(self, worker_id: str, error: str) -> None:
        info = self._workers.get(worker_id)
        if info is not None:
            info.error = error

    async def stop_worker(self, worker_id: str, now: float) -> None:
        info = self._workers.get(worker_id)
        if info is not None:
            info.stopped, info.heartbeat = True, now

    async def workers(self) -> list[WorkerInfo]:
        return sorted(self._workers.values(), key=lambda w: w.started_at, reverse=True)

    async def orphans(self, now: float, dead_after: float) -> list[Job]:
        return [
            job.copy()
            for job in map(self._jobs.__getitem__, sorted(self._active))
            if job.status in ACTIVE
            and job.token is not None
            and (
                job.worker not in self._workers
                or not self._workers[job.worker].alive(now, dead_after)
            )
        ]

    async def set_job_process(self, job_id: int, process: JobProcess | None) -> None:
        if process is None:
            self._procs.pop(job_id, None)
        elif job_id in self._jobs:
            self._procs[job_id] = process

    async def job_process(self, job_id: int) -> JobProcess | None:
        return self._procs.get(job_id)
