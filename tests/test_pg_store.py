"""What only the PostgreSQL store has: its schema (own name, versioned, newer refused),
LISTEN/NOTIFY wake-ups that survive a lost connection, and a driver imported lazily."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from tests.conftest import ROOT, until
from tests.pg_support import SKIP_REASON, drop_schema, fresh_url, pg_reachable, psql
from tuiqueue.core.job import NewJob
from tuiqueue.store.base import StoreError
from tuiqueue.store.postgres_schema import SCHEMA_VERSION

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.postgres,
    pytest.mark.skipif(not pg_reachable(), reason=SKIP_REASON),
]
NOW = 1_700_000_000.0


@pytest.fixture
async def url() -> AsyncIterator[str]:
    """A schema of its own on the test database."""
    url = fresh_url()
    yield url
    drop_schema(url)


def _db(url: str) -> str:
    return url.split("/")[-1].split("?")[0]


def _schema(url: str) -> str:
    return url.split("schema=")[1]


async def test_a_newer_schema_is_refused_with_a_clear_message(url: str) -> None:
    from tuiqueue.store.postgres import PostgresStore

    async with PostgresStore(url):
        pass
    psql(f"UPDATE {_schema(url)}.schema_version SET version = {SCHEMA_VERSION + 1}", db=_db(url))
    with pytest.raises(
        StoreError,
        match=rf"newer tuiqueue \(schema {SCHEMA_VERSION + 1}, "
        rf"this version understands up to {SCHEMA_VERSION}\)",
    ):
        await PostgresStore(url).open()


async def test_schemas_share_a_database_without_seeing_each_other(url: str) -> None:
    from tuiqueue.store.postgres import PostgresStore

    other = fresh_url(db=_db(url))
    psql("CREATE TABLE IF NOT EXISTS public.app_table (id int)", db=_db(url))
    try:
        async with PostgresStore(url) as a, PostgresStore(other) as b:
            await a.add([NewJob("echo", {})], NOW)
            assert sum((await b.counts()).values()) == 0
            assert sum((await a.counts()).values()) == 1
        tables = psql(
            f"SELECT count(*) FROM pg_tables WHERE schemaname = '{_schema(url)}'", db=_db(url)
        )
        assert int(tables) >= 9
        assert psql("SELECT count(*) FROM public.app_table", db=_db(url)) == "0"
    finally:
        drop_schema(other)


async def test_notify_wakes_a_watcher_and_a_lost_listener_loses_no_change(url: str) -> None:
    """A write elsewhere wakes wait_for_change at once; after the listening connection is
    killed (as a server restart does), the change feed by version still has every job."""
    from tuiqueue.store.postgres import PostgresStore

    async with PostgresStore(url) as watcher, PostgresStore(url) as writer:
        since = await watcher.version()
        assert await watcher.wait_for_change(0.01)  # the first call starts listening
        assert not await watcher.wait_for_change(0.05)
        (first,) = await writer.add([NewJob("echo", {})], NOW)
        with anyio.fail_after(5):
            assert await watcher.wait_for_change(5)
        killed = psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE "
            f"'LISTEN %{_schema(url)}%' AND datname = '{_db(url)}'",
            db=_db(url),
        )
        assert killed == "t", killed
        (second,) = await writer.add([NewJob("echo", {})], NOW)  # while nobody listens
        await until(lambda: watcher.wait_for_change(0.2), 10, "a wake-up after the loss")
        changes = await watcher.changes(since)
        assert {first.id, second.id} <= {j.id for j in changes.jobs}
        (third,) = await writer.add([NewJob("echo", {})], NOW)
        with anyio.fail_after(5):
            while not await watcher.wait_for_change(1):
                pass
        assert third.id in {j.id for j in (await watcher.changes(changes.version)).jobs}


def test_sqlite_users_never_import_the_driver() -> None:
    code = (
        "import sys; import tuiqueue.cli, tuiqueue.store; "
        "from tuiqueue.store import open_store; open_store(':memory:'); "
        "assert 'asyncpg' not in sys.modules, 'asyncpg imported'"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


async def test_a_running_job_holds_no_transaction_and_few_connections(url: str) -> None:
    """While a job runs, none of the worker's sessions sits inside a transaction; the
    process keeps a small pool (its engine's, the heartbeat's, the listener); every session
    has the statement timeouts set."""
    from tests.conftest import make_registry
    from tuiqueue.core.status import Status
    from tuiqueue.engine.engine import Engine
    from tuiqueue.store.postgres import PostgresStore
    from tuiqueue.store.postgres_conn import POOL_MAX, STATEMENT_TIMEOUT_MS

    store = PostgresStore(url)
    engine = Engine(store, registry=make_registry(), concurrency=4, poll_interval=0.05)
    db = _db(url)
    async with anyio.create_task_group() as tg:
        await tg.start(engine.run)
        jobs = [await engine.submit("sleep", {"seconds": 1.5}) for _ in range(4)]

        async def running() -> bool:
            return [(await engine.get(j.id)).status for j in jobs] == [Status.RUNNING] * 4

        await until(running, 10, "the jobs to run")
        rows = psql(
            "SELECT state FROM pg_stat_activity WHERE application_name = 'tuiqueue' "
            f"AND datname = '{db}'",
            db=db,
        ).split()
        assert "idle in transaction" not in " ".join(rows), rows
        assert 1 <= len(rows) <= POOL_MAX + 2, rows  # pool, listener, heartbeat
        timeout = await store.db.read(lambda c: c.fetchval("SHOW statement_timeout"))
        assert timeout == f"{STATEMENT_TIMEOUT_MS // 1000}s"
        await engine.stop()
    final = {(await engine.get(j.id)).status for j in jobs}
    assert final <= {Status.COMPLETED, Status.PENDING}, final


async def test_kill9_mid_batch_leaves_nothing_and_is_swept(url: str, tmp_path: Path) -> None:
    """A big submit killed mid-way: its staged rows stay hidden, and once its session (and
    with it its advisory lock) is gone, a sweep deletes them."""
    import os
    import signal

    from tests.test_rel_batches import big_file, start_submit
    from tuiqueue.store.postgres import PostgresStore

    staged = f"SELECT count(*) FROM {_schema(url)}.jobs"
    store = PostgresStore(url)
    await store.open()
    submit = start_submit(url, big_file(tmp_path, 50_000))
    try:
        await until(lambda: int(psql(staged, db=_db(url)) or 0) >= 5_000, 60, "some chunks written")
        assert sum((await store.counts()).values()) == 0
        os.killpg(submit.pid, signal.SIGKILL)
        submit.wait(10)
        assert int(psql(staged, db=_db(url))) >= 5_000  # the garbage is there, hidden
        assert sum((await store.counts()).values()) == 0
        assert await store.list_jobs() == []
        assert (await store.changes(0)).jobs == []
        await until(lambda: store._batches.sweep(force=True), 10, "the batch to be swept")
        assert int(psql(staged, db=_db(url))) == 0
        [job] = await store.add([NewJob("rel_sleep", {"seconds": 0, "mark": ""})], NOW)
        assert await store.get(job.id) is not None
    finally:
        if submit.poll() is None:
            os.killpg(submit.pid, signal.SIGKILL)
        await store.close()


def _rows_read(plan: dict[str, object], table: str = "jobs") -> int:
    """Rows that the plan's scans of `table` produced, over all their loops."""
    own = 0
    if plan.get("Relation Name") == table and "Scan" in str(plan.get("Node Type")):
        own = int(plan["Actual Rows"]) * int(plan["Actual Loops"])  # type: ignore[call-overload]
    children = plan.get("Plans", [])
    assert isinstance(children, list)
    return own + sum(_rows_read(child, table) for child in children)


async def _explained(url: str, statement: str, *args: object) -> int:
    """Rows of jobs that `statement` read, run in a transaction that is rolled back."""
    import json

    import asyncpg

    conn = await asyncpg.connect(url.split("?")[0], server_settings={"search_path": _schema(url)})
    plan = None
    try:
        async with conn.transaction():
            plan = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", *args)
            raise _Undo
    except _Undo:
        pass
    finally:
        await conn.close()
    return _rows_read(json.loads(plan)[0]["Plan"])


async def test_a_typed_claim_reads_a_few_rows_of_a_long_queue(url: str) -> None:
    # One scan of the pending rows filtered by type, sorted, read all 3,000 of them for a
    # claim of 8 (the planner misjudges a table that filled faster than autovacuum looks).
    from tuiqueue.core.queues import ClaimScope
    from tuiqueue.store.postgres import PostgresStore
    from tuiqueue.store.postgres_sql import CLAIM_PAIRS, PICK_PAIRS, _pairs

    async with PostgresStore(url) as store:
        await store.add([NewJob("a", {}) for _ in range(3_000)], NOW)
        await store.add([NewJob("b", {}, queue="other") for _ in range(3_000)], NOW)
        everywhere = _pairs(ClaimScope.of(["a", "b", "c"]), set())
        assert everywhere is not None
        claim = CLAIM_PAIRS.format(pairs=everywhere, limit=8)
        assert 8 <= await _explained(url, claim, NOW, "w", "t", 1) <= 100
        # a capped queue's part of a claim (its pairs, the cap as the limit)
        one = _pairs(ClaimScope.of(["a", "b", "c"], ["other"]), set())
        assert one is not None
        assert 2 <= await _explained(url, PICK_PAIRS.format(pairs=one, limit=2)) <= 50
        got = await store.claim("w", 8, NOW, ClaimScope.of(["a", "b", "c"]))
        assert [j.type for j in got] == ["a"] * 8  # (in id order, as queued)
        assert [j.id for j in got] == sorted(j.id for j in got)


class _Undo(Exception):
    """Rolls the EXPLAIN's transaction back."""
