"""Crash recovery with real processes: kill -9 a worker, another one resolves its jobs in time."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from tests.conftest import ROOT, cli_env, register_elsewhere, until, wait_until
from tuiqueue.core.lifecycle import Outcome
from tuiqueue.core.records import WorkerInfo
from tuiqueue.core.registry import REGISTRY, load_job_types
from tuiqueue.core.status import Status
from tuiqueue.engine.engine import Engine
from tuiqueue.engine.recovery import HEARTBEAT_INTERVAL, LOST_ATTEMPTS, recover
from tuiqueue.store import open_store

pytestmark = pytest.mark.anyio

JOBS = str(ROOT / "tests" / "rel_jobs.py")


@pytest.fixture(autouse=True, scope="module")
def _load_jobs() -> None:
    load_job_types([JOBS])


def start_worker(db: str, *extra: str) -> subprocess.Popen[str]:
    """A headless `tuiqueue worker` subprocess on db."""
    return subprocess.Popen(
        [sys.executable, "-m", "tuiqueue", "--db", db, "--jobs", JOBS, "worker", "-q", *extra],
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def statuses(db: str) -> dict[int, tuple[str, int, str | None]]:
    """id -> (status, attempts, error), read with a plain connection."""
    conn = sqlite3.connect(db, timeout=10)
    try:
        return {
            r[0]: (r[1], r[2], r[3])
            for r in conn.execute("SELECT id, status, attempts, error FROM jobs")
        }
    finally:
        conn.close()


def wait_for(pred: Callable[[], object], timeout: float = 15.0) -> float:
    """Poll pred() until true; return the seconds it took."""
    return wait_until(pred, timeout)


async def test_kill9_jobs_resolved_within_two_seconds(tmp_path: Path) -> None:
    db = str(tmp_path / "jobs.db")
    async with Engine(open_store(db), worker_id="submitter", concurrency=1) as eng:
        await eng.set_queue_paused(True)
        safe = [(await eng.submit("rel_sleep", {"seconds": 30})).id for _ in range(2)]
        fragile = (await eng.submit("rel_fragile", {"seconds": 30})).id
        await eng.stop()
    proc = start_worker(db, "-c", "3")
    try:
        conn = sqlite3.connect(db)
        conn.execute("UPDATE meta SET value = 0 WHERE key = 'queue_paused'")
        conn.commit()
        conn.close()
        wait_for(lambda: all(s[0] == "running" for s in statuses(db).values()))
        # Pause the queue so the surviving worker claims nothing itself.
        conn = sqlite3.connect(db)
        conn.execute("UPDATE meta SET value = 1 WHERE key = 'queue_paused'")
        conn.commit()
        conn.close()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        killed_at = time.monotonic()
        async with Engine(open_store(db), worker_id="survivor", concurrency=1):
            # Recovery runs at start and every 0.5 s; the dead worker was last heard <0.5 s ago.
            with anyio.fail_after(10):
                while any(s[0] == "running" for s in statuses(db).values()):
                    await anyio.sleep(0.02)
            took = time.monotonic() - killed_at
        rows = statuses(db)
        for job_id in safe:
            assert rows[job_id][0] == "pending", rows[job_id]
            assert "worker lost" in (rows[job_id][2] or "")
        assert rows[fragile][0] == "failed"
        assert "worker lost" in (rows[fragile][2] or "") and "stopped responding" in (
            rows[fragile][2] or ""
        )
        assert took < 2.5, f"orphans resolved after {took:.2f}s"
        print(f"kill -9 -> orphans resolved in {took:.2f}s")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


async def test_recovery_at_start_and_cap(tmp_path: Path) -> None:
    """A job that kills its worker every time ends failed after the cap, never loops."""
    store = open_store(str(tmp_path / "jobs.db"))
    await store.open()
    try:
        eng = Engine(store, worker_id="x")
        job = await eng.submit("rel_sleep", {"seconds": 1})
        for attempt in range(1, LOST_ATTEMPTS + 1):
            await register_elsewhere(store, WorkerInfo(f"dead{attempt}", "h", 1, 1, 0.0, 0.0))
            claimed = await store.claim(f"dead{attempt}", 1, 100.0)
            assert [j.id for j in claimed] == [job.id]
            changed = await recover(store, REGISTRY, 200.0)
            assert [j.id for j in changed] == [job.id]
            expected = Status.PENDING if attempt < LOST_ATTEMPTS else Status.FAILED
            assert changed[0].status is expected, (attempt, changed[0])
        final = await store.get(job.id)
        assert final is not None and final.attempts == LOST_ATTEMPTS
        assert "gave up after 3 attempts" in (final.error or "")
    finally:
        await store.close()


@pytest.mark.parametrize("target", ["memory", "sqlite"])
async def test_stale_worker_cannot_overwrite_newer_attempt(tmp_path: Path, target: str) -> None:
    store = open_store(":memory:" if target == "memory" else str(tmp_path / "jobs.db"))
    await store.open()
    try:
        eng = Engine(store, worker_id="x")
        job = await eng.submit("rel_sleep", {"seconds": 1})
        await register_elsewhere(store, WorkerInfo("old", "h", 1, 1, 0.0, 0.0))
        first = (await store.claim("old", 1, 10.0))[0]
        await recover(store, REGISTRY, 20.0, dead_after=1.5)
        await store.register_worker(WorkerInfo("new", "h", 2, 1, 20.0, 30.0))
        second = (await store.claim("new", 1, 30.0))[0]
        assert second.token != first.token and second.attempts == 2
        # The old worker wakes up and reports progress and a result: both ignored.
        await store.save_progress([(job.id, first.token or "", 99.0, "stale")], 31.0)
        assert (
            await store.finish(
                [Outcome(job.id, first.token or "", Status.COMPLETED, result="stale")], 31.0
            )
            == []
        )
        now = await store.get(job.id)
        assert now is not None and now.status is Status.RUNNING and now.message != "stale"
        assert now.token == second.token
        done = await store.finish(
            [Outcome(job.id, second.token or "", Status.COMPLETED, result="fresh")], 32.0
        )
        assert done[0].result == "fresh"
    finally:
        await store.close()


async def test_clean_stop_marks_worker_stopped(tmp_path: Path) -> None:
    db = str(tmp_path / "jobs.db")
    async with Engine(open_store(db), worker_id="w1") as eng:

        async def beat_since_start() -> bool:
            (info,) = await eng.workers()
            return info.heartbeat > info.started_at + HEARTBEAT_INTERVAL / 2

        await until(beat_since_start, what="a heartbeat after registration")
        (info,) = await eng.workers()
        assert info.alive(time.time(), 1.5) and not info.stopped
    store = open_store(db)
    await store.open()
    (info,) = await store.workers()
    await store.close()
    assert info.stopped


def test_kill9_worker_shell_children_killed_on_recovery(tmp_path: Path) -> None:
    db = str(tmp_path / "jobs.db")
    pidfile = tmp_path / "pid"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tuiqueue",
            "--db",
            db,
            "submit",
            "shell",
            "-p",
            f"command=sh -c 'echo $$ > {pidfile}; exec sleep 120'",
        ],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    proc = start_worker(db)
    try:
        wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() != "")
        child = int(pidfile.read_text())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        os.kill(child, 0)  # the orphaned child survived its worker
    finally:
        if proc.poll() is None:
            proc.kill()

    async def survivor() -> None:
        async with Engine(open_store(db), worker_id="survivor"):
            with anyio.fail_after(10):
                while any(s[0] == "running" for s in statuses(db).values()):
                    await anyio.sleep(0.05)

    anyio.run(survivor)
    wait_for(
        lambda: (
            not Path(f"/proc/{child}").exists()
            or "Z" in Path(f"/proc/{child}/stat").read_text().split(") ")[1][:1]
        ),
        timeout=3,
    )
    (row,) = statuses(db).values()
    assert row[0] == "failed" and "worker lost" in (row[2] or "")
