"""Big submits on SQLite: written in short chunks, invisible until one small commit.

A batch reserves a range of job ids first (sqlite_sequence moves past it, so other submits
get later ids), then inserts its jobs a chunk per transaction, so heartbeats, claims and
other submits get the file in between. While its `batches` row has no committed version,
every reader skips the range (`hidden` / `skip`); the commit is one tiny transaction that
sets that version, and `changes()` then returns the whole batch at once. A submitter that
dies mid-batch holds no lock any more (worker_locks.py): its rows are deleted, never shown.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Sequence

from tuiqueue.core.job import Job, NewJob
from tuiqueue.core.lifecycle import UnknownJob
from tuiqueue.core.logs import logger
from tuiqueue.core.status import Status
from tuiqueue.store.base import StoreError
from tuiqueue.store.sqlite_conn import SqliteConnection
from tuiqueue.store.worker_locks import Liveness, WorkerLocks

log = logger(__name__)

CHUNK = 1_000
"""Jobs per transaction of a big submit; a submit of at most this many is one transaction."""
CHUNK_PAUSE = 0.01
"""Seconds a big submit leaves the file to others between its chunks."""
UNKNOWN_STALE = 3_600.0
"""An open batch whose owner left no lock file is abandoned after this many seconds."""
SWEEP_EVERY = 5.0
"""Seconds between looks for abandoned batches (recovery passes run more often)."""

Ranges = list[tuple[int, int]]
Insert = Callable[
    [sqlite3.Connection, Sequence[NewJob], float, int, dict[int, Status | None], int | None],
    list[Job],
]
DepStatus = Callable[[sqlite3.Connection, set[int]], dict[int, Status | None]]


def hidden(conn: sqlite3.Connection) -> Ranges:
    """The id ranges of batches still being written (usually none)."""
    return [
        (int(lo), int(hi))
        for lo, hi in conn.execute("SELECT lo, hi FROM batches WHERE committed IS NULL")
    ]


def skip(ranges: Ranges, column: str = "id") -> tuple[str, list[int]]:
    """`AND ...` SQL (and its arguments) that leaves out the ids of open batches."""
    sql = "".join(f" AND {column} NOT BETWEEN ? AND ?" for _ in ranges)
    return sql, [bound for pair in ranges for bound in pair]


class Batches:
    """The big submits of one SqliteStore: staging, the commit, and abandoned ones' clean-up."""

    def __init__(self, db: SqliteConnection, locks: WorkerLocks) -> None:
        self._db = db
        self._locks = locks
        self._swept_at = 0.0

    async def add(
        self, jobs: Sequence[NewJob], now: float, insert: Insert, dep_status: DepStatus
    ) -> list[Job]:
        """Insert jobs chunk by chunk; all of them become visible at once, or none ever."""
        import anyio  # here: the command line's sync path (sqlite.py's `_now` methods) never is

        await self.sweep(force=True)
        owner = f"submit-{os.urandom(6).hex()}"
        self._locks.hold(owner)  # while we live, nobody takes our open batch for garbage
        try:
            deps = {d for new in jobs for d in new.depends_on}

            def begin(conn: sqlite3.Connection) -> tuple[int, int]:
                missing = [d for d, s in dep_status(conn, deps).items() if s is None]
                if missing:
                    raise UnknownJob(min(missing))
                row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'jobs'").fetchone()
                top = conn.execute("SELECT MAX(id) FROM jobs").fetchone()[0] or 0
                lo = max(top, row[0] if row else 0) + 1
                hi = lo + len(jobs) - 1
                if row is None:
                    conn.execute(
                        "INSERT INTO sqlite_sequence (name, seq) VALUES ('jobs', ?)", (hi,)
                    )
                else:
                    conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'jobs'", (hi,))
                cur = conn.execute(
                    "INSERT INTO batches (lo, hi, owner, created_at) VALUES (?, ?, ?, ?)",
                    (lo, hi, owner, time.time()),
                )
                return int(cur.lastrowid or 0), lo

            batch, lo = await self._db.write(begin)
            try:
                out: list[Job] = []
                for start in range(0, len(jobs), CHUNK):
                    part = jobs[start : start + CHUNK]
                    first = lo + start

                    def chunk(
                        conn: sqlite3.Connection,
                        part: Sequence[NewJob] = part,
                        first: int = first,
                    ) -> list[Job]:
                        version = self._db.bump(conn)
                        known = dep_status(conn, {d for new in part for d in new.depends_on})
                        missing = [d for d, s in known.items() if s is None]
                        if missing:
                            raise UnknownJob(min(missing))
                        return insert(conn, part, now, version, known, first)

                    out += await self._db.write(chunk)
                    await anyio.sleep(CHUNK_PAUSE)

                def commit(conn: sqlite3.Connection) -> None:
                    version = self._db.bump(conn)
                    done = conn.execute(
                        "UPDATE batches SET committed = ? WHERE id = ? AND committed IS NULL",
                        (version, batch),
                    ).rowcount
                    if not done and not _committed(conn, batch):
                        raise StoreError(
                            f"{self._db.path}: this submit's jobs were removed before they "
                            "were committed (its lock file was deleted?); nothing was added. "
                            "Submit again."
                        )
                    conn.execute(
                        "DELETE FROM batches WHERE committed IS NOT NULL AND committed < ?",
                        (version - 100_000,),
                    )

                await self._db.write(commit)
                return out
            except BaseException:
                with anyio.CancelScope(shield=True):
                    try:
                        await self._drop(batch)
                    except Exception:  # the next sweep removes it: the owner's lock is gone
                        log.warning("could not remove an unfinished batch", exc_info=True)
                raise
        finally:
            self._locks.release(owner)

    async def _drop(self, batch: int) -> None:
        """Delete an open batch's rows, a chunk per transaction, then the batch itself."""
        import anyio

        row = await self._db.read(
            lambda c: c.execute(
                "SELECT lo, hi, committed FROM batches WHERE id = ?", (batch,)
            ).fetchone()
        )
        if row is None or row[2] is not None:
            return  # gone, or committed: then it is the user's now, never removed
        lo, hi = int(row[0]), int(row[1])
        for start in range(lo, hi + 1, CHUNK):

            def part(conn: sqlite3.Connection, start: int = start) -> None:
                if _committed(conn, batch):
                    return
                conn.execute(
                    "DELETE FROM jobs WHERE id BETWEEN ? AND ?", (start, min(hi, start + CHUNK - 1))
                )

            await self._db.write(part)
            await anyio.sleep(CHUNK_PAUSE)
        await self._db.write(
            lambda c: c.execute("DELETE FROM batches WHERE id = ? AND committed IS NULL", (batch,))
        )

    async def sweep(self, *, force: bool = False) -> int:
        """Remove the batches whose submitter died before committing; returns how many."""
        now = time.monotonic()
        if not force and now - self._swept_at < SWEEP_EVERY:
            return 0
        self._swept_at = now
        rows = await self._db.read(
            lambda c: c.execute(
                "SELECT id, owner, created_at FROM batches WHERE committed IS NULL"
            ).fetchall()
        )
        gone = 0
        for batch, owner, created_at in rows:
            state = self._locks.state(owner)
            if state is Liveness.ALIVE:
                continue
            if state is Liveness.UNKNOWN and time.time() - created_at < UNKNOWN_STALE:
                continue
            log.info("removing batch %s of a submit that died before committing it", batch)
            await self._drop(int(batch))
            self._locks.forget(owner)
            gone += 1
        return gone


def _committed(conn: sqlite3.Connection, batch: int) -> bool:
    row = conn.execute("SELECT committed FROM batches WHERE id = ?", (batch,)).fetchone()
    return row is not None and row[0] is not None
