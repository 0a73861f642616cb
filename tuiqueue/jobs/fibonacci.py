"""fibonacci: the first N Fibonacci numbers."""

from __future__ import annotations

import time
from typing import Any

from tuiqueue.core.context import JobContext
from tuiqueue.core.params import Param
from tuiqueue.core.registry import job_type


@job_type(
    "fibonacci",
    description="Compute the first N Fibonacci numbers.",
    params=[
        Param("count", "int", default=50, min=1, max=1000, help="How many numbers to compute.")
    ],
    retry_safe=True,
)
async def fibonacci(ctx: JobContext, count: int) -> dict[str, Any]:
    """Compute count numbers from 1, 1, 2 (as the seed's example), reporting every 10;
    numbers over 2^53 are returned as text."""
    import anyio  # (not at the top: importing anyio is ~5 ms of every `tuiqueue submit`)

    started = time.perf_counter()
    numbers: list[int] = []
    a, b = 1, 1
    for i in range(1, count + 1):
        numbers.append(a)
        a, b = b, a + b
        if i % 10 == 0 or i == count:
            ctx.progress(100 * i / count, f"Computed {i}/{count} numbers")
            await ctx.checkpoint()
            await anyio.sleep(0)
    safe: list[int | str] = [n if n < 2**53 else str(n) for n in numbers]
    return {"numbers": safe, "duration": round(time.perf_counter() - started, 6)}
