"""Exact liveness on one machine: every live worker holds an flock on a file of its own.

A stopped (SIGSTOP), slow or lock-blocked process still holds its lock; a dead one cannot, since
the kernel drops an flock when the last descriptor of it closes. So a worker's jobs are taken
over only when the worker is really gone, however long it was silent or however its clock runs.
"""

from __future__ import annotations

import fcntl
import os
from enum import StrEnum
from pathlib import Path

from tuiqueue.core import logs

logger = logs.logger(__name__)


class Liveness(StrEnum):
    """What a worker's lock file says about it."""

    ALIVE = "alive"
    DEAD = "dead"
    UNKNOWN = "unknown"
    """No lock file (a worker of an older version, or one on another machine): use the lease."""


def _safe_name(worker_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in worker_id) + ".lock"


class WorkerLocks:
    """The lock files of the workers of one SQLite database, in a folder beside it."""

    def __init__(self, db_path: Path) -> None:
        self.folder = db_path.with_name(db_path.name + ".workers")
        self._held: dict[str, int] = {}

    def _path(self, worker_id: str) -> Path:
        return self.folder / _safe_name(worker_id)

    def hold(self, worker_id: str) -> None:
        """Take this worker's lock for as long as the process lives (blocking: a few syscalls)."""
        if worker_id in self._held:
            return
        self.folder.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(self._path(worker_id), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except BaseException:
            os.close(fd)
            raise
        self._held[worker_id] = fd

    def release(self, worker_id: str, *, remove: bool = True) -> None:
        """Drop this worker's lock; remove its file too (a graceful stop) or leave it (dead)."""
        fd = self._held.pop(worker_id, None)
        if fd is None:
            return
        try:
            if remove:
                self._path(worker_id).unlink(missing_ok=True)
        finally:
            os.close(fd)

    def release_all(self) -> None:
        """Drop every lock this object holds, leaving the files: those workers are now dead."""
        for worker_id in list(self._held):
            self.release(worker_id, remove=False)

    def forget(self, worker_id: str) -> None:
        """Remove a dead worker's lock file (when its row is dropped)."""
        if worker_id not in self._held:
            self._path(worker_id).unlink(missing_ok=True)

    def state(self, worker_id: str) -> Liveness:
        """Whether the worker's process is alive, exactly (blocking: a few syscalls)."""
        if worker_id in self._held:
            return Liveness.ALIVE
        path = self._path(worker_id)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            return Liveness.UNKNOWN
        except OSError as exc:
            logger.warning("cannot open worker lock %s: %s", path, exc)
            return Liveness.UNKNOWN
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return Liveness.ALIVE
            # Nobody holds it: its worker is gone for good (the file stays, so every later
            # look says dead too, until the worker's row is forgotten and forget() removes it).
            return Liveness.DEAD
        finally:
            os.close(fd)
