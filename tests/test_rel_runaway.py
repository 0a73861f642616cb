"""Runaway jobs: a shell job flooding its output keeps the log and the worker's memory bounded."""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from tests.conftest import make_registry, read_until, tq, until, wait_until
from tests.test_rel_recovery import start_worker, statuses, wait_for
from tuiqueue.core.context import LINES_MAX, JobContext
from tuiqueue.core.registry import Registry, load_job_types
from tuiqueue.core.status import Status
from tuiqueue.engine import runner
from tuiqueue.engine.engine import Engine
from tuiqueue.jobs import shell
from tuiqueue.store import open_store
from tuiqueue.store.base import LOG_HEAD, LOG_TAIL

pytestmark = pytest.mark.anyio


def test_context_lines_bounded() -> None:
    ctx = JobContext(1, "t", {})
    for i in range(LINES_MAX * 10):
        ctx.log(f"line {i}")
    lines = ctx.take_lines()
    assert len(lines) == 100 + LINES_MAX
    assert ctx.take_dropped() == LINES_MAX * 9 - 100
    assert lines[-1] == f"line {LINES_MAX * 10 - 1}"


async def test_shell_flood_bounded(tmp_path: Path) -> None:
    load_job_types()
    mb = 200
    async with Engine(open_store(str(tmp_path / "jobs.db")), concurrency=1) as eng:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        job = await eng.submit(
            "shell", {"command": f"head -c {mb}000000 /dev/zero | tr '\\0' 'x' | fold -w 100"}
        )
        done = await eng.wait(job.id, timeout=120)
        grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        page = await eng.logs(job.id)
    assert done.status.value == "completed", done.error
    assert len(page.lines) <= LOG_HEAD + LOG_TAIL
    assert page.dropped > 0
    assert grew < 100, f"worker memory grew {grew:.0f} MiB"
    print(
        f"shell printed {mb} MB: {len(page.lines)} lines kept, {page.dropped} dropped, "
        f"peak memory +{grew:.0f} MiB"
    )


# -- jobs that ignore being stopped -----------------------------------------------------------


def stubborn_registry(release: threading.Event) -> Registry:
    """Jobs that ignore stops until `release` is set (so the test's event loop can close)."""
    reg = make_registry()

    @reg.job_type("swallow")
    async def swallow(ctx: JobContext) -> None:
        """Catch every cancellation and carry on."""
        while not release.is_set():
            try:
                await anyio.sleep(0.05)
            except anyio.get_cancelled_exc_class():
                await anyio.lowlevel.cancel_shielded_checkpoint()

    @reg.job_type("deaf_thread")
    def deaf_thread(ctx: JobContext) -> None:
        """A thread that never calls ctx.check()."""
        while not release.is_set():
            time.sleep(0.01)

    return reg


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def stubborn(release: threading.Event) -> Registry:
    return stubborn_registry(release)


@pytest.mark.parametrize("kind", ["swallow", "deaf_thread"])
async def test_job_ignoring_cancel_is_abandoned_and_the_queue_moves(
    stubborn: Registry, release: threading.Event, kind: str
) -> None:
    async with Engine(
        open_store(":memory:"), registry=stubborn, concurrency=1, abandon_after=0.5
    ) as eng:
        job = await eng.submit(kind)
        after = await eng.submit("sleep", {"seconds": 0})
        await wait_status(eng, job.id, Status.RUNNING)
        start = time.monotonic()
        await eng.cancel(job.id)
        done = await eng.wait(job.id, timeout=10)
        took = time.monotonic() - start
        assert done.status is Status.FAILED, done
        assert done.error == "did not stop within 0.5s after cancel; abandoned"
        assert 0.45 < took < 1.5, took
        assert (await eng.wait(after.id, timeout=10)).status is Status.COMPLETED
        assert runner.abandoned_jobs() >= 1
        release.set()
    print(f"{kind}: abandoned {took:.2f}s after cancel (abandon_after 0.5 s); next job ran")


async def test_swallowed_timeout_and_stop_are_abandoned(
    stubborn: Registry, release: threading.Event
) -> None:
    async with Engine(
        open_store(":memory:"), registry=stubborn, concurrency=2, abandon_after=0.3
    ) as eng:
        timed = await eng.submit("swallow", timeout=0.2)
        done = await eng.wait(timed.id, timeout=10)
        assert done.status is Status.FAILED
        assert done.error == "did not stop within 0.3s after its timeout; abandoned"
        stuck = await eng.submit("swallow")
        await wait_status(eng, stuck.id, Status.RUNNING)
        start = time.monotonic()
        await eng.stop(grace=0.2)
        took = time.monotonic() - start
        release.set()
    job = await eng.store.get(stuck.id)
    assert job is not None and job.status is Status.FAILED
    assert job.error and job.error.startswith("interrupted: did not stop within 0.3s")
    assert took < 0.2 + 0.3 + 0.5, f"stop took {took:.2f}s"


async def test_well_behaved_thread_job_is_cancelled_not_abandoned(registry: Registry) -> None:
    async with Engine(open_store(":memory:"), registry=registry, abandon_after=5) as eng:
        job = await eng.submit("blocking", {"seconds": 30})
        await wait_status(eng, job.id, Status.RUNNING)
        start = time.monotonic()
        await eng.cancel(job.id)
        done = await eng.wait(job.id, timeout=10)
        assert done.status is Status.CANCELLED and time.monotonic() - start < 1


async def wait_status(eng: Engine, job_id: int, status: Status) -> None:
    with anyio.fail_after(10):
        while (await eng.get(job_id)).status is not status:
            await anyio.sleep(0.01)


# -- shell jobs whose children resist -------------------------------------------------------

STUBBORN_SHELL = {
    "ignore TERM": 'trap "" TERM; sleep 300 & sleep 300 & wait',
    "hold stdout": 'trap "" TERM; (trap "" TERM; sleep 300; echo late) & echo started; wait',
}
CHILDREN = {"ignore TERM": 2, "hold stdout": 1}
"""How many `sleep` children each command starts."""


def term_ignorers(pgid: int) -> int:
    """How many `sleep` processes of the group are running with SIGTERM ignored."""
    count = 0
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
            status = Path(f"/proc/{name}/status").read_text()
        except OSError:
            continue
        comm, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat.rsplit(")", 1)[1].split()
        ignored = int(
            next(ln for ln in status.splitlines() if ln.startswith("SigIgn:")).split()[1], 16
        )
        if comm == "sleep" and int(fields[2]) == pgid and ignored & (1 << (signal.SIGTERM - 1)):
            count += 1
    return count


@pytest.mark.parametrize("name", list(STUBBORN_SHELL))
async def test_cancelled_shell_leaves_no_process(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_job_types()
    monkeypatch.setattr(shell, "GRACE", 1.0)
    async with Engine(open_store(str(tmp_path / "jobs.db")), concurrency=1) as eng:
        job = await eng.submit("shell", {"command": STUBBORN_SHELL[name]})
        with anyio.fail_after(10):
            while (process := await eng.store.job_process(job.id)) is None:
                await anyio.sleep(0.02)
        await until(
            lambda: term_ignorers(process.pgid) >= CHILDREN[name],
            10,
            "the children are started and ignore SIGTERM",
        )
        assert shell._group_alive(process.pgid)
        start = time.monotonic()
        await eng.cancel(job.id)
        with anyio.fail_after(shell.GRACE + 1):
            while shell._group_alive(process.pgid):
                await anyio.sleep(0.02)
        took = time.monotonic() - start
        done = await eng.wait(job.id, timeout=5)
    assert done.status is Status.CANCELLED
    print(f"shell ({name}): no process left {took:.2f}s after cancel (grace {shell.GRACE:g} s)")


def test_second_signal_kills_shell_children_at_once(tmp_path: Path) -> None:
    db = str(tmp_path / "jobs.db")
    out = tq("--db", db, "submit", "shell", "-p", f"command={STUBBORN_SHELL['ignore TERM']}")
    assert out.returncode == 0, out.stderr
    job_id = int(out.stdout)
    proc = start_worker(db, "--grace", "30")
    try:
        wait_for(lambda: statuses(db)[job_id][0] == "running")
        conn = sqlite3.connect(db)
        wait_for(lambda: conn.execute("SELECT pgid FROM job_procs").fetchone() is not None)
        pgid = conn.execute("SELECT pgid FROM job_procs").fetchone()[0]
        conn.close()
        wait_until(
            lambda: term_ignorers(pgid) >= CHILDREN["ignore TERM"],
            10,
            "the children are started and ignore SIGTERM",
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.stderr is not None
        read_until(proc.stderr, "SIGTERM: finishing running jobs")  # the first one was taken
        proc.send_signal(signal.SIGINT)
        start = time.monotonic()
        proc.communicate(timeout=10)
        took = time.monotonic() - start
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not shell._group_alive(pgid), "the shell's children outlived the worker"
    assert took < 1.5, f"second signal: worker took {took:.2f}s (shell grace is {shell.GRACE:g}s)"
    print(f"second signal with a TERM-ignoring shell job: worker gone {took:.2f}s after it")


async def test_cancel_while_the_shell_starts_leaves_no_process() -> None:
    """A cancel landing while the process starts (its children already run) kills them too."""
    load_job_types()
    async with Engine(open_store(":memory:"), concurrency=4) as eng:
        for i in range(10):
            marker = f"sleep 300.{i}{time.monotonic_ns()}"
            job = await eng.submit("shell", {"command": f"{marker} & {marker}; wait"})
            with anyio.fail_after(10):
                while len(_pgrep(marker)) < 2:
                    await anyio.sleep(0.005)
            await eng.cancel(job.id)
            assert (await eng.wait(job.id, timeout=10)).status is Status.CANCELLED
            assert _pgrep(marker) == [], f"iteration {i}: children outlived the cancel"


def _pgrep(marker: str) -> list[str]:
    import subprocess

    return subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
