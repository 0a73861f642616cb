"""Issue 14's command-line defects, on real SQLite files with real worker processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.conftest import cli_env, read_until, tq


@pytest.fixture
def worker(db: str) -> Iterator[subprocess.Popen[str]]:
    """A `tuiqueue worker` process on the test's store, stopped after the test."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuiqueue", "--db", db, "worker", "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def job_json(db: str, job_id: str) -> dict[str, object]:
    """`tuiqueue show ID --json`."""
    out = tq("--db", db, "show", job_id, "--json")
    assert out.returncode == 0, out.stderr
    data: dict[str, object] = json.loads(out.stdout)
    return data


def wait_status(db: str, job_id: str, *statuses: str, timeout: float = 30) -> dict[str, object]:
    """Poll `show --json` until the job is in one of statuses (fails after timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        data = job_json(db, job_id)
        if data["status"] in statuses:
            return data
        assert time.monotonic() < deadline, data
        time.sleep(0.1)


def row(db: str, job_id: str) -> str:
    """The `tuiqueue list` line of a job."""
    out = tq("--db", db, "list")
    assert out.returncode == 0, out.stderr
    (line,) = [ln for ln in out.stdout.splitlines()[1:] if ln.split()[0] == job_id]
    return line


def seconds(text: str) -> float:
    """A TIME cell ("2.5s", "1m 05s"...) in seconds, roughly."""
    if text.endswith("ms"):
        return float(text[:-2]) / 1000
    if text.endswith("s") and text[:-1].replace(".", "").isdigit():
        return float(text[:-1])
    return 60.0  # minutes or more


def test_list_times_a_running_job_from_its_start_to_now(
    db: str, worker: subprocess.Popen[str]
) -> None:
    """Issue 14: a running `sleep 120` showed 0.1s (started_at to updated_at)."""
    job_id = tq("--db", db, "submit", "shell", "-p", "command=sleep 120").stdout.strip()
    started = wait_status(db, job_id, "running")["started_at"]
    assert isinstance(started, float)
    while time.time() - started < 2.5:  # the job has run at least this long, for real
        time.sleep(0.1)
    cells = row(db, job_id).split()
    assert cells[3] == "running"
    assert seconds(cells[6]) >= 2.0, cells
    tq("--db", db, "cancel", job_id)


def test_a_failed_job_shows_its_error_and_exit_code_not_frames(
    db: str, worker: subprocess.Popen[str]
) -> None:
    """Issue 14: list showed the stale progress message; show printed a literal \\n and the
    engine's own traceback frames for a plain non-zero exit."""
    command = "command=echo first; echo oops >&2; exit 3"
    job_id = tq("--db", db, "submit", "shell", "-p", command).stdout.strip()
    wait_status(db, job_id, "failed")
    line = row(db, job_id)
    assert "command exited with code 3" in line and "$ echo" not in line
    shown = tq("--db", db, "show", job_id)
    assert shown.returncode == 0, shown.stderr
    assert "\\n" not in shown.stdout
    assert "Traceback" not in shown.stdout and "runner.py" not in shown.stdout
    lines = shown.stdout.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith("error:"))
    assert "command exited with code 3" in lines[at]
    assert "[stderr] oops" in "\n".join(lines[at + 1 : at + 4])
    assert "first" in "\n".join(lines[at + 1 : at + 4])


@pytest.mark.parametrize(
    ("command", "code"),
    [("echo done", 0), ("echo bad; sleep 1; exit 4", 1), ("echo long; sleep 60", 3)],
    ids=["completed", "failed", "cancelled"],
)
def test_logs_follow_exits_like_wait(
    db: str, worker: subprocess.Popen[str], command: str, code: int
) -> None:
    """Issue 14: `logs --follow` exited 0 for a failed job; now 0 / 1 / 3 as `wait` does."""
    job_id = tq("--db", db, "submit", "shell", "-p", f"command={command}").stdout.strip()
    follow = subprocess.Popen(
        [sys.executable, "-m", "tuiqueue", "--db", db, "logs", "--follow", job_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )
    try:
        if code == 3:
            wait_status(db, job_id, "running")
            assert tq("--db", db, "cancel", job_id).returncode == 0
        out, err = follow.communicate(timeout=60)
    finally:
        if follow.poll() is None:
            follow.kill()
    assert follow.returncode == code, (out, err)
    assert command.split(";")[0].split()[1] in out


def test_a_draining_worker_on_a_paused_queue_says_so_once(db: str) -> None:
    """Issue 14: `worker --drain` on a paused queue waited without a word."""
    tq("--db", db, "submit", "echo", "-p", "delay=1")
    assert tq("--db", db, "queue", "pause").returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuiqueue", "--db", db, "worker", "--drain"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )
    try:
        assert proc.stderr is not None
        seen = read_until(proc.stderr, "paused", timeout=30)
        assert "tuiqueue resume" in seen or "resume" in seen.lower(), seen
        assert tq("--db", db, "queue", "resume").returncode == 0
        _, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert (seen + rest).count("paused") == 1, seen + rest
