"""The dashboard measured through make_app and Textual's Pilot (headless, real rendering)."""

from __future__ import annotations

import json
import os
import statistics
import time
from typing import Any

import anyio
from tq import progress_load, registry, target

from tuiqueue import Engine, open_store
from tuiqueue.ui.app import make_app
from tuiqueue.ui.widgets.job_table import JobTable

SIZE = (120, 40)


async def _fill(path: str, jobs: int) -> None:
    """Store `jobs` pending jobs with the queue paused, so the dashboard's engine runs none."""
    engine = Engine(open_store(path), registry=registry)
    await engine.store.open()
    try:
        await engine.set_queue_paused(True)
        for start in range(0, jobs, 10_000):
            await engine.submit_many([("noop", {})] * min(10_000, jobs - start))
    finally:
        await engine.store.close()


def paint_and_keys(jobs: int, presses: int = 16) -> dict[str, Any]:
    """Time to a painted table with rows, and key press (cursor down) to processed frame."""
    path = target("sqlite")

    async def main() -> dict[str, Any]:
        await _fill(path, jobs)
        app = make_app(open_store(path), registry=registry, toasts=False)
        t0 = time.perf_counter()
        async with app.run_test(size=SIZE) as pilot:
            table = app.query_one("#jobs", JobTable)
            while not table.row_count:
                await pilot.pause(0.005)
            await pilot.pause()
            first_paint = time.perf_counter() - t0
            table.focus()
            await pilot.pause()
            times, settled = [], []
            for i in range(presses):
                row = table.cursor_row
                t1 = time.perf_counter()
                app.simulate_key("down" if i % 2 == 0 else "up")
                while table.cursor_row == row:  # the key reached the table and moved it
                    await anyio.sleep(0)
                times.append(time.perf_counter() - t1)
                await pilot.pause()  # and Textual has nothing left to do (paint included)
                settled.append(time.perf_counter() - t1)
            await app.engine.stop(0)
        return {
            "first_paint_ms": 1000 * first_paint,
            "key_p50_ms": 1000 * statistics.median(times),
            "key_idle_p50_ms": 1000 * statistics.median(settled),
        }

    return anyio.run(main)


def progress_with_dashboard(seconds: float, running: int = 500, ticks: int = 20) -> dict[str, Any]:
    """progress_headless with the dashboard attached to the same engine."""
    path = target("sqlite")

    async def main() -> dict[str, Any]:
        app = make_app(open_store(path), registry=registry, concurrency=running, toasts=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            out = await progress_load(app.engine, seconds, running, ticks)
            # Measured; tearing down a dashboard that is behind on events can take minutes,
            # which is not what this measures, so report and leave at once.
            print("RESULT " + json.dumps(out), flush=True)
            os._exit(0)
        return out

    return anyio.run(main)
