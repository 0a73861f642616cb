"""echo: return a message after a delay."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tuiqueue.core.context import JobContext
from tuiqueue.core.params import Param
from tuiqueue.core.registry import job_type

TICK = 0.25


@job_type(
    "echo",
    description="Echo a message back after a delay.",
    params=[
        Param(
            "message",
            "str",
            default="Hello from tuiqueue!",
            max_length=1000,
            help="The text to echo back.",
        ),
        Param("delay", "int", default=2, min=1, max=30, help="Seconds to wait first."),
    ],
    retry_safe=True,
)
async def echo(ctx: JobContext, message: str, delay: int) -> dict[str, Any]:
    """Wait `delay` seconds (reporting progress), then return the message."""
    import anyio  # (not at the top: importing anyio is ~5 ms of every `tuiqueue submit`)

    steps = int(delay / TICK)
    for step in range(1, steps + 1):
        await anyio.sleep(TICK)
        await ctx.checkpoint()
        ctx.progress(100 * step / steps, f"Echoing in {max(0.0, delay - step * TICK):.1f}s...")
    ctx.log(message)
    ctx.progress(100, "Echoed")
    return {"message": message, "echoed_at": datetime.now(UTC).isoformat()}
