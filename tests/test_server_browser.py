"""The dashboard in a browser: `tuiqueue serve` as a real process, real headless Chromium."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.browser_support import CHROMIUM, chromium, png_colours
from tests.conftest import cli_env, read_until, tq

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium)"
)


@contextmanager
def served(db: str, *args: str) -> Iterator[tuple[str, str, subprocess.Popen[bytes]]]:
    """`tuiqueue serve --port 0 ARGS` on db; (base URL, token, the process)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuiqueue", "--db", db, "serve", "--port", "0", *args],
        stderr=subprocess.PIPE,
        env=cli_env(),
    )
    try:
        seen = read_until(proc.stderr, "/api/stats", timeout=30)  # type: ignore[arg-type]
        found = re.search(r"dashboard in a browser: (http://127\.0\.0\.1:\d+)/\?token=(\S+)", seen)
        assert found, seen
        yield found.group(1), found.group(2), proc
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def dashboards_of(pid: int) -> list[int]:
    """The pids of the browser dashboards a server process started (its descendants)."""
    out = subprocess.run(["ps", "-eo", "pid,ppid,args"], capture_output=True, text=True).stdout
    children: dict[int, list[tuple[int, str]]] = {}
    for line in out.splitlines()[1:]:
        child, parent, args = line.split(None, 2)
        children.setdefault(int(parent), []).append((int(child), args))
    found, todo = [], [pid]
    while todo:
        for child, args in children.get(todo.pop(), []):
            todo.append(child)
            if args.startswith(sys.executable) and re.search(
                r"-m tuiqueue --(no-worker|read-only)", args
            ):
                found.append(child)
    return found


def test_every_route_needs_the_token_and_the_link_sets_a_strict_cookie(db: str) -> None:
    with served(db) as (base, token, _):
        routes = ["/", "/app/ws", "/app/static/js/textual.js", "/app/download/x", "/ws/queue"]
        routes += ["/api/jobs", "/api/jobs/1", "/api/jobs/1/progress", "/api/events"]
        routes += ["/api/job-types", "/api/stats", "/api/workers", "/api/openapi.json"]
        for path in routes:
            assert httpx.get(base + path).status_code == 401, path
            wrong = httpx.get(base + path, cookies={"tuiqueue_token": "nope"})
            assert wrong.status_code == 401, path
        page = httpx.get(base + "/", headers={"Accept": "text/html"})
        assert page.status_code == 401 and "text/html" in page.headers["content-type"]
        assert "?token=" in page.text and token not in page.text

        login = httpx.get(f"{base}/?token={token}")
        assert login.status_code == 303 and login.headers["location"] == "/"
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        jar = {"tuiqueue_token": token}
        home = httpx.get(base + "/", cookies=jar)
        assert home.status_code == 200 and "/app/ws" in home.text
        assert token not in home.text  # the page never carries the secret
        assert httpx.get(base + "/app/static/js/textual.js", cookies=jar).status_code == 200
        assert httpx.get(base + "/api/stats", cookies=jar).status_code == 200
        # Another page on this host (another port) may send the cookie, but cannot use it.
        evil = {"Origin": "http://127.0.0.1:1"}
        post = httpx.post(base + "/api/jobs", json={"type": "echo"}, cookies=jar, headers=evil)
        assert post.status_code == 401
        assert tq("--db", db, "list", "--json").stdout.strip() in ("[]", "")


def test_a_memory_store_says_why_there_is_no_browser_dashboard() -> None:
    with served(":memory:") as (base, token, _):
        page = httpx.get(f"{base}/", cookies={"tuiqueue_token": token})
        assert page.status_code == 503 and "not :memory:" in page.text


@needs_chromium
def test_two_tabs_show_the_live_dashboard_and_agree(db: str, tmp_path: Path) -> None:
    with served(db, "--no-worker") as (base, token, proc):

        async def body() -> None:
            async with chromium() as browser:
                one = await browser.new_tab(f"{base}/?token={token}")
                two = await browser.new_tab(f"{base}/?token={token}")
                for tab in (one, two):
                    await tab.wait_for(r"watching, no worker")
                    await tab.wait_for(r"countdown")
                    assert await tab.eval("location.search") == ""  # the token left the URL
                # A job submitted from the command line shows in both tabs.
                out = tq("--db", db, "submit", "echo", "-p", "message=from the cli")
                assert out.returncode == 0, out.stderr
                job = out.stdout.strip()
                for tab in (one, two):
                    await tab.wait_for(rf"{job}\s+echo\s+default")
                # Ctrl+S in one tab submits its form (a countdown); the other tab sees the job.
                await one.eval("document.querySelector('.xterm-helper-textarea').focus()")
                for kind in ("rawKeyDown", "keyUp"):
                    await one.call(
                        "Input.dispatchKeyEvent",
                        type=kind,
                        modifiers=2,
                        key="s",
                        code="KeyS",
                        windowsVirtualKeyCode=83,
                    )
                await two.wait_for(rf"{int(job) + 1}\s+countdown\s+default")
                await two.wait_for(r"2 pending")
                shot = await two.screenshot()
                (tmp_path / "browser.png").write_bytes(shot)
                if os.environ.get("SAVE_SCREENSHOTS"):  # regenerates the README's picture
                    (Path(__file__).parent.parent / "screenshots" / "browser.png").write_bytes(shot)
                assert png_colours(shot) > 12  # a drawn dashboard, not the blank intro
                assert len(dashboards_of(proc.pid)) == 2
                await browser.close_tab(one)
                await browser.close_tab(two)
                deadline = time.monotonic() + 20
                while dashboards_of(proc.pid):
                    assert time.monotonic() < deadline, "a closed tab left its dashboard running"
                    await asyncio.sleep(0.2)

        asyncio.run(body())
    listed = tq("--db", db, "list").stdout
    assert "pending" in listed  # the browser dashboards ran nothing


@needs_chromium
def test_a_read_only_server_serves_a_read_only_dashboard(db: str) -> None:
    assert tq("--db", db, "submit", "echo").returncode == 0
    left: list[int] = []
    with served(db, "--read-only") as (base, token, proc):

        async def body() -> None:
            async with chromium() as browser:
                tab = await browser.new_tab(f"{base}/?token={token}")
                await tab.wait_for(r"READ-ONLY")
                await tab.wait_for(r"1\s+echo\s+default")
                left.extend(dashboards_of(proc.pid))
                # The server stops (SIGTERM, on leaving the block) with the tab still open.
                os.kill(proc.pid, signal.SIGTERM)
                await asyncio.to_thread(proc.wait, 30)

        asyncio.run(body())
    assert len(left) == 1
    for pid in left:  # its dashboard ended with the server
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )
