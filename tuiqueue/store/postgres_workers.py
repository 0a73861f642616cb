"""The workers of one PostgresStore: rows, heartbeats on the server's clock, orphans and
their take-over, and the process groups jobs started."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from tuiqueue.core.job import Job
from tuiqueue.core.lifecycle import Outcome
from tuiqueue.core.records import JobProcess, Superseded, WorkerInfo
from tuiqueue.store import postgres_sql as sql
from tuiqueue.store.base import superseded
from tuiqueue.store.postgres_conn import PgConnection, Rollback, Versions
from tuiqueue.store.postgres_sql import COLUMNS, row_to_job

ALIVE = (
    "SELECT id FROM workers WHERE NOT stopped "
    "AND beat > clock_timestamp() - make_interval(secs => $1)"
)
"""The workers whose lease (dead_after seconds, on the server's clock) has not run out."""


class PgFleet:
    """The workers table of one store: who is alive is judged on the server's clock."""

    def __init__(self, db: PgConnection) -> None:
        self._db = db

    async def register_worker(self, info: WorkerInfo) -> None:
        await self._db.read(
            lambda c: c.execute(
                "INSERT INTO workers (id, host, pid, concurrency, running, processed, "
                "started_at, heartbeat, stopped, types, queues, beat, error) VALUES "
                "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, clock_timestamp(), '') "
                "ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, "
                "concurrency = excluded.concurrency, running = excluded.running, "
                "processed = excluded.processed, started_at = excluded.started_at, "
                "heartbeat = excluded.heartbeat, stopped = excluded.stopped, "
                "types = excluded.types, queues = excluded.queues, beat = excluded.beat, "
                "error = ''",
                info.id,
                info.host,
                info.pid,
                info.concurrency,
                info.running,
                info.processed,
                info.started_at,
                info.heartbeat,
                info.stopped,
                None if info.types is None else sql.dumps(sorted(info.types)),
                None if info.queues is None else sql.dumps(sorted(info.queues)),
            )
        )

    async def report_worker_error(self, worker_id: str, error: str) -> None:
        await self._db.read(
            lambda c: c.execute(
                "UPDATE workers SET error = $1 WHERE id = $2", error[:1000], worker_id
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
        async def q(conn: Any) -> list[Superseded]:
            await conn.execute(
                "UPDATE workers SET running = $1, processed = $2, heartbeat = $3, "
                "beat = clock_timestamp() WHERE id = $4",
                running,
                processed,
                now,
                worker_id,
            )
            if not attempts:
                return []
            rows = await conn.fetch(
                "SELECT id, token, status, worker, attempts FROM jobs WHERE id = ANY($1::bigint[])",
                list(attempts),
            )
            return superseded(attempts, {int(r[0]): tuple(r) for r in rows})

        return await self._db.read(q)

    async def stop_worker(self, worker_id: str, now: float) -> None:
        await self._db.read(
            lambda c: c.execute(
                "UPDATE workers SET stopped = true, running = 0, heartbeat = $1, "
                "beat = clock_timestamp() WHERE id = $2",
                now,
                worker_id,
            )
        )

    async def workers(self) -> list[WorkerInfo]:
        rows = await self._db.read(
            lambda c: c.fetch(
                "SELECT id, host, pid, concurrency, started_at, heartbeat, running, processed, "
                "stopped, error, types, queues FROM workers ORDER BY started_at DESC"
            )
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
                processed=int(r[7]),
                stopped=bool(r[8]),
                error=r[9],
                types=None if r[10] is None else tuple(json.loads(r[10])),
                queues=None if r[11] is None else tuple(json.loads(r[11])),
            )
            for r in rows
        ]

    async def orphans(self, now: float, dead_after: float) -> list[Job]:
        """Started jobs whose worker is stopped, unknown or past its lease (server clock)."""
        rows = await self._db.read(
            lambda c: c.fetch(
                f"SELECT {COLUMNS} FROM jobs WHERE status IN ('running', 'paused') "
                f"AND token IS NOT NULL AND (worker IS NULL OR worker NOT IN ({ALIVE}))",
                float(dead_after),
            )
        )
        return [row_to_job(r) for r in rows]

    async def take_over(
        self, outcomes: Sequence[Outcome], now: float, dead_after: float
    ) -> list[Job]:
        if not outcomes:
            return []

        async def tx(conn: Any, v: Versions) -> list[Job]:
            version = await v.bump(conn)
            current = {
                int(r[0]): (r[1], r[2])
                for r in await conn.fetch(
                    "SELECT id, token, worker FROM jobs WHERE id = ANY($1::bigint[]) "
                    "AND status IN ('running', 'paused') FOR UPDATE",
                    [o.job_id for o in outcomes],
                )
            }
            alive = {r[0] for r in await conn.fetch(ALIVE, float(dead_after))}
            still = [
                o
                for o in outcomes
                if o.job_id in current
                and current[o.job_id][0] == o.token
                and current[o.job_id][1] not in alive
            ]
            changed = await sql.finish(conn, still, now, version) if still else []
            if not changed:
                raise Rollback([])
            return changed

        return await self._db.write(tx)

    async def set_job_process(self, job_id: int, process: JobProcess | None) -> None:
        if process is None:  # (only a record no current attempt owns)
            await self._db.read(
                lambda c: c.execute(
                    "DELETE FROM job_procs p WHERE job_id = $1 AND token IS DISTINCT FROM "
                    "(SELECT token FROM jobs WHERE id = $1)",
                    job_id,
                )
            )
            return
        await self._db.read(
            lambda c: c.execute(
                "INSERT INTO job_procs (job_id, token, host, pgid, start_time) "
                "SELECT id, $2, $3, $4, $5 FROM jobs WHERE id = $1 AND token = $2 "
                "ON CONFLICT (job_id) DO UPDATE SET token = excluded.token, "
                "host = excluded.host, pgid = excluded.pgid, start_time = excluded.start_time",
                job_id,
                process.token,
                process.host,
                process.pgid,
                process.start_time,
            )
        )

    async def job_process(self, job_id: int) -> JobProcess | None:
        row = await self._db.read(
            lambda c: c.fetchrow(
                "SELECT token, host, pgid, start_time FROM job_procs WHERE job_id = $1", job_id
            )
        )
        return JobProcess(row[0], row[1], int(row[2]), int(row[3])) if row else None
