"""SqliteStore: the default store, one WAL-mode file shared safely by many processes."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Collection, Sequence

import anyio

from tuiqueue.core.job import Job, NewJob
from tuiqueue.core.lifecycle import Command, UnknownJob, apply_command, queued_status
from tuiqueue.core.records import Changes
from tuiqueue.core.status import ACTIVE, TERMINAL, Status
from tuiqueue.store.sqlite_base import BUSY_MS as BUSY_MS
from tuiqueue.store.sqlite_base import RETRY_FOR as RETRY_FOR
from tuiqueue.store.sqlite_claims import SqliteClaimsMixin
from tuiqueue.store.sqlite_logs import SqliteLogsMixin
from tuiqueue.store.sqlite_rows import COLUMNS as COLUMNS
from tuiqueue.store.sqlite_rows import _dumps
from tuiqueue.store.sqlite_rows import row_to_job as row_to_job
from tuiqueue.store.sqlite_workers import SqliteWorkersMixin


class SqliteStore(SqliteClaimsMixin, SqliteLogsMixin, SqliteWorkersMixin):
    """Jobs in a SQLite file: WAL, BEGIN IMMEDIATE writes, bounded retries on contention."""

    shared = True

    async def add(self, jobs: Sequence[NewJob], now: float) -> list[Job]:
        def tx(conn: sqlite3.Connection) -> list[Job]:
            version = self._bump(conn)
            deps_all = {d for new in jobs for d in new.depends_on}
            known = self._dep_status(conn, deps_all)
            missing = [d for d, s in known.items() if s is None]
            if missing:
                raise UnknownJob(min(missing))
            rows = []
            for new in jobs:
                job = new.to_job(0, now, version)
                job.status = queued_status(job, now, known)
                rows.append(job)
            cur = conn.executemany(
                "INSERT INTO jobs (type, params, priority, status, created_at, run_at, rerun_of, "
                "depends_on, max_attempts, timeout, version, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [
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
                    )
                    for j in rows
                ],
            )
            last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
            first = last - cur.rowcount + 1 if cur.rowcount > 0 else last - len(rows) + 1
            for offset, job in enumerate(rows):
                job.id = first + offset
            return rows

        return await self._write(tx)

    async def get(self, job_id: int) -> Job | None:
        def q(conn: sqlite3.Connection) -> Job | None:
            row = conn.execute(f"SELECT {COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return row_to_job(row) if row else None

        return await self._read(q)

    async def list_jobs(
        self,
        *,
        statuses: Collection[Status] | None = None,
        type: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
        after_id: int | None = None,
    ) -> list[Job]:
        where: list[str] = []
        args: list[str | int] = []
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
        sql = f"SELECT {COLUMNS} FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY id {'DESC' if after_id is None else 'ASC'} LIMIT ?"
        args.append(limit)
        return await self._read(lambda c: [row_to_job(r) for r in c.execute(sql, args)])

    async def command(self, job_id: int, command: Command, now: float) -> Job:
        def tx(conn: sqlite3.Connection) -> Job:
            row = conn.execute(f"SELECT {COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise UnknownJob(job_id)
            job = row_to_job(row)
            if apply_command(job, command, now, self._dep_status(conn, job.depends_on)):
                job.version, job.updated_at = self._bump(conn), now
                self._save(conn, job)
            return job

        return await self._write(tx)

    def _remove(self, conn: sqlite3.Connection, ids: Sequence[int]) -> None:
        version = self._bump(conn)
        for chunk in range(0, len(ids), 500):
            part = list(ids[chunk : chunk + 500])
            marks = ",".join("?" * len(part))
            conn.execute(f"DELETE FROM jobs WHERE id IN ({marks})", part)
            conn.execute(f"DELETE FROM logs WHERE job_id IN ({marks})", part)
            conn.execute(f"DELETE FROM job_procs WHERE job_id IN ({marks})", part)
            conn.executemany(
                "INSERT INTO deleted (version, job_id) VALUES (?, ?)", [(version, j) for j in part]
            )
        conn.execute("DELETE FROM deleted WHERE version < ?", (version - 100_000,))

    async def delete(self, job_ids: Sequence[int]) -> list[int]:
        def tx(conn: sqlite3.Connection) -> list[int]:
            for job_id in job_ids:
                row = conn.execute(
                    "SELECT status, token FROM jobs WHERE id = ?", (job_id,)
                ).fetchone()
                if row is None:
                    raise UnknownJob(job_id)
                if Status(row[0]) in ACTIVE and row[1] is not None:
                    raise ValueError(f"job {job_id} is {row[0]}; cancel it before deleting it")
            self._remove(conn, list(job_ids))
            return list(job_ids)

        return await self._write(tx)

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
            row = await self._read(lambda c: c.execute(
                f"SELECT finished_at, id {where} ORDER BY finished_at DESC, id DESC "
                "LIMIT 1 OFFSET ?", (*wanted, before, keep_newest - 1)).fetchone())
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
                ids = [r[0] for r in conn.execute(
                    sql, (*wanted, before, bound[0], bound[0], bound[1], batch))]
                if ids:
                    self._remove(conn, ids)
                return len(ids)

            done = await self._write(tx)
            total += done
            if done < batch:
                return total
            await anyio.sleep(pause)

    async def counts(self) -> dict[Status, int]:
        counts = dict.fromkeys(Status, 0)
        rows = await self._read(
            lambda c: c.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
        )
        for status, n in rows:
            counts[Status(status)] = n
        return counts

    async def changes(self, since: int) -> Changes:
        def q(conn: sqlite3.Connection) -> Changes:
            conn.execute("BEGIN")
            try:
                version = int(
                    conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0]
                )
                jobs = [
                    row_to_job(r)
                    for r in conn.execute(
                        f"SELECT {COLUMNS} FROM jobs WHERE version > ? ORDER BY version LIMIT 2000",
                        (since,),
                    )
                ]
                if len(jobs) == 2000:
                    last = jobs[-1].version
                    if jobs[0].version == last:  # one write changed 2000+ jobs: take it whole
                        jobs = [row_to_job(r) for r in conn.execute(
                            f"SELECT {COLUMNS} FROM jobs WHERE version = ?", (last,))]
                        version = last
                    else:
                        version = last - 1
                        jobs = [j for j in jobs if j.version <= version]
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

        return await self._read(q)

    async def version(self) -> int:
        row = await self._read(
            lambda c: c.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        )
        return int(row[0])

    def data_version(self) -> int:
        """Changes whenever another connection commits (cheap; no table read)."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def only_own_changes(self, since: int, version: int) -> bool:
        return self._own.covers(since, version)

    async def set_queue_paused(self, paused: bool) -> None:
        def tx(conn: sqlite3.Connection) -> None:
            self._bump(conn)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'queue_paused'", (int(paused),))

        await self._write(tx)

    async def queue_paused(self) -> bool:
        row = await self._read(
            lambda c: c.execute("SELECT value FROM meta WHERE key = 'queue_paused'").fetchone()
        )
        return bool(row[0])
