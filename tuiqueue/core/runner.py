"""Running one claimed job: call its function, honour cancel/pause/timeout, build the Outcome."""

from __future__ import annotations

import json
import math
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


@dataclass(eq=False)
class Running:
    """A job this engine is running right now."""

    job: Job
    ctx: JobContext
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    timed_out: bool = False
    interrupted: bool = False
    """Stopped because its worker is stopping (not cancelled by a person, not timed out)."""

    def interrupt(self) -> None:
        """Stop the run because the worker is stopping; it is requeued or failed by policy."""
        self.interrupted = True
        self.scope.cancel()

    def cancel(self) -> None:
        """Ask the job to stop: flag it and cancel its task."""
        self.ctx.set_cancelled()
        self.scope.cancel()


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
    """Run the job to its end and describe how it ended (never raises except on shutdown)."""
    job, ctx = run.job, run.ctx
    token = job.token or ""
    try:
        kind = registry.get(job.type)
    except UnknownJobType as exc:
        return Outcome(
            job.id,
            token,
            Status.FAILED,
            error=f"{exc}; start the worker with --jobs MODULE that defines it",
        )
    timeout = job.timeout if job.timeout is not None else kind.timeout
    try:
        with run.scope:
            if timeout and math.isfinite(timeout):  # a scope's deadline is infinite already
                run.scope.deadline = anyio.current_time() + timeout
            if kind.is_async:
                result = await kind.fn(ctx, **job.params)
            else:
                result = await anyio.to_thread.run_sync(
                    lambda: kind.fn(ctx, **job.params), abandon_on_cancel=True
                )
        if run.scope.cancelled_caught or run.scope.cancel_called:
            if run.interrupted and not ctx.cancelled:
                return resolve(job, registry, "interrupted: its worker stopped before it finished")
            if ctx.cancelled:
                return Outcome(
                    job.id, token, Status.CANCELLED, message="cancelled", progress=ctx.percent
                )
            run.timed_out = True
            raise TimeoutError(f"timed out after {timeout:g}s")
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
        error, tb = _error(exc)
        if job.attempts < job.max_attempts:
            delay = backoff(job.attempts)
            return Outcome(
                job.id,
                token,
                Status.SCHEDULED,
                error=error,
                traceback=tb,
                run_at=now() + delay,
                progress=0.0,
                message=f"attempt {job.attempts} failed; retrying in {delay:g}s",
            )
        return Outcome(
            job.id,
            token,
            Status.FAILED,
            error=error,
            traceback=tb,
            progress=ctx.percent,
            message=ctx.message,
        )
