"""The WebSocket /ws/queue: the queue's state, its events, and commands answered one by one."""

from __future__ import annotations

import json
import weakref
from typing import Any
from urllib.parse import urlsplit

import anyio
from aiohttp import WSMsgType, web

from tuiqueue.core.events import Event, EventKind
from tuiqueue.core.job import Job
from tuiqueue.core.status import Status
from tuiqueue.engine.engine import Engine
from tuiqueue.server import api
from tuiqueue.server.errors import describe
from tuiqueue.server.stream import subscribe, unsubscribe

STATE_JOBS = 500
"""Newest jobs in a queue_state message."""
STATS_EVERY = 0.5
"""Seconds between two stats_update messages (sent only after a job changed)."""
MAX_MESSAGE = 1024 * 1024

SOCKETS = web.AppKey("sockets", weakref.WeakSet[web.WebSocketResponse])
FINAL = {
    Status.COMPLETED: "job_completed",
    Status.FAILED: "job_failed",
    Status.CANCELLED: "job_cancelled",
}
NEW = {Status.PENDING, Status.SCHEDULED, Status.WAITING}


def same_origin(request: web.Request) -> bool:
    """No Origin (not a browser), or one naming this server's host:port."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == request.host.lower()


def _job_messages(job: Job, seen: dict[int, Status], since: float) -> list[dict[str, Any]]:
    """What a client hears of a job's new snapshot; `since`: when it connected (a job made
    after that and first seen already claimed, by another process's submit, is still new)."""
    before = seen.get(job.id)
    seen[job.id] = job.status
    data = job.to_dict()
    out: list[dict[str, Any]] = []
    if before is None and (job.status in NEW or job.created_at >= since):
        out.append({"type": "job_created", "job": data})
        if job.status in NEW:
            return out
    if job.status is Status.RUNNING and before is not Status.RUNNING:
        out.append(
            {"type": "job_started", "job_id": job.id, "started_at": job.started_at, "job": data}
        )
    elif job.status in FINAL and before is not job.status:
        msg: dict[str, Any] = {"type": FINAL[job.status], "job_id": job.id, "job": data}
        if job.status is Status.COMPLETED:
            msg["result"] = job.result
        elif job.status is Status.FAILED:
            msg["error"] = job.error
        out.append(msg)
    else:
        out.append({"type": "job_updated", "job_id": job.id, "job": data})
    return out


def _job_id(msg: dict[str, Any]) -> int:
    value = msg.get("job_id")
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError('"job_id" must be a job id')
    return value


async def state(engine: Engine) -> dict[str, Any]:
    """The queue_state message."""
    jobs = await engine.list(limit=STATE_JOBS)
    return {
        "type": "queue_state",
        "jobs": [j.to_dict() for j in jobs],
        "stats": (await engine.stats()).to_dict(),
    }


async def answer(engine: Engine, msg: dict[str, Any]) -> dict[str, Any]:
    """The reply to one client message (raises for an error)."""
    kind = msg.get("type")
    if kind == "ping":
        return {"type": "pong"}
    if kind == "get_state":
        return await state(engine)
    if kind == "create_job":
        spec = {k: v for k, v in msg.items() if k not in ("type", "id")}
        job = await api.create(engine, spec)
        return {"type": "result", "request": kind, "job": job.to_dict()}
    if kind == "clear_completed":
        cleared = await engine.clear({Status.COMPLETED})
        return {"type": "result", "request": kind, "cleared": cleared}
    commands = {
        "cancel_job": engine.cancel,
        "pause_job": engine.pause,
        "resume_job": engine.resume,
        "rerun_job": engine.rerun,
    }
    if kind in commands:
        job = await commands[kind](_job_id(msg))
        return {"type": "result", "request": kind, "job": job.to_dict()}
    known = ", ".join(["create_job", *commands, "clear_completed", "get_state", "ping"])
    raise ValueError(f"unknown message type {kind!r}; use one of {known}")


async def queue_socket(request: web.Request) -> web.StreamResponse:
    """GET /ws/queue."""
    if not same_origin(request):
        return web.json_response(
            {"error": "this WebSocket only accepts pages served by this server", "code": 403},
            status=403,
        )
    app = request.app
    engine = app[api.ENGINE]
    sock = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_MESSAGE)
    await sock.prepare(request)
    app[SOCKETS].add(sock)
    sub = subscribe(app)  # before the state, so no change falls in between

    async def send(message: dict[str, Any]) -> None:
        if not sock.closed:
            await sock.send_str(json.dumps(message, ensure_ascii=True))

    seen: dict[int, Status] = {}
    since = engine.clock() - 1.0  # a submit's clock and ours may differ by a little
    dirty = anyio.Event()

    async def pump() -> None:
        async for event in sub:
            await forward(event)

    async def forward(event: Event) -> None:
        if event.kind is EventKind.JOB and event.job is not None:
            for message in _job_messages(event.job, seen, since):
                await send(message)
            dirty.set()
        elif event.kind is EventKind.PROGRESS and event.job is not None:
            job = event.job
            await send(
                {
                    "type": "job_progress",
                    "job_id": job.id,
                    "percent": job.progress,
                    "message": job.message,
                }
            )
        elif event.kind is EventKind.LOG:
            await send({"type": "job_log", "job_id": event.job_id, "lines": list(event.lines)})
        elif event.kind is EventKind.DELETED:
            seen.pop(event.job_id or 0, None)
            await send({"type": "job_deleted", "job_id": event.job_id})
            dirty.set()
        elif event.kind is EventKind.RESYNC:
            await send(await state(engine))
        elif event.kind is EventKind.QUEUE:
            dirty.set()

    async def stats_loop() -> None:
        nonlocal dirty
        while True:
            await dirty.wait()
            dirty = anyio.Event()
            await send({"type": "stats_update", "stats": (await engine.stats()).to_dict()})
            await anyio.sleep(STATS_EVERY)

    async def reader() -> None:
        async for msg in sock:
            if msg.type is not WSMsgType.TEXT:
                continue
            data: Any = None
            try:
                try:
                    data = json.loads(msg.data)
                except (ValueError, RecursionError):
                    raise ValueError("a message must be a JSON object") from None
                if not isinstance(data, dict):
                    raise ValueError('a message must be a JSON object like {"type": "ping"}')
                reply = await answer(engine, data)
            except Exception as exc:
                said = describe(exc)
                if said is None:
                    raise
                reply = {"type": "error", **said}
                if isinstance(data, dict):
                    reply["request"] = data.get("type")
            if isinstance(data, dict) and "id" in data:
                reply["id"] = data["id"]
            await send(reply)

    try:
        initial = await state(engine)
        seen.update({j["id"]: Status(j["status"]) for j in initial["jobs"]})
        await send(initial)
        async with anyio.create_task_group() as tg:
            tg.start_soon(pump)
            tg.start_soon(stats_loop)
            await reader()
            tg.cancel_scope.cancel()
    except (ConnectionResetError, OSError):
        pass
    finally:
        unsubscribe(app, sub)
        app[SOCKETS].discard(sock)
        await sock.close()
    return sock


def add_routes(app: web.Application) -> None:
    """Register the WebSocket route."""
    app[SOCKETS] = weakref.WeakSet()
    app.router.add_get("/ws/queue", queue_socket)


async def close_all(app: web.Application) -> None:
    """Close every open socket (on shutdown)."""
    sockets = app[SOCKETS]
    for sock in list(sockets):
        await sock.close(code=1001, message=b"server shutdown")
