"""The short commands on SQLite run without an event loop (cli/direct.py): the same
transactions as the engine's, so other processes see their changes as before."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time

import anyio

from tests.conftest import cli_env, tq
from tuiqueue.core.status import Status
from tuiqueue.store.sqlite import SqliteStore


def _changes_since(db: str, version: int) -> tuple[int, list[int]]:
    async def read() -> tuple[int, list[int]]:
        store = SqliteStore(db)
        await store.open()
        try:
            changes = await store.changes(version)
            return changes.version, [j.id for j in changes.jobs]
        finally:
            await store.close()

    return anyio.run(read)


def test_submit_and_cancel_bump_the_version_a_watcher_reads(db: str) -> None:
    assert tq("--db", db, "stats").returncode == 0  # creates the file
    before, _ = _changes_since(db, 0)
    out = tq("--db", db, "submit", "echo", "-p", "message=hi")
    assert out.returncode == 0, out.stderr
    after_submit, jobs = _changes_since(db, before)
    assert after_submit > before and jobs == [1]
    out = tq("--db", db, "cancel", "1")
    assert out.returncode == 0 and out.stdout == "job 1: cancelled\n", out.stderr
    after_cancel, jobs = _changes_since(db, after_submit)
    assert after_cancel > after_submit and jobs == [1]
    store = SqliteStore(db)
    store.open_now()
    try:
        job = store.get_now(1)
        assert job is not None and job.status is Status.CANCELLED
    finally:
        store.close_now()


def test_a_locked_file_is_waited_for_not_failed(db: str) -> None:
    assert tq("--db", db, "stats").returncode == 0
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    locked = threading.Event()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuiqueue", "--db", db, "submit", "echo"],
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def release() -> None:
        locked.wait(5)
        holder.execute("COMMIT")

    thread = threading.Thread(target=release)
    thread.start()
    try:
        # The submit cannot finish while the lock is held: it is still running.
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
    finally:
        locked.set()
        thread.join()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out == "1\n"
    holder.close()
