"""SqliteWorkersMixin: workers, heartbeats, orphans and job processes in a SQLite store."""

from __future__ import annotations

from tuiqueue.core.job import Job
from tuiqueue.core.records import JobProcess, WorkerInfo
from tuiqueue.store.sqlite_base import SqliteBase
from tuiqueue.store.sqlite_rows import COLUMNS, row_to_job


class SqliteWorkersMixin(SqliteBase):
    """Release, workers, heartbeats, orphans and job processes for SqliteStore."""

    async def register_worker(self, info: WorkerInfo) -> None:
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

    async def workers(self) -> list[WorkerInfo]:
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

    async def orphans(self, now: float, dead_after: float) -> list[Job]:
        rows = await self._read(
            lambda c: c.execute(
                f"SELECT {COLUMNS} FROM jobs WHERE status IN ('running', 'paused') "
                f"AND token IS NOT NULL AND worker NOT IN ("
                f"SELECT id FROM workers WHERE stopped = 0 AND heartbeat >= ?)",
                (now - dead_after,),
            ).fetchall()
        )
        return [row_to_job(r) for r in rows]

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
