"""Row encoding for SqliteStore: the job COLUMNS, row_to_job and the shared statements."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tuiqueue.core.job import Job
from tuiqueue.core.status import Priority, Status

COLUMNS = (
    "id, type, params, priority, status, progress, message, result, error, traceback, "
    "created_at, started_at, finished_at, run_at, attempts, max_attempts, timeout, worker, "
    "token, rerun_of, depends_on, cancel_requested, version, updated_at, log_count, queue"
)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def json_ids(ids: Sequence[int]) -> str:
    """A JSON array of job ids (what json_each reads in the finish: faster than _dumps)."""
    return "[" + ",".join(map(str, ids)) + "]"


def json_tokens(tokens: Sequence[str]) -> str:
    """A JSON array of run tokens. Ours are letters, digits and dots, written without
    json.dumps; anything that would need escaping goes through it."""
    body = '","'.join(tokens)
    if not body.isascii() or not body.isprintable() or '"' in body or "\\" in body:
        return _dumps(list(tokens))
    return '["' + body + '"]' if tokens else "[]"


_STATUS = {s.value: s for s in Status}
_PRIORITY = {int(p): p for p in Priority}


def _loads(text: str) -> Any:
    # Most jobs have no params and no dependencies; skip the parser for those.
    if text == "{}":
        return {}
    if text == "[]":
        return []
    return json.loads(text)


_CLAIM_SET = (
    "UPDATE jobs SET status = 'running', started_at = ?, attempts = attempts + 1, "
    "worker = ?, token = ? || '.' || id || '.' || (attempts + 1), version = ?, "
    "updated_at = ?, cancel_requested = 0 "
)
"""The claim's UPDATE up to its WHERE (sqlite_claims.py writes which ids it takes)."""
CLAIMED = (
    "id, type, params, priority, created_at, attempts, max_attempts, timeout, queue, "
    "progress = 0 AND message = '' AND result IS NULL AND error IS NULL AND traceback IS NULL "
    "AND finished_at IS NULL AND run_at IS NULL AND rerun_of IS NULL AND depends_on = '[]' "
    "AND log_count = 0"
)
"""What a claim reads back: the columns its UPDATE (_CLAIM_SET) does not set to known values,
with those that a job's first run finds at their defaults folded into one flag (`fresh`, the
last). Returning 10 columns instead of 19 was about a fifth of the claim's time."""

FRESH = 9
"""The index of CLAIMED's `fresh` flag in a claimed row."""

CLAIMED_REST = (
    "id, progress, message, result, error, traceback, finished_at, run_at, rerun_of, "
    "depends_on, log_count"
)
"""The folded columns, read for the claimed rows that are not fresh (a retry, a rerun, a
scheduled or dependent job) by their id."""

_FRESH_REST = (0.0, "", None, None, None, None, None, None, "[]", 0)
"""CLAIMED_REST (without the id) of a fresh row."""


def claimed_to_job(
    row: Sequence[Any],
    now: float,
    worker: str,
    batch: str,
    version: int,
    rest: Sequence[Any] = _FRESH_REST,
) -> Job:
    """Build the Job of a row a claim returned (CLAIMED) with what _CLAIM_SET wrote, and
    `rest`, the row's CLAIMED_REST after its id (the defaults when the row is fresh)."""
    params, deps = row[2], rest[8]  # (_loads inlined for the usual "{}" and "[]")
    return Job(
        row[0],
        row[1],
        {} if params == "{}" else json.loads(params),
        _PRIORITY[row[3]],
        Status.RUNNING,
        rest[0],
        rest[1],
        None if rest[2] is None else json.loads(rest[2]),
        rest[3],
        rest[4],
        row[4],
        now,
        rest[5],
        rest[6],
        row[5],
        row[6],
        row[7],
        worker,
        f"{batch}.{row[0]}.{row[5]}",  # as _CLAIM_SET makes it
        rest[7],
        [] if deps == "[]" else json.loads(deps),
        0,
        version,
        now,
        rest[9],
        row[8],
    )


def row_to_job(row: Sequence[Any]) -> Job:
    """Build a Job from a row selected with COLUMNS."""
    # Positional and with table lookups: this runs for every job claimed and finished.
    return Job(
        row[0],
        row[1],
        _loads(row[2]),
        _PRIORITY[row[3]],
        _STATUS[row[4]],
        row[5],
        row[6],
        None if row[7] is None else json.loads(row[7]),
        row[8],
        row[9],
        row[10],
        row[11],
        row[12],
        row[13],
        row[14],
        row[15],
        row[16],
        row[17],
        row[18],
        row[19],
        _loads(row[20]),
        row[21],
        row[22],
        row[23],
        row[24],
        row[25],
    )
