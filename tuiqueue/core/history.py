"""The recent past of a store: jobs finished per minute, per type, and how long they took.

A store counts its finished jobs in buckets (SQL aggregates where it has SQL) and hands
over the run times of the newest completed ones; `History.build` turns both into the
record the Stats view draws, so every store means the same by each number.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, NamedTuple

from tuiqueue.core.plain import FrozenRecord
from tuiqueue.core.status import Status

BUCKET = 60.0
"""Seconds per bucket of the history: one a minute."""

WINDOW_BUCKETS = 60
"""Buckets the Stats view shows: the last hour, the current minute being the last."""

DURATIONS_MAX = 10_000
"""Run times of at most this many of the newest completed jobs feed the percentiles: a
busy hour's 10^5 jobs are not all read every few seconds."""

FINISHED = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)
"""The final statuses a history counts, in the order it shows them."""


class FinishedCount(NamedTuple):
    """How many jobs of one type reached one final status in one bucket (a store's row)."""

    bucket: int
    """Whole buckets between the history's start and the job's finished_at."""
    type: str
    status: Status
    jobs: int


def window_start(now: float, buckets: int = WINDOW_BUCKETS, width: float = BUCKET) -> float:
    """Where a history of `buckets` buckets ending with the current one starts: aligned to
    whole minutes, so a bucket keeps its jobs as the view refreshes."""
    return (math.floor(now / width) - (buckets - 1)) * width


def percentile(ordered: list[float], fraction: float) -> float:
    """The value below which `fraction` of the sorted, non-empty values lie, interpolated
    between neighbours (PostgreSQL's percentile_cont, numpy's default)."""
    at = (len(ordered) - 1) * fraction
    low = math.floor(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


class TypeHistory(FrozenRecord):
    """One job type's (or every type's) finished jobs over a history."""

    __slots__ = __match_args__ = ("type", "completed", "failed", "cancelled", "p50", "p95", "timed")
    type: str
    completed: int
    failed: int
    cancelled: int
    p50: float | None
    """Median run time (seconds) of its completed jobs; None when none completed."""
    p95: float | None
    timed: int
    """Completed jobs whose run time fed p50/p95 (fewer than `completed` when sampled)."""

    def __init__(
        self,
        type: str,
        completed: int = 0,
        failed: int = 0,
        cancelled: int = 0,
        p50: float | None = None,
        p95: float | None = None,
        timed: int = 0,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "type", type)
        set_(self, "completed", completed)
        set_(self, "failed", failed)
        set_(self, "cancelled", cancelled)
        set_(self, "p50", p50)
        set_(self, "p95", p95)
        set_(self, "timed", timed)

    @property
    def finished(self) -> int:
        """Jobs that reached any final status."""
        return self.completed + self.failed + self.cancelled

    @property
    def success_rate(self) -> float | None:
        """Completed out of completed or failed, 0..1 (cancelled jobs are neither a success
        nor a failure of the job); None when none did either."""
        ran = self.completed + self.failed
        return self.completed / ran if ran else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of one type's history."""
        return {
            "type": self.type,
            "completed": self.completed,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "success_rate": self.success_rate,
            "p50": self.p50,
            "p95": self.p95,
        }


class History(FrozenRecord):
    """Finished jobs between `since` and `now`: per bucket, per type and overall."""

    __slots__ = __match_args__ = (
        "since",
        "now",
        "width",
        "completed",
        "failed",
        "cancelled",
        "types",
        "overall",
        "sampled",
    )
    since: float
    now: float
    width: float
    completed: tuple[int, ...]
    """Jobs completed in each bucket, oldest bucket first."""
    failed: tuple[int, ...]
    cancelled: tuple[int, ...]
    types: tuple[TypeHistory, ...]
    """Per type, the most finished first (then by name)."""
    overall: TypeHistory
    """Every type together (its type is "")."""
    sampled: bool
    """Whether the percentiles come from the newest DURATIONS_MAX completed jobs only."""

    def __init__(
        self,
        since: float,
        now: float,
        width: float,
        completed: tuple[int, ...],
        failed: tuple[int, ...],
        cancelled: tuple[int, ...],
        types: tuple[TypeHistory, ...],
        overall: TypeHistory,
        sampled: bool = False,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "since", since)
        set_(self, "now", now)
        set_(self, "width", width)
        set_(self, "completed", completed)
        set_(self, "failed", failed)
        set_(self, "cancelled", cancelled)
        set_(self, "types", types)
        set_(self, "overall", overall)
        set_(self, "sampled", sampled)

    @property
    def empty(self) -> bool:
        """Whether no job finished in the history."""
        return self.overall.finished == 0

    @classmethod
    def build(
        cls,
        since: float,
        now: float,
        width: float,
        counts: Iterable[FinishedCount],
        durations: Iterable[tuple[str, float]],
        *,
        sampled: bool = False,
    ) -> History:
        """The history from a store's bucket counts and (type, run time) pairs of its newest
        completed jobs; counts outside the buckets are dropped."""
        size = max(1, math.ceil((now - since) / width))
        per_status = {status: [0] * size for status in FINISHED}
        per_type: dict[str, dict[Status, int]] = {}
        for bucket, type, status, count in counts:
            if status not in per_status or count <= 0:
                continue
            # finished_at == now at a bucket boundary lands one past the last bucket.
            bucket = min(bucket, size - 1)
            if bucket < 0:
                continue
            per_status[status][bucket] += count
            mine = per_type.setdefault(type, dict.fromkeys(FINISHED, 0))
            mine[status] += count
        times: dict[str, list[float]] = {}
        for type, seconds in durations:
            times.setdefault(type, []).append(max(0.0, seconds))
        everyone = sorted(t for ts in times.values() for t in ts)

        def summary(type: str, n: dict[Status, int], ordered: list[float]) -> TypeHistory:
            return TypeHistory(
                type,
                n[Status.COMPLETED],
                n[Status.FAILED],
                n[Status.CANCELLED],
                percentile(ordered, 0.5) if ordered else None,
                percentile(ordered, 0.95) if ordered else None,
                len(ordered),
            )

        types = [summary(type, n, sorted(times.get(type, ()))) for type, n in per_type.items()]
        types.sort(key=lambda t: (-t.finished, t.type))
        total = {status: sum(per_status[status]) for status in FINISHED}
        return cls(
            since,
            now,
            width,
            tuple(per_status[Status.COMPLETED]),
            tuple(per_status[Status.FAILED]),
            tuple(per_status[Status.CANCELLED]),
            tuple(types),
            summary("", total, everyone),
            sampled,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a history."""
        return {
            "since": self.since,
            "now": self.now,
            "bucket_seconds": self.width,
            "completed": list(self.completed),
            "failed": list(self.failed),
            "cancelled": list(self.cancelled),
            "overall": self.overall.to_dict(),
            "types": [t.to_dict() for t in self.types],
            "sampled": self.sampled,
        }
