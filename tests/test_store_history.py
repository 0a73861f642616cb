"""The finished-jobs history (the Stats view's data), run against every store (the
conformance suite's fixture: memory, SQLite, Redis, PostgreSQL)."""

from __future__ import annotations

import sys

import pytest

from tests import test_store_conformance
from tuiqueue.core.history import History, percentile, window_start
from tuiqueue.core.job import NewJob
from tuiqueue.core.lifecycle import Outcome
from tuiqueue.core.status import Status
from tuiqueue.store.base import Store

pytestmark = pytest.mark.anyio

T0 = 1_699_999_980.0
"""A whole minute: the history's first bucket starts here."""

store = test_store_conformance.store
"""Every store (the conformance suite's fixture, PostgreSQL too)."""


async def run(store: Store, type: str, start: float, end: float, status: Status) -> int:
    """Add a job, claim it at start and finish it with status at end; its id."""
    (job,) = await store.add([NewJob(type, {"n": 1})], T0 - 100)
    (claimed,) = await store.claim("w1", 1, start)
    assert claimed.id == job.id
    await store.finish([Outcome(job.id, claimed.token or "", status, error="x")], end)
    return job.id


async def test_counts_per_minute_per_type_and_run_times(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis = sys.modules.get("tuiqueue.store.redis")
    if redis is not None and isinstance(store, redis.RedisStore):
        monkeypatch.setattr(redis, "HISTORY_PAGE", 2)  # several pages per status
    await run(store, "echo", T0 - 20, T0 - 10, Status.COMPLETED)  # before the window
    await run(store, "echo", T0 + 5, T0 + 10, Status.COMPLETED)  # minute 0, 5 s
    await run(store, "echo", T0 + 61, T0 + 65, Status.COMPLETED)  # minute 1, 4 s
    await run(store, "echo", T0 + 62, T0 + 70, Status.FAILED)  # minute 1
    await run(store, "primes", T0 + 100, T0 + 130, Status.COMPLETED)  # minute 2, 30 s
    (cancelled,) = await store.add([NewJob("primes", {"n": 1})], T0)
    await store.command(cancelled.id, "cancel", T0 + 150)  # minute 2, never ran
    await run(store, "echo", T0 + 150, T0 + 900, Status.COMPLETED)  # after `now`
    await store.add([NewJob("echo", {"n": 1})], T0)
    await store.claim("w1", 1, T0 + 160)  # running: not finished

    history = await store.finished_history(T0, T0 + 200)

    assert history.completed == (1, 1, 1, 0)
    assert history.failed == (0, 1, 0, 0)
    assert history.cancelled == (0, 0, 1, 0)
    echo, primes = history.types
    assert (echo.type, echo.completed, echo.failed, echo.cancelled) == ("echo", 2, 1, 0)
    assert (primes.type, primes.completed, primes.failed, primes.cancelled) == ("primes", 1, 0, 1)
    assert echo.p50 == pytest.approx(4.5) and echo.p95 == pytest.approx(4.95)
    assert primes.p50 == pytest.approx(30.0) and primes.success_rate == 1.0
    assert echo.success_rate == pytest.approx(2 / 3)
    overall = history.overall
    assert (overall.completed, overall.failed, overall.cancelled) == (3, 1, 1)
    assert overall.success_rate == pytest.approx(0.75)
    assert overall.p50 == pytest.approx(5.0) and overall.p95 == pytest.approx(27.5)
    assert overall.timed == 3 and not history.sampled and not history.empty
    shape = history.to_dict()
    assert shape["completed"] == [1, 1, 1, 0] and shape["types"][0]["type"] == "echo"
    assert shape["overall"]["success_rate"] == pytest.approx(0.75)


async def test_empty_history(store: Store) -> None:
    await store.add([NewJob("echo", {"n": 1})], T0)
    history = await store.finished_history(window_start(T0 + 30), T0 + 30)
    assert history.empty and history.types == ()
    assert history.completed == (0,) * 60 and history.overall.p50 is None
    assert history.overall.success_rate is None


async def test_run_times_come_from_the_newest_completed_jobs(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tuiqueue.store.base.DURATIONS_MAX", 2)
    await run(store, "echo", T0, T0 + 100, Status.COMPLETED)  # 100 s, the oldest
    await run(store, "echo", T0 + 110, T0 + 111, Status.COMPLETED)
    await run(store, "echo", T0 + 120, T0 + 123, Status.COMPLETED)
    history = await store.finished_history(T0, T0 + 200)
    assert history.sampled and history.overall.timed == 2
    assert history.overall.completed == 3  # counts are never sampled
    assert history.overall.p50 == pytest.approx(2.0)


def test_percentile_and_window() -> None:
    assert percentile([1.0], 0.95) == 1.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == pytest.approx(2.5)
    assert window_start(T0 + 59.9) == T0 - 59 * 60
    built = History.build(T0, T0 + 60, 60.0, [], [])
    assert built.completed == (0,) and built.empty
