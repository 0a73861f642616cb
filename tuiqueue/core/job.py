"""The Job record: everything a store keeps about one job."""

from __future__ import annotations

from typing import Any

from tuiqueue.core.plain import FrozenRecord, Record
from tuiqueue.core.queues import DEFAULT_QUEUE
from tuiqueue.core.status import Priority, Status


class Job(Record):
    """One job: its type, params and everything that happened to it.

    A plain record (core/plain.py: what @dataclass(slots=True) made of it, and
    dataclasses.replace, fields and asdict still work on it), so that the short commands
    need not import dataclasses."""

    __slots__ = __match_args__ = (
        "id",
        "type",
        "params",
        "priority",
        "status",
        "progress",
        "message",
        "result",
        "error",
        "traceback",
        "created_at",
        "started_at",
        "finished_at",
        "run_at",
        "attempts",
        "max_attempts",
        "timeout",
        "worker",
        "token",
        "rerun_of",
        "depends_on",
        "cancel_requested",
        "version",
        "updated_at",
        "log_count",
        "queue",
    )
    id: int
    type: str
    params: dict[str, Any]
    priority: Priority
    status: Status
    progress: float
    message: str
    result: Any
    error: str | None
    traceback: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    run_at: float | None
    attempts: int
    max_attempts: int
    timeout: float | None
    worker: str | None
    token: str | None
    rerun_of: int | None
    depends_on: list[int]
    cancel_requested: int
    """0: not asked; CANCEL (1): stop gracefully; FORCE (2): stop at once (cancel --force)."""
    version: int
    updated_at: float
    log_count: int
    queue: str

    def __init__(
        self,
        id: int,
        type: str,
        params: dict[str, Any],
        priority: Priority = Priority.NORMAL,
        status: Status = Status.PENDING,
        progress: float = 0.0,
        message: str = "",
        result: Any = None,
        error: str | None = None,
        traceback: str | None = None,
        created_at: float = 0.0,
        started_at: float | None = None,
        finished_at: float | None = None,
        run_at: float | None = None,
        attempts: int = 0,
        max_attempts: int = 1,
        timeout: float | None = None,
        worker: str | None = None,
        token: str | None = None,
        rerun_of: int | None = None,
        depends_on: list[int] | None = None,
        cancel_requested: int = 0,
        version: int = 0,
        updated_at: float = 0.0,
        log_count: int = 0,
        queue: str = DEFAULT_QUEUE,
    ) -> None:
        self.id = id
        self.type = type
        self.params = params
        self.priority = priority
        self.status = status
        self.progress = progress
        self.message = message
        self.result = result
        self.error = error
        self.traceback = traceback
        self.created_at = created_at
        self.started_at = started_at
        self.finished_at = finished_at
        self.run_at = run_at
        self.attempts = attempts
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.worker = worker
        self.token = token
        self.rerun_of = rerun_of
        self.depends_on = [] if depends_on is None else depends_on  # (default_factory=list)
        self.cancel_requested = cancel_requested
        self.version = version
        self.updated_at = updated_at
        self.log_count = log_count
        self.queue = queue

    def copy(self) -> Job:
        """A snapshot that later changes to this job do not touch."""
        # Hand-written: dataclasses.replace costs ~10x more and runs several times per job.
        return Job(
            self.id,
            self.type,
            dict(self.params),
            self.priority,
            self.status,
            self.progress,
            self.message,
            self.result,
            self.error,
            self.traceback,
            self.created_at,
            self.started_at,
            self.finished_at,
            self.run_at,
            self.attempts,
            self.max_attempts,
            self.timeout,
            self.worker,
            self.token,
            self.rerun_of,
            list(self.depends_on),
            self.cancel_requested,
            self.version,
            self.updated_at,
            self.log_count,
            self.queue,
        )

    @property
    def duration(self) -> float | None:
        """Seconds run so far (or in total once finished); None before it starts."""
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else self.updated_at
        return max(0.0, end - self.started_at)

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON shape of a job (see README, "JSON output")."""
        return {
            "id": self.id,
            "type": self.type,
            "params": self.params,
            "priority": str(self.priority),
            "status": str(self.status),
            "progress": self.progress,
            "message": self.message,
            "result": self.result,
            "error": self.error,
            "traceback": self.traceback,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "run_at": self.run_at,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "timeout": self.timeout,
            "worker": self.worker,
            "rerun_of": self.rerun_of,
            "depends_on": self.depends_on,
            "queue": self.queue,
        }


class NewJob(FrozenRecord):
    """What a submit asks for, already validated; the store turns it into a Job (a frozen
    plain record, as Job)."""

    __slots__ = __match_args__ = (
        "type",
        "params",
        "priority",
        "run_at",
        "depends_on",
        "rerun_of",
        "max_attempts",
        "timeout",
        "queue",
    )
    type: str
    params: dict[str, Any]
    priority: Priority
    run_at: float | None
    depends_on: tuple[int, ...]
    rerun_of: int | None
    max_attempts: int
    timeout: float | None
    queue: str

    def __init__(
        self,
        type: str,
        params: dict[str, Any],
        priority: Priority = Priority.NORMAL,
        run_at: float | None = None,
        depends_on: tuple[int, ...] = (),
        rerun_of: int | None = None,
        max_attempts: int = 1,
        timeout: float | None = None,
        queue: str = DEFAULT_QUEUE,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "type", type)
        set_(self, "params", params)
        set_(self, "priority", priority)
        set_(self, "run_at", run_at)
        set_(self, "depends_on", depends_on)
        set_(self, "rerun_of", rerun_of)
        set_(self, "max_attempts", max_attempts)
        set_(self, "timeout", timeout)
        set_(self, "queue", queue)

    def to_job(self, job_id: int, now: float, version: int = 0) -> Job:
        """The stored Job this submission becomes (status still to be decided by the store)."""
        return Job(
            id=job_id,
            type=self.type,
            params=dict(self.params),
            priority=self.priority,
            created_at=now,
            run_at=self.run_at,
            rerun_of=self.rerun_of,
            depends_on=list(self.depends_on),
            max_attempts=self.max_attempts,
            timeout=self.timeout,
            version=version,
            updated_at=now,
            queue=self.queue,
        )
