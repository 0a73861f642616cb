"""tuiqueue: run, queue and watch jobs from your terminal."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuiqueue.core.context import JobCancelled, JobContext, JobFailed
    from tuiqueue.core.events import Event, EventKind
    from tuiqueue.core.job import Job, NewJob
    from tuiqueue.core.lifecycle import UnknownJob
    from tuiqueue.core.params import Param, ValidationError
    from tuiqueue.core.records import Stats
    from tuiqueue.core.registry import REGISTRY, JobType, Registry, UnknownJobType, job_type
    from tuiqueue.core.schedule import Schedule, ScheduleError, UnknownSchedule
    from tuiqueue.core.status import Priority, Status, TransitionError
    from tuiqueue.engine.engine import Engine
    from tuiqueue.store import Store, StoreError, open_store

# Imported on first use (PEP 562): `tuiqueue submit` and the other short commands load the
# package on every run, and most of them never need the engine.
_LAZY = {
    "JobCancelled": "tuiqueue.core.context",
    "JobContext": "tuiqueue.core.context",
    "JobFailed": "tuiqueue.core.context",
    "Schedule": "tuiqueue.core.schedule",
    "ScheduleError": "tuiqueue.core.schedule",
    "UnknownSchedule": "tuiqueue.core.schedule",
    "Event": "tuiqueue.core.events",
    "EventKind": "tuiqueue.core.events",
    "Job": "tuiqueue.core.job",
    "NewJob": "tuiqueue.core.job",
    "UnknownJob": "tuiqueue.core.lifecycle",
    "Param": "tuiqueue.core.params",
    "ValidationError": "tuiqueue.core.params",
    "Stats": "tuiqueue.core.records",
    "REGISTRY": "tuiqueue.core.registry",
    "JobType": "tuiqueue.core.registry",
    "Registry": "tuiqueue.core.registry",
    "UnknownJobType": "tuiqueue.core.registry",
    "job_type": "tuiqueue.core.registry",
    "Priority": "tuiqueue.core.status",
    "Status": "tuiqueue.core.status",
    "TransitionError": "tuiqueue.core.status",
    "Engine": "tuiqueue.engine.engine",
    "Store": "tuiqueue.store",
    "StoreError": "tuiqueue.store",
    "open_store": "tuiqueue.store",
}


def __getattr__(name: str) -> Any:
    """Import a public name's module when the name is first used."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tuiqueue' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


# A library logs, it does not print: tuiqueue's logger gets a NullHandler when the first of
# its modules' loggers is used (core/logs.py; `import logging` is not paid by commands that
# never log).

__version__ = "0.1.0"

__all__ = [
    "REGISTRY",
    "Engine",
    "Event",
    "EventKind",
    "Job",
    "JobCancelled",
    "JobContext",
    "JobFailed",
    "JobType",
    "NewJob",
    "Param",
    "Priority",
    "Registry",
    "Schedule",
    "ScheduleError",
    "Stats",
    "Status",
    "Store",
    "StoreError",
    "TransitionError",
    "UnknownJob",
    "UnknownJobType",
    "UnknownSchedule",
    "ValidationError",
    "__version__",
    "job_type",
    "open_store",
]
