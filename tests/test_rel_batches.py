"""Big batches never starve others and stay all or nothing: 200,000-line `submit --from`
written in chunks while a worker and another submitter use the store, and kill -9 mid-batch."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from tests.conftest import ROOT, cli_env, until
from tests.test_rel_recovery import start_worker
from tuiqueue.core.job import NewJob
from tuiqueue.core.registry import load_job_types
from tuiqueue.core.status import Status
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
