"""Issue 10's "done when", as real processes: a worker stopped for 10 s, a store locked for 4 s
and a second worker whose clock is 3 s ahead lose no job and run none twice.

Worker A (a real `tuiqueue worker` process) runs 4 retry-safe jobs, which append their id to a
marks file each time they really finish, and 4 fragile ones (not safe to run twice: a wrongly
recovered one is failed "worker lost"). Worker B, a second real process, runs filler jobs
meanwhile and does its recovery passes every half second. Then the damage is done to A; B must
take nothing over, and once A goes on it finishes all eight, each on its first attempt, once.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import pytest

from tests.conftest import cli_env
from tests.test_rel_recovery import JOBS, start_worker
from tests.test_store_conformance import redis_reachable
from tuiqueue.core.job import Job
from tuiqueue.core.registry import load_job_types
from tuiqueue.engine.engine import Engine
from tuiqueue.store import open_store
from tuiqueue.store.base import Store

SAFE, FRAGILE = 4, 4
B_ARGS = ("worker", "-q", "-c", "2")
REDIS_URL = "redis://127.0.0.1:6379/12"

Damage = Callable[[subprocess.Popen[str], "Fleet"], Awaitable[None]]


def _faketime(ahead: float) -> list[str]:
    """The command prefix that runs a process with its clocks `ahead` seconds in the future."""
    exe = shutil.which("faketime")
    if exe is None:
        pytest.skip("libfaketime is not installed (apt-get install faketime)")
    return [exe, "-f", f"+{ahead:g}s"]


class Fleet:
    """The store as a bystander sees it: reads only, never a worker, never claims."""

    def __init__(self, store: Store, ids: list[int]) -> None:
        self.store = store
        self.ids = ids

    async def jobs(self) -> list[Job]:
        found = [await self.store.get(i) for i in self.ids]
        assert all(j is not None for j in found)
        return [j for j in found if j is not None]

    async def untouched(self, context: str) -> None:
        """Every one of A's jobs is still on its first attempt: running or done, never retaken."""
        jobs = await self.jobs()
        assert all(j.status in ("running", "completed") and j.attempts == 1 for j in jobs), (
            context,
            [(j.id, j.status, j.attempts, j.error, j.worker) for j in jobs],
        )

    async def until(self, what: str, pred: Callable[[list[Job]], bool], timeout: float) -> None:
        with anyio.fail_after(timeout):
            while not pred(await self.jobs()):
                await anyio.sleep(0.05)


async def _submit(db: str, jobs: list[tuple[str, dict[str, object]]]) -> list[int]:
    """Queue jobs through an Engine that is never started (it claims nothing)."""
    load_job_types([JOBS])
    store = open_store(db)
    async with store:
        eng = Engine(store, worker_id="submitter")
        return [(await eng.submit(kind, params)).id for kind, params in jobs]


async def _fillers(db: str, count: int) -> list[int]:
    """Jobs for worker B to run while A is damaged (A has no free slot)."""
    return await _submit(db, [("rel_sleep", {"seconds": 0.5})] * count)


async def _scenario(db: str, marks: Path, damage: Damage, judge_prefix: list[str]) -> None:
    ids = await _submit(
        db,
        [("rel_sleep", {"seconds": 3, "mark": str(marks)})] * SAFE
        + [("rel_fragile", {"seconds": 3})] * FRAGILE,
    )
    a = start_worker(db, "-c", str(SAFE + FRAGILE))
    b: subprocess.Popen[str] | None = None
    store = open_store(db)
    await store.open()
    try:
        fleet = Fleet(store, ids)
        await fleet.until("A runs all eight", lambda js: all(j.status == "running" for j in js), 20)
        b = subprocess.Popen(
            [*judge_prefix, sys.executable, "-m", "tuiqueue", "--db", db, "--jobs", JOBS, *B_ARGS],
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        await damage(a, fleet)
        await fleet.until(
            "A finishes all eight", lambda js: all(j.status == "completed" for j in js), 30
        )
        await fleet.untouched("after A went on")
        ran = marks.read_text().split()
        assert sorted(ran) == sorted(str(i) for i in ids[:SAFE]), "a job ran twice or not at all"
    finally:
        await store.close()
        for proc in (a, b):
            if proc is not None and proc.poll() is None:
                # The whole session: B runs under faketime, which does not pass signals on.
                os.killpg(proc.pid, signal.SIGCONT)
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in (a, b):
            if proc is not None:
                _, err = proc.communicate(timeout=30)
                assert "Traceback" not in err, err


def _fillers_done(db: str, ids: list[int]) -> Callable[[], Awaitable[bool]]:
    async def done() -> bool:
        store = open_store(db)
        async with store:
            jobs = [await store.get(i) for i in ids]
        return all(j is not None and j.status == "completed" for j in jobs)

    return done


async def _stop_for(seconds: float, a: subprocess.Popen[str], fleet: Fleet, db: str) -> None:
    """SIGSTOP worker A for `seconds` while B runs fillers and does its recovery passes."""
    os.kill(a.pid, signal.SIGSTOP)
    try:
        fillers = await _fillers(db, 4)
        done = _fillers_done(db, fillers)
        with anyio.fail_after(30):
            while not await done():  # B is alive and working: its recovery passes run
                await anyio.sleep(0.1)
        await anyio.sleep(seconds)  # the stall being injected, not a timing assert
        await fleet.untouched(f"after A was stopped for {seconds} s")
    finally:
        os.kill(a.pid, signal.SIGCONT)


def _sqlite(tmp_path: Path) -> str:
    return str(tmp_path / "jobs.db")


def _redis() -> str:
    if not redis_reachable():
        pytest.skip("no Redis server at 127.0.0.1:6379")
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=12)
    client.flushdb()
    client.close()
    return REDIS_URL


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    url = _sqlite(tmp_path) if request.param == "sqlite" else _redis()
    yield url
    if request.param == "redis":
        import redis

        client = redis.Redis(host="127.0.0.1", port=6379, db=12)
        client.flushdb()
        client.close()


@pytest.mark.anyio
async def test_a_worker_stopped_for_10_s_keeps_its_jobs(db: str, tmp_path: Path) -> None:
    async def damage(a: subprocess.Popen[str], fleet: Fleet) -> None:
        await _stop_for(10.0, a, fleet, db)

    await _scenario(db, tmp_path / "marks", damage, [])


@pytest.mark.anyio
async def test_a_second_worker_3_s_ahead_takes_nothing(db: str, tmp_path: Path) -> None:
    """Worker B runs under libfaketime with its clocks 3 s in the future (case c of issue 10).

    A is stopped for 4 s on top, so its heartbeats are old even by the skewed clock's measure."""

    async def damage(a: subprocess.Popen[str], fleet: Fleet) -> None:
        await _stop_for(4.0, a, fleet, db)

    await _scenario(db, tmp_path / "marks", damage, _faketime(3.0))


LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
print("released", flush=True)
"""


@pytest.mark.anyio
async def test_the_sqlite_write_lock_held_4_s_loses_nothing(tmp_path: Path) -> None:
    """Another process holds the database's write lock for 4 s (as a huge import would):
    no heartbeat or finish gets in meanwhile, and yet no job is judged lost."""
    db = _sqlite(tmp_path)

    async def damage(a: subprocess.Popen[str], fleet: Fleet) -> None:
        locker = subprocess.Popen(
            [sys.executable, "-c", LOCKER, db, "4"], stdout=subprocess.PIPE, text=True
        )
        assert locker.stdout is not None
        assert locker.stdout.readline().strip() == "locked"
        await fleet.untouched("while the lock is held")  # readers still read (WAL)
        line = await anyio.to_thread.run_sync(locker.stdout.readline)
        assert line.strip() == "released"
        locker.wait(timeout=10)
        fillers = await _fillers(db, 4)
        done = _fillers_done(db, fillers)
        with anyio.fail_after(30):
            while not await done():  # B went on after the lock: its recovery passes ran
                await anyio.sleep(0.1)
        await fleet.untouched("after the lock")

    await _scenario(db, tmp_path / "marks", damage, [])
