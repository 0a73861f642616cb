"""`tuiqueue events`, `wait` and `submit --wait` as real processes, on one SQLite file and on Redis.

None of them is a worker: while only they run, `tuiqueue workers` is empty and jobs stay
pending; a `tuiqueue worker` process runs the jobs, and they see it happen.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, cli_env, read_until, tq
from tests.test_store_conformance import redis_reachable

REDIS_DB = 6
"""These tests flush this Redis database (and only this one)."""


def _flush() -> None:
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    client.flushdb()
    client.close()


class Store:
    """One store and the processes started on it."""

    def __init__(self, db: str, tmp: Path) -> None:
        self.db = db
        self.tmp = tmp
        self.procs: list[subprocess.Popen[bytes]] = []

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return tq("--db", self.db, *args)

    def submit(self, command: str) -> int:
        out = self.cli("submit", "shell", "-p", f"command={command}")
        assert out.returncode == 0, out.stderr
        return int(out.stdout)

    def status(self, job_id: int) -> str:
        out = self.cli("show", str(job_id), "--json")
        assert out.returncode == 0, out.stderr
        return str(json.loads(out.stdout)["status"])

    def workers(self) -> list[Any]:
        out = self.cli("workers", "--json")
        assert out.returncode == 0, out.stderr
        return list(json.loads(out.stdout))

    def start(self, *args: str, log: bool = False) -> subprocess.Popen[bytes]:
        """A `tuiqueue ARGS` process; stdout piped unbuffered (or to a log file)."""
        out: Any = subprocess.PIPE
        if log:
            out = open(self.tmp / f"proc{len(self.procs)}.log", "wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "tuiqueue", "--db", self.db, *args],
            stdout=out,
            stderr=subprocess.PIPE,
            bufsize=0,
            env=cli_env(),
            cwd=ROOT,
        )
        self.procs.append(proc)
        return proc

    def worker(self) -> subprocess.Popen[bytes]:
        return self.start("worker", "-q", log=True)


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "redis":
        if not redis_reachable():
            pytest.skip("no Redis server at 127.0.0.1:6379")
        _flush()
        db = f"redis://127.0.0.1:6379/{REDIS_DB}"
    else:
        db = str(tmp_path / "jobs.db")
    s = Store(db, tmp_path)
    try:
        yield s
    finally:
        for proc in s.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        if request.param == "redis":
            _flush()


class Lines:
    """NDJSON read from a child's pipe with a deadline, every line parsed."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.fd = proc.stdout.fileno()
        self.buf = b""
        self.events: list[dict[str, Any]] = []

    def until(self, pred: Callable[[dict[str, Any]], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not any(pred(e) for e in self.events):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
            chunk = os.read(self.fd, 65536)
            if not chunk:
                raise AssertionError(f"pipe closed before {what}: {self.buf!r}")
            self.buf += chunk
            *done, self.buf = self.buf.split(b"\n")
            self.events.extend(json.loads(line) for line in done)  # each line whole JSON


def _is(job_id: int, status: str | None = None) -> Callable[[dict[str, Any]], bool]:
    def pred(e: dict[str, Any]) -> bool:
        job = e.get("job")
        return bool(job and job["id"] == job_id and (status is None or job["status"] == status))

    return pred


def _watching(store: Store, lines: Lines) -> int:
    """Submit probe jobs until the events process shows one: it is watching. The probe's id."""
    for _ in range(20):
        probe = store.submit("true")
        try:
            lines.until(_is(probe), 3, f"probe job {probe}")
            return probe
        except AssertionError:
            continue
    raise AssertionError("tuiqueue events never showed a submitted job")


def test_events_json_streams_a_run_and_is_no_worker(store: Store) -> None:
    proc = store.start("events", "--json")
    lines = Lines(proc)
    probe = _watching(store, lines)
    # Only `events` runs: it registered no worker and claimed nothing.
    assert store.workers() == []
    assert store.status(probe) == "pending"
    job = store.submit("echo from-the-job; exit 0")
    lines.until(_is(job, "pending"), 10, "the new job")
    store.worker()
    lines.until(_is(job, "running"), 30, "the job's start")
    lines.until(_is(job, "completed"), 30, "the job's completion")
    lines.until(
        lambda e: e["kind"] == "log" and e.get("job_id") == job and "from-the-job" in e["lines"],
        10,
        "the job's log line",
    )
    proc.send_signal(signal.SIGINT)
    assert proc.wait(15) == 0
    assert proc.stderr is not None
    assert b"Traceback" not in proc.stderr.read()


def test_events_job_filter_and_unknown_id(store: Store) -> None:
    out = store.cli("events", "--job", "999")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == ["Error: no job with id 999 (see `tuiqueue list`)"]
    one = store.submit("exit 0")
    other = store.submit("exit 0")
    proc = store.start("events", "--json", "--job", str(one))
    lines = Lines(proc)
    for _ in range(10):  # until the events process shows a change of the watched job
        assert store.cli("pause", str(one)).returncode == 0
        try:
            lines.until(_is(one, "paused"), 3, "the paused job")
            break
        except AssertionError:
            assert store.cli("resume", str(one)).returncode == 0
    else:
        raise AssertionError("tuiqueue events --job never showed the watched job")
    assert store.cli("resume", str(one)).returncode == 0
    store.worker()
    lines.until(_is(one, "completed"), 30, "the watched job's completion")
    assert all(e.get("job_id") in (one, None) for e in lines.events), other


def test_wait_exit_codes_and_plain_lines(store: Store) -> None:
    assert store.cli("wait", "999").returncode == 2
    held = store.submit("sleep 30")
    waiter = store.start("wait", str(held))
    assert waiter.stdout is not None
    read_until(waiter.stdout, f"{held} pending", 20)
    # Only `wait` runs: no worker, the job stays pending.
    assert store.workers() == []
    assert store.status(held) == "pending"
    assert store.cli("cancel", str(held)).returncode == 0
    assert waiter.wait(30) == 3
    rest = waiter.stdout.read()
    assert f"{held} cancelled".encode() in rest
    assert b"\r" not in rest and b"\x1b" not in rest

    ok = store.submit("exit 0")
    bad = store.submit("echo oops; exit 1")
    w_ok = store.start("wait", str(ok))
    w_bad = store.start("wait", str(bad))
    w_both = store.start("wait", str(ok), str(bad))
    store.worker()
    assert w_ok.wait(60) == 0
    assert w_bad.wait(60) == 1
    assert w_both.wait(60) == 1
    # Already finished: at once.
    done = store.cli("wait", str(ok), str(held))
    assert done.returncode == 3, done.stderr
    assert done.stdout.splitlines() == [f"{ok} completed", f"{held} cancelled"]


def test_wait_ctrl_c_exits_130(store: Store) -> None:
    held = store.submit("sleep 30")
    waiter = store.start("wait", str(held))
    assert waiter.stdout is not None
    read_until(waiter.stdout, f"{held} pending", 20)
    waiter.send_signal(signal.SIGINT)
    assert waiter.wait(15) == 130
    assert waiter.stderr is not None
    assert b"Traceback" not in waiter.stderr.read()
    assert store.status(held) == "pending"


def test_submit_wait_end_to_end(store: Store) -> None:
    store.worker()
    out = store.cli("submit", "shell", "-p", "command=echo hi", "--wait")
    assert out.returncode == 0, out.stderr
    first, *_, last = out.stdout.splitlines()
    assert last == f"{first} completed"
    out = store.cli("submit", "shell", "-p", "command=exit 1", "--wait")
    assert out.returncode == 1, out.stderr
    out = store.cli("submit", "shell", "-p", "command=echo js", "--wait", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["status"] == "completed"
