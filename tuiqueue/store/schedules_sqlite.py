"""Schedules in the SQLite file: SqliteStore's part of the schedule interface (the
tables are schema 7, in sqlite_schema.py).

A slot fires in one write transaction that checks the schedule row still has the
next_run the worker read, moves it on and inserts the job: however many processes try,
one wins the row and the others find it moved."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tuiqueue.core.job import Job, NewJob
from tuiqueue.core.status import Status
from tuiqueue.store.base import ORIGINS_KEPT
from tuiqueue.store.sqlite_conn import SqliteConnection

if TYPE_CHECKING:
    from tuiqueue.core.schedule import Fire, Origin, Schedule

# tuiqueue.core.schedule (with zoneinfo, ~5 ms) is imported where a schedule is used, not
# with the store: `tuiqueue list`, `stats`, `cancel` and `submit` never use one.

Insert = Callable[
    [sqlite3.Connection, Sequence[NewJob], float, int, dict[int, Status | None], int | None],
    list[Job],
]

_COLUMNS = "spec, paused, next_run, last_run, last_job, last_note"


def _row(row: Sequence[Any]) -> Schedule:
    from tuiqueue.core.schedule import Schedule

    spec, paused, next_run, last_run, last_job, last_note = row
    return Schedule.from_spec(
        json.loads(spec),
        paused=bool(paused),
        next_run=next_run,
        last_run=last_run,
        last_job=last_job,
        last_note=last_note,
    )


class SqliteSchedules:
    """The schedules and job_origins tables."""

    def __init__(self, db: SqliteConnection, insert: Insert) -> None:
        self._db = db
        self._insert = insert

    async def add_schedule(self, schedule: Schedule, *, if_absent: bool = False) -> bool:
        """See Store.add_schedule."""

        def tx(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                f"INSERT OR IGNORE INTO schedules (name, {_COLUMNS}) VALUES (?,?,?,?,?,?,?)",
                (
                    schedule.name,
                    json.dumps(schedule.spec()),
                    int(schedule.paused),
                    schedule.next_run,
                    schedule.last_run,
                    schedule.last_job,
                    schedule.last_note,
                ),
            )
            if cur.rowcount == 0 and not if_absent:
                from tuiqueue.core.schedule import ScheduleExists

                raise ScheduleExists(schedule.name)
            return cur.rowcount > 0

        return await self._db.write(tx)

    async def schedules(self) -> list[Schedule]:
        """See Store.schedules."""

        def q(conn: sqlite3.Connection) -> list[Schedule]:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM schedules ORDER BY name").fetchall()
            return [_row(r) for r in rows]

        return await self._db.read(q)

    @staticmethod
    def _get(conn: sqlite3.Connection, name: str) -> Schedule:
        row = conn.execute(f"SELECT {_COLUMNS} FROM schedules WHERE name = ?", (name,)).fetchone()
        if row is None:
            from tuiqueue.core.schedule import UnknownSchedule

            raise UnknownSchedule(name)
        return _row(row)

    async def set_schedule_paused(
        self, name: str, paused: bool, next_run: float | None
    ) -> Schedule:
        """See Store.set_schedule_paused."""

        def tx(conn: sqlite3.Connection) -> Schedule:
            self._get(conn, name)
            if paused:
                conn.execute("UPDATE schedules SET paused = 1 WHERE name = ?", (name,))
            else:
                conn.execute(
                    "UPDATE schedules SET paused = 0, next_run = ? WHERE name = ?",
                    (next_run, name),
                )
            return self._get(conn, name)

        return await self._db.write(tx)

    async def remove_schedule(self, name: str) -> Schedule:
        """See Store.remove_schedule."""

        def tx(conn: sqlite3.Connection) -> Schedule:
            old = self._get(conn, name)
            conn.execute("DELETE FROM schedules WHERE name = ?", (name,))
            return old

        return await self._db.write(tx)

    async def fire_schedule(self, fire: Fire, job: NewJob | None, now: float) -> list[Job] | None:
        """See Store.fire_schedule: the claim on the row and the insert in one transaction."""

        def tx(conn: sqlite3.Connection) -> list[Job] | None:
            row = conn.execute(
                "SELECT paused, next_run FROM schedules WHERE name = ?", (fire.name,)
            ).fetchone()
            if fire.expected is not None:
                if row is None or row[0] or row[1] != fire.expected:
                    return None
                conn.execute(
                    "UPDATE schedules SET next_run = ? WHERE name = ?", (fire.next_run, fire.name)
                )
            elif row is None:
                from tuiqueue.core.schedule import UnknownSchedule

                raise UnknownSchedule(fire.name)
            slot = fire.origin.slot if fire.origin is not None else fire.expected
            conn.execute(
                "UPDATE schedules SET last_run = ?, last_note = ? WHERE name = ?",
                (slot, fire.note, fire.name),
            )
            if job is None or fire.origin is None:
                return []
            version = self._db.bump(conn)
            added = self._insert(conn, [job], now, version, {}, None)
            self._db.touched(version, [added[0].id])
            origin = fire.origin
            conn.execute(
                "UPDATE schedules SET last_job = ? WHERE name = ?", (added[0].id, fire.name)
            )
            conn.execute(
                "INSERT OR REPLACE INTO job_origins VALUES (?,?,?,?,?)",
                (added[0].id, origin.schedule, origin.slot, origin.kind, origin.missed),
            )
            conn.execute(
                "DELETE FROM job_origins WHERE schedule = ? AND job_id <= ("
                " SELECT job_id FROM job_origins WHERE schedule = ?"
                " ORDER BY job_id DESC LIMIT 1 OFFSET ?)",
                (fire.name, fire.name, ORIGINS_KEPT),
            )
            return added

        return await self._db.write(tx)

    async def job_origin(self, job_id: int) -> Origin | None:
        """See Store.job_origin."""

        return await self._db.read(lambda conn: self.origin(conn, job_id))

    @staticmethod
    def origin(conn: sqlite3.Connection, job_id: int) -> Origin | None:
        """job_origin's read, on an open connection."""
        row = conn.execute(
            "SELECT schedule, slot, kind, missed FROM job_origins WHERE job_id = ?", (job_id,)
        ).fetchone()
        if row is None:
            return None
        from tuiqueue.core.schedule import Origin

        return Origin(row[0], row[1], row[2], row[3])
