"""Server-sent events: one job's progress until it ends, or every event of the engine."""

from __future__ import annotations

import json
from typing import Any

import anyio
from aiohttp import web

from tuiqueue.core.events import Event, EventKind, Subscription
from tuiqueue.core.job import Job
from tuiqueue.core.status import TERMINAL, Status
from tuiqueue.server.api import ENGINE, job_id

PROGRESS_EVERY = 0.1
"""Seconds between two progress events to one client (newer ones coalesce meanwhile)."""

STREAMS = web.AppKey("streams", set[Subscription])
FINAL = {Status.COMPLETED: "complete", Status.FAILED: "failed", Status.CANCELLED: "cancelled"}


def job_state(job: Job) -> dict[str, Any]:
    """A job snapshot for a stream: its --json shape and its duration."""
    return {**job.to_dict(), "duration": job.duration}


def event_dict(event: Event) -> dict[str, Any]:
    """An engine event as JSON (the shape of GET /api/events)."""
    out: dict[str, Any] = {"kind": str(event.kind), "job_id": event.job_id}
    if event.job is not None:
        out["job"] = event.job.to_dict()
    if event.lines:
        out["lines"] = list(event.lines)
    if event.queue_paused is not None:
        out["queue_paused"] = event.queue_paused
    if event.concurrency is not None:
        out["concurrency"] = event.concurrency
    return out


def subscribe(app: web.Application) -> Subscription:
    """An engine subscription that shutdown ends."""
    sub = app[ENGINE].events()
    app[STREAMS].add(sub)
    return sub


def unsubscribe(app: web.Application, sub: Subscription) -> None:
    """Stop a subscription made with subscribe()."""
    app[STREAMS].discard(sub)
    app[ENGINE].bus.unsubscribe(sub)


async def _open(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await resp.prepare(request)
    return resp


async def _send(resp: web.StreamResponse, name: str, data: Any) -> None:
    await resp.write(f"event: {name}\ndata: {json.dumps(data, ensure_ascii=True)}\n\n".encode())


async def job_progress(request: web.Request) -> web.StreamResponse:
    """GET /api/jobs/{id}/progress: the state now, then its events, then the final one."""
    app, jid = request.app, job_id(request)
    engine = app[ENGINE]
    sub = subscribe(app)  # before reading the state, so no change falls in between
    try:
        job = await engine.get(jid)
        resp = await _open(request)
        await _send(resp, "status", job_state(job))
        if job.status in TERMINAL:
            await _send(resp, FINAL[job.status], job_state(job))
            return resp
        try:
            async for event in sub:
                if event.job_id != jid and event.kind is not EventKind.RESYNC:
                    continue
                if event.kind is EventKind.RESYNC:
                    event = Event(EventKind.JOB, jid, await engine.get(jid))
                if event.kind is EventKind.DELETED:
                    await _send(resp, "deleted", {"id": jid})
                    break
                if event.kind is EventKind.LOG:
                    await _send(resp, "log", {"lines": list(event.lines)})
                elif event.job is not None and event.kind is EventKind.PROGRESS:
                    await _send(
                        resp,
                        "progress",
                        {"percent": event.job.progress, "message": event.job.message},
                    )
                    await anyio.sleep(PROGRESS_EVERY)  # newer progress coalesces meanwhile
                elif event.job is not None and event.kind is EventKind.JOB:
                    job = event.job
                    await _send(resp, "status", job_state(job))
                    if job.status in TERMINAL:
                        await _send(resp, FINAL[job.status], job_state(job))
                        break
        except (ConnectionResetError, OSError):
            pass  # the client went away: only its own stream ends
        return resp
    finally:
        unsubscribe(app, sub)


async def all_events(request: web.Request) -> web.StreamResponse:
    """GET /api/events: every engine event, progress coalesced per job."""
    app = request.app
    sub = subscribe(app)
    try:
        resp = await _open(request)
        await resp.write(b": connected\n\n")
        try:
            async for event in sub:
                await _send(resp, str(event.kind), event_dict(event))
        except (ConnectionResetError, OSError):
            pass
        return resp
    finally:
        unsubscribe(app, sub)


def add_routes(app: web.Application) -> None:
    """Register the streaming routes."""
    app[STREAMS] = set()
    app.router.add_get("/api/jobs/{id}/progress", job_progress)
    app.router.add_get("/api/events", all_events)


async def close_all(app: web.Application) -> None:
    """End every open stream (on shutdown, before aiohttp waits for the handlers)."""
    streams = app[STREAMS]
    for sub in list(streams):
        unsubscribe(app, sub)
