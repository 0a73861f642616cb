"""Job types for the reliability tests, loaded by workers with --jobs tests/rel_jobs.py."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import anyio

from tuiqueue.core.context import JobContext
from tuiqueue.core.params import Param
from tuiqueue.core.registry import job_type


@job_type(
    "rel_sleep",
    params=[
        Param("seconds", "float", default=0.05, min=0, max=600),
        Param("mark", "str", default=""),
    ],
    retry_safe=True,
)
async def rel_sleep(ctx: JobContext, seconds: float, mark: str) -> dict[str, Any]:
    """Sleep (retry-safe); append a line to the `mark` file each time it really finishes."""
    end = anyio.current_time() + seconds
    while anyio.current_time() < end:
        await anyio.sleep(min(0.02, seconds))
        await ctx.checkpoint()
    if mark:
        with open(mark, "a") as fh:
            fh.write(f"{ctx.job_id}\n")
    return {"pid": os.getpid()}


@job_type("rel_fragile", params=[Param("seconds", "float", default=30, min=0, max=600)])
async def rel_fragile(ctx: JobContext, seconds: float) -> None:
    """Sleep; not safe to run twice, so a lost run is failed rather than requeued."""
    await anyio.sleep(seconds)


@job_type("rel_swallow", params=[Param("seconds", "float", default=30, min=0, max=600)])
async def rel_swallow(ctx: JobContext, seconds: float) -> None:
    """Ignore cancellation: keeps sleeping when cancelled (a misbehaving job)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            await anyio.sleep(0.05)
        except BaseException:  # deliberately swallowed
            time.sleep(0.05)


@job_type("rel_spin", params=[Param("seconds", "float", default=30, min=0, max=600)])
async def rel_spin(ctx: JobContext, seconds: float) -> None:
    """Never await: blocks the event loop for `seconds`."""
    time.sleep(seconds)


@job_type("rel_touch", params=[Param("path", "str", required=True)], retry_safe=True)
async def rel_touch(ctx: JobContext, path: str) -> None:
    """Append the job id to a file (to count how often jobs run)."""
    with Path(path).open("a") as fh:
        fh.write(f"{ctx.job_id}\n")


@job_type(
    "rel_params",
    params=[
        Param("i", "int"),
        Param("r", "int", min=0, max=100),
        Param("f", "float"),
        Param("g", "float", min=0, max=1),
        Param("s", "str"),
        Param("big", "str", max_length=2_000_000),
        Param("b", "bool"),
        Param("c", "choice", choices=("a", "[b]", "é")),
        Param("l", "list"),
        Param("u", "urls"),
    ],
)
async def rel_params(ctx: JobContext, **params: Any) -> None:
    """One parameter of every kind, for the fuzz tests; never run."""
