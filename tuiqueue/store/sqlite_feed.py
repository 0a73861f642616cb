"""SQLite's change feed: what changed after a version, for the watchers of other processes.

Each write of jobs adds a row to `changed` (SqliteConnection.touched): its version and the ids
it changed. A watcher reads the rows after its version and then those jobs by id, where an
index on jobs.version would have cost every claim and finish an entry moved in it. The feed
keeps the last CHANGED_KEEP versions (meta's changed_from says where it starts); a watcher
further behind reads jobs.version by a scan of the table (by_scan), so nothing is missed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from tuiqueue.core.job import Job
from tuiqueue.store.sqlite_rows import COLUMNS, _dumps, row_to_job

FEED_MAX = 2000
"""Jobs one changes() call returns, about (a version is returned whole)."""


def changed(
    conn: sqlite3.Connection, since: int, version: int, hide: str, args: Sequence[Any]
) -> tuple[list[Job], int]:
    """The jobs changed after `since` (at most about FEED_MAX of them, cut at a version),
    and the version they are complete up to."""
    (start,) = conn.execute("SELECT value FROM meta WHERE key = 'changed_from'").fetchone()
    if since < int(start):  # further back than the feed keeps: read jobs.version itself
        return by_scan(conn, since, version, hide, args)
    ids: list[int] = []
    upto = version
    for v, more in conn.execute(
        "SELECT version, ids FROM changed WHERE version > ? ORDER BY version", (since,)
    ):
        if len(ids) >= FEED_MAX and v != upto:
            upto = v - 1  # (a version is taken whole, however many it changed)
            break
        upto = v
        ids.extend(json.loads(more))
    else:
        upto = version
    if not ids:
        return [], upto
    jobs = [
        row_to_job(r)
        for r in conn.execute(
            f"SELECT {COLUMNS} FROM jobs WHERE id IN (SELECT value FROM json_each(?)){hide}",
            (_dumps(ids), *args),
        )
    ]
    # changed again after upto: the next call has them (as the scan leaves them out)
    return [j for j in jobs if j.version <= upto], upto


def by_scan(
    conn: sqlite3.Connection, since: int, version: int, hide: str, args: Sequence[Any]
) -> tuple[list[Job], int]:
    """changed() for a `since` older than the feed: a scan of every job."""
    jobs = [
        row_to_job(r)
        for r in conn.execute(
            f"SELECT {COLUMNS} FROM jobs WHERE version > ?{hide} ORDER BY version LIMIT {FEED_MAX}",
            (since, *args),
        )
    ]
    if len(jobs) == FEED_MAX:
        last = jobs[-1].version
        if jobs[0].version == last:  # one write changed FEED_MAX+ jobs: take it whole
            jobs = [
                row_to_job(r)
                for r in conn.execute(
                    f"SELECT {COLUMNS} FROM jobs WHERE version = ?{hide}",
                    (last, *args),
                )
            ]
            version = last
        else:
            version = last - 1
            jobs = [j for j in jobs if j.version <= version]
    return jobs, version
