"""A job type for the server bench (loaded into `tuiqueue serve` with --jobs)."""

from __future__ import annotations

import time

import anyio

from tuiqueue import JobContext, Param, job_type


@job_type(
    "beacon",
    description="Reports progress `beats` times, every `every` seconds, with the wall time.",
    params=[Param("beats", "int", default=20, min=1), Param("every", "float", default=0.5)],
)
async def beacon(ctx: JobContext, beats: int = 20, every: float = 0.5) -> None:
    """Each progress message is the time.time() at which it was reported."""
    await anyio.sleep(1.0)  # time for the subscribers to connect
    for i in range(beats):
        ctx.progress(100 * i / beats, repr(time.time()))
        await anyio.sleep(every)
