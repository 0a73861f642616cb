"""The on-finish callback (pueue's): a shell command run for each job that finishes.

The job is described to the command in its environment (TUIQUEUE_JOB_ID, _STATUS, _TYPE,
_QUEUE, _DURATION, _ATTEMPTS, _ERROR), never in the command string, so no job text can
inject into the shell. Which jobs: those the engine's own worker ran to an end, when it has
a worker (so a fleet of workers runs it once per job, not once per worker); every job an
engine without a worker sees finish (a watching dashboard). Callbacks run in the background,
a few at once, each bounded by a timeout; a failing one is reported in one line and never
stops the engine.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress

import anyio
from anyio.abc import Process

from tuiqueue.core import logs
from tuiqueue.core.events import Event, EventBus, EventKind, Subscription
from tuiqueue.core.job import Job
from tuiqueue.core.status import TERMINAL
from tuiqueue.core.text import one_line

logger = logs.logger(__name__)

LIMIT = 4
"""Callbacks running at once; more finished jobs wait their turn."""
TIMEOUT = 60.0
"""Seconds a callback may run before it is killed (with its process group)."""
CLOSE_WAIT = 10.0
"""When the engine stops, callbacks still running get this long before they are killed."""
ERROR_LIMIT = 2_000
"""Characters of a job's error passed in TUIQUEUE_JOB_ERROR."""
STDERR_TAIL = 300
"""Characters of a failing callback's stderr quoted in its one-line report."""
REMEMBERED = 10_000
"""Job ids remembered so a job republished as finished (a resync, a retry of the write) is
called back once."""


def job_environment(job: Job) -> dict[str, str]:
    """The TUIQUEUE_JOB_* variables describing a finished job to its callback."""
    duration = job.duration
    error = (job.error or "")[:ERROR_LIMIT].replace("\0", "")  # an environment holds no NUL
    return {
        "TUIQUEUE_JOB_ID": str(job.id),
        "TUIQUEUE_JOB_STATUS": str(job.status),
        "TUIQUEUE_JOB_TYPE": job.type,
        "TUIQUEUE_JOB_QUEUE": job.queue,
        "TUIQUEUE_JOB_DURATION": "" if duration is None else f"{duration:.3f}",
        "TUIQUEUE_JOB_ATTEMPTS": str(job.attempts),
        "TUIQUEUE_JOB_ERROR": error,
    }


class OnFinish:
    """Runs `command` through the shell for each job that finishes (see the module doc)."""

    def __init__(
        self,
        command: str,
        *,
        notice: Callable[[int, str], None] | None = None,
        limit: int = LIMIT,
        timeout: float = TIMEOUT,
        close_wait: float = CLOSE_WAIT,
    ) -> None:
        if not command.strip():
            raise ValueError("--on-finish needs a command, e.g. --on-finish 'notify-send done'")
        if limit < 1:
            raise ValueError("the on-finish limit must be at least 1")
        self.command = command
        self.notice = notice
        """Called with (job id, one line) when a callback fails (the engine publishes it)."""
        self.limit = limit
        self.timeout = timeout
        self.close_wait = close_wait
        self.started = 0
        """Callbacks started so far."""
        self.failed = 0
        """Callbacks that exited non-zero, timed out or could not start."""
        self._seen: OrderedDict[int, None] = OrderedDict()

    def wanted(self, event: Event, worker_id: str | None) -> Job | None:
        """The finished job this event reports, if it is one to call back for (once)."""
        job = event.job
        if event.kind is not EventKind.JOB or job is None or job.status not in TERMINAL:
            return None
        if worker_id is not None and job.worker != worker_id:
            return None  # another worker's job: its own process calls back for it
        if job.id in self._seen:
            return None
        self._seen[job.id] = None
        if len(self._seen) > REMEMBERED:
            self._seen.popitem(last=False)
        return job

    @asynccontextmanager
    async def listening(self, bus: EventBus, worker_id: str | None) -> AsyncIterator[None]:
        """Call back for the jobs published on `bus` while the body runs (worker_id: only
        that worker's jobs; None: every job); at the end, those still running get
        close_wait seconds. Cancelled, it kills them at once."""
        subscription = bus.subscribe()
        done = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._consume, subscription, worker_id, done)
            try:
                yield
            finally:
                bus.unsubscribe(subscription)  # the consumer takes what is left, then ends
                with anyio.move_on_after(self.close_wait):
                    await done.wait()
                tg.cancel_scope.cancel()

    async def _consume(
        self, subscription: Subscription, worker_id: str | None, done: anyio.Event
    ) -> None:
        slots = anyio.Semaphore(self.limit)
        try:
            async with anyio.create_task_group() as calls:
                async for event in subscription:
                    job = self.wanted(event, worker_id)
                    if job is not None:
                        calls.start_soon(self._call, job, slots)
        finally:
            done.set()

    async def _call(self, job: Job, slots: anyio.Semaphore) -> None:
        async with slots:
            self.started += 1
            env = {**os.environ, **job_environment(job)}
            try:
                with anyio.fail_after(self.timeout):
                    code, tail = await self._run(env)
            except TimeoutError:
                self._failed(job, f"did not finish within {self.timeout:g}s and was killed")
                return
            except OSError as exc:
                self._failed(job, f"could not start: {exc}")
                return
            if code != 0:
                self._failed(job, f"exited with code {code}" + (f": {tail}" if tail else ""))

    async def _run(self, env: Mapping[str, str]) -> tuple[int, str]:
        """Run the command; its exit code and the last line of its stderr. Its output is
        not shown: a dashboard's screen would be garbled by it."""
        process = await anyio.open_process(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,  # its own group: a timeout kills what it started too
        )
        try:
            tail = b""
            if process.stderr is not None:
                async for chunk in process.stderr:
                    tail = (tail + chunk)[-STDERR_TAIL * 4 :]
            code = await process.wait()
            lines = tail.decode(errors="replace").strip().splitlines()
            return code, one_line(lines[-1], STDERR_TAIL) if lines else ""
        finally:
            with anyio.CancelScope(shield=True):
                await _reap(process)

    def _failed(self, job: Job, why: str) -> None:
        self.failed += 1
        message = f"on-finish command for job {job.id} ({job.status}) {why}"
        logger.warning("%s", message)
        if self.notice is not None:
            self.notice(job.id, message)


async def _reap(process: Process) -> None:
    """Kill a callback still running (timed out, or the engine was cancelled) and its group."""
    if process.returncode is None:
        with suppress(ProcessLookupError, PermissionError):  # (it ended meanwhile)
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
    await process.aclose()
