"""Records every layer reads: workers, job processes, change feeds, log pages, stats."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from tuiqueue.core.job import Job
from tuiqueue.core.plain import FrozenRecord, Record
from tuiqueue.core.queues import QueueInfo
from tuiqueue.core.status import Status
from tuiqueue.core.text import one_line


class WorkerInfo(Record):
    """A worker process registered in the store, kept fresh by its heartbeat."""

    __slots__ = __match_args__ = (
        "id",
        "host",
        "pid",
        "concurrency",
        "started_at",
        "heartbeat",
        "running",
        "processed",
        "stopped",
        "error",
        "holds_lock",
        "types",
        "queues",
    )
    id: str
    host: str
    pid: int
    concurrency: int
    started_at: float
    heartbeat: float
    running: int
    processed: int
    stopped: bool
    error: str
    """The newest background failure the worker reported (a dead heartbeat, retention)."""
    holds_lock: bool | None
    """Exact liveness where the store knows it (SQLite: the worker's process holds its lock
    file); None where only the heartbeat's age tells."""
    types: tuple[str, ...] | None
    """The job types it has loaded (None: not known, a worker of an older tuiqueue)."""
    queues: tuple[str, ...] | None
    """The queues it takes (None: every queue)."""

    def __init__(
        self,
        id: str,
        host: str,
        pid: int,
        concurrency: int,
        started_at: float,
        heartbeat: float,
        running: int = 0,
        processed: int = 0,
        stopped: bool = False,
        error: str = "",
        holds_lock: bool | None = None,
        types: tuple[str, ...] | None = None,
        queues: tuple[str, ...] | None = None,
    ) -> None:
        self.id = id
        self.host = host
        self.pid = pid
        self.concurrency = concurrency
        self.started_at = started_at
        self.heartbeat = heartbeat
        self.running = running
        self.processed = processed
        self.stopped = stopped
        self.error = error
        self.holds_lock = holds_lock
        self.types = types
        self.queues = queues

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


class JobProcess(FrozenRecord):
    """A process group a running job started (a shell job's command), for crash cleanup."""

    __slots__ = __match_args__ = ("token", "host", "pgid", "start_time")
    token: str
    """The attempt that started it; only that attempt's recovery may kill it."""
    host: str
    pgid: int
    start_time: int
    """The group leader's start time in clock ticks since boot (/proc/PID/stat field 22),
    so a process that later reused the pid is never mistaken for it."""

    def __init__(self, token: str, host: str, pgid: int, start_time: int) -> None:
        set_ = object.__setattr__
        set_(self, "token", token)
        set_(self, "host", host)
        set_(self, "pgid", pgid)
        set_(self, "start_time", start_time)


class Changes(FrozenRecord):
    """What changed in a store since a version (for other processes' work)."""

    __slots__ = __match_args__ = ("version", "jobs", "deleted")
    version: int
    jobs: list[Job]
    deleted: list[int]

    def __init__(
        self, version: int, jobs: list[Job] | None = None, deleted: list[int] | None = None
    ) -> None:
        set_ = object.__setattr__
        set_(self, "version", version)
        set_(self, "jobs", [] if jobs is None else jobs)  # (a new list each: default_factory)
        set_(self, "deleted", [] if deleted is None else deleted)


class LogPage(FrozenRecord):
    """Log lines of one job after a sequence number."""

    __slots__ = __match_args__ = ("lines", "dropped")
    lines: list[tuple[int, str]]
    dropped: int
    """Lines dropped between the kept head and tail."""

    def __init__(self, lines: list[tuple[int, str]], dropped: int) -> None:
        set_ = object.__setattr__
        set_(self, "lines", lines)
        set_(self, "dropped", dropped)


class Stats(FrozenRecord):
    """Counts per status, this process's worker's load and the fleet's (every live worker)."""

    __slots__ = __match_args__ = (
        "counts",
        "active",
        "capacity",
        "processed",
        "queue_paused",
        "workers",
        "fleet_active",
        "fleet_capacity",
        "fleet_processed",
        "queues",
    )
    counts: dict[Status, int]
    active: int
    """Jobs this process runs (0 for a process that is no worker, such as the CLI)."""
    capacity: int
    processed: int
    queue_paused: bool
    workers: int
    """Live workers on the store, this one included."""
    fleet_active: int
    """Jobs the live workers run."""
    fleet_capacity: int
    """Slots of the live workers together."""
    fleet_processed: int
    """Jobs the live workers have run to a final status since they started."""
    queues: tuple[QueueInfo, ...]
    """Every queue with settings or queued/running jobs: paused, running/limit."""

    def __init__(
        self,
        counts: dict[Status, int],
        active: int,
        capacity: int,
        processed: int,
        queue_paused: bool,
        workers: int = 0,
        fleet_active: int = 0,
        fleet_capacity: int = 0,
        fleet_processed: int = 0,
        queues: tuple[QueueInfo, ...] = (),
    ) -> None:
        set_ = object.__setattr__
        set_(self, "counts", counts)
        set_(self, "active", active)
        set_(self, "capacity", capacity)
        set_(self, "processed", processed)
        set_(self, "queue_paused", queue_paused)
        set_(self, "workers", workers)
        set_(self, "fleet_active", fleet_active)
        set_(self, "fleet_capacity", fleet_capacity)
        set_(self, "fleet_processed", fleet_processed)
        set_(self, "queues", queues)

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


class BulkResult(FrozenRecord):
    """What one command on many jobs did: the ids it applied to, the jobs that came of it
    (changed ones; the new jobs of reruns; none for deletes) and why the others were
    skipped (job id -> the reason: finished, started, deleted...)."""

    __slots__ = __match_args__ = ("done", "jobs", "skipped")
    done: tuple[int, ...]
    jobs: tuple[Job, ...]
    skipped: dict[int, str]

    def __init__(
        self,
        done: tuple[int, ...] = (),
        jobs: tuple[Job, ...] = (),
        skipped: dict[int, str] | None = None,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "done", done)
        set_(self, "jobs", jobs)
        set_(self, "skipped", {} if skipped is None else skipped)  # (default_factory=dict)
