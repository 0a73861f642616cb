"""PostgresStore's statements and row helpers: inserting, claiming, finishing, queues.

Every versioned write takes the version row first (PgConnection.write + Versions.bump), so
row locks are always taken after it and writers never deadlock; claims still select with
FOR UPDATE SKIP LOCKED, so a claim never waits on a row another statement holds.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any

from tuiqueue.core.job import Job, NewJob
from tuiqueue.core.lifecycle import Outcome, queued_status
from tuiqueue.core.queues import ClaimScope, QueueInfo
from tuiqueue.core.status import Status
from tuiqueue.store.base import recorded
from tuiqueue.store.postgres_conn import Versions
from tuiqueue.store.sqlite_rows import COLUMNS, row_to_job

__all__ = ["COLUMNS", "row_to_job"]

VISIBLE = (
    "NOT EXISTS (SELECT 1 FROM batches b WHERE b.committed IS NULL "
    "AND jobs.id BETWEEN b.lo AND b.hi)"
)
"""Leaves out the rows of big submits still being written (postgres_batches.py)."""

UNFINISHED_DEP = (
    "EXISTS (SELECT 1 FROM jsonb_array_elements_text(jobs.depends_on::jsonb) d "
    "JOIN jobs x ON x.id = d::bigint WHERE x.status NOT IN ('completed', 'failed', 'cancelled'))"
)
"""A waiting job still has a dependency that has not finished."""


def dumps(value: Any) -> str:
    """Compact JSON (params, results, lists), as the SQLite store writes it."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


async def dep_status(conn: Any, deps: Collection[int]) -> dict[int, Status | None]:
    """Each dependency's status (None: no such visible job)."""
    out: dict[int, Status | None] = dict.fromkeys(deps)
    if deps:
        rows = await conn.fetch(
            f"SELECT id, status FROM jobs WHERE id = ANY($1::bigint[]) AND {VISIBLE}", list(deps)
        )
        for job_id, status in rows:
            out[int(job_id)] = Status(status)
    return out


INSERT = (
    "INSERT INTO jobs (id, type, params, priority, status, created_at, run_at, rerun_of, "
    "depends_on, max_attempts, timeout, version, updated_at, queue) "
    "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::text[], "
    "$6::float8[], $7::float8[], $8::bigint[], $9::text[], $10::int[], $11::float8[], "
    "$12::bigint[], $13::float8[], $14::text[])"
)


async def insert(
    conn: Any,
    jobs: Sequence[NewJob],
    now: float,
    version: int,
    known: dict[int, Status | None],
    first_id: int,
) -> list[Job]:
    """INSERT the jobs with ids from first_id on (one statement) and return them."""
    rows = []
    for offset, new in enumerate(jobs):
        job = new.to_job(first_id + offset, now, version)
        job.status = queued_status(job, now, known)
        rows.append(job)
    columns: list[list[Any]] = [[] for _ in range(14)]
    for j in rows:
        values = (
            j.id,
            j.type,
            dumps(j.params),
            int(j.priority),
            j.status.value,
            now,
            j.run_at,
            j.rerun_of,
            dumps(j.depends_on),
            j.max_attempts,
            j.timeout,
            version,
            now,
            j.queue,
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    await conn.execute(INSERT, *columns)
    return rows


async def take_ids(conn: Any, count: int) -> int:
    """Reserve count consecutive job ids; returns the first (under the version row's lock)."""
    return int(
        await conn.fetchval(
            "UPDATE meta SET next_id = next_id + $1 WHERE id = 1 RETURNING next_id - $1", count
        )
    )


# -- claims ------------------------------------------------------------------------------


def _scope_sql(scope: ClaimScope, args: list[Any]) -> str:
    sql = ""
    for column, names in (("queue", scope.queues), ("type", scope.types)):
        if names is not None:
            args.append(sorted(names))
            sql += f" AND {column} = ANY(${len(args)}::text[])"
    return sql


async def worth_claiming(conn: Any, scope: ClaimScope, now: float) -> bool:
    """Whether a claim may find something (read without locks: idle workers never take the
    version row): not paused, and a pending job in scope, a due one or a ready waiting one."""
    args: list[Any] = [now]
    where = _scope_sql(scope, args)
    row = await conn.fetchrow(
        "SELECT m.paused, "
        f"EXISTS (SELECT 1 FROM jobs WHERE status = 'pending'{where}), "
        "EXISTS (SELECT 1 FROM jobs WHERE status = 'scheduled' AND run_at <= $1), "
        f"EXISTS (SELECT 1 FROM jobs WHERE status = 'waiting' AND NOT {UNFINISHED_DEP}) "
        "FROM meta m",
        *args,
    )
    return not row[0] and bool(row[1] or row[2] or row[3])


async def settings(conn: Any) -> tuple[set[str], dict[str, int]]:
    """The paused queues and the caps of capped ones."""
    paused: set[str] = set()
    caps: dict[str, int] = {}
    for name, is_paused, cap in await conn.fetch("SELECT name, paused, cap FROM queues"):
        if is_paused:
            paused.add(name)
        if cap is not None:
            caps[name] = int(cap)
    return paused, caps


ClaimState = tuple[bool, bool, tuple[set[str], dict[str, int]]]
"""(paused, whether a job may need promoting, (paused queues, caps of capped queues))."""


async def bump_and_state(conn: Any, versions: Versions, now: float) -> tuple[int, ClaimState]:
    """Take the next version and read what a claim needs, in one round trip."""
    row = await conn.fetchrow(
        "WITH v AS (UPDATE meta SET version = version + 1 WHERE id = 1 "
        "RETURNING version, paused) SELECT v.version, v.paused, "
        "EXISTS (SELECT 1 FROM jobs WHERE status = 'scheduled' AND run_at <= $1) "
        f"OR EXISTS (SELECT 1 FROM jobs WHERE status = 'waiting' AND NOT {UNFINISHED_DEP}), "
        "(SELECT json_agg(json_build_array(name, paused, cap)) FROM queues) FROM v",
        now,
    )
    versions.taken.append(int(row[0]))
    paused: set[str] = set()
    caps: dict[str, int] = {}
    for name, is_paused, cap in json.loads(row[3] or "[]"):
        if is_paused:
            paused.add(name)
        if cap is not None:
            caps[name] = int(cap)
    return int(row[0]), (bool(row[1]), bool(row[2]), (paused, caps))


PICK = (
    "SELECT id, priority FROM jobs WHERE status = 'pending'{where} AND "
    + VISIBLE
    + " ORDER BY priority DESC, id LIMIT {limit} FOR UPDATE SKIP LOCKED"
)

CLAIM = (
    "UPDATE jobs SET status = 'running', started_at = $1, attempts = attempts + 1, "
    "worker = $2, token = $3 || '.' || id || '.' || (attempts + 1), version = $4, "
    f"updated_at = $1, cancel_requested = 0 WHERE id = ANY($5::bigint[]) RETURNING {COLUMNS}"
)


async def claim(
    conn: Any,
    scope: ClaimScope,
    limit: int,
    head: tuple[float, str, str, int],
    queues: tuple[set[str], dict[str, int]],
) -> list[Job]:
    """Take up to limit pending jobs in scope (priority, then oldest), respecting paused
    queues and caps (queues: claim_state's settings); head: (now, worker, token base,
    version)."""
    paused, caps = queues
    parts: list[tuple[str, list[Any]]] = []
    args: list[Any] = []
    where = _scope_sql(scope, args)
    skip = sorted(paused | set(caps))
    if skip:
        args.append(skip)
        where += f" AND queue <> ALL(${len(args)}::text[])"
    uncapped = _pairs(scope, skip)
    if uncapped is None:
        parts.append((PICK.format(where=where, limit=int(limit)), args))
    else:
        parts.append((PICK_PAIRS.format(pairs=uncapped, limit=int(limit)), []))
    capped = sorted(
        q for q in caps if q not in paused and (scope.queues is None or q in scope.queues)
    )
    if capped:
        # The cap is fleet-wide: lock the queues' rows, then count what runs now.
        await conn.execute(
            "SELECT 1 FROM queues WHERE name = ANY($1::text[]) ORDER BY name FOR UPDATE", capped
        )
        running = dict(
            await conn.fetch(
                "SELECT queue, count(*) FROM jobs WHERE status = 'running' "
                "AND queue = ANY($1::text[]) GROUP BY queue",
                capped,
            )
        )
        for queue in capped:
            room = min(limit, caps[queue] - int(running.get(queue, 0)))
            if room <= 0:
                continue
            one = _pairs(ClaimScope(scope.types, frozenset([queue])), paused)
            if one is not None:
                parts.append((PICK_PAIRS.format(pairs=one, limit=room), []))
            else:
                qargs: list[Any] = []
                qwhere = _scope_sql(ClaimScope(scope.types, None), qargs)
                qargs.append(queue)
                qwhere += f" AND queue = ${len(qargs)}"
                parts.append((PICK.format(where=qwhere, limit=room), qargs))
    if len(parts) == 1:  # no capped queue: pick and take in one statement
        if uncapped is not None:
            rows = await conn.fetch(CLAIM_PAIRS.format(pairs=uncapped, limit=int(limit)), *head)
            jobs = [row_to_job(r) for r in rows]
            jobs.sort(key=lambda j: (-j.priority, j.id))
            return jobs
        select, pick_args = parts[0]
        pick_args = [*head, *pick_args]
        select = select.replace("SELECT id, priority FROM", "SELECT id FROM")
        for n in range(len(pick_args) - len(head), 0, -1):  # its $1.. move past head's four
            select = select.replace(f"${n}", f"${n + len(head)}")
        rows = await conn.fetch(CLAIM_PICKED.format(select=select), *pick_args)
        jobs = [row_to_job(r) for r in rows]
        jobs.sort(key=lambda j: (-j.priority, j.id))
        return jobs
    picked: list[tuple[int, int]] = []
    for sql, part_args in parts:
        picked += [(int(r[1]), int(r[0])) for r in await conn.fetch(sql, *part_args)]
    if not picked:
        return []
    picked.sort(key=lambda p: (-p[0], p[1]))
    ids = [job_id for _, job_id in picked[:limit]]
    rows = await conn.fetch(CLAIM, *head, ids)
    jobs = [row_to_job(r) for r in rows]
    jobs.sort(key=lambda j: (-j.priority, j.id))
    return jobs


CLAIM_PICKED = CLAIM.replace("ANY($5::bigint[])", "ANY(ARRAY({select}))")

PAIRS_MAX = 64
"""(queue, type) pairs named in a claim; past this (a worker given that many queues and
types), a claim reads the pending rows in one scan (PICK) instead."""

_PENDING_QUEUES = (
    "q(queue) AS ((SELECT queue FROM jobs WHERE status = 'pending' ORDER BY queue LIMIT 1) "
    "UNION ALL SELECT (SELECT j.queue FROM jobs j WHERE j.status = 'pending' "
    "AND j.queue > q.queue ORDER BY j.queue LIMIT 1) FROM q WHERE q.queue IS NOT NULL)"
)
"""The queues with pending jobs: one descent of jobs_claim per queue (a loose index scan)."""

_PICK_PAIRS_CTE = (
    "WITH RECURSIVE {pairs}, pick AS (SELECT x.id, x.priority FROM p CROSS JOIN LATERAL ("
    "SELECT id, priority FROM jobs WHERE status = 'pending' AND queue = p.queue "
    f"AND type = p.type AND {VISIBLE} ORDER BY priority DESC, id LIMIT {{limit}} "
    "FOR UPDATE SKIP LOCKED) x) "
)
PICK_PAIRS = (
    _PICK_PAIRS_CTE + "SELECT id, priority FROM pick ORDER BY priority DESC, id LIMIT {limit}"
)
"""The best `limit` pending jobs of some (queue, type) pairs (see _pairs), each pair read as
the first rows of its range of jobs_claim, in its order (`limit` rows per pair at most).
One scan of the pending rows filtered by type (PICK) reads and sorts every pending row
when the planner misjudges the table (as it does while autovacuum has not analysed a queue
that filled fast): 2.8 ms a claim of 8 with 4,000 jobs queued, growing with the queue."""

CLAIM_PAIRS = _PICK_PAIRS_CTE + CLAIM.replace(
    "ANY($5::bigint[])",
    "ANY(ARRAY(SELECT id FROM pick ORDER BY priority DESC, id LIMIT {limit}))",
)
"""PICK_PAIRS and the claim of what it picks, in one statement."""


def _pairs(scope: ClaimScope, skip: Collection[str]) -> str | None:
    """The CTE `p(queue, type)` of the pairs a claim in scope reads (PICK_PAIRS), leaving
    out the queues in skip; None when the scope names no types, or too many pairs.

    The names are written into the statement, not bound: with arrays as parameters the
    planner's guess of their size makes the generic plan look dearer than a custom one,
    so PostgreSQL planned the claim again at every call (0.55 -> 0.29 ms a claim)."""
    if scope.types is None:
        return None
    types = sorted(scope.types)
    if scope.queues is None:
        return (
            f"{_PENDING_QUEUES}, p(queue, type) AS (SELECT q.queue, t FROM q, "
            f"unnest({text_array(types)}) t WHERE q.queue IS NOT NULL "
            f"AND q.queue <> ALL({text_array(sorted(skip))}))"
        )
    queues = sorted(q for q in scope.queues if q not in skip)
    if len(queues) * len(types) > PAIRS_MAX:
        return None
    return (
        "p(queue, type) AS (SELECT * FROM unnest("
        f"{text_array([q for q in queues for _ in types])}, "
        f"{text_array([t for _ in queues for t in types])}))"
    )


def text_array(values: Sequence[str]) -> str:
    """A text[] literal of these strings, safe for any text (E'' with quotes and backslashes
    escaped, whatever standard_conforming_strings says)."""
    quoted = ("E'" + v.replace("\\", "\\\\").replace("'", "''") + "'" for v in values)
    return f"ARRAY[{','.join(quoted)}]::text[]"


FINISH = (
    "UPDATE jobs SET status = $1, worker = CASE WHEN $2 THEN worker END, token = NULL, "
    "cancel_requested = 0, progress = coalesce($3, progress), "
    "message = coalesce($4, message), finished_at = CASE WHEN $2 THEN $5 ELSE finished_at END, "
    "result = CASE WHEN $2 THEN $6 ELSE result END, "
    "run_at = CASE WHEN $2 THEN run_at ELSE $7 END, error = $8, traceback = $9, "
    "version = $10, updated_at = $5 WHERE id = ANY($11::bigint[]) "
    "AND token = ANY($12::text[]) "
    f"AND status IN ('running', 'paused') RETURNING {COLUMNS}"
)


async def finish(conn: Any, outcomes: Sequence[Outcome], now: float, version: int) -> list[Job]:
    """lifecycle.apply_outcome for every outcome whose token is current, grouped into one
    UPDATE per distinct record (a token names its job: base.id.attempt)."""
    groups: dict[tuple[Any, ...], tuple[list[int], list[str]]] = {}
    for o in outcomes:
        ids, tokens = groups.setdefault(recorded(o), ([], []))
        ids.append(o.job_id)
        tokens.append(o.token)
    changed: dict[int, Job] = {}
    for (status, terminal, progress, message, result, run_at, error, tb), (
        ids,
        tokens,
    ) in groups.items():
        rows = await conn.fetch(
            FINISH,
            status,
            terminal,
            progress,
            message,
            now,
            result,
            run_at,
            error,
            tb,
            version,
            ids,
            tokens,
        )
        for row in rows:
            job = row_to_job(row)
            changed[job.id] = job
    return [changed.pop(o.job_id) for o in outcomes if o.job_id in changed]


SAVE = (
    "UPDATE jobs SET status=$1, progress=$2, message=$3, result=$4, error=$5, traceback=$6, "
    "started_at=$7, finished_at=$8, run_at=$9, attempts=$10, worker=$11, token=$12, "
    "cancel_requested=$13, version=$14, updated_at=$15 WHERE id=$16"
)


async def save(conn: Any, job: Job) -> None:
    """Write a job's changing fields back."""
    await conn.execute(
        SAVE,
        job.status.value,
        job.progress,
        job.message,
        None if job.result is None else dumps(job.result),
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


# -- queues ------------------------------------------------------------------------------


async def set_queue(conn: Any, name: str, column: str, value: object) -> None:
    """Set one queue's paused flag or cap; a queue back to its defaults needs no row."""
    await conn.execute(
        f"INSERT INTO queues (name, {column}) VALUES ($1, $2) "
        f"ON CONFLICT (name) DO UPDATE SET {column} = excluded.{column}",
        name,
        value,
    )
    await conn.execute("DELETE FROM queues WHERE name = $1 AND NOT paused AND cap IS NULL", name)


async def infos(conn: Any) -> list[QueueInfo]:
    """Every queue with settings or pending/running jobs, by name."""
    paused, caps = await settings(conn)
    load: dict[str, dict[str, int]] = {}
    for status, queue, n in await conn.fetch(
        "SELECT status, queue, count(*) FROM jobs WHERE status IN ('pending', 'running') "
        f"AND {VISIBLE} GROUP BY status, queue"
    ):
        load.setdefault(queue, {})[status] = int(n)
    return [
        QueueInfo(
            name,
            name in paused,
            caps.get(name),
            load.get(name, {}).get("running", 0),
            load.get(name, {}).get("pending", 0),
        )
        for name in sorted({*paused, *caps, *load})
    ]


async def has_work(conn: Any, scope: ClaimScope) -> bool:
    """Whether an unfinished (not paused) job is within scope."""
    for names in (scope.queues, scope.types):
        if names is not None and not names:
            return False
    args: list[Any] = []
    where = _scope_sql(scope, args)
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM jobs WHERE status IN "
            f"('pending', 'scheduled', 'waiting', 'running'){where} AND {VISIBLE})",
            *args,
        )
    )
