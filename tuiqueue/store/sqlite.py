"""SqliteStore: the default store, one WAL-mode file shared safely by many processes."""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuiqueue.core.history import FinishedCount
from tuiqueue.core.job import Job, NewJob
from tuiqueue.core.lifecycle import (
    Command,
    Outcome,
    UnknownJob,
    apply_command,
    apply_priority,
    dependency_failure,
    queued_status,
)
from tuiqueue.core.logs import logger
from tuiqueue.core.queues import ANY, ClaimScope, QueueInfo
from tuiqueue.core.records import (
    Changes,
    JobProcess,
    LogLines,
    LogPage,
    ProgressUpdate,
    Step,
    Superseded,
    WorkerInfo,
)
from tuiqueue.core.status import ACTIVE, TERMINAL, Priority, Status
from tuiqueue.store import sqlite_claims, sqlite_feed, sqlite_finish
from tuiqueue.store.base import LOG_HEAD, LOG_TAIL, Store, clip_line, superseded
from tuiqueue.store.presets_sqlite import SqlitePresets
from tuiqueue.store.schedules_sqlite import SqliteSchedules
from tuiqueue.store.sqlite_batches import CHUNK, Batches, hidden, skip
from tuiqueue.store.sqlite_conn import BUSY_MS as BUSY_MS
from tuiqueue.store.sqlite_conn import RETRY_FOR as RETRY_FOR
from tuiqueue.store.sqlite_conn import SqliteConnection
from tuiqueue.store.sqlite_rows import COLUMNS, FRESH, _dumps, claimed_to_job, row_to_job
from tuiqueue.store.worker_locks import Liveness, WorkerLocks

if TYPE_CHECKING:
    from tuiqueue.core.schedule import Fire, Origin, Schedule

log = logger(__name__)


_LOCK_SAYS = {Liveness.ALIVE: True, Liveness.DEAD: False}
"""What a worker's lock file says of it (no file: its heartbeat's age decides)."""


class SqliteStore(Store):
    """Jobs in a SQLite file: WAL, BEGIN IMMEDIATE writes, bounded retries on contention."""

    shared = True
    exact_liveness = True

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.url = str(self.path)
        self._db = SqliteConnection(self.path)
        self._locks = WorkerLocks(self.path)
        self._batches = Batches(self._db, self._locks)
        self._token_base = os.urandom(5).hex()  # (as uuid4's first 10 hex digits; uuid
        # imports platform: ~2 ms of every short command)
        self._claims = 0
        self._schedules = SqliteSchedules(self._db, self._insert)
        self._presets = SqlitePresets(self._db)

    def clone(self) -> SqliteStore:
        """A fresh, unopened store on the same file."""
        return SqliteStore(self.path)

    async def open(self) -> None:
        self.open_now()

    async def close(self) -> None:
        self.close_now()

    # The `_now` methods are the store's methods for a caller without an event loop (the
    # command line's short commands); they run the same transactions as the async ones.

    def open_now(self) -> None:
        """open, without an event loop."""
        self._db.open_now()

    def close_now(self) -> None:
        """close, without an event loop."""
        self._db.close_now()
        self._locks.release_all()

    async def verify(self) -> None:
        await self._db.verify()

    @property
    def conn(self) -> sqlite3.Connection:
        """The open connection."""
        return self._db.conn

    async def add(self, jobs: Sequence[NewJob], now: float) -> list[Job]:
        if len(jobs) > CHUNK:  # written in chunks, visible in one step (sqlite_batches.py)
            return await self._batches.add(jobs, now, self._insert, self._dep_status)

        return await self._db.write(lambda conn: self._add(conn, jobs, now))

    def add_now(self, jobs: Sequence[NewJob], now: float) -> list[Job]:
        """add, without an event loop (at most CHUNK jobs: they are written in one step)."""
        if len(jobs) > CHUNK:
            raise ValueError(f"add_now takes at most {CHUNK} jobs")
        return self._db.write_now(lambda conn: self._add(conn, jobs, now))

    def _add(self, conn: sqlite3.Connection, jobs: Sequence[NewJob], now: float) -> list[Job]:
        version = self._db.bump(conn)
        known = self._dep_status(conn, {d for new in jobs for d in new.depends_on})
        missing = [d for d, s in known.items() if s is None]
        if missing:
            raise UnknownJob(min(missing))
        added = self._insert(conn, jobs, now, version, known, None)
        self._db.touched(version, [j.id for j in added])
        return added

    @staticmethod
    def _insert(
        conn: sqlite3.Connection,
        jobs: Sequence[NewJob],
        now: float,
        version: int,
        known: dict[int, Status | None],
        first_id: int | None,
    ) -> list[Job]:
        """INSERT the jobs (with ids from first_id on, or new ones) and return them."""
        rows = []
        for new in jobs:
            job = new.to_job(0, now, version)
            job.status = queued_status(job, now, known)
            rows.append(job)
        values = [
            (
                j.type,
                _dumps(j.params),
                int(j.priority),
                j.status.value,
                now,
                j.run_at,
                j.rerun_of,
                _dumps(j.depends_on),
                j.max_attempts,
                j.timeout,
                version,
                now,
                j.queue,
            )
            for j in rows
        ]
        columns = (
            "type, params, priority, status, created_at, run_at, rerun_of, "
            "depends_on, max_attempts, timeout, version, updated_at, queue"
        )
        if first_id is not None:
            conn.executemany(
                f"INSERT INTO jobs (id, {columns}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(first_id + i, *v) for i, v in enumerate(values)],
            )
            for offset, job in enumerate(rows):
                job.id = first_id + offset
            return rows
        cur = conn.executemany(
            f"INSERT INTO jobs ({columns}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", values
        )
        last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
        first = last - cur.rowcount + 1 if cur.rowcount > 0 else last - len(rows) + 1
        for offset, job in enumerate(rows):
            job.id = first + offset
        return rows

    async def sweep_batches(self) -> int:
        return await self._batches.sweep()

    async def get(self, job_id: int) -> Job | None:
        return await self._db.read(lambda conn: self._visible_row(conn, job_id))

    def get_now(self, job_id: int) -> Job | None:
        """get, without an event loop."""
        return self._db.read_now(lambda conn: self._visible_row(conn, job_id))

    async def reruns(self, job_id: int) -> list[int]:
        return await self._db.read(lambda conn: self._reruns(conn, job_id))

    def reruns_now(self, job_id: int) -> list[int]:
        """reruns, without an event loop."""
        return self._db.read_now(lambda conn: self._reruns(conn, job_id))

    @staticmethod
    def _reruns(conn: sqlite3.Connection, job_id: int) -> list[int]:
        hide, hide_args = skip(hidden(conn))
        sql = f"SELECT id FROM jobs WHERE rerun_of = ?{hide} ORDER BY id"
        return [int(r[0]) for r in conn.execute(sql, [job_id, *hide_args])]

    async def list_jobs(
        self,
        *,
        statuses: Collection[Status] | None = None,
        type: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
        after_id: int | None = None,
        queue: str | None = None,
    ) -> list[Job]:
        return await self._db.read(
            self._list_jobs(
                statuses=statuses,
                type=type,
                limit=limit,
                before_id=before_id,
                after_id=after_id,
                queue=queue,
            )
        )

    def list_jobs_now(
        self,
        *,
        statuses: Collection[Status] | None = None,
        type: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
        after_id: int | None = None,
        queue: str | None = None,
    ) -> list[Job]:
        """list_jobs, without an event loop."""
        return self._db.read_now(
            self._list_jobs(
                statuses=statuses,
                type=type,
                limit=limit,
                before_id=before_id,
                after_id=after_id,
                queue=queue,
            )
        )

    def _list_jobs(
        self,
        *,
        statuses: Collection[Status] | None = None,
        type: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
        after_id: int | None = None,
        queue: str | None = None,
    ) -> Callable[[sqlite3.Connection], list[Job]]:
        """The read that list_jobs runs."""
        where: list[str] = []
        args: list[str | int] = []
        if queue:
            where.append("queue = ?")
            args.append(queue)
        if statuses:
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            args.extend(s.value for s in statuses)
        if type:
            where.append("type = ?")
            args.append(type)
        if before_id is not None:
            where.append("id < ?")
            args.append(before_id)
        if after_id is not None:
            where.append("id > ?")
            args.append(after_id)

        def q(conn: sqlite3.Connection) -> list[Job]:
            hide, hide_args = skip(hidden(conn))
            sql = f"SELECT {COLUMNS} FROM jobs WHERE 1" + "".join(f" AND {w}" for w in where)
            sql += hide + f" ORDER BY id {'DESC' if after_id is None else 'ASC'} LIMIT ?"
            return [row_to_job(r) for r in conn.execute(sql, [*args, *hide_args, limit])]

        return q

    async def command(self, job_id: int, command: Command, now: float) -> Job:
        return await self._db.write(lambda conn: self._command(conn, job_id, command, now))

    def command_now(self, job_id: int, command: Command, now: float) -> Job:
        """command, without an event loop."""
        return self._db.write_now(lambda conn: self._command(conn, job_id, command, now))

    def _command(self, conn: sqlite3.Connection, job_id: int, command: Command, now: float) -> Job:
        job = self._visible_row(conn, job_id)
        if job is None:
            raise UnknownJob(job_id)
        if apply_command(job, command, now, self._dep_status(conn, job.depends_on)):
            job.version, job.updated_at = self._db.bump(conn), now
            self._save(conn, job)
            self._db.touched(job.version, [job.id])
        return job

    async def set_priority(self, job_id: int, priority: Priority, now: float) -> Job:
        def tx(conn: sqlite3.Connection) -> Job:
            row = conn.execute(f"SELECT {COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise UnknownJob(job_id)
            job = row_to_job(row)
            if apply_priority(job, priority):
                job.version, job.updated_at = self._db.bump(conn), now
                conn.execute(
                    "UPDATE jobs SET priority = ?, version = ?, updated_at = ? WHERE id = ?",
                    (int(priority), job.version, now, job_id),
                )
                self._db.touched(job.version, [job_id])
            return job

        return await self._db.write(tx)

    async def save_steps(self, steps: dict[int, list[Step]]) -> None:
        rows = [(job_id, _dumps([list(s) for s in marked])) for job_id, marked in steps.items()]

        def tx(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO job_steps (job_id, steps) SELECT ?1, ?2 WHERE EXISTS "
                "(SELECT 1 FROM jobs WHERE id = ?1) "
                "ON CONFLICT (job_id) DO UPDATE SET steps = excluded.steps",
                rows,
            )

        await self._db.write(tx)

    async def steps(self, job_id: int) -> list[Step]:
        return await self._db.read(lambda conn: self._steps(conn, job_id))

    def steps_now(self, job_id: int) -> list[Step]:
        """steps, without an event loop."""
        return self._db.read_now(lambda conn: self._steps(conn, job_id))

    @staticmethod
    def _steps(conn: sqlite3.Connection, job_id: int) -> list[Step]:
        row = conn.execute("SELECT steps FROM job_steps WHERE job_id = ?", (job_id,)).fetchone()
        return [] if row is None else [Step(*s) for s in json.loads(row[0])]

    def _remove(self, conn: sqlite3.Connection, ids: Sequence[int]) -> None:
        version = self._db.bump(conn)
        for chunk in range(0, len(ids), 500):
            part = list(ids[chunk : chunk + 500])
            marks = ",".join("?" * len(part))
            conn.execute(f"DELETE FROM jobs WHERE id IN ({marks})", part)
            conn.execute(f"DELETE FROM logs WHERE job_id IN ({marks})", part)
            conn.execute(f"DELETE FROM job_procs WHERE job_id IN ({marks})", part)
            conn.execute(f"DELETE FROM job_steps WHERE job_id IN ({marks})", part)
            conn.executemany(
                "INSERT INTO deleted (version, job_id) VALUES (?, ?)", [(version, j) for j in part]
            )
        conn.execute("DELETE FROM deleted WHERE version < ?", (version - 100_000,))

    async def delete(self, job_ids: Sequence[int]) -> list[int]:
        def tx(conn: sqlite3.Connection) -> list[int]:
            ranges = hidden(conn)
            for job_id in job_ids:
                row = conn.execute(
                    "SELECT status, token FROM jobs WHERE id = ?", (job_id,)
                ).fetchone()
                if row is None or any(lo <= job_id <= hi for lo, hi in ranges):
                    raise UnknownJob(job_id)
                if Status(row[0]) in ACTIVE and row[1] is not None:
                    raise ValueError(f"job {job_id} is {row[0]}; cancel it before deleting it")
            self._remove(conn, list(job_ids))
            return list(job_ids)

        return await self._db.write(tx)

    async def clear(
        self,
        statuses: Collection[Status],
        *,
        finished_before: float | None = None,
        keep_newest: int = 0,
        batch: int = 500,
        pause: float = 0.0,
    ) -> int:
        wanted = [s.value for s in statuses if s in TERMINAL]
        if not wanted:
            return 0
        marks = ",".join("?" * len(wanted))
        # Walk the finished_at index (a plain status filter sorted 10^5 rows per batch).
        where = (
            f"FROM jobs INDEXED BY jobs_finished WHERE finished_at IS NOT NULL "
            f"AND status IN ({marks}) AND finished_at < ?"
        )
        before = math.inf if finished_before is None else finished_before
        # The newest keep_newest stay: find the oldest of them once, then delete strictly
        # older rows oldest first, with no OFFSET to re-walk in every batch.
        bound: tuple[float, int] = (math.inf, 0)
        if keep_newest:
            row = await self._db.read(
                lambda c: c.execute(
                    f"SELECT finished_at, id {where} ORDER BY finished_at DESC, id DESC "
                    "LIMIT 1 OFFSET ?",
                    (*wanted, before, keep_newest - 1),
                ).fetchone()
            )
            if row is None:
                return 0
            bound = (row[0], row[1])
        sql = (
            f"SELECT id {where} AND (finished_at < ? OR (finished_at = ? AND id < ?)) "
            "ORDER BY finished_at, id LIMIT ?"
        )
        total = 0
        while True:

            def tx(conn: sqlite3.Connection) -> int:
                ids = [
                    r[0]
                    for r in conn.execute(
                        sql, (*wanted, before, bound[0], bound[0], bound[1], batch)
                    )
                ]
                if ids:
                    self._remove(conn, ids)
                return len(ids)

            done = await self._db.write(tx)
            total += done
            if done < batch:
                return total
            import anyio  # not at the top: the command line's sync path never needs it

            await anyio.sleep(pause)

    async def counts(self) -> dict[Status, int]:
        return await self._db.read(self._counts)

    def counts_now(self) -> dict[Status, int]:
        """counts, without an event loop."""
        return self._db.read_now(self._counts)

    @staticmethod
    def _counts(conn: sqlite3.Connection) -> dict[Status, int]:
        counts = dict.fromkeys(Status, 0)
        hide, args = skip(hidden(conn))
        sql = f"SELECT status, COUNT(*) FROM jobs WHERE 1{hide} GROUP BY status"
        for status, n in conn.execute(sql, args):
            counts[Status(status)] = n
        return counts

    async def _finished_since(
        self, since: float, now: float, width: float, limit: int
    ) -> tuple[list[FinishedCount], list[tuple[str, float]]]:
        # Both walk the finished_at index over the window only; the counts are one
        # GROUP BY (finished_at >= since, so CAST truncating is floor).
        window = (
            "FROM jobs INDEXED BY jobs_finished WHERE finished_at IS NOT NULL "
            "AND finished_at >= ? AND finished_at <= ?"
        )
        final = ",".join(f"'{s.value}'" for s in TERMINAL)

        def q(conn: sqlite3.Connection) -> tuple[list[FinishedCount], list[tuple[str, float]]]:
            hide, hide_args = skip(hidden(conn))
            rows = conn.execute(
                f"SELECT CAST((finished_at - ?) / ? AS INTEGER) AS bucket, type, status, "
                f"COUNT(*) {window} AND status IN ({final}){hide} GROUP BY bucket, type, status",
                (since, width, since, now, *hide_args),
            ).fetchall()
            times = conn.execute(
                f"SELECT type, finished_at - started_at {window} AND status = 'completed' "
                f"AND started_at IS NOT NULL{hide} ORDER BY finished_at DESC, id DESC LIMIT ?",
                (since, now, *hide_args, limit),
            ).fetchall()
            return (
                [FinishedCount(int(b), t, Status(st), int(n)) for b, t, st, n in rows],
                [(t, float(d)) for t, d in times],
            )

        return await self._db.read(q)

    async def changes(self, since: int) -> Changes:
        def q(conn: sqlite3.Connection) -> Changes:
            conn.execute("BEGIN")
            try:
                version = int(
                    conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0]
                )
                # A big submit committed after `since` shows up whole, at its commit version
                # (its rows keep the versions of the chunks that wrote them, while hidden).
                batches = conn.execute(
                    "SELECT lo, hi, committed FROM batches WHERE committed > ? "
                    "ORDER BY committed LIMIT 100",
                    (since,),
                ).fetchall()
                hide, args = skip(hidden(conn) + [(int(r[0]), int(r[1])) for r in batches])
                jobs, version = sqlite_feed.changed(conn, since, version, hide, args)
                if batches and int(batches[0][2]) <= version:
                    lo, hi, version = (int(x) for x in batches[0])
                    jobs = [j for j in jobs if j.version <= version]
                    jobs += [
                        row_to_job(r)
                        for r in conn.execute(
                            f"SELECT {COLUMNS} FROM jobs WHERE id BETWEEN ? AND ?", (lo, hi)
                        )
                    ]
                deleted = [
                    r[0]
                    for r in conn.execute(
                        "SELECT job_id FROM deleted WHERE version > ? AND version <= ?",
                        (since, version),
                    )
                ]
            finally:
                conn.execute("COMMIT")
            return Changes(version, jobs, deleted)

        return await self._db.read(q)

    async def version(self) -> int:
        row = await self._db.read(
            lambda c: c.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        )
        return int(row[0])

    def data_version(self) -> int:
        """Changes whenever another connection commits (cheap; no table read)."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def only_own_changes(self, since: int, version: int) -> bool:
        return self._db.owns(since, version)

    async def set_queue_paused(self, paused: bool) -> None:
        def tx(conn: sqlite3.Connection) -> None:
            self._db.bump(conn)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'queue_paused'", (int(paused),))

        await self._db.write(tx)

    async def queue_paused(self) -> bool:
        return await self._db.read(self._queue_paused)

    def queue_paused_now(self) -> bool:
        """queue_paused, without an event loop."""
        return self._db.read_now(self._queue_paused)

    @staticmethod
    def _queue_paused(conn: sqlite3.Connection) -> bool:
        return bool(conn.execute("SELECT value FROM meta WHERE key = 'queue_paused'").fetchone()[0])

    async def pause_queue(self, name: str, paused: bool) -> None:
        def tx(conn: sqlite3.Connection) -> None:
            self._db.bump(conn)
            sqlite_claims.set_paused(conn, name, paused)

        await self._db.write(tx)

    async def limit_queue(self, name: str, limit: int | None) -> None:
        def tx(conn: sqlite3.Connection) -> None:
            self._db.bump(conn)
            sqlite_claims.set_cap(conn, name, limit)

        await self._db.write(tx)

    async def queues(self) -> list[QueueInfo]:
        return await self._db.read(sqlite_claims.infos)

    def queues_now(self) -> list[QueueInfo]:
        """queues, without an event loop."""
        return self._db.read_now(sqlite_claims.infos)

    # -- claiming, progress and finishing -------------------------------------------------

    def _promote(
        self, conn: sqlite3.Connection, now: float, version: int, hide: tuple[str, list[int]]
    ) -> bool:
        """Scheduled jobs that are due become pending, waiting ones whose dependencies ended
        move on (or fail); whether any row changed."""
        before = conn.total_changes
        due = conn.execute(
            "UPDATE jobs SET status = 'pending', version = ?, updated_at = ? "
            f"WHERE status = 'scheduled' AND run_at <= ?{hide[0]} RETURNING id",
            (version, now, now, *hide[1]),
        ).fetchall()
        if due:
            self._db.touched(version, [r[0] for r in due])
        waiting = [
            row_to_job(r)
            for r in conn.execute(
                f"SELECT {COLUMNS} FROM jobs WHERE status = 'waiting'{hide[0]}", hide[1]
            )
        ]
        for job in waiting:
            deps = self._dep_status(conn, job.depends_on)
            reason = dependency_failure(job, deps)
            if reason:
                job.status, job.error, job.finished_at = Status.FAILED, reason, now
            else:
                job.status = queued_status(job, now, deps)
                if job.status is Status.WAITING:
                    continue
            job.version, job.updated_at = version, now
            self._save(conn, job)
            self._db.touched(version, [job.id])
        return conn.total_changes != before

    def _claim(
        self,
        conn: sqlite3.Connection,
        worker: str,
        limit: int,
        now: float,
        version: int,
        scope: ClaimScope = ANY,
    ) -> tuple[list[Job], bool]:
        """The jobs claimed, and whether promotions changed other rows too (rows the claim
        does not return: this process's watcher must read them like any other's)."""
        if limit <= 0:
            return [], False
        if conn.execute("SELECT value FROM meta WHERE key = 'queue_paused'").fetchone()[0]:
            return [], False
        hide = skip(hidden(conn))
        promoted = self._promote(conn, now, version, hide)
        self._claims += 1  # token = this store's random base + a counter: unique, no uuid4
        batch = f"{self._token_base}{self._claims:x}"
        rows = sqlite_claims.claim(conn, scope, limit, (now, worker, batch, version, now), hide)
        if not rows:
            return [], promoted
        self._db.touched(version, [r[0] for r in rows])
        jobs = [claimed_to_job(r, now, worker, batch, version) for r in rows if r[FRESH]]
        if len(jobs) < len(rows):  # a retry, a rerun, a scheduled or dependent job
            jobs.extend(sqlite_claims.claimed_again(conn, rows, now, worker, batch, version))
        jobs.sort(key=lambda j: (-j.priority, j.id))
        return jobs, promoted

    def _finish(
        self, conn: sqlite3.Connection, outcomes: Sequence[Outcome], now: float, version: int
    ) -> list[Job]:
        """Record the outcomes; the jobs they changed, in the outcomes' order."""
        return _in_order(self._record(conn, outcomes, now, version, sqlite_finish.JOBS), outcomes)

    def _record(
        self,
        conn: sqlite3.Connection,
        outcomes: Sequence[Outcome],
        now: float,
        version: int,
        statements: tuple[str, str],
    ) -> list[Any]:
        """Record the outcomes with `statements` (sqlite_finish.JOBS or IDS): its rows."""
        rows = sqlite_finish.record(conn, outcomes, now, version, statements)
        if rows:  # (both statements return the id first)
            self._db.touched(version, [r[0] for r in rows])
        return rows

    async def claim(
        self, worker: str, limit: int, now: float, scope: ClaimScope = ANY
    ) -> list[Job]:
        if limit <= 0:
            return []

        def tx(conn: sqlite3.Connection) -> list[Job]:
            before, version = conn.total_changes, self._db.next_version(conn)
            jobs, promoted = self._claim(conn, worker, limit, now, version, scope)
            self._db.commit_version(conn, version, before, own=not promoted)
            return jobs

        return await self._db.write(tx)

    async def finish_and_claim(
        self,
        outcomes: Sequence[Outcome],
        worker: str,
        limit: int,
        now: float,
        scope: ClaimScope = ANY,
    ) -> tuple[list[Job], list[Job]]:
        if not outcomes and limit <= 0:
            return [], []
        rows, claimed = await self._finish_claim(
            outcomes, worker, limit, now, scope, sqlite_finish.JOBS
        )
        return _in_order(rows, outcomes), claimed

    async def finish_ids_and_claim(
        self,
        outcomes: Sequence[Outcome],
        worker: str,
        limit: int,
        now: float,
        scope: ClaimScope = ANY,
    ) -> tuple[set[int], list[Job]]:
        if not outcomes and limit <= 0:
            return set(), []
        rows, claimed = await self._finish_claim(
            outcomes, worker, limit, now, scope, sqlite_finish.IDS
        )
        return {row[0] for row in rows}, claimed

    async def _finish_claim(
        self,
        outcomes: Sequence[Outcome],
        worker: str,
        limit: int,
        now: float,
        scope: ClaimScope,
        statements: tuple[str, str],
    ) -> tuple[list[Any], list[Job]]:
        """Record the outcomes with `statements` (sqlite_finish.JOBS or IDS: its rows) and
        claim up to limit jobs, in one transaction (one commit, one version) per tick."""

        def tx(conn: sqlite3.Connection) -> tuple[list[Any], list[Job]]:
            before, version = conn.total_changes, self._db.next_version(conn)
            rows = self._record(conn, outcomes, now, version, statements) if outcomes else []
            claimed, promoted = self._claim(conn, worker, limit, now, version, scope)
            self._db.commit_version(conn, version, before, own=not promoted)
            return rows, claimed

        return await self._db.write(tx)

    async def has_work(self, scope: ClaimScope) -> bool:
        return bool(await self._db.read(lambda c: sqlite_claims.has_work(c, scope)))

    async def next_wakeup(self, now: float) -> float | None:
        def q(conn: sqlite3.Connection) -> Any:
            hide, args = skip(hidden(conn))
            sql = f"SELECT MIN(run_at) FROM jobs WHERE status = 'scheduled'{hide}"
            return conn.execute(sql, args).fetchone()

        row = await self._db.read(q)
        return float(row[0]) if row and row[0] is not None else None

    async def save_progress(self, updates: Sequence[ProgressUpdate], now: float) -> None:
        def tx(conn: sqlite3.Connection) -> None:
            version = self._db.bump(conn)
            conn.executemany(
                "UPDATE jobs SET progress = ?, message = ?, version = ?, updated_at = ? "
                "WHERE id = ? AND token = ?",
                [(p, m, version, now, i, t) for i, t, p, m in updates],
            )
            # (a stale token changed nothing: the feed then names a job that did not change)
            self._db.touched(version, [u[0] for u in updates])

        await self._db.write(tx)

    async def finish(self, outcomes: Sequence[Outcome], now: float) -> list[Job]:
        def tx(conn: sqlite3.Connection) -> list[Job]:
            before, version = conn.total_changes, self._db.next_version(conn)
            changed = self._finish(conn, outcomes, now, version)
            self._db.commit_version(conn, version, before)
            return changed

        if not outcomes:
            return []
        return await self._db.write(tx)

    # -- logs -------------------------------------------------------------------------------

    async def append_logs(
        self, lines: Mapping[int, LogLines], dropped: Mapping[int, int] | None = None
    ) -> None:
        def tx(conn: sqlite3.Connection) -> None:
            version = self._db.bump(conn)
            for job_id, lost in (dropped or {}).items():
                # Row 0 of a job's log (never a line: lines start at 1) counts the lines
                # lost before they reached the store (by this attempt only).
                entry = lines.get(job_id)
                token_ok = (
                    "token = ?" if entry is not None else "1",
                    (job_id, entry.token) if entry is not None else (job_id,),
                )
                if (
                    lost > 0
                    and conn.execute(
                        f"SELECT 1 FROM jobs WHERE id = ? AND {token_ok[0]}", token_ok[1]
                    ).fetchone()
                ):
                    conn.execute(
                        "INSERT INTO logs (job_id, seq, line) VALUES (?, 0, ?) ON CONFLICT "
                        "(job_id, seq) DO UPDATE SET line = CAST(line AS INTEGER) + excluded.line",
                        (job_id, lost),
                    )
            for job_id, (token, new) in lines.items():
                row = conn.execute(
                    "UPDATE jobs SET log_count = log_count + ?, version = ? "
                    "WHERE id = ? AND token = ? RETURNING log_count",
                    (len(new), version, job_id, token),
                ).fetchone()
                if row is None:
                    continue
                self._db.touched(version, [job_id])
                count = row[0]
                first = count - len(new) + 1
                conn.executemany(
                    "INSERT OR REPLACE INTO logs (job_id, seq, line) VALUES (?, ?, ?)",
                    [(job_id, first + i, clip_line(line)) for i, line in enumerate(new)],
                )
                cut = count - LOG_TAIL
                if cut > LOG_HEAD and (first - 1) // 500 != count // 500:
                    conn.execute(
                        "DELETE FROM logs WHERE job_id = ? AND seq > ? AND seq <= ?",
                        (job_id, LOG_HEAD, cut),
                    )

        await self._db.write(tx)

    async def logs(self, job_id: int, after: int = 0, limit: int | None = None) -> LogPage:
        def q(conn: sqlite3.Connection) -> LogPage:
            row = conn.execute("SELECT log_count FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise UnknownJob(job_id)
            count = row[0]
            cut = count - LOG_TAIL
            lines = conn.execute(
                "SELECT seq, line FROM logs WHERE job_id = ? AND seq > ? "
                "AND (seq <= ? OR seq > ?) ORDER BY seq LIMIT ?",
                (job_id, max(0, after), LOG_HEAD, cut, -1 if limit is None else limit),
            ).fetchall()
            lost = conn.execute(
                "SELECT CAST(line AS INTEGER) FROM logs WHERE job_id = ? AND seq = 0", (job_id,)
            ).fetchone()
            dropped = max(0, count - LOG_HEAD - LOG_TAIL) + (lost[0] if lost else 0)
            return LogPage([(s, t) for s, t in lines], dropped)

        return await self._db.read(q)

    # -- workers, heartbeats, orphans and job processes --------------------------------------

    async def register_worker(self, info: WorkerInfo) -> None:
        self._locks.hold(info.id)
        await self._db.write(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO workers (id, host, pid, concurrency, running, processed, "
                "started_at, heartbeat, stopped, types, queues) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    info.id,
                    info.host,
                    info.pid,
                    info.concurrency,
                    info.running,
                    info.processed,
                    info.started_at,
                    info.heartbeat,
                    int(info.stopped),
                    None if info.types is None else _dumps(sorted(info.types)),
                    None if info.queues is None else _dumps(sorted(info.queues)),
                ),
            )
        )

    async def heartbeat(
        self,
        worker_id: str,
        running: int,
        processed: int,
        now: float,
        attempts: Mapping[int, str] | None = None,
    ) -> list[Superseded]:
        def tx(c: sqlite3.Connection) -> list[Superseded]:
            c.execute(
                "UPDATE workers SET running = ?, processed = ?, heartbeat = ? WHERE id = ?",
                (running, processed, now, worker_id),
            )
            if not attempts:
                return []
            rows = {
                row[0]: row
                for row in c.execute(
                    "SELECT id, token, status, worker, attempts FROM jobs "
                    "WHERE id IN (SELECT value FROM json_each(?))",
                    (_dumps(list(attempts)),),
                )
            }
            return superseded(attempts, rows)

        return await self._db.write(tx)

    async def report_worker_error(self, worker_id: str, error: str) -> None:
        await self._db.write(
            lambda c: c.execute(
                "UPDATE workers SET error = ? WHERE id = ?", (error[:1000], worker_id)
            )
        )

    async def stop_worker(self, worker_id: str, now: float) -> None:
        await self._db.write(
            lambda c: c.execute(
                "UPDATE workers SET stopped = 1, running = 0, heartbeat = ? WHERE id = ?",
                (now, worker_id),
            )
        )
        self._locks.release(worker_id)

    async def workers(self) -> list[WorkerInfo]:
        return await self._db.read(self._workers)

    def workers_now(self) -> list[WorkerInfo]:
        """workers, without an event loop."""
        return self._db.read_now(self._workers)

    def _workers(self, conn: sqlite3.Connection) -> list[WorkerInfo]:
        rows = conn.execute(
            "SELECT id, host, pid, concurrency, started_at, heartbeat, running, processed, "
            "stopped, error, types, queues FROM workers ORDER BY started_at DESC"
        ).fetchall()
        return [
            WorkerInfo(
                id=r[0],
                host=r[1],
                pid=r[2],
                concurrency=r[3],
                started_at=r[4],
                heartbeat=r[5],
                running=r[6],
                processed=r[7],
                stopped=bool(r[8]),
                error=r[9],
                holds_lock=_LOCK_SAYS.get(self._locks.state(r[0])) if not r[8] else None,
                types=None if r[10] is None else tuple(json.loads(r[10])),
                queues=None if r[11] is None else tuple(json.loads(r[11])),
            )
            for r in rows
        ]

    async def orphans(self, now: float, dead_after: float) -> list[Job]:
        """Started jobs whose worker is stopped, unknown or dead (blocks while it reads).

        On one machine, death is exact: a live worker holds its lock file (worker_locks.py),
        so a stopped, slow or lock-blocked worker keeps its jobs however long it is silent.
        Only a worker without a lock file is judged by its heartbeat against dead_after.
        """

        def read(c: sqlite3.Connection) -> list[Job]:
            jobs = [
                row_to_job(r)
                for r in c.execute(
                    f"SELECT {COLUMNS} FROM jobs WHERE status IN ('running', 'paused') "
                    f"AND token IS NOT NULL"
                ).fetchall()
            ]
            if not jobs:
                return jobs
            dead = self._judge(c, now, dead_after)
            return [job for job in jobs if dead(job.worker)]

        return await self._db.read(read)

    async def take_over(
        self, outcomes: Sequence[Outcome], now: float, dead_after: float
    ) -> list[Job]:
        def tx(conn: sqlite3.Connection) -> list[Job]:
            current = {
                row[0]: (row[1], row[2])
                for row in conn.execute(
                    "SELECT id, token, worker FROM jobs WHERE id IN "
                    "(SELECT value FROM json_each(?)) AND status IN ('running', 'paused')",
                    (_dumps([o.job_id for o in outcomes]),),
                )
            }
            dead = self._judge(conn, now, dead_after)
            still = [
                o
                for o in outcomes
                if o.job_id in current
                and current[o.job_id][0] == o.token
                and dead(current[o.job_id][1])
            ]
            before, version = conn.total_changes, self._db.next_version(conn)
            changed = self._finish(conn, still, now, version)
            self._db.commit_version(conn, version, before)
            return changed

        if not outcomes:
            return []
        return await self._db.write(tx)

    def _judge(
        self, c: sqlite3.Connection, now: float, dead_after: float
    ) -> Callable[[str | None], bool]:
        """dead(worker) from the workers' rows and their lock files, as of now."""
        workers = {
            row[0]: (row[1], row[2])
            for row in c.execute("SELECT id, stopped, heartbeat FROM workers").fetchall()
        }
        verdicts: dict[str, bool] = {}

        def dead(worker: str | None) -> bool:
            if worker is None or worker not in workers:
                return True
            if worker not in verdicts:
                stopped, heartbeat = workers[worker]
                state = self._locks.state(worker)
                verdicts[worker] = (
                    bool(stopped)
                    or state is Liveness.DEAD
                    or (state is Liveness.UNKNOWN and heartbeat < now - dead_after)
                )
            return verdicts[worker]

        return dead

    async def set_job_process(self, job_id: int, process: JobProcess | None) -> None:
        if process is None:  # (only a record no current attempt owns)
            await self._db.write(
                lambda c: c.execute(
                    "DELETE FROM job_procs WHERE job_id = ?1 AND token IS NOT "
                    "(SELECT token FROM jobs WHERE id = ?1)",
                    (job_id,),
                )
            )
            return
        await self._db.write(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO job_procs (job_id, token, host, pgid, start_time) "
                "SELECT id, ?, ?, ?, ? FROM jobs WHERE id = ? AND token = ?",
                (
                    process.token,
                    process.host,
                    process.pgid,
                    process.start_time,
                    job_id,
                    process.token,
                ),
            )
        )

    async def job_process(self, job_id: int) -> JobProcess | None:
        row = await self._db.read(
            lambda c: c.execute(
                "SELECT token, host, pgid, start_time FROM job_procs WHERE job_id = ?", (job_id,)
            ).fetchone()
        )
        return JobProcess(*row) if row else None

    # -- rows -------------------------------------------------------------------------------

    @staticmethod
    def _dep_status(conn: sqlite3.Connection, deps: Collection[int]) -> dict[int, Status | None]:
        out: dict[int, Status | None] = dict.fromkeys(deps)
        if deps:
            marks = ",".join("?" * len(deps))
            hide, args = skip(hidden(conn))
            for job_id, status in conn.execute(
                f"SELECT id, status FROM jobs WHERE id IN ({marks}){hide}", (*deps, *args)
            ):
                out[job_id] = Status(status)
        return out

    @staticmethod
    def _visible_row(conn: sqlite3.Connection, job_id: int) -> Job | None:
        hide, args = skip(hidden(conn))
        row = conn.execute(
            f"SELECT {COLUMNS} FROM jobs WHERE id = ?{hide}", (job_id, *args)
        ).fetchone()
        return row_to_job(row) if row else None

    @staticmethod
    def _save(conn: sqlite3.Connection, job: Job) -> None:
        SqliteStore._save_many(conn, [job])

    @staticmethod
    def _save_many(conn: sqlite3.Connection, jobs: Sequence[Job]) -> None:
        conn.executemany(
            "UPDATE jobs SET status=?, progress=?, message=?, result=?, error=?, traceback=?, "
            "started_at=?, finished_at=?, run_at=?, attempts=?, worker=?, token=?, "
            "cancel_requested=?, version=?, updated_at=? WHERE id=?",
            [
                (
                    job.status.value,
                    job.progress,
                    job.message,
                    None if job.result is None else _dumps(job.result),
                    job.error,
                    job.traceback,
                    job.started_at,
                    job.finished_at,
                    job.run_at,
                    job.attempts,
                    job.worker,
                    job.token,
                    int(job.cancel_requested),
                    job.version,
                    job.updated_at,
                    job.id,
                )
                for job in jobs
            ],
        )

    # -- schedules (schedules_sqlite.py) -----------------------------------------------

    async def add_schedule(self, schedule: Schedule, *, if_absent: bool = False) -> bool:
        return await self._schedules.add_schedule(schedule, if_absent=if_absent)

    async def schedules(self) -> list[Schedule]:
        return await self._schedules.schedules()

    async def set_schedule_paused(
        self, name: str, paused: bool, next_run: float | None
    ) -> Schedule:
        return await self._schedules.set_schedule_paused(name, paused, next_run)

    async def remove_schedule(self, name: str) -> Schedule:
        return await self._schedules.remove_schedule(name)

    async def fire_schedule(self, fire: Fire, job: NewJob | None, now: float) -> list[Job] | None:
        return await self._schedules.fire_schedule(fire, job, now)

    async def job_origin(self, job_id: int) -> Origin | None:
        return await self._db.read(lambda conn: self._schedules.origin(conn, job_id))

    def job_origin_now(self, job_id: int) -> Origin | None:
        """job_origin, without an event loop."""
        return self._db.read_now(lambda conn: self._schedules.origin(conn, job_id))


def _in_order(rows: Sequence[Any], outcomes: Sequence[Outcome]) -> list[Job]:
    """The jobs of sqlite_finish.JOBS rows, in the order of the outcomes that changed them."""
    changed = {job.id: job for job in map(row_to_job, rows)}
    return [changed.pop(o.job_id) for o in outcomes if o.job_id in changed]
