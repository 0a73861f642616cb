"""Pure lifecycle rules shared by every store: commands, outcomes and queued statuses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from tuiqueue.core.job import Job
from tuiqueue.core.status import (
    ACTIVE,
    QUEUED,
    TERMINAL,
    Priority,
    Status,
    TransitionError,
    check_transition,
)

Command = Literal["cancel", "kill", "pause", "resume"]
"""kill: cancel --force (a running job is stopped at once, not asked)."""

CANCEL = 1
"""Job.cancel_requested: stop gracefully (checkpoint raises, SIGTERM, then forced)."""
FORCE = 2
"""Job.cancel_requested: stop at once (process group killed, task cancelled)."""


class UnknownJob(LookupError):
    """No job with that id exists in the store."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        super().__init__(f"no job with id {job_id} (see `tuiqueue list`)")


class ReadOnly(PermissionError):
    """A watch-only view (`--read-only`) was asked to change something; nothing changed."""

    def __init__(self, what: str = "change jobs") -> None:
        super().__init__(
            f"read-only: this view cannot {what} (open it without --read-only to steer)"
        )


class Outcome(NamedTuple):
    """How one run ended, as the worker reports it to the store."""

    # A NamedTuple, not a frozen dataclass: one is built per job, and a frozen dataclass's
    # __init__ (object.__setattr__ per field) cost twice as much.

    job_id: int
    token: str
    status: Status
    result: Any = None
    error: str | None = None
    traceback: str | None = None
    run_at: float | None = None
    """For a retry (status SCHEDULED): when to run again."""
    progress: float | None = None
    message: str | None = None


def queued_status(job: Job, now: float, dep_status: Mapping[int, Status | None]) -> Status:
    """Where a not-yet-started job belongs: waiting on deps, scheduled for later, or pending."""
    if any(dep_status.get(dep) is not Status.COMPLETED for dep in job.depends_on):
        return Status.WAITING
    if job.run_at is not None and job.run_at > now:
        return Status.SCHEDULED
    return Status.PENDING


def dependency_failure(job: Job, dep_status: Mapping[int, Status | None]) -> str | None:
    """Why a waiting job can never run (a dependency failed, was cancelled or deleted)."""
    for dep in job.depends_on:
        status = dep_status.get(dep)
        if status is None:
            return f"dependency job {dep} no longer exists"
        if status in (Status.FAILED, Status.CANCELLED):
            return f"dependency job {dep} {status}"
    return None


def apply_command(
    job: Job, command: Command, now: float, dep_status: Mapping[int, Status | None]
) -> bool:
    """Apply cancel/pause/resume to job in place; False when nothing changed; raise if illegal."""
    started = job.status in ACTIVE and job.token is not None
    if command in ("cancel", "kill"):
        if job.status in TERMINAL:
            raise TransitionError(f"job {job.id} is already {job.status}")
        if started:
            level = FORCE if command == "kill" else CANCEL
            if job.cancel_requested >= level:
                return False
            job.cancel_requested = level  # its worker stops it and records the cancel
            return True
        job.status = Status.CANCELLED
        job.finished_at = now
        job.message = "cancelled before it started"
        return True
    if command == "pause":
        if job.status is Status.PAUSED:
            return False
        check_transition(job.id, job.status, Status.PAUSED)
        job.status = Status.PAUSED
        return True
    # resume
    if job.status is not Status.PAUSED:
        if job.status in TERMINAL:
            raise TransitionError(f"job {job.id} is already {job.status}")
        if job.status in QUEUED or job.status is Status.RUNNING:
            return False
    job.status = Status.RUNNING if started else queued_status(job, now, dep_status)
    return True


def apply_priority(job: Job, priority: Priority) -> bool:
    """Change a job's priority in place before it starts; False when it already has it."""
    if job.status not in QUEUED and not (job.status is Status.PAUSED and job.token is None):
        raise TransitionError(
            f"job {job.id} is {job.status}; only a job that has not started can change priority"
        )
    if job.priority is priority:
        return False
    job.priority = priority
    return True


def apply_outcome(job: Job, outcome: Outcome, now: float) -> bool:
    """Record how a run ended; False (and no change) if the run's token is stale."""
    if job.token != outcome.token or job.status not in ACTIVE:
        return False
    job.status = outcome.status
    job.worker = job.worker if outcome.status in TERMINAL else None
    job.token = None
    job.cancel_requested = 0
    if outcome.progress is not None:
        job.progress = outcome.progress
    if outcome.message is not None:
        job.message = outcome.message
    if outcome.status in TERMINAL:
        job.finished_at = now
        job.result = outcome.result
        job.error = outcome.error
        job.traceback = outcome.traceback
    else:
        job.run_at = outcome.run_at
        job.error = outcome.error
        job.traceback = outcome.traceback
    return True
