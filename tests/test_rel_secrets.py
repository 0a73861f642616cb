"""No password reaches stdout or stderr; new SQLite files are private to their owner."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import cli_env

SECRET = "s3cretpw"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[int]:
    """A redis-server of our own on a free loopback port, with a password; stopped after."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed")
    port = _free_port()
    proc = subprocess.Popen(
        [
            exe,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--requirepass",
            SECRET,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run(*args: str, db: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess on db."""
    return subprocess.run(
        [sys.executable, "-m", "tuiqueue", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env({"TUIQUEUE_DB": db}),
    )


def test_password_never_printed(private_redis: int) -> None:
    """worker, db check, stats and submit, with the right and a wrong password, never print it."""
    right = f"redis://:{SECRET}@127.0.0.1:{private_redis}/0"
    wrong = f"redis://:{SECRET}x@127.0.0.1:{private_redis}/0"
    out = run("submit", "echo", "-p", "message=hi", db=right)
    assert out.returncode == 0, out.stderr
    worker = run("worker", "--drain", db=right)
    assert worker.returncode == 0, worker.stderr
    assert "redis://:***@127.0.0.1" in worker.stdout + worker.stderr
    outs = [out, worker, run("stats", db=right), run("db", "check", db=right)]
    started = time.monotonic()
    failed = [
        run(*args, db=wrong)
        for args in (["worker", "--drain"], ["stats"], ["submit", "echo", "-p", "message=hi"])
    ]
    assert time.monotonic() - started < 30  # a wrong password is not retried for 35 s
    for bad in failed:
        assert bad.returncode != 0
        assert "password" in bad.stderr, bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    for result in outs + failed:
        assert SECRET not in result.stdout + result.stderr, result.stdout + result.stderr


def test_new_database_is_private(tmp_path: Path) -> None:
    """With umask 022, a new database and its -wal/-shm are 0600."""
    db = tmp_path / "jobs.db"
    old = os.umask(0o022)
    try:
        code = (
            "import anyio, os\n"
            "from tuiqueue import open_store\n"
            "async def main():\n"
            f"    s = open_store({str(db)!r}); await s.open()\n"
            f"    p = {str(db)!r}\n"
            "    print(*[oct(os.stat(p + x).st_mode & 0o777) for x in ('', '-wal', '-shm')])\n"
            "    await s.close()\n"
            "anyio.run(main)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), timeout=60
        )
    finally:
        os.umask(old)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0o600", "0o600", "0o600"]
