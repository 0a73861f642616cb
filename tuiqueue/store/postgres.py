"""PostgresStore: one PostgreSQL database shared by workers and dashboards on many machines.

Tables live in a schema of their own (`?schema=`, default tuiqueue). Every write that
changes a job bumps one version row inside its transaction, so versions commit in order
and `changes(since)` is an exact feed; a trigger on that row NOTIFYs, which only wakes
the watchers (a reconnect re-reads the feed, so nothing is lost). Leases are judged on
the server's clock. No transaction is ever held open while a job runs.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import anyio

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
from tuiqueue.core.status import ACTIVE, TERMINAL, Priority, Status
from tuiqueue.core.text import mask_url
from tuiqueue.store import postgres_sql as sql
from tuiqueue.store.base import LOG_HEAD, LOG_TAIL, Store, clip_line, superseded
from tuiqueue.store.postgres_batches import CHUNK, PgBatches
from tuiqueue.store.postgres_conn import PgConnection, Rollback, Versions
from tuiqueue.store.postgres_sql import COLUMNS, VISIBLE, row_to_job

log = logging.getLogger(__name__)

CHANGES_MAX = 2000
"""Jobs returned by one `changes()` call (one write's jobs come whole)."""
ALIVE = (
    "SELECT id FROM workers WHERE NOT stopped "
    "AND beat > clock_timestamp() - make_interval(secs => $1)"
)
"""The workers whose lease (dead_after seconds, on the server's clock) has not run out."""


class PostgresStore(Store):
    """Jobs in PostgreSQL: a row per job, versioned writes, SKIP LOCKED claims, LISTEN."""

    shared = True
    fleet = True

    def __init__(self, url: str) -> None:
        self.url = url
        self._db = PgConnection(url)
        self.schema = self._db.schema
        self._batches = PgBatches(self._db)
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
            version = await v.bump(conn)
            known = await sql.dep_status(conn, {d for new in jobs for d in new.depends_on})
            missing = [d for d, s in known.items() if s is None]
            if missing:
                raise UnknownJob(min(missing))
            first = await sql.take_ids(conn, len(jobs))
            return await sql.insert(conn, jobs, now, version, known, first)

        return await self._db.write(tx)

    async def sweep_batches(self) -> int:
        return await self._batches.sweep()

    async def get(self, job_id: int) -> Job | None:
        row = await self._db.read(
            lambda c: c.fetchrow(f"SELECT {COLUMNS} FROM jobs WHERE id = $1 AND {VISIBLE}", job_id)
        )
        return row_to_job(row) if row else None

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

    # -- steps, logs ----------------------------------------------------------------------

    async def save_steps(self, steps: dict[int, list[Step]]) -> None:
        if not steps:
            return
        ids = list(steps)
        texts = [sql.dumps([list(s) for s in steps[i]]) for i in ids]
        await self._db.read(
            lambda c: c.execute(
                "INSERT INTO job_steps (job_id, steps) SELECT u.id, u.steps FROM "
                "unnest($1::bigint[], $2::text[]) AS u(id, steps) JOIN jobs ON jobs.id = u.id "
                "ON CONFLICT (job_id) DO UPDATE SET steps = excluded.steps",
                ids,
                texts,
            )
        )

    async def steps(self, job_id: int) -> list[Step]:
        raw = await self._db.read(
            lambda c: c.fetchval("SELECT steps FROM job_steps WHERE job_id = $1", job_id)
        )
        return [] if raw is None else [Step(*s) for s in json.loads(raw)]

    async def append_logs(
        self, lines: Mapping[int, LogLines], dropped: Mapping[int, int] | None = None
    ) -> None:
        lost = {i: n for i, n in (dropped or {}).items() if n > 0}
        if not any(entry.lines for entry in lines.values()) and not lost:
            return

        async def tx(conn: Any, v: Versions) -> None:
            version = await v.bump(conn)
            wrote = False
            for job_id, n in lost.items():
                # Row 0 of a job's log (lines start at 1) counts the lines lost before
                # they reached the store (by the current attempt only).
                entry = lines.get(job_id)
                ok = await conn.fetchval(
                    "SELECT 1 FROM jobs WHERE id = $1 AND ($2::text IS NULL OR token = $2)",
                    job_id,
                    None if entry is None else entry.token,
                )
                if ok:
                    await conn.execute(
                        "INSERT INTO logs (job_id, seq, line) VALUES ($1, 0, $2) ON CONFLICT "
                        "(job_id, seq) DO UPDATE SET line = (logs.line::bigint + $3)::text",
                        job_id,
                        str(n),
                        n,
                    )
                    wrote = True
            for job_id, (token, new) in lines.items():
                if not new:
                    continue
                count = await conn.fetchval(
                    "UPDATE jobs SET log_count = log_count + $1, version = $2 "
                    "WHERE id = $3 AND token = $4 RETURNING log_count",
                    len(new),
                    version,
                    job_id,
                    token,
                )
                if count is None:
                    continue
                wrote = True
                first = count - len(new) + 1
                await conn.execute(
                    "INSERT INTO logs (job_id, seq, line) SELECT $1, $2 + u.n - 1, u.line "
                    "FROM unnest($3::text[]) WITH ORDINALITY AS u(line, n) "
                    "ON CONFLICT (job_id, seq) DO UPDATE SET line = excluded.line",
                    job_id,
                    first,
                    [clip_line(line) for line in new],
                )
                cut = count - LOG_TAIL
                if cut > LOG_HEAD and (first - 1) // 500 != count // 500:
                    await conn.execute(
                        "DELETE FROM logs WHERE job_id = $1 AND seq > $2 AND seq <= $3",
                        job_id,
                        LOG_HEAD,
                        cut,
                    )
            if not wrote:
                raise Rollback(None)

        await self._db.write(tx)

    async def logs(self, job_id: int, after: int = 0, limit: int | None = None) -> LogPage:
        async def q(conn: Any) -> LogPage:
            count = await conn.fetchval("SELECT log_count FROM jobs WHERE id = $1", job_id)
            if count is None:
                raise UnknownJob(job_id)
            rows = await conn.fetch(
                "SELECT seq, line FROM logs WHERE job_id = $1 AND seq > $2 "
                "AND (seq <= $3 OR seq > $4) ORDER BY seq LIMIT $5",
                job_id,
                max(0, after),
                LOG_HEAD,
                count - LOG_TAIL,
                limit,
            )
            lost = await conn.fetchval(
                "SELECT line::bigint FROM logs WHERE job_id = $1 AND seq = 0", job_id
            )
            dropped = max(0, count - LOG_HEAD - LOG_TAIL) + int(lost or 0)
            return LogPage([(int(s), t) for s, t in rows], dropped)

        return await self._db.snapshot(q)

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

    # -- workers, heartbeats, orphans and job processes -----------------------------------

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
