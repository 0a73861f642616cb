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
# lifecycle.apply_outcome as one statement for every outcome that records the same thing
# (?2: the outcome is terminal). The token check makes a stale outcome change nothing: a
# token names its job (base.id.attempt), so `token IN` matches each job's own token only.
# RETURNING gives the jobs back without a separate SELECT.
_FINISH = (
    "UPDATE jobs SET status = ?1, worker = CASE WHEN ?2 THEN worker END, token = NULL, "
    "cancel_requested = 0, progress = coalesce(?3, progress), "
    "message = coalesce(?4, message), finished_at = CASE WHEN ?2 THEN ?5 ELSE finished_at END, "
    "result = CASE WHEN ?2 THEN ?6 ELSE result END, "
    "run_at = CASE WHEN ?2 THEN run_at ELSE ?7 END, error = ?8, traceback = ?9, "
    "version = ?10, updated_at = ?5 WHERE id IN (SELECT value FROM json_each(?11)) "
    "AND token IN (SELECT value FROM json_each(?12)) "
    "AND status IN ('running', 'paused') RETURNING "
)
_FINISH_JOBS = _FINISH + COLUMNS
_FINISH_IDS = _FINISH + "id"
"""_FINISH giving back only the ids it recorded: reading 26 columns back into Jobs cost a
fifth of a finish, for a caller that only counts them (finish_ids_and_claim)."""


CLAIMED = (
    "id, type, params, priority, progress, message, result, error, traceback, created_at, "
    "finished_at, run_at, attempts, max_attempts, timeout, rerun_of, depends_on, log_count, queue"
)
"""What a claim reads back: the columns its UPDATE (_CLAIM_SET) does not set to known values."""


def claimed_to_job(row: Sequence[Any], now: float, worker: str, batch: str, version: int) -> Job:
    """Build the Job of a row a claim returned (CLAIMED) with what _CLAIM_SET wrote."""
    params, deps = row[2], row[16]  # (_loads inlined for the usual "{}" and "[]")
    return Job(
        row[0],
        row[1],
        {} if params == "{}" else json.loads(params),
        _PRIORITY[row[3]],
        Status.RUNNING,
        row[4],
        row[5],
        None if row[6] is None else json.loads(row[6]),
        row[7],
        row[8],
        row[9],
        now,
        row[10],
        row[11],
        row[12],
        row[13],
        row[14],
        worker,
        f"{batch}.{row[0]}.{row[12]}",  # as _CLAIM_SET makes it
        row[15],
        [] if deps == "[]" else json.loads(deps),
        0,
        version,
        now,
        row[17],
        row[18],
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
