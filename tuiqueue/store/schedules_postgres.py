"""Schedules in PostgreSQL: PostgresStore's part of the schedule interface (the tables are
schema 2, in postgres_schema.py).

A slot fires in one transaction that locks the schedule row (`FOR UPDATE`), checks it still
has the next_run the worker read, moves it on and inserts the job: however many workers
try, one wins the row and the others find it moved."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from tuiqueue.core.job import Job, NewJob
from tuiqueue.core.schedule import Fire, Origin, Schedule, ScheduleExists, UnknownSchedule
from tuiqueue.store.base import ORIGINS_KEPT
from tuiqueue.store.postgres_conn import PgConnection, Versions

Insert = Callable[[Any, Versions, Sequence[NewJob], float], Awaitable[list[Job]]]
"""Add jobs inside an open transaction (PostgresStore's insert, dependencies checked)."""

_COLUMNS = "spec, paused, next_run, last_run, last_job, last_note"


def _row(row: Sequence[Any]) -> Schedule:
    spec, paused, next_run, last_run, last_job, last_note = row
    return Schedule.from_spec(
        json.loads(spec),
        paused=bool(paused),
        next_run=next_run,
        last_run=last_run,
        last_job=last_job,
        last_note=last_note,
    )


async def _get(conn: Any, name: str, lock: bool = False) -> Schedule:
    suffix = " FOR UPDATE" if lock else ""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM schedules WHERE name = $1{suffix}", name)
    if row is None:
        raise UnknownSchedule(name)
    return _row(row)


class PgSchedules:
    """The schedules and job_origins tables."""

    def __init__(self, db: PgConnection, insert: Insert) -> None:
        self._db = db
        self._insert = insert

    async def add_schedule(self, schedule: Schedule, *, if_absent: bool = False) -> bool:
        """See Store.add_schedule."""

        async def tx(conn: Any, v: Versions) -> bool:
            added = await conn.fetchval(
                f"INSERT INTO schedules (name, {_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7)"
                " ON CONFLICT (name) DO NOTHING RETURNING true",
                schedule.name,
                json.dumps(schedule.spec()),
                schedule.paused,
                schedule.next_run,
                schedule.last_run,
                schedule.last_job,
                schedule.last_note,
            )
            if not added and not if_absent:
                raise ScheduleExists(schedule.name)
            return bool(added)

        return await self._db.write(tx)

    async def schedules(self) -> list[Schedule]:
        """See Store.schedules."""

        async def q(conn: Any) -> list[Schedule]:
            rows = await conn.fetch(f"SELECT {_COLUMNS} FROM schedules ORDER BY name")
            return [_row(r) for r in rows]

        return await self._db.read(q)

    async def set_schedule_paused(
        self, name: str, paused: bool, next_run: float | None
    ) -> Schedule:
        """See Store.set_schedule_paused."""

        async def tx(conn: Any, v: Versions) -> Schedule:
            await _get(conn, name, lock=True)
            if paused:
                await conn.execute("UPDATE schedules SET paused = true WHERE name = $1", name)
            else:
                await conn.execute(
                    "UPDATE schedules SET paused = false, next_run = $1 WHERE name = $2",
                    next_run,
                    name,
                )
            return await _get(conn, name)

        return await self._db.write(tx)

    async def remove_schedule(self, name: str) -> Schedule:
        """See Store.remove_schedule."""

        async def tx(conn: Any, v: Versions) -> Schedule:
            old = await _get(conn, name, lock=True)
            await conn.execute("DELETE FROM schedules WHERE name = $1", name)
            return old

        return await self._db.write(tx)

    async def fire_schedule(self, fire: Fire, job: NewJob | None, now: float) -> list[Job] | None:
        """See Store.fire_schedule: the claim on the row and the insert in one transaction."""

        async def tx(conn: Any, v: Versions) -> list[Job] | None:
            row = await conn.fetchrow(
                "SELECT paused, next_run FROM schedules WHERE name = $1 FOR UPDATE", fire.name
            )
            if fire.expected is not None:
                if row is None or row["paused"] or row["next_run"] != fire.expected:
                    return None
                await conn.execute(
                    "UPDATE schedules SET next_run = $1 WHERE name = $2",
                    fire.next_run,
                    fire.name,
                )
            elif row is None:
                raise UnknownSchedule(fire.name)
            slot = fire.origin.slot if fire.origin is not None else fire.expected
            await conn.execute(
                "UPDATE schedules SET last_run = $1, last_note = $2 WHERE name = $3",
                slot,
                fire.note,
                fire.name,
            )
            if job is None or fire.origin is None:
                return []
            added = await self._insert(conn, v, [job], now)
            origin = fire.origin
            await conn.execute(
                "UPDATE schedules SET last_job = $1 WHERE name = $2", added[0].id, fire.name
            )
            await conn.execute(
                "INSERT INTO job_origins VALUES ($1,$2,$3,$4,$5) ON CONFLICT (job_id) DO UPDATE"
                " SET schedule = EXCLUDED.schedule, slot = EXCLUDED.slot,"
                " kind = EXCLUDED.kind, missed = EXCLUDED.missed",
                added[0].id,
                origin.schedule,
                origin.slot,
                origin.kind,
                origin.missed,
            )
            await conn.execute(
                "DELETE FROM job_origins WHERE schedule = $1 AND job_id <= ("
                " SELECT job_id FROM job_origins WHERE schedule = $1"
                " ORDER BY job_id DESC LIMIT 1 OFFSET $2)",
                fire.name,
                ORIGINS_KEPT,
            )
            return added

        return await self._db.write(tx)

    async def job_origin(self, job_id: int) -> Origin | None:
        """See Store.job_origin."""

        async def q(conn: Any) -> Origin | None:
            row = await conn.fetchrow(
                "SELECT schedule, slot, kind, missed FROM job_origins WHERE job_id = $1", job_id
            )
            return None if row is None else Origin(row[0], row[1], row[2], row[3])

        return await self._db.read(q)
