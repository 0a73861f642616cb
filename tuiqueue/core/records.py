"""Records every layer reads: workers, job processes, change feeds, log pages, stats."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tuiqueue.core.job import Job
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

    def alive(self, now: float, dead_after: float) -> bool:
        """Not stopped and heard from within dead_after seconds."""
        return not self.stopped and now - self.heartbeat <= dead_after

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
        }


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
            "worker": {
                "active": self.active,
                "capacity": self.capacity,
                "processed": self.processed,
            },
            "queue_paused": self.queue_paused,
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
