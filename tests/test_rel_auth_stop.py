"""A refused password stops a worker at once with one line; a signal stops a worker within
its grace whatever the store is doing (Redis stopped, SQLite locked by another process)."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from tests.conftest import read_until, tq, until
from tests.test_rel_recovery import JOBS, start_worker, statuses, wait_for
from tuiqueue.cli.worker import LAST_RESORT
from tuiqueue.core.status import Status
from tuiqueue.engine.engine import STOP_WRITES
from tuiqueue.store.base import StoreAuthError
from tuiqueue.store.redis import RedisStore
from tuiqueue.ui.app import make_app

PORT = 6395
OLD, NEW = "old-s3cret", "new-s3cret"
GRACE = 1.5
BOUND = GRACE + STOP_WRITES + LAST_RESORT + 3.0
"""The most a stop may take: the grace, the store's share, the last resort, and a margin."""


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A redis-server of our own on PORT with the OLD password; stopped (and continued) after."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed")
    proc = subprocess.Popen(
        [
            *(exe, "--port", str(PORT), "--bind", "127.0.0.1", "--requirepass", OLD),
            *("--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", str(tmp_path)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", PORT), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None, f"redis-server on port {PORT} did not start"
                assert time.monotonic() < deadline, f"redis-server on port {PORT} did not start"
                time.sleep(0.05)
        yield proc
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.terminate()
        proc.wait(timeout=10)


def cli(password: str, *args: str) -> None:
    """One redis-cli command on the private server."""
    subprocess.run(
        ["redis-cli", "-p", str(PORT), "--no-auth-warning", "-a", password, *args],
        check=True,
        capture_output=True,
        timeout=10,
    )


def url(password: str = OLD) -> str:
    return f"redis://:{password}@127.0.0.1:{PORT}/0"


def submit_sleepers(db: str, count: int) -> list[int]:
    ids = []
    for _ in range(count):
        out = tq("--db", db, "--jobs", JOBS, "submit", "rel_sleep", "-p", "seconds=60")
        assert out.returncode == 0, out.stderr
        ids.append(int(out.stdout.strip()))
    return ids


def running_on_redis(count: int) -> bool:
    async def look() -> int:
        store = RedisStore(url())
        await store.open()
        try:
            return (await store.counts())[Status.RUNNING]
        finally:
            await store.close()

    return anyio.run(look) == count


@pytest.mark.anyio
async def test_a_call_in_flight_when_the_password_changes_fails_at_once(
    redis_server: subprocess.Popen[bytes],
) -> None:
    """The connection drops mid-call and the reconnect is refused: no 40 retries."""
    store = RedisStore(url())
    await store.open()
    try:
        await store.get(1)
        cli(OLD, "client", "pause", "30000", "write")  # the next script waits in flight
        failed: list[BaseException] = []

        async def beat() -> None:
            try:
                await store.heartbeat("w", 0, 0, time.time())
            except StoreAuthError as exc:
                failed.append(exc)

        with anyio.fail_after(15):  # 40 retries take ~38 s
            async with anyio.create_task_group() as tg:
                tg.start_soon(beat)
                await anyio.sleep(0.5)
                cli(OLD, "config", "set", "requirepass", NEW)
                cli(NEW, "client", "kill", "type", "normal")
                cli(NEW, "client", "unpause")
        assert failed, "the call must fail with the refused password"
        text = str(failed[0])
        assert "authentication failed" in text and "redis://:***@" in text
        assert OLD not in text and NEW not in text
    finally:
        with anyio.move_on_after(5):
            await store.close()


def test_worker_stops_with_one_line_when_its_password_is_changed(
    redis_server: subprocess.Popen[bytes],
) -> None:
    db = url()
    submit_sleepers(db, 3)
    proc = start_worker(db, "-c", "3", "--grace", str(GRACE))
    try:
        wait_for(lambda: running_on_redis(3))
        cli(OLD, "config", "set", "requirepass", NEW)
        cli(NEW, "client", "pause", "30000", "write")  # heartbeats and ticks wait in flight
        time.sleep(1.0)
        cli(NEW, "client", "kill", "type", "normal")
        changed = time.monotonic()
        cli(NEW, "client", "unpause")
        _, err = proc.communicate(timeout=60)
        took = time.monotonic() - changed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode not in (0, None), err
    assert took < 10, f"the worker took {took:.1f}s to give up on a refused password"
    errors = [line for line in err.splitlines() if "authentication failed" in line]
    assert len(errors) == 1, err
    assert "redis://:***@127.0.0.1" in errors[0] and "password" in errors[0]
    assert "Traceback" not in err and OLD not in err and NEW not in err
    print(f"refused password: worker exited {took:.2f}s after the change: {errors[0]}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_a_worker_whose_redis_is_stopped(
    redis_server: subprocess.Popen[bytes], signum: int
) -> None:
    db = url()
    submit_sleepers(db, 3)
    proc = start_worker(db, "-c", "3", "--grace", str(GRACE))
    try:
        wait_for(lambda: running_on_redis(3))
        redis_server.send_signal(signal.SIGSTOP)
        time.sleep(0.5)  # calls now wait on a server that never answers
        proc.send_signal(signum)
        start = time.monotonic()
        _, err = proc.communicate(timeout=120)
        took = time.monotonic() - start
    finally:
        redis_server.send_signal(signal.SIGCONT)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert took < BOUND, f"stopped {took:.1f}s after the signal (grace {GRACE}s): {err}"
    assert proc.returncode == 1, err
    assert "did not answer" in err and OLD not in err and "Traceback" not in err
    print(f"Redis stopped: worker exited {took:.2f}s after {signal.Signals(signum).name}")


LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_a_worker_whose_database_is_locked(tmp_path: Path, signum: int) -> None:
    db = str(tmp_path / "jobs.db")
    ids = submit_sleepers(db, 3)
    proc = start_worker(db, "-c", "3", "--grace", str(GRACE))
    locker: subprocess.Popen[str] | None = None
    try:
        wait_for(lambda: all(statuses(db)[i][0] == "running" for i in ids))
        locker = subprocess.Popen(
            [sys.executable, "-c", LOCKER, db],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert locker.stdout is not None
        read_until(locker.stdout, "locked", timeout=30)
        proc.send_signal(signum)
        start = time.monotonic()
        _, err = proc.communicate(timeout=120)
        took = time.monotonic() - start
    finally:
        if locker is not None:
            locker.kill()
            locker.wait()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert took < BOUND, f"stopped {took:.1f}s after the signal (grace {GRACE}s): {err}"
    assert proc.returncode == 1, err
    assert "did not answer" in err and "Traceback" not in err
    print(f"SQLite locked: worker exited {took:.2f}s after {signal.Signals(signum).name}")


@pytest.mark.anyio
async def test_dashboard_ends_with_the_same_one_line(
    redis_server: subprocess.Popen[bytes],
) -> None:
    app = make_app(RedisStore(url()), toasts=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(lambda: app.engine.running, timeout=15)
        cli(OLD, "config", "set", "requirepass", NEW)
        cli(NEW, "client", "pause", "30000", "write")
        await pilot.pause(1.0)
        cli(NEW, "client", "kill", "type", "normal")
        cli(NEW, "client", "unpause")
        await until(lambda: app.fatal_error is not None, timeout=15)
    assert app.return_code == 1
    line = app.fatal_error or ""
    assert "authentication failed" in line and "redis://:***@127.0.0.1" in line
    assert OLD not in line and NEW not in line and "\n" not in line
