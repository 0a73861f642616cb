"""Liveness is exact on one machine: a stopped worker keeps its lock, a killed one loses it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tuiqueue.store.worker_locks import Liveness, WorkerLocks

HOLDER = """
import sys, time
from pathlib import Path
from tuiqueue.store.worker_locks import WorkerLocks
locks = WorkerLocks(Path(sys.argv[1]))
locks.hold(sys.argv[2])
print("held", flush=True)
time.sleep(120)
"""


def _holder(db: Path, worker_id: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), worker_id],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_stopped_worker_is_alive_and_a_killed_one_is_dead(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    proc = _holder(db, "w-1")
    try:
        locks = WorkerLocks(db)
        assert locks.state("w-1") is Liveness.ALIVE
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            # However long it is stopped, its lock is held: asked many times, never dead.
            assert all(locks.state("w-1") is Liveness.ALIVE for _ in range(50))
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        proc.kill()
        proc.wait()
        assert locks.state("w-1") is Liveness.DEAD
        # The verdict removed the file: asked again, the worker is unknown, not dead twice.
        assert locks.state("w-1") is Liveness.UNKNOWN
    finally:
        proc.kill()
        proc.wait()


def test_own_workers_and_files_are_private(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    locks = WorkerLocks(db)
    locks.hold("me")
    assert locks.state("me") is Liveness.ALIVE
    assert WorkerLocks(db).state("me") is Liveness.ALIVE  # another object in this process
    assert (locks.folder.stat().st_mode & 0o777) == 0o700
    assert (next(locks.folder.iterdir()).stat().st_mode & 0o777) == 0o600
    assert locks.state("never-registered") is Liveness.UNKNOWN
    locks.release("me")
    assert WorkerLocks(db).state("me") is Liveness.UNKNOWN


def test_the_lock_does_not_leak_into_job_processes(tmp_path: Path) -> None:
    """A shell job's child must not keep a dead worker 'alive' by inheriting the lock."""
    db = tmp_path / "q.db"
    code = HOLDER.replace(
        'print("held", flush=True)',
        'import subprocess; child = subprocess.Popen(["sleep", "60"], close_fds=False); '
        'print("held", child.pid, flush=True)')
    proc = subprocess.Popen([sys.executable, "-c", code, str(db), "w-2"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    word, child = proc.stdout.readline().split()
    assert word == "held"
    try:
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 5
        state = WorkerLocks(db).state("w-2")
        while state is not Liveness.DEAD and time.monotonic() < deadline:
            state = WorkerLocks(db).state("w-2")
        assert state is Liveness.DEAD
    finally:
        os.kill(int(child), signal.SIGKILL)
