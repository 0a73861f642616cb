"""Plain def jobs honour the worker's concurrency, not anyio's default of 40 threads."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import make_registry
from tuiqueue.core.context import JobContext
from tuiqueue.core.status import Status
from tuiqueue.engine.engine import Engine
from tuiqueue.store import open_store

pytestmark = pytest.mark.anyio

JOBS = 80


async def test_80_def_jobs_at_concurrency_80_all_run_at_once() -> None:
    together = threading.Barrier(JOBS, timeout=20)  # passes only once all 80 wait in it
    reg = make_registry()

    @reg.job_type("meet")
    def meet(ctx: JobContext) -> int:
        """Wait until every other job is running too."""
        return together.wait()

    async with Engine(open_store(":memory:"), registry=reg, concurrency=JOBS) as eng:
        ids = [job.id for job in await eng.submit_many([("meet", {})] * JOBS)]
        done = [await eng.wait(i, timeout=60) for i in ids]
    failed = [job.error for job in done if job.status is not Status.COMPLETED]
    assert not failed, f"{len(failed)} of {JOBS} def jobs did not run at once: {failed[:1]}"
    assert sorted(job.result for job in done) == list(range(JOBS))
