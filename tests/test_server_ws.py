"""The WebSocket /ws/queue on a real server: state, events to every client, commands."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import aiohttp
import anyio
import pytest

from tests.conftest import cli_env
from tests.server_support import TOKEN, client, serving

pytestmark = pytest.mark.anyio
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await ws.receive(timeout=15)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    data: dict[str, Any] = json.loads(msg.data)
    return data


async def until_message(
    ws: aiohttp.ClientWebSocketResponse, kind: str, **match: Any
) -> dict[str, Any]:
    """The next message of this type (and these fields), skipping others."""
    with anyio.fail_after(20):
        while True:
            data = await receive(ws)
            if data["type"] == kind and all(data.get(k) == v for k, v in match.items()):
                return data


async def test_state_events_and_commands(db: str) -> None:
    async with serving(db) as base, aiohttp.ClientSession() as http:
        async with client(base) as c:
            old = (await c.post("/api/jobs", json={"type": "echo", "params": {"delay": 1}})).json()
        url = base + "/ws/queue"
        async with http.ws_connect(url, headers=AUTH) as a, http.ws_connect(url, headers=AUTH) as b:
            for ws in (a, b):
                first = await receive(ws)
                assert first["type"] == "queue_state" and "counts" in first["stats"]
                assert old["id"] in [j["id"] for j in first["jobs"]]
            await a.send_json({"type": "ping", "id": 7})
            assert await until_message(a, "pong") == {"type": "pong", "id": 7}
            await a.send_json(
                {"type": "create_job", "job_type": "countdown", "params": {"seconds": 1}, "id": 1}
            )
            made = await until_message(a, "result", id=1)
            jid = made["job"]["id"]
            for ws in (a, b):  # both clients see the same events, in order
                got = [
                    (await until_message(ws, kind, job_id=jid))["type"]
                    for kind in ("job_started", "job_progress", "job_completed")
                ]
                assert got == ["job_started", "job_progress", "job_completed"]
                assert (await until_message(ws, "stats_update"))["stats"]["total"] >= 2
            await b.send_json({"type": "rerun_job", "job_id": jid, "id": 2})
            rerun = await until_message(b, "result", id=2)
            assert rerun["job"]["rerun_of"] == jid
            created = await until_message(a, "job_created")
            assert created["job"]["id"] == rerun["job"]["id"]
            await b.send_json({"type": "cancel_job", "job_id": str(rerun["job"]["id"]), "id": 3})
            assert (await until_message(b, "result", id=3))["job"]["status"] in (
                "cancelled",
                "running",
            )
            await a.send_json({"type": "get_state", "id": 4})
            assert (await until_message(a, "queue_state", id=4))["jobs"]
            await a.send_json({"type": "clear_completed", "id": 5})
            assert (await until_message(a, "result", id=5))["cleared"] >= 1


async def test_bad_messages_get_errors(db: str) -> None:
    async with serving(db, worker=False) as base, aiohttp.ClientSession() as http:
        async with http.ws_connect(base + "/ws/queue", headers=AUTH) as ws:
            await receive(ws)
            cases: list[tuple[Any, int]] = [
                ({"type": "create_job", "job_type": "nope"}, 422),
                ({"type": "create_job", "job_type": "countdown", "params": {"seconds": "x"}}, 422),
                ({"type": "cancel_job", "job_id": 999}, 404),
                ({"type": "cancel_job", "job_id": "abc"}, 422),
                ({"type": "explode"}, 422),
                ([1, 2], 422),
            ]
            for i, (message, code) in enumerate(cases):
                if isinstance(message, dict):
                    message["id"] = i
                await ws.send_json(message)
                reply = await until_message(ws, "error")
                assert reply["code"] == code and reply["error"], (message, reply)
            await ws.send_str("{not json")
            assert (await until_message(ws, "error"))["code"] == 422
            await ws.send_json({"type": "create_job", "job_type": "echo", "id": "e"})
            job = (await until_message(ws, "result", id="e"))["job"]
            await ws.send_json({"type": "cancel_job", "job_id": job["id"]})
            await until_message(ws, "result")
            await ws.send_json({"type": "resume_job", "job_id": job["id"]})
            assert (await until_message(ws, "error"))["code"] == 400
            await ws.send_json({"type": "ping"})
            assert (await until_message(ws, "pong"))["type"] == "pong"  # still open


async def test_token_origin_and_read_only(db: str) -> None:
    async with serving(db, read_only=True) as base, aiohttp.ClientSession() as http:
        url = base + "/ws/queue"
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
                await http.ws_connect(url, headers=headers)
            assert exc.value.status == 401
        with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
            await http.ws_connect(url, headers=AUTH, origin="http://evil.example")
        assert exc.value.status == 403
        async with http.ws_connect(url, headers=AUTH, origin=base) as ws:
            await receive(ws)
            await ws.send_json({"type": "create_job", "job_type": "echo"})
            assert (await until_message(ws, "error"))["code"] == 403
        async with http.ws_connect(f"{url}?token={TOKEN}") as ws:
            assert (await receive(ws))["type"] == "queue_state"


async def test_a_job_submitted_by_the_cli_appears_on_the_socket(db: str) -> None:
    async with serving(db) as base, aiohttp.ClientSession() as http:
        async with http.ws_connect(base + "/ws/queue", headers=AUTH) as ws:
            await receive(ws)
            out = await anyio.run_process(
                [sys.executable, "-m", "tuiqueue", "--db", db, "submit", "echo", "-p", "delay=1"],
                env=cli_env(),
                stderr=subprocess.PIPE,
            )
            jid = int(out.stdout.decode())
            created = await until_message(ws, "job_created")
            assert created["job"]["id"] == jid
            await until_message(ws, "job_completed", job_id=jid)


async def test_shutdown_closes_open_sockets(db: str) -> None:
    with anyio.fail_after(15):  # aiohttp would wait 60 s for an open socket's handler
        async with aiohttp.ClientSession() as http:
            async with serving(db) as base:
                ws = await http.ws_connect(base + "/ws/queue", headers=AUTH)
                await receive(ws)
            msg = await ws.receive(timeout=10)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            await ws.close()
