"""A worker whose attempt was taken over elsewhere stops that run at once and writes nothing.

Real worker processes on SQLite and on Redis (db 9): while a worker runs a chatty shell job
and a silent sleep job, the test takes both over as a recovery pass with a wrong verdict
would (requeue with the old token, claim as another worker: a new attempt). The worker must
kill the shell's processes, record nothing for either run, keep no line of the old attempt
in the log after the takeover, free both slots, and say so on its stderr.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

import anyio
import pytest

from tests.conftest import ROOT, cli_env, read_until, until
from tests.test_store_conformance import redis_reachable
from tuiqueue.core.context import JobContext
from tuiqueue.core.events import EventKind
from tuiqueue.core.job import NewJob
from tuiqueue.core.lifecycle import Outcome
from tuiqueue.core.records import LogLines, WorkerInfo
from tuiqueue.core.registry import Registry
from tuiqueue.core.status import Status
from tuiqueue.engine.engine import Engine
from tuiqueue.store import open_store
from tuiqueue.store.base import Store
from tuiqueue.store.memory import MemoryStore

pytestmark = pytest.mark.anyio

JOBS = str(ROOT / "tests" / "rel_jobs.py")
REDIS_URL = "redis://127.0.0.1:6379/9"
"""These tests flush this database (and only this one)."""


def _flush_redis() -> None:
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=9)
    client.flushdb()
    client.close()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "redis",
            marks=[
                pytest.mark.redis,
                pytest.mark.skipif(not redis_reachable(), reason="no Redis at 127.0.0.1:6379"),
            ],
        ),
    ]
)
async def where(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The --db of a fresh store (a SQLite file, or Redis db 9 flushed)."""
    if request.param == "sqlite":
        yield str(tmp_path / "jobs.db")
        return
    _flush_redis()
    yield REDIS_URL
    _flush_redis()


def gone(pid: int) -> bool:
    """The process no longer runs (a zombie waiting for its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(") ", 1)[1][:1] in ("Z", "X")


def start_worker(db: str, *extra: str) -> subprocess.Popen[str]:
    """A `tuiqueue worker` subprocess that reports its jobs on stderr (not -q)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tuiqueue", "--db", db, "--jobs", JOBS, "worker", *extra],
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


async def take_over(store: Store, thief: str, *job_ids: int) -> list[str]:
    """What a recovery pass that wrongly judged the worker dead does, with another worker's
    claim in the same transaction: requeue each run with its own token and claim it anew as
    attempt 2; returns the new tokens."""
    old = [await store.get(job_id) for job_id in job_ids]
    assert all(j is not None and j.status is Status.RUNNING and j.token for j in old)
    outcomes = [
        Outcome(j.id, j.token or "", Status.PENDING, error="taken over by the test")
        for j in old
        if j is not None
    ]
    requeued, claimed = await store.finish_and_claim(outcomes, thief, len(job_ids), time.time())
    assert sorted(j.id for j in requeued) == sorted(job_ids)
    tokens = {j.id: j.token or "" for j in claimed}
    assert sorted(tokens) == sorted(job_ids) and all(j.attempts == 2 for j in claimed)
    assert not {j.token for j in old if j is not None} & set(tokens.values())
    return [tokens[job_id] for job_id in job_ids]


def read_all(stream: IO[str], texts: list[str], timeout: float) -> str:
    """Read a child's stderr until every one of texts appeared (in any order)."""
    seen = ""
    deadline = time.monotonic() + timeout
    for text in texts:
        if text not in seen:
            seen += read_until(stream, text, max(0.1, deadline - time.monotonic()))
    return seen


async def test_a_superseded_worker_stops_its_runs_at_once(where: str, tmp_path: Path) -> None:
    child_file, shell_file = tmp_path / "child", tmp_path / "shell"
    # A background child that would outlive the shell, and a shell that logs all the time.
    command = (
        f"sleep 300 & echo $! > {child_file}; echo $$ > {shell_file}; "
        "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.05; done"
    )
    store = open_store(where)
    await store.open()
    proc: subprocess.Popen[str] | None = None
    try:
        # The thief stays registered and alive (this store holds its lock / a fresh beat),
        # so the old worker's own recovery leaves the new attempts alone.
        now = time.time()
        await store.register_worker(WorkerInfo("thief", socket.gethostname(), 1, 2, now, now))
        chatty, silent = await store.add(
            [
                NewJob("shell", {"command": command, "cwd": ""}),
                NewJob("rel_sleep", {"seconds": 300.0, "mark": ""}),
            ],
            now,
        )
        proc = start_worker(where, "-c", "2")
        assert proc.stderr is not None
        read_until(proc.stderr, "concurrency 2")

        async def both_running_and_logging() -> bool:
            jobs = [await store.get(chatty.id), await store.get(silent.id)]
            running = all(j is not None and j.status is Status.RUNNING for j in jobs)
            return running and len((await store.logs(chatty.id)).lines) >= 3

        await until(both_running_and_logging, timeout=20, what="both jobs running, one logging")
        await until(lambda: child_file.exists() and shell_file.exists(), what="the shell's pids")
        await until(lambda: child_file.read_text().strip() and shell_file.read_text().strip())
        child, shell = int(child_file.read_text()), int(shell_file.read_text())
        old = await store.get(chatty.id)
        assert old is not None and old.worker is not None and old.worker != "thief"

        chatty_token, silent_token = await take_over(store, "thief", chatty.id, silent.id)
        # Whatever the old attempt had stored before the takeover stays; nothing after it.
        before = [line for _, line in (await store.logs(chatty.id)).lines]
        assert before and all(line.startswith(("$ ", "tick ")) for line in before)
        await store.append_logs({chatty.id: LogLines(chatty_token, ["second attempt"])})

        notice = "job {}: attempt 1 was taken over by worker thief (attempt 2); stopped it here"
        seen = read_all(proc.stderr, [notice.format(chatty.id), notice.format(silent.id)], 15)
        await until(lambda: gone(shell) and gone(child), timeout=5, what="the shell's pids gone")

        # Its slots are free: two more jobs run there now (and it recorded nothing for the
        # old runs meanwhile).
        quick = await store.add(
            [NewJob("rel_sleep", {"seconds": 0.01, "mark": ""})] * 2, time.time()
        )

        async def quick_done() -> bool:
            jobs = [await store.get(j.id) for j in quick]
            return all(j is not None and j.status is Status.COMPLETED for j in jobs)

        await until(quick_done, timeout=15, what="new jobs run by the superseded worker")
        for job in quick:
            done = await store.get(job.id)
            assert done is not None and done.worker == old.worker

        lines = [line for _, line in (await store.logs(chatty.id)).lines]
        assert lines == [*before, "second attempt"]
        for job_id, token in ((chatty.id, chatty_token), (silent.id, silent_token)):
            now_job = await store.get(job_id)
            assert now_job is not None
            assert (now_job.status, now_job.worker, now_job.token) == (
                Status.RUNNING,
                "thief",
                token,
            )
            assert now_job.attempts == 2 and now_job.error == "taken over by the test"
        # The new attempt's result is the one that counts.
        (fresh,) = await store.finish(
            [Outcome(chatty.id, chatty_token, Status.COMPLETED, result="fresh")], time.time()
        )
        assert fresh.result == "fresh"
        assert "Traceback" not in seen

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        rest = proc.stderr.read()
        assert "Traceback" not in rest
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        await store.close()


# -- in one process: the memory store (no heartbeat thread), a thread job, an ended run ----


async def _running(eng: Engine, job_id: int) -> bool:
    return job_id in eng.running_ids() and (await eng.get(job_id)).status is Status.RUNNING


@pytest.mark.parametrize("kind", ["sleep", "blocking"])
async def test_superseded_runs_stop_in_process(registry: Registry, kind: str) -> None:
    store = MemoryStore()
    eng = Engine(store, registry=registry, concurrency=1, worker_id="here")
    events = eng.events()
    async with eng:
        job = await eng.submit(kind, {"seconds": 30.0})
        await until(lambda: _running(eng, job.id), what="the job running")
        await store.register_worker(WorkerInfo("thief", "h", 1, 1, time.time(), time.time()))
        (token,) = await take_over(store, "thief", job.id)
        await until(lambda: job.id not in eng.running_ids(), timeout=5, what="the run stopped")
        # The slot is free at once, even for a thread that runs on until its next check().
        quick = await eng.submit("sleep", {"seconds": 0.0})
        done = await eng.wait(quick.id, timeout=5)
        assert done.status is Status.COMPLETED and done.worker == "here"
        now_job = await eng.get(job.id)
        assert (now_job.status, now_job.worker, now_job.token) == (Status.RUNNING, "thief", token)
    notices = [e.lines[0] for e in events.drain() if e.kind is EventKind.NOTICE]
    assert notices == [
        f"job {job.id}: attempt 1 was taken over by worker thief (attempt 2); stopped it here"
    ]


async def test_a_run_that_ended_before_the_takeover_was_found_says_so(
    registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryStore()
    eng = Engine(store, registry=registry, concurrency=1, worker_id="here")
    gate = anyio.Event()

    @registry.job_type("gated")
    async def gated(ctx: JobContext) -> str:
        await gate.wait()
        return "old"

    async with eng:
        job = await eng.submit("gated")
        await until(lambda: _running(eng, job.id), what="the job running")
        await store.register_worker(WorkerInfo("thief", "h", 1, 1, time.time(), time.time()))
        # Taken over, and the old run ends in the same moment, before any heartbeat.
        (token,) = await take_over(store, "thief", job.id)
        gate.set()
        await until(lambda: job.id not in eng.running_ids(), what="the old run over")
        now_job = await eng.get(job.id)
        assert now_job.token == token and now_job.result is None
    assert any(
        f"job {job.id}: attempt 1 ended here (completed) after its job was taken over "
        "elsewhere; not recorded" in r.getMessage()
        for r in caplog.records
    )
