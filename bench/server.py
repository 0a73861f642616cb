"""`tuiqueue serve` measured from outside: a real server process, real HTTP clients."""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
from cli import _env

from tuiqueue import Engine, open_store
from tuiqueue.core.registry import load_job_types

HERE = Path(__file__).resolve().parent


@contextmanager
def serving(db: str, *options: str) -> Iterator[str]:
    """`tuiqueue serve --port 0 --no-auth [options]` on db; yields its base URL."""
    tq = [sys.executable, "-m", "tuiqueue", "--db", db, "--jobs", str(HERE / "serve_jobs.py")]
    proc = subprocess.Popen(
        [*tq, "serve", "--port", "0", "--no-auth", *options],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            found = re.search(r"on (http://[^/]+)/", line)
            if found:
                yield found.group(1)
                return
        raise RuntimeError("tuiqueue serve did not start")
    finally:
        proc.terminate()
        proc.wait(30)


def _p50(times: list[float]) -> float:
    return 1000 * statistics.median(times)


def rest_submit(samples: int = 300, n: int = 2_000, clients: int = 8) -> dict[str, Any]:
    """POST /api/jobs: p50 of one submit and jobs/s of n submits from `clients` concurrent
    requests, against engine.submit through the Python API (p50, and n from `clients`
    concurrent tasks), each on its own fresh SQLite file."""
    spec = {"type": "echo", "params": {"message": "hi"}}

    async def api(db: str) -> dict[str, float]:
        load_job_types()  # the built-ins, as `tuiqueue serve` loads them
        engine = Engine(open_store(db), worker=False)
        await engine.store.open()
        try:
            times = []
            for _ in range(samples):
                t0 = time.perf_counter()
                await engine.submit("echo", {"message": "hi"})
                times.append(time.perf_counter() - t0)

            async def part(k: int) -> None:
                for _ in range(k):
                    await engine.submit("echo", {"message": "hi"})

            t0 = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for _ in range(clients):
                    tg.start_soon(part, n // clients)
            return {"p50_ms": _p50(times), "jobs_per_s": n / (time.perf_counter() - t0)}
        finally:
            await engine.store.close()

    async def http(base: str) -> dict[str, float]:
        async with httpx.AsyncClient(base_url=base, timeout=30) as c:
            times = []
            for _ in range(samples):
                t0 = time.perf_counter()
                r = await c.post("/api/jobs", json=spec)
                times.append(time.perf_counter() - t0)
                assert r.status_code == 201, r.text

            async def part(k: int) -> None:
                for _ in range(k):
                    r = await c.post("/api/jobs", json=spec)
                    assert r.status_code == 201, r.text

            t0 = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for _ in range(clients):
                    tg.start_soon(part, n // clients)
            return {"p50_ms": _p50(times), "jobs_per_s": n / (time.perf_counter() - t0)}

    folder = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    ours = anyio.run(api, str(folder / "api.db"))
    with serving(str(folder / "http.db"), "--no-worker") as base:
        theirs = anyio.run(http, base)
    return {
        "api_p50_ms": ours["p50_ms"],
        "api_jobs_per_s": ours["jobs_per_s"],
        "http_p50_ms": theirs["p50_ms"],
        "http_jobs_per_s": theirs["jobs_per_s"],
    }


def sse_fanout(subscribers: int = 200, beats: int = 10) -> dict[str, Any]:
    """`subscribers` SSE streams of one running job's progress (GET /api/jobs/ID/progress),
    served by the server's own worker: for each progress event, the time from the job
    reporting it to the last subscriber receiving it; p50 and p95 over the events."""
    received: dict[str, list[float]] = {}

    async def follow(c: httpx.AsyncClient, path: str, connected: list[int]) -> None:
        async with c.stream("GET", path) as r:
            connected.append(1)
            name = ""
            async for line in r.aiter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: ") and name == "progress":
                    sent = json.loads(line[6:])["message"]
                    received.setdefault(sent, []).append(time.time())
                elif line.startswith("data: ") and name in ("complete", "failed", "cancelled"):
                    return

    async def main(base: str) -> dict[str, Any]:
        limits = httpx.Limits(max_connections=subscribers + 10)
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as c:
            r = await c.post(
                "/api/jobs", json={"type": "beacon", "params": {"beats": beats, "every": 0.5}}
            )
            assert r.status_code == 201, r.text
            path = f"/api/jobs/{r.json()['id']}/progress"
            connected: list[int] = []
            async with anyio.create_task_group() as tg:
                for _ in range(subscribers):
                    tg.start_soon(follow, c, path, connected)
        full = [
            max(times) - float(sent)
            for sent, times in received.items()
            if len(times) == subscribers
        ]
        if not full:
            raise RuntimeError("no progress event reached every subscriber")
        full.sort()
        return {
            "events": len(full),
            "last_p50_ms": 1000 * statistics.median(full),
            "last_p95_ms": 1000 * full[int(0.95 * (len(full) - 1))],
        }

    folder = Path(tempfile.mkdtemp(prefix="bench-sse-"))
    with serving(str(folder / "sse.db"), "-c", "2") as base:
        return anyio.run(main, base)


def ws_broadcast(clients: int = 50, beats: int = 10) -> dict[str, Any]:
    """`clients` WebSockets on /ws/queue while the server's own worker runs one job that
    reports progress: for each progress event, the time from the job reporting it to the
    last client receiving its job_progress message; p50 and p95 over the events."""
    import aiohttp

    received: dict[str, list[float]] = {}

    async def listen(
        session: aiohttp.ClientSession, url: str, ready: anyio.Event, opened: list[int]
    ) -> None:
        async with session.ws_connect(url) as sock:
            opened.append(1)
            if len(opened) == clients:
                ready.set()
            async for msg in sock:
                data = json.loads(msg.data)
                if data["type"] == "job_progress":
                    received.setdefault(data["message"], []).append(time.time())
                elif data["type"] in ("job_completed", "job_failed"):
                    return

    async def main(base: str) -> dict[str, Any]:
        connector = aiohttp.TCPConnector(limit=clients + 10)
        async with aiohttp.ClientSession(connector=connector) as session:
            ready, opened = anyio.Event(), []
            async with anyio.create_task_group() as tg:
                for _ in range(clients):
                    tg.start_soon(listen, session, base + "/ws/queue", ready, opened)
                await ready.wait()
                spec = {"type": "beacon", "params": {"beats": beats, "every": 0.5}}
                async with session.post(base + "/api/jobs", json=spec) as r:
                    assert r.status == 201, await r.text()
        full = sorted(
            max(times) - float(sent) for sent, times in received.items() if len(times) == clients
        )
        if not full:
            raise RuntimeError("no progress event reached every client")
        return {
            "events": len(full),
            "last_p50_ms": 1000 * statistics.median(full),
            "last_p95_ms": 1000 * full[int(0.95 * (len(full) - 1))],
        }

    folder = Path(tempfile.mkdtemp(prefix="bench-ws-"))
    with serving(str(folder / "ws.db"), "-c", "2") as base:
        return anyio.run(main, base)
