"""The queue window's order: which jobs the table keeps, and in what order."""

from __future__ import annotations

from tuiqueue.core.job import Job
from tuiqueue.core.status import ACTIVE, QUEUED, TERMINAL, Status

MAX_KEPT = 500
"""Queued rows, and finished rows, kept in the window: the next queued jobs to run and the
newest finished ones; the rest are dropped as jobs arrive (they are paged back in with End)."""

GROUPS: tuple[frozenset[Status], ...] = (QUEUED, TERMINAL)
"""The groups kept up to a cap, in queue order (active jobs are all kept)."""

NEWEST_FIRST: tuple[bool, ...] = (False, True)
"""How each group is paged in: queued jobs oldest first (the next to run), finished ones
newest first."""

REFILL_BELOW = 50
"""Fewer queued jobs than this in the window (they started running) pages in the next ones."""


def group_key(job: Job) -> tuple[int, int, int]:
    """Running first, then queued (by priority, oldest first), then finished newest first."""
    if job.status in ACTIVE:
        return (0, 0, job.id)
    if job.status in QUEUED:
        return (1, -int(job.priority), job.id)
    return (2, 0, -job.id)
