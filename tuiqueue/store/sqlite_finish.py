"""SqliteStore's finish: the outcomes of runs recorded in as few UPDATEs as record the same.

An outcome counts only while its run is still the job's current one: its token (the claim's
batch, the job's id and the attempt: `batch.id.attempt`, see _CLAIM_SET) must be the row's.
The usual outcomes of a tick come from one or two claims, so they are grouped by what they
record and by their token's batch and attempt: the row's token is then checked against
`batch.` || id || `.attempt`, with the row's own id, which is the outcome's token exactly
(the UPDATE takes only the group's ids). An outcome whose token is not of that form (or
names another job) is checked against a list of tokens instead. The first form was about a
fifth of the finish's time less than reading a JSON list of 64 tokens for every row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from tuiqueue.core.lifecycle import Outcome
from tuiqueue.store.base import recorded
from tuiqueue.store.sqlite_rows import COLUMNS, json_ids, json_tokens

# lifecycle.apply_outcome as one statement for every outcome that records the same thing
# (?2: the outcome is terminal). RETURNING gives the jobs back without a separate SELECT.
_SET = (
    "UPDATE jobs SET status = ?1, worker = CASE WHEN ?2 THEN worker END, token = NULL, "
    "cancel_requested = 0, progress = coalesce(?3, progress), "
    "message = coalesce(?4, message), finished_at = CASE WHEN ?2 THEN ?5 ELSE finished_at END, "
    "result = CASE WHEN ?2 THEN ?6 ELSE result END, "
    "run_at = CASE WHEN ?2 THEN run_at ELSE ?7 END, error = ?8, traceback = ?9, "
    "version = ?10, updated_at = ?5 WHERE id IN (SELECT value FROM json_each(?11)) "
)
_BY_BATCH = "AND token = ?12 || id || ?13 AND status IN ('running', 'paused') RETURNING "
"""The token check of a group of one batch and attempt (?12: `batch.`, ?13: `.attempt`)."""
_BY_LIST = (
    "AND token IN (SELECT value FROM json_each(?12)) AND status IN ('running', 'paused') RETURNING "
)
"""The token check of any other outcomes: a token names its job (base.id.attempt), so
`token IN` matches each job's own token only."""

JOBS = (_SET + _BY_BATCH + COLUMNS, _SET + _BY_LIST + COLUMNS)
"""The finish giving back the jobs it recorded (COLUMNS, for row_to_job)."""
IDS = (_SET + _BY_BATCH.removesuffix(" RETURNING "), _SET + _BY_LIST + "id")
"""The finish for a caller that only needs the ids it recorded (finish_ids_and_claim):
reading 26 columns back into Jobs cost a fifth of a finish. A group of one batch returns
nothing, its count says whether every job of it was recorded (RETURNING even only the id
was a quarter of that statement's time); when not, the ones that were are read back."""

_RECORDED = "SELECT id FROM jobs WHERE id IN (SELECT value FROM json_each(?1)) AND version = ?2"
"""Which of a group's jobs its finish recorded: only this transaction writes its version,
and a finish's claim comes after it."""


def batch_of(token: str, job_id: int) -> tuple[str, str] | None:
    """(`batch.`, `.attempt`) when token is `batch.<job_id>.attempt` (then the two around the
    row's id are the token exactly); None for a token of any other form."""
    batch, dot, rest = token.partition(".")
    number, dot2, attempt = rest.partition(".")
    if not dot2 or number != str(job_id):
        return None
    return batch + dot, dot2 + attempt


def record(
    conn: sqlite3.Connection,
    outcomes: Sequence[Outcome],
    now: float,
    version: int,
    statements: tuple[str, str],
) -> list[Any]:
    """Record the outcomes with `statements` (JOBS or IDS): the rows of the jobs recorded
    (COLUMNS for JOBS, the id alone for IDS)."""
    # Outcomes that record the same thing (typically: completed, no result) and come from
    # one claim share one UPDATE; one statement per outcome cost more than the rest of the
    # transaction.
    groups: dict[tuple[Any, ...], tuple[list[int], list[str]]] = {}
    last: tuple[Any, ...] | None = None
    group: tuple[list[int], list[str]] = ([], [])
    for o in outcomes:
        key = (recorded(o), batch_of(o.token, o.job_id))
        if key != last:
            found = groups.get(key)
            if found is None:
                found = groups[key] = ([], [])
            last, group = key, found
        group[0].append(o.job_id)
        group[1].append(o.token)
    by_batch, by_list = statements
    rows: list[Any] = []
    for (what, batch), (ids, tokens) in groups.items():
        head = (*what[:4], now, *what[4:], version)  # (?5 is now: see _SET)
        if batch is None:
            rows.extend(conn.execute(by_list, (*head, json_ids(ids), json_tokens(tokens))))
            continue
        listed = json_ids(ids)
        cursor = conn.execute(by_batch, (*head, listed, *batch))
        if statements is JOBS:
            rows.extend(cursor)
        elif cursor.rowcount == len(ids):
            rows.extend((i,) for i in ids)
        else:  # (some were not this run's any more, or an id came twice)
            rows.extend(conn.execute(_RECORDED, (listed, version)))
    return rows
