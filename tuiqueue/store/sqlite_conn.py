"""SqliteConnection: one SQLite connection with its transactions, retries and versions."""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from tuiqueue.core.logs import logger
from tuiqueue.store.base import OwnVersions, StoreError
from tuiqueue.store.sqlite_schema import WalGuard, connect, explain, forget, is_damage

T = TypeVar("T")

log = logger(__name__)

BUSY_MS = 20
"""SQLite waits this long for a lock inside a call (blocking the loop); we retry beyond it."""
RETRY_FOR = 30.0
"""Seconds to keep retrying a locked database before giving up with a clear error."""
WAL_LIMIT = 6 * 2**20
"""A WAL past this many bytes is checkpointed and cut back by the next write that sees it."""
WAL_LOOK_EVERY = 8
"""Writes between looks at the WAL's size."""
WAL_WAIT_MS = 200
"""How long cutting the WAL back waits for other processes' readers (blocking this one)."""
WAL_RETRY_MS = 50
"""The wait of the looks that follow a cut that failed: they come at every write until the
WAL is back under WAL_LIMIT (one every WAL_LOOK_EVERY writes let a WAL that other processes
kept reading grow to three times the limit in a test of ten processes)."""
CHANGED_KEEP = 4_000
"""Versions of the change feed kept: a few seconds of the busiest engine, minutes to hours of
a usual queue; a watcher further behind (a suspended dashboard) reads jobs the slow way. Rows
name every job a write changed (500 running jobs' progress: ~3.5 KB), so the feed is kept
short."""
CHANGED_PRUNE_EVERY = 256
"""Writes between prunings of the change feed."""


class SqliteConnection:
    """One store's connection: retried transactions, change versions, its own versions, the WAL."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.url = str(self.path)
        self._conn: sqlite3.Connection | None = None
        self._own = OwnVersions()
        self._tx_versions: list[int] = []
        """Versions the running write transaction set; ours once it commits."""
        self._tx_changed: dict[int, list[int]] = {}
        """The jobs the running write transaction changed, by version (touched)."""
        self._writes = 0
        self._wal = Path(f"{self.path}-wal")
        self._guard = WalGuard(self.path)
        self._broken: StoreError | None = None
        """Set once the file is known damaged or its WAL was replaced: refuse everything."""
        self._disk_was_full = False
        self._wal_over = False
        """The last look found the WAL past WAL_LIMIT and could not cut it back."""

    async def open(self) -> None:
        """Connect (blocks the event loop while the schema is checked or migrated)."""
        self.open_now()

    def open_now(self) -> None:
        """open without an event loop."""
        if self._conn is None:
            self._conn = connect(self.path, BUSY_MS)
            for sidecar in (self._wal, Path(f"{self.path}-shm")):
                if _own(sidecar):  # jobs' params and logs are nobody else's
                    with contextlib.suppress(OSError):
                        os.chmod(sidecar, 0o600)

    async def verify(self) -> None:
        """PRAGMA quick_check: a damaged page anywhere is found before a worker writes
        (blocks the event loop for one scan of the file)."""
        rows = await self.read(lambda c: c.execute("PRAGMA quick_check(3)").fetchall())
        problems = [str(r[0]) for r in rows if str(r[0]) != "ok"]
        if problems:
            self._broken = explain(
                self.path,
                sqlite3.DatabaseError(
                    "database disk image is malformed: " + "; ".join(problems)[:300]
                ),
            )
            raise self._broken

    async def close(self) -> None:
        """Close the connection."""
        self.close_now()

    def close_now(self) -> None:
        """close without an event loop."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            forget(self.path)
            shm = Path(f"{self.path}-shm")
            if self._disk_was_full and not self._wal.exists() and shm.exists():
                # The last connection's clean-up was cut short by the full disk: without a
                # WAL the -shm index is stale and only clutters the folder.
                shm.unlink(missing_ok=True)

    @property
    def conn(self) -> sqlite3.Connection:
        """The open connection."""
        if self._conn is None:
            raise StoreError(f"{self.path}: the store is not open")
        return self._conn

    def _attempt(self, fn: Callable[[sqlite3.Connection], T], write: bool) -> T:
        """Run fn once (in BEGIN IMMEDIATE ... COMMIT if write); raises _Locked when the file
        is locked or busy, StoreError for everything else that went wrong."""
        conn = self.conn
        if self._broken is not None:
            raise self._broken
        try:
            if not write:
                return fn(conn)
            try:
                self._guard.check()
            except StoreError as exc:
                self._broken = exc  # a stale view must not be written back, ever
                raise
            conn.execute("BEGIN IMMEDIATE")
            self._tx_versions.clear()
            self._tx_changed.clear()
            try:
                out = fn(conn)
                if self._tx_changed:
                    self._write_changed(conn)
                conn.execute("COMMIT")
                for version in self._tx_versions:
                    self._own.add(version)
                self._writes += 1
                if self._wal_over or self._writes % WAL_LOOK_EVERY == 0:
                    self._rein_in_wal(conn)
                return out
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as exc:
            text = str(exc)
            if "locked" in text or "busy" in text:
                raise _Locked(exc) from exc
            error = explain(self.path, exc)
            self._disk_was_full |= "disk is full" in str(error)
            if is_damage(exc):
                self._broken = error  # refuse every later read and write
            raise error from exc

    def _locked_too_long(self) -> StoreError:
        return StoreError(
            f"{self.path}: the database stayed locked for {RETRY_FOR:.0f}s; "
            "another process holds it (is one stuck?)"
        )

    async def _retry(self, fn: Callable[[sqlite3.Connection], T], write: bool) -> T:
        import anyio  # here, not at the top: the command line's sync path never needs it

        delay = 0.001
        deadline = anyio.current_time() + RETRY_FOR
        while True:
            try:
                return self._attempt(fn, write)
            except _Locked as exc:
                if anyio.current_time() > deadline:
                    raise self._locked_too_long() from exc.__cause__
            await anyio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.05)

    def _retry_now(self, fn: Callable[[sqlite3.Connection], T], write: bool) -> T:
        """_retry without an event loop: it sleeps the thread while the file is locked."""
        delay = 0.001
        deadline = time.monotonic() + RETRY_FOR
        while True:
            try:
                return self._attempt(fn, write)
            except _Locked as exc:
                if time.monotonic() > deadline:
                    raise self._locked_too_long() from exc.__cause__
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.05)

    def _rein_in_wal(self, conn: sqlite3.Connection) -> None:
        """Checkpoint and truncate a WAL that grew past WAL_LIMIT.

        SQLite's automatic checkpoints copy pages back but can restart the WAL only at a moment
        when no other process reads it; with several busy processes on one file there may be
        no such moment, and the WAL grows without bound (tens of MB in a minute). TRUNCATE
        waits (busy timeout) for the readers of the moment to finish; if they do not, the
        next look tries again.
        """
        try:
            size = self._wal.stat().st_size
        except OSError:  # no WAL (yet) to look at
            self._wal_over = False
            return
        try:
            if size > WAL_LIMIT:
                wait = WAL_RETRY_MS if self._wal_over else WAL_WAIT_MS
                conn.execute(f"PRAGMA busy_timeout = {wait}")
                try:
                    busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                finally:
                    conn.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
                self._wal_over = bool(busy) and self._wal.stat().st_size > WAL_LIMIT
            else:
                self._wal_over = False
        except (OSError, sqlite3.OperationalError) as exc:
            self._wal_over = True  # (a lock held past the wait: the next write tries again)
            log.debug("%s: WAL not cut back (%s); the next write tries again", self.path, exc)

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run fn in one BEGIN IMMEDIATE transaction, retrying while the file is locked.

        fn runs on the event loop (SQLite calls block it, each for at most BUSY_MS).
        """
        return await self._retry(fn, write=True)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run fn as a read, retrying while the file is locked (blocks like write)."""
        return await self._retry(fn, write=False)

    def write_now(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """write for a caller without an event loop (the command line's short commands)."""
        return self._retry_now(fn, write=True)

    def read_now(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """read for a caller without an event loop."""
        return self._retry_now(fn, write=False)

    @staticmethod
    def next_version(conn: sqlite3.Connection) -> int:
        """The version a write that may change nothing would use (see _commit_version)."""
        return int(conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0]) + 1

    def commit_version(
        self, conn: sqlite3.Connection, version: int, changes_before: int, own: bool = True
    ) -> None:
        """Bump the version only if the transaction wrote rows: an idle claim writes nothing,
        so it does not wake every other process's watcher.

        own=False: the write also changed rows its caller does not publish (a claim's
        promotions), so this process's watcher must not skip the version as its own."""
        if conn.total_changes != changes_before:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'version'", (version,))
            if own:
                self._tx_versions.append(version)

    def bump(self, conn: sqlite3.Connection) -> int:
        """Bump the change version inside a write and return it."""
        row = conn.execute(
            "UPDATE meta SET value = value + 1 WHERE key = 'version' RETURNING value"
        ).fetchone()
        self._tx_versions.append(int(row[0]))
        return int(row[0])

    def touched(self, version: int, ids: Iterable[int]) -> None:
        """Note that the running write set these jobs' rows to `version`: the change feed
        (changes()) finds them by it. Every write of a jobs row must say so."""
        self._tx_changed.setdefault(version, []).extend(ids)

    def _write_changed(self, conn: sqlite3.Connection) -> None:
        """The transaction's rows of the change feed, just before it commits; now and then
        the oldest rows go (meta's changed_from says up to which version none are left)."""
        rows = [(v, _ids(ids)) for v, ids in self._tx_changed.items() if ids]
        conn.executemany("INSERT INTO changed (version, ids) VALUES (?, ?)", rows)
        if self._writes % CHANGED_PRUNE_EVERY == 0 and rows:
            below = max(v for v, _ in rows) - CHANGED_KEEP
            if conn.execute("DELETE FROM changed WHERE version <= ?", (below,)).rowcount:
                conn.execute(
                    "UPDATE meta SET value = max(value, ?) WHERE key = 'changed_from'", (below,)
                )

    def owns(self, since: int, version: int) -> bool:
        """Whether every version in (since, version] was committed through this object."""
        return self._own.covers(since, version)


def _ids(ids: list[int]) -> str:
    """A JSON array of the distinct ids."""
    return "[" + ",".join(map(str, sorted(set(ids)))) + "]"


class _Locked(Exception):
    """Another connection holds the lock: try again soon."""


def _own(path: Path) -> bool:
    """Whether path exists and this process owns it (only then can it be chmod-ed)."""
    try:
        return path.stat().st_uid == os.getuid()
    except OSError:
        return False
