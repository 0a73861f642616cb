"""Helpers for the command line: errors with exit status 2, durations, text output."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tuiqueue.core.lifecycle import UnknownJob
from tuiqueue.core.preset import UnknownPreset
from tuiqueue.core.status import ACTIVE, Status, TransitionError
from tuiqueue.core.text import clean
from tuiqueue.store.base import StoreError

if TYPE_CHECKING:
    from tuiqueue.core.job import Job
    from tuiqueue.core.params import ValidationError
    from tuiqueue.core.schedule import Origin

T = TypeVar("T")

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class BadInput(click.ClickException):
    """A one-line error, exit status 2, nothing changed."""

    exit_code = 2


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn every expected failure into a BadInput with a clear message."""
    try:
        yield
    except BaseExceptionGroup as group:
        # A task group (the engine's) wraps what failed inside it: say what failed.
        bad = _bad_input(_only(group))
        if bad is None:
            raise
        raise bad from group
    except Exception as exc:
        bad = _bad_input(exc)
        if bad is None:
            raise
        raise bad from exc


def _only(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one exception inside nested single-exception groups (else the group itself)."""
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _loaded(module: str, *names: str) -> tuple[type[BaseException], ...]:
    """These exception classes of `module` if it is imported, else none: nothing can raise an
    exception whose module never ran, so `list` need not import the registry and params (with
    inspect, pathlib and urllib) only to test for their errors."""
    found = sys.modules.get(module)
    return () if found is None else tuple(getattr(found, name) for name in names)


def _bad_input(exc: BaseException) -> BadInput | None:
    """The clear message for an expected failure; None for anything else."""
    if isinstance(exc, BadInput):
        return exc  # raised inside a task group, which wrapped it
    params = sys.modules.get("tuiqueue.core.params")
    if params is not None and isinstance(exc, params.ValidationError):
        errors: ValidationError = exc
        return BadInput("; ".join(errors.errors.values()))
    clear = (
        UnknownJob,
        UnknownPreset,
        TransitionError,
        StoreError,
        *_loaded("tuiqueue.core.registry", "UnknownJobType", "JobModuleError"),
    )
    if isinstance(exc, clear):
        return BadInput(str(exc.args[0] if exc.args else exc))
    if isinstance(exc, ValueError):
        return BadInput(str(exc))
    return None


def run(fn: Callable[[], Awaitable[T]]) -> T:
    """Run an async command body with friendly errors."""
    import anyio  # not at the top: the short commands on SQLite run without an event loop

    with friendly_errors():
        return anyio.run(fn)


EXIT_FAILED = 1
EXIT_CANCELLED = 3
EXIT_INTERRUPTED = 130


def exit_code(jobs: Sequence[Job]) -> int:
    """0 all completed, 1 any failed, 3 any cancelled (and none failed)."""
    statuses = {j.status for j in jobs}
    if Status.FAILED in statuses:
        return EXIT_FAILED
    if Status.CANCELLED in statuses:
        return EXIT_CANCELLED
    return 0


def parse_pairs(pairs: Sequence[str]) -> list[tuple[str, str]]:
    """-p NAME=VALUE options as (name, text) pairs."""
    out = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise BadInput(f"-p takes NAME=VALUE (got {pair!r})")
        out.append((name.strip(), value))
    return out


def stamp(when: float | None) -> str:
    """A local date and time, or "-"."""
    if when is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))


def describe_origin(origin: Origin | None) -> str | None:
    """The `show` line for a job a schedule made."""
    if origin is None:
        return None
    how = {"manual": " (schedule run)", "catch-up": f" (catch-up for {origin.missed} slots)"}
    return f"{safe(origin.schedule)}, slot {stamp(origin.slot)}{how.get(origin.kind, '')}"


def parse_duration(text: str) -> float:
    """'90', '90s', '15m', '12h', '7d', '2w' -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text.lower())
    if not match:
        raise BadInput(f"{text!r} is not a duration; use e.g. 30s, 15m, 12h or 7d")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def echo_json(value: Any) -> None:
    """Print JSON (ASCII-safe, so escape sequences in user text never reach the terminal raw)."""
    click.echo(json.dumps(value, indent=2, ensure_ascii=True))


def safe(text: str) -> str:
    """User text for a terminal: control characters shown as escapes, never executed."""
    return clean(text).replace("\n", "\\n")


def ago(ts: float | None) -> str:
    """'12s ago', '3m ago'..."""
    if ts is None:
        return "-"
    return f"{human_seconds(max(0.0, time.time() - ts))} ago"


def human_seconds(seconds: float) -> str:
    """1.5s, 3m20s, 2h05m, 3d04h."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"
    return f"{int(seconds // 86400)}d{int(seconds % 86400 // 3600):02d}h"


def run_time(job: Job, now: float) -> float | None:
    """Seconds a job has run: start to now while it runs (its updated_at is only its last
    progress report), else as recorded (start to finish, or to when it was requeued)."""
    if job.started_at is not None and job.status in ACTIVE and job.finished_at is None:
        return max(0.0, now - job.started_at)
    return job.duration


def said(job: Job) -> str:
    """What a job's row says: a failed job's error (its first line), else its message."""
    if job.status is Status.FAILED and job.error:
        return job.error.strip().splitlines()[0]
    return job.message


def job_line(job: Job, waiting: str | None = None, now: float | None = None) -> str:
    """One row of `tuiqueue list` (waiting: why it is not starting, shown as its message)."""
    took = run_time(job, time.time() if now is None else now)
    duration = human_seconds(took) if took is not None else "-"
    message = safe(waiting or said(job))[: 80 if waiting else 60]
    return (
        f"{job.id:>6}  {safe(job.type):<12} {safe(job.queue):<10} {job.status.value:<10} "
        f"{job.priority!s:<8} {job.progress:>5.0f}%  {duration:>8}  {message}"
    )


LIST_HEADER = (
    f"{'ID':>6}  {'TYPE':<12} {'QUEUE':<10} {'STATUS':<10} {'PRIORITY':<8} {'PROG':>6}  "
    f"{'TIME':>8}  MESSAGE"
)


def show_job(job: Job, waiting: str | None = None, reruns: Sequence[int] = ()) -> None:
    """The human-readable form of `tuiqueue show` (reruns: the jobs rerun from this one)."""
    rows = [
        ("id", str(job.id)),
        ("type", safe(job.type)),
        ("queue", safe(job.queue)),
        ("status", job.status.value + (f" ({safe(waiting)})" if waiting else "")),
        ("priority", str(job.priority)),
        ("progress", f"{job.progress:.0f}% {safe(job.message)}"),
        ("params", safe(json.dumps(job.params, ensure_ascii=False))),
        ("created", ago(job.created_at)),
        ("started", ago(job.started_at)),
        ("finished", ago(job.finished_at)),
        ("attempts", f"{job.attempts}/{job.max_attempts}"),
        ("worker", safe(job.worker or "-")),
    ]
    if job.run_at:
        rows.append(("run at", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(job.run_at))))
    if job.depends_on:
        rows.append(("after", ", ".join(map(str, job.depends_on))))
    if job.rerun_of:
        rows.append(("rerun of", str(job.rerun_of)))
    if reruns:
        rows.append(("rerun as", ", ".join(map(str, reruns))))
    for key, value in rows:
        click.echo(f"{key + ':':<10} {value}")
    if job.result is not None:
        click.echo("result:")
        click.echo(safe(json.dumps(job.result, indent=2, ensure_ascii=False)).replace("\\n", "\n"))
    if job.error:
        # Line by line (each cleaned): a command's last lines read as lines, not "\n".
        first, *rest = job.error.strip().splitlines() or [""]
        click.echo(f"error:    {safe(first)}")
        for line in rest:
            click.echo(f"{'':<10} {safe(line)}")
    if job.traceback:
        for line in job.traceback.splitlines():
            click.echo("  " + safe(line), err=False)


def stderr(message: str) -> None:
    """A status line for people, kept out of stdout (which scripts read)."""
    print(message, file=sys.stderr, flush=True)
