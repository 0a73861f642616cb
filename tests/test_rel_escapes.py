"""No escape sequence a job or a job type chooses reaches a terminal: dashboard under a pty, CLI."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import cli_env
from tuiqueue.core.text import clean, mask_url, one_line

HOSTILE = [b"\x1b]0;PWNED\x07", b"\x1b]52;c;SGVsbG8=\x07", b"\x1b[2J", b"\x1b[6n"]
PRINTF = r"\033]0;PWNED\007\033]52;c;SGVsbG8=\007\033[2J\033[6n"
COMMAND = f"printf '{PRINTF}'; printf 'err {PRINTF}' >&2; exit 3"
EVIL_TYPE = '''
from tuiqueue import JobContext, Param, job_type


@job_type("evil", description="evil \\x1b]0;PWNED\\x07 \\x1b[2J type",
          params=[Param("n", "int", default=1, help="help \\x1b]52;c;SGVsbG8=\\x07 \\x1b[6n")])
async def evil(ctx: JobContext, n: int) -> int:
    """A job type whose texts carry escape sequences."""
    return n
'''


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    """The CLI in a real subprocess, its output as raw bytes."""
    return subprocess.run(
        [sys.executable, "-m", "tuiqueue", *args], capture_output=True, env=env, timeout=60
    )


def assert_clean(data: bytes, where: str) -> None:
    """None of the job-chosen sequences is in data."""
    for seq in HOSTILE:
        assert seq not in data, f"{where}: {seq!r} reached the terminal"


def test_clean_and_one_line() -> None:
    """Control characters are shown, not kept; one_line cuts and says how much is left."""
    text = "a\x1b]0;t\x07b\x9b2J\x7f\r\n\tc"
    out = clean(text)
    assert not any((ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F for c in out)
    assert "\\x1b" in out and "\n\t" in out
    assert one_line("x\ny") == "x⏎y"
    cut = one_line("y" * 50_000_000, 50)
    assert cut == "y" * 50 + "… (49999950 more characters)"
    assert mask_url("redis://:pw@h:6379/0") == "redis://:***@h:6379/0"
    assert mask_url("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"


@pytest.fixture
def failed_job(tmp_path: Path) -> tuple[dict[str, str], int]:
    """A store holding a failed shell job whose output is full of escape sequences."""
    env = cli_env({"TUIQUEUE_DB": str(tmp_path / "jobs.db")})
    out = run("submit", "shell", "-p", f"command={COMMAND}", env=env)
    assert out.returncode == 0, out.stderr
    job_id = int(out.stdout.split()[-1])
    assert run("worker", "--drain", env=env).returncode == 0
    job = json.loads(run("show", str(job_id), "--json", env=env).stdout)
    assert job["status"] == "failed"
    return env, job_id


def test_cli_prints_no_job_chosen_escape(failed_job: tuple[dict[str, str], int]) -> None:
    """show, logs and list print the job's output and error with its escapes made visible."""
    env, job_id = failed_job
    for args in (["show", str(job_id)], ["logs", str(job_id)], ["list"]):
        out = run(*args, env=env)
        assert out.returncode == 0, out.stderr
        assert_clean(out.stdout + out.stderr, " ".join(args))
    assert b"PWNED" in run("logs", str(job_id), env=env).stdout  # shown, not acted on


def test_cli_type_texts_and_errors(tmp_path: Path) -> None:
    """`types` prints a hostile description visibly; errors quote a short prefix of a value."""
    (tmp_path / "evil.py").write_text(EVIL_TYPE)
    env = cli_env({"TUIQUEUE_DB": str(tmp_path / "jobs.db")})
    out = run("--jobs", str(tmp_path / "evil.py"), "types", env=env)
    assert out.returncode == 0, out.stderr
    assert b"evil" in out.stdout
    assert_clean(out.stdout + out.stderr, "types")
    out = run("submit", "no\x1b]0;PWNED\x07such" + "z" * 5000, env=env)
    assert out.returncode == 2
    assert_clean(out.stdout + out.stderr, "unknown type")
    assert len(out.stderr) < 1000, out.stderr
    out = run("submit", "countdown", "-p", "seconds=" + "9x" * 30_000, env=env)
    assert out.returncode == 2
    assert len(out.stderr) < 1000, out.stderr[:300]


def _pty_session(argv: list[str], env: dict[str, str], until: float, keys: list[bytes]) -> bytes:
    """Run argv on a pty of 120x40 for `until` seconds, typing keys, and return all it wrote."""
    import fcntl
    import pty
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.execvpe(argv[0], argv, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    data = bytearray()
    start = time.monotonic()
    sent = 0
    try:
        while time.monotonic() - start < until + 10:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                data += chunk
            elapsed = time.monotonic() - start
            if sent < len(keys) and elapsed > until * (sent + 1) / (len(keys) + 1):
                os.write(fd, keys[sent])
                sent += 1
    finally:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        os.close(fd)
    return bytes(data)


def _dashboard(tmp_path: Path, command: str) -> bytes:
    """What the dashboard writes to a pty while it runs one failing shell job and shows it."""
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "evil.py").write_text(EVIL_TYPE)
    env = cli_env({"TUIQUEUE_DB": str(tmp_path / "jobs.db"), "TERM": "xterm-256color"})
    out = run("submit", "shell", "-p", f"command={command}", env=env)
    assert out.returncode == 0, out.stderr
    argv = [sys.executable, "-m", "tuiqueue", "--jobs", str(tmp_path / "evil.py")]
    data = _pty_session(argv, env, 8.0, [b"\r", b"\x1b", b"n", b"q"])
    assert len(data) > 1000  # it drew something
    job = json.loads(run("show", "1", "--json", env=env).stdout)
    assert job["status"] == "failed"  # the dashboard ran it, so its toast was shown
    return data


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
def test_dashboard_writes_no_job_chosen_escape(tmp_path: Path) -> None:
    """The dashboard runs the hostile job (its Failed toast, its table row, its detail) on a pty."""
    data = _dashboard(tmp_path / "hostile", COMMAND)
    for seq in HOSTILE[:2]:  # OSC title and clipboard: Textual itself never writes these
        assert seq not in data, f"dashboard: {seq!r} reached the terminal"
    # Textual clears the screen itself: the job may not add a single clear or cursor query.
    baseline = _dashboard(tmp_path / "plain", "echo plain; exit 3")
    for seq in HOSTILE[2:]:
        assert data.count(seq) <= baseline.count(seq), f"dashboard: the job's {seq!r} got through"
