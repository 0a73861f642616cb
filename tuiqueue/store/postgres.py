"""PostgresStore: one PostgreSQL database shared by workers and dashboards on many machines.

Tables live in a schema of their own (`?schema=`, default tuiqueue). Every write that
changes a job bumps one version row inside its transaction, so versions commit in order
and `changes(since)` is an exact feed; a trigger on that row NOTIFYs, which only wakes
the watchers (a reconnect re-reads the feed, so nothing is lost). Leases are judged on
the server's clock. No transaction is ever held open while a job runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import anyio

from tuiqueue.core import logs
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
from tuiqueue.core.schedule import Fire, Origin, Schedule
from tuiqueue.core.status import ACTIVE, TERMINAL, Priority, Status
from tuiqueue.core.text import mask_url
from tuiqueue.store import postgres_sql as sql
from tuiqueue.store.base import Store
from tuiqueue.store.postgres_batches import CHUNK, PgBatches
from tuiqueue.store.postgres_conn import PgConnection, Rollback, Versions
from tuiqueue.store.postgres_logs import PgLogs
from tuiqueue.store.postgres_sql import COLUMNS, VISIBLE, row_to_job
from tuiqueue.store.postgres_workers import PgFleet
from tuiqueue.store.presets_postgres import PgPresets
from tuiqueue.store.schedules_postgres import PgSchedules

log = logs.logger(__name__)

CHANGES_MAX = 2000
"""Jobs returned by one `changes()` call (one write's jobs come whole)."""


class PostgresStore(Store):
    """Jobs in PostgreSQL: a row per job, versioned writes, SKIP LOCKED claims, LISTEN."""

    shared = True
    fleet = True

    def __init__(self, url: str) -> None:
        self.url = url
        self._db = PgConnection(url)
        self.schema = self._db.schema
        self._batches = PgBatches(self._db)
        self._schedules = PgSchedules(self._db, self._insert)
        self._presets = PgPresets(self._db)
        self._fleet = PgFleet(self._db)
        self._logs = PgLogs(self._db)
        self._token_base = uuid.uuid4().hex[:10]
        self._claims = 0

    def __repr__(self) -> str:
        return f"PostgresStore({mask_url(self.url)!r})"

    def clone(self) -> PostgresStore:
        """A fresh, unopened store on the same database and schema."""
        return PostgresStore(self.url)

    async def open(self) -> None:
        await self._db.open()

    async def close(self) -> None:
        await self._db.close()

    @property
    def db(self) -> PgConnection:
        """The connection pool (tests reach the server through it)."""
        return self._db

    # -- adding and reading ---------------------------------------------------------------

    async def add(self, jobs: Sequence[NewJob], now: float) -> list[Job]:
        if not jobs:
            return []
        if len(jobs) > CHUNK:  # written in chunks, visible in one step (postgres_batches.py)
            return await self._batches.add(jobs, now)

        async def tx(conn: Any, v: Versions) -> list[Job]:
            return await self._insert(conn, v, jobs, now)

        return await self._db.write(tx)

    async def _insert(
        self, conn: Any, v: Versions, jobs: Sequence[NewJob], now: float
    ) -> list[Job]:
        """Add jobs inside the open transaction (their dependencies must exist)."""
        version = await v.bump(conn)
        known = await sql.dep_status(conn, {d for new in jobs for d in new.depends_on})
        missing = [d for d, s in known.items() if s is None]
        if missing:
            raise UnknownJob(min(missing))
        first = await sql.take_ids(conn, len(jobs))
        return await sql.insert(conn, jobs, now, version, known, first)

    async def sweep_batches(self) -> int:
        return await self._batches.sweep()

    async def get(self, job_id: int) -> Job | None:
        row = await self._db.read(
            lambda c: c.fetchrow(f"SELECT {COLUMNS} FROM jobs WHERE id = $1 AND {VISIBLE}", job_id)
        )
        return row_to_job(row) if row else None

    async def reruns(self, job_id: int) -> list[int]:
        rows = await self._db.read(
            lambda c: c.fetch(
                f"SELECT id FROM jobs WHERE rerun_of = $1 AND {VISIBLE} ORDER BY id", job_id
            )
        )
        return [int(r["id"]) for r in rows]

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
        where = [VISIBLE]
        args: list[Any] = []
        for column, value in (
            ("queue = ", queue or None),
            ("status = ANY", [s.value for s in statuses] if statuses else None),
            ("type = ", type or None),
            ("id < ", before_id),
            ("id > ", after_id),
        ):
            if value is not None:
                args.append(value)
                cast = "::text[]" if isinstance(value, list) else ""
                where.append(f"{column}(${len(args)}{cast})" if cast else f"{column}${len(args)}")
        args.append(limit)
        query = (
            f"SELECT {COLUMNS} FROM jobs WHERE {' AND '.join(where)} "
            f"ORDER BY id {'DESC' if after_id is None else 'ASC'} LIMIT ${len(args)}"
        )
        rows = await self._db.read(lambda c: c.fetch(query, *args))
        return [row_to_job(r) for r in rows]

    async def next_wakeup(self, now: float) -> float | None:
        value = await self._db.read(
            lambda c: c.fetchval(
                f"SELECT min(run_at) FROM jobs WHERE status = 'scheduled' AND {VISIBLE}"
            )
        )
        return None if value is None else float(value)

    async def has_work(self, scope: ClaimScope) -> bool:
        return await self._db.read(lambda c: sql.has_work(c, scope))

    # -- claiming and finishing -----------------------------------------------------------

    async def _promote(self, conn: Any, now: float, version: int) -> int:
        """Scheduled jobs that are due become pending; waiting ones whose dependencies all
        finished become pending (or fail); returns how many changed."""
        done = await conn.fetch(
            "UPDATE jobs SET status = 'pending', version = $1, updated_at = $2 "
            f"WHERE status = 'scheduled' AND run_at <= $2 AND {VISIBLE} RETURNING id",
            version,
            now,
        )
        changed = len(done)
        ready = [
            row_to_job(r)
            for r in await conn.fetch(
                f"SELECT {COLUMNS} FROM jobs WHERE status = 'waiting' AND NOT "
                f"{sql.UNFINISHED_DEP} AND {VISIBLE} LIMIT 1000 FOR UPDATE SKIP LOCKED"
            )
        ]
        for job in ready:
            deps = await sql.dep_status(conn, job.depends_on)
            reason = dependency_failure(job, deps)
            if reason:
                job.status, job.error, job.finished_at = Status.FAILED, reason, now
            else:
                job.status = queued_status(job, now, deps)
                if job.status is Status.WAITING:
                    continue
            job.version, job.updated_at = version, now
            await sql.save(conn, job)
            changed += 1
        return changed

    async def _claim(
        self,
        conn: Any,
        worker: str,
        limit: int,
        now: float,
        version: int,
        scope: ClaimScope,
        state: sql.ClaimState,
    ) -> tuple[int, list[Job]]:
        paused, due, queues = state
        if limit <= 0 or paused:
            return 0, []
        promoted = await self._promote(conn, now, version) if due else 0
        self._claims += 1  # token = this store's random base + a counter: unique, no uuid4
        base = f"{self._token_base}{self._claims:x}"
        head = (now, worker, base, version)
        return promoted, await sql.claim(conn, scope, limit, head, queues)

    async def claim(
        self, worker: str, limit: int, now: float, scope: ClaimScope = ANY
    ) -> list[Job]:
        if limit <= 0:
            return []
        if not await self._db.read(lambda c: sql.worth_claiming(c, scope, now)):
            return []  # an idle worker's poll takes no lock and writes nothing

        async def tx(conn: Any, v: Versions) -> list[Job]:
            version, state = await sql.bump_and_state(conn, v, now)
            promoted, jobs = await self._claim(conn, worker, limit, now, version, scope, state)
            if not promoted and not jobs:
                raise Rollback([])
            return jobs

        return await self._db.write(tx)

    async def finish(self, outcomes: Sequence[Outcome], now: float) -> list[Job]:
        if not outcomes:
            return []

        async def tx(conn: Any, v: Versions) -> list[Job]:
            changed = await sql.finish(conn, outcomes, now, await v.bump(conn))
            if not changed:
                raise Rollback([])
            return changed

        return await self._db.write(tx)

    async def finish_and_claim(
        self,
        outcomes: Sequence[Outcome],
        worker: str,
        limit: int,
        now: float,
        scope: ClaimScope = ANY,
    ) -> tuple[list[Job], list[Job]]:
        if not outcomes:
            return [], await self.claim(worker, limit, now, scope)

        # One transaction per dispatcher tick: the outcomes, then the freed slots.
        async def tx(conn: Any, v: Versions) -> tuple[list[Job], list[Job]]:
            version, state = await sql.bump_and_state(conn, v, now)
            finished = await sql.finish(conn, outcomes, now, version)
            promoted, claimed = await self._claim(conn, worker, limit, now, version, scope, state)
            if not finished and not claimed and not promoted:
                raise Rollback(([], []))
            return finished, claimed

        return await self._db.write(tx)

    async def save_progress(self, updates: Sequence[ProgressUpdate], now: float) -> None:
        if not updates:
            return

        async def tx(conn: Any, v: Versions) -> None:
            version = await v.bump(conn)
            done = await conn.execute(
                "UPDATE jobs SET progress = u.p, message = u.m, version = $5, updated_at = $6 "
                "FROM unnest($1::bigint[], $2::text[], $3::float8[], $4::text[]) "
                "AS u(id, token, p, m) WHERE jobs.id = u.id AND jobs.token = u.token",
                [u.job_id for u in updates],
                [u.token for u in updates],
                [u.percent for u in updates],
                [u.message for u in updates],
                version,
                now,
            )
            if done.endswith(" 0"):
                raise Rollback(None)

        await self._db.write(tx)

    # -- commands -------------------------------------------------------------------------

    async def command(self, job_id: int, command: Command, now: float) -> Job:
        async def tx(conn: Any, v: Versions) -> Job:
            version = await v.bump(conn)
            row = await conn.fetchrow(
                f"SELECT {COLUMNS} FROM jobs WHERE id = $1 AND {VISIBLE} FOR UPDATE", job_id
            )
            if row is None:
                raise UnknownJob(job_id)
            job = row_to_job(row)
            if not apply_command(job, command, now, await sql.dep_status(conn, job.depends_on)):
                raise Rollback(job)
            job.version, job.updated_at = version, now
            await sql.save(conn, job)
            return job

        return await self._db.write(tx)

    async def set_priority(self, job_id: int, priority: Priority, now: float) -> Job:
        async def tx(conn: Any, v: Versions) -> Job:
            version = await v.bump(conn)
            row = await conn.fetchrow(
                f"SELECT {COLUMNS} FROM jobs WHERE id = $1 AND {VISIBLE} FOR UPDATE", job_id
            )
            if row is None:
                raise UnknownJob(job_id)
            job = row_to_job(row)
            if not apply_priority(job, priority):
                raise Rollback(job)
            job.version, job.updated_at = version, now
            await conn.execute(
                "UPDATE jobs SET priority = $1, version = $2, updated_at = $3 WHERE id = $4",
                int(priority),
                version,
                now,
                job_id,
            )
            return job

        return await self._db.write(tx)

    # -- steps and logs (postgres_logs.py) ----------------------------------------------

    async def save_steps(self, steps: dict[int, list[Step]]) -> None:
        return await self._logs.save_steps(steps)

    async def steps(self, job_id: int) -> list[Step]:
        return await self._logs.steps(job_id)

    async def append_logs(
        self, lines: Mapping[int, LogLines], dropped: Mapping[int, int] | None = None
    ) -> None:
        return await self._logs.append_logs(lines, dropped)

    async def logs(self, job_id: int, after: int = 0, limit: int | None = None) -> LogPage:
        return await self._logs.logs(job_id, after, limit)

    # -- deleting -------------------------------------------------------------------------

    @staticmethod
    async def _remove(conn: Any, version: int, ids: list[int]) -> None:
        for table, column in (
            ("jobs", "id"),
            ("logs", "job_id"),
            ("job_procs", "job_id"),
            ("job_steps", "job_id"),
        ):
            await conn.execute(f"DELETE FROM {table} WHERE {column} = ANY($1::bigint[])", ids)
        await conn.execute(
            "INSERT INTO deleted (version, job_id) SELECT $1, unnest($2::bigint[])", version, ids
        )
        await conn.execute("DELETE FROM deleted WHERE version < $1", version - 100_000)

    async def delete(self, job_ids: Sequence[int]) -> list[int]:
        if not job_ids:
            return []

        async def tx(conn: Any, v: Versions) -> list[int]:
            version = await v.bump(conn)
            rows = {
                int(r[0]): (r[1], r[2])
                for r in await conn.fetch(
                    f"SELECT id, status, token FROM jobs WHERE id = ANY($1::bigint[]) "
                    f"AND {VISIBLE} FOR UPDATE",
                    list(job_ids),
                )
            }
            for job_id in job_ids:
                if job_id not in rows:
                    raise UnknownJob(job_id)
                status, token = rows[job_id]
                if Status(status) in ACTIVE and token is not None:
                    raise ValueError(f"job {job_id} is {status}; cancel it before deleting it")
            await self._remove(conn, version, list(job_ids))
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
        before = float("inf") if finished_before is None else finished_before
        where = (
            "FROM jobs WHERE finished_at IS NOT NULL AND status = ANY($1::text[]) "
            "AND finished_at < $2"
        )
        bound: tuple[float, int] = (float("inf"), 0)
        if keep_newest:
            row = await self._db.read(
                lambda c: c.fetchrow(
                    f"SELECT finished_at, id {where} ORDER BY finished_at DESC, id DESC "
                    "LIMIT 1 OFFSET $3",
                    wanted,
                    before,
                    keep_newest - 1,
                )
            )
            if row is None:
                return 0
            bound = (float(row[0]), int(row[1]))
        pick = (
            f"SELECT id {where} AND (finished_at, id) < ($3, $4) "
            "ORDER BY finished_at, id LIMIT $5 FOR UPDATE"
        )
        total = 0
        while True:

            async def tx(conn: Any, v: Versions) -> int:
                ids = [int(r[0]) for r in await conn.fetch(pick, wanted, before, *bound, batch)]
                if not ids:
                    raise Rollback(0)
                await self._remove(conn, await v.bump(conn), ids)
                return len(ids)

            done = await self._db.write(tx)
            total += done
            if done < batch:
                return total
            await anyio.sleep(pause)

    # -- state ----------------------------------------------------------------------------

    async def counts(self) -> dict[Status, int]:
        counts = dict.fromkeys(Status, 0)
        rows = await self._db.read(
            lambda c: c.fetch(f"SELECT status, count(*) FROM jobs WHERE {VISIBLE} GROUP BY status")
        )
        for status, n in rows:
            counts[Status(status)] = int(n)
        return counts

    async def _finished_since(
        self, since: float, now: float, width: float, limit: int
    ) -> tuple[list[FinishedCount], list[tuple[str, float]]]:
        # Both walk jobs_finished over the window only, in one snapshot.
        window = "FROM jobs WHERE finished_at IS NOT NULL AND finished_at BETWEEN $1 AND $2"
        final = [s.value for s in TERMINAL]

        async def q(conn: Any) -> tuple[list[FinishedCount], list[tuple[str, float]]]:
            rows = await conn.fetch(
                f"SELECT floor((finished_at - $1) / $3)::bigint AS bucket, type, status, "
                f"count(*) {window} AND status = ANY($4::text[]) AND {VISIBLE} "
                "GROUP BY bucket, type, status",
                since,
                now,
                width,
                final,
            )
            times = await conn.fetch(
                f"SELECT type, finished_at - started_at {window} AND status = 'completed' "
                f"AND started_at IS NOT NULL AND {VISIBLE} "
                "ORDER BY finished_at DESC, id DESC LIMIT $3",
                since,
                now,
                limit,
            )
            return (
                [FinishedCount(int(b), t, Status(st), int(n)) for b, t, st, n in rows],
                [(t, float(d)) for t, d in times],
            )

        return await self._db.snapshot(q)

    async def changes(self, since: int) -> Changes:
        return await self._db.snapshot(lambda c: self._changes(c, since))

    @staticmethod
    async def _changes(conn: Any, since: int) -> Changes:
        version = int(await conn.fetchval("SELECT version FROM meta"))
        # A big submit committed after `since` shows up whole, at its commit version (its
        # rows keep the versions of the chunks that wrote them, while hidden).
        batch = await conn.fetchrow(
            "SELECT lo, hi, committed FROM batches WHERE committed > $1 ORDER BY committed LIMIT 1",
            since,
        )
        not_batched = (
            "NOT EXISTS (SELECT 1 FROM batches b WHERE (b.committed IS NULL OR b.committed > $1)"
            " AND jobs.id BETWEEN b.lo AND b.hi)"
        )
        jobs = [
            row_to_job(r)
            for r in await conn.fetch(
                f"SELECT {COLUMNS} FROM jobs WHERE version > $1 AND {not_batched} "
                f"ORDER BY version LIMIT {CHANGES_MAX}",
                since,
            )
        ]
        if len(jobs) == CHANGES_MAX:
            last = jobs[-1].version
            if jobs[0].version == last:  # one write changed more: take it whole
                jobs = [
                    row_to_job(r)
                    for r in await conn.fetch(
                        f"SELECT {COLUMNS} FROM jobs WHERE version = $2 AND {not_batched}",
                        since,
                        last,
                    )
                ]
                version = last
            else:
                version = last - 1
                jobs = [j for j in jobs if j.version <= version]
        if batch is not None and int(batch[2]) <= version:
            lo, hi, version = (int(x) for x in batch)
            jobs = [j for j in jobs if j.version <= version]
            jobs += [
                row_to_job(r)
                for r in await conn.fetch(
                    f"SELECT {COLUMNS} FROM jobs WHERE id BETWEEN $1 AND $2", lo, hi
                )
            ]
        deleted = [
            int(r[0])
            for r in await conn.fetch(
                "SELECT job_id FROM deleted WHERE version > $1 AND version <= $2", since, version
            )
        ]
        return Changes(version, jobs, deleted)

    async def version(self) -> int:
        return int(await self._db.read(lambda c: c.fetchval("SELECT version FROM meta")))

    def only_own_changes(self, since: int, version: int) -> bool:
        return self._db.owns(since, version)

    def data_version(self) -> int:
        """Notifications seen (and listener reconnects): the watcher skips a poll while
        this stays the same."""
        return self._db.wakes

    async def wait_for_change(self, timeout: float) -> bool:
        return await self._db.wait(timeout)

    async def set_queue_paused(self, paused: bool) -> None:
        async def tx(conn: Any, v: Versions) -> None:
            await v.bump(conn)
            await conn.execute("UPDATE meta SET paused = $1", paused)

        await self._db.write(tx)

    async def queue_paused(self) -> bool:
        return bool(await self._db.read(lambda c: c.fetchval("SELECT paused FROM meta")))

    async def pause_queue(self, name: str, paused: bool) -> None:
        async def tx(conn: Any, v: Versions) -> None:
            await v.bump(conn)
            await sql.set_queue(conn, name, "paused", paused)

        await self._db.write(tx)

    async def limit_queue(self, name: str, limit: int | None) -> None:
        async def tx(conn: Any, v: Versions) -> None:
            await v.bump(conn)
            await sql.set_queue(conn, name, "cap", limit)

        await self._db.write(tx)

    async def queues(self) -> list[QueueInfo]:
        return await self._db.snapshot(sql.infos)

    # -- workers, heartbeats, orphans and job processes (postgres_workers.py) -------------

    async def register_worker(self, info: WorkerInfo) -> None:
        return await self._fleet.register_worker(info)

    async def report_worker_error(self, worker_id: str, error: str) -> None:
        return await self._fleet.report_worker_error(worker_id, error)

    async def heartbeat(
        self,
        worker_id: str,
        running: int,
        processed: int,
        now: float,
        attempts: Mapping[int, str] | None = None,
    ) -> list[Superseded]:
        return await self._fleet.heartbeat(worker_id, running, processed, now, attempts)

    async def stop_worker(self, worker_id: str, now: float) -> None:
        return await self._fleet.stop_worker(worker_id, now)

    async def workers(self) -> list[WorkerInfo]:
        return await self._fleet.workers()

    async def orphans(self, now: float, dead_after: float) -> list[Job]:
        return await self._fleet.orphans(now, dead_after)

    async def take_over(
        self, outcomes: Sequence[Outcome], now: float, dead_after: float
    ) -> list[Job]:
        return await self._fleet.take_over(outcomes, now, dead_after)

    async def set_job_process(self, job_id: int, process: JobProcess | None) -> None:
        return await self._fleet.set_job_process(job_id, process)

    async def job_process(self, job_id: int) -> JobProcess | None:
        return await self._fleet.job_process(job_id)

    # -- schedules (schedules_postgres.py) -------------------------------------------------

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
        return await self._schedules.job_origin(job_id)
