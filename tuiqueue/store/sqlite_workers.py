"""SqliteWorkersMixin: workers, heartbeats, orphans and job processes in a SQLite store."""

from __future__ import annotations

import builtins
import sqlite3

from tuiqueue.core.job import Job
from tuiqueue.core.records import JobProcess, WorkerInfo
from tuiqueue.store.sqlite_base import SqliteBase
from tuiqueue.store.sqlite_rows import COLUMNS, row_to_job
from tuiqueue.store.worker_locks import Liveness


class SqliteWorkersMixin(SqliteBase):
    """Release, workers, heartbeats, orphans and job processes for SqliteStore."""

    async def release(self, worker: str, now: float) -> builtins.list[Job]:
        def tx(conn: sqlite3.Connection) -> builtins.list[Job]:
            version = self._bump(conn)
            rows = conn.execute(
                f"UPDATE jobs SET status = 'pending', token = NULL, worker = NULL, "
                f"message = 'requeued: its worker stopped', version = ?, updated_at = ? "
                f"WHERE worker = ? AND token IS NOT NULL AND status IN ('running', 'paused') "
                f"RETURNING {COLUMNS}",
                (version, now, worker),
            ).fetchall()
            return [row_to_job(r) for r in rows]

        return await self._write(tx)

    async def register_worker(self, info: WorkerInfo) -> None:
        self._locks.hold(info.id)
        await self._write(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO workers (id, host, pid, concurrency, running, processed, "
                "started_at, heartbeat, stopped) VALUES (?,?,?,?,?,?,?,?,?)",
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
                ),
            )
        )

    async def heartbeat(self, worker_id: str, running: int, processed: int, now: float) -> None:
        await self._write(
            lambda c: c.execute(
                "UPDATE workers SET running = ?, processed = ?, heartbeat = ? WHERE id = ?",
                (running, processed, now, worker_id),
            )
        )

    async def stop_worker(self, worker_id: str, now: float) -> None:
        await self._write(
            lambda c: c.execute(
                "UPDATE workers SET stopped = 1, running = 0, heartbeat = ? WHERE id = ?",
                (now, worker_id),
            )
        )
        self._locks.release(worker_id)

    async def workers(self) -> builtins.list[WorkerInfo]:
        rows = await self._read(
            lambda c: c.execute(
                "SELECT id, host, pid, concurrency, started_at, heartbeat, running, processed, "
                "stopped FROM workers ORDER BY started_at DESC"
            ).fetchall()
        )
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
            )
            for r in rows
        ]

    async def orphans(self, now: float, dead_after: float) -> builtins.list[Job]:
        """Started jobs whose worker is stopped, unknown or dead (blocking: reads the file).

        On one machine, death is exact: a live worker holds its lock file (worker_locks.py),
        so a stopped, slow or lock-blocked worker keeps its jobs however long it is silent.
        Only a worker without a lock file is judged by its heartbeat against dead_after.
        """
        def read(c: sqlite3.Connection) -> tuple[builtins.list[Job], dict[str, tuple[int, float]]]:
            jobs = [row_to_job(r) for r in c.execute(
                f"SELECT {COLUMNS} FROM jobs WHERE status IN ('running', 'paused') "
                f"AND token IS NOT NULL").fetchall()]
            if not jobs:
                return jobs, {}
            workers = {row[0]: (row[1], row[2]) for row in c.execute(
                "SELECT id, stopped, heartbeat FROM workers").fetchall()}
            return jobs, workers

        jobs, workers = await self._read(read)
        verdicts: dict[str, bool] = {}

        def dead(worker: str | None) -> bool:
            if worker is None or worker not in workers:
                return True
            if worker not in verdicts:
                stopped, heartbeat = workers[worker]
                state = self._locks.state(worker)
                verdicts[worker] = bool(stopped) or state is Liveness.DEAD or (
                    state is Liveness.UNKNOWN and heartbeat < now - dead_after)
            return verdicts[worker]

        return [job for job in jobs if dead(job.worker)]

    async def set_job_process(self, job_id: int, process: JobProcess | None) -> None:
        if process is None:
            await self._write(lambda c: c.execute(
                "DELETE FROM job_procs WHERE job_id = ?", (job_id,)))
            return
        await self._write(lambda c: c.execute(
            "INSERT OR REPLACE INTO job_procs (job_id, token, host, pgid, start_time) "
            "SELECT id, ?, ?, ?, ? FROM jobs WHERE id = ?",
            (process.token, process.host, process.pgid, process.start_time, job_id)))

    async def job_process(self, job_id: int) -> JobProcess | None:
        row = await self._read(lambda c: c.execute(
            "SELECT token, host, pgid, start_time FROM job_procs WHERE job_id = ?",
            (job_id,)).fetchone())
        return JobProcess(*row) if row else None
