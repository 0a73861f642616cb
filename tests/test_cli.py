"""Command-line round trips through real subprocesses on a SQLite file."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.conftest import cli_env, tq
from tuiqueue.cli import main
from tuiqueue.core.registry import REGISTRY, load_job_types

CUSTOM = '''
from tuiqueue import JobContext, Param, job_type


@job_type("double", params=[Param("n", "int", default=1, min=0, max=100)])
async def double(ctx: JobContext, n: int) -> int:
    """Double a number."""
    ctx.log(f"doubling {n}")
    return n * 2
'''


def ok(*args: str, stdin: str | None = None, **kw: Any) -> str:
    """Run the CLI, expect success, return stdout."""
    out = tq(*args, stdin=stdin, **kw)
    assert out.returncode == 0, out.stderr
    return out.stdout


def status_of(db: str, job_id: int) -> str:
    """A job's status read straight from the file (fast, for polling)."""
    with sqlite3.connect(db) as conn:
        return str(conn.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()[0])


def rows(db: str) -> list[tuple[Any, ...]]:
    """Every job row, to prove a command changed nothing."""
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT * FROM jobs ORDER BY id").fetchall()


def run_inline(*args: str) -> Result:
    """Run the CLI in this process (fast) and capture its output."""
    return CliRunner().invoke(main, list(args))


def show(db: str, job_id: int | str) -> dict[str, Any]:
    """`show ID --json` parsed."""
    return json.loads(ok("--db", db, "show", str(job_id), "--json"))


def test_submit_worker_show_round_trip(db: str) -> None:
    job_id = ok("--db", db, "submit", "countdown", "-p", "seconds=1").strip()
    assert job_id == "1"
    assert show(db, job_id)["status"] == "pending"
    worker = tq("--db", db, "worker", "--drain")
    assert worker.returncode == 0, worker.stderr
    assert "job 1 countdown running" in worker.stderr
    assert "job 1 countdown completed" in worker.stderr
    assert "1 job processed" in worker.stderr
    job = show(db, job_id)
    assert job["status"] == "completed"
    assert job["result"] == {"message": "Countdown complete!"}
    assert job["progress"] == 100 and job["attempts"] == 1


def test_list_and_stats_json(db: str) -> None:
    ok("--db", db, "submit", "fibonacci", "-p", "count=5", "--priority", "high")
    ok("--db", db, "submit", "echo", "-p", "delay=1", "--delay", "3600")
    jobs = json.loads(ok("--db", db, "list", "--json"))
    assert [(j["id"], j["type"], j["status"], j["priority"]) for j in jobs] == [
        (2, "echo", "scheduled", "normal"),
        (1, "fibonacci", "pending", "high"),
    ]
    only = json.loads(ok("--db", db, "list", "--json", "--status", "scheduled"))
    assert [j["id"] for j in only] == [2]
    stats = json.loads(ok("--db", db, "stats", "--json"))
    assert stats["counts"]["pending"] == 1 and stats["counts"]["scheduled"] == 1
    assert stats["total"] == 2 and stats["queue_paused"] is False
    assert "fibonacci" in ok("--db", db, "list")


def test_submit_from_stdin(db: str) -> None:
    ok("--db", db, "submit", "fibonacci", "-p", "count=3")
    lines = "\n".join(
        [
            json.dumps({"type": "fibonacci", "params": {"count": 3}}),
            "",
            json.dumps({"type": "primes", "priority": "critical"}),
            json.dumps({"type": "fibonacci", "after": 1}),
        ]
    )
    assert ok("--db", db, "submit", "--from", "-", stdin=lines).split() == ["2", "3", "4"]
    assert show(db, 3)["priority"] == "critical"
    assert show(db, 4)["status"] == "waiting" and show(db, 4)["depends_on"] == [1]
    ok("--db", db, "worker", "--drain", "-q")
    assert show(db, 4)["status"] == "completed"


def test_submit_from_stdin_bad_line_submits_nothing(db: str) -> None:
    ok("--db", db, "submit", "countdown")
    lines = (
        json.dumps({"type": "fibonacci"})
        + "\n"
        + json.dumps({"type": "countdown", "params": {"seconds": 99}})
    )
    out = tq("--db", db, "submit", "--from", "-", stdin=lines)
    assert out.returncode == 2
    assert out.stderr.strip() == "Error: stdin line 2: seconds must be between 1 and 60"
    assert len(json.loads(ok("--db", db, "list", "--json"))) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["submit", "countdown", "-p", "seconds=0"], "seconds must be between 1 and 60"),
        (
            ["submit", "countdown", "-p", "seconds=nan"],
            "seconds must be a whole number (got 'nan')",
        ),
        (
            ["submit", "fetch_urls", "-p", "urls=http://a.test", "-p", "timeout=inf"],
            "timeout must be a finite number (not NaN or infinity)",
        ),
        (
            ["submit", "nope"],
            "unknown job type 'nope' (known types: countdown, echo, "
            "fetch_urls, fibonacci, primes, shell)",
        ),
        (
            ["submit", "countdown", "-p", "secs=3"],
            "unknown parameter 'secs' (countdown takes seconds)",
        ),
        (["submit", "countdown", "-p", "seconds"], "-p takes NAME=VALUE (got 'seconds')"),
        (
            ["submit", "fetch_urls", "-p", "urls=ftp://x.test"],
            "urls item 1 must be an http:// or https:// URL (got 'ftp://x.test')",
        ),
        (
            ["submit", "echo", "-p", "message=" + "x" * 1001, "-p", "delay=99"],
            "message must be at most 1000 characters (got 1001); delay must be between 1 and 30",
        ),
        (["submit", "countdown", "--after", "77"], "no job with id 77 (see `tuiqueue list`)"),
        (["show", "77"], "no job with id 77 (see `tuiqueue list`)"),
        (["cancel", "77"], "no job with id 77 (see `tuiqueue list`)"),
        (["cancel", "1"], "job 1 is already cancelled"),
        (["resume", "1"], "job 1 is already cancelled"),
        (
            ["clear", "--older-than", "soon"],
            "'soon' is not a duration; use e.g. 30s, 15m, 12h or 7d",
        ),
    ],
)
def test_bad_input_exits_2_and_changes_nothing(
    db: str, args: list[str], message: str, no_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Other test modules register job types in the shared registry; see only the built-ins.
    load_job_types()
    builtin = {
        n: t for n, t in REGISTRY._types.items() if t.fn.__module__.startswith("tuiqueue.jobs.")
    }
    monkeypatch.setattr(REGISTRY, "_types", builtin)
    assert run_inline("--db", db, "submit", "countdown").exit_code == 0
    assert run_inline("--db", db, "cancel", "1").exit_code == 0
    before = rows(db)
    out = run_inline("--db", db, *args)
    assert out.exit_code == 2, out.output
    assert out.stderr.strip() == f"Error: {message}"
    assert out.stdout == ""
    assert rows(db) == before


def test_bad_input_round_trip_in_a_subprocess(db: str) -> None:
    out = tq("--db", db, "submit", "countdown", "-p", "seconds=0")
    assert (out.returncode, out.stdout, out.stderr) == (
        2,
        "",
        "Error: seconds must be between 1 and 60\n",
    )
    assert rows(db) == []


def test_corrupt_database_is_named_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "bad.db"
    path.write_bytes(b"this is not a database" * 100)
    before = path.read_bytes()
    out = tq("--db", str(path), "list")
    assert out.returncode == 2
    assert str(path) in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert path.read_bytes() == before


def test_commands_pause_resume_cancel_rerun_delete_clear(db: str) -> None:
    ok("--db", db, "submit", "countdown")
    ok("--db", db, "submit", "countdown")
    assert ok("--db", db, "pause", "1").strip() == "job 1: paused"
    assert ok("--db", db, "resume", "1").strip() == "job 1: pending"
    assert ok("--db", db, "cancel", "1", "2").split("\n")[:2] == [
        "job 1: cancelled",
        "job 2: cancelled",
    ]
    assert ok("--db", db, "rerun", "1").strip() == "3"
    assert show(db, 3)["rerun_of"] == 1
    assert ok("--db", db, "queue", "pause").strip() == "queue paused"
    assert json.loads(ok("--db", db, "stats", "--json"))["queue_paused"] is True
    assert ok("--db", db, "queue", "resume").strip() == "queue running"
    assert ok("--db", db, "delete", "3").strip() == "deleted 1 job"
    assert ok("--db", db, "clear").strip() == "cleared 2 jobs"
    assert json.loads(ok("--db", db, "list", "--json")) == []


def test_logs_command(db: str) -> None:
    ok("--db", db, "submit", "shell", "-p", "command=printf 'a\\nb\\n'")
    ok("--db", db, "worker", "--drain", "-q")
    assert ok("--db", db, "logs", "1").splitlines() == ["a", "b"]


def test_types_json() -> None:
    types = {t["name"]: t for t in json.loads(ok("types", "--json"))}
    assert set(types) >= {"countdown", "primes", "fibonacci", "fetch_urls", "echo", "shell"}
    seconds = types["countdown"]["params"][0]
    assert (seconds["name"], seconds["min"], seconds["max"], seconds["default"]) == (
        "seconds",
        1,
        60,
        10,
    )


def test_custom_job_type_with_jobs_option_and_env(db: str, tmp_path: Path) -> None:
    module = tmp_path / "mymodule.py"
    module.write_text(CUSTOM)
    assert ok("--db", db, "--jobs", str(module), "submit", "double", "-p", "n=21").strip() == "1"
    bad = tq("--db", db, "submit", "double")
    assert bad.returncode == 2 and "unknown job type 'double'" in bad.stderr
    ok("--db", db, "--jobs", str(module), "worker", "--drain", "-q")
    assert show(db, 1)["result"] == 42
    env = cli_env({"TUIQUEUE_JOBS": "mymodule", "TUIQUEUE_DB": db})
    assert ok("submit", "double", "-p", "n=5", env=env, cwd=tmp_path).strip() == "2"
    ok("worker", "--drain", "-q", env=env, cwd=tmp_path)
    assert show(db, 2)["result"] == 10
    missing = tq("--jobs", str(tmp_path / "nope.py"), "types")
    assert missing.returncode == 2 and "not found" in missing.stderr


def test_two_worker_processes_never_run_a_job_twice(db: str) -> None:
    batch = "\n".join(json.dumps({"type": "fibonacci", "params": {"count": 5}}) for _ in range(200))
    ok("--db", db, "submit", "--from", "-", stdin=batch)
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tuiqueue", "--db", db, "worker", "--drain", "-c", "4"],
            env=cli_env(),
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=60)[1] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    jobs = json.loads(ok("--db", db, "list", "--json", "--limit", "1000"))
    assert len(jobs) == 200
    assert all(j["status"] == "completed" and j["attempts"] == 1 for j in jobs)
    finished = [
        line.split()[1]
        for out in outputs
        for line in out.splitlines()
        if line.startswith("job ") and " completed" in line
    ]
    assert sorted(finished, key=int) == [str(i) for i in range(1, 201)]


def _pgrep(marker: str) -> list[int]:
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def test_cancel_shell_job_from_another_process_leaves_no_process(db: str) -> None:
    marker = f"sleep 300.{random.randrange(10**6)}"
    ok("--db", db, "submit", "shell", "-p", f"command={marker} & {marker}; wait")
    worker = subprocess.Popen(
        [sys.executable, "-m", "tuiqueue", "--db", db, "worker"],
        env=cli_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while len(_pgrep(marker)) < 2:
            assert time.monotonic() < deadline, "the shell job never started"
            time.sleep(0.05)
        assert ok("--db", db, "cancel", "1").strip() == "job 1: running (stopping)"
        deadline = time.monotonic() + 3  # generous: CI machines are busy
        while status_of(db, 1) != "cancelled":
            assert time.monotonic() < deadline, "the job was not cancelled"
            time.sleep(0.05)
        assert _pgrep(marker) == []
    finally:
        worker.send_signal(signal.SIGTERM)
        err = worker.communicate(timeout=20)[1]
    assert worker.returncode == 0, err
    assert "job 1 shell cancelled" in err
    assert _pgrep(marker) == []


def test_worker_sigterm_finishes_running_job(db: str) -> None:
    ok("--db", db, "submit", "countdown", "-p", "seconds=1")
    worker = subprocess.Popen(
        [sys.executable, "-m", "tuiqueue", "--db", db, "worker"],
        env=cli_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 10
    while status_of(db, 1) != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    worker.send_signal(signal.SIGTERM)
    err = worker.communicate(timeout=20)[1]
    assert worker.returncode == 0, err
    assert show(db, 1)["status"] == "completed"


def test_submit_from_applies_the_flags_to_every_line(db: str) -> None:
    lines = "\n".join(
        [json.dumps({"type": "fibonacci"}), json.dumps({"type": "fibonacci", "priority": "low"})]
    )
    assert ok(
        "--db",
        db,
        "submit",
        "--from",
        "-",
        "--priority",
        "high",
        "--retries",
        "2",
        "--timeout",
        "30",
        stdin=lines,
    ).split() == ["1", "2"]
    first, second = show(db, 1), show(db, 2)
    assert first["priority"] == "high" and second["priority"] == "low"  # a line's own wins
    assert first["max_attempts"] == second["max_attempts"] == 3
    assert first["timeout"] == second["timeout"] == 30
    out = tq("--db", db, "submit", "--from", "-", "-p", "count=3", stdin=lines)
    assert out.returncode == 2 and "give params in each line" in out.stderr
    assert len(json.loads(ok("--db", db, "list", "--json"))) == 2
