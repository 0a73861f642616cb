"""Helpers for the server tests: a real app on an ephemeral port, in this process."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from aiohttp import web

from tuiqueue.engine.engine import Engine
from tuiqueue.server import make_app
from tuiqueue.store import open_store

TOKEN = "test-token"


@asynccontextmanager
async def serving(db: str, token: str | None = TOKEN, **kw: Any) -> AsyncIterator[str]:
    """Serve a fresh engine on db at 127.0.0.1:<free port>; yields the base URL."""
    engine = Engine(open_store(db), poll_interval=0.05, **kw)
    runner = web.AppRunner(make_app(engine, token=token), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def client(base: str, token: str | None = TOKEN) -> httpx.AsyncClient:
    """An httpx client for base with the bearer token."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=base, headers=headers, timeout=10)


async def read_sse(c: httpx.AsyncClient, path: str) -> list[tuple[str, dict[str, Any]]]:
    """Every (event, data) of an SSE stream, until the server closes it."""
    out: list[tuple[str, dict[str, Any]]] = []
    name = "message"
    async with c.stream("GET", path) as r:
        assert r.status_code == 200, await r.aread()
        assert r.headers["content-type"].startswith("text/event-stream")
        async for line in r.aiter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                out.append((name, json.loads(line[6:])))
    return out
