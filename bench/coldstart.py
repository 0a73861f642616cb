"""Dashboard cold start as a process: from the command's start to its first frame on a pty."""

from __future__ import annotations

import os
import pty
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cli import _env

MINIMAL = """
from textual.app import App
from textual.widgets import Footer, Header, Static


class Minimal(App[None]):
    def compose(self):
        yield Header()
        yield Static("first frame")
        yield Footer()


Minimal().run()
"""


def _first_frame(argv: list[str], marker: bytes, env: dict[str, str], timeout: float) -> float:
    """Seconds from spawning argv on a 120x40 pty until `marker` appears in its output."""
    master, slave = pty.openpty()
    os.set_blocking(master, False)
    import fcntl
    import struct
    import termios

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    seen = b""
    try:
        while time.perf_counter() - t0 < timeout:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    seen += os.read(master, 1 << 16)
                except OSError:
                    break
                if marker in seen:
                    return time.perf_counter() - t0
        raise RuntimeError(f"no first frame from {argv[:3]} in {timeout}s: {seen[-200:]!r}")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        os.close(master)


def first_frame(rounds: int = 5, timeout: float = 30.0) -> dict[str, Any]:
    """Median seconds to the first painted frame: the dashboard on a small SQLite store vs a
    minimal Textual app (Header, Static, Footer), alternated in one run."""
    env = {**_env(), "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    db = str(Path(tempfile.mkdtemp(prefix="bench-cold-")) / "jobs.db")
    subprocess.run(
        [sys.executable, "-m", "tuiqueue", "--db", db, "submit", "echo", "-p", "message=hi"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    runs: dict[str, list[float]] = {"minimal": [], "dashboard": []}
    for _ in range(rounds):
        runs["minimal"].append(
            _first_frame([sys.executable, "-c", MINIMAL], b"first frame", env, timeout)
        )
        runs["dashboard"].append(
            _first_frame(
                [sys.executable, "-m", "tuiqueue", "--db", db, "--no-worker"],
                b"echo",  # the job's row in the table: the frame has data in it
                env,
                timeout,
            )
        )
    return {f"{k}_ms": 1000 * statistics.median(v) for k, v in runs.items()}
