"""Engine behaviour on the memory and SQLite stores, with fast test job types."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from tuiqueue.core.events import EventKind
from tuiqueue.core.lifecycle import UnknownJob
from tuiqueue.core.queues import ClaimScope
from tuiqueue.core.registry import Registry
from tuiqueue.core.status import Status, TransitionError
from tuiqueue.engine.engine import Engine
from tuiqueue.engine.recovery import Heartbeat
from tuiqueue.store import open_store
from tuiqueue.store.base import Store, StoreError

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend(both_backends: str) -> str:
    """Every test here runs on asyncio and on trio."""
    return both_backends


@pytest.fixture(params=["memory", "sqlite"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the store lives."""
    return ":memory:" if request.param == "memory" else str(tmp_path / "jobs.db")


@pytest.fixture
async def engine(target: str, registry: Registry) -> AsyncIterator[Engine]:
    """A running engine, concurrency 3, polling fast."""
    async with Engine(open_store(target), registry=registry, poll_interval=0.02) as eng:
        yield eng


@pytest.fixture
async def idle(target: str, registry: Registry) -> AsyncIterator[Engine]:
    """An engine whose store is open but which runs nothing."""
    eng = Engine(open_store(target), registry=registry, poll_interval=0.02)
    await eng.store.open()
    try:
        yield eng
    finally:
        await eng.store.close()


async def wait_status(engine: Engine, job_id: int, status: Status, timeout: float = 5) -> None:
    """Poll until the job reaches status."""
    with anyio.fail_after(timeout):
        while (await engine.get(job_id)).status is not status:
            await anyio.sleep(0.01)


async def test_submit_run_complete(engine: Engine) -> None:
    job = await engine.submit("sleep", {"seconds": 0.01})
    assert job.id > 0 and job.status is Status.PENDING
    done = await engine.wait(job.id, timeout=5)
    assert done.status is Status.COMPLETED
    assert done.result == {"slept": 0.01}
    assert done.progress == 100
    assert done.started_at is not None and done.finished_at is not None
    assert done.attempts == 1 and done.worker == engine.worker_id


async def test_plain_def_runs_in_thread(engine: Engine) -> None:
    job = await engine.submit("blocking", {"seconds": 0.01})
    assert (await engine.wait(job.id, timeout=5)).result == "done"


async def test_failure_records_error_and_traceback(engine: Engine) -> None:
    job = await engine.submit("boom", {"message": "it broke"})
    done = await engine.wait(job.id, timeout=5)
    assert done.status is Status.FAILED
    assert done.error == "RuntimeError: it broke"
    assert done.traceback and "RuntimeError" in done.traceback


async def test_concurrency_limit_never_exceeded(engine: Engine) -> None:
    engine.concurrency = 2
    jobs = await engine.submit_many([("sleep", {"seconds": 0.1})] * 8)
    peak = 0
    with anyio.fail_after(10):
        while True:
            counts = await engine.store.counts()
            peak = max(peak, counts[Status.RUNNING], len(engine.running_ids()))
            if counts[Status.COMPLETED] == len(jobs):
                break
            await anyio.sleep(0.005)
    assert peak == 2


async def test_concurrency_can_change_while_running(engine: Engine) -> None:
    engine.concurrency = 1
    await engine.submit_many([("sleep", {"seconds": 0.5})] * 6)
    await anyio.sleep(0.2)
    assert len(engine.running_ids()) == 1
    engine.concurrency = 4
    with anyio.fail_after(2):
        while len(engine.running_ids()) < 4:
            await anyio.sleep(0.01)
    assert (await engine.stats()).capacity == 4
    with pytest.raises(ValueError, match="at least 1"):
        engine.concurrency = 0


async def test_priority_then_fifo(idle: Engine) -> None:
    a = await idle.submit("sleep", {"seconds": 0}, priority="low")
    b = await idle.submit("sleep", {"seconds": 0})
    c = await idle.submit("sleep", {"seconds": 0}, priority="critical")
    d = await idle.submit("sleep", {"seconds": 0})
    e = await idle.submit("sleep", {"seconds": 0}, priority="high")
    claimed = await idle.store.claim("w", 10, idle.clock())
    assert [j.id for j in claimed] == [c.id, e.id, b.id, d.id, a.id]


async def test_priority_order_with_one_slot(target: str, registry: Registry) -> None:
    eng = Engine(open_store(target), registry=registry, concurrency=1, poll_interval=0.02)
    await eng.store.open()
    low = await eng.submit("sleep", {"seconds": 0}, priority="low")
    n1 = await eng.submit("sleep", {"seconds": 0})
    n2 = await eng.submit("sleep", {"seconds": 0})
    hi = await eng.submit("sleep", {"seconds": 0}, priority="high")
    await eng.run(drain=True)
    jobs = [await eng.get(j.id) for j in (hi, n1, n2, low)]
    starts = [j.started_at or 0 for j in jobs]
    assert starts == sorted(starts)
    await eng.store.close()


async def test_cancel_pending_never_starts(idle: Engine) -> None:
    job = await idle.submit("sleep", {"seconds": 0})
    cancelled = await idle.cancel(job.id)
    assert cancelled.status is Status.CANCELLED
    assert await idle.store.claim("w", 10, idle.clock()) == []
    final = await idle.get(job.id)
    assert final.started_at is None and final.attempts == 0


async def test_cancel_running_within_a_second(engine: Engine) -> None:
    job = await engine.submit("sleep", {"seconds": 30})
    await wait_status(engine, job.id, Status.RUNNING)
    started = anyio.current_time()
    await engine.cancel(job.id)
    done = await engine.wait(job.id, timeout=2)
    assert done.status is Status.CANCELLED
    assert anyio.current_time() - started < 1
    assert engine.running_ids() == []


async def test_cancel_blocking_thread_job(engine: Engine) -> None:
    job = await engine.submit("blocking", {"seconds": 30})
    await wait_status(engine, job.id, Status.RUNNING)
    await engine.cancel(job.id)
    assert (await engine.wait(job.id, timeout=2)).status is Status.CANCELLED


async def test_pause_and_resume_running_job(engine: Engine) -> None:
    job = await engine.submit("sleep", {"seconds": 0.3})
    await wait_status(engine, job.id, Status.RUNNING)
    paused = await engine.pause(job.id)
    assert paused.status is Status.PAUSED
    await anyio.sleep(0.6)
    assert (await engine.get(job.id)).status is Status.PAUSED
    resumed = await engine.resume(job.id)
    assert resumed.status is Status.RUNNING
    assert (await engine.wait(job.id, timeout=5)).status is Status.COMPLETED


async def test_pause_queued_job_is_not_started(engine: Engine) -> None:
    await engine.set_queue_paused(True)
    job = await engine.submit("sleep", {"seconds": 0})
    await engine.pause(job.id)
    await engine.set_queue_paused(False)
    await anyio.sleep(0.3)
    assert (await engine.get(job.id)).status is Status.PAUSED
    assert (await engine.resume(job.id)).status is Status.PENDING
    assert (await engine.wait(job.id, timeout=5)).status is Status.COMPLETED


async def test_cancel_paused_running_job(engine: Engine) -> None:
    job = await engine.submit("sleep", {"seconds": 30})
    await wait_status(engine, job.id, Status.RUNNING)
    await engine.pause(job.id)
    await engine.cancel(job.id)
    assert (await engine.wait(job.id, timeout=2)).status is Status.CANCELLED


async def test_pause_whole_queue(engine: Engine) -> None:
    await engine.set_queue_paused(True)
    job = await engine.submit("sleep", {"seconds": 0})
    await anyio.sleep(0.3)
    assert (await engine.get(job.id)).status is Status.PENDING
    assert (await engine.stats()).queue_paused
    await engine.set_queue_paused(False)
    assert (await engine.wait(job.id, timeout=5)).status is Status.COMPLETED


async def test_rerun_links_to_original(engine: Engine) -> None:
    job = await engine.submit("sleep", {"seconds": 0.01}, priority="high")
    await engine.wait(job.id, timeout=5)
    again = await engine.rerun(job.id)
    assert again.id != job.id and again.rerun_of == job.id
    assert again.type == job.type and again.params == job.params
    assert str(again.priority) == "high"
    assert (await engine.wait(again.id, timeout=5)).status is Status.COMPLETED


async def test_dependency_waits_then_runs(engine: Engine) -> None:
    first = await engine.submit("sleep", {"seconds": 0.2})
    second = await engine.submit("sleep", {"seconds": 0}, after=[first.id])
    assert second.status is Status.WAITING
    await wait_status(engine, first.id, Status.RUNNING)
    assert (await engine.get(second.id)).status is Status.WAITING
    done = await engine.wait(second.id, timeout=5)
    first_done = await engine.get(first.id)
    assert done.status is Status.COMPLETED
    assert (done.started_at or 0) >= (first_done.finished_at or 0)


async def test_failed_dependency_fails_dependent(engine: Engine) -> None:
    first = await engine.submit("boom", {})
    second = await engine.submit("sleep", {"seconds": 0}, after=[first.id])
    done = await engine.wait(second.id, timeout=5)
    assert done.status is Status.FAILED
    assert done.error == f"dependency job {first.id} failed"
    assert done.started_at is None


async def test_cancelled_dependency_fails_dependent(idle: Engine) -> None:
    first = await idle.submit("sleep", {"seconds": 0})
    second = await idle.submit("sleep", {"seconds": 0}, after=[first.id])
    await idle.cancel(first.id)
    await idle.store.claim("w", 10, idle.clock())
    assert (await idle.get(second.id)).error == f"dependency job {first.id} cancelled"


async def test_unknown_dependency_is_refused(idle: Engine) -> None:
    with pytest.raises(UnknownJob, match="no job with id 999"):
        await idle.submit("sleep", {}, after=[999])
    assert sum((await idle.store.counts()).values()) == 0


async def test_delayed_job_is_scheduled_then_runs(engine: Engine) -> None:
    job = await engine.submit("sleep", {"seconds": 0}, delay=0.4)
    assert job.status is Status.SCHEDULED and job.run_at is not None
    await anyio.sleep(0.2)
    assert (await engine.get(job.id)).status is Status.SCHEDULED
    done = await engine.wait(job.id, timeout=5)
    assert done.status is Status.COMPLETED
    assert (done.started_at or 0) >= job.run_at


async def test_retries_with_backoff(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tuiqueue.engine.runner.BACKOFF_BASE", 0.05)
    job = await engine.submit("flaky", {"fails": 2})
    assert job.max_attempts == 3
    done = await engine.wait(job.id, timeout=5)
    assert done.status is Status.COMPLETED
    assert done.attempts == 3 and done.result == {"attempt": 3}


async def test_retries_exhausted_fail(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tuiqueue.engine.runner.BACKOFF_BASE", 0.05)
    job = await engine.submit("flaky", {"fails": 5})
    done = await engine.wait(job.id, timeout=5)
    assert done.status is Status.FAILED and done.attempts == 3
    assert done.error == "RuntimeError: attempt 3 failed"


def test_backoff_doubles_and_caps() -> None:
    from tuiqueue.engine.runner import BACKOFF_MAX, backoff

    assert [backoff(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert backoff(100) == BACKOFF_MAX


async def test_timeout_fails_the_run(engine: Engine) -> None:
    job = await engine.submit("sleep", {"seconds": 30}, timeout=0.2)
    done = await engine.wait(job.id, timeout=5)
    assert done.status is Status.FAILED
    assert done.error is not None and "timed out after 0.2s" in done.error


async def test_illegal_transitions_are_refused(idle: Engine) -> None:
    job = await idle.submit("sleep", {"seconds": 0})
    await idle.cancel(job.id)
    for command in (idle.cancel, idle.pause, idle.resume):
        with pytest.raises(TransitionError, match=f"job {job.id} is already cancelled"):
            await command(job.id)
    with pytest.raises(UnknownJob, match="no job with id 4242"):
        await idle.cancel(4242)


async def test_delete_and_clear(engine: Engine) -> None:
    a = await engine.submit("sleep", {"seconds": 0})
    b = await engine.submit("boom", {})
    c = await engine.submit("sleep", {"seconds": 30})
    await engine.wait(a.id, timeout=5)
    await engine.wait(b.id, timeout=5)
    await wait_status(engine, c.id, Status.RUNNING)
    with pytest.raises(ValueError, match="cancel it before deleting it"):
        await engine.delete([c.id])
    assert await engine.delete([a.id]) == [a.id]
    assert await engine.store.get(a.id) is None
    assert await engine.clear() == 1
    assert await engine.store.get(b.id) is None
    assert await engine.store.get(c.id) is not None
    await engine.cancel(c.id)


async def test_clear_keep_newest(idle: Engine) -> None:
    jobs = await idle.submit_many([("sleep", {"seconds": 0})] * 5)
    for job in jobs:
        await idle.cancel(job.id)
    assert await idle.clear(keep_newest=2) == 3
    assert len(await idle.list()) == 2


async def test_submit_many_is_all_or_nothing(idle: Engine) -> None:
    from tuiqueue.core.params import ValidationError

    with pytest.raises(ValidationError):
        await idle.submit_many([("sleep", {"seconds": 1}), ("sleep", {"seconds": -1})])
    assert sum((await idle.store.counts()).values()) == 0


async def test_stats(engine: Engine) -> None:
    job = await engine.submit("sleep", {"seconds": 0})
    await engine.wait(job.id, timeout=5)
    await engine.drain(timeout=5)
    stats = await engine.stats()
    data = stats.to_dict()
    assert data["counts"]["completed"] == 1 and data["total"] == 1
    # `worker` describes the live workers of the store (here this engine alone): their load
    # and, as of their last heartbeat, what they ran.
    fleet = data["worker"]
    assert (fleet["alive"], fleet["capacity"]) == (1, 3), fleet
    assert fleet["active"] in (0, 1) and fleet["processed"] in (0, 1)  # (a heartbeat behind)
    assert (stats.active, stats.capacity, stats.processed) == (0, 3, 1)


async def test_events_report_every_state_change(engine: Engine) -> None:
    sub = engine.events()
    job = await engine.submit("sleep", {"seconds": 0.05})
    await engine.wait(job.id, timeout=5)
    await engine.drain(timeout=5)
    await anyio.sleep(0.05)
    seen = [e.job.status for e in sub.drain() if e.kind is EventKind.JOB and e.job]
    assert seen[0] is Status.PENDING
    assert Status.RUNNING in seen
    assert seen[-1] is Status.COMPLETED
    engine.bus.unsubscribe(sub)


async def test_progress_events_are_coalesced(engine: Engine) -> None:
    sub = engine.events()
    job = await engine.submit("chatty", {"lines": 0, "reports": 50_000})
    await engine.wait(job.id, timeout=10)
    await anyio.sleep(0.05)
    events = sub.drain()
    progress = [e for e in events if e.kind is EventKind.PROGRESS]
    assert len(progress) < 20
    engine.bus.unsubscribe(sub)


def test_subscription_keeps_only_newest_progress_per_job() -> None:
    from tuiqueue.core.events import Event, Subscription
    from tuiqueue.core.job import Job

    sub = Subscription()
    for pct in range(100):
        sub.put(Event(EventKind.PROGRESS, 1, Job(1, "t", {}, progress=pct)))
    sub.put(Event(EventKind.PROGRESS, 2, Job(2, "t", {}, progress=5)))
    events = sub.drain()
    assert [(e.job_id, e.job.progress if e.job else None) for e in events] == [(1, 99), (2, 5)]


async def test_logs_are_stored_and_bounded(engine: Engine) -> None:
    from tuiqueue.store.base import LOG_HEAD, LOG_TAIL

    job = await engine.submit("chatty", {"lines": 12_000})
    await engine.wait(job.id, timeout=10)
    await engine.drain(timeout=5)
    page = await engine.logs(job.id)
    assert len(page.lines) == LOG_HEAD + LOG_TAIL
    assert page.dropped == 12_000 - LOG_HEAD - LOG_TAIL
    assert page.lines[0] == (1, "line 1")
    assert page.lines[LOG_HEAD - 1][1] == f"line {LOG_HEAD}"
    assert page.lines[-1] == (12_000, "line 12000")


async def test_log_events(engine: Engine) -> None:
    sub = engine.events()
    job = await engine.submit("chatty", {"lines": 3})
    await engine.wait(job.id, timeout=5)
    await anyio.sleep(0.05)
    lines = [line for e in sub.drain() if e.kind is EventKind.LOG for line in e.lines]
    assert lines == ["line 1", "line 2", "line 3"]
    engine.bus.unsubscribe(sub)


async def test_persistence_across_restart(tmp_path: Path, registry: Registry) -> None:
    path = str(tmp_path / "p.db")
    async with Engine(open_store(path), registry=registry, poll_interval=0.02) as eng:
        done = await eng.submit("chatty", {"lines": 2})
        await eng.wait(done.id, timeout=5)
        await eng.set_queue_paused(True)
        queued = await eng.submit("sleep", {"seconds": 0}, priority="high")
    async with Engine(open_store(path), registry=registry, poll_interval=0.02) as eng:
        again = await eng.get(done.id)
        assert again.status is Status.COMPLETED and again.result == 2
        assert [line for _, line in (await eng.logs(done.id)).lines] == ["line 1", "line 2"]
        assert (await eng.get(queued.id)).status is Status.PENDING
        assert await eng.store.queue_paused()
        await eng.set_queue_paused(False)
        assert (await eng.wait(queued.id, timeout=5)).status is Status.COMPLETED


async def test_a_worker_never_claims_a_type_it_has_not_loaded(idle: Engine) -> None:
    other = Engine(idle.store, registry=Registry())
    job = await idle.submit("sleep", {"seconds": 0})
    await other.run(drain=True)  # nothing of its own to wait for: it returns
    left = await idle.get(job.id)
    assert left.status is Status.PENDING and left.attempts == 0 and left.error is None
    assert await idle.store.claim("w", 5, time.time(), ClaimScope.of(["other"])) == []
    assert [
        j.id for j in await idle.store.claim("w", 5, time.time(), ClaimScope.of(["sleep"]))
    ] == [job.id]


async def test_each_state_change_published_once(engine: Engine) -> None:
    sub = engine.events()
    job = await engine.submit("sleep", {"seconds": 0.05})
    await engine.wait(job.id, timeout=5)
    await anyio.sleep(0.3)  # let the watcher poll the shared store's change feed
    seen = [e.job.status for e in sub.drain() if e.kind is EventKind.JOB and e.job]
    assert seen.count(Status.COMPLETED) == 1 and seen.count(Status.PENDING) == 1
    engine.bus.unsubscribe(sub)


async def test_failed_retention_pass_is_logged_and_remembered(
    target: str, registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(target)

    async def broken_clear(*args: object, **kw: object) -> int:
        raise StoreError("disk on fire")

    store.clear = broken_clear  # type: ignore[method-assign]
    eng = Engine(
        store, registry=registry, poll_interval=0.02, retention_days=1.0, retention_interval=0.01
    )
    assert eng.health == "ok"
    with caplog.at_level(logging.WARNING, logger="tuiqueue.engine.engine"):
        async with eng:
            with anyio.fail_after(5):
                while eng.last_error is None:
                    await anyio.sleep(0.01)
            # ...and visible to `tuiqueue workers` in any process, through the store.
            mine = [w for w in await eng.workers() if w.id == eng.worker_id]
            assert "disk on fire" in mine[0].error
    assert "disk on fire" in eng.health
    assert any("retention pass failed" in r.getMessage() for r in caplog.records)


def test_failed_heartbeat_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    def no_store() -> Store:
        raise StoreError("no connection")

    beat = Heartbeat(no_store, "w1", lambda: (0, 0), lambda: 0.0)
    with caplog.at_level(logging.ERROR, logger="tuiqueue.engine.recovery"):
        beat.start()
        beat.stop()
    assert isinstance(beat.error, StoreError)
    assert any("heartbeat of worker w1 stopped" in r.getMessage() for r in caplog.records)
