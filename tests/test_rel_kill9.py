"""kill -9 loop: workers die at random moments; an invariant checker proves nothing is lost.

CI runs a few seeded iterations; TUIQUEUE_LONG=1 runs many (TUIQUEUE_KILL9_ITERATIONS sets it).
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path

import anyio

from tests.conftest import tq
from tests.test_rel_recovery import JOBS, start_worker
from tuiqueue.core.registry import load_job_types
from tuiqueue.core.status import TRANSITIONS, Status
from tuiqueue.engine.engine import Engine
from tuiqueue.engine.recovery import LOST_ATTEMPTS
from tuiqueue.store import open_store

LONG = os.environ.get("TUIQUEUE_LONG") == "1"
ITERATIONS = int(os.environ.get("TUIQUEUE_KILL9_ITERATIONS", "200" if LONG else "6"))
JOBS_N = 40


def reachable() -> dict[Status, set[Status]]:
    """Statuses reachable from each status (a poll may miss steps in between)."""
    out = {}
    for start in Status:
        seen, todo = {start}, [start]
        while todo:
            for nxt in TRANSITIONS[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        out[start] = seen
    return out


def snapshot(db: str) -> dict[int, tuple[str, int]]:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return {r[0]: (r[1], r[2]) for r in conn.execute("SELECT id, status, attempts FROM jobs")}
    finally:
        conn.close()


def test_kill9_loop(tmp_path: Path) -> None:
    rng = random.Random(1234)
    db, mark = str(tmp_path / "jobs.db"), tmp_path / "ran"
    stdin = "".join(
        f'{{"type": "rel_sleep", "params": {{"seconds": {rng.uniform(0.05, 0.6):.3f}, '
        f'"mark": "{mark}"}}}}\n'
        for _ in range(JOBS_N)
    )
    out = tq("--db", db, "--jobs", JOBS, "submit", "--from", "-", stdin=stdin)
    assert out.returncode == 0, out.stderr
    submitted = [int(x) for x in out.stdout.split()]
    can_reach = reachable()
    last: dict[int, Status] = {}
    kills = 0

    def observe() -> None:
        for job_id, (status, attempts) in snapshot(db).items():
            new = Status(status)
            old = last.get(job_id)
            assert old is None or new in can_reach[old], f"job {job_id}: {old} -> {new}"
            assert attempts <= LOST_ATTEMPTS, f"job {job_id} started {attempts} times"
            last[job_id] = new

    for _ in range(ITERATIONS):
        proc = start_worker(db, "-c", str(rng.randint(1, 6)))
        # Deliberate: the worker lives a random time (observed every 50 ms), then dies.
        end = time.monotonic() + rng.uniform(0.6, 1.6)
        while time.monotonic() < end:
            observe()
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
        kills += 1
        if all(s in (Status.COMPLETED, Status.FAILED) for s in last.values()):
            break
    # A final worker recovers the last victim's jobs and finishes the rest.
    load_job_types([JOBS])

    async def finish() -> None:
        async with Engine(open_store(db), worker_id="final", concurrency=8) as eng:
            with anyio.fail_after(60):
                while True:
                    rows = snapshot(db)
                    if all(s in ("completed", "failed") for s, _ in rows.values()):
                        break
                    await anyio.sleep(0.1)
            assert eng.running_ids() == []

    anyio.run(finish)
    observe()
    rows = snapshot(db)
    assert sorted(rows) == sorted(submitted), "every submitted id present exactly once"
    assert not [i for i, (s, _) in rows.items() if s in ("running", "paused")]
    counts = Counter(s for s, _ in rows.values())
    runs = Counter(int(x) for x in mark.read_text().split()) if mark.exists() else Counter()
    for job_id, (status, attempts) in rows.items():
        assert 1 <= attempts <= LOST_ATTEMPTS
        if status == "completed":
            assert 1 <= runs[job_id] <= attempts
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    print(
        f"kill -9 loop: {kills} kills, {JOBS_N} jobs: {dict(counts)}; "
        f"max attempts {max(a for _, a in rows.values())}; integrity ok"
    )
