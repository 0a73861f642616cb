"""isolation="process" and cancel --force, as real processes: a worker and the CLI on one store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import cli_env, tq, wait_until
from tuiqueue.core import proctree

MODULE = '''
import os
import signal
import time

from tuiqueue import JobContext, Param, job_type


@job_type("spin", isolation="process")
def spin(ctx: JobContext) -> None:
    """Busy loop, never checking in."""
    ctx.log(f"pid {os.getpid()}")
    ctx.progress(5, "spinning")
    while True:
        pass


@job_type("crash", isolation="process")
def crash(ctx: JobContext) -> None:
    """Segfault."""
    os.kill(os.getpid(), signal.SIGSEGV)


@job_type("report", isolation="process", params=[Param("n", "int", default=3)])
async def report(ctx: JobContext, n: int) -> dict:
    """Progress, log and a result from the child."""
    ctx.log("hello from the child")
    ctx.progress(50, "half way")
    await ctx.checkpoint()
    print("printed")
    return {"n": n, "pid": os.getpid()}


@job_type("ticker", isolation="process")
def ticker(ctx: JobContext) -> None:
    """Log its pid, then tick until cancelled."""
    ctx.log(f"pid {os.getpid()}")
    n = 0
    while True:
        n += 1
        ctx.progress(min(99, n), f"tick {n}")
        ctx.check()
        time.sleep(0.02)


@job_type("threaded")
def threaded(ctx: JobContext) -> None:
    """A plain def in a thread that checks in."""
    ctx.progress(1, "started")
    while True:
        ctx.check()
        time.sleep(0.02)
'''


def submit(db: str, mod: Path, *args: str) -> int:
    out = tq("--db", db, "--jobs", str(mod), "submit", *args)
    assert out.returncode == 0, out.stderr
    return int(out.stdout)


def show(db: str, mod: Path, job_id: int) -> dict:
    out = tq("--db", db, "--jobs", str(mod), "show", "--json", str(job_id))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def attempt_processes(pid: int) -> list[int]:
    """Processes alive carrying the attempt token of the child with this pid."""
    started = proctree.start_time(pid)
    if started is None:
        return []
    return proctree.find(proctree.token_for(pid, started)) + (
        [pid] if proctree.state(pid) not in (None, "Z", "X") else []
    )


@pytest.fixture
def worker(tmp_path: Path):
    db, mod = str(tmp_path / "jobs.db"), tmp_path / "mod.py"
    mod.write_text(MODULE)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuiqueue", "--db", db, "--jobs", str(mod), "worker", "-c", "2"],
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    yield db, mod, proc
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_force_cancel_kills_a_busy_process_job_within_a_second(worker) -> None:
    db, mod, proc = worker
    job_id = submit(db, mod, "spin")
    wait_until(lambda: show(db, mod, job_id)["progress"] == 5, 20, "the job to spin")
    logs = tq("--db", db, "--jobs", str(mod), "logs", str(job_id)).stdout
    child = int(logs.split("pid ")[1].split()[0])
    assert attempt_processes(child)
    out = tq("--db", db, "--jobs", str(mod), "cancel", "--force", str(job_id))
    assert out.returncode == 0, out.stderr
    wait_until(lambda: not attempt_processes(child), 1.0, "no process of the job left")
    wait_until(lambda: show(db, mod, job_id)["status"] == "cancelled", 10, "it to be cancelled")
    assert proc.poll() is None


def test_a_segfault_fails_that_job_only(worker) -> None:
    db, mod, proc = worker
    crashed = submit(db, mod, "crash")
    wait_until(lambda: show(db, mod, crashed)["status"] == "failed", 20, "the crash to fail")
    assert "SIGSEGV" in show(db, mod, crashed)["error"]
    after = submit(db, mod, "report", "-p", "n=7")
    wait_until(lambda: show(db, mod, after)["status"] == "completed", 20, "the next job")
    job = show(db, mod, after)
    assert job["result"]["n"] == 7 and job["result"]["pid"] != proc.pid
    logs = tq("--db", db, "--jobs", str(mod), "logs", str(after)).stdout
    assert "hello from the child" in logs and "printed" in logs
    assert proc.poll() is None


def test_force_cancel_of_a_def_job_says_it_cannot_be_killed(worker) -> None:
    db, mod, _ = worker
    job_id = submit(db, mod, "threaded")
    wait_until(lambda: show(db, mod, job_id)["status"] == "running", 20, "it to run")
    out = tq("--db", db, "--jobs", str(mod), "cancel", "--force", str(job_id))
    assert out.returncode == 0, out.stderr
    assert "cannot be killed" in out.stdout and 'isolation="process"' in out.stdout
    wait_until(lambda: show(db, mod, job_id)["status"] == "cancelled", 10, "it to stop")


def test_primes_runs_in_a_child_process(tmp_path: Path) -> None:
    db = str(tmp_path / "jobs.db")
    out = tq("--db", db, "submit", "primes", "-p", "limit=1000")
    job_id = int(out.stdout)
    assert tq("--db", db, "worker", "--drain").returncode == 0
    job = json.loads(tq("--db", db, "show", "--json", str(job_id)).stdout)
    assert job["status"] == "completed" and job["result"]["count"] == 168


def _gone(pid: int) -> bool:
    return proctree.state(pid) in (None, "Z", "X")


def test_force_cancel_after_a_graceful_one_kills_a_shell_that_ignores_sigterm(worker) -> None:
    db, mod, _ = worker
    job_id = submit(
        db, mod, "shell", "-p", "command=echo pid $$; trap '' TERM; while :; do :; done"
    )
    wait_until(lambda: "pid " in tq("--db", db, "logs", str(job_id)).stdout, 20, "its pid")
    pid = int(tq("--db", db, "logs", str(job_id)).stdout.split("pid ")[1].split()[0])
    assert tq("--db", db, "cancel", str(job_id)).returncode == 0
    assert not _gone(pid)  # still in its grace period, ignoring SIGTERM
    out = tq("--db", db, "cancel", "--force", str(job_id))
    assert out.returncode == 0, out.stderr
    wait_until(lambda: _gone(pid), 1.0, "the shell to be killed")
    wait_until(lambda: show(db, mod, job_id)["status"] == "cancelled", 10, "it to be cancelled")


def test_a_process_job_left_by_a_killed_worker_is_killed_by_recovery(tmp_path: Path) -> None:
    db, mod = str(tmp_path / "jobs.db"), tmp_path / "mod.py"
    mod.write_text(MODULE)
    argv = [sys.executable, "-m", "tuiqueue", "--db", db, "--jobs", str(mod), "worker"]
    first = subprocess.Popen(argv, env=cli_env(), stderr=subprocess.DEVNULL)
    job_id = submit(db, mod, "spin")
    try:
        wait_until(lambda: show(db, mod, job_id)["progress"] == 5, 20, "the job to spin")
        logs = tq("--db", db, "--jobs", str(mod), "logs", str(job_id)).stdout
        child = int(logs.split("pid ")[1].split()[0])
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        assert not _gone(child)  # its own session: the worker's death did not take it
    finally:
        if first.poll() is None:
            first.kill()
    second = subprocess.Popen(argv, env=cli_env(), stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _gone(child), 30, "recovery to kill the orphaned child")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(15)
        if not _gone(child):
            os.kill(child, signal.SIGKILL)


@pytest.mark.redis
def test_force_cancel_reaches_a_worker_on_redis(tmp_path: Path) -> None:
    from tests.test_store_conformance import redis_reachable

    if not redis_reachable():
        pytest.skip("no Redis server at 127.0.0.1:6379")
    import redis

    url = "redis://127.0.0.1:6379/8"
    redis.Redis.from_url(url).flushdb()
    mod = tmp_path / "mod.py"
    mod.write_text(MODULE)
    argv = [sys.executable, "-m", "tuiqueue", "--db", url, "--jobs", str(mod), "worker"]
    proc = subprocess.Popen(argv, env=cli_env(), stderr=subprocess.DEVNULL)
    try:
        job_id = submit(url, mod, "spin")
        wait_until(lambda: show(url, mod, job_id)["progress"] == 5, 20, "the job to spin")
        logs = tq("--db", url, "--jobs", str(mod), "logs", str(job_id)).stdout
        child = int(logs.split("pid ")[1].split()[0])
        out = tq("--db", url, "--jobs", str(mod), "cancel", "--force", str(job_id))
        assert out.returncode == 0, out.stderr
        wait_until(lambda: _gone(child), 1.0, "no process of the job left")
        wait_until(lambda: show(url, mod, job_id)["status"] == "cancelled", 10, "cancelled")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        redis.Redis.from_url(url).flushdb()


def test_pause_stops_a_process_job_and_resume_continues_it(worker) -> None:
    db, mod, _ = worker
    job_id = submit(db, mod, "ticker")
    wait_until(lambda: "pid " in tq("--db", db, "logs", str(job_id)).stdout, 20, "its pid")
    child = int(tq("--db", db, "logs", str(job_id)).stdout.split("pid ")[1].split()[0])
    assert tq("--db", db, "--jobs", str(mod), "pause", str(job_id)).returncode == 0
    wait_until(lambda: proctree.state(child) == "T", 10, "the child to be stopped")
    assert tq("--db", db, "--jobs", str(mod), "resume", str(job_id)).returncode == 0
    wait_until(lambda: proctree.state(child) != "T", 10, "the child to run again")
    seen = show(db, mod, job_id)["message"]
    wait_until(lambda: show(db, mod, job_id)["message"] != seen, 10, "it to tick on")
    assert tq("--db", db, "--jobs", str(mod), "cancel", str(job_id)).returncode == 0
    wait_until(lambda: show(db, mod, job_id)["status"] == "cancelled", 10, "a graceful cancel")
    wait_until(lambda: _gone(child), 5, "the child to end")
