"""`--on-finish CMD`: a shell command per finished job, the job in its environment (issue 14).

Real shells, real `tuiqueue worker` processes and real SQLite files; the engine tests run on
asyncio and trio."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.conftest import cli_env, tq
from tuiqueue.core.events import EventKind
from tuiqueue.core.registry import Registry
from tuiqueue.core.status import Status
from tuiqueue.engine.engine import Engine
from tuiqueue.engine.on_finish import OnFinish
from tuiqueue.store import open_store

RECORD = 'echo "$TUIQUEUE_JOB_ID $TUIQUEUE_JOB_STATUS $TUIQUEUE_JOB_TYPE" >> '


def lines(path: Path) -> list[str]:
    """The lines a callback wrote (none yet: no file)."""
    return path.read_text().splitlines() if path.exists() else []


async def until(cond: object, timeout: float = 10.0) -> None:
    """Wait until cond() holds (fails after timeout)."""
    assert callable(cond)
    with anyio.fail_after(timeout):
        while not cond():
            await anyio.sleep(0.02)


# -- real `tuiqueue worker` processes ------------------------------------------------------


def test_a_draining_worker_calls_back_for_a_completed_and_a_failed_job(
    db: str, tmp_path: Path
) -> None:
    out = tmp_path / "finished.txt"
    assert tq("--db", db, "submit", "shell", "-p", "command=true").returncode == 0
    assert tq("--db", db, "submit", "shell", "-p", "command=exit 3").returncode == 0
    cmd = f'echo "$TUIQUEUE_JOB_ID $TUIQUEUE_JOB_STATUS" >> {shlex.quote(str(out))}'
    done = tq("--db", db, "worker", "--drain", "--on-finish", cmd)
    assert done.returncode == 0, done.stderr
    # The worker exits only once its callbacks have run: the file is complete now.
    assert sorted(lines(out)) == ["1 completed", "2 failed"]


def test_the_callback_environment_describes_the_job(db: str, tmp_path: Path) -> None:
    out = tmp_path / "env.txt"
    sub = tq("--db", db, "submit", "shell", "-p", "command=exit 3", "--queue", "nightly")
    assert sub.returncode == 0, sub.stderr
    cmd = (
        'printf \'%s|%s|%s|%s|%s|%s|%s\\n\' "$TUIQUEUE_JOB_ID" "$TUIQUEUE_JOB_STATUS" '
        '"$TUIQUEUE_JOB_TYPE" "$TUIQUEUE_JOB_QUEUE" "$TUIQUEUE_JOB_DURATION" '
        f'"$TUIQUEUE_JOB_ATTEMPTS" "$TUIQUEUE_JOB_ERROR" > {shlex.quote(str(out))}'
    )
    done = tq("--db", db, "worker", "--drain", "--on-finish", cmd)
    assert done.returncode == 0, done.stderr
    job_id, status, type_, queue, duration, attempts, error = out.read_text().strip().split("|")
    assert (job_id, status, type_, queue, attempts) == ("1", "failed", "shell", "nightly", "1")
    assert float(duration) >= 0 and "code 3" in error


def test_a_failing_callback_is_reported_in_one_line_and_the_worker_goes_on(
    db: str, tmp_path: Path
) -> None:
    out = tmp_path / "finished.txt"
    for _ in range(2):
        assert tq("--db", db, "submit", "shell", "-p", "command=true").returncode == 0
    cmd = f'{RECORD}{shlex.quote(str(out))}; echo "no mail server" >&2; exit 7'
    done = tq("--db", db, "worker", "--drain", "--on-finish", cmd)
    assert done.returncode == 0, done.stderr
    assert len(lines(out)) == 2  # both jobs were called back for, the failures did not stop it
    reports = [ln for ln in done.stderr.splitlines() if ln.startswith("on-finish")]
    assert sorted(reports) == [
        "on-finish command for job 1 (completed) exited with code 7: no mail server",
        "on-finish command for job 2 (completed) exited with code 7: no mail server",
    ]
    assert "Traceback" not in done.stderr
    assert "2 jobs processed" in done.stderr


def test_an_empty_on_finish_command_is_refused_clearly(db: str) -> None:
    done = tq("--db", db, "worker", "--drain", "--on-finish", " ")
    assert done.returncode == 2
    assert "--on-finish needs a command" in done.stderr


def test_a_fleet_runs_the_callback_once_per_job(db: str, tmp_path: Path) -> None:
    """Two workers on one file: each calls back only for the jobs it ran."""
    out = tmp_path / "finished.txt"
    cmd = f"{RECORD}{shlex.quote(str(out))}"
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tuiqueue", "--db", db, "worker", "-q", "--on-finish", cmd],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(),
        )
        for _ in range(2)
    ]
    try:
        for _ in range(6):
            assert tq("--db", db, "submit", "shell", "-p", "command=sleep 0.2").returncode == 0
        deadline = time.monotonic() + 60
        while len(lines(out)) < 6:
            assert time.monotonic() < deadline, lines(out)
            time.sleep(0.1)
    finally:
        for proc in workers:
            proc.terminate()
        for proc in workers:
            proc.wait(timeout=30)
    ids = sorted(int(line.split()[0]) for line in lines(out))
    assert ids == [1, 2, 3, 4, 5, 6]  # each once, whichever worker ran it


# -- the engine's collaborator ----------------------------------------------------------


@pytest.fixture
def anyio_backend(both_backends: str) -> str:
    """The engine tests run on asyncio and on trio."""
    return both_backends


@pytest.mark.anyio
async def test_job_text_never_reaches_the_shell(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job's error is quoting and command substitution: it is only in the environment."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "errors.txt"
    evil = "$(touch pwned1) `touch pwned2` '; touch pwned3; ' \"; touch pwned4\" \x07\x1b]9;x"
    cmd = f'printf "%s" "$TUIQUEUE_JOB_ERROR" > {shlex.quote(str(out))}'
    engine = Engine(open_store(":memory:"), registry=registry, poll_interval=0.02, on_finish=cmd)
    async with engine:
        await engine.submit("boom", {"message": evil})
        await until(lambda: out.exists() and out.read_text())
    assert not list(tmp_path.glob("pwned*"))
    assert out.read_text() == f"RuntimeError: {evil}"


@pytest.mark.anyio
async def test_only_this_workers_jobs_are_called_back_and_a_watcher_sees_every_job(
    registry: Registry, tmp_path: Path
) -> None:
    """On one SQLite file: a worker calls back for what it ran, not for what another worker
    ran; an engine without a worker (a watching dashboard) calls back for every job."""
    db = str(tmp_path / "jobs.db")
    mine, watched = tmp_path / "mine.txt", tmp_path / "watched.txt"

    def engine(**kw: Any) -> Engine:
        return Engine(open_store(db), registry=registry, poll_interval=0.02, **kw)

    runner = engine(worker_id="a", queues=["default"])
    calling = engine(worker_id="b", queues=["x"], on_finish=f"{RECORD}{shlex.quote(str(mine))}")
    watcher = engine(worker=False, on_finish=f"{RECORD}{shlex.quote(str(watched))}")
    seen = calling.events()
    async with watcher, runner:
        async with calling:
            first = await runner.submit("boom", {})  # only `runner` takes the default queue
            second = await runner.submit("sleep", {"seconds": 0}, queue="x")  # only `calling`
            async for event in seen:  # `calling` has seen the first job fail
                if event.job is not None and event.job.id == first.id:
                    if event.job.status is Status.FAILED:
                        break
            await until(lambda: lines(mine) == [f"{second.id} completed sleep"])
        # Stopped, `calling` has run every callback it started.
        await until(lambda: len(lines(watched)) == 2)
    assert lines(mine) == [f"{second.id} completed sleep"]  # not the job `runner` ran
    assert sorted(lines(watched)) == [f"{first.id} failed boom", f"{second.id} completed sleep"]


@pytest.mark.anyio
async def test_callbacks_are_bounded_and_a_slow_one_is_killed(
    registry: Registry, tmp_path: Path
) -> None:
    """At most `limit` at once; one past its timeout is killed with what it started, and
    reported once; the engine is unharmed."""
    started, record = tmp_path / "started.txt", tmp_path / "record.txt"
    hook = OnFinish(
        f'echo "$TUIQUEUE_JOB_ID" >> {shlex.quote(str(started))}; sleep 30; '
        f"echo late >> {shlex.quote(str(record))}",
        limit=2,
        timeout=1.5,
    )
    engine = Engine(open_store(":memory:"), registry=registry, poll_interval=0.02)
    engine.on_finish = hook
    hook.notice = engine._notice
    notices = engine.events()
    async with engine:
        for _ in range(3):
            await engine.submit("sleep", {"seconds": 0})
        await until(lambda: len(lines(started)) == 2)
        assert hook.started == 2  # the third waits for a slot
        await until(lambda: hook.failed == 3)
        assert len(lines(started)) == 3
        assert (await engine.get(3)).status is Status.COMPLETED
    found = [e.lines[0] for e in notices.drain() if e.kind is EventKind.NOTICE]
    assert sorted(found) == [
        f"on-finish command for job {i} (completed) did not finish within 1.5s and was killed"
        for i in (1, 2, 3)
    ]
    assert not record.exists()  # the killed shells' `sleep` did not live on to write


@pytest.mark.anyio
async def test_stopping_waits_for_running_callbacks(registry: Registry, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    engine = Engine(
        open_store(":memory:"),
        registry=registry,
        poll_interval=0.02,
        on_finish=f"sleep 0.3; {RECORD}{shlex.quote(str(out))}",
    )
    async with engine:
        job = await engine.submit("sleep", {"seconds": 0})
        await engine.wait(job.id, timeout=5)
    # `async with` has stopped the engine: the callback had its time and is done.
    assert lines(out) == [f"{job.id} completed sleep"]
