"""SqliteStore's claims and queues: which pending rows a worker may take, in one statement.

A claim looks only at the worker's (queue, type) pairs: for each, the first rows of the
jobs_claim index (queue, type, priority DESC, id) of pending rows, so jobs no live worker here can
run are never scanned past, and a capped queue contributes at most its room. The queue
settings live in the `queues` table; the running count of a capped queue is read in the
claim's own write transaction, so the cap holds across every process.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from typing import Any

from tuiqueue.core.job import Job
from tuiqueue.core.queues import ClaimScope, QueueInfo
from tuiqueue.store.sqlite_rows import (
    _CLAIM_SET,
    CLAIMED,
    CLAIMED_REST,
    FRESH,
    claimed_to_job,
    json_ids,
)

PAIRS_MAX = 64
"""(queue, type) pairs read one index range each; past this a queue's types go in one IN."""

_DISTINCT_QUEUES = """
WITH RECURSIVE q(name) AS (
  SELECT (SELECT MIN(queue) FROM jobs INDEXED BY jobs_claim WHERE status = 'pending')
  UNION ALL
  SELECT (SELECT MIN(queue) FROM jobs INDEXED BY jobs_claim
          WHERE status = 'pending' AND queue > q.name)
  FROM q WHERE q.name IS NOT NULL
) SELECT name FROM q WHERE name IS NOT NULL
"""
"""The queues with pending jobs: one index seek per queue (a loose index scan). INDEXED BY:
SQLite's planner would rather take jobs_status_id and read every pending row."""

_DISTINCT_TYPES = """
WITH RECURSIVE t(name) AS (
  SELECT (SELECT MIN(type) FROM jobs INDEXED BY jobs_claim WHERE status = 'pending' AND queue = ?1)
  UNION ALL
  SELECT (SELECT MIN(type) FROM jobs INDEXED BY jobs_claim
          WHERE status = 'pending' AND queue = ?1 AND type > t.name)
  FROM t WHERE t.name IS NOT NULL
) SELECT name FROM t WHERE name IS NOT NULL
"""


def settings(conn: sqlite3.Connection) -> tuple[set[str], dict[str, int]]:
    """The paused queues and the caps of capped ones."""
    paused: set[str] = set()
    caps: dict[str, int] = {}
    for name, is_paused, cap in conn.execute("SELECT name, paused, cap FROM queues"):
        if is_paused:
            paused.add(name)
        if cap is not None:
            caps[name] = int(cap)
    return paused, caps


def _running(conn: sqlite3.Connection, queue: str) -> int:
    row = conn.execute(
        "SELECT COUNT(*) FROM jobs WHERE status = 'running' AND queue = ?", (queue,)
    ).fetchone()
    return int(row[0])


def _pick(
    conn: sqlite3.Connection,
    scope: ClaimScope,
    limit: int,
    hide: tuple[str, Sequence[Any]] = ("", ()),
) -> tuple[str, list[Any]] | None:
    """A SELECT of (id, priority) of the rows to claim, or None when there is nothing.

    hide: `AND ...` SQL and its arguments leaving out the rows of big submits still being
    written (sqlite_batches.skip)."""
    hide_sql, hide_args = hide
    paused, caps = settings(conn)
    if scope.queues is None:
        queues = [q for (q,) in conn.execute(_DISTINCT_QUEUES) if q not in paused]
    else:
        queues = sorted(q for q in scope.queues if q not in paused)
    parts: list[str] = []
    args: list[Any] = []
    for queue in queues:
        room = limit
        if queue in caps:
            room = min(limit, caps[queue] - _running(conn, queue))
            if room <= 0:
                continue
        types: Collection[str]
        if scope.types is None:
            types = [t for (t,) in conn.execute(_DISTINCT_TYPES, (queue,))]
        else:
            types = sorted(scope.types)
        if not types:
            continue
        one = (
            "SELECT id, priority FROM jobs WHERE status = 'pending' AND queue = ? AND type {}"
            + hide_sql
            + " ORDER BY priority DESC, id LIMIT ?"
        )
        if len(types) * len(queues) <= PAIRS_MAX:
            subs = [f"SELECT * FROM ({one.format('= ?')})" for _ in types]
            sub_args: list[Any] = [x for t in types for x in (queue, t, *hide_args, room)]
        else:  # many types: one range per queue, sorted (slower, but bounded statements)
            subs = [f"SELECT * FROM ({one.format('IN (' + ','.join('?' * len(types)) + ')')})"]
            sub_args = [queue, *types, *hide_args, room]
        if len(subs) > 1 and queue in caps:
            # the cap is for the queue as a whole: at most `room` across its types
            parts.append(
                f"SELECT * FROM ({' UNION ALL '.join(subs)} ORDER BY priority DESC, id LIMIT ?)"
            )
            sub_args.append(room)
        else:
            parts.extend(subs)
        args.extend(sub_args)
    if not parts:
        return None
    return " UNION ALL ".join(parts), args


def claim(
    conn: sqlite3.Connection,
    scope: ClaimScope,
    limit: int,
    head: Sequence[Any],
    hide: tuple[str, Sequence[Any]] = ("", ()),
) -> list[Any]:
    """Run the claim's UPDATE (head: its SET arguments) over the rows `scope` may take,
    leaving out the hidden ones (see _pick)."""
    picked = _pick(conn, scope, limit, hide)
    if picked is None:
        return []
    select, args = picked
    sql = (
        f"{_CLAIM_SET}WHERE id IN (SELECT id FROM ({select}) ORDER BY priority DESC, id "
        f"LIMIT ?) RETURNING {CLAIMED}"
    )
    return conn.execute(sql, (*head, *args, limit)).fetchall()


def claimed_again(
    conn: sqlite3.Connection,
    rows: Sequence[Any],
    now: float,
    worker: str,
    batch: str,
    version: int,
) -> list[Job]:
    """The Jobs of the claimed rows that are not fresh (CLAIMED's flag), their folded columns
    read back by id (in the claim's own transaction: as it left them)."""
    stale = {r[0]: r for r in rows if not r[FRESH]}
    rests = conn.execute(
        f"SELECT {CLAIMED_REST} FROM jobs WHERE id IN (SELECT value FROM json_each(?))",
        (json_ids(list(stale)),),
    )
    return [claimed_to_job(stale[rest[0]], now, worker, batch, version, rest[1:]) for rest in rests]


def set_paused(conn: sqlite3.Connection, name: str, paused: bool) -> None:
    """Pause or resume one queue."""
    conn.execute(
        "INSERT INTO queues (name, paused) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET paused = excluded.paused",
        (name, int(paused)),
    )
    _forget_default(conn, name)


def set_cap(conn: sqlite3.Connection, name: str, cap: int | None) -> None:
    """Set or remove one queue's fleet-wide cap."""
    conn.execute(
        "INSERT INTO queues (name, cap) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET cap = excluded.cap",
        (name, cap),
    )
    _forget_default(conn, name)


def _forget_default(conn: sqlite3.Connection, name: str) -> None:
    """A queue back to its defaults needs no row."""
    conn.execute("DELETE FROM queues WHERE name = ? AND paused = 0 AND cap IS NULL", (name,))


def infos(conn: sqlite3.Connection) -> list[QueueInfo]:
    """Every queue with settings or pending/running jobs, by name."""
    paused, caps = settings(conn)
    load: dict[str, dict[str, int]] = {}
    for status, index in (("pending", "jobs_claim"), ("running", "jobs_status_id")):
        for queue, n in conn.execute(
            # the status as a literal: a partial index is not used for a bound parameter
            f"SELECT queue, COUNT(*) FROM jobs INDEXED BY {index} WHERE status = '{status}' "
            "GROUP BY queue"
        ):
            load.setdefault(queue, {})[status] = n
    names = sorted({*paused, *caps, *load})
    return [
        QueueInfo(
            name,
            name in paused,
            caps.get(name),
            load.get(name, {}).get("running", 0),
            load.get(name, {}).get("pending", 0),
        )
        for name in names
    ]


def has_work(conn: sqlite3.Connection, scope: ClaimScope) -> bool:
    """Whether an unfinished (not paused) job is within scope: pending ones are looked up in
    jobs_claim, the few scheduled, waiting and running ones through jobs_status_id."""
    where: list[str] = []
    args: list[Any] = []
    for column, names in (("queue", scope.queues), ("type", scope.types)):
        if names is not None:
            if not names:
                return False
            where.append(f" AND {column} IN ({','.join('?' * len(names))})")
            args.extend(sorted(names))
    for status in ("pending", "scheduled", "waiting", "running"):  # literals, as in infos
        sql = f"SELECT 1 FROM jobs WHERE status = '{status}'{''.join(where)} LIMIT 1"
        if conn.execute(sql, args).fetchone() is not None:
            return True
    return False
