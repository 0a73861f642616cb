"""Big batches never starve others and stay all or nothing: 200,000-line `submit --from`
written in chunks while a worker and another submitter use the store, and kill -9 mid-batch."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import anyio.to_thread
import pytest

from tests.conftest import ROOT, cli_env, until
from tests.test_rel_recovery import start_worker
from tests.test_store_conformance import redis_reachable
from tuiqueue.core.job import NewJob
from tuiqueue.core.registry import load_job_types
from tuiqueue.core.status import Status
from tuiqueue.store import redis_batches
from tuiqueue.store.redis import RedisStore
from tuiqueue.store.sqlite import SqliteStore

pytestmark = pytest.mark.anyio

JOBS = str(ROOT / "tests" / "rel_jobs.py")
BIG = 200_000


@pytest.fixture(autouse=True, scope="module")
def _load_jobs() -> None:
    load_job_types([JOBS])


def big_file(tmp_path: Path, n: int = BIG) -> Path:
    """A JSON-lines file of n rel_sleep jobs."""
    path = tmp_path / "big.jsonl"
    line = json.dumps({"type": "rel_sleep", "params": {"seconds": 0}})
    path.write_text((line + "\n") * n)
    return path


def start_submit(db: str, source: Path, *extra: str) -> subprocess.Popen[str]:
    """`tuiqueue submit --from source` in a subprocess (its jobs scheduled an hour ahead, so a
    worker leaves them alone)."""
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "tuiqueue", "--db", db, "--jobs", JOBS, "submit"),
            *("--from", str(source), "--delay", "3600", *extra),
        ],
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def raw(db: str, sql: str) -> list[tuple[object, ...]]:
    """A query on a plain connection: sees staged rows that the store hides."""
    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def open_batch(db: str) -> tuple[int, int] | None:
    """The id range of the batch being written, if any."""
    rows = raw(db, "SELECT lo, hi FROM batches WHERE committed IS NULL")
    return (int(rows[0][0]), int(rows[0][1])) if rows else None


async def test_big_submit_interleaves_and_appears_at_once(tmp_path: Path) -> None:
    db = str(tmp_path / "jobs.db")
    store = SqliteStore(db)
    await store.open()
    worker = start_worker(db)
    submit = None
    try:
        await until(lambda: raw(db, "SELECT COUNT(*) FROM workers")[0][0] == 1, 20, "the worker")
        submit = start_submit(db, big_file(tmp_path))
        await until(lambda: open_batch(db) is not None, 60, "the big batch to start")
        small: list[int] = []
        waits: list[float] = []
        done_while_open = 0
        seen_open = 0
        while True:
            still_open = open_batch(db) is not None
            start = time.monotonic()
            [job] = await store.add([NewJob("rel_sleep", {"seconds": 0, "mark": ""})], time.time())
            waits.append(time.monotonic() - start)
            small.append(job.id)
            counts = await store.counts()
            visible_big = counts[Status.SCHEDULED]
            assert visible_big in (0, BIG), f"a partly visible batch: {visible_big} jobs"
            if still_open and open_batch(db) is not None:
                seen_open += 1
                assert visible_big == 0
                # The worker claimed and finished a small job while the batch was open.
                done = await store.list_jobs(statuses=[Status.COMPLETED], limit=1)
                done_while_open += bool(done) and open_batch(db) is not None
            if open_batch(db) is None and visible_big == BIG:
                break
            assert submit.poll() in (None, 0), submit.stderr.read() if submit.stderr else ""
            await anyio.sleep(0.01)
        assert submit.wait(60) == 0
        assert seen_open >= 3, "other submits got in while the batch was being written"
        assert done_while_open >= 1, "the worker claimed and finished jobs meanwhile"
        counts = await store.counts()
        assert counts[Status.SCHEDULED] == BIG
        print(f"\nlongest wait of a small submit during the {BIG} batch: {max(waits):.3f} s")
        assert worker.poll() is None
        changes = await store.changes(0)
        assert sum(j.status is Status.SCHEDULED for j in changes.jobs) == BIG
    finally:
        for proc in (worker, submit):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        await store.close()


async def test_kill9_mid_batch_leaves_nothing_visible(tmp_path: Path) -> None:
    db = str(tmp_path / "jobs.db")
    store = SqliteStore(db)
    await store.open()
    submit = start_submit(db, big_file(tmp_path))
    try:
        await until(lambda: open_batch(db) is not None, 60, "the big batch to start")
        lo, hi = open_batch(db) or (0, 0)
        staged = f"SELECT COUNT(*) FROM jobs WHERE id BETWEEN {lo} AND {hi}"
        await until(lambda: raw(db, staged)[0][0] >= 10_000, 60, "some chunks written")
        assert sum((await store.counts()).values()) == 0
        os.killpg(submit.pid, signal.SIGKILL)
        submit.wait(10)
        assert raw(db, staged)[0][0] > 0  # the garbage is there, hidden
        assert sum((await store.counts()).values()) == 0
        assert await store.get(lo) is None
        assert await store.list_jobs() == []
        assert (await store.changes(0)).jobs == []
        assert await store.sweep_batches() == 1
        assert raw(db, staged)[0][0] == 0
        assert raw(db, "SELECT COUNT(*) FROM batches")[0][0] == 0
        [job] = await store.add([NewJob("rel_sleep", {"seconds": 0, "mark": ""})], time.time())
        assert job.id > hi
    finally:
        if submit.poll() is None:
            os.killpg(submit.pid, signal.SIGKILL)
        await store.close()


# -- Redis --------------------------------------------------------------------------------

REDIS_DB = 10
"""These tests flush this database of the shared Redis (and only this one)."""
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"


def _flush(port: int = 6379, db: int = REDIS_DB) -> None:
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, db=db)
    client.flushdb()
    client.close()


@pytest.fixture
def redis_db() -> Iterator[str]:
    """A flushed database of the shared Redis."""
    if not redis_reachable():
        pytest.skip("no Redis server at 127.0.0.1:6379")
    _flush()
    yield REDIS_URL
    _flush()


@pytest.mark.timeout(600)  # 200,000 jobs through Redis: ~30 s here, over 120 s on a busy CI
async def test_redis_big_submit_bounded_and_all_at_once(tmp_path: Path, redis_db: str) -> None:
    store = RedisStore(redis_db)
    await store.open()
    submit = start_submit(redis_db, big_file(tmp_path), "--delay", "0")
    try:
        await until(lambda: store.client.scard(store._key("batches")), 60, "the batch to start")
        [(lo, hi)] = await store._batches.hidden()
        seen_open = claimed_while_open = small = 0

        async def is_open() -> bool:
            return bool(await store.client.scard(store._key("batches")))

        while True:
            before = await is_open()
            await store.add([NewJob("rel_sleep", {"seconds": 0, "mark": ""})], time.time())
            small += 1
            # Claims get in between the chunks and never take a job of the open batch.
            claimed = await store.claim("w1", 5, time.time())
            if await is_open():
                assert not [j.id for j in claimed if lo <= j.id <= hi]
                claimed_while_open += len(claimed)
            visible_big = sum((await store.counts()).values()) - small
            after = await is_open()
            assert visible_big in (0, BIG), f"a partly visible batch: {visible_big} jobs"
            if before and after:
                seen_open += 1
                assert visible_big == 0
            if not after and visible_big == BIG:
                break
            assert submit.poll() in (None, 0)
            await anyio.sleep(0.01)
        assert submit.wait(60) == 0, submit.stderr.read() if submit.stderr else ""
        assert seen_open >= 3 and claimed_while_open >= 3
        changes = await store.changes(0)
        assert len({j.id for j in changes.jobs if lo <= j.id <= hi}) == BIG
    finally:
        if submit.poll() is None:
            os.killpg(submit.pid, signal.SIGKILL)
        await store.close()


async def test_redis_kill9_mid_batch_leaves_nothing(
    tmp_path: Path, redis_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RedisStore(redis_db)
    await store.open()
    submit = start_submit(redis_db, big_file(tmp_path, 50_000))
    try:

        async def staged() -> int:
            return int(await store.client.zcard(store._key("all")))

        await until(lambda: staged_at_least(store, 5_000), 60, "some chunks written")
        assert sum((await store.counts()).values()) == 0
        os.killpg(submit.pid, signal.SIGKILL)
        submit.wait(10)
        assert await staged() >= 5_000  # the garbage is there, hidden
        assert sum((await store.counts()).values()) == 0
        assert await store.list_jobs() == []
        assert await store.get(1) is None
        assert (await store.changes(0)).jobs == []
        monkeypatch.setattr(redis_batches, "STALE_MS", 300)
        await until(lambda: store._batches.sweep(force=True), 10, "the batch to be swept")
        assert await staged() == 0
        left = [k async for k in store.client.scan_iter(match=store.prefix + "job:*")]
        assert left == []
        [job] = await store.add([NewJob("rel_sleep", {"seconds": 0, "mark": ""})], time.time())
        assert await store.get(job.id) is not None
    finally:
        if submit.poll() is None:
            os.killpg(submit.pid, signal.SIGKILL)
        await store.close()


async def staged_at_least(store: RedisStore, n: int) -> bool:
    """Whether at least n job ids are in the store's index (hidden or not)."""
    return int(await store.client.zcard(store._key("all"))) >= n


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
async def test_worker_rides_out_busy_redis(tmp_path: Path) -> None:
    """A script of someone else's keeps Redis BUSY for 3 s: the worker waits, then goes on."""
    import redis

    port = 6390 + REDIS_DB + os.getpid() % 50
    server = subprocess.Popen(
        [
            *("redis-server", "--port", str(port), "--save", "", "--appendonly", "no"),
            *("--busy-reply-threshold", "50", "--daemonize", "no"),
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis(host="127.0.0.1", port=port)
    worker = None
    store = RedisStore(url)
    try:
        await until(lambda: redis_reachable(port=port), 10, "the private redis-server")
        await store.open()
        marks = tmp_path / "marks.txt"
        job = NewJob("rel_sleep", {"seconds": 0.2, "mark": str(marks)})
        await store.add([job] * 4, time.time())
        worker = subprocess.Popen(
            [sys.executable, "-m", "tuiqueue", "--db", url, "--jobs", JOBS, "worker", "-q"],
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        await until(lambda: marks.exists() and len(marks.read_text().split()) >= 1, 20, "a job")
        busy = "local t0 = redis.call('TIME')[1] while redis.call('TIME')[1] - t0 < 3 do end"

        def block() -> None:
            client.eval(busy, 0)

        await anyio.to_thread.run_sync(block)
        assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
        await store.add([job] * 4, time.time())
        await until(lambda: len(marks.read_text().split()) == 8, 30, "every job done")
        assert worker.poll() is None
    finally:
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
        await store.close()
        client.close()
        server.kill()
        server.wait(10)
