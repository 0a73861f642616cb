"""Closing the dashboard's terminal (SIGHUP) or SIGTERM stops it like `q`: gracefully, its
running jobs requeued or ended, and no process a job started left behind."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import cli_env, tq

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")


def _sleepers(marker: str) -> list[int]:
    """Pids of live processes whose command line holds marker."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if marker in cmd and state != "Z":
                found.append(int(entry.name))
    return found


def _show(env: dict[str, str], job_id: int) -> dict[str, object]:
    out = tq("show", str(job_id), "--json", env=env)
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout))


def _wait_for(pred: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.mark.parametrize("how", ["hangup", "sigterm"])
def test_closing_the_terminal_stops_the_dashboard_gracefully(tmp_path: Path, how: str) -> None:
    import fcntl
    import pty
    import select
    import struct
    import termios

    marker = f"301.{os.getpid() % 1000}{len(how)}"
    env = cli_env({"TUIQUEUE_DB": str(tmp_path / "jobs.db"), "TERM": "xterm-256color"})
    out = tq("submit", "shell", "-p", f"command=sleep {marker}", env=env)
    assert out.returncode == 0, out.stderr
    argv = [sys.executable, "-m", "tuiqueue"]
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.execvpe(argv[0], argv, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    closed = False
    try:

        def drain() -> None:
            while select.select([fd], [], [], 0)[0]:
                try:
                    if not os.read(fd, 65536):
                        return
                except OSError:
                    return

        def running() -> bool:
            drain()
            return _show(env, 1)["status"] == "running" and bool(_sleepers(marker))

        _wait_for(running, 30)
        if how == "hangup":
            os.close(fd)  # the terminal goes away: the kernel sends SIGHUP
            closed = True
        else:
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20  # the grace period (5 s) and the stop
        while time.monotonic() < deadline:
            if not closed:
                drain()
            done, _status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the dashboard did not stop")
        pid = 0
        assert _sleepers(marker) == [], "a job's process was left behind"
        job = _show(env, 1)
        assert job["status"] != "running", job
        assert tq("workers", "--json", env=env).returncode == 0
        workers = json.loads(tq("workers", "--json", env=env).stdout)
        assert all(w["stopped"] for w in workers), workers
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        if not closed:
            os.close(fd)
        for leftover in _sleepers(marker):
            os.kill(leftover, signal.SIGKILL)
