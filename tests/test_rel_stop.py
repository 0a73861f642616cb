"""Graceful stop of `tuiqueue worker` with real signals: grace, then requeue or interrupt."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.conftest import read_until, tq
from tests.test_rel_recovery import start_worker, statuses, wait_for


def submit(db: str, *args: str) -> int:
    out = tq("--db", db, "--jobs", str(Path(__file__).parent / "rel_jobs.py"), "submit", *args)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip())


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_first_signal_gives_grace_then_requeues_or_interrupts(tmp_path: Path, signum: int) -> None:
    db = str(tmp_path / "jobs.db")
    short = submit(db, "rel_sleep", "-p", "seconds=0.8")
    long_safe = submit(db, "rel_sleep", "-p", "seconds=60")
    fragile = submit(db, "rel_fragile", "-p", "seconds=60")
    queued = submit(db, "rel_sleep", "-p", "seconds=0.1")
    proc = start_worker(db, "-c", "3", "--grace", "1.5")
    try:
        wait_for(lambda: statuses(db)[fragile][0] == "running")
        proc.send_signal(signum)
        start = time.monotonic()
        _, err = proc.communicate(timeout=10)
        took = time.monotonic() - start
    finally:
        if proc.poll() is None:
            proc.kill()
    rows = statuses(db)
    assert proc.returncode == 0, err
    assert rows[short][0] == "completed"
    assert rows[long_safe][0] == "pending" and "interrupted" in (rows[long_safe][2] or "")
    assert rows[fragile][0] == "failed" and "interrupted" in (rows[fragile][2] or "")
    assert rows[queued][0] == "pending" and rows[queued][1] == 0, "no new claims after a signal"
    assert 1.4 < took < 3.5, f"worker took {took:.2f}s to stop with a 1.5 s grace"
    assert "database is locked" not in err
    print(f"{signal.Signals(signum).name}: stopped {took:.2f}s after the signal (grace 1.5 s)")


def test_second_signal_stops_at_once(tmp_path: Path) -> None:
    db = str(tmp_path / "jobs.db")
    ids = [submit(db, "rel_sleep", "-p", "seconds=60") for _ in range(2)]
    proc = start_worker(db, "-c", "2", "--grace", "30")
    try:
        wait_for(lambda: all(statuses(db)[i][0] == "running" for i in ids))
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
    rows = statuses(db)
    assert all(rows[i][0] == "pending" for i in ids), rows
    assert took < 1.5, f"second signal: stopped after {took:.2f}s"
    print(f"second signal: stopped {took:.2f}s after it")
