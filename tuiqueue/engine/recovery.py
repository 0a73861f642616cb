"""Crash recovery: heartbeats, finding jobs whose worker died, and resolving them by policy."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

import anyio
import anyio.to_thread

from tuiqueue.core import logs, proctree
from tuiqueue.core.job import Job
from tuiqueue.core.lifecycle import Outcome
from tuiqueue.core.records import JobProcess, Superseded
from tuiqueue.core.registry import Registry, UnknownJobType
from tuiqueue.core.status import Status
from tuiqueue.engine.defaults import DEAD_AFTER as DEAD_AFTER
from tuiqueue.store.base import Store

logger = logs.logger(__name__)

HEARTBEAT_INTERVAL = 0.5
"""Seconds between a worker's heartbeats (written from a thread, so job code cannot delay it)."""
RECOVERY_INTERVAL = 0.5
"""How often every running engine looks for orphaned jobs."""
STALL_LIMIT = 10.0
"""An event loop blocked this long (a job that never awaits) stops the heartbeat, so other
workers take over its jobs instead of waiting forever."""
LOST_ATTEMPTS = 3
"""A retry-safe job lost in crashes is started at most max(max_attempts, this) times."""

HOST = socket.gethostname()


def lost_reason(worker: str | None) -> str:
    """The error recorded on a job whose worker died."""
    return f"worker lost: {worker or 'unknown worker'} stopped responding"


def resolve(job: Job, registry: Registry, reason: str) -> Outcome:
    """Requeue a job whose run was lost if its type is retry-safe and under the cap; else fail."""
    try:
        kind = registry.get(job.type)
        retry_safe, cap = kind.retry_safe, max(job.max_attempts, LOST_ATTEMPTS)
    except UnknownJobType:
        retry_safe, cap = False, 0
    token = job.token or ""
    if retry_safe and job.attempts < cap:
        return Outcome(
            job.id,
            token,
            Status.PENDING,
            error=reason,
            progress=0.0,
            message=f"requeued (attempt {job.attempts} of {cap}): {reason}",
        )
    if retry_safe:
        reason = f"{reason}; gave up after {job.attempts} attempts"
    return Outcome(job.id, token, Status.FAILED, error=reason, message=reason)


# -- processes started by jobs --------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return raw[raw.rfind(b")") + 2 :].decode("ascii", "replace").split()


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if it does not exist."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def describe_process(pid: int, token: str) -> JobProcess | None:
    """What to record about a process group led by pid (None where /proc is missing); its
    pid and start time also give the attempt's proctree token, for a kill after a crash."""
    started = start_time(pid)
    return None if started is None else JobProcess(token, HOST, pid, started)


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields and len(fields) > 2 and fields[2] == str(pgid):
                members.append(int(entry))
    return members


def kill_group(process: JobProcess) -> bool:
    """SIGKILL an orphaned job's processes, never a process that merely reused its pid.

    Every process carrying the attempt's proctree token goes, whatever session or group it
    moved to (the token holds the leader's pid, start time and boot, so no other attempt
    has it). Then the group, as before: a live leader must have the recorded start time;
    without a leader, the kernel does not hand out a pid that is still some group's id, so
    remaining members are the job's own.
    """
    if process.host != HOST or process.pgid <= 1 or process.pgid == os.getpgrp():
        return False
    killed = proctree.kill_token(proctree.token_for(process.pgid, process.start_time)) > 0
    leader = start_time(process.pgid)
    if leader is not None and leader != process.start_time:
        return killed
    if leader is None and not _group_members(process.pgid):
        return killed
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pgid, signal.SIGKILL)
        return True
    return killed


# -- recovery -------------------------------------------------------------------------------


async def recover(
    store: Store, registry: Registry, now: float, dead_after: float = DEAD_AFTER
) -> list[Job]:
    """Resolve every job whose worker is dead: kill its processes, then requeue or fail it.

    Also removes what a big submit that died before committing left behind."""
    await store.sweep_batches()
    orphans = await store.orphans(now, dead_after)
    if not orphans:
        return []
    outcomes = [resolve(job, registry, lost_reason(job.worker)) for job in orphans]
    # The verdict is checked again in the same step as the takeover: a worker that came
    # back since orphans() keeps its jobs (and its processes).
    changed = await store.take_over(outcomes, now, dead_after)
    spent = {job.id: job.token for job in orphans}
    for job in changed:
        # That attempt is over now: whatever it started goes (a live worker that was
        # wrongly judged dead learns at its next heartbeat and stops the run itself).
        process = await store.job_process(job.id)
        if process is not None and process.token == spent[job.id]:
            kill_group(process)
        await store.set_job_process(job.id, None)
    return changed


def resolve_interrupted(jobs: Sequence[Job], registry: Registry, reason: str) -> list[Outcome]:
    """Outcomes for runs this worker stopped itself (graceful stop past its grace period)."""
    return [resolve(job, registry, reason) for job in jobs]


class Heartbeat:
    """Keeps a worker's row fresh from a thread with its own store connection.

    Job code that blocks the event loop cannot delay it; but once the loop has not ticked
    for STALL_LIMIT seconds the beats stop, so other workers recover the stuck worker's jobs.
    """

    def __init__(
        self,
        open_store: Callable[[], Store],
        worker_id: str,
        load: Callable[[], tuple[int, int]],
        clock: Callable[[], float],
        interval: float = HEARTBEAT_INTERVAL,
    ) -> None:
        self._open_store = open_store
        self._worker_id = worker_id
        self._load = load
        self._clock = clock
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.tick = time.monotonic()
        """Set by the engine's event loop; a stale tick means the loop is blocked."""
        self.attempts: dict[int, str] = {}
        """Job id -> token of the worker's runs, set by the engine's loop: each beat asks the
        store which of them another attempt took over..."""
        self.superseded: deque[Superseded] = deque()
        """...and leaves them here for the loop to stop (a deque: safe across threads)."""
        self.error: BaseException | None = None

    def take_superseded(self) -> list[Superseded]:
        """The superseded runs the beats found since the last call (the loop's side)."""
        found = []
        while self.superseded:
            found.append(self.superseded.popleft())
        return found

    def start(self) -> None:
        """Start beating in a daemon thread."""
        self._thread = threading.Thread(target=self._main, name="tuiqueue-heartbeat", daemon=True)
        self._thread.start()

    def signal_stop(self) -> None:
        """Ask the thread to stop beating, without waiting for it."""
        self._stop.set()

    def stop(self) -> None:
        """Stop beating (the caller marks the worker stopped)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _main(self) -> None:
        try:
            anyio.run(self._beat)
        except BaseException as exc:  # reported by the engine; never kill the process
            logger.error("heartbeat of worker %s stopped: %r", self._worker_id, exc, exc_info=exc)
            self.error = exc

    async def _beat(self) -> None:
        store = self._open_store()
        await store.open()
        try:
            while not self._stop.is_set():
                if time.monotonic() - self.tick < STALL_LIMIT:
                    running, processed = self._load()
                    self.superseded.extend(
                        await store.heartbeat(
                            self._worker_id, running, processed, self._clock(), self.attempts
                        )
                    )
                await anyio.to_thread.run_sync(self._stop.wait, self._interval)
        finally:
            await store.close()
