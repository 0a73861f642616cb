"""Real worker processes sharing one store fire an every-1s schedule once per slot."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import cli_env, tq, wait_until
from tests.test_store_conformance import redis_reachable

REDIS_URL = "redis://127.0.0.1:6379/4"
"""This file's Redis database, flushed before and after (no other test writes to it then)."""
WORKERS = 3
RUN_FOR = 10
"""Slots (seconds) the fleet fires before it is stopped."""


def flush_db4() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def origins(db: str) -> list[float]:
    """The slot of every job the `tick` schedule made, sorted."""
    listed = tq("--db", db, "list", "--json", "--limit", "1000")
    assert listed.returncode == 0, listed.stderr
    slots = []
    for job in json.loads(listed.stdout):
        shown = tq("--db", db, "show", "--json", str(job["id"]))
        origin = json.loads(shown.stdout)["schedule"]
        assert origin["schedule"] == "tick" and origin["kind"] == "slot", origin
        slots.append(origin["slot"])
    return sorted(slots)


def fleet_fires_once_per_slot(db: str) -> None:
    added = tq("--db", db, "schedule", "add", "tick", "echo", "--every", "1s", "-p", "delay=1")
    assert added.returncode == 0, added.stderr
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tuiqueue", "--db", db, "worker"],
            env=cli_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(WORKERS)
    ]
    try:

        def made() -> int:
            listed = tq("--db", db, "list", "--json", "--limit", "1000")
            return len(json.loads(listed.stdout)) if listed.returncode == 0 else 0

        wait_until(lambda: made() >= RUN_FOR, timeout=60, what=f"{RUN_FOR} scheduled jobs")
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            _, err = proc.communicate(timeout=30)
            assert proc.returncode == 0, err
    slots = origins(db)
    assert len(slots) >= RUN_FOR
    assert len(set(slots)) == len(slots), "a slot fired twice"
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert set(gaps) == {1.0}, f"slots not one second apart: {gaps}"
    workers = tq("--db", db, "list", "--json", "--limit", "1000")
    ran_by = {job["worker"] for job in json.loads(workers.stdout) if job["worker"]}
    assert ran_by, "no job ran"


@pytest.mark.timeout(180)
def test_three_workers_on_one_sqlite_file(tmp_path: Path) -> None:
    fleet_fires_once_per_slot(str(tmp_path / "jobs.db"))


@pytest.mark.redis
@pytest.mark.timeout(180)
@pytest.mark.skipif(not redis_reachable(), reason="no Redis server at 127.0.0.1:6379")
def test_three_workers_on_one_redis() -> None:
    flush_db4()
    try:
        fleet_fires_once_per_slot(REDIS_URL)
    finally:
        flush_db4()
