"""Queues and type-aware claims with real worker processes, on one SQLite file and on Redis.

A worker claims only the types it has loaded and the queues it takes; a queue's cap holds
across every worker of the store; a paused queue starts nothing while the others run.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from tests.conftest import ROOT, cli_env, tq, wait_until
from tests.test_store_conformance import redis_reachable
from tuiqueue.core.job import Job
from tuiqueue.core.status import Status
from tuiqueue.store import open_store

REDIS_DB = 11
"""These tests flush this Redis database (and only this one)."""

BASE = '''
import anyio
from tuiqueue.core.params import Param
from tuiqueue.core.registry import job_type

@job_type("q_sleep", params=[Param("seconds", "float", default=0.05, min=0, max=60)])
async def q_sleep(ctx, seconds):
    """Sleep a while."""
    await anyio.sleep(seconds)
'''

CUSTOM = '''
from tuiqueue.core.registry import job_type

@job_type("q_custom")
async def q_custom(ctx):
    """Only workers started with this module know it."""
    return 42
'''


def _flush() -> None:
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    client.flushdb()
    client.close()


class Fleet:
    """One store (a SQLite file or Redis db 11), job modules, and the workers started on it."""

    def __init__(self, db: str, tmp: Path) -> None:
        self.db = db
        self.tmp = tmp
        self.base = tmp / "qbase.py"
        self.base.write_text(BASE)
        self.custom = tmp / "qcustom.py"
        self.custom.write_text(CUSTOM)
        self.procs: list[subprocess.Popen[str]] = []

    def cli(self, *args: str, custom: bool = False) -> str:
        """Run the CLI with the base module (and the custom one); its stdout."""
        mods = ["--jobs", str(self.base)] + (["--jobs", str(self.custom)] if custom else [])
        out = tq("--db", self.db, *mods, *args)
        assert out.returncode == 0, out.stderr
        return out.stdout

    def submit(self, type_name: str, *args: str, custom: bool = False) -> int:
        """Queue one job; its id."""
        return int(self.cli("submit", type_name, *args, custom=custom))

    def worker(self, *args: str, custom: bool = False) -> subprocess.Popen[str]:
        """Start a headless worker process."""
        mods = ["--jobs", str(self.base)] + (["--jobs", str(self.custom)] if custom else [])
        log = open(self.tmp / f"worker{len(self.procs)}.log", "w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "tuiqueue", "--db", self.db, *mods, "worker", "-q", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env=cli_env(),
            cwd=ROOT,
        )
        self.procs.append(proc)
        return proc

    def jobs(self, **kw: object) -> list[Job]:
        """Jobs read straight from the store."""

        async def read() -> list[Job]:
            store = open_store(self.db)
            await store.open()
            try:
                return await store.list_jobs(limit=10_000, **kw)  # type: ignore[arg-type]
            finally:
                await store.close()

        return anyio.run(read)

    def status(self, job_id: int) -> tuple[Status, int]:
        """(status, attempts) of one job."""
        [job] = [j for j in self.jobs() if j.id == job_id]
        return job.status, job.attempts

    def stop(self) -> None:
        """Stop every worker gracefully; none may have crashed."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
                raise
        for i in range(len(self.procs)):
            log = (self.tmp / f"worker{i}.log").read_text()
            assert "Traceback" not in log, log
        self.procs.clear()


@pytest.fixture(params=["sqlite", "redis"])
def fleet(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Fleet]:
    """A fresh store of each kind, with its workers stopped at the end."""
    if request.param == "redis":
        if not redis_reachable():
            pytest.skip("no Redis server at 127.0.0.1:6379")
        _flush()
        db = f"redis://127.0.0.1:6379/{REDIS_DB}"
    else:
        db = str(tmp_path / "jobs.db")
    f = Fleet(db, tmp_path)
    try:
        yield f
    finally:
        for proc in f.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
        if request.param == "redis":
            _flush()


def test_a_worker_without_a_module_never_claims_its_jobs(fleet: Fleet) -> None:
    custom = fleet.submit("q_custom", custom=True)
    plain = fleet.submit("q_sleep")
    fleet.worker("-c", "4")  # has q_sleep and the built-ins, not q_custom
    wait_until(lambda: fleet.status(plain)[0] is Status.COMPLETED, 20, "the plain job")
    later = fleet.submit("q_sleep")
    wait_until(lambda: fleet.status(later)[0] is Status.COMPLETED, 20, "a later job")
    assert fleet.status(custom) == (Status.PENDING, 0), "never claimed, never failed"
    shown = fleet.cli("show", str(custom))
    assert "waiting for a worker with type 'q_custom' (1 live worker with types" in shown
    assert "'q_sleep'" in shown
    listed = fleet.cli("list")
    assert "waiting for a worker with type 'q_custom'" in listed
    fleet.worker("-c", "1", custom=True)
    wait_until(lambda: fleet.status(custom)[0] is Status.COMPLETED, 20, "the custom job")
    [job] = [j for j in fleet.jobs() if j.id == custom]
    assert job.result == 42 and job.attempts == 1
    fleet.stop()


def test_a_queue_cap_holds_across_three_workers(fleet: Fleet) -> None:
    fleet.cli("queue", "limit", "capped", "2")
    capped = [fleet.submit("q_sleep", "-p", "seconds=0.25", "--queue", "capped") for _ in range(10)]
    free = [fleet.submit("q_sleep", "-p", "seconds=0.25") for _ in range(6)]
    for _ in range(3):
        fleet.worker("-c", "4")
    most, most_free = 0, 0

    def sample() -> bool:
        nonlocal most, most_free
        jobs = fleet.jobs(statuses={Status.RUNNING})
        most = max(most, sum(1 for j in jobs if j.queue == "capped"))
        most_free = max(most_free, sum(1 for j in jobs if j.queue == "default"))
        assert most <= 2, f"{most} jobs of a queue capped at 2 ran at once"
        done = fleet.jobs(statuses={Status.COMPLETED})
        return len(done) == len(capped) + len(free)

    wait_until(sample, 60, "every job", interval=0.01)
    print(f"most running at once: capped {most}, default {most_free}")
    assert most >= 1
    fleet.stop()


def test_a_paused_queue_starts_nothing_while_others_run(fleet: Fleet) -> None:
    fleet.cli("queue", "pause", "held")
    held = [fleet.submit("q_sleep", "--queue", "held") for _ in range(3)]
    fleet.worker("-c", "2")
    for round_ in range(2):  # jobs submitted before and after the worker started
        others = [fleet.submit("q_sleep", "--queue", "other") for _ in range(3)]
        others += [fleet.submit("q_sleep") for _ in range(2)]
        wait_until(
            lambda ids=others: all(fleet.status(i)[0] is Status.COMPLETED for i in ids),  # type: ignore[misc]
            20,
            f"the other queues' jobs (round {round_})",
        )
        assert all(fleet.status(i) == (Status.PENDING, 0) for i in held)
    assert "queue held is paused" in fleet.cli("show", str(held[0]))
    listed = fleet.cli("queue", "list")
    assert any(line.split()[:2] == ["held", "paused"] for line in listed.splitlines())
    fleet.cli("queue", "resume", "held")
    wait_until(lambda: all(fleet.status(i)[0] is Status.COMPLETED for i in held), 20, "held")
    fleet.stop()


def test_worker_Q_takes_only_its_queues(fleet: Fleet) -> None:
    a = [fleet.submit("q_sleep", "--queue", "a") for _ in range(3)]
    b = [fleet.submit("q_sleep", "--queue", "b") for _ in range(3)]
    d = fleet.submit("q_sleep")
    fleet.worker("-c", "3", "-Q", "a")
    wait_until(lambda: all(fleet.status(i)[0] is Status.COMPLETED for i in a), 20, "queue a")
    later = fleet.submit("q_sleep", "--queue", "a")
    wait_until(lambda: fleet.status(later)[0] is Status.COMPLETED, 20, "a later job of a")
    assert all(fleet.status(i) == (Status.PENDING, 0) for i in [*b, d])
    shown = fleet.cli("show", str(b[0]))
    assert "waiting for a worker that takes queue b (live workers take: a)" in shown
    assert [j.queue for j in fleet.jobs(queue="b")] == ["b"] * 3
    fleet.worker("-c", "3", "-Q", "b,default")
    wait_until(lambda: all(fleet.status(i)[0] is Status.COMPLETED for i in [*b, d]), 20, "b")
    fleet.stop()
