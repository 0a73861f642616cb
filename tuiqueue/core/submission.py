"""A submission checked before it is stored: the engine's and the command line's one rule."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tuiqueue.core.job import NewJob
from tuiqueue.core.params import MAX_INT
from tuiqueue.core.queues import DEFAULT_QUEUE, check_queue_name
from tuiqueue.core.registry import Registry
from tuiqueue.core.status import Priority

MAX_ATTEMPTS = 1_000
"""The most runs a job may be allowed (retries after failures and crashes included)."""


def is_int(value: object) -> bool:
    """An int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """An int or float that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def new_job(
    registry: Registry,
    clock: Callable[[], float],
    type: str,
    params: Mapping[str, Any] | None = None,
    *,
    priority: Priority | str | int = Priority.NORMAL,
    delay: float | None = None,
    run_at: float | None = None,
    after: Sequence[int] = (),
    rerun_of: int | None = None,
    max_attempts: int | None = None,
    timeout: float | None = None,
    queue: str = DEFAULT_QUEUE,
) -> NewJob:
    """Validate a submission (raises UnknownJobType, ValidationError, QueueNameError or
    ValueError) without storing it; clock gives now for a delay."""
    kind = registry.get(type)
    check_queue_name(queue)
    clean = kind.schema.validate(params or {}, type)
    if delay is not None:
        if not (is_number(delay) and 0 <= delay < 10**9):
            raise ValueError("delay must be a number of seconds, 0 or more")
        run_at = clock() + delay
    if max_attempts is not None and not (
        is_int(max_attempts) and 1 <= max_attempts <= MAX_ATTEMPTS
    ):
        raise ValueError(f"max_attempts must be a whole number from 1 to {MAX_ATTEMPTS}")
    if timeout is not None and not (is_number(timeout) and 0 < timeout < 10**9):
        raise ValueError("timeout must be a positive number of seconds")
    # Ids must fit every store's 64-bit integers; a bool or a string is not an id.
    if not isinstance(after, list | tuple) or not all(
        is_int(i) and 0 < i <= MAX_INT for i in after
    ):
        raise ValueError("after must be a list of job ids")
    return NewJob(
        type=type,
        params=clean,
        priority=Priority.parse(priority),
        run_at=run_at,
        depends_on=tuple(after),
        rerun_of=rerun_of,
        max_attempts=max_attempts or kind.max_attempts,
        timeout=timeout,
        queue=queue,
    )
