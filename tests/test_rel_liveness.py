"""Liveness is exact on one machine: a stopped worker keeps its lock, a killed one loses it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tuiqueue.store.worker_locks import Liveness, WorkerLocks

HOLDER = """
import sys, time
from pathlib import Path
from tuiqueue.store.worker_locks import WorkerLocks
locks = WorkerLocks(Path(sys.argv[1]))
locks.hold(sys.argv[2])
print("held", flush=True)
time.sleep(120)
"""


def _holder(db: Path, worker_id: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db), worker_id], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_stopped_worker_is_alive_and_a_killed_one_is_dead(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    proc = _holder(db, "w-1")
    try:
        locks = WorkerLocks(db)
        assert locks.state("w-1") is Liveness.ALIVE
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            # However long it is stopped, its lock is held: asked many times, never dead.
            assert all(locks.state("w-1") is Liveness.ALIVE for _ in range(50))
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        proc.kill()
        proc.wait()
        assert locks.state("w-1") is Liveness.DEAD
        assert locks.state("w-1") is Liveness.DEAD  # and stays dead
        locks.forget("w-1")
        assert locks.state("w-1") is Liveness.UNKNOWN
    finally:
        proc.kill()
        proc.wait()


def test_own_workers_and_files_are_private(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    locks = WorkerLocks(db)
    locks.hold("me")
    assert locks.state("me") is Liveness.ALIVE
    assert WorkerLocks(db).state("me") is Liveness.ALIVE  # another object in this process
    assert (locks.folder.stat().st_mode & 0o777) == 0o700
    assert (next(locks.folder.iterdir()).stat().st_mode & 0o777) == 0o600
    assert locks.state("never-registered") is Liveness.UNKNOWN
    locks.release("me")
    assert WorkerLocks(db).state("me") is Liveness.UNKNOWN


def test_the_lock_does_not_leak_into_job_processes(tmp_path: Path) -> None:
    """A shell job's child must not keep a dead worker 'alive' by inheriting the lock."""
    db = tmp_path / "q.db"
    code = HOLDER.replace(
        'print("held", flush=True)',
        'import subprocess; child = subprocess.Popen(["sleep", "60"], close_fds=False); '
        'print("held", child.pid, flush=True)',
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(db), "w-2"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    word, child = proc.stdout.readline().split()
    assert word == "held"
    try:
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 5
        state = WorkerLocks(db).state("w-2")
        while state is not Liveness.DEAD and time.monotonic() < deadline:
            state = WorkerLocks(db).state("w-2")
        assert state is Liveness.DEAD
    finally:
        os.kill(int(child), signal.SIGKILL)


# -- whole workers: a stalled or skewed worker keeps its jobs, each job runs once -----------

import sqlite3  # noqa: E402

import anyio  # noqa: E402
import pytest  # noqa: E402

from tests.test_rel_recovery import start_worker  # noqa: E402
from tests.test_store_conformance import redis_reachable  # noqa: E402
from tuiqueue.core.registry import load_job_types  # noqa: E402
from tuiqueue.engine.engine import Engine  # noqa: E402
from tuiqueue.store import open_store  # noqa: E402

JOBS = str(Path(__file__).with_name("rel_jobs.py"))
SKEW = 60.0
"""The judging worker's clock runs this far ahead of the stalled one's."""


async def _stall_scenario(db: str, marks: Path, stop_for: float, **judge: object) -> None:
    """Worker A runs 3 retry-safe and 3 fragile jobs; it is SIGSTOPped while a second engine
    (skewed clock, short lease) keeps recovering; once continued, A finishes all six, once each."""
    load_job_types([JOBS])
    async with Engine(open_store(db), worker_id="submitter", concurrency=1) as eng:
        await eng.set_queue_paused(True)
        ids = [
            (await eng.submit("rel_sleep", {"seconds": 3, "mark": str(marks)})).id for _ in range(3)
        ]
        ids += [(await eng.submit("rel_fragile", {"seconds": 3})).id for _ in range(3)]
        await eng.stop()
    proc = start_worker(db, "-c", "6")
    try:
        async with Engine(open_store(db), worker_id="judge", concurrency=1, **judge) as eng:  # type: ignore[arg-type]
            await eng.set_queue_paused(False)
            with anyio.fail_after(20):
                while any(j.status != "running" for j in [await eng.get(i) for i in ids]):
                    await anyio.sleep(0.02)
            await eng.set_queue_paused(True)  # the judge claims nothing itself
            os.kill(proc.pid, signal.SIGSTOP)
            try:
                await anyio.sleep(stop_for)  # the stall being injected, not a timing assert
                jobs = [await eng.get(i) for i in ids]
                # Nothing taken over: each job still on its first attempt, none requeued or lost.
                assert all(
                    j is not None and j.status in ("running", "completed") and j.attempts == 1
                    for j in jobs
                ), [(j.id, j.status, j.attempts, j.error) for j in jobs if j]
            finally:
                os.kill(proc.pid, signal.SIGCONT)
            with anyio.fail_after(20):
                while any(
                    j is None or j.status != "completed" for j in [await eng.get(i) for i in ids]
                ):
                    await anyio.sleep(0.05)
            jobs = [await eng.get(i) for i in ids]
            assert all(j is not None and j.attempts == 1 for j in jobs)
        ran = marks.read_text().split()
        assert sorted(ran) == sorted(str(i) for i in ids[:3]), "a job ran twice or not at all"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.anyio
async def test_sqlite_a_stopped_worker_keeps_its_jobs_under_a_skewed_clock(tmp_path: Path) -> None:
    """SIGSTOP for 4 s against a judge whose lease is 0.5 s and whose clock is 60 s ahead."""
    db = str(tmp_path / "jobs.db")
    await _stall_scenario(
        db, tmp_path / "marks", 4.0, dead_after=0.5, clock=lambda: time.time() + SKEW
    )


@pytest.mark.anyio
@pytest.mark.redis
@pytest.mark.skipif(not redis_reachable(), reason="no Redis server at 127.0.0.1:6379")
async def test_redis_leases_use_the_servers_clock(tmp_path: Path) -> None:
    """A judge 60 s ahead and a 3 s stall: the lease is measured on Redis TIME."""
    import redis

    url = "redis://127.0.0.1:6379/14"
    client = redis.Redis(host="127.0.0.1", port=6379, db=14)
    client.flushdb()
    try:
        await _stall_scenario(
            url, tmp_path / "marks", 3.0, dead_after=10.0, clock=lambda: time.time() + SKEW
        )
    finally:
        client.flushdb()
        client.close()


def test_killed_worker_is_dead_at_once_on_sqlite(tmp_path: Path) -> None:
    """Exact liveness: a kill -9 is seen at the next recovery pass, not after the lease."""
    db = tmp_path / "jobs.db"
    conn = sqlite3.connect(db)
    conn.close()
    proc = _holder(db, "w-9")
    proc.kill()
    proc.wait()
    assert WorkerLocks(db).state("w-9") is Liveness.DEAD
