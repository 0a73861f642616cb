"""Running one claimed job: call its function, honour cancel/pause/timeout, build the Outcome."""

from __future__ import annotations

import asyncio
import json
import math
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread

from tuiqueue.core.context import JobCancelled, JobContext
from tuiqueue.core.job import Job
from tuiqueue.core.lifecycle import Outcome
from tuiqueue.core.recovery import resolve
from tuiqueue.core.registry import Registry, UnknownJobType
from tuiqueue.core.status import Status

BACKOFF_BASE = 1.0
BACKOFF_MAX = 300.0


def backoff(attempt: int) -> float:
    """Seconds before retry number `attempt` (1, 2, 4, ... capped at 5 minutes)."""
    return min(BACKOFF_MAX, BACKOFF_BASE * 2.0 ** max(0, attempt - 1))


ABANDON_AFTER = 5.0
"""Seconds a job gets to stop after a cancel, its timeout or its worker stopping; after that
its slot is released and it is failed as abandoned (the queue keeps moving)."""

_abandoned: list[Callable[[], bool]] = []
"""Abandoned job bodies (a task or a thread), each as "is it still running?"; this also keeps
their tasks referenced so they are not collected mid-run."""


def abandoned_jobs() -> int:
    """How many abandoned job bodies still run in this process (they ignored every stop)."""
    _abandoned[:] = [running for running in _abandoned if running()]
    return len(_abandoned)


@dataclass(eq=False)
class Running:
    """A job this engine is running right now."""

    job: Job
    ctx: JobContext
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    """Around the job's body; cancelled to stop it."""
    timed_out: bool = False
    interrupted: bool = False
    """Stopped because its worker is stopping (not cancelled by a person, not timed out)."""
    abandoned: bool = False
    """It did not stop within abandon_after seconds of being asked; its slot was released."""
    abandon_after: float = ABANDON_AFTER
    give_up_at: float | None = None
    """Event-loop time after which the runner stops waiting for it (set when stop is asked)."""
    waiter: asyncio.Future[None] | None = None
    """What the runner awaits: resolved when the body ends, a deadline passes or stop is asked."""
    thread_wait: anyio.CancelScope | None = None

    def interrupt(self) -> None:
        """Stop the run because the worker is stopping; it is requeued or failed by policy."""
        self.interrupted = True
        self._stop()

    def cancel(self) -> None:
        """Ask the job to stop: flag it and cancel its task."""
        self.ctx.set_cancelled()
        self._stop()

    def _stop(self) -> None:
        self.ctx.request_stop()  # a thread job learns of it at ctx.check()
        self.scope.cancel()
        if self.give_up_at is None:
            self.give_up_at = anyio.current_time() + self.abandon_after
            _wake(self.waiter)  # the runner re-arms its deadline


def _error(exc: BaseException) -> tuple[str, str]:
    text = str(exc).strip() or type(exc).__name__
    message = text if isinstance(exc, JobCancelled) else f"{type(exc).__name__}: {text}"
    return message, "".join(traceback.format_exception(exc))


def _json_safe(value: Any) -> Any:
    """Round-trip through JSON so the stored result is exactly what readers get back."""
    if value is None or type(value) in (str, int, bool):
        return value  # already exactly what JSON gives back; skip the round trip
    return json.loads(json.dumps(value, allow_nan=False))


async def execute(run: Running, registry: Registry, now: Callable[[], float]) -> Outcome:
    """Run the job to its end and describe how it ended (never raises except on shutdown).

    The body runs in a task of its own that the runner waits for. A body that ignores a stop
    (swallows cancellation, or a thread that never calls ctx.check()) is given up on after
    abandon_after seconds: the run ends as failed and its slot is free, while the body runs on
    unreferenced by the engine. A body that never awaits blocks the whole event loop instead;
    nothing in the loop can help then, so the heartbeat thread stops beating and other
    workers take its jobs over (recovery.STALL_LIMIT).
    """
    job, ctx = run.job, run.ctx
    token = job.token or ""
    try:
        kind = registry.get(job.type)
    except UnknownJobType as exc:
        # Its module is no longer loaded here: fail this job clearly and keep working.
        return Outcome(
            job.id,
            token,
            Status.FAILED,
            error=f"{exc}; start the worker with --jobs MODULE that defines it",
            message=f"job type {job.type!r} is not loaded in this worker",
        )
    timeout = job.timeout if job.timeout is not None else kind.timeout
    if not (timeout and math.isfinite(timeout)):
        timeout = None
    ended: list[tuple[Any, Exception | None]] = []
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:  # not asyncio (trio): the body runs inline and cannot be abandoned
        loop = None
    thread_done: threading.Event | None = None

    def call() -> Any:
        assert thread_done is not None
        try:
            return kind.fn(ctx, **job.params)
        finally:
            thread_done.set()

    async def body() -> None:
        try:
            with run.scope:
                if kind.is_async:
                    value = await kind.fn(ctx, **job.params)
                else:
                    # A thread cannot be interrupted: a stop asks it (ctx.check() raises) and
                    # keeps waiting; only giving up on the run stops the waiting.
                    with anyio.CancelScope(shield=loop is not None) as run.thread_wait:
                        value = await anyio.to_thread.run_sync(call, abandon_on_cancel=True)
                ended.append((value, None))
        except Exception as exc:
            ended.append((None, exc))
        finally:
            if not ended:
                ended.append((None, None))
            _wake(run.waiter)

    if not kind.is_async:
        thread_done = threading.Event()
    task: asyncio.Task[None] | None = None
    try:
        if loop is None:
            if timeout is not None:
                run.scope.deadline = anyio.current_time() + timeout
            await body()
            if run.scope.cancel_called and not ctx.cancelled and not run.interrupted:
                run.timed_out = True
        else:
            # Plain asyncio here (a task, a future, a timer): this runs for every job, and
            # anyio's task groups and cancel scopes cost several times more.
            task = loop.create_task(body())
            task.add_done_callback(_retrieve)
            await _wait(run, loop, ended, timeout)
    finally:
        if not ended:  # given up on, or this runner is being cancelled
            run.scope.cancel()
            if run.thread_wait is not None and thread_done is not None:
                run.thread_wait.cancel()  # stop waiting for the thread (it runs on)
                _abandoned.append(lambda: not thread_done.is_set())
            elif task is not None:
                _abandoned.append(lambda: not task.done())
    return _outcome(run, registry, now, ended, timeout)


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


async def _wait(
    run: Running, loop: asyncio.AbstractEventLoop, ended: list[Any], timeout: float | None
) -> None:
    """Wait for the body: through its timeout, then up to abandon_after once asked to stop."""
    start = loop.time()
    while not ended:
        run.waiter = loop.create_future()
        when = run.give_up_at if run.give_up_at is not None else (
            start + timeout if timeout is not None else None)
        timer = None if when is None else loop.call_at(when, _wake, run.waiter)
        try:
            await run.waiter
        finally:
            run.waiter = None
            if timer is not None:
                timer.cancel()
        if ended:
            return
        if run.give_up_at is None:
            if timeout is not None and loop.time() >= start + timeout:
                run.timed_out = True  # its timeout passed: ask it to stop
                run._stop()
        elif loop.time() >= run.give_up_at:
            run.abandoned = True
            return


def _retrieve(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()  # a BaseException from an abandoned body is not an error to report


def _outcome(
    run: Running,
    registry: Registry,
    now: Callable[[], float],
    ended: list[tuple[Any, Exception | None]],
    timeout: float | None,
) -> Outcome:
    job, ctx = run.job, run.ctx
    token = job.token or ""
    stopped = run.give_up_at is not None or run.scope.cancel_called
    try:
        if run.abandoned:
            why = ("cancel" if ctx.cancelled else "its timeout" if run.timed_out
                   else "its worker stopped")
            reason = f"did not stop within {run.abandon_after:g}s after {why}; abandoned"
            if run.interrupted and not ctx.cancelled:
                return resolve(job, registry, f"interrupted: {reason}")
            return Outcome(job.id, token, Status.FAILED, error=reason, message=reason,
                           progress=ctx.percent)
        if stopped:
            if ctx.cancelled:
                return Outcome(
                    job.id, token, Status.CANCELLED, message="cancelled", progress=ctx.percent
                )
            if run.interrupted:
                return resolve(job, registry, "interrupted: its worker stopped before it finished")
            if run.timed_out:
                raise TimeoutError(f"timed out after {timeout or 0:g}s")
        result, error = ended[0] if ended else (None, None)
        if error is not None:
            raise error
        try:
            result = _json_safe(result)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"the job returned a result that is not JSON: {exc}") from exc
        return Outcome(
            job.id,
            token,
            Status.COMPLETED,
            result=result,
            progress=100.0,
            message=ctx.message or "done",
        )
    except JobCancelled:
        return Outcome(job.id, token, Status.CANCELLED, message="cancelled", progress=ctx.percent)
    except Exception as exc:
        if ctx.cancelled:
            return Outcome(
                job.id, token, Status.CANCELLED, message="cancelled", progress=ctx.percent
            )
        error_text, tb = _error(exc)
        if job.attempts < job.max_attempts:
            delay = backoff(job.attempts)
            return Outcome(
                job.id,
                token,
                Status.SCHEDULED,
                error=error_text,
                traceback=tb,
                run_at=now() + delay,
                progress=0.0,
                message=f"attempt {job.attempts} failed; retrying in {delay:g}s",
            )
        return Outcome(
            job.id,
            token,
            Status.FAILED,
            error=error_text,
            traceback=tb,
            progress=ctx.percent,
            message=ctx.message,
        )
