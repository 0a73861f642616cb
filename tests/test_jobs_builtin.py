"""Each built-in job type, run by a real engine (shell jobs in real process groups)."""

from __future__ import annotations

import http.server
import os
import random
import signal
import socket
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest

from tuiqueue.core.job import Job
from tuiqueue.core.registry import REGISTRY, load_job_types
from tuiqueue.core.status import Status
from tuiqueue.engine.engine import Engine
from tuiqueue.store import open_store

pytestmark = pytest.mark.anyio
load_job_types()


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    """A running engine on a SQLite file with the built-in types."""
    async with Engine(
        open_store(tmp_path / "j.db"), registry=REGISTRY, poll_interval=0.02, concurrency=4
    ) as eng:
        yield eng


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/missing":
            self.send_error(404)
            return
        body = b"x" * 1234
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_url() -> Iterator[str]:
    """A local HTTP server in a thread."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _pids_matching(marker: str) -> list[int]:
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


async def _wait_running(engine: Engine, job_id: int) -> Job:
    with anyio.fail_after(5):
        while (job := await engine.get(job_id)).status is not Status.RUNNING:
            await anyio.sleep(0.01)
    return job


async def test_countdown(engine: Engine) -> None:
    job = await engine.submit("countdown", {"seconds": 2})
    seen = set()
    with anyio.fail_after(5):
        while (now := await engine.get(job.id)).status is not Status.COMPLETED:
            seen.add((now.message, now.progress))
            await anyio.sleep(0.02)
    assert ("2 seconds remaining...", 0) in seen
    assert ("1 second remaining...", 50) in seen
    assert now.result == {"message": "Countdown complete!"} and now.progress == 100


async def test_primes(engine: Engine) -> None:
    done = await engine.wait((await engine.submit("primes", {"limit": 100})).id, timeout=5)
    assert done.result["count"] == 25
    assert done.result["primes"][:5] == [2, 3, 5, 7, 11] and done.result["primes"][-1] == 97
    assert done.result["duration"] >= 0
    big = await engine.wait((await engine.submit("primes", {"limit": 100_000})).id, timeout=10)
    assert big.result["count"] == 9592


async def test_fibonacci(engine: Engine) -> None:
    done = await engine.wait((await engine.submit("fibonacci", {"count": 12})).id, timeout=5)
    assert done.result["numbers"] == [1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144]
    big = await engine.wait((await engine.submit("fibonacci", {"count": 1000})).id, timeout=5)
    assert len(big.result["numbers"]) == 1000
    assert isinstance(big.result["numbers"][-1], str)


async def test_echo(engine: Engine) -> None:
    job = await engine.submit("echo", {"message": "hi [/oops]", "delay": 1})
    done = await engine.wait(job.id, timeout=5)
    assert done.result["message"] == "hi [/oops]" and "echoed_at" in done.result
    assert [line for _, line in (await engine.logs(job.id)).lines] == ["hi [/oops]"]


def _refused_url() -> str:
    """A URL on a local port nobody listens on (bound, then closed: refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/refused"


async def test_fetch_urls_some_bad_urls_is_a_partial_outcome(engine: Engine, http_url: str) -> None:
    """Issue 14: a 404 and a refused URL among five said "Fetched 5/5", green."""
    urls = [f"{http_url}/a", f"{http_url}/b", f"{http_url}/c", f"{http_url}/missing"]
    urls.append(_refused_url())
    job = await engine.submit("fetch_urls", {"urls": urls, "timeout": 5})
    done = await engine.wait(job.id, timeout=10)
    assert done.status is Status.COMPLETED
    assert done.message == "3 ok, 1 HTTP 404, 1 error"
    result = done.result
    assert result["outcome"] == "partial"
    assert result["fetched"] == 3 and result["failed"] == 2
    first, *_, missing, refused = result["results"]
    assert first["url"] == urls[0] and first["status"] == 200 and first["size"] == 1234
    assert missing["status"] == 404
    assert "error" in refused and refused["url"] == urls[4]


async def test_fetch_urls_every_url_failing_fails_the_job(engine: Engine, http_url: str) -> None:
    """Issue 14: one refused URL gave a green "completed, Fetched 1/1 URLs"."""
    job = await engine.submit("fetch_urls", {"urls": [_refused_url()], "timeout": 5})
    done = await engine.wait(job.id, timeout=10)
    assert done.status is Status.FAILED
    assert done.error is not None and "every URL failed: 1 error" in done.error
    urls = [f"{http_url}/missing", _refused_url()]
    done = await engine.wait((await engine.submit("fetch_urls", {"urls": urls})).id, timeout=10)
    assert done.status is Status.FAILED
    assert done.error is not None and "every URL failed: 1 HTTP 404, 1 error" in done.error


async def test_fetch_urls_all_good_is_completed(engine: Engine, http_url: str) -> None:
    """Every URL fetched: completed, no partial outcome."""
    urls = [f"{http_url}/a", f"{http_url}/b"]
    done = await engine.wait((await engine.submit("fetch_urls", {"urls": urls})).id, timeout=10)
    assert done.status is Status.COMPLETED and done.message == "2 ok"
    assert done.result["outcome"] == "completed"


async def test_shell_output_goes_to_log(engine: Engine) -> None:
    job = await engine.submit("shell", {"command": "echo out; echo err >&2; printf tail"})
    done = await engine.wait(job.id, timeout=5)
    assert done.status is Status.COMPLETED and done.result["exit_code"] == 0
    lines = sorted(line for _, line in (await engine.logs(job.id)).lines)
    assert lines == ["[stderr] err", "out", "tail"]


async def test_shell_nonzero_exit_fails(engine: Engine) -> None:
    job = await engine.submit("shell", {"command": "echo before; exit 3"})
    done = await engine.wait(job.id, timeout=5)
    assert done.status is Status.FAILED
    assert done.error is not None
    assert "command exited with code 3" in done.error and "before" in done.error


async def test_shell_bad_cwd(engine: Engine, tmp_path: Path) -> None:
    job = await engine.submit("shell", {"command": "true", "cwd": str(tmp_path / "nope")})
    done = await engine.wait(job.id, timeout=5)
    assert done.status is Status.FAILED and "does not exist" in (done.error or "")


async def test_shell_cancel_kills_whole_tree(engine: Engine) -> None:
    marker = f"sleep 300.{random.randrange(10**6)}"
    job = await engine.submit("shell", {"command": f"{marker} & {marker}; wait"})
    await _wait_running(engine, job.id)
    with anyio.fail_after(5):
        while len(_pids_matching(marker)) < 2:
            await anyio.sleep(0.02)
    await engine.cancel(job.id)
    done = await engine.wait(job.id, timeout=2)
    assert done.status is Status.CANCELLED
    assert _pids_matching(marker) == []


async def test_shell_that_ignores_sigterm_is_killed(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tuiqueue.jobs.shell.GRACE", 0.3)
    marker = f"sleep 300.{random.randrange(10**6)}"
    job = await engine.submit("shell", {"command": f"trap '' TERM; {marker}"})
    await _wait_running(engine, job.id)
    with anyio.fail_after(5):
        while not _pids_matching(marker):
            await anyio.sleep(0.02)
    await engine.cancel(job.id)
    assert (await engine.wait(job.id, timeout=3)).status is Status.CANCELLED
    assert _pids_matching(marker) == []


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
async def test_shell_pause_stops_and_resume_continues(engine: Engine) -> None:
    marker = f"sleep 300.{random.randrange(10**6)}"
    job = await engine.submit("shell", {"command": marker})
    await _wait_running(engine, job.id)
    with anyio.fail_after(5):
        while not (pids := _pids_matching(marker)):
            await anyio.sleep(0.02)
    await engine.pause(job.id)
    with anyio.fail_after(2):
        while _state(pids[0]) != "T":
            await anyio.sleep(0.02)
    await engine.resume(job.id)
    with anyio.fail_after(2):
        while _state(pids[0]) == "T":
            await anyio.sleep(0.02)
    await engine.pause(job.id)
    await engine.cancel(job.id)  # a stopped tree is continued so SIGTERM lands
    assert (await engine.wait(job.id, timeout=3)).status is Status.CANCELLED
    assert _pids_matching(marker) == []


@pytest.mark.parametrize("type_name", ["countdown", "echo", "primes", "fibonacci"])
async def test_builtins_honour_cancel_within_a_second(engine: Engine, type_name: str) -> None:
    params = {
        "countdown": {"seconds": 60},
        "echo": {"delay": 30},
        "primes": {"limit": 100_000},
        "fibonacci": {"count": 1000},
    }[type_name]
    job = await engine.submit(type_name, params)
    await engine.cancel(job.id) if type_name in ("primes", "fibonacci") else None
    if type_name in ("countdown", "echo"):
        await _wait_running(engine, job.id)
        started = anyio.current_time()
        await engine.cancel(job.id)
        done = await engine.wait(job.id, timeout=2)
        assert anyio.current_time() - started < 1
    else:
        done = await engine.wait(job.id, timeout=5)
    assert done.status is Status.CANCELLED


def test_signal_helpers_ignore_missing_groups() -> None:
    from tuiqueue.jobs.shell import _group_alive, _signal_group

    _signal_group(2**22 + 12345, signal.SIGTERM)
    assert not _group_alive(2**22 + 12345)
    assert _group_alive(os.getpgrp())
