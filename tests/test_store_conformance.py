"""One set of store tests, run against every store: memory, SQLite and Redis."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from tests.conftest import register_elsewhere
from tests.pg_support import SKIP_REASON, drop_schema, fresh_url, pg_reachable
from tuiqueue.core.job import Job, NewJob
from tuiqueue.core.lifecycle import Outcome, UnknownJob
from tuiqueue.core.records import JobProcess, LogLines, ProgressUpdate, Superseded, WorkerInfo
from tuiqueue.core.status import Priority, Status, TransitionError
from tuiqueue.store.base import LOG_HEAD, LOG_LINE_MAX, LOG_TAIL, Store, StoreError
from tuiqueue.store.memory import MemoryStore
from tuiqueue.store.sqlite import SqliteStore

pytestmark = pytest.mark.anyio

REDIS_URL = "redis://127.0.0.1:6379/12"
"""Conformance tests isolate themselves by key prefix, so they never flush a database."""
NOW = 1_700_000_000.0


def redis_reachable(host: str = "127.0.0.1", port: int = 6379) -> bool:
    """Whether a Redis server answers on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh, open store of each kind."""
    if request.param == "postgres":
        if not pg_reachable():
            pytest.skip(SKIP_REASON)
        from tuiqueue.store.postgres import PostgresStore

        url = fresh_url()
        pg = PostgresStore(url)
        await pg.open()
        try:
            yield pg
        finally:
            await pg.close()
            drop_schema(url)
        return
    if request.param == "memory":
        yield MemoryStore()
        return
    if request.param == "sqlite":
        sqlite = SqliteStore(tmp_path / "jobs.db")
        await sqlite.open()
        yield sqlite
        await sqlite.close()
        return
    if not redis_reachable():
        pytest.skip("no Redis server at 127.0.0.1:6379 (start redis-server to run these)")
    from tuiqueue.store.redis import RedisStore

    redis = RedisStore(REDIS_URL, prefix=f"tqtest:{uuid.uuid4().hex[:8]}:")
    await redis.open()
    try:
        yield redis
    finally:
        keys = [k async for k in redis.client.scan_iter(match=redis.prefix + "*", count=1000)]
        for start in range(0, len(keys), 500):
            await redis.client.delete(*keys[start : start + 500])
        await redis.close()


def new(type: str = "echo", **kw: object) -> NewJob:
    """A NewJob with small params."""
    return NewJob(type, {"n": 1}, **kw)  # type: ignore[arg-type]


async def claim_one(store: Store, worker: str = "w1", now: float = NOW) -> Job:
    """Claim exactly one job."""
    jobs = await store.claim(worker, 1, now)
    assert len(jobs) == 1
    return jobs[0]


# -- adding and reading -------------------------------------------------------------------


async def test_add_get_and_list_paging(store: Store) -> None:
    added = await store.add([new() for _ in range(25)], NOW)
    ids = [j.id for j in added]
    assert ids == list(range(ids[0], ids[0] + 25))
    assert all(j.status is Status.PENDING for j in added)
    got = await store.get(ids[3])
    assert got is not None and got.params == {"n": 1} and got.created_at == NOW
    assert await store.get(10**9) is None
    page1 = await store.list_jobs(limit=10)
    assert [j.id for j in page1] == ids[::-1][:10]
    page2 = await store.list_jobs(limit=10, before_id=page1[-1].id)
    assert [j.id for j in page2] == ids[::-1][10:20]
    page3 = await store.list_jobs(limit=10, before_id=page2[-1].id)
    assert [j.id for j in page3] == ids[::-1][20:]


async def test_list_oldest_first_after_an_id(store: Store) -> None:
    """after_id pages oldest first (the queue's order), also within some statuses."""
    added = await store.add([new() for _ in range(25)], NOW)
    ids = [j.id for j in added]
    await store.command(ids[1], "cancel", NOW)
    page1 = await store.list_jobs(limit=10, after_id=0)
    assert [j.id for j in page1] == ids[:10]
    page2 = await store.list_jobs(limit=10, after_id=page1[-1].id)
    assert [j.id for j in page2] == ids[10:20]
    assert [j.id for j in await store.list_jobs(limit=10, after_id=page2[-1].id)] == ids[20:]
    assert await store.list_jobs(limit=10, after_id=ids[-1]) == []
    queued = await store.list_jobs(statuses=[Status.PENDING], limit=3, after_id=0)
    assert [j.id for j in queued] == [ids[0], ids[2], ids[3]]  # the cancelled one skipped
    rest = await store.list_jobs(statuses=[Status.PENDING], limit=30, after_id=queued[-1].id)
    assert [j.id for j in rest] == ids[4:]


async def test_list_filters_by_status_and_type(store: Store) -> None:
    a, b, c = await store.add([new("echo"), new("primes"), new("echo")], NOW)
    await store.command(b.id, "cancel", NOW)
    assert [j.id for j in await store.list_jobs(type="echo")] == [c.id, a.id]
    assert [j.id for j in await store.list_jobs(statuses={Status.CANCELLED})] == [b.id]
    both = await store.list_jobs(statuses={Status.PENDING, Status.CANCELLED})
    assert [j.id for j in both] == [c.id, b.id, a.id]
    one = await store.list_jobs(statuses={Status.PENDING}, type="echo", limit=1)
    assert [j.id for j in one] == [c.id]


async def test_add_with_missing_dependency_adds_nothing(store: Store) -> None:
    with pytest.raises(UnknownJob):
        await store.add([new(), new(depends_on=(10**6,))], NOW)
    assert sum((await store.counts()).values()) == 0


# -- claiming -----------------------------------------------------------------------------


async def test_claim_priority_then_fifo(store: Store) -> None:
    jobs = await store.add(
        [
            new(priority=p)
            for p in (
                Priority.LOW,
                Priority.NORMAL,
                Priority.HIGH,
                Priority.NORMAL,
                Priority.CRITICAL,
            )
        ],
        NOW,
    )
    claimed = await store.claim("w1", 10, NOW)
    expected = [jobs[4].id, jobs[2].id, jobs[1].id, jobs[3].id, jobs[0].id]
    assert [j.id for j in claimed] == expected
    assert all(j.status is Status.RUNNING and j.worker == "w1" and j.token for j in claimed)
    assert all(j.attempts == 1 and j.started_at == NOW for j in claimed)
    assert await store.claim("w1", 10, NOW) == []


async def test_claims_are_exclusive(store: Store) -> None:
    await store.add([new() for _ in range(60)], NOW)
    seen: list[int] = []

    async def worker(name: str) -> None:
        while batch := await store.claim(name, 4, NOW):
            seen.extend(j.id for j in batch)

    async with anyio.create_task_group() as tg:
        for i in range(4):
            tg.start_soon(worker, f"w{i}")
    assert len(seen) == 60 and len(set(seen)) == 60


async def test_scheduled_jobs_wait_for_their_time(store: Store) -> None:
    (job,) = await store.add([new(run_at=NOW + 10)], NOW)
    assert job.status is Status.SCHEDULED
    assert await store.next_wakeup(NOW) == NOW + 10
    assert await store.claim("w1", 5, NOW + 9) == []
    got = await claim_one(store, now=NOW + 11)
    assert got.id == job.id
    assert await store.next_wakeup(NOW + 11) is None


async def test_waiting_jobs_follow_their_dependencies(store: Store) -> None:
    a, d = await store.add([new(), new()], NOW)
    b, c = await store.add([new(depends_on=(a.id,)), new(depends_on=(d.id,))], NOW)
    assert b.status is Status.WAITING and c.status is Status.WAITING
    first = await store.claim("w1", 10, NOW)
    assert {j.id for j in first} == {a.id, d.id}
    by_id = {j.id: j for j in first}
    await store.finish(
        [
            Outcome(a.id, by_id[a.id].token or "", Status.COMPLETED),
            Outcome(d.id, by_id[d.id].token or "", Status.FAILED, error="x"),
        ],
        NOW,
    )
    assert [j.id for j in await store.claim("w1", 10, NOW + 1)] == [b.id]
    failed = await store.get(c.id)
    assert failed is not None and failed.status is Status.FAILED
    assert failed.error is not None and f"dependency job {d.id}" in failed.error


# -- finishing and progress ---------------------------------------------------------------


async def test_finish_ignores_stale_tokens(store: Store) -> None:
    await store.add([new()], NOW)
    job = await claim_one(store)
    assert await store.finish([Outcome(job.id, "stale", Status.COMPLETED)], NOW) == []
    still = await store.get(job.id)
    assert still is not None and still.status is Status.RUNNING
    done = await store.finish(
        [
            Outcome(
                job.id,
                job.token or "",
                Status.COMPLETED,
                result={"ok": [1, 2]},
                progress=100.0,
                message="done",
            )
        ],
        NOW + 1,
    )
    assert len(done) == 1 and done[0].status is Status.COMPLETED
    assert done[0].result == {"ok": [1, 2]} and done[0].finished_at == NOW + 1
    assert done[0].token is None and done[0].progress == 100.0 and done[0].message == "done"
    assert await store.finish([Outcome(job.id, job.token or "", Status.FAILED)], NOW) == []


async def test_finish_retry_reschedules_and_requeue_reclaims(store: Store) -> None:
    await store.add([new(max_attempts=3)], NOW)
    job = await claim_one(store)
    (later,) = await store.finish(
        [Outcome(job.id, job.token or "", Status.SCHEDULED, error="boom", run_at=NOW + 5)], NOW
    )
    assert later.status is Status.SCHEDULED and later.worker is None and later.run_at == NOW + 5
    assert await store.claim("w1", 1, NOW + 1) == []
    again = await claim_one(store, now=NOW + 6)
    assert again.attempts == 2 and again.token != job.token
    await store.finish([Outcome(job.id, again.token or "", Status.PENDING)], NOW + 6)
    third = await claim_one(store, now=NOW + 7)
    assert third.attempts == 3


async def test_finish_and_claim_records_then_fills_the_freed_slots(store: Store) -> None:
    await store.add([new(), new(), new(priority=Priority.HIGH)], NOW)
    (high,) = await store.claim("w1", 1, NOW)
    start = await store.version()
    finished, claimed = await store.finish_and_claim(
        [
            Outcome(
                high.id,
                high.token or "",
                Status.COMPLETED,
                result=[1],
                progress=100.0,
                message="done",
            ),
            Outcome(high.id, "stale", Status.FAILED),
        ],
        "w1",
        1,
        NOW + 1,
    )
    assert [(j.id, j.status, j.result, j.finished_at) for j in finished] == [
        (high.id, Status.COMPLETED, [1], NOW + 1)
    ]
    assert len(claimed) == 1 and claimed[0].status is Status.RUNNING
    assert claimed[0].token and claimed[0].worker == "w1" and claimed[0].attempts == 1
    changes = await store.changes(start)
    assert {j.id for j in changes.jobs} == {high.id, claimed[0].id}
    # Nothing to record and no slot: no write at all; a full queue pause stops the claim.
    assert await store.finish_and_claim([], "w1", 0, NOW + 2) == ([], [])
    await store.set_queue_paused(True)
    assert await store.finish_and_claim([], "w1", 5, NOW + 2) == ([], [])
    await store.set_queue_paused(False)
    finished, last = await store.finish_and_claim(
        [
            Outcome(
                claimed[0].id,
                claimed[0].token or "",
                Status.SCHEDULED,
                error="boom",
                run_at=NOW + 60,
            )
        ],
        "w1",
        5,
        NOW + 3,
    )
    assert finished[0].status is Status.SCHEDULED and finished[0].run_at == NOW + 60
    assert finished[0].worker is None and finished[0].token is None
    assert len(last) == 1 and last[0].id not in (high.id, claimed[0].id)
    counts = await store.counts()
    assert counts[Status.COMPLETED] == 1 and counts[Status.RUNNING] == 1
    assert counts[Status.SCHEDULED] == 1 and counts[Status.PENDING] == 0


async def test_finish_ids_and_claim_records_the_same_and_names_only_the_recorded(
    store: Store,
) -> None:
    """The engine's call when nobody watches: the same writes as finish_and_claim, only the
    recorded outcomes' ids back (a stale token's outcome is not among them)."""
    await store.add([new(), new(), new(), new()], NOW)
    first = await store.claim("w1", 2, NOW)
    start = await store.version()
    ok, stale = first
    recorded, claimed = await store.finish_ids_and_claim(
        [
            Outcome(ok.id, ok.token or "", Status.COMPLETED, result={"n": 1}),
            Outcome(stale.id, "stale", Status.FAILED, error="never recorded"),
            Outcome(stale.id, stale.token or "", Status.SCHEDULED, run_at=NOW + 60),
        ],
        "w2",
        1,
        NOW + 1,
    )
    assert recorded == {ok.id, stale.id}
    assert len(claimed) == 1 and claimed[0].worker == "w2" and claimed[0].status is Status.RUNNING
    done, later = await store.get(ok.id), await store.get(stale.id)
    assert done is not None and later is not None
    assert (done.status, done.result, done.finished_at) == (Status.COMPLETED, {"n": 1}, NOW + 1)
    assert (later.status, later.run_at, later.error) == (Status.SCHEDULED, NOW + 60, None)
    changes = await store.changes(start)
    assert {j.id for j in changes.jobs} == {ok.id, stale.id, claimed[0].id}
    # A repeat records nothing (the tokens are spent); nothing to do is no write.
    again, none = await store.finish_ids_and_claim(
        [Outcome(ok.id, ok.token or "", Status.FAILED)], "w2", 0, NOW + 2
    )
    assert (again, none) == (set(), [])
    assert (await store.get(ok.id)).status is Status.COMPLETED  # type: ignore[union-attr]
    assert await store.finish_ids_and_claim([], "w2", 0, NOW + 3) == (set(), [])


async def test_a_claimed_job_is_what_the_store_then_holds(store: Store) -> None:
    """Every field of a claim's jobs, as a read of them right after gives them (a retried
    job's earlier progress, message and error included)."""
    first, second = await store.add([new(max_attempts=2, timeout=5.0), new(queue="q2")], NOW)
    job = await claim_one(store)
    await store.save_progress([ProgressUpdate(job.id, job.token or "", 40.0, "went so far")], NOW)
    retry = Outcome(job.id, job.token or "", Status.PENDING, error="first try failed")
    await store.finish([retry], NOW + 1)
    claimed = await store.claim("w2", 5, NOW + 2)
    assert {j.id for j in claimed} == {first.id, second.id}
    assert claimed == [await store.get(j.id) for j in claimed]
    again = next(j for j in claimed if j.id == first.id)
    assert (again.attempts, again.worker, again.started_at) == (2, "w2", NOW + 2)


async def test_idle_claim_changes_nothing(store: Store) -> None:
    await store.add([new(run_at=NOW + 60)], NOW)
    version = await store.version()
    assert await store.claim("w1", 4, NOW) == []
    assert (await store.changes(version)).jobs == []


async def test_progress_needs_the_current_token(store: Store) -> None:
    await store.add([new()], NOW)
    job = await claim_one(store)
    await store.save_progress([ProgressUpdate(job.id, "stale", 50.0, "nope")], NOW)
    await store.save_progress([ProgressUpdate(job.id, job.token or "", 42.5, "half")], NOW + 1)
    got = await store.get(job.id)
    assert got is not None and got.progress == 42.5 and got.message == "half"


# -- commands -----------------------------------------------------------------------------


async def test_cancel_pause_resume(store: Store) -> None:
    a, b, c = await store.add([new(), new(), new()], NOW)
    cancelled = await store.command(a.id, "cancel", NOW)
    assert cancelled.status is Status.CANCELLED and cancelled.finished_at == NOW
    paused = await store.command(b.id, "pause", NOW)
    assert paused.status is Status.PAUSED
    assert [j.id for j in await store.claim("w1", 10, NOW)] == [c.id]
    resumed = await store.command(b.id, "resume", NOW)
    assert resumed.status is Status.PENDING
    running = await claim_one(store)
    assert running.id == b.id
    with pytest.raises(TransitionError):
        await store.command(a.id, "cancel", NOW)
    with pytest.raises(UnknownJob):
        await store.command(10**6, "cancel", NOW)


async def test_commands_on_a_running_job(store: Store) -> None:
    await store.add([new()], NOW)
    job = await claim_one(store)
    paused = await store.command(job.id, "pause", NOW)
    assert paused.status is Status.PAUSED and paused.token == job.token
    resumed = await store.command(job.id, "resume", NOW)
    assert resumed.status is Status.RUNNING
    asked = await store.command(job.id, "cancel", NOW)
    assert asked.status is Status.RUNNING and asked.cancel_requested
    stored = await store.get(job.id)
    assert stored is not None and stored.cancel_requested
    (done,) = await store.finish([Outcome(job.id, job.token or "", Status.CANCELLED)], NOW)
    assert done.status is Status.CANCELLED and not done.cancel_requested


# -- logs ---------------------------------------------------------------------------------


async def test_logs_keep_head_and_tail(store: Store) -> None:
    await store.add([new()], NOW)
    job = await claim_one(store)
    token = job.token or ""
    total = LOG_HEAD + LOG_TAIL + 50
    for start in range(0, total, 1000):
        chunk = range(start, min(total, start + 1000))
        await store.append_logs({job.id: LogLines(token, [f"line {i + 1}" for i in chunk])})
    page = await store.logs(job.id)
    assert page.dropped == 50
    seqs = [s for s, _ in page.lines]
    assert seqs == [*range(1, LOG_HEAD + 1), *range(LOG_HEAD + 51, total + 1)]
    assert all(line == f"line {s}" for s, line in page.lines)
    tail = await store.logs(job.id, after=total - 3)
    assert [s for s, _ in tail.lines] == [total - 2, total - 1, total]
    some = await store.logs(job.id, after=10, limit=5)
    assert [s for s, _ in some.lines] == [11, 12, 13, 14, 15]
    await store.append_logs({job.id: LogLines(token, ["x" * (LOG_LINE_MAX + 10)])})
    last = await store.logs(job.id, after=total)
    assert (
        last.lines[0][1].startswith("x" * LOG_LINE_MAX)
        and "10 more characters" in (last.lines[0][1])
    )
    with pytest.raises(UnknownJob):
        await store.logs(10**6)


async def test_log_lines_need_the_current_token(store: Store) -> None:
    a, b = await store.add([new(), new()], NOW)
    first = await claim_one(store, "w1")
    await store.append_logs({first.id: LogLines(first.token or "", ["first attempt"])})
    # Recovery requeues it (its worker judged dead) and another worker takes it over.
    await store.finish([Outcome(first.id, first.token or "", Status.PENDING)], NOW + 1)
    again = next(j for j in await store.claim("w2", 2, NOW + 2) if j.id == first.id)
    assert again.token != first.token
    other = b.id if first.id == a.id else a.id
    await store.append_logs(
        {
            first.id: LogLines(first.token or "", ["stale: the old attempt still writing"]),
            other: LogLines("not its token", ["stale too"]),
        }
    )
    await store.append_logs({first.id: LogLines(again.token or "", ["second attempt"])})
    lines = [line for _, line in (await store.logs(first.id)).lines]
    assert lines == ["first attempt", "second attempt"]
    assert (await store.logs(other)).lines == []
    # A finished job's token is spent: its old attempt cannot add to its log either.
    await store.finish([Outcome(first.id, again.token or "", Status.COMPLETED)], NOW + 3)
    await store.append_logs({first.id: LogLines(again.token or "", ["after the end"])})
    assert [line for _, line in (await store.logs(first.id)).lines] == lines


async def test_heartbeat_names_the_superseded_runs(store: Store) -> None:
    await store.register_worker(info("w1", NOW))
    a, b, _still_w1s = await store.add([new(), new(), new()], NOW)
    old = {j.id: j.token or "" for j in await store.claim("w1", 3, NOW)}
    assert await store.heartbeat("w1", 3, 0, NOW, old) == []
    assert await store.heartbeat("w1", 3, 0, NOW) == []
    # a: taken over by w2 (attempt 2); b: failed by recovery; c: still w1's own.
    await store.finish(
        [
            Outcome(a.id, old[a.id], Status.PENDING),
            Outcome(b.id, old[b.id], Status.FAILED, error="worker lost"),
        ],
        NOW + 1,
    )
    (taken,) = await store.claim("w2", 1, NOW + 2)
    assert taken.id == a.id
    found = await store.heartbeat("w1", 3, 0, NOW + 3, {**old, 10**6: "gone"})
    by_id = {s.job_id: s for s in found}
    assert set(by_id) == {a.id, b.id, 10**6}
    assert by_id[a.id] == Superseded(a.id, old[a.id], Status.RUNNING, "w2", 2)
    assert by_id[a.id].describe(1) == (
        f"job {a.id}: attempt 1 was taken over by worker w2 (attempt 2); stopped it here"
    )
    assert by_id[b.id].status is Status.FAILED and by_id[b.id].token == old[b.id]
    assert "ended elsewhere (the job is failed now)" in by_id[b.id].describe(1)
    assert by_id[10**6].status is None
    (w,) = await store.workers()
    assert w.heartbeat == NOW + 3


async def test_lines_lost_before_the_store_are_counted_with_the_trimmed_ones(store: Store) -> None:
    await store.add([new()], NOW)
    job = await claim_one(store, "w1")
    t = job.token or ""
    await store.append_logs({job.id: LogLines(t, [f"head {i}" for i in range(LOG_HEAD)])})
    await store.append_logs({job.id: LogLines(t, ["a", "b"])}, {job.id: 7})
    # (an unknown job's count is ignored)
    await store.append_logs({job.id: LogLines(t, ["c"])}, {job.id: 5, 10**6: 3})
    page = await store.logs(job.id)
    assert page.dropped == 12 and [line for _, line in page.lines[-3:]] == ["a", "b", "c"]
    assert all(line.startswith("head") for _, line in page.lines[:LOG_HEAD])
    await store.append_logs({job.id: LogLines(t, [f"t {i}" for i in range(LOG_TAIL + 4)])})
    assert (await store.logs(job.id)).dropped == 12 + 3 + 4
    assert (await store.logs(job.id, after=LOG_HEAD + LOG_TAIL)).dropped == 19


# -- deleting -----------------------------------------------------------------------------


async def test_delete(store: Store) -> None:
    a, b = await store.add([new(), new()], NOW)
    running = await claim_one(store)
    with pytest.raises(ValueError):
        await store.delete([running.id])
    with pytest.raises(UnknownJob):
        await store.delete([10**6])
    other = b.id if running.id == a.id else a.id
    await store.append_logs({running.id: LogLines(running.token or "", ["hello"])})
    await store.finish([Outcome(running.id, running.token or "", Status.COMPLETED)], NOW)
    assert await store.delete([running.id]) == [running.id]
    assert await store.get(running.id) is None
    with pytest.raises(UnknownJob):
        await store.logs(running.id)
    assert await store.delete([other]) == [other]
    assert await store.get(other) is None
    assert sum((await store.counts()).values()) == 0


async def test_clear_finished_keeping_the_newest(store: Store) -> None:
    await store.add([new() for _ in range(6)], NOW)
    jobs = await store.claim("w1", 6, NOW)
    for i, job in enumerate(jobs):
        status = Status.COMPLETED if i % 2 == 0 else Status.FAILED
        await store.finish([Outcome(job.id, job.token or "", status)], NOW + i)
    await store.add([new()], NOW)
    assert await store.clear({Status.COMPLETED, Status.FAILED}, keep_newest=2) == 4
    left = await store.list_jobs()
    assert [j.id for j in left[1:]] == [jobs[5].id, jobs[4].id]
    assert await store.clear({Status.COMPLETED}, finished_before=NOW + 4) == 0
    assert await store.clear({Status.FAILED}, finished_before=NOW + 6) == 1
    assert await store.clear({Status.PENDING}) == 0


async def test_counts(store: Store) -> None:
    await store.add([new(), new(), new(run_at=NOW + 60)], NOW)
    await claim_one(store)
    counts = await store.counts()
    assert counts[Status.PENDING] == 1 and counts[Status.RUNNING] == 1
    assert counts[Status.SCHEDULED] == 1 and set(counts) == set(Status)
    (done,) = await store.finish(
        [
            Outcome(job.id, job.token or "", Status.COMPLETED)
            for job in await store.claim("w1", 1, NOW)
        ],
        NOW,
    )
    await store.delete([done.id])
    counts = await store.counts()
    assert counts[Status.PENDING] == 0 and counts[Status.COMPLETED] == 0
    assert counts[Status.RUNNING] == 1 and sum(counts.values()) == 2


# -- change feed and queue ----------------------------------------------------------------


async def test_changes_feed(store: Store) -> None:
    start = await store.version()
    a, b = await store.add([new(), new()], NOW)
    changes = await store.changes(start)
    assert {j.id for j in changes.jobs} == {a.id, b.id} and changes.version > start
    assert await store.version() == changes.version
    quiet = await store.changes(changes.version)
    assert quiet.jobs == [] and quiet.deleted == [] and quiet.version == changes.version
    job = await claim_one(store)
    await store.command(b.id if job.id == a.id else a.id, "cancel", NOW)
    moved = await store.changes(changes.version)
    assert {j.id for j in moved.jobs} == {a.id, b.id}
    await store.finish([Outcome(job.id, job.token or "", Status.COMPLETED)], NOW)
    await store.delete([a.id])
    after = await store.changes(moved.version)
    assert after.deleted == [a.id]
    assert all(j.id != a.id for j in after.jobs)


async def test_only_own_changes(store: Store, tmp_path: Path) -> None:
    start = await store.version()
    (job,) = await store.add([new()], NOW)
    await store.finish_and_claim([], "w1", 1, NOW)
    mine = await store.version()
    if isinstance(store, MemoryStore):  # not shared: nobody watches it, so it never says
        assert not store.only_own_changes(start, mine)
        return
    assert store.only_own_changes(start, mine)
    if isinstance(store, SqliteStore):
        other: Store = SqliteStore(store.path)
    elif type(store).__name__ == "PostgresStore":
        other = store.clone()
    else:
        from tuiqueue.store.redis import RedisStore

        assert isinstance(store, RedisStore)
        other = RedisStore(store.url, prefix=store.prefix)
    async with other:
        await other.command(job.id, "cancel", NOW)
    await store.add([new()], NOW)
    assert not store.only_own_changes(mine, await store.version())


async def test_queue_pause(store: Store) -> None:
    await store.add([new()], NOW)
    assert not await store.queue_paused()
    before = await store.version()
    await store.set_queue_paused(True)
    assert await store.queue_paused() and await store.version() > before
    assert await store.claim("w1", 5, NOW) == []
    await store.set_queue_paused(False)
    assert len(await store.claim("w1", 5, NOW)) == 1


# -- workers ------------------------------------------------------------------------------


def info(worker_id: str, heartbeat: float, started: float = NOW) -> WorkerInfo:
    """A worker row."""
    return WorkerInfo(worker_id, "host", 123, 3, started, heartbeat)


async def test_a_workers_background_error_is_kept(store: Store) -> None:
    await store.register_worker(info("w", NOW))
    await store.report_worker_error("w", "heartbeat stopped: OSError('disk')")
    await store.heartbeat("w", 1, 2, NOW)
    (w,) = await store.workers()
    assert w.error == "heartbeat stopped: OSError('disk')"
    assert w.to_dict(NOW, 10)["error"] == w.error


async def test_workers_and_orphans(store: Store) -> None:
    await store.register_worker(info("alive", NOW, started=NOW))
    await register_elsewhere(store, info("silent", NOW - 100, started=NOW - 100))
    if type(store).__name__ == "RedisStore":
        # Redis judges leases on its own clock: make the silent worker's last beat old there.
        seconds, micros = await store.client.time()  # type: ignore[attr-defined]
        await store.client.hset(
            store.prefix + "w:silent",
            "beat",  # type: ignore[attr-defined]
            str(seconds * 1000 + micros // 1000 - 100_000),
        )
    if type(store).__name__ == "PostgresStore":
        # PostgreSQL judges leases on its own clock too: make the silent worker's beat old.
        await store.db.read(  # type: ignore[attr-defined]
            lambda c: c.execute(
                "UPDATE workers SET beat = clock_timestamp() - interval '100 s' WHERE id = 'silent'"
            )
        )
    await store.add([new(), new(), new(), new()], NOW)
    mine = await claim_one(store, "alive")
    lost = await claim_one(store, "silent")
    ghost = await claim_one(store, "ghost")
    await store.command(ghost.id, "pause", NOW)
    orphans = await store.orphans(NOW, dead_after=10)
    assert {j.id for j in orphans} == {lost.id, ghost.id}
    await store.heartbeat("silent", 1, 7, NOW)
    await store.heartbeat("nobody", 1, 7, NOW)
    # A heartbeat revives a worker judged by its age; a worker whose lock is gone stays dead.
    revived = {ghost.id, lost.id} if store.exact_liveness else {ghost.id}
    assert {j.id for j in await store.orphans(NOW, 10)} == revived
    await store.stop_worker("alive", NOW + 1)
    assert {j.id for j in await store.orphans(NOW + 1, 10)} == {mine.id} | revived
    workers = await store.workers()
    assert [w.id for w in workers] == ["alive", "silent"]
    assert workers[0].stopped and not workers[0].alive(NOW + 1, 10)
    # Listed alive as recovery judges it: by its lock where there is one (gone here).
    assert workers[1].processed == 7
    assert workers[1].alive(NOW, 10) is (not store.exact_liveness)
    assert workers[1].to_dict(NOW, 10)["alive"] is (not store.exact_liveness)


async def test_take_over_judges_the_worker_again_in_the_same_step(store: Store) -> None:
    await store.register_worker(info("back", NOW))
    await store.register_worker(info("gone", NOW))
    await store.add([new(), new()], NOW)
    back = await claim_one(store, "back")
    gone = await claim_one(store, "gone")
    await store.stop_worker("back", NOW)
    await store.stop_worker("gone", NOW)
    orphans = await store.orphans(NOW, dead_after=10)
    assert {j.id for j in orphans} == {back.id, gone.id}
    await store.register_worker(info("back", NOW))  # it came back after the verdict
    outcomes = [Outcome(j.id, j.token or "", Status.PENDING, error="lost") for j in orphans]
    taken = await store.take_over(outcomes, NOW, dead_after=10)
    assert [(j.id, j.status) for j in taken] == [(gone.id, Status.PENDING)]
    kept = await store.get(back.id)
    assert kept is not None and kept.status is Status.RUNNING and kept.token == back.token
    # A stale token is not taken over either, whatever its worker's state.
    await store.stop_worker("back", NOW)
    stale = Outcome(back.id, "not its token", Status.PENDING, error="lost")
    assert await store.take_over([stale], NOW, dead_after=10) == []
    assert await store.take_over([], NOW, dead_after=10) == []


async def test_job_process_record(store: Store) -> None:
    await store.add([new()], NOW)
    job = await claim_one(store)
    assert await store.job_process(job.id) is None
    await store.set_job_process(job.id, JobProcess("stale", "host", 4242, 99))
    assert await store.job_process(job.id) is None  # not the current attempt's
    proc = JobProcess(job.token or "", "host", 4242, 99)
    await store.set_job_process(job.id, proc)
    assert await store.job_process(job.id) == proc
    await store.set_job_process(job.id, None)  # the current attempt's: kept
    assert await store.job_process(job.id) == proc
    await store.finish([Outcome(job.id, job.token or "", Status.PENDING)], NOW)
    await store.set_job_process(job.id, None)  # its attempt is over: forgotten
    assert await store.job_process(job.id) is None
    await store.set_job_process(10**6, proc)
    assert await store.job_process(10**6) is None


async def test_clone_is_an_unopened_store_on_the_same_data(store: Store) -> None:
    (job,) = await store.add([new()], NOW)
    if not store.shared:  # lives in this process only: there is no sibling to make
        with pytest.raises(NotImplementedError):
            store.clone()
        return
    twin = store.clone()
    assert type(twin) is type(store) and twin is not store and twin.url == store.url
    with pytest.raises(StoreError):  # not opened yet
        await twin.get(job.id)
    async with twin:
        got = await twin.get(job.id)
        assert got is not None and got.params == job.params
        await twin.command(job.id, "cancel", NOW)
    seen = await store.get(job.id)
    assert seen is not None and seen.status is Status.CANCELLED


async def test_big_add_is_chunked_but_all_or_nothing(store: Store) -> None:
    """A batch bigger than a store's chunk behaves exactly like a small one to its caller."""
    [first] = await store.add([new()], NOW)
    before = await store.version()
    n = 4_321
    jobs = await store.add([new() for _ in range(n - 1)] + [new(depends_on=[first.id])], NOW)
    assert [j.id for j in jobs] == list(range(jobs[0].id, jobs[0].id + n))
    assert jobs[0].id > first.id and jobs[-1].status is Status.WAITING
    counts = await store.counts()
    assert counts[Status.PENDING] == n and counts[Status.WAITING] == 1
    changed = await store.changes(before)
    assert {j.id for j in jobs} <= {j.id for j in changed.jobs}
    assert (await store.get(jobs[-1].id)) is not None
    # A missing dependency in the last chunk: nothing of the batch is ever added.
    with pytest.raises(UnknownJob):
        await store.add([new() for _ in range(n - 1)] + [new(depends_on=[10**9])], NOW)
    assert sum((await store.counts()).values()) == n + 1
    [after] = await store.add([new()], NOW)
    assert await store.get(after.id) is not None
    assert len(await store.list_jobs(limit=10_000)) == n + 2
