"""The SQLite store keeps its WAL bounded when other processes keep reading it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.test_store_conformance import NOW, new
from tuiqueue.core.job import NewJob
from tuiqueue.store import sqlite_conn
from tuiqueue.store.sqlite import SqliteStore

pytestmark = pytest.mark.anyio


async def test_a_wal_cut_that_a_reader_blocked_is_tried_again_at_the_next_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader in another connection pins the WAL: the look (every WAL_LOOK_EVERY writes)
    cannot cut it back. Once the reader is done, the very next write cuts it, not the next
    scheduled look, so a WAL kept busy by other processes does not grow for 8 more writes."""
    monkeypatch.setattr(sqlite_conn, "WAL_LIMIT", 32 * 1024)
    monkeypatch.setattr(sqlite_conn, "WAL_WAIT_MS", 1)
    monkeypatch.setattr(sqlite_conn, "WAL_RETRY_MS", 1)
    path = tmp_path / "jobs.db"
    wal = Path(f"{path}-wal")
    store = SqliteStore(path)
    await store.open()
    reader = sqlite3.connect(path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM jobs").fetchone()  # a snapshot the WAL must keep
        for _ in range(sqlite_conn.WAL_LOOK_EVERY * 2):
            await store.add([NewJob("echo", {"pad": "x" * 2000}) for _ in range(4)], NOW)
        assert wal.stat().st_size > sqlite_conn.WAL_LIMIT  # looked, could not cut
        reader.execute("COMMIT")
        await store.add([new()], NOW)  # the next write, not the next 8th
        assert wal.stat().st_size < sqlite_conn.WAL_LIMIT
        jobs = await store.list_jobs(limit=1000)
        assert len(jobs) == sqlite_conn.WAL_LOOK_EVERY * 8 + 1  # nothing lost
    finally:
        reader.close()
        await store.close()
