"""Claim scopes and queues, the same on every store: memory, SQLite and Redis (db 11)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.pg_support import SKIP_REASON, drop_schema, fresh_url, pg_reachable
from tests.test_store_conformance import NOW, redis_reachable
from tuiqueue.core.job import NewJob
from tuiqueue.core.lifecycle import Outcome
from tuiqueue.core.queues import ClaimScope, QueueInfo
from tuiqueue.core.records import WorkerInfo
from tuiqueue.core.status import Priority, Status
from tuiqueue.store.base import Store
from tuiqueue.store.memory import MemoryStore
from tuiqueue.store.sqlite import SqliteStore

pytestmark = pytest.mark.anyio

REDIS_URL = "redis://127.0.0.1:6379/11"


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh, open store of each kind (Redis: a key prefix of its own; PostgreSQL: a
    schema of its own)."""
    if request.param == "postgres":
        if not pg_reachable():
            pytest.skip(SKIP_REASON)
        from tuiqueue.store.postgres import PostgresStore

        url = fresh_url()
        pg = PostgresStore(url)
        await pg.open()
        try:
            yield pg
        finally:
            await pg.close()
            drop_schema(url)
        return
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

    redis = RedisStore(REDIS_URL, prefix=f"tqq:{uuid.uuid4().hex[:8]}:")
    await redis.open()
    try:
        yield redis
    finally:
        keys = [k async for k in redis.client.scan_iter(match=redis.prefix + "*", count=1000)]
        if keys:
            await redis.client.delete(*keys)
        await redis.close()


def job(type: str = "a", queue: str = "default", **kw: object) -> NewJob:
    """A NewJob of a type in a queue."""
    return NewJob(type, {}, queue=queue, **kw)  # type: ignore[arg-type]


async def test_a_claim_takes_only_its_types_in_run_order(store: Store) -> None:
    added = await store.add(
        [
            job("x"),
            job("a"),
            job("b", priority=Priority.HIGH),
            job("x", priority=Priority.CRITICAL),
            job("a", priority=Priority.HIGH),
            job("b"),
        ],
        NOW,
    )
    ids = [j.id for j in added]
    got = await store.claim("w", 10, NOW, ClaimScope.of(["a", "b"]))
    assert [j.id for j in got] == [ids[2], ids[4], ids[1], ids[5]]
    assert {j.type for j in got} == {"a", "b"}
    assert await store.claim("w", 10, NOW, ClaimScope.of(["a", "b"])) == []
    assert await store.claim("w", 10, NOW, ClaimScope.of([])) == []
    rest = await store.claim("w", 10, NOW, ClaimScope.of(["x", "nothing"]))
    assert [j.id for j in rest] == [ids[3], ids[0]]


async def test_a_typed_claim_takes_the_best_across_queues_and_types(store: Store) -> None:
    # (PostgreSQL claims such a scope as the first rows of each (queue, type) pair: the
    # best `limit` of all pairs must come out, in run order, and never a paused queue's.)
    added = await store.add(
        [
            job("a", "q1", priority=Priority.LOW),
            job("b", "q2", priority=Priority.HIGH),
            job("b", "q1"),
            job("a", "q3", priority=Priority.CRITICAL),
            job("a", "q2", priority=Priority.HIGH),
            job("a", "q1", priority=Priority.HIGH),
            job("x", "default", priority=Priority.CRITICAL),
            job("b", "q2", priority=Priority.HIGH),
        ],
        NOW,
    )
    ids = [j.id for j in added]
    await store.pause_queue("q3", True)
    scope = ClaimScope.of(["a", "b"])
    got = await store.claim("w", 3, NOW, scope)
    assert [j.id for j in got] == [ids[1], ids[4], ids[5]]
    got = await store.claim("w", 10, NOW, scope)
    assert [j.id for j in got] == [ids[7], ids[2], ids[0]]
    assert await store.claim("w", 10, NOW, scope) == []
    assert await store.claim("w", 10, NOW, ClaimScope.of(["a"], ["q1", "q3"])) == []
    await store.pause_queue("q3", False)
    got = await store.claim("w", 10, NOW, ClaimScope.of(["a", "x"], ["q3", "default"]))
    assert [j.id for j in got] == [ids[3], ids[6]]


async def test_a_typed_claim_takes_types_with_quotes_and_backslashes(store: Store) -> None:
    # (PostgreSQL writes a claim's type names into its statement: they must stay text.)
    odd = ["it's", "back\\slash", "\\'; SELECT 1; --", "e'\\x41'"]
    added = await store.add([job(t) for t in [*odd, "plain"]], NOW)
    got = await store.claim("w", 10, NOW, ClaimScope.of(odd))
    assert [(j.id, j.type) for j in got] == [(j.id, j.type) for j in added[:4]]
    assert [j.type for j in await store.claim("w", 10, NOW, ClaimScope.of(["plain"]))] == ["plain"]


async def test_a_claim_takes_only_its_queues(store: Store) -> None:
    added = await store.add([job(queue="q1"), job(queue="q2"), job(), job(queue="q1")], NOW)
    assert [j.queue for j in added] == ["q1", "q2", "default", "q1"]
    got = await store.claim("w", 10, NOW, ClaimScope.of(None, ["q1"]))
    assert [(j.id, j.queue) for j in got] == [(added[0].id, "q1"), (added[3].id, "q1")]
    stored = await store.get(added[1].id)
    assert stored is not None and stored.queue == "q2" and stored.to_dict()["queue"] == "q2"
    assert [j.id for j in await store.list_jobs(queue="q2")] == [added[1].id]
    got = await store.claim("w", 10, NOW)
    assert [j.id for j in got] == [added[1].id, added[2].id]


async def test_a_paused_queue_gives_nothing_and_resumes(store: Store) -> None:
    held, free = await store.add([job(queue="held"), job(queue="free")], NOW)
    await store.pause_queue("held", True)
    assert [j.id for j in await store.claim("w", 10, NOW)] == [free.id]
    assert await store.claim("w", 10, NOW) == []
    infos = {q.name: q for q in await store.queues()}
    assert infos["held"] == QueueInfo("held", paused=True, pending=1)
    assert infos["free"].running == 1
    await store.pause_queue("held", False)
    assert [j.id for j in await store.claim("w", 10, NOW)] == [held.id]


async def test_a_typed_claim_takes_a_capped_queues_best_up_to_its_cap(store: Store) -> None:
    added = await store.add(
        [
            job("a", "cap"),
            job("b", "cap", priority=Priority.HIGH),
            job("a", priority=Priority.CRITICAL),
            job("b", "cap"),
            job("a", priority=Priority.LOW),
        ],
        NOW,
    )
    ids = [j.id for j in added]
    await store.limit_queue("cap", 2)
    got = await store.claim("w1", 10, NOW, ClaimScope.of(["a", "b"]))
    assert [j.id for j in got] == [ids[2], ids[1], ids[0], ids[4]]
    assert await store.claim("w2", 10, NOW, ClaimScope.of(["a", "b"], ["cap"])) == []
    await store.limit_queue("cap", 3)
    got = await store.claim("w2", 10, NOW, ClaimScope.of(["a", "b"], ["cap", "default"]))
    assert [j.id for j in got] == [ids[3]]


async def test_a_capped_queue_runs_at_most_its_limit_across_workers(store: Store) -> None:
    added = await store.add([job("a", "cap") for _ in range(3)] + [job("b", "cap")], NOW)
    await store.add([job("a") for _ in range(3)], NOW)
    await store.limit_queue("cap", 2)
    first = await store.claim("w1", 10, NOW)
    assert sum(j.queue == "cap" for j in first) == 2 and len(first) == 5
    assert await store.claim("w2", 10, NOW) == []  # another worker: the cap is the queue's
    done = next(j for j in first if j.queue == "cap")
    assert done.token is not None
    finished, claimed = await store.finish_and_claim(
        [Outcome(done.id, done.token, Status.COMPLETED)], "w2", 10, NOW
    )
    assert [j.id for j in finished] == [done.id]
    assert [j.id for j in claimed] == [added[2].id]
    infos = {q.name: q for q in await store.queues()}
    assert infos["cap"] == QueueInfo("cap", limit=2, running=2, pending=1)
    await store.limit_queue("cap", None)
    assert [j.id for j in await store.claim("w2", 10, NOW)] == [added[3].id]
    assert {q.name: q.limit for q in await store.queues()}["cap"] is None


async def test_the_global_pause_still_pauses_every_queue(store: Store) -> None:
    await store.add([job(queue="q1"), job()], NOW)
    await store.set_queue_paused(True)
    assert await store.claim("w", 10, NOW) == []
    await store.set_queue_paused(False)
    assert len(await store.claim("w", 10, NOW)) == 2


async def test_has_work_sees_only_the_scope(store: Store) -> None:
    await store.add([job("a", "q1")], NOW)
    assert await store.has_work(ClaimScope.of(["a"]))
    assert not await store.has_work(ClaimScope.of(["b"]))
    assert not await store.has_work(ClaimScope.of(["a"], ["q2"]))
    assert await store.has_work(ClaimScope.of(None, ["q1"]))


async def test_workers_are_registered_with_their_types_and_queues(store: Store) -> None:
    info = WorkerInfo("w1", "host", 1, 2, NOW, NOW, types=("a", "b"), queues=("q1",))
    await store.register_worker(info)
    other = WorkerInfo("w2", "host", 2, 2, NOW + 1, NOW + 1)
    await store.register_worker(other)
    got = {w.id: w for w in await store.workers()}
    assert got["w1"].types == ("a", "b") and got["w1"].queues == ("q1",)
    assert got["w2"].types is None and got["w2"].queues is None
    assert got["w1"].can_run("a", "q1") and not got["w1"].can_run("a", "default")
    assert not got["w1"].can_run("c", "q1") and got["w2"].can_run("c", "any")


async def test_a_sqlite_file_of_schema_3_gains_queues(tmp_path: Path) -> None:
    import sqlite3

    from tuiqueue.store.sqlite_schema import MIGRATIONS

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for version in (1, 2, 3):
        conn.executescript(MIGRATIONS[version])
    conn.execute(
        "INSERT INTO jobs (type, params, priority, status, created_at, version, updated_at) "
        "VALUES ('a', '{}', 1, 'pending', 1, 1, 1)"
    )
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    store = SqliteStore(path)
    await store.open()
    try:
        [old] = await store.claim("w", 5, NOW, ClaimScope.of(["a"], ["default"]))
        assert old.queue == "default"
    finally:
        await store.close()


@pytest.mark.redis
async def test_a_redis_store_written_before_queues_is_upgraded_on_open() -> None:
    if not redis_reachable():
        pytest.skip("no Redis server at 127.0.0.1:6379")
    from tuiqueue.store.redis import RedisStore

    prefix = f"tqq:{uuid.uuid4().hex[:8]}:"
    store = RedisStore(REDIS_URL, prefix=prefix)
    await store.open()
    try:
        first, second = await store.add([job("a"), job("b", priority=Priority.HIGH)], NOW)
        # The layout of before: one ready set, no queue field, no per-queue sets.
        c = store.client
        await c.zadd(prefix + "pending", {str(first.id): 1e12 * 2 + first.id})
        await c.zadd(prefix + "pending", {str(second.id): 1e12 + second.id})
        await c.delete(prefix + "ready", prefix + "r:default:a", prefix + "r:default:b")
        await c.hdel(f"{prefix}job:{first.id}", "queue")
        await store.close()
        await store.open()
        assert not await store.client.exists(prefix + "pending")
        got = await store.claim("w", 5, NOW, ClaimScope.of(["a", "b"]))
        assert [(j.id, j.queue) for j in got] == [(second.id, "default"), (first.id, "default")]
    finally:
        keys = [k async for k in store.client.scan_iter(match=prefix + "*", count=1000)]
        if keys:
            await store.client.delete(*keys)
        await store.close()


async def test_a_sqlite_file_of_schema_9_gets_the_pending_only_claim_index(tmp_path: Path) -> None:
    """Schema 10: jobs_claim holds only pending rows; a file of 9 keeps its jobs, is claimed
    in run order, and every claim query reads the new index, never a scan of the table."""
    import sqlite3

    from tuiqueue.store import sqlite_claims
    from tuiqueue.store.sqlite_schema import MIGRATIONS

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for version in range(1, 10):
        conn.executescript(MIGRATIONS[version])
    rows = [("a", 1, "pending"), ("a", 3, "pending"), ("b", 1, "running"), ("a", 2, "completed")]
    conn.executemany(
        "INSERT INTO jobs (type, params, priority, status, created_at, version, updated_at) "
        "VALUES (?, '{}', ?, ?, 1, 1, 1)",
        rows,
    )
    conn.execute("PRAGMA user_version = 9")
    conn.commit()
    conn.close()
    store = SqliteStore(path)
    await store.open()
    try:
        [info] = await store.queues()
        assert (info.pending, info.running) == (2, 1)
        assert await store.has_work(ClaimScope.of(["a"], ["default"]))
        claimed = await store.claim("w", 5, NOW, ClaimScope.of(["a"], ["default"]))
        assert [j.id for j in claimed] == [2, 1]  # priority 3 first
        assert [j.status for j in await store.list_jobs()] == [
            Status.COMPLETED,
            Status.RUNNING,
            Status.RUNNING,
            Status.RUNNING,
        ]
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    try:
        (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'jobs_claim'").fetchone()
        assert "WHERE status = 'pending'" in sql
        scope = ClaimScope.of(["a", "b"], ["default"])
        picked = sqlite_claims._pick(conn, scope, 8)
        assert picked is not None
        queries = [
            (sqlite_claims._DISTINCT_QUEUES, []),
            (sqlite_claims._DISTINCT_TYPES, ["default"]),
            picked,
        ]
        for query, args in queries:
            plan = " / ".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {query}", args))
            assert "jobs_claim" in plan and "SCAN jobs" not in plan, plan
    finally:
        conn.close()
