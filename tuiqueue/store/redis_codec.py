"""How a Job is kept in a Redis hash: one string field per attribute, absent when None."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from tuiqueue.core.job import Job, NewJob
from tuiqueue.core.lifecycle import Outcome
from tuiqueue.core.queues import DEFAULT_QUEUE
from tuiqueue.core.status import Priority, Status

_JSON_FIELDS = ("params", "result", "depends_on")
_FLOAT_FIELDS = ("created_at", "started_at", "finished_at", "run_at", "timeout", "updated_at")


def dumps(value: Any) -> str:
    """Compact JSON, refusing NaN like the SQLite store."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def num(value: float) -> str:
    """A float as a string that round-trips exactly (Lua would keep only 14 digits)."""
    return repr(float(value))


def new_job_fields(new: NewJob) -> dict[str, Any]:
    """The Lua ADD script's description of one new job (status and ids are set in Redis)."""
    fields = {
        "type": new.type,
        "params": dumps(dict(new.params)),
        "priority": str(int(new.priority)),
        "progress": "0.0",
        "message": "",
        "attempts": "0",
        "max_attempts": str(new.max_attempts),
        "depends_on": dumps(list(new.depends_on)),
        "cancel_requested": "0",
        "log_count": "0",
        "queue": new.queue,
    }
    if new.run_at is not None:
        fields["run_at"] = num(new.run_at)
    if new.timeout is not None:
        fields["timeout"] = num(new.timeout)
    if new.rerun_of is not None:
        fields["rerun_of"] = str(new.rerun_of)
    spec: dict[str, Any] = {"f": fields, "deps": list(new.depends_on), "type": new.type}
    if new.run_at is not None:
        spec["run_at"] = fields["run_at"]
    return spec


_STATUS = {s.value: s for s in Status}
_PRIORITY = {str(int(p)): p for p in Priority}


def _float(raw: Mapping[str, str], key: str) -> float | None:
    value = raw.get(key)
    return float(value) if value is not None else None


def _loads(text: str) -> Any:
    # Most jobs have no params and no dependencies; skip the parser for those.
    if text == "{}":
        return {}
    if text == "[]":
        return []
    return json.loads(text)


def job_from_hash(raw: Mapping[str, str], job_id: int) -> Job:
    """Build a Job from its hash fields."""
    # Positional and with table lookups: this runs for every job claimed and finished.
    get = raw.get
    result = get("result")
    rerun_of = get("rerun_of")
    priority = get("priority", "1")
    return Job(
        job_id,
        raw["type"],
        _loads(raw["params"]),
        _PRIORITY.get(priority) or Priority(int(priority)),
        _STATUS[raw["status"]],
        float(get("progress", "0")),
        get("message", ""),
        json.loads(result) if result is not None else None,
        get("error"),
        get("traceback"),
        float(get("created_at", "0")),
        _float(raw, "started_at"),
        _float(raw, "finished_at"),
        _float(raw, "run_at"),
        int(get("attempts", "0")),
        int(get("max_attempts", "1")),
        _float(raw, "timeout"),
        get("worker"),
        get("token"),
        int(rerun_of) if rerun_of is not None else None,
        _loads(get("depends_on", "[]")),
        int(get("cancel_requested") or "0"),
        int(get("version", "0")),
        float(get("updated_at", "0")),
        int(get("log_count", "0")),
        get("queue") or DEFAULT_QUEUE,
    )


def job_from_values(values: Sequence[str | None]) -> Job | None:
    """Build a Job from a Lua script's snap(): its fields in Job's order (None if deleted)."""
    (
        id_,
        type_,
        params,
        priority,
        status,
        progress,
        message,
        result,
        error,
        tb,
        created_at,
        started_at,
        finished_at,
        run_at,
        attempts,
        max_attempts,
        timeout,
        worker,
        token,
        rerun_of,
        depends_on,
        cancel_requested,
        version,
        updated_at,
        log_count,
        queue,
    ) = values
    if type_ is None or id_ is None:
        return None
    priority = priority or "1"
    return Job(
        int(id_),
        type_,
        _loads(params or "{}"),
        _PRIORITY.get(priority) or Priority(int(priority)),
        _STATUS[status or "pending"],
        float(progress or "0"),
        message or "",
        None if result is None else json.loads(result),
        error,
        tb,
        float(created_at or "0"),
        None if started_at is None else float(started_at),
        None if finished_at is None else float(finished_at),
        None if run_at is None else float(run_at),
        int(attempts or "0"),
        int(max_attempts or "1"),
        None if timeout is None else float(timeout),
        worker,
        token,
        None if rerun_of is None else int(rerun_of),
        _loads(depends_on or "[]"),
        int(cancel_requested or "0"),
        int(version or "0"),
        float(updated_at or "0"),
        int(log_count or "0"),
        queue or DEFAULT_QUEUE,
    )


def job_fields(job: Job) -> dict[str, str | None]:
    """Every mutable field of a job as hash strings (None: field absent)."""
    return {
        "status": job.status.value,
        "progress": num(job.progress),
        "message": job.message,
        "result": None if job.result is None else dumps(job.result),
        "error": job.error,
        "traceback": job.traceback,
        "started_at": None if job.started_at is None else num(job.started_at),
        "finished_at": None if job.finished_at is None else num(job.finished_at),
        "run_at": None if job.run_at is None else num(job.run_at),
        "attempts": str(job.attempts),
        "worker": job.worker,
        "token": job.token,
        "cancel_requested": str(int(job.cancel_requested)),
        "priority": str(int(job.priority)),
    }


def diff(before: Job, after: Job) -> dict[str, Any]:
    """The SAVE script's compare-and-set entry turning `before` into `after`."""
    old, new = job_fields(before), job_fields(after)
    changed = {k: v for k, v in new.items() if old[k] != v}
    return {
        "id": str(after.id),
        "was": [old["status"], old["token"] or "", old["cancel_requested"]],
        "set": {k: v for k, v in changed.items() if v is not None},
        "del": [k for k, v in changed.items() if v is None],
    }


def outcome_spec(outcome: Outcome) -> dict[str, str]:
    """The FINISH script's description of one outcome (None values left out)."""
    spec = {"id": str(outcome.job_id), "token": outcome.token, "status": outcome.status.value}
    if outcome.progress is not None:
        spec["progress"] = num(outcome.progress)
    if outcome.message is not None:
        spec["message"] = outcome.message
    if outcome.result is not None:
        spec["result"] = dumps(outcome.result)
    if outcome.error is not None:
        spec["error"] = outcome.error
    if outcome.traceback is not None:
        spec["traceback"] = outcome.traceback
    if outcome.run_at is not None:
        spec["run_at"] = num(outcome.run_at)
    return spec


def snaps_to_jobs(replies: Sequence[Sequence[str | None]]) -> list[Job]:
    """Jobs from HMGET snapshots, skipping jobs that no longer exist."""
    return [job for job in map(job_from_values, replies) if job is not None]
