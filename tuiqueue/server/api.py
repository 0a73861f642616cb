"""The JSON API: jobs, job types, stats, workers and the OpenAPI description of them."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tuiqueue.core.job import Job
from tuiqueue.core.queues import check_queue_name
from tuiqueue.core.status import Status
from tuiqueue.engine.engine import Engine

ENGINE: web.AppKey[Engine] = web.AppKey("engine", Engine)
MAX_PAGE = 1000
FIELDS = {"type", "job_type", "params", "priority", "queue", "delay", "after"}
STATUS_NAMES = [s.value for s in Status]


def _engine(request: web.Request) -> Engine:
    return request.app[ENGINE]


def _int(text: str, what: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise web.HTTPBadRequest(reason=f"{what} must be a whole number (got {text!r})") from None
    if not low <= value <= high:
        raise web.HTTPBadRequest(reason=f"{what} must be from {low} to {high}")
    return value


def job_id(request: web.Request) -> int:
    """The {id} of the path."""
    return _int(request.match_info["id"], "a job id", 1, 2**63 - 1)


async def body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object (400 when it is not one)."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise web.HTTPBadRequest(reason="the body is not JSON") from None
    if not isinstance(value, dict):
        raise web.HTTPBadRequest(reason='the body must be a JSON object like {"type": "echo"}')
    return value


async def create(engine: Engine, spec: dict[str, Any]) -> Job:
    """Validate and submit a job from its JSON spec, as `tuiqueue submit` does."""
    extra = set(spec) - FIELDS
    if extra:
        raise ValueError(f"unknown keys: {', '.join(sorted(extra))}")
    kind = spec.get("type", spec.get("job_type"))
    if not isinstance(kind, str):
        raise ValueError('"type" must name a job type (see GET /api/job-types)')
    params = spec.get("params") or {}
    if not isinstance(params, dict):
        raise ValueError('"params" must be an object')
    after: Any = spec.get("after") or []
    if isinstance(after, int) and not isinstance(after, bool):
        after = [after]
    priority = spec.get("priority", "normal")
    if not isinstance(priority, str | int) or isinstance(priority, bool):
        raise ValueError("priority must be low, normal, high or critical")
    new = engine.new_job(
        kind,
        params,
        priority=priority,
        delay=spec.get("delay"),
        after=after,
        queue=spec.get("queue", "default"),
    )
    return (await engine.submit_many([new]))[0]


async def list_jobs(request: web.Request) -> web.Response:
    """GET /api/jobs?status=&type=&queue=&limit=&before=: newest first, keyset paged."""
    q = request.query
    statuses = None
    if q.getall("status", []):
        names = [n for part in q.getall("status") for n in part.split(",") if n]
        bad = [n for n in names if n not in STATUS_NAMES]
        if bad:
            raise web.HTTPBadRequest(
                reason=f"unknown status {bad[0]!r}; use one of {', '.join(STATUS_NAMES)}"
            )
        statuses = {Status(n) for n in names}
    limit = _int(q.get("limit", "50"), "limit", 1, MAX_PAGE)
    before = _int(q["before"], "before", 1, 2**63 - 1) if "before" in q else None
    queue = check_queue_name(q["queue"]) if "queue" in q else None
    jobs = await _engine(request).list(
        statuses=statuses, type=q.get("type") or None, limit=limit, before_id=before, queue=queue
    )
    nxt = jobs[-1].id if len(jobs) == limit else None
    return web.json_response({"jobs": [j.to_dict() for j in jobs], "next_before": nxt})


async def post_job(request: web.Request) -> web.Response:
    """POST /api/jobs."""
    job = await create(_engine(request), await body(request))
    return web.json_response(job.to_dict(), status=201)


async def get_job(request: web.Request) -> web.Response:
    """GET /api/jobs/{id}: the job, with "reruns" (the ids of the jobs rerun from it; its
    "rerun_of" is the other way)."""
    engine, jid = _engine(request), job_id(request)
    job = await engine.get(jid)
    return web.json_response({**job.to_dict(), "reruns": await engine.reruns(jid)})


async def command(request: web.Request) -> web.Response:
    """POST /api/jobs/{id}/cancel|pause|resume|rerun, DELETE /api/jobs/{id} (cancel)."""
    engine, jid = _engine(request), job_id(request)
    action = request.match_info.get("action", "cancel")
    await engine.get(jid)  # 404 before anything else
    if action == "rerun":
        return web.json_response((await engine.rerun(jid)).to_dict(), status=201)
    fn = {"cancel": engine.cancel, "pause": engine.pause, "resume": engine.resume}[action]
    return web.json_response((await fn(jid)).to_dict())


async def logs(request: web.Request) -> web.Response:
    """GET /api/jobs/{id}/logs?tail=N -> {"logs": "..."}."""
    engine, jid = _engine(request), job_id(request)
    await engine.get(jid)
    tail = _int(request.query["tail"], "tail", 1, 100_000) if "tail" in request.query else None
    page = await engine.logs(jid)
    lines = [text for _, text in page.lines]
    if tail is not None:
        lines = lines[-tail:]
    return web.json_response({"logs": "\n".join(lines), "dropped": page.dropped})


async def job_types(request: web.Request) -> web.Response:
    """GET /api/job-types: the shape of `tuiqueue types --json`."""
    return web.json_response([t.to_dict() for t in _engine(request).registry])


async def stats(request: web.Request) -> web.Response:
    """GET /api/stats: the shape of `tuiqueue stats --json`."""
    return web.json_response((await _engine(request).stats()).to_dict())


async def workers(request: web.Request) -> web.Response:
    """GET /api/workers: the shape of `tuiqueue workers --json`."""
    engine = _engine(request)
    now = engine.clock()
    return web.json_response([w.to_dict(now, engine.dead_after) for w in await engine.workers()])


def _op(summary: str, ok: int = 200, body: bool = False) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            str(ok): {"description": "OK"},
            "401": {"description": "missing or wrong token"},
        },
    }
    if body:
        op["requestBody"] = {
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewJob"}}}
        }
    return op


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "tuiqueue", "version": "1"},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "NewJob": {
                "type": "object",
                "properties": {
                    "type": {"type": "string"},
                    "job_type": {"type": "string"},
                    "params": {"type": "object"},
                    "priority": {"enum": ["low", "normal", "high", "critical"]},
                    "queue": {"type": "string"},
                    "delay": {"type": "number"},
                    "after": {"type": "array", "items": {"type": "integer"}},
                },
            },
            "Error": {
                "type": "object",
                "properties": {"error": {"type": "string"}, "code": {"type": "integer"}},
            },
        },
    },
    "security": [{"bearer": []}],
    "paths": {
        "/api/jobs": {
            "get": _op("Jobs newest first (status, type, queue, limit, before)"),
            "post": _op("Submit a job (422 lists every field's error)", 201, body=True),
        },
        "/api/jobs/{id}": {"get": _op("One job"), "delete": _op("Cancel a job")},
        **{
            f"/api/jobs/{{id}}/{a}": {"post": _op(f"{a.capitalize()} a job")}
            for a in ("cancel", "pause", "resume", "rerun")
        },
        "/api/jobs/{id}/logs": {"get": _op("A job's log (tail=N)")},
        "/api/jobs/{id}/progress": {"get": _op("SSE: a job's events until it ends")},
        "/api/events": {"get": _op("SSE: every event")},
        "/api/job-types": {"get": _op("Job types and their parameters")},
        "/api/stats": {"get": _op("Counts and the workers' load")},
        "/api/workers": {"get": _op("Registered workers")},
        "/ws/queue": {"get": _op("WebSocket: queue state, events and commands", 101)},
    },
}


async def openapi(request: web.Request) -> web.Response:
    """GET /api/openapi.json."""
    return web.json_response(OPENAPI)


def add_routes(app: web.Application) -> None:
    """Register the API's routes."""
    app.router.add_get("/api/jobs", list_jobs)
    app.router.add_post("/api/jobs", post_job)
    app.router.add_get("/api/jobs/{id}", get_job)
    app.router.add_delete("/api/jobs/{id}", command)
    app.router.add_post("/api/jobs/{id}/{action:cancel|pause|resume|rerun}", command)
    app.router.add_get("/api/jobs/{id}/logs", logs)
    app.router.add_get("/api/job-types", job_types)
    app.router.add_get("/api/stats", stats)
    app.router.add_get("/api/workers", workers)
    app.router.add_get("/api/openapi.json", openapi)
