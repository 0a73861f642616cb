"""Opening a SQLite store safely: validate before touching, then migrate by user_version."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path

from tuiqueue.core.logs import logger
from tuiqueue.store.base import StoreError

log = logger(__name__)

SCHEMA_VERSION = 11
APP_ID = 0x7475_6971  # "tuiq": PRAGMA application_id marks our files

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
    INSERT INTO meta VALUES ('version', 0), ('queue_paused', 0);
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        type TEXT NOT NULL,
        params TEXT NOT NULL,
        priority INTEGER NOT NULL,
        status TEXT NOT NULL,
        progress REAL NOT NULL DEFAULT 0,
        message TEXT NOT NULL DEFAULT '',
        result TEXT,
        error TEXT,
        traceback TEXT,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        run_at REAL,
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL DEFAULT 1,
        timeout REAL,
        worker TEXT,
        token TEXT,
        rerun_of INTEGER,
        depends_on TEXT NOT NULL DEFAULT '[]',
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL,
        updated_at REAL NOT NULL,
        log_count INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX jobs_ready ON jobs (status, priority DESC, id);
    CREATE INDEX jobs_status_id ON jobs (status, id);
    CREATE INDEX jobs_type_id ON jobs (type, id);
    CREATE INDEX jobs_version ON jobs (version);
    CREATE INDEX jobs_due ON jobs (run_at) WHERE status = 'scheduled';
    CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
    CREATE TABLE logs (
        job_id INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        line TEXT NOT NULL,
        PRIMARY KEY (job_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE deleted (
        seq INTEGER PRIMARY KEY, version INTEGER NOT NULL, job_id INTEGER NOT NULL
    );
    CREATE INDEX deleted_version ON deleted (version);
    CREATE TABLE workers (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        concurrency INTEGER NOT NULL,
        running INTEGER NOT NULL DEFAULT 0,
        processed INTEGER NOT NULL DEFAULT 0,
        started_at REAL NOT NULL,
        heartbeat REAL NOT NULL,
        stopped INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    """,
    2: """
    CREATE TABLE job_procs (
        job_id INTEGER PRIMARY KEY,
        token TEXT NOT NULL,
        host TEXT NOT NULL,
        pgid INTEGER NOT NULL,
        start_time INTEGER NOT NULL
    );
    """,
    3: """
    ALTER TABLE workers ADD COLUMN error TEXT NOT NULL DEFAULT ''
    """,
    # A big submit's jobs are written in chunks into an id range reserved up front; while
    # the range's row has no committed version, every reader skips those ids.
    4: """
    CREATE TABLE batches (
        id INTEGER PRIMARY KEY,
        lo INTEGER NOT NULL,
        hi INTEGER NOT NULL,
        owner TEXT NOT NULL,
        created_at REAL NOT NULL,
        committed INTEGER
    )
    """,
    # Queues, and claims that consider only the worker's types: jobs_claim serves both
    # (status, queue, type) lookups in order and replaces jobs_ready, so a claim's update
    # keeps the same number of indexes to maintain.
    5: """
    ALTER TABLE jobs ADD COLUMN queue TEXT NOT NULL DEFAULT 'default';
    DROP INDEX IF EXISTS jobs_ready;
    CREATE INDEX jobs_claim ON jobs (status, queue, type, priority DESC, id);
    ALTER TABLE workers ADD COLUMN types TEXT;
    ALTER TABLE workers ADD COLUMN queues TEXT;
    CREATE TABLE queues (
        name TEXT PRIMARY KEY,
        paused INTEGER NOT NULL DEFAULT 0,
        cap INTEGER
    ) WITHOUT ROWID
    """,
    6: """
    CREATE TABLE job_steps (job_id INTEGER PRIMARY KEY, steps TEXT NOT NULL)
    """,
    # Schedules and the origins of the jobs they made (schedules_sqlite.py).
    7: """
CREATE TABLE schedules (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0,
    next_run REAL,
    last_run REAL,
    last_job INTEGER,
    last_note TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE TABLE job_origins (
    job_id INTEGER PRIMARY KEY,
    schedule TEXT NOT NULL,
    slot REAL NOT NULL,
    kind TEXT NOT NULL,
    missed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX job_origins_schedule ON job_origins (schedule, job_id)
    """,
    # The reruns of a job ("rerun as #17"): Store.reruns looks them up by this index.
    8: """
    CREATE INDEX jobs_rerun_of ON jobs (rerun_of, id) WHERE rerun_of IS NOT NULL
    """,
    # Presets: saved forms by name (presets_sqlite.py).
    9: """
CREATE TABLE presets (
    name TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    params TEXT NOT NULL,
    priority INTEGER NOT NULL,
    queue TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX presets_type ON presets (type, name)
    """,
    # jobs_claim holds only pending rows (as on PostgreSQL): a claim takes a row out of it and
    # a finish does not touch it, where before both moved an entry within it (with finishes
    # reading back only ids, drains of 64 went from ~21k to ~45k jobs/s). Queries that
    # need it name it (INDEXED BY) with the status as a literal, or SQLite's planner, blind
    # to a partial index for a bound parameter, takes jobs_status_id and scans.
    10: """
    DROP INDEX IF EXISTS jobs_claim;
    CREATE INDEX jobs_claim ON jobs (queue, type, priority DESC, id) WHERE status = 'pending'
    """,
    # The change feed: one row per write of jobs, the ids it changed (SqliteConnection.touched),
    # instead of an index on jobs.version that every claim and every finish moved an entry of
    # (a fifth of a drain's time). Versions up to meta's changed_from have no rows (never had,
    # or pruned): a watcher that far behind reads jobs.version the slow way (changes()).
    11: """
    CREATE TABLE changed (version INTEGER NOT NULL, ids TEXT NOT NULL);
    CREATE INDEX changed_version ON changed (version);
    INSERT INTO meta (key, value) SELECT 'changed_from', value FROM meta WHERE key = 'version';
    DROP INDEX IF EXISTS jobs_version
    """,
}

SQLITE_HEADER = b"SQLite format 3\x00"


def _fail(path: Path, what: str, todo: str) -> StoreError:
    return StoreError(f"{path}: {what}. {todo}")


_OPEN_IN_PROCESS: dict[str, int] = {}
"""Files this process holds SQLite connections to. Opening and closing such a file with
plain open() would drop every POSIX lock SQLite holds on it (a POSIX quirk), letting another
process delete the live WAL; so a file already open here is not inspected again."""


def forget(path: Path) -> None:
    """Note that one connection to path was closed."""
    key = str(path.resolve())
    left = _OPEN_IN_PROCESS.get(key, 0) - 1
    if left > 0:
        _OPEN_IN_PROCESS[key] = left
    else:
        _OPEN_IN_PROCESS.pop(key, None)


PROBE_TRIES = 5
"""Looks at a file in use by other processes before it is declared damaged."""
OPEN_RETRY_FOR = 5.0
"""Seconds opening a file that another process holds locked is tried again."""


def inspect_file(path: Path) -> None:
    """Refuse files that are not a usable tuiqueue database, without writing to them."""
    if str(path.resolve()) in _OPEN_IN_PROCESS:
        return
    if path.is_dir():
        raise _fail(path, "is a directory, not a database file", "Pass a file path with --db.")
    if not path.exists():
        parent = path.parent
        if not parent.exists():
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise _fail(
                    path, f"cannot create its folder ({exc.strerror})", "Choose another --db path."
                ) from exc
        if not os.access(parent, os.W_OK):
            raise _fail(path, "its folder is not writable", "Choose another --db path.")
        return
    if not os.access(path, os.R_OK):
        raise _fail(path, "is not readable (permission denied)", "Fix its permissions.")
    wal = Path(f"{path}-wal")
    for attempt in range(PROBE_TRIES):
        try:
            _probe(path, wal)
            return
        except StoreError:
            # A live database (it has a WAL) may be mid-checkpoint: the lock-free probe can
            # then read pages from two moments. A file made a moment ago may be a database
            # that another process (a worker and a submit started together) is creating:
            # empty until its first commit. Look again before calling either damaged.
            if attempt == PROBE_TRIES - 1 or not (wal.exists() or _just_made(path)):
                raise
            log.debug("%s: probe %d failed; looking again", path, attempt + 1, exc_info=True)
            time.sleep(0.05 * (attempt + 1))


def _just_made(path: Path) -> bool:
    """Whether the file was changed in the last couple of seconds (may be mid-creation)."""
    try:
        return time.time() - path.stat().st_mtime < 2.0
    except OSError:
        return False


def _probe(path: Path, wal: Path) -> None:
    size = path.stat().st_size
    if size == 0:
        raise _fail(
            path,
            "is an empty file, not a tuiqueue database",
            "Remove it or choose another --db path; tuiqueue will not write over it.",
        )
    with path.open("rb") as fh:
        header = fh.read(100)
    if not header.startswith(SQLITE_HEADER):
        raise _fail(
            path, "is not a SQLite database", "Check the path; tuiqueue will not write over it."
        )
    if path.stat().st_mode & 0o222 == 0:
        raise _fail(path, "is read-only", "Make it writable (chmod u+w) or copy it elsewhere.")
    page_size = int.from_bytes(header[16:18], "big") if len(header) >= 18 else 0
    page_size = 65536 if page_size == 1 else page_size
    header_pages = int.from_bytes(header[28:32], "big") if len(header) >= 32 else 0
    live = wal.exists() and wal.stat().st_size > 0
    # With a WAL the header may count pages that only the WAL holds yet (a checkpoint that
    # a full disk cut short): SQLite reads them from the WAL, so the file is not short.
    if len(header) < 100 or size % 512 or (header_pages * page_size > size and not live):
        raise _fail(
            path,
            "is truncated or damaged",
            "Restore it from a backup (`tuiqueue db backup` makes one).",
        )
    try:
        # immutable: read without locks and without creating -wal/-shm files next to it;
        # a live database (it has a WAL) is read with its WAL.
        mode = "mode=ro" if live else "mode=ro&immutable=1"
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?{mode}", uri=True)
        try:
            conn.execute("PRAGMA schema_version").fetchone()
            user_version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise _fail(
            path, f"cannot be read ({exc})", "Restore it from a backup or choose another --db path."
        ) from exc
    if user_version > SCHEMA_VERSION:
        raise _fail(
            path,
            f"was written by a newer tuiqueue (schema {user_version}, "
            f"this version understands up to {SCHEMA_VERSION})",
            "Upgrade tuiqueue (pip install -U tuiqueue).",
        )
    if tables and "jobs" not in tables:
        raise _fail(
            path,
            "is a SQLite database of another program, not tuiqueue's",
            "Choose another --db path.",
        )


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the schema up to SCHEMA_VERSION in one write transaction."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise _fail(
            path,
            f"was written by a newer tuiqueue (schema {current}, this version "
            f"understands up to {SCHEMA_VERSION})",
            "Upgrade tuiqueue (pip install -U tuiqueue).",
        )
    if current == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute(f"PRAGMA application_id = {APP_ID}")
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        conn.execute("ROLLBACK")
        raise _fail(
            path, f"could not be set up ({exc})", "Check free disk space and permissions."
        ) from exc


def connect(path: Path, busy_ms: int) -> sqlite3.Connection:
    """Open a validated file read-write in WAL mode and migrate it.

    A failed open leaves nothing behind that it made: a new file, or -wal/-shm files that
    were not there before (a full disk would otherwise leave an empty file that blocks the
    path for good, or sidecars beside a good database).
    """
    inspect_file(path)
    sidecars = [Path(f"{path}{suffix}") for suffix in ("-wal", "-shm", "-journal")]
    existed = {p: p.exists() for p in [path, *sidecars]}
    try:
        with contextlib.suppress(OSError):  # a new file is its owner's only (sqlite uses umask)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        conn = _open(path, busy_ms)
    except BaseException:
        if str(path.resolve()) not in _OPEN_IN_PROCESS:
            for made in [p for p, was in existed.items() if not was]:
                try:
                    no_wal = not sidecars[0].exists()
                    if (
                        made == path
                        or not existed[path]
                        or made.stat().st_size == 0
                        or (made == sidecars[1] and no_wal)
                    ):
                        made.unlink(missing_ok=True)
                except OSError:
                    pass
        raise
    key = str(path.resolve())
    _OPEN_IN_PROCESS[key] = _OPEN_IN_PROCESS.get(key, 0) + 1
    return conn


def _open(path: Path, busy_ms: int) -> sqlite3.Connection:
    # Two processes opening a new file at once (a worker and a submit started together):
    # switching to WAL mode while the other sets the file up can fail with "locked" at once,
    # without waiting for the busy timeout. Try again for a while before giving up.
    deadline = time.monotonic() + OPEN_RETRY_FOR
    delay = 0.01
    while True:
        try:
            return _open_once(path, busy_ms)
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                raise _open_failed(path, exc) from exc
        except sqlite3.DatabaseError as exc:
            raise _open_failed(path, exc) from exc
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def _open_once(path: Path, busy_ms: int) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"could not switch to WAL mode (got {mode})")
        conn.execute("PRAGMA synchronous = NORMAL")
        # After each checkpoint, cut the WAL back so a busy hour cannot leave it huge.
        conn.execute("PRAGMA journal_size_limit = 4194304")
        conn.execute("PRAGMA foreign_keys = OFF")
        migrate(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def _open_failed(path: Path, exc: sqlite3.DatabaseError) -> StoreError:
    """The clear message for a file that would not open."""
    return explain(path, exc, opening=True)


DISK_FULL_BELOW = 1 << 20
"""Free bytes under which an I/O error is reported as a full disk."""


def _disk_full(path: Path) -> bool:
    import shutil  # (~6 ms with its compression modules: only to explain an error)

    try:
        return shutil.disk_usage(path.parent).free < DISK_FULL_BELOW
    except OSError:
        return False


def is_damage(exc: BaseException) -> bool:
    """Whether a SQLite error means the file itself is damaged (not busy, full or read-only)."""
    text = str(exc).lower()
    return (
        "malformed" in text
        or "not a database" in text
        or (
            isinstance(exc, sqlite3.DatabaseError)
            and not isinstance(exc, sqlite3.OperationalError)
            and "full" not in text
        )
    )


def explain(path: Path, exc: BaseException, *, opening: bool = False) -> StoreError:
    """One line that says what is wrong with the file and what to do, for any SQLite error."""
    text = str(exc)
    low = text.lower()
    if is_damage(exc):
        return _fail(
            path,
            f"is damaged ({text})",
            f"Nothing more is written to it. Run `tuiqueue --db {path} db check`, then "
            "restore a backup (`tuiqueue db backup` makes one from a good file).",
        )
    if "full" in low or (("disk i/o" in low or "i/o error" in low) and _disk_full(path)):
        return _fail(
            path,
            "cannot be written: the disk is full",
            "Free some space and try again; nothing that was acknowledged was lost.",
        )
    if "readonly" in low or "read-only" in low:
        folder = path.parent
        if os.access(path, os.W_OK) and not os.access(folder, os.W_OK):
            return _fail(
                path,
                f"is in a read-only folder ({folder}): SQLite must create "
                f"{path.name}-wal and {path.name}-shm beside it",
                "Make the folder writable (chmod u+w) or move the file.",
            )
        return _fail(path, "is read-only", "Make it writable (chmod u+w) or copy it elsewhere.")
    if "disk i/o" in low:
        return _fail(
            path,
            f"cannot be {'opened' if opening else 'written'} (disk I/O error)",
            "Check the disk and the file's permissions, then `tuiqueue db check`.",
        )
    return _fail(
        path,
        f"cannot be {'opened' if opening else 'used'} ({text})",
        "Check the path and permissions.",
    )


class WalGuard:
    """Notices a -wal file deleted or replaced under an open connection.

    SQLite keeps writing to the WAL it opened; if someone deletes -wal/-shm, other processes
    start a new WAL and this one's next checkpoint writes a stale view back over their
    commits. So every write first checks that the WAL at the path is still the one open.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.wal = Path(f"{path}-wal")
        self._inode: int | None = None

    def check(self) -> None:
        """Raise StoreError if the WAL this connection uses is no longer the one at the path."""
        try:
            inode = os.stat(self.wal).st_ino
        except FileNotFoundError:
            inode = None
        if self._inode is None:
            self._inode = inode
            return
        if inode != self._inode:
            raise _fail(
                self.path,
                f"its write-ahead log ({self.wal.name}) was deleted or "
                "replaced while tuiqueue had it open",
                "Stopping so nothing stale is written back. Run `tuiqueue db check`, "
                "then start tuiqueue again.",
            )


def check(path: Path) -> dict[str, object]:
    """Integrity, schema version and counts of a database, read-only (for `tuiqueue db check`)."""
    inspect_file(path)
    if not path.exists():
        raise _fail(path, "does not exist", "Check the --db path.")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
        try:
            problems = [r[0] for r in conn.execute("PRAGMA integrity_check")]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            counts = dict(conn.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status"))
            workers = conn.execute("SELECT COUNT(*) FROM workers").fetchone()[0]
            logs = conn.execute("SELECT COUNT(*) FROM logs WHERE seq > 0").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise _fail(path, f"is damaged ({exc})", "Restore it from a backup.") from exc
    wal = Path(f"{path}-wal")
    return {
        "path": str(path),
        "ok": problems == ["ok"],
        "integrity": problems[:20],
        "schema_version": version,
        "jobs": counts,
        "total_jobs": sum(counts.values()),
        "log_lines": logs,
        "workers": workers,
        "size_bytes": path.stat().st_size,
        "wal_bytes": wal.stat().st_size if wal.exists() else 0,
    }


def backup(path: Path, dest: Path) -> int:
    """Copy a live database consistently with SQLite's backup API; returns the pages copied."""
    inspect_file(path)
    if not path.exists():
        raise _fail(path, "does not exist", "Check the --db path.")
    if dest.exists():
        raise _fail(dest, "already exists", "Choose a new file name; a backup never overwrites.")
    tmp = dest.with_name(dest.name + ".partial")
    try:
        src = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            out = sqlite3.connect(str(tmp))
            try:
                src.backup(out)  # one step: a consistent snapshot even while workers write
                pages = int(out.execute("PRAGMA page_count").fetchone()[0])
                out.execute("PRAGMA journal_mode = DELETE")
            finally:
                out.close()
        finally:
            src.close()
        tmp.replace(dest)
    except sqlite3.Error as exc:
        tmp.unlink(missing_ok=True)
        raise _fail(
            dest, f"could not be written ({exc})", "Check free space and permissions."
        ) from exc
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _fail(
            dest, f"could not be written ({exc.strerror})", "Check free space and permissions."
        ) from exc
    return pages
