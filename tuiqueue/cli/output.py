"""What the command line prints, without click: the fast path (fast.py) and the click
commands print through the same functions, so their output is the same by construction."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tuiqueue.core.lifecycle import UnknownJob
from tuiqueue.core.status import ACTIVE, TERMINAL, Status, TransitionError
from tuiqueue.core.text import clean
from tuiqueue.store.base import StoreError

if TYPE_CHECKING:
    from tuiqueue.core.job import Job
    from tuiqueue.core.params import ValidationError
    from tuiqueue.core.records import Stats, Step
    from tuiqueue.core.schedule import Origin


def echo(message: object = "", err: bool = False) -> None:
    """A line to stdout (or stderr), flushed: what click.echo does with a str on a UTF-8
    stream (its ANSI stripping has nothing to strip: user text goes through `safe`)."""
    stream = sys.stderr if err else sys.stdout
    stream.write(f"{message}\n")
    stream.flush()


def loaded(module: str, *names: str) -> tuple[type[BaseException], ...]:
    """These exception classes of `module` if it is imported, else none: nothing can raise an
    exception whose module never ran, so `list` need not import the registry and params (with
    inspect, pathlib and urllib) only to test for their errors."""
    found = sys.modules.get(module)
    return () if found is None else tuple(getattr(found, name) for name in names)


def refusal(exc: BaseException) -> str | None:
    """The one-line message for an expected failure (printed as `Error: ...`, exit status
    2); None for anything else."""
    params = sys.modules.get("tuiqueue.core.params")
    if params is not None and isinstance(exc, params.ValidationError):
        errors: ValidationError = exc
        return "; ".join(errors.errors.values())
    clear = (
        UnknownJob,
        TransitionError,
        StoreError,
        *loaded("tuiqueue.core.preset", "UnknownPreset"),
        *loaded("tuiqueue.core.registry", "UnknownJobType", "JobModuleError"),
    )
    if isinstance(exc, clear):
        return str(exc.args[0] if exc.args else exc)
    if isinstance(exc, ValueError):
        return str(exc)
    return None


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


def echo_json(value: Any) -> None:
    """Print JSON (ASCII-safe, so escape sequences in user text never reach the terminal raw)."""
    echo(json.dumps(value, indent=2, ensure_ascii=True))


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
        echo(f"{key + ':':<10} {value}")
    if job.result is not None:
        echo("result:")
        echo(safe(json.dumps(job.result, indent=2, ensure_ascii=False)).replace("\\n", "\n"))
    if job.error:
        # Line by line (each cleaned): a command's last lines read as lines, not "\n".
        first, *rest = job.error.strip().splitlines() or [""]
        echo(f"error:    {safe(first)}")
        for line in rest:
            echo(f"{'':<10} {safe(line)}")
    if job.traceback:
        for line in job.traceback.splitlines():
            echo("  " + safe(line))


def print_list(jobs: Sequence[Job], why: dict[int, str], as_json: bool) -> None:
    """What `tuiqueue list` prints (why: each waiting job's reason)."""
    if as_json:
        echo_json([j.to_dict() for j in jobs])
        return
    lines = [LIST_HEADER, *(job_line(job, why.get(job.id)) for job in jobs)]
    echo("\n".join(lines))


def print_show(
    job: Job,
    reason: str | None,
    steps: Sequence[Step],
    origin: Origin | None,
    reruns: Sequence[int],
    as_json: bool,
) -> None:
    """What `tuiqueue show` prints."""
    if as_json:
        echo_json(
            {
                **job.to_dict(),
                "reruns": list(reruns),
                "steps": [step.to_dict() for step in steps],
                "schedule": None if origin is None else origin.to_dict(),
            }
        )
        return
    show_job(job, reason, reruns)
    if origin is not None:
        echo(f"{'schedule:':<10} {describe_origin(origin)}")
    for step in steps:
        took = "running" if step.finished is None else f"{step.finished - step.started:.2f}s"
        echo(f"step: {safe(step.name)} ({took})")


def print_stats(result: Stats, as_json: bool) -> None:
    """What `tuiqueue stats` prints."""
    if as_json:
        echo_json(result.to_dict())
        return
    for status, count in result.counts.items():
        echo(f"{status.value:<10} {count}")
    echo(f"{'queue':<10} {'paused' if result.queue_paused else 'running'}")


def command_said(job: Job, verb: str) -> str:
    """The line `tuiqueue cancel`, `pause` or `resume` prints for each job."""
    note = " (stopping)" if verb == "cancel" and job.status not in TERMINAL else ""
    return f"job {job.id}: {job.status}{note}"
