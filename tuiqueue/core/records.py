"""Records every layer reads: workers, job processes, change feeds, log pages, stats."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tuiqueue.core.job import Job
from tuiqueue.core.status import Status


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
