"""Messages the engine pump posts to the app and its screens."""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message

from tuiqueue.core.job import Job


@dataclass
class JobsChanged(Message):
    """A batch of job snapshots (newest per id) and deleted ids, at most ~10 a second."""

    jobs: dict[int, Job] = field(default_factory=dict)
    deleted: tuple[int, ...] = ()


@dataclass
class LogsArrived(Message):
    """New log lines per job id."""

    lines: dict[int, list[str]] = field(default_factory=dict)


@dataclass
class QueueChanged(Message):
    """The queue was paused or resumed, or the concurrency changed."""

    paused: bool | None = None
    concurrency: int | None = None


@dataclass
class Resync(Message):
    """The UI fell behind or many jobs changed at once: reload from the engine."""


@dataclass
class SubmitRequested(Message):
    """The form asks to submit its job."""
