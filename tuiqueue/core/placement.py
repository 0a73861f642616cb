"""Why a queued job is not starting: no live worker can run it, or its queue is paused."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from tuiqueue.core.job import Job
from tuiqueue.core.records import WorkerInfo
from tuiqueue.core.status import Status
from tuiqueue.core.text import quote

_STALLABLE = frozenset({Status.PENDING, Status.SCHEDULED})


def live_workers(workers: Sequence[WorkerInfo], now: float, dead_after: float) -> list[WorkerInfo]:
    """The workers that are alive now."""
    return [w for w in workers if w.alive(now, dead_after)]


def describe_workers(live: Sequence[WorkerInfo]) -> str:
    """The live workers' types (and queues) in a few words, for a waiting reason."""
    if not live:
        return "no worker is running"
    types = sorted({t for w in live for t in (w.types or ())})
    every = any(w.types is None for w in live)
    text = ", ".join(quote(t) for t in types[:12]) + (", …" if len(types) > 12 else "")
    plural = "s" if len(live) != 1 else ""
    what = "any type (older tuiqueue)" if every and not types else f"types {text or 'none'}"
    return f"{len(live)} live worker{plural} with {what}"


def waiting_reason(
    job: Job, live: Sequence[WorkerInfo], paused_queues: Collection[str] = ()
) -> str | None:
    """Why this queued job is not started, or None when a live worker would take it."""
    if job.status not in _STALLABLE:
        return None
    if job.queue in paused_queues:
        return f"queue {job.queue} is paused"
    if any(w.can_run(job.type, job.queue) for w in live):
        return None
    if any(w.types is None or job.type in w.types for w in live):
        takes = sorted({q for w in live for q in (w.queues or ())})
        return (
            f"waiting for a worker that takes queue {job.queue} "
            f"(live workers take: {', '.join(takes) or 'none'})"
        )
    return f"waiting for a worker with type {quote(job.type)} ({describe_workers(live)})"


def waiting_reasons(
    jobs: Sequence[Job],
    workers: Sequence[WorkerInfo],
    paused_queues: Collection[str],
    now: float,
    dead_after: float,
) -> dict[int, str]:
    """Why each of these queued jobs is not started (only those that have a reason)."""
    live = live_workers(workers, now, dead_after)
    out = {}
    for job in jobs:
        reason = waiting_reason(job, live, paused_queues)
        if reason:
            out[job.id] = reason
    return out
