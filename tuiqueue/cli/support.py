"""Helpers for the command line: errors with exit status 2, durations, text output."""

from __future__ import annotations

import re
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import click

from tuiqueue.cli.output import (
    LIST_HEADER,
    ago,
    describe_origin,
    echo_json,
    human_seconds,
    job_line,
    refusal,
    run_time,
    safe,
    said,
    show_job,
    stamp,
)
from tuiqueue.core.status import Status

if TYPE_CHECKING:
    from tuiqueue.core.job import Job

__all__ = [
    "EXIT_CANCELLED",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "LIST_HEADER",
    "BadInput",
    "ago",
    "describe_origin",
    "echo_json",
    "exit_code",
    "friendly_errors",
    "human_seconds",
    "job_line",
    "parse_duration",
    "parse_pairs",
    "run",
    "run_time",
    "safe",
    "said",
    "show_job",
    "stamp",
    "stderr",
]

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


def _bad_input(exc: BaseException) -> BadInput | None:
    """The clear message for an expected failure; None for anything else."""
    if isinstance(exc, BadInput):
        return exc  # raised inside a task group, which wrapped it
    message = refusal(exc)
    return None if message is None else BadInput(message)


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


def parse_duration(text: str) -> float:
    """'90', '90s', '15m', '12h', '7d', '2w' -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text.lower())
    if not match:
        raise BadInput(f"{text!r} is not a duration; use e.g. 30s, 15m, 12h or 7d")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def stderr(message: str) -> None:
    """A status line for people, kept out of stdout (which scripts read)."""
    print(message, file=sys.stderr, flush=True)
