"""primes: a sieve of Eratosthenes up to a limit."""

from __future__ import annotations

import math
import time
from typing import Any

from tuiqueue.core.context import JobContext
from tuiqueue.core.params import Param
from tuiqueue.core.registry import job_type


@job_type(
    "primes",
    description="Find every prime up to a limit with the sieve of Eratosthenes.",
    params=[
        Param(
            "limit",
            "int",
            default=1000,
            min=100,
            max=100_000,
            help="Find primes up to this number.",
        )
    ],
    retry_safe=True,
    isolation="process",  # CPU-bound: a child process of its own, so cancel --force kills it
)
async def primes(ctx: JobContext, limit: int) -> dict[str, Any]:
    """Sieve in ten slices, reporting progress and checking for cancel after each."""
    started = time.perf_counter()
    sieve = bytearray([1]) * (limit + 1)
    sieve[0:2] = b"\x00\x00"
    root = math.isqrt(limit)
    step = max(1, root // 10)
    reported = 0
    for n in range(2, root + 1):
        if sieve[n]:
            sieve[n * n :: n] = bytes(len(range(n * n, limit + 1, n)))
        tenth = min(9, n // step) if n < root else 9
        if tenth > reported:
            reported = tenth
            ctx.progress(tenth * 10, f"Sieved up to {n}...")
            await ctx.checkpoint()
    found = [i for i, flag in enumerate(sieve) if flag]
    ctx.progress(100, f"Found {len(found)} primes")
    return {
        "count": len(found),
        "primes": found,
        "duration": round(time.perf_counter() - started, 6),
    }
