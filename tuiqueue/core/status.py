"""Job statuses, priorities and the one table of legal transitions."""

from __future__ import annotations

from enum import Enum, StrEnum


class Status(StrEnum):
    """Where a job is in its life."""

    PENDING = "pending"
    SCHEDULED = "scheduled"
    WAITING = "waiting"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value


class Priority(int, Enum):
    """How urgently a job should run; higher runs first."""

    LOW = 0
    NORMAL = 1
    HIGH = 2
    CRITICAL = 3

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str | int | Priority) -> Priority:
        """Read a priority from a name ("high") or a number (2)."""
        if isinstance(value, Priority):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                return cls(value)
            except ValueError:
                pass
        elif isinstance(value, str):
            key = value.strip().upper()
            if key in cls.__members__:
                return cls[key]
            if key.isdigit() and int(key) in {p.value for p in cls}:
                return cls(int(key))
        names = ", ".join(str(p) for p in cls)
        raise ValueError(f"priority must be one of {names} (got {value!r})")


TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED})
"""Statuses a job never leaves."""

QUEUED = frozenset({Status.PENDING, Status.SCHEDULED, Status.WAITING})
"""Statuses of jobs that have not started yet."""

ACTIVE = frozenset({Status.RUNNING, Status.PAUSED})
"""Statuses of jobs that may hold a worker slot (a paused job may have started)."""

UNFINISHED = QUEUED | ACTIVE
"""Everything that is not terminal."""

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.RUNNING, Status.PAUSED, Status.CANCELLED, Status.FAILED}),
    Status.SCHEDULED: frozenset(
        {Status.PENDING, Status.RUNNING, Status.PAUSED, Status.CANCELLED, Status.FAILED}
    ),
    Status.WAITING: frozenset({Status.PENDING, Status.PAUSED, Status.CANCELLED, Status.FAILED}),
    Status.RUNNING: frozenset(
        {
            Status.COMPLETED,
            Status.FAILED,
            Status.CANCELLED,
            Status.PAUSED,
            Status.PENDING,  # requeued after an interrupted run
            Status.SCHEDULED,  # retried later with backoff
        }
    ),
    Status.PAUSED: frozenset(
        {
            Status.RUNNING,
            Status.PENDING,
            Status.SCHEDULED,
            Status.WAITING,
            Status.CANCELLED,
            Status.COMPLETED,
            Status.FAILED,
        }
    ),
    Status.COMPLETED: frozenset(),
    Status.FAILED: frozenset(),
    Status.CANCELLED: frozenset(),
}
"""The only legal moves; everything else is refused."""


class TransitionError(ValueError):
    """A command asked for a move the job's status does not allow."""


def check_transition(job_id: int, current: Status, target: Status) -> None:
    """Raise a TransitionError that a person understands unless current -> target is legal."""
    if target in TRANSITIONS[current]:
        return
    if current in TERMINAL:
        raise TransitionError(f"job {job_id} is already {current}")
    raise TransitionError(f"job {job_id} is {current} and cannot become {target}")
