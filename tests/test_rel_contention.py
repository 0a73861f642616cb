"""Many processes on one SQLite file: every job exists once, runs once, nobody sees a lock."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.conftest import cli_env
from tests.test_rel_recovery import JOBS, start_worker

SUBMITTERS = 8
PER_SUBMITTER = 500

SUBMIT = """
import sys, anyio
from tuiqueue.engine.engine import Engine
from tuiqueue.core.registry import load_job_types
from tuiqueue.store import open_store
load_job_types([sys.argv[1]])
async def main():
    async with open_store(sys.argv[2]) as store:
        eng = Engine(store)
        for i in range(int(sys.argv[4])):
            job = await eng.submit("rel_touch", {"path": sys.argv[3]})
            print(job.id)
anyio.run(main)
"""


def test_eight_submitters_two_workers(tmp_path: Path) -> None:
    db, mark = str(tmp_path / "jobs.db"), tmp_path / "ran"
    # Create the file first so the submitters race on writes, not on creating the schema.
    start_worker(db, "--drain").communicate(timeout=30)
    workers = [start_worker(db, "-c", "8") for _ in range(2)]
    try:
        _run(db, mark, workers)
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)


def _run(db: str, mark: Path, workers: list[subprocess.Popen[str]]) -> None:
    start = time.monotonic()
    submitters = [
        subprocess.Popen(
            [sys.executable, "-c", SUBMIT, JOBS, db, str(mark), str(PER_SUBMITTER)],
            env=cli_env(),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(SUBMITTERS)
    ]
    ids: list[int] = []
    errors = []
    wal_max = 0
    for proc in submitters:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        ids += [int(x) for x in out.split()]
        errors.append(err)
    total = SUBMITTERS * PER_SUBMITTER
    assert len(ids) == len(set(ids)) == total
    deadline = time.monotonic() + 120
    while True:
        conn = sqlite3.connect(db, timeout=30)
        done = conn.execute("SELECT COUNT(*) FROM jobs WHERE status = 'completed'").fetchone()[0]
        conn.close()
        wal = Path(db + "-wal")
        wal_max = max(wal_max, wal.stat().st_size if wal.exists() else 0)
        if done == total or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    took = time.monotonic() - start
    for proc in workers:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
        errors.append(err)
    conn = sqlite3.connect(db)
    rows = dict(conn.execute("SELECT id, status FROM jobs").fetchall())
    conn.close()
    assert sorted(rows) == sorted(ids), "every submitted job exists exactly once"
    assert Counter(rows.values()) == {"completed": total}
    runs = Counter(int(x) for x in mark.read_text().split())
    assert set(runs) == set(ids) and max(runs.values()) == 1, "every job ran exactly once"
    for err in errors:
        assert "locked" not in err and "Traceback" not in err, err
    assert wal_max < 16 * 2**20, f"WAL grew to {wal_max} bytes"
    print(
        f"{total} jobs from {SUBMITTERS} processes, 2 workers: all ran once in {took:.1f}s; "
        f"WAL peaked at {wal_max / 2**20:.1f} MiB"
    )
    assert os.path.exists(db)
