"""Bounds that hold: one endless output line, a flood of lines, counts of what was lost."""

from __future__ import annotations

import resource
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import tq
from tuiqueue.core.context import CHARS_MAX, HEAD_KEPT, LINE_MAX, JobContext
from tuiqueue.core.registry import load_job_types
from tuiqueue.engine import dispatcher
from tuiqueue.engine.engine import Engine
from tuiqueue.store import open_store
from tuiqueue.store.base import LOG_HEAD, LOG_TAIL

pytestmark = pytest.mark.anyio


def test_long_lines_are_cut_where_written_and_the_buffer_is_bounded_in_characters() -> None:
    ctx = JobContext(1, "t", {})
    for _ in range(HEAD_KEPT):
        ctx.log("head")
    ctx.log("x" * 10_000_000)
    big = ctx.lines[-1]
    assert len(big) < LINE_MAX + 100
    assert big.endswith(f"[{10_000_000 - LINE_MAX} more characters cut]")
    for _ in range(5_000):
        ctx.log("y" * 3_000)  # 15 M characters offered
    held = sum(len(line) for line in ctx.lines)
    assert held <= CHARS_MAX
    taken = ctx.take_lines()
    kept_y = sum(1 for line in taken if line.startswith("y"))
    dropped = ctx.take_dropped()
    # 5,001 lines past the head were offered (the cut one and 5,000 more): each is either
    # kept or counted as dropped.
    assert dropped + kept_y == 5_001, "the count says exactly how many lines were lost"


CHILD = """
import asyncio, sys, resource
from tuiqueue.core.registry import load_job_types, REGISTRY
from tuiqueue.core.context import JobContext
from tuiqueue.core.params import Param
load_job_types()
shell = REGISTRY.get("shell")
ctx = JobContext(1, "shell", {})
taken = 0
async def drain():
    global taken
    while True:
        await asyncio.sleep(0.05)
        taken += sum(len(x) for x in ctx.take_lines())
async def main():
    d = asyncio.ensure_future(drain())
    cmd = "head -c 200000000 /dev/zero | tr '\\\\0' x; echo; echo done"
    try:
        await shell.fn(ctx, command=cmd)
    except Exception as exc:
        print("job error", exc)
    await asyncio.sleep(0.1)
    d.cancel()
    taken_now = taken + sum(len(x) for x in ctx.take_lines())
    # VmHWM: this process's own peak. ru_maxrss would also count the parent's size when
    # the child was forked from a big test process (Linux keeps it across fork and exec).
    with open("/proc/self/status") as fh:
        hwm = next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:"))
    print(hwm // 1024, taken_now)
asyncio.run(main())
"""


def test_one_200_mb_line_without_newline_costs_a_line_not_200_mb(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    rss_mib, chars = (int(x) for x in out.stdout.split()[-2:])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    assert chars < 20_000, f"{chars} characters of log kept for one cut line"
    assert rss_mib < 120, f"peak RSS {rss_mib} MiB (this test process: {before} MiB)"


async def test_stated_drop_count_is_exact_when_lines_are_lost_in_the_buffer_and_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flood of 68-byte lines: the engine's buffer drops some (flushed once a second here,
    so it surely overflows), the store trims the middle; `tuiqueue logs` states them all."""
    monkeypatch.setattr(dispatcher, "FLUSH_INTERVAL", 1.0)
    load_job_types()
    total = 600_000
    db = str(tmp_path / "jobs.db")
    command = f"yes {'x' * 67} | head -n {total}"
    async with Engine(open_store(db), concurrency=1, retention_keep=None) as eng:
        job = await eng.submit("shell", {"command": command})
        done = await eng.wait(job.id, timeout=120)
    assert done.status.value == "completed", done.error
    conn = sqlite3.connect(db)
    try:
        (stored,) = conn.execute("SELECT log_count FROM jobs WHERE id = ?", (job.id,)).fetchone()
    finally:
        conn.close()
    assert total - stored > 0, "the engine's buffer dropped lines"
    assert stored > LOG_HEAD + LOG_TAIL, "the store trimmed lines"
    out = tq("--db", db, "logs", str(job.id))
    assert out.returncode == 0, out.stderr
    printed = out.stdout.splitlines()
    markers = [line for line in printed if "lines dropped" in line]
    assert len(markers) == 1, markers
    stated = int(markers[0].split()[1].replace(",", ""))
    shown = sum(1 for line in printed if line == "x" * 67)
    assert shown == LOG_HEAD + LOG_TAIL
    assert stated == total - shown, f"says {stated:,} dropped; {total - shown:,} were"
    print(f"{total:,} lines: {total - stored:,} dropped by the engine, {stated:,} stated")
