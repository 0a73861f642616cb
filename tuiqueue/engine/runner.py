"""Running one claimed job: call its function, honour cancel/pause/timeout, build the Outcome."""

from __future__ import annotations

import asyncio
import json
import math
import threading
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread

from tuiqueue.core import logs
from tuiqueue.core.context import JobCancelled, JobContext, JobFailed
from tuiqueue.core.job import Job
from tuiqueue.core.lifecycle import Outcome
from tuiqueue.core.records import JobProcess
from tuiqueue.core.registry import JobType, Registry
from tuiqueue.core.status import Status
from tuiqueue.core.text import quote
from tuiqueue.engine.recovery import resolve

logger = logs.logger(__name__)

_new_outcome = tuple.__new__

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


class Slot:
    """One long-lived runner task: the unit that runs job bodies, one after another.

    Job bodies run in the runner task itself, inside the slot's cancel scope, which lasts for
    many jobs and is renewed only after a job was stopped (a cancel scope per job cost more
    than a no-op job). A body that ignores a stop for abandon_after seconds takes its slot
    with it: the slot is detached (it records nothing more and ends when the body finally
    does) and the engine starts another runner in its place.
    """

    __slots__ = ("current", "detached", "give_up", "scope", "task")

    def __init__(self, give_up: Callable[[Running], None]) -> None:
        self.scope: anyio.CancelScope | None = None
        self.current: Running | None = None
        """The run whose body executes now (only it may be stopped through the scope)."""
        self.detached = False
        self.task: asyncio.Task[None] | None = None
        self.give_up = give_up
        """Called once a stopped run's abandon_after has passed and it still runs."""


@dataclass(eq=False, slots=True)
class Running:
    """A job this engine is running right now."""

    job: Job
    ctx: JobContext
    abandon_after: float = ABANDON_AFTER
    slot: Slot | None = None
    """The runner executing its body (None until it starts)."""
    stopping: bool = False
    """Asked to stop (cancel, timeout, worker stopping)."""
    timed_out: bool = False
    interrupted: bool = False
    """Stopped because its worker is stopping (not cancelled by a person, not timed out)."""
    abandoned: bool = False
    """It did not stop within abandon_after seconds of being asked; its slot was released."""
    superseded: bool = False
    """Another attempt (or nobody) holds its job now: its token is spent, nothing of it is
    recorded, and its body is stopped at once."""
    ended: bool = False
    give_up: asyncio.TimerHandle | None = None
    timer: asyncio.TimerHandle | None = None
    """Its timeout (asyncio)."""
    thread_wait: anyio.CancelScope | None = None
    process: JobProcess | None = None
    """The process group its body started (a shell job's command), once recorded."""

    def interrupt(self) -> None:
        """Stop the run because the worker is stopping; it is requeued or failed by policy."""
        self.interrupted = True
        self._stop()

    def cancel(self) -> None:
        """Ask the job to stop: flag it and cancel its body."""
        self.ctx.set_cancelled()
        self._stop()

    def supersede(self) -> None:
        """Its attempt was taken over elsewhere: stop the body now (no grace for its
        processes) and stop waiting for a thread body; nothing of it will be recorded."""
        self.superseded = True
        self.ctx.stop_grace = 0.0  # a shell job SIGKILLs its processes at once
        if self.stopping:
            self.ctx.request_stop()
            slot = self.slot
            if slot is not None and slot.current is self and slot.scope is not None:
                slot.scope.cancel()  # (again: stop_grace 0 makes a stopping shell job hurry)
        else:
            self._stop()
        if self.thread_wait is not None:
            self.thread_wait.cancel()  # the thread learns at ctx.check(); no one waits for it

    def kill(self) -> None:
        """cancel --force: kill its process group at once (a shell or process job), cancel
        its task (async); a plain `def` in a thread cannot be killed and is only asked."""
        self.ctx.force()
        self._stop()

    def time_out(self) -> None:
        """Its timeout passed: ask it to stop."""
        if not self.stopping and not self.ended:
            self.timed_out = True
            self._stop()

    def _stop(self) -> None:
        self.ctx.request_stop()  # a thread job learns of it at ctx.check()
        if self.stopping or self.ended:
            return
        self.stopping = True
        slot = self.slot
        if slot is not None and slot.current is self:
            assert slot.scope is not None
            slot.scope.cancel()
            self.arm_give_up()

    def arm_give_up(self) -> None:
        """Give up on the body abandon_after seconds from now unless it ends (asyncio only)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not asyncio (trio): the body runs inline and cannot be abandoned
            return
        slot = self.slot
        if slot is not None and self.give_up is None:
            self.give_up = loop.call_later(self.abandon_after, slot.give_up, self)

    def end(self) -> None:
        """The body is over (or given up on): no more stops or timers for it."""
        self.ended = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.give_up is not None:
            self.give_up.cancel()
            self.give_up = None
        if self.slot is not None and self.slot.current is self:
            self.slot.current = None


def _error(exc: BaseException) -> tuple[str, str | None]:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, JobFailed):  # the job explained itself: no frames of ours
        return text, None
    message = text if isinstance(exc, JobCancelled) else f"{type(exc).__name__}: {text}"
    return message, "".join(traceback.format_exception(exc))


def _json_safe(value: Any) -> Any:
    """Round-trip through JSON so the stored result is exactly what readers get back."""
    if value is None or type(value) in (str, int, bool):
        return value  # already exactly what JSON gives back; skip the round trip
    return json.loads(json.dumps(value, allow_nan=False))


def not_loaded(run: Running) -> Outcome:
    """Its type is not loaded here (claims take loaded types only): put it back, unfailed."""
    job = run.job
    return Outcome(
        job.id,
        job.token or "",
        Status.PENDING,
        message=f"waiting for a worker with type {quote(job.type)}",
    )


def timeout_of(job: Job, kind: JobType) -> float | None:
    """The job's timeout in seconds, or None."""
    timeout = job.timeout if job.timeout is not None else kind.timeout
    return timeout if timeout and math.isfinite(timeout) else None


def begin(
    run: Running, kind: JobType, slot: Slot, threads: anyio.CapacityLimiter | None = None
) -> Awaitable[Any]:
    """Start the job's body in this runner task: what the runner awaits for its result.

    The runner awaits it inside slot.scope, with run.end() once it is over, however it ends:
    a stop cancels that scope, so the cancellation propagates out to the runner. A body that
    ignores a stop (swallows cancellation, or a thread that never calls ctx.check()) is given
    up on after abandon_after seconds (Running.arm_give_up). A body that never awaits blocks
    the whole event loop instead; nothing in the loop can help then, so the heartbeat thread
    stops beating and other workers take its jobs over (recovery.STALL_LIMIT).

    Synchronous on purpose: one coroutine frame less per job than an async wrapper.
    """
    job, ctx = run.job, run.ctx
    run.slot = slot
    slot.current = run
    body: Awaitable[Any]
    if kind.isolation == "process":
        # Imported with the first such job: most workers (and every dashboard that only
        # watches) never start a child process.
        from tuiqueue.engine.isolation import run_in_process

        body = run_in_process(job, kind, ctx)
    elif kind.is_async:
        body = kind.fn(ctx, **job.params)
    else:
        body = _thread_body(run, kind, ctx, threads)
    timeout = timeout_of(job, kind)
    if timeout is not None:
        try:
            run.timer = asyncio.get_running_loop().call_later(timeout, run.time_out)
        except RuntimeError:  # not asyncio (trio): a deadline scope instead of a timer
            return _with_deadline(run, body, timeout)
    return body


async def _with_deadline(run: Running, body: Awaitable[Any], timeout: float) -> Any:
    with anyio.CancelScope(deadline=anyio.current_time() + timeout):
        return await body
    run.timed_out = run.stopping = True
    return None


async def _thread_body(
    run: Running, kind: JobType, ctx: JobContext, threads: anyio.CapacityLimiter | None
) -> Any:
    # A thread cannot be interrupted: a stop asks it (ctx.check() raises) and keeps waiting;
    # only giving up on the run stops the waiting (the thread runs on).
    done = threading.Event()

    def call() -> Any:
        try:
            return kind.fn(ctx, **run.job.params)
        finally:
            done.set()

    asyncio_loop = _on_asyncio()
    value = None
    with anyio.CancelScope(shield=asyncio_loop) as run.thread_wait:
        # threads: the engine's limiter, as many threads as jobs may run (else anyio's 40).
        value = await anyio.to_thread.run_sync(call, abandon_on_cancel=True, limiter=threads)
    run.thread_wait = None
    if not done.is_set():  # given up on: the thread still runs
        _abandoned.append(lambda: not done.is_set())
    return value


def _on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def abandon(run: Running, slot: Slot) -> bool:
    """Give up on a stopped run that still runs: True if its slot was detached (an async
    body keeps the runner task busy), False for a thread job (the runner stops waiting)."""
    run.abandoned = True
    if run.thread_wait is not None:
        run.thread_wait.cancel()  # the runner resumes and records the abandoned outcome
        return False
    slot.detached = True
    task = slot.task
    if task is not None:
        _abandoned.append(lambda: not task.done())
    run.end()
    return True


def outcome(
    run: Running,
    registry: Registry,
    now: Callable[[], float],
    result: Any = None,
    error: Exception | None = None,
) -> Outcome:
    """How the run ended, from its flags and what its body returned or raised."""
    job, ctx = run.job, run.ctx
    token = job.token or ""
    if error is None and not run.stopping and (result is None or type(result) in (str, int, bool)):
        # The common case first, built directly (no JSON round trip, no flags to weigh, and
        # tuple.__new__ rather than the NamedTuple's Python-level __new__).
        return _new_outcome(
            Outcome,
            (
                job.id,
                token,
                Status.COMPLETED,
                result,
                None,
                None,
                None,
                100.0,
                ctx.message or "done",
            ),
        )
    try:
        if run.abandoned:
            why = (
                "cancel"
                if ctx.cancelled
                else "its timeout"
                if run.timed_out
                else "its worker stopped"
            )
            reason = f"did not stop within {run.abandon_after:g}s after {why}; abandoned"
            if run.interrupted and not ctx.cancelled:
                return resolve(job, registry, f"interrupted: {reason}")
            return Outcome(
                job.id, token, Status.FAILED, error=reason, message=reason, progress=ctx.percent
            )
        if run.stopping:
            if ctx.cancelled:
                return Outcome(
                    job.id, token, Status.CANCELLED, message="cancelled", progress=ctx.percent
                )
            if run.interrupted:
                return resolve(job, registry, "interrupted: its worker stopped before it finished")
            if run.timed_out:
                timeout = timeout_of(job, registry.get(job.type))
                raise TimeoutError(f"timed out after {timeout or 0:g}s")
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
