"""countdown: wait N seconds, reporting each second."""

from __future__ import annotations

from typing import Any

from tuiqueue.core.context import JobContext
from tuiqueue.core.params import Param
from tuiqueue.core.registry import job_type


@job_type(
    "countdown",
    description="Count down N seconds, reporting progress every second.",
    params=[Param("seconds", "int", default=10, min=1, max=60, help="How long to count down.")],
    retry_safe=True,
)
async def countdown(ctx: JobContext, seconds: int) -> dict[str, Any]:
    """Count down, one progress report per second."""
    import anyio  # (not at the top: importing anyio is ~5 ms of every `tuiqueue submit`)

    ctx.progress(0, _remaining(seconds))
    for done in range(1, seconds + 1):
        await anyio.sleep(1)
        await ctx.checkpoint()
        left = seconds - done
        ctx.progress(100 * done / seconds, _remaining(left) if left else "Done")
    return {"message": "Countdown complete!"}


def _remaining(seconds: int) -> str:
    return f"{seconds} second{'' if seconds == 1 else 's'} remaining..."
