"""tuiqueue: run, queue and watch jobs from your terminal."""

from __future__ import annotations

import logging

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

# A library logs, it does not print: nothing reaches stderr unless the application (or the
# user, with logging.basicConfig) configures logging.
logging.getLogger("tuiqueue").addHandler(logging.NullHandler())

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
