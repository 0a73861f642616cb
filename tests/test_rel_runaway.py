"""Runaway jobs: a shell job flooding its output keeps the log and the worker's memory bounded."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest

from tuiqueue.core.context import LINES_MAX, JobContext
from tuiqueue.core.engine import Engine
from tuiqueue.core.registry import load_job_types
from tuiqueue.store import open_store
from tuiqueue.store.base import LOG_HEAD, LOG_TAIL

pytestmark = pytest.mark.anyio


def test_context_lines_bounded() -> None:
    ctx = JobContext(1, "t", {})
    for i in range(LINES_MAX * 10):
        ctx.log(f"line {i}")
    lines = ctx.take_lines()
    assert len(lines) == 100 + LINES_MAX + 1
    assert f"{LINES_MAX * 9 - 100} lines dropped" in lines[100]
    assert lines[-1] == f"line {LINES_MAX * 10 - 1}"


async def test_shell_flood_bounded(tmp_path: Path) -> None:
    load_job_types()
    mb = 200
    async with Engine(open_store(str(tmp_path / "jobs.db")), concurrency=1) as eng:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        job = await eng.submit("shell", {"command": f"head -c {mb}000000 /dev/zero | tr '\\0' 'x'"
                                                    f" | fold -w 100"})
        done = await eng.wait(job.id, timeout=120)
        grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        page = await eng.logs(job.id)
    assert done.status.value == "completed", done.error
    assert len(page.lines) <= LOG_HEAD + LOG_TAIL
    assert page.dropped > 0
    assert grew < 100, f"worker memory grew {grew:.0f} MiB"
    print(f"shell printed {mb} MB: {len(page.lines)} lines kept, {page.dropped} dropped, "
          f"peak memory +{grew:.0f} MiB")
