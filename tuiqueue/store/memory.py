"""MemoryStore: everything in this process's memory (`--db :memory:`), gone on exit."""

from __future__ import annotations

import heapq
import math
import uuid
from collections.abc import Collection, Mapping, Sequence

from tuiqueue.core import logs
from tuiqueue.core.history import FinishedCount
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
from tuiqueue.core.queues import ANY, ClaimScope, QueueInfo
from tuiqueue.core.records import (
    Changes,
    JobProcess,
    LogLines,
    LogPage,
    ProgressUpdate,
    Step,
    Superseded,
    WorkerInfo,
)
from tuiqueue.core.schedule import Fire, Origin, Schedule
from tuiqueue.core.status import ACTIVE, TERMINAL, Priority, Status
from tuiqueue.store.base import LOG_HEAD, LOG_TAIL, Store, clip_line, superseded
from tuiqueue.store.presets_memory import MemoryPresets
from tuiqueue.store.schedules_memory import MemorySchedules

_ID_BITS = 64
_ID_MASK = (1 << _ID_BITS) - 1


def _ready_key(job: Job) -> int:
    """The ready heap's key: higher priority first, then the oldest id, as one int
    (an int compares faster than a (priority, id) tuple, and the heap is popped per claim)."""
    return ((Priority.CRITICAL - job.priority) << _ID_BITS) | job.id


log = logs.logger(__name__)


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
        self._ready: dict[tuple[str, str], list[int]] = {}
        """Per (queue, type): a heap of _ready_key(job) for its pending jobs, so a claim
        looks only at what the worker can run."""
        self._paused_queues: set[str] = set()
        self._limits: dict[str, int] = {}
        self._scheduled: list[tuple[float, int]] = []
        self._waiting: set[int] = set()
        self._logs: dict[int, tuple[list[tuple[int, str]], int]] = {}
        self._lost: dict[int, int] = {}
        """Per job, log lines lost before they reached the store."""
        self._steps: dict[int, list[Step]] = {}
        self._paused = False
        self._workers: dict[str, WorkerInfo] = {}
        self._token_base = uuid.uuid4().hex[:12]
        self._procs: dict[int, JobProcess] = {}
        self._reruns: dict[int, list[int]] = {}
        """Job id -> the ids of its reruns, in order (reruns())."""
        # Kept up to date on every change (_touch, _remove) so counts() and orphans() never
        # scan every job: the dispatcher asks for counts while draining.
        self._counts = dict.fromkeys(Status, 0)
        self._active: set[int] = set()
        """Ids of started jobs (running or paused with a token): what orphans() looks at."""
        self._schedules = MemorySchedules(self.add)
        self._presets = MemoryPresets()

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
            key = (job.queue, job.type)
            heap = self._ready.get(key)
            if heap is None:
                heap = self._ready[key] = []
            heapq.heappush(heap, _ready_key(job))
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
            if job.rerun_of is not None:
                self._reruns.setdefault(job.rerun_of, []).append(job.id)
            out.append(job.copy())
        return out

    async def get(self, job_id: int) -> Job | None:
        job = self._jobs.get(job_id)
        return job.copy() if job else None

    async def reruns(self, job_id: int) -> list[int]:
        return [i for i in self._reruns.get(job_id, ()) if i in self._jobs]

    async def list_jobs(
        self,
        *,
        statuses: Collection[Status] | None = None,
        type: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
        after_id: int | None = None,
        queue: str | None = None,
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
            if queue and job.queue != queue:
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

    async def claim(
        self, worker: str, limit: int, now: float, scope: ClaimScope = ANY
    ) -> list[Job]:
        return self._claim(worker, limit, now, scope)

    def _room(
        self, scope: ClaimScope, limit: int
    ) -> tuple[list[tuple[str, list[int]]], dict[str, int]]:
        """The ready heaps (with their queue) this scope may take from, and the room left
        in capped queues."""
        heaps: list[tuple[str, list[int]]] = []
        room: dict[str, int] = {}
        for (queue, type_), heap in self._ready.items():
            if not heap or queue in self._paused_queues or not scope.takes(type_, queue):
                continue
            cap = self._limits.get(queue)
            if cap is not None and queue not in room:
                busy = sum(
                    1
                    for i in self._active
                    if self._jobs[i].queue == queue and self._jobs[i].status is Status.RUNNING
                )
                room[queue] = max(0, cap - busy)
            if room.get(queue, limit) > 0:
                heaps.append((queue, heap))
        return heaps, room

    def _claim(self, worker: str, limit: int, now: float, scope: ClaimScope = ANY) -> list[Job]:
        if self._paused or limit <= 0:
            return []
        if self._scheduled or self._waiting:
            self._promote(now)
        heaps, room = self._room(scope, limit)
        # The dispatcher's hot path: _touch's bookkeeping inlined, counts moved once per batch.
        out: list[Job] = []
        jobs, active, base = self._jobs, self._active, self._token_base
        version = self._version
        while heaps and len(out) < limit:
            # the heap whose head runs first
            queue, heap = heaps[0] if len(heaps) == 1 else min(heaps, key=lambda h: h[1][0])
            key = heapq.heappop(heap)
            job = jobs.get(key & _ID_MASK)
            if not heap:
                heaps = [h for h in heaps if h[1]]
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
            if room and queue in room:
                room[queue] -= 1
                if room[queue] <= 0:  # its cap is reached: the rest of it stays queued
                    heaps = [h for h in heaps if h[0] != queue]
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
        self,
        outcomes: Sequence[Outcome],
        worker: str,
        limit: int,
        now: float,
        scope: ClaimScope = ANY,
    ) -> tuple[list[Job], list[Job]]:
        return self._finish(outcomes, now), self._claim(worker, limit, now, scope)

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

    async def append_logs(
        self, lines: Mapping[int, LogLines], dropped: Mapping[int, int] | None = None
    ) -> None:
        for job_id, lost in (dropped or {}).items():
            job = self._jobs.get(job_id)
            entry = lines.get(job_id)
            if job is not None and lost > 0 and (entry is None or entry.token == job.token):
                self._lost[job_id] = self._lost.get(job_id, 0) + lost
        for job_id, (token, new) in lines.items():
            job = self._jobs.get(job_id)
            if job is None or job.token != token:
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
        return LogPage(lines, max(0, count - LOG_HEAD - LOG_TAIL) + self._lost.get(job_id, 0))

    def _remove(self, job_id: int) -> None:
        self._counts[self._jobs.pop(job_id).status] -= 1
        self._active.discard(job_id)
        self._logs.pop(job_id, None)
        self._lost.pop(job_id, None)
        self._steps.pop(job_id, None)
        self._procs.pop(job_id, None)
        self._reruns.pop(job_id, None)
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

    async def _finished_since(
        self, since: float, now: float, width: float, limit: int
    ) -> tuple[list[FinishedCount], list[tuple[str, float]]]:
        # A walk over every job: this store lives in one process and holds few enough.
        counts: dict[tuple[int, str, Status], int] = {}
        done: list[tuple[float, int, str, float]] = []
        for job in self._jobs.values():
            end = job.finished_at
            if end is None or job.status not in TERMINAL or not since <= end <= now:
                continue
            key = (math.floor((end - since) / width), job.type, job.status)
            counts[key] = counts.get(key, 0) + 1
            if job.status is Status.COMPLETED and job.started_at is not None:
                done.append((end, job.id, job.type, end - job.started_at))
        newest = heapq.nlargest(limit, done)
        return (
            [FinishedCount(b, t, s, n) for (b, t, s), n in counts.items()],
            [(t, d) for _, _, t, d in newest],
        )

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

    async def pause_queue(self, name: str, paused: bool) -> None:
        if paused:
            self._paused_queues.add(name)
        else:
            self._paused_queues.discard(name)
        self._version += 1

    async def limit_queue(self, name: str, limit: int | None) -> None:
        if limit is None:
            self._limits.pop(name, None)
        else:
            self._limits[name] = limit
        self._version += 1

    async def queues(self) -> list[QueueInfo]:
        running: dict[str, int] = {}
        pending: dict[str, int] = {}
        for i in self._active:
            job = self._jobs[i]
            if job.status is Status.RUNNING:
                running[job.queue] = running.get(job.queue, 0) + 1
        for job in self._jobs.values():
            if job.status is Status.PENDING:
                pending[job.queue] = pending.get(job.queue, 0) + 1
        names = {*self._paused_queues, *self._limits, *running, *pending}
        return [
            QueueInfo(
                name,
                name in self._paused_queues,
                self._limits.get(name),
                running.get(name, 0),
                pending.get(name, 0),
            )
            for name in sorted(names)
        ]

    async def register_worker(self, info: WorkerInfo) -> None:
        self._workers[info.id] = info

    async def heartbeat(
        self,
        worker_id: str,
        running: int,
        processed: int,
        now: float,
        attempts: Mapping[int, str] | None = None,
    ) -> list[Superseded]:
        info = self._workers.get(worker_id)
        if info is not None:
            info.running, info.processed, info.heartbeat = running, processed, now
        if not attempts:
            return []
        jobs = self._jobs
        current = {
            i: (i, job.token, job.status, job.worker, job.attempts)
            for i in attempts
            if (job := jobs.get(i)) is not None
        }
        return superseded(attempts, current)

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
        job = self._jobs.get(job_id)
        if process is None:
            held = self._procs.get(job_id)
            if held is not None and (job is None or job.token != held.token):
                del self._procs[job_id]
        elif job is not None and job.token == process.token:
            self._procs[job_id] = process

    async def job_process(self, job_id: int) -> JobProcess | None:
        return self._procs.get(job_id)

    # -- schedules (schedules_memory.py) -----------------------------------------------

    async def add_schedule(self, schedule: Schedule, *, if_absent: bool = False) -> bool:
        return await self._schedules.add_schedule(schedule, if_absent=if_absent)

    async def schedules(self) -> list[Schedule]:
        return await self._schedules.schedules()

    async def set_schedule_paused(
        self, name: str, paused: bool, next_run: float | None
    ) -> Schedule:
        return await self._schedules.set_schedule_paused(name, paused, next_run)

    async def remove_schedule(self, name: str) -> Schedule:
        return await self._schedules.remove_schedule(name)

    async def fire_schedule(self, fire: Fire, job: NewJob | None, now: float) -> list[Job] | None:
        return await self._schedules.fire_schedule(fire, job, now)

    async def job_origin(self, job_id: int) -> Origin | None:
        return await self._schedules.job_origin(job_id)
