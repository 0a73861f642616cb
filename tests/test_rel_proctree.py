"""Nothing escapes its process tree: children that left the shell's session or group are
paused, resumed, cancelled and killed on recovery with it; unrelated processes never are."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest

from tests.conftest import tq, until, wait_until
from tests.test_rel_recovery import start_worker, statuses
from tuiqueue.core import proctree
from tuiqueue.core.registry import load_job_types
from tuiqueue.core.status import Status
from tuiqueue.engine.engine import Engine
from tuiqueue.jobs import shell
from tuiqueue.store import open_store

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")

KINDS = ("setsid &", "setsid -f", "setpgid", "foreground")


class Escapees:
    """A shell command whose children leave its session or group, each with a unique tag."""

    def __init__(self) -> None:
        base = f"300.{random.randrange(10**6):06d}"
        self.tags = [f"{base}{i + 1}" for i in range(len(KINDS))]
        py = f'{sys.executable} -c "import os,time; os.setpgid(0,0); time.sleep({self.tags[2]})"'
        self.command = (
            f"setsid sleep {self.tags[0]} & setsid -f sleep {self.tags[1]}; "
            f"{py} & sleep {self.tags[3]}"
        )

    def _cmdlines(self) -> Iterator[tuple[int, str]]:
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    raw = Path(f"/proc/{name}/cmdline").read_bytes()  # empty for zombies
                except OSError:
                    continue
                yield int(name), raw.replace(b"\0", b" ").decode("utf-8", "replace")

    def descendants(self) -> dict[str, int]:
        """kind -> pid of each live child (the shell itself names every tag, so is left out)."""
        found = {}
        for pid, line in self._cmdlines():
            hits = [kind for kind, tag in zip(KINDS, self.tags, strict=True) if tag in line]
            if len(hits) == 1:
                found[hits[0]] = pid
        return found

    def remaining(self) -> list[int]:
        """Every live process of the command, the shell included."""
        return [pid for pid, line in self._cmdlines() if any(t in line for t in self.tags)]

    def kill_all(self) -> None:
        """Clean up whatever a failing run left behind."""
        for pid in self.remaining():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def state(pid: int) -> str:
    """The process's state letter ('' once gone)."""
    return proctree.state(pid) or ""


def token_of(pid: int) -> str | None:
    """The TUIQUEUE_ATTEMPT value in a process's environment."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    prefix = f"{proctree.ENV}=".encode()
    values = [e[len(prefix) :].decode() for e in environ if e.startswith(prefix)]
    return values[0] if values else None


def poll(pred: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll pred() until true, or fail saying what did not happen."""
    wait_until(pred, timeout, what)


async def apoll(pred: Callable[[], bool], timeout: float, what: str) -> None:
    """poll() for async tests."""
    await until(pred, timeout, what, interval=0.02)


@pytest.fixture
def escapees() -> Iterator[Escapees]:
    esc = Escapees()
    yield esc
    esc.kill_all()


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated sleep started outside tuiqueue; it must come through everything."""
    proc = subprocess.Popen(["sleep", "299"], start_new_session=True)
    yield proc
    assert proc.poll() is None, "an unrelated process was killed"
    assert state(proc.pid) != "T", "an unrelated process was stopped"
    proc.kill()
    proc.wait()


async def started(eng: Engine, escapees: Escapees) -> tuple[int, dict[str, int], str | None]:
    """Submit the command; its job id, its children and their token once all run."""
    job = await eng.submit("shell", {"command": escapees.command})
    await apoll(lambda: len(escapees.descendants()) == len(KINDS), 10, "every child started")
    kids = escapees.descendants()
    token = token_of(kids["setsid -f"])
    assert [token_of(pid) for pid in kids.values()] == [token] * len(KINDS)
    return job.id, kids, token


@pytest.mark.anyio
async def test_pause_and_resume_reach_every_descendant(
    tmp_path: Path, escapees: Escapees, bystander: subprocess.Popen[bytes]
) -> None:
    load_job_types()
    async with Engine(open_store(str(tmp_path / "jobs.db")), concurrency=1) as eng:
        job_id, kids, _ = await started(eng, escapees)
        await eng.pause(job_id)
        await apoll(
            lambda: all(state(pid) == "T" for pid in kids.values()),
            5,
            f"every child stopped: {[(k, state(p)) for k, p in kids.items()]}",
        )
        assert state(bystander.pid) != "T"
        await eng.resume(job_id)
        await apoll(
            lambda: not any(state(pid) == "T" for pid in kids.values()),
            5,
            f"every child resumed: {[(k, state(p)) for k, p in kids.items()]}",
        )
        await eng.cancel(job_id)
        await eng.wait(job_id, timeout=10)


@pytest.mark.anyio
async def test_cancel_kills_every_descendant(
    tmp_path: Path,
    escapees: Escapees,
    bystander: subprocess.Popen[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    load_job_types()
    monkeypatch.setattr(shell, "GRACE", 1.0)
    async with Engine(open_store(str(tmp_path / "jobs.db")), concurrency=1) as eng:
        job_id, _, token = await started(eng, escapees)
        await eng.pause(job_id)  # stopped children must die too
        await eng.cancel(job_id)
        await apoll(
            lambda: not escapees.remaining() and not (token and proctree.find(token)),
            shell.GRACE + 3,
            f"no process left after cancel: {escapees.remaining()}",
        )
        done = await eng.wait(job_id, timeout=5)
    assert done.status is Status.CANCELLED
    assert token is not None, "the children carry the attempt's token"


def test_kill9_worker_recovery_kills_every_descendant(
    tmp_path: Path, escapees: Escapees, bystander: subprocess.Popen[bytes]
) -> None:
    db = str(tmp_path / "jobs.db")
    out = tq("--db", db, "submit", "shell", "-p", f"command={escapees.command}")
    assert out.returncode == 0, out.stderr
    worker = start_worker(db)
    try:
        poll(lambda: len(escapees.descendants()) == len(KINDS), 15, "every child started")
        conn = sqlite3.connect(db)
        poll(
            lambda: conn.execute("SELECT 1 FROM job_procs").fetchone() is not None,
            5,
            "the process recorded",
        )
        conn.close()
        kids = escapees.descendants()
        token = token_of(kids["setpgid"])
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        assert all(state(pid) not in ("", "Z") for pid in kids.values()), "children outlived it"
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()

    async def survivor() -> None:
        async with Engine(open_store(db), worker_id="survivor"):
            await apoll(
                lambda: all(s[0] != "running" for s in statuses(db).values()),
                10,
                "the lost job resolved",
            )

    anyio.run(survivor)
    poll(
        lambda: not escapees.remaining() and not (token and proctree.find(token)),
        3,
        f"no process left after recovery: {escapees.remaining()}",
    )
    assert token is not None, "the children carry the attempt's token"
    (row,) = statuses(db).values()
    assert row[0] == "failed" and "worker lost" in (row[2] or "")
    assert bystander.poll() is None


@pytest.mark.anyio
async def test_adopted_children_are_reaped(tmp_path: Path) -> None:
    """An orphan that dies unseen under the (subreaper) worker does not stay a zombie."""
    load_job_types()
    async with Engine(open_store(str(tmp_path / "jobs.db")), concurrency=1) as eng:
        job = await eng.submit("shell", {"command": "(sleep 0.1 &); sleep 0.5"})
        done = await eng.wait(job.id, timeout=10)
    assert done.status is Status.COMPLETED, done.error
    root = done.result["pid"] if isinstance(done.result, dict) else None
    zombies = [
        pid
        for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
        if (
            proctree.state(pid) == "Z"
            and Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3] == str(root)
        )
    ]
    assert root and not zombies, f"zombies of the attempt left: {zombies}"


def test_find_matches_the_exact_token_only(tmp_path: Path) -> None:
    """A token that is a prefix or extension of another one's is a different attempt."""
    env = dict(os.environ)
    procs = []
    for value in ("tok-a", "tok-ab", "xtok-a"):
        env[proctree.ENV] = value
        procs.append(subprocess.Popen(["sleep", "30"], env=env))
    try:
        poll(lambda: all(token_of(p.pid) for p in procs), 5, "the sleeps started")
        assert proctree.find("tok-a") == [procs[0].pid]
        assert proctree.kill_token("tok-a") == 1
        procs[0].wait(timeout=5)
        assert procs[1].poll() is None and procs[2].poll() is None
    finally:
        for p in procs:
            p.kill()
            p.wait()
