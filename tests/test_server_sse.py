"""SSE on a real server: one job's stream to its final event, many clients, every event."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest

from tests.server_support import client, read_sse, serving

pytestmark = pytest.mark.anyio


async def test_a_countdown_streams_to_complete(db: str) -> None:
    async with serving(db) as base, client(base) as c:
        job = (
            await c.post("/api/jobs", json={"type": "countdown", "params": {"seconds": 1}})
        ).json()
        with anyio.fail_after(30):
            events = await read_sse(c, f"/api/jobs/{job['id']}/progress")
        names = [n for n, _ in events]
        assert names[0] == "status" and names[-1] == "complete", names
        assert "progress" in names
        final = events[-1][1]
        assert final["status"] == "completed" and final["duration"] > 0
        percents = [d["percent"] for n, d in events if n == "progress"]
        assert percents == sorted(percents)
        # A finished job: its state and final event at once, then the end.
        again = await read_sse(c, f"/api/jobs/{job['id']}/progress")
        assert [n for n, _ in again] == ["status", "complete"]


async def test_unknown_job_and_token_on_streams(db: str) -> None:
    async with serving(db) as base:
        async with client(base) as c:
            r = await c.get("/api/jobs/999/progress")
            assert r.status_code == 404 and r.json()["code"] == 404
        async with client(base, None) as c:
            assert (await c.get("/api/events")).status_code == 401
            assert (await c.get("/api/jobs/1/progress")).status_code == 401


async def test_a_cancelled_job_ends_its_stream_with_cancelled(db: str) -> None:
    async with serving(db) as base, client(base) as c:
        job = (
            await c.post("/api/jobs", json={"type": "countdown", "params": {"seconds": 30}})
        ).json()
        got: list[str] = []

        async def watch() -> None:
            got.extend(n for n, _ in await read_sse(c, f"/api/jobs/{job['id']}/progress"))

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(watch)
                while (
                    not got
                    and (await c.get(f"/api/jobs/{job['id']}")).json()["status"] != "running"
                ):
                    await anyio.sleep(0.05)
                await c.post(f"/api/jobs/{job['id']}/cancel")
        assert got[-1] == "cancelled"


async def test_200_subscribers_all_get_the_final_event(db: str) -> None:
    limits = httpx.Limits(max_connections=300, max_keepalive_connections=300)
    async with serving(db) as base:
        async with client(base) as c:
            job = (
                await c.post("/api/jobs", json={"type": "countdown", "params": {"seconds": 2}})
            ).json()
        finals: list[str] = []
        async with httpx.AsyncClient(
            base_url=base,
            headers={"Authorization": "Bearer test-token"},
            timeout=60,
            limits=limits,
        ) as many:

            async def one() -> None:
                events = await read_sse(many, f"/api/jobs/{job['id']}/progress")
                finals.append(events[-1][0])

            with anyio.fail_after(60):
                async with anyio.create_task_group() as tg:
                    for _ in range(200):
                        tg.start_soon(one)
        assert finals == ["complete"] * 200


async def test_the_event_stream_carries_every_event(db: str) -> None:
    async with serving(db) as base, client(base) as c:
        seen: list[tuple[str, dict[str, Any]]] = []
        connected = anyio.Event()

        async def watch() -> None:
            async with c.stream("GET", "/api/events") as r:
                name = ""
                async for line in r.aiter_lines():
                    if line.startswith(": connected"):
                        connected.set()
                    elif line.startswith("event: "):
                        name = line[7:]
                    elif line.startswith("data: "):
                        seen.append((name, json.loads(line[6:])))
                        job = seen[-1][1].get("job") or {}
                        if job.get("status") == "completed":
                            return

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(watch)
                await connected.wait()
                r = await c.post("/api/jobs", json={"type": "echo", "params": {"delay": 1}})
                assert r.status_code == 201, r.text
        statuses = [d["job"]["status"] for n, d in seen if n == "job"]
        assert statuses[0] == "pending" and statuses[-1] == "completed"
        assert "running" in statuses


async def test_shutdown_ends_open_streams(db: str) -> None:
    ended = anyio.Event()
    connected = anyio.Event()

    async def watch(base: str) -> None:
        async with client(base) as c:
            try:
                async with c.stream("GET", "/api/events") as r:
                    async for line in r.aiter_lines():
                        if line.startswith(": connected"):
                            connected.set()
            except httpx.HTTPError:
                pass
        ended.set()

    # aiohttp waits up to 60 s for open handlers: the streams must end on shutdown.
    with anyio.fail_after(15):
        async with anyio.create_task_group() as tg:
            async with serving(db) as base:
                tg.start_soon(watch, base)
                await connected.wait()
            await ended.wait()


async def test_a_job_stream_carries_its_log_lines(db: str) -> None:
    async with serving(db) as base, client(base) as c:
        params = {"message": "hello \x1b[31m", "delay": 1}
        job = (await c.post("/api/jobs", json={"type": "echo", "params": params})).json()
        with anyio.fail_after(30):
            events = await read_sse(c, f"/api/jobs/{job['id']}/progress")
        logs = [line for n, d in events if n == "log" for line in d["lines"]]
        assert "hello \x1b[31m" in logs  # JSON-escaped on the wire, exact once parsed
        assert events[-1][0] == "complete"
        body = (await c.get(f"/api/jobs/{job['id']}/logs")).text
        assert "\x1b" not in body and "\\u001b" in body
