"""tuiqueue measured through its public API only: each function returns a dict of numbers."""

from __future__ import annotations

import gc
import os
import statistics
import tempfile
import time
from typing import Any

import anyio

from tuiqueue import Engine, JobContext, Param, Registry, open_store

REDIS_URL = "redis://127.0.0.1:6379/13"

registry = Registry()


@registry.job_type("noop", description="Does nothing (the benchmark's job).")
async def noop(ctx: JobContext) -> None:
    """Return at once."""


@registry.job_type(
    "ticker",
    description="Reports progress 20 times a second.",
    params=[Param("ticks", "int", default=20, min=1)],
)
async def ticker(ctx: JobContext, ticks: int = 20) -> None:
    """Report progress every 50 ms, `ticks` times."""
    for i in range(ticks):
        ctx.progress(100 * i / ticks, f"tick {i}")
        await anyio.sleep(0.05)


@registry.job_type(
    "nap_async",
    description="Sleeps without blocking the loop.",
    params=[Param("seconds", "float", default=1.0, min=0)],
)
async def nap_async(ctx: JobContext, seconds: float = 1.0) -> None:
    """anyio.sleep(seconds)."""
    await anyio.sleep(seconds)


@registry.job_type(
    "nap_def",
    description="A plain def job: sleeps in its worker thread.",
    params=[Param("seconds", "float", default=1.0, min=0)],
)
def nap_def(ctx: JobContext, seconds: float = 1.0) -> None:
    """time.sleep(seconds) in the thread the engine runs plain def jobs in."""
    time.sleep(seconds)


def target(kind: str) -> str:
    """A fresh store location of this kind."""
    if kind == "sqlite":
        return os.path.join(tempfile.mkdtemp(prefix="bench-tq-"), "jobs.db")
    if kind == "memory":
        return ":memory:"
    return REDIS_URL


def _flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def throughput(n: int, store: str = "sqlite", concurrency: int = 8) -> dict[str, float]:
    """Submit n no-op jobs with submit_many, then drain them with a headless engine."""
    if store == "redis":
        _flush_redis()

    async def main(where: str | None = None) -> dict[str, float]:
        engine = Engine(
            open_store(where or target(store)), concurrency=concurrency, registry=registry
        )
        await engine.store.open()
        try:
            t0 = time.perf_counter()
            await engine.submit_many([("noop", {})] * n)
            t1 = time.perf_counter()
            async with anyio.create_task_group() as tg:
                tg.start_soon(engine.run)
                # Done when the last job is stored as finished (not when an idle drain ends).
                while engine.processed < n:
                    await anyio.sleep(0.001)
                t2 = time.perf_counter()
                await engine.stop()
            return {"submitted": n / (t1 - t0), "completed": n / (t2 - t1)}
        finally:
            await engine.store.close()

    if store == "postgres":  # a database of its own, dropped afterwards
        from pg import fresh_db

        async def on_postgres() -> dict[str, float]:
            async with fresh_db() as url:
                return await main(url)

        return anyio.run(on_postgres)
    try:
        return anyio.run(main)
    finally:
        if store == "redis":
            _flush_redis()


def submit_latency(size: int, samples: int = 300, store: str = "sqlite") -> dict[str, float]:
    """p50/p99 of one engine.submit with `size` jobs already in the store (half finished)."""

    async def main() -> dict[str, float]:
        engine = Engine(open_store(target(store)), registry=registry)
        await engine.store.open()
        try:
            chunk = 5_000
            for start in range(0, size, chunk):
                await engine.submit_many([("noop", {})] * min(chunk, size - start))
            times = []
            for _ in range(samples):
                t0 = time.perf_counter()
                await engine.submit("noop", {})
                times.append(time.perf_counter() - t0)
            times.sort()
            return {
                "p50_ms": 1000 * statistics.median(times),
                "p99_ms": 1000 * times[int(0.99 * (len(times) - 1))],
            }
        finally:
            await engine.store.close()

    return anyio.run(main)


def rss_mib() -> float:
    """This process's resident set size in MiB."""
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


def memory_growth(total: int, warmup: int, store: str = "sqlite") -> dict[str, float]:
    """RSS after running `warmup` jobs and after `total`; growth is what leaks per job."""

    async def main() -> dict[str, float]:
        engine = Engine(open_store(target(store)), concurrency=8, registry=registry)
        await engine.store.open()
        try:
            marks = {}
            done = 0
            chunk = 5_000
            while done < total:
                size = min(chunk, total - done)
                await engine.submit_many([("noop", {})] * size)
                await engine.run(drain=True)
                done += size
                if done >= warmup and "warm" not in marks:
                    gc.collect()
                    marks["warm"] = rss_mib()
            gc.collect()
            return {"rss_mib": rss_mib(), "growth_mib": rss_mib() - marks["warm"]}
        finally:
            await engine.store.close()

    return anyio.run(main)


async def _lag_probe(lags: list[float], stop: anyio.Event, interval: float = 0.01) -> None:
    """Record how late a 10 ms sleep wakes up: the event loop's lag."""
    while not stop.is_set():
        t0 = time.perf_counter()
        await anyio.sleep(interval)
        lags.append(max(0.0, time.perf_counter() - t0 - interval))


def p95(values: list[float]) -> float:
    """95th percentile."""
    values = sorted(values)
    return values[int(0.95 * (len(values) - 1))] if values else 0.0


async def progress_load(
    engine: Engine, seconds: float, running: int, ticks: int
) -> dict[str, float]:
    """Keep `running` ticker jobs busy on `engine` (already running) for `seconds`.

    Returns jobs finished per second and the event loop's lag p95 over that window.
    """
    lags: list[float] = []
    stop = anyio.Event()
    # The first wave lasts 1..ticks ticks, so that its jobs (and so every later wave, each
    # job taking the slot of one that ended) finish spread over a whole job's time: counted
    # over the window, jobs/s then moves smoothly instead of by whole waves of `running` jobs.
    first = [("ticker", {"ticks": 1 + i % ticks}) for i in range(running)]
    rest = [("ticker", {"ticks": ticks})] * int(running * (seconds + 3))
    await engine.submit_many([*first, *rest])
    async with anyio.create_task_group() as tg:
        await anyio.sleep(ticks * 0.05 + 0.5)  # warm-up: the first wave has come and gone
        start_count, t0 = engine.processed, time.perf_counter()
        tg.start_soon(_lag_probe, lags, stop)
        await anyio.sleep(seconds)
        done, elapsed = engine.processed - start_count, time.perf_counter() - t0
        stop.set()
    return {"jobs_per_s": done / elapsed, "lag_p95_ms": 1000 * p95(lags)}


def progress_headless(seconds: float, running: int = 500, ticks: int = 20) -> dict[str, Any]:
    """`running` jobs at once reporting progress 20x/s, nobody watching."""

    async def main() -> dict[str, float]:
        engine = Engine(open_store(target("sqlite")), concurrency=running, registry=registry)
        async with engine:
            out = await progress_load(engine, seconds, running, ticks)
            await engine.set_queue_paused(True)
            return out

    return anyio.run(main)


def naps(n: int, concurrency: int, seconds: float, rounds: int = 3) -> dict[str, float]:
    """n jobs sleeping `seconds` at `concurrency`, plain def vs async, alternated `rounds`
    times in this process (memory store): the median seconds from run() to the last one
    stored as finished, for each kind."""

    async def drain(kind: str) -> float:
        engine = Engine(open_store(":memory:"), concurrency=concurrency, registry=registry)
        await engine.store.open()
        try:
            await engine.submit_many([(kind, {"seconds": seconds})] * n)
            t0 = time.perf_counter()
            async with anyio.create_task_group() as tg:
                tg.start_soon(engine.run)
                while engine.processed < n:
                    await anyio.sleep(0.005)
                took = time.perf_counter() - t0
                await engine.stop()
            return took
        finally:
            await engine.store.close()

    async def main() -> dict[str, float]:
        times: dict[str, list[float]] = {"nap_def": [], "nap_async": []}
        for _ in range(rounds):
            for kind in times:
                times[kind].append(await drain(kind))
        return {
            "def_s": statistics.median(times["nap_def"]),
            "async_s": statistics.median(times["nap_async"]),
        }

    return anyio.run(main)


MEASURES = {
    "throughput": throughput,
    "submit_latency": submit_latency,
    "memory_growth": memory_growth,
    "progress_headless": progress_headless,
    "naps": naps,
}
