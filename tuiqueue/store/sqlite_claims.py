"""SqliteClaimsMixin: claiming, progress and finishing jobs in a SQLite store."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from tuiqueue.core.job import Job
from tuiqueue.core.lifecycle import Outcome, dependency_failure, queued_status
from tuiqueue.core.records import ProgressUpdate
from tuiqueue.core.status import TERMINAL, Status
from tuiqueue.store.sqlite_base import SqliteBase
from tuiqueue.store.sqlite_rows import _CLAIM, _FINISH, COLUMNS, _dumps, row_to_job


class SqliteClaimsMixin(SqliteBase):
    """Claim, finish_and_claim, next_wakeup, save_progress and finish for SqliteStore."""

    def _promote(self, conn: sqlite3.Connection, now: float, version: int) -> None:
        conn.execute(
            "UPDATE jobs SET status = 'pending', version = ?, updated_at = ? "
            "WHERE status = 'scheduled' AND run_at <= ?",
            (version, now, now),
        )
        waiting = [
            row_to_job(r)
            for r in conn.execute(f"SELECT {COLUMNS} FROM jobs WHERE status = 'waiting'")
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

    def _claim(
        self, conn: sqlite3.Connection, worker: str, limit: int, now: float, version: int
    ) -> list[Job]:
        if limit <= 0:
            return []
        if conn.execute("SELECT value FROM meta WHERE key = 'queue_paused'").fetchone()[0]:
            return []
        self._promote(conn, now, version)
        self._claims += 1  # token = this store's random base + a counter: unique, no uuid4
        batch = f"{self._token_base}{self._claims:x}"
        rows = conn.execute(_CLAIM, (now, worker, batch, version, now, limit)).fetchall()
        jobs = [row_to_job(r) for r in rows]
        jobs.sort(key=lambda j: (-j.priority, j.id))
        return jobs

    def _finish(
        self, conn: sqlite3.Connection, outcomes: Sequence[Outcome], now: float, version: int
    ) -> list[Job]:
        # Outcomes that record the same thing (typically: completed, no result) share one
        # UPDATE; one statement per outcome cost more than the rest of the transaction.
        groups: dict[tuple[Any, ...], tuple[list[int], list[str]]] = {}
        for o in outcomes:
            terminal = o.status in TERMINAL
            result = None if o.result is None or not terminal else _dumps(o.result)
            key = (o.status.value, terminal, o.progress, o.message, result, o.run_at, o.error,
                   o.traceback)
            ids, tokens = groups.setdefault(key, ([], []))
            ids.append(o.job_id)
            tokens.append(o.token)
        changed: dict[int, Job] = {}
        for (status, terminal, progress, message, result, run_at, error, tb), (
            ids, tokens
        ) in groups.items():
            for row in conn.execute(_FINISH, (
                status, terminal, progress, message, now, result, run_at, error, tb, version,
                _dumps(ids), _dumps(tokens),
            )):
                job = row_to_job(row)
                changed[job.id] = job
        return [changed.pop(o.job_id) for o in outcomes if o.job_id in changed]

    async def claim(self, worker: str, limit: int, now: float) -> list[Job]:
        if limit <= 0:
            return []

        def tx(conn: sqlite3.Connection) -> list[Job]:
            before, version = conn.total_changes, self._next_version(conn)
            jobs = self._claim(conn, worker, limit, now, version)
            self._commit_version(conn, version, before)
            return jobs

        return await self._write(tx)

    async def finish_and_claim(
        self, outcomes: Sequence[Outcome], worker: str, limit: int, now: float
    ) -> tuple[list[Job], list[Job]]:
        # One transaction (one commit, one version) per dispatcher tick instead of two.
        def tx(conn: sqlite3.Connection) -> tuple[list[Job], list[Job]]:
            before, version = conn.total_changes, self._next_version(conn)
            finished = self._finish(conn, outcomes, now, version)
            claimed = self._claim(conn, worker, limit, now, version)
            self._commit_version(conn, version, before)
            return finished, claimed

        if not outcomes and limit <= 0:
            return [], []
        return await self._write(tx)

    async def next_wakeup(self, now: float) -> float | None:
        row = await self._read(
            lambda c: c.execute(
                "SELECT MIN(run_at) FROM jobs WHERE status = 'scheduled'"
            ).fetchone()
        )
        return float(row[0]) if row and row[0] is not None else None

    async def save_progress(
        self, updates: Sequence[ProgressUpdate], now: float
    ) -> None:
        def tx(conn: sqlite3.Connection) -> None:
            version = self._bump(conn)
            conn.executemany(
                "UPDATE jobs SET progress = ?, message = ?, version = ?, updated_at = ? "
                "WHERE id = ? AND token = ?",
                [(p, m, version, now, i, t) for i, t, p, m in updates],
            )

        await self._write(tx)

    async def finish(self, outcomes: Sequence[Outcome], now: float) -> list[Job]:
        def tx(conn: sqlite3.Connection) -> list[Job]:
            before, version = conn.total_changes, self._next_version(conn)
            changed = self._finish(conn, outcomes, now, version)
            self._commit_version(conn, version, before)
            return changed

        if not outcomes:
            return []
        return await self._write(tx)
