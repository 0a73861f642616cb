"""Rows a claim promotes or fails reach every change feed, the claiming process's too."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.test_store_conformance import NOW, new, redis_reachable
from tuiqueue.core.lifecycle import Outcome
from tuiqueue.core.queues import ClaimScope
from tuiqueue.core.status import Status
from tuiqueue.store.base import Store
from tuiqueue.store.memory import MemoryStore
from tuiqueue.store.sqlite import SqliteStore

pytestmark = pytest.mark.anyio

REDIS_URL = "redis://127.0.0.1:6379/5"
"""This file's Redis db; keys are isolated by prefix and deleted after, never flushed."""


@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh, open store of each kind."""
    if request.param == "memory":
        yield MemoryStore()
        return
    if request.param == "sqlite":
        sqlite = SqliteStore(tmp_path / "jobs.db")
        await sqlite.open()
        yield sqlite
        await sqlite.close()
        return
    if not redis_reachable():
        pytest.skip("no Redis server at 127.0.0.1:6379")
    from tuiqueue.store.redis import RedisStore

    redis = RedisStore(REDIS_URL, prefix=f"tqtest14:{uuid.uuid4().hex[:8]}:")
    await redis.open()
    try:
        yield redis
    finally:
        keys = [k async for k in redis.client.scan_iter(match=redis.prefix + "*", count=1000)]
        if keys:
            await redis.client.delete(*keys)
        await redis.close()


async def _feed_after_claim(store: Store, since: int) -> dict[int, Status]:
    """What a watcher in the claiming process learns: nothing if the store says every
    change since was its own (the watcher then skips changes()), else the change feed."""
    if store.only_own_changes(since, await store.version()):
        return {}
    return {job.id: job.status for job in (await store.changes(since)).jobs}


@pytest.mark.parametrize("both", [False, True], ids=["claim", "finish_and_claim"])
async def test_a_dependent_failed_by_a_claim_is_in_the_feed(store: Store, both: bool) -> None:
    """Issue 14: cancel a job, the next claim fails its dependent; a dashboard whose engine
    made that claim showed it waiting for ever (the claim's version counted as its own)."""
    (a,) = await store.add([new()], NOW)
    (b,) = await store.add([new(depends_on=(a.id,))], NOW)
    await store.command(a.id, "cancel", NOW)
    since = await store.version()
    if both:
        await store.finish_and_claim([], "w1", 4, NOW + 1)
    else:
        await store.claim("w1", 4, NOW + 1)
    failed = await store.get(b.id)
    assert failed is not None and failed.status is Status.FAILED
    assert (await _feed_after_claim(store, since)).get(b.id) is Status.FAILED


async def test_a_dependent_released_by_a_claim_is_in_the_feed(store: Store) -> None:
    """A waiting job whose dependency completed becomes pending in a claim: in the feed."""
    (a,) = await store.add([new()], NOW)
    (b,) = await store.add([new(type="other", depends_on=(a.id,))], NOW)
    (run,) = await store.claim("w1", 1, NOW)
    await store.finish([Outcome(a.id, run.token or "", Status.COMPLETED)], NOW)
    since = await store.version()
    await store.claim("w1", 4, NOW + 1, ClaimScope(types=frozenset({"echo"})))
    assert (await _feed_after_claim(store, since)).get(b.id) is Status.PENDING


async def test_a_scheduled_job_made_due_by_a_claim_is_in_the_feed(store: Store) -> None:
    """A scheduled job whose time came becomes pending in a claim: in the feed."""
    (a,) = await store.add([new(type="other", run_at=NOW + 5)], NOW)
    since = await store.version()
    await store.claim("w1", 4, NOW + 10, ClaimScope(types=frozenset({"echo"})))
    assert (await _feed_after_claim(store, since)).get(a.id) is Status.PENDING
