"""Priority edits after submit, and the forced-cancel flag, on every store (Redis: db 8)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import cli_env, tq, wait_until
from tests.test_store_conformance import redis_reachable
from tuiqueue.core.job import NewJob
from tuiqueue.core.lifecycle import FORCE, Outcome
from tuiqueue.core.status import Priority, Status, TransitionError
from tuiqueue.store.base import Store

REDIS_URL = "redis://127.0.0.1:6379/8"
NOW = 1000.0


@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "memory":
        from tuiqueue.store.memory import MemoryStore

        yield MemoryStore()
        return
    if request.param == "sqlite":
        from tuiqueue.store.sqlite import SqliteStore

        sqlite = SqliteStore(tmp_path / "jobs.db")
        await sqlite.open()
        yield sqlite
        await sqlite.close()
        return
    if not redis_reachable():
        pytest.skip("no Redis server at 127.0.0.1:6379")
    from tuiqueue.store.redis import RedisStore

    redis = RedisStore(REDIS_URL, prefix=f"tqprio:{uuid.uuid4().hex[:8]}:")
    await redis.open()
    try:
        yield redis
    finally:
        keys = [k async for k in redis.client.scan_iter(match=redis.prefix + "*", count=1000)]
        if keys:
            await redis.client.delete(*keys)
        await redis.close()


def new(priority: Priority = Priority.NORMAL) -> NewJob:
    return NewJob(type="echo", params={}, priority=priority)


@pytest.mark.anyio
async def test_priority_change_moves_the_job_in_the_run_order(store: Store) -> None:
    a, b, c = await store.add([new(), new(), new(Priority.HIGH)], NOW)
    raised = await store.set_priority(b.id, Priority.CRITICAL, NOW)
    assert raised.priority is Priority.CRITICAL
    lowered = await store.set_priority(c.id, Priority.LOW, NOW)
    assert lowered.priority is Priority.LOW
    order = [j.id for j in await store.claim("w", 1, NOW)]
    order += [j.id for j in await store.claim("w", 1, NOW)]
    order += [j.id for j in await store.claim("w", 1, NOW)]
    assert order == [b.id, a.id, c.id]
    stored = await store.get(b.id)
    assert stored is not None and stored.priority is Priority.CRITICAL
    with pytest.raises(TransitionError, match="has not started"):
        await store.set_priority(a.id, Priority.LOW, NOW)


@pytest.mark.anyio
async def test_force_cancel_is_carried_in_the_row(store: Store) -> None:
    (job,) = await store.add([new()], NOW)
    (running,) = await store.claim("w", 1, NOW)
    asked = await store.command(job.id, "cancel", NOW)
    assert asked.cancel_requested == 1
    forced = await store.command(job.id, "kill", NOW)
    assert forced.cancel_requested == FORCE
    stored = await store.get(job.id)
    assert stored is not None and stored.cancel_requested == FORCE
    (done,) = await store.finish([Outcome(job.id, running.token or "", Status.CANCELLED)], NOW)
    assert done.status is Status.CANCELLED and not done.cancel_requested


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_a_worker_at_c1_runs_the_reprioritised_job_next(tmp_path: Path, backend: str) -> None:
    if backend == "redis":
        if not redis_reachable():
            pytest.skip("no Redis server at 127.0.0.1:6379")
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
        db = REDIS_URL
    else:
        db = str(tmp_path / "jobs.db")
    go = tmp_path / "go"

    def submit(*args: str) -> int:
        out = tq("--db", db, "submit", *args)
        assert out.returncode == 0, out.stderr
        return int(out.stdout)

    blocker = submit("shell", "-p", f"command=while [ ! -f {go} ]; do sleep 0.05; done")
    worker = subprocess.Popen(
        [sys.executable, "-m", "tuiqueue", "--db", db, "worker", "-c", "1"],
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def job(job_id: int) -> dict:
            return json.loads(tq("--db", db, "show", "--json", str(job_id)).stdout)

        wait_until(lambda: job(blocker)["status"] == "running", 20, "the blocker to run")
        queued = [submit("echo", "-p", "message=x") for _ in range(3)]
        out = tq("--db", db, "priority", str(queued[2]), "critical")
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == f"job {queued[2]}: priority critical"
        go.touch()
        wait_until(
            lambda: all(job(i)["status"] == "completed" for i in queued), 30, "the jobs to run"
        )
        started = sorted(queued, key=lambda i: job(i)["started_at"])
        assert started == [queued[2], queued[0], queued[1]]
        bad = tq("--db", db, "priority", str(queued[0]), "urgent")
        assert bad.returncode != 0 and "priority must be one of" in bad.stderr
        done = tq("--db", db, "priority", str(queued[0]), "high")
        assert done.returncode != 0 and "has not started" in done.stderr
        assert "Traceback" not in done.stderr
    finally:
        worker.terminate()
        worker.wait(15)
        if backend == "redis":
            import redis

            redis.Redis.from_url(REDIS_URL).flushdb()
