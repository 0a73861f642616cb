"""Records every layer reads: workers, job processes, change feeds, log pages, stats."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tuiqueue.core.job import Job
from tuiqueue.core.queues import QueueInfo
from tuiqueue.core.status import Status
from tuiqueue.core.text import one_line


@dataclass(slots=True)
class WorkerInfo:
    """A worker process registered in the store, kept fresh by its heartbeat."""

    id: str
    host: str
    pid: int
    concurrency: int
    started_at: float
    heartbeat: float
    running: int = 0
    processed: int = 0
    stopped: bool = False
    error: str = ""
    """The newest background failure the worker reported (a dead heartbeat, retention)."""
    holds_lock: bool | None = None
    """Exact liveness where the store knows it (SQLite: the worker's process holds its lock
    file); None where only the heartbeat's age tells."""
    types: tuple[str, ...] | None = None
    """The job types it has loaded (None: not known, a worker of an older tuiqueue)."""
    queues: tuple[str, ...] | None = None
    """The queues it takes (None: every queue)."""

    def can_run(self, type: str, queue: str) -> bool:
        """Whether this worker would claim a job of this type in this queue."""
        return (self.types is None or type in self.types) and (
            self.queues is None or queue in self.queues
        )

    def alive(self, now: float, dead_after: float) -> bool:
        """Not stopped, and its process holds its lock (where known), else heard from within
        dead_after seconds."""
        if self.stopped:
            return False
        if self.holds_lock is not None:
            return self.holds_lock
        return now - self.heartbeat <= dead_after

    def gone_for(self, now: float) -> float:
        """Seconds since a stopped or dead worker was last heard from (0 while alive)."""
        return max(0.0, now - self.heartbeat)

    def to_dict(self, now: float, dead_after: float) -> dict[str, object]:
        """The JSON shape of `tuiqueue workers --json`."""
        return {
            "id": self.id,
            "host": self.host,
            "pid": self.pid,
            "concurrency": self.concurrency,
            "running": self.running,
            "processed": self.processed,
            "started_at": self.started_at,
            "heartbeat": self.heartbeat,
            "alive": self.alive(now, dead_after),
            "stopped": self.stopped,
            "error": self.error or None,
            "types": None if self.types is None else list(self.types),
            "queues": None if self.queues is None else list(self.queues),
        }


WORKERS_KEPT_FOR = 3600.0
"""Stopped and dead workers are listed this long after they were last heard from."""


@dataclass(frozen=True, slots=True)
class JobProcess:
    """A process group a running job started (a shell job's command), for crash cleanup."""

    token: str
    """The attempt that started it; only that attempt's recovery may kill it."""
    host: str
    pgid: int
    start_time: int
    """The group leader's start time in clock ticks since boot (/proc/PID/stat field 22),
    so a process that later reused the pid is never mistaken for it."""


@dataclass(frozen=True, slots=True)
class Changes:
    """What changed in a store since a version (for other processes' work)."""

    version: int
    jobs: list[Job] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LogPage:
    """Log lines of one job after a sequence number."""

    lines: list[tuple[int, str]]
    dropped: int
    """Lines dropped between the kept head and tail."""


@dataclass(frozen=True, slots=True)
class Stats:
    """Counts per status, this process's worker's load and the fleet's (every live worker)."""

    counts: dict[Status, int]
    active: int
    """Jobs this process runs (0 for a process that is no worker, such as the CLI)."""
    capacity: int
    processed: int
    queue_paused: bool
    workers: int = 0
    """Live workers on the store, this one included."""
    fleet_active: int = 0
    """Jobs the live workers run."""
    fleet_capacity: int = 0
    """Slots of the live workers together."""
    fleet_processed: int = 0
    """Jobs the live workers have run to a final status since they started."""
    queues: tuple[QueueInfo, ...] = ()
    """Every queue with settings or queued/running jobs: paused, running/limit."""

    @staticmethod
    def of(
        counts: dict[Status, int],
        queue_paused: bool,
        queues: tuple[QueueInfo, ...],
        workers: Sequence[WorkerInfo],
        now: float,
        dead_after: float,
        *,
        active: int = 0,
        capacity: int = 0,
        processed: int = 0,
        own: tuple[int, int, int] | None = None,
    ) -> Stats:
        """The stats of a store: the fleet is the live ones of `workers` plus `own` (this
        process's running worker: running, concurrency, processed), if any."""
        load = [
            (w.running, w.concurrency, w.processed) for w in workers if w.alive(now, dead_after)
        ]
        if own is not None:
            load.append(own)
        return Stats(
            counts,
            active,
            capacity,
            processed,
            queue_paused,
            queues=queues,
            workers=len(load),
            fleet_active=sum(r for r, _, _ in load),
            fleet_capacity=sum(c for _, c, _ in load),
            fleet_processed=sum(p for _, _, p in load),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `tuiqueue stats --json`: `worker` describes the live workers."""
        return {
            "counts": {str(k): v for k, v in self.counts.items()},
            "total": sum(self.counts.values()),
            "worker": {
                "alive": self.workers,
                "active": self.fleet_active,
                "capacity": self.fleet_capacity,
                "processed": self.fleet_processed,
            },
            "queue_paused": self.queue_paused,
            "queues": [q.to_dict() for q in self.queues],
        }


class ProgressUpdate(NamedTuple):
    """A running job's progress to record; a stale token makes the store ignore it."""

    job_id: int
    token: str
    percent: float
    message: str


class LogLines(NamedTuple):
    """Log lines a running attempt wrote; a stale token makes the store drop them."""

    token: str
    lines: list[str]


class Superseded(NamedTuple):
    """A run whose attempt is no longer its job's: another attempt, or nobody, holds it now."""

    job_id: int
    token: str
    """The run's own (spent) token."""
    status: Status | None
    """The job's status now; None when the job was deleted."""
    worker: str | None
    """The worker that holds the job now (or the last one, for a finished job)."""
    attempts: int
    """The job's attempt count now."""

    def describe(self, attempt: int) -> str:
        """One line for the old worker's log, e.g. '... taken over by worker X (attempt 2)'."""
        what = f"job {self.job_id}: attempt {attempt}"
        if self.status is None:
            why = "'s job was deleted"
        elif self.status in (Status.RUNNING, Status.PAUSED) and self.attempts > attempt:
            holder = one_line(self.worker or "?", 100)
            why = f" was taken over by worker {holder} (attempt {self.attempts})"
        else:
            why = f" was ended elsewhere (the job is {self.status.value} now)"
        return f"{what}{why}; stopped it here"


class Step(NamedTuple):
    """One step of a job (ctx.step("download")): when it started and, once over, finished."""

    name: str
    started: float
    finished: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape in `show --json`'s "steps"."""
        end = self.finished
        return {
            "name": self.name,
            "started": self.started,
            "finished": end,
            "duration": None if end is None else max(0.0, end - self.started),
        }


@dataclass(frozen=True, slots=True)
class BulkResult:
    """What one command on many jobs did: the ids it applied to, the jobs that came of it
    (changed ones; the new jobs of reruns; none for deletes) and why the others were
    skipped (job id -> the reason: finished, started, deleted...)."""

    done: tuple[int, ...] = ()
    jobs: tuple[Job, ...] = ()
    skipped: dict[int, str] = field(default_factory=dict)
