"""Retention: a running engine keeps the store bounded, in batches that never hold up submits."""

from __future__ import annotations

import json
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from tests.conftest import ROOT, cli_env, tq, until
from tuiqueue.core.job import NewJob
from tuiqueue.core.registry import Registry
from tuiqueue.engine.engine import RETENTION_KEEP, Engine
from tuiqueue.store import open_store

pytestmark = pytest.mark.anyio

NOW = time.time()
JOBS = str(ROOT / "tests" / "rel_jobs.py")


async def prefill(db: str, finished: int, queued: int, lines: int = 3) -> None:
    """`finished` completed jobs (finished_at rising with id, each with a log) + queued ones."""
    async with open_store(db) as store:
        for start in range(0, finished + queued, 5_000):
            n = min(5_000, finished + queued - start)
            await store.add([NewJob("sleep", {"seconds": 0})] * n, NOW - 10 * 86_400)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "UPDATE jobs SET status = 'completed', finished_at = ? + id, attempts = 1 "
            "WHERE id <= ?",
            (NOW - 10 * 86_400, finished),
        )
        conn.executemany(
            "INSERT INTO logs (job_id, seq, line) VALUES (?, ?, ?)",
            (
                (i, s, f"job {i} line {s}")
                for i in range(1, finished + 1)
                for s in range(1, lines + 1)
            ),
        )
        conn.execute("UPDATE jobs SET log_count = ? WHERE id <= ?", (lines, finished))
    conn.close()


def rows(db: str, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def test_defaults_keep_ten_thousand(registry: Registry) -> None:
    engine = Engine(open_store(":memory:"), registry=registry)
    assert engine.retention_keep == RETENTION_KEEP == 10_000
    assert engine.retention_days is None


SUBMITTER = """
import json, pathlib, sys, time, anyio
from tuiqueue.core.job import NewJob
from tuiqueue.store import open_store

async def main():
    db, stop = sys.argv[1], pathlib.Path(sys.argv[2])
    out = []
    async with open_store(db) as store:
        while not stop.exists():
            t0 = time.perf_counter()
            await store.add([NewJob("sleep", {"seconds": 0})], time.time())
            out.append(time.perf_counter() - t0)
            await anyio.sleep(0.005)
    print(json.dumps(out))

anyio.run(main)
"""


async def test_running_engine_prunes_without_blocking_submits(
    tmp_path: Path, registry: Registry
) -> None:
    db = str(tmp_path / "jobs.db")
    finished, queued, keep = 30_000, 5, 1_000
    await prefill(db, finished, queued)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE meta SET value = 1 WHERE key = 'queue_paused'")
    conn.close()
    stop = tmp_path / "stop"
    submitter = subprocess.Popen(
        [sys.executable, "-c", SUBMITTER, db, str(stop)],
        env=cli_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    lags: list[float] = []
    try:
        # The submitter is under way before pruning starts.
        await until(
            lambda: (
                rows(db, f"SELECT COUNT(*) FROM jobs WHERE id > {finished + queued}")[0][0] >= 20
            ),
            30,
            "the submitter's first jobs",
        )
        worker = Engine(
            open_store(db), registry=registry, retention_keep=keep, retention_interval=0.05
        )
        async with worker, anyio.create_task_group() as tg:
            tg.start_soon(lag_probe, lags)
            start = time.monotonic()
            while rows(db, f"SELECT COUNT(*) FROM jobs WHERE id <= {finished}")[0][0] > keep:
                await anyio.sleep(0.05)
                assert time.monotonic() - start < 60, "retention did not finish"
            took = time.monotonic() - start
            tg.cancel_scope.cancel()
    finally:
        stop.touch()
        out, _ = submitter.communicate(timeout=30)
    latencies = json.loads(out)
    kept = [r[0] for r in rows(db, f"SELECT id FROM jobs WHERE id <= {finished} ORDER BY id")]
    assert kept == list(range(finished - keep + 1, finished + 1)), "the newest are kept"
    assert rows(db, "SELECT COUNT(*) FROM logs")[0][0] == keep * 3, "their logs went too"
    assert rows(db, "SELECT COUNT(*) FROM jobs WHERE status = 'pending'")[0][0] == queued + len(
        latencies
    ), "unfinished jobs are never pruned"
    assert len(latencies) > 50
    worst, lag = max(latencies), max(lags)
    assert worst < 0.25, f"a submit from another process waited {worst:.3f}s during retention"
    assert lag < 0.1, f"the engine's event loop stalled {lag:.3f}s during retention"
    print(
        f"retention deleted {finished - keep} jobs (3 log lines each) in {took:.2f}s; "
        f"{len(latencies)} submits from another process meanwhile: median "
        f"{statistics.median(latencies) * 1000:.1f} ms, worst {worst * 1000:.0f} ms; "
        f"event loop lag worst {lag * 1000:.0f} ms"
    )


async def lag_probe(lags: list[float]) -> None:
    """How late a 10 ms sleep wakes up: the engine's event loop lag."""
    while True:
        t0 = time.perf_counter()
        await anyio.sleep(0.01)
        lags.append(time.perf_counter() - t0 - 0.01)


async def test_keep_days_and_memory_store(registry: Registry) -> None:
    async with Engine(
        open_store(":memory:"),
        registry=registry,
        concurrency=20,
        retention_keep=None,
        retention_days=None,
    ) as engine:
        jobs = await engine.submit_many([("sleep", {"seconds": 0})] * 300)
        await engine.drain(timeout=30)
        assert await engine.prune() == 0, "no limits: nothing deleted"
        engine.retention_keep = 50
        assert await engine.prune() == 250
        assert await engine.prune() == 0
        left = await engine.list(limit=1_000)
        assert {j.id for j in left} == {j.id for j in jobs[-50:]} or len(left) == 50
        engine.retention_keep = None
        engine.clock = lambda: time.time() + 2 * 86_400
        engine.retention_days = 1
        assert await engine.prune() == 50
        assert await engine.list() == []


async def test_within_slack_nothing_is_deleted(registry: Registry) -> None:
    async with Engine(
        open_store(":memory:"), registry=registry, concurrency=20, retention_keep=150
    ) as engine:
        await engine.submit_many([("sleep", {"seconds": 0})] * 240)
        await engine.drain(timeout=30)
        assert await engine.prune() == 0, "within keep + 100: left alone"
        await engine.submit_many([("sleep", {"seconds": 0})] * 20)
        await engine.drain(timeout=30)
        assert await engine.prune() == 110


def test_worker_keep_options(tmp_path: Path) -> None:
    db = str(tmp_path / "jobs.db")
    out = tq(
        "--db",
        db,
        "--jobs",
        JOBS,
        "submit",
        "--from",
        "-",
        stdin='{"type": "rel_sleep", "params": {"seconds": 0}}\n' * 300,
    )
    assert out.returncode == 0, out.stderr
    out = tq("--db", db, "--jobs", JOBS, "worker", "-q", "--drain", "-c", "20", "--keep", "0")
    assert out.returncode == 0, out.stderr
    assert rows(db, "SELECT COUNT(*) FROM jobs")[0][0] == 300, "--keep 0 keeps everything"
    out = tq("--db", db, "--jobs", JOBS, "worker", "-q", "--drain", "--keep", "120")
    assert out.returncode == 0, out.stderr
    assert rows(db, "SELECT COUNT(*) FROM jobs")[0][0] == 120, "a draining worker prunes"
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE jobs SET finished_at = finished_at - 3 * 86400 WHERE id <= 250")
    conn.close()
    out = tq("--db", db, "--jobs", JOBS, "worker", "-q", "--drain", "--keep-days", "2")
    assert out.returncode == 0, out.stderr
    assert rows(db, "SELECT MIN(id), COUNT(*) FROM jobs")[0] == (251, 50)
    help_text = tq("worker", "--help").stdout
    assert "--keep" in help_text and "--keep-days" in help_text
    bad = tq("--db", db, "worker", "--keep", "-1")
    assert bad.returncode == 2 and "--keep" in bad.stderr
