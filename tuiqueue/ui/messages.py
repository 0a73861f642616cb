"""What travels between the dashboard's parts: engine batches down, requests up."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message

from tuiqueue.core.job import Job
from tuiqueue.core.status import Priority


@dataclass(frozen=True)
class Batch:
    """Engine changes gathered over one interval (published to screens, ~10 a second at most)."""

    jobs: dict[int, Job] = field(default_factory=dict)
    """The newest snapshot per changed job id."""
    deleted: tuple[int, ...] = ()
    logs: dict[int, list[str]] = field(default_factory=dict)
    """New log lines per job id."""
    resync: bool = False
    """The UI fell behind or many jobs changed at once: reload the window from the engine."""


@dataclass
class QueueChanged(Message):
    """The queue was paused or resumed, or the concurrency changed."""

    paused: bool | None = None
    concurrency: int | None = None


@dataclass
class StatsStale(Message):
    """A screen changed the queue: the stats should be reloaded now."""


@dataclass
class SubmitRequested(Message):
    """The form asks to submit a job: its type, the params it read and the fields' errors."""

    type_name: str | None = None
    """None: no job type chosen yet."""
    params: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    priority: Priority = Priority.NORMAL
    rerun_of: int | None = None
    """The job this one reruns (edit-and-rerun, `e`), linked by the new job's rerun_of."""
    queue: str | None = None
    """The queue it joins (None: the default queue; a rerun keeps the old job's)."""
