"""The engine's hot path: runner ticks, kept outcomes, the dispatcher's Alarm, finish() records."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Container, Sequence
from pathlib import Path

import anyio
import pytest

from tuiqueue.core.context import JobContext
from tuiqueue.core.job import Job, NewJob
from tuiqueue.core.lifecycle import Outcome
from tuiqueue.core.params import Param
from tuiqueue.core.queues import ANY, ClaimScope
from tuiqueue.core.registry import Registry
from tuiqueue.core.status import TERMINAL, Status, TransitionError
from tuiqueue.engine.engine import Engine
from tuiqueue.engine.parking import Alarm
from tuiqueue.store import open_store
from tuiqueue.store.base import StoreError
from tuiqueue.store.memory import MemoryStore

pytestmark = pytest.mark.anyio


class Gates:
    """Job bodies that wait on a gate the test opens: they all end in the same loop turn."""

    def __init__(self) -> None:
        self.gates = [anyio.Event(), anyio.Event()]
        self.entered = 0
        self.runs: Counter[int] = Counter()
        """Job id -> how many times its body ran to the end."""

    def registry(self) -> Registry:
        """A registry with `gated` (waits on gates[gate]) and `noop` (returns at once)."""
        reg = Registry()

        @reg.job_type("gated", params=[Param("gate", "int", default=0, min=0, max=1)])
        async def gated(ctx: JobContext, gate: int) -> str:
            """Wait until the test opens gate `gate`."""
            self.entered += 1
            await self.gates[gate].wait()
            self.runs[ctx.job_id] += 1
            return "passed"

        @reg.job_type("noop")
        async def noop(ctx: JobContext) -> None:
            """Return at once."""
            self.runs[ctx.job_id] += 1

        return reg

    async def wait_entered(self, count: int) -> None:
        """Until `count` bodies wait at their gate."""
        with anyio.fail_after(5):
            while self.entered < count:
                await anyio.sleep(0.005)


class CountingStore(MemoryStore):
    """A MemoryStore that remembers every finish_and_claim call: (outcome ids, claimed)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[list[int], int]] = []

    async def finish_and_claim(
        self,
        outcomes: Sequence[Outcome],
        worker: str,
        limit: int,
        now: float,
        scope: ClaimScope = ANY,
    ) -> tuple[list[Job], list[Job]]:
        finished, claimed = await super().finish_and_claim(outcomes, worker, limit, now, scope)
        self.calls.append(([o.job_id for o in outcomes], len(claimed)))
        return finished, claimed

    def recorded(self) -> list[list[int]]:
        """The outcome ids of each call that carried outcomes, in call order."""
        return [ids for ids, _ in self.calls if ids]


class FailingStore(MemoryStore):
    """A MemoryStore whose finish_and_claim fails (StoreError) on the chosen calls.

    Only calls carrying outcomes are counted and, when `host` is set (the task running
    engine.run(): the dispatcher and run()'s cleanup), only those made by other tasks,
    i.e. by runners ticking.
    """

    def __init__(self, fail_on: Container[int]) -> None:
        super().__init__()
        self.fail_on = fail_on
        self.host: asyncio.Task[object] | None = None
        self.counted = 0
        self.raised: list[StoreError] = []
        self.lost: list[int] = []
        """Ids of the outcomes in the first failed call."""
        self.by_host: list[int] = []
        """Ids of the outcomes recorded by calls the host made."""

    async def finish_and_claim(
        self,
        outcomes: Sequence[Outcome],
        worker: str,
        limit: int,
        now: float,
        scope: ClaimScope = ANY,
    ) -> tuple[list[Job], list[Job]]:
        by_host = self.host is not None and asyncio.current_task() is self.host
        if outcomes and not by_host:
            self.counted += 1
            if self.counted in self.fail_on:
                self.raised.append(StoreError(f"disk on fire (runner call {self.counted})"))
                self.lost = self.lost or [o.job_id for o in outcomes]
                raise self.raised[-1]
        result = await super().finish_and_claim(outcomes, worker, limit, now, scope)
        if by_host:
            self.by_host += [o.job_id for o in outcomes]
        return result


def leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside exc's (nested) exception groups, or exc itself."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaves(inner)]
    return [exc]


async def run_until_it_fails(engine: Engine, store: FailingStore) -> None:
    """engine.run() must end (within 10 s) by raising the error the store raised, alone.

    run() runs its dispatcher inside a task group, so (as before the runner ticks) the error
    arrives wrapped in an ExceptionGroup; what matters is that it is that StoreError, not
    lost, not swallowed, not replaced by another error from the cleanup.
    """
    with anyio.fail_after(10), pytest.raises(BaseException) as raised:
        await engine.run()
    [error] = leaves(raised.value)
    assert isinstance(error, StoreError) and error in store.raised, raised.value


# -- 1. a runner that runs out of claimed jobs ticks itself --------------------------------


@pytest.mark.parametrize("concurrency", [2, 5])
async def test_jobs_ending_together_are_recorded_by_one_store_call(concurrency: int) -> None:
    gates = Gates()
    store = CountingStore()
    async with Engine(
        store,
        registry=gates.registry(),
        concurrency=concurrency,
        poll_interval=0.02,
        retention_keep=None,
    ) as engine:
        first = await engine.submit_many([("gated", {"gate": 0})] * concurrency)
        second = await engine.submit_many([("gated", {"gate": 1})] * concurrency)
        await gates.wait_entered(concurrency)
        gates.gates[0].set()
        # The tick that records the first batch claims the second in the same call.
        await gates.wait_entered(2 * concurrency)
        gates.gates[1].set()
        for job in first + second:
            done = await engine.wait(job.id, timeout=5)
            assert done.status is Status.COMPLETED and done.result == "passed"
            assert done.attempts == 1
        assert engine.processed == 2 * concurrency

    first_ids, second_ids = [j.id for j in first], [j.id for j in second]
    assert [sorted(ids) for ids in store.recorded()] == [first_ids, second_ids]
    first_call = next(call for call in store.calls if call[0])
    assert first_call[1] == concurrency  # the call that recorded the first batch claimed the second
    assert gates.runs == Counter(first_ids + second_ids)  # every body ran exactly once


async def test_noop_jobs_all_recorded_once_in_batches() -> None:
    gates = Gates()
    store = CountingStore()
    concurrency, count = 4, 200
    async with Engine(
        store,
        registry=gates.registry(),
        concurrency=concurrency,
        poll_interval=0.02,
        retention_keep=None,
    ) as engine:
        jobs = await engine.submit_many([("noop", {})] * count)
        await engine.drain(timeout=10)
        assert engine.processed == count

    ids = [job_id for call in store.recorded() for job_id in call]
    assert sorted(ids) == [j.id for j in jobs]  # each outcome recorded exactly once
    assert all(len(call) <= concurrency for call in store.recorded())
    assert len(store.recorded()) < count  # batched, not one store call per job
    assert gates.runs == Counter(j.id for j in jobs)
    counts = await store.counts()
    assert counts[Status.COMPLETED] == count and sum(counts.values()) == count


# -- 2. a store failure in a runner's tick stops the engine with that error -----------------


async def test_store_error_in_a_runner_tick_is_raised_by_run() -> None:
    gates = Gates()
    store = FailingStore(fail_on={3})
    engine = Engine(
        store, registry=gates.registry(), concurrency=4, poll_interval=0.02, retention_keep=None
    )
    await store.open()
    await engine.submit_many([("noop", {})] * 200)
    store.host = asyncio.current_task()
    await run_until_it_fails(engine, store)
    assert not engine.running
    with anyio.fail_after(2):
        await engine.stop()  # already stopped: returns at once
    counts = await store.counts()
    assert counts[Status.RUNNING] == 0  # cleanup ran: nothing left claimed by this worker


@pytest.mark.parametrize("target", ["memory", "sqlite"])
async def test_stop_gets_in_while_jobs_that_never_await_run(target: str, tmp_path: Path) -> None:
    gates = Gates()
    count = 20_000 if target == "memory" else 2_000
    store = MemoryStore() if target == "memory" else open_store(str(tmp_path / "jobs.db"))
    engine = Engine(
        store, registry=gates.registry(), concurrency=4, poll_interval=0.02, retention_keep=None
    )
    await store.open()
    await engine.submit_many([("noop", {})] * count)

    async def stop_after_some() -> None:
        while engine.processed < 100:
            await anyio.sleep(0)
        await engine.stop()

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(stop_after_some)
            await engine.run()
    left = (await store.counts())[Status.PENDING]
    await store.close()
    assert engine.processed < count and left > 0, (engine.processed, left)


# -- 3. outcomes a failed store call did not record are kept for the next flush -------------


async def run_gated_until_it_fails(store: FailingStore, concurrency: int) -> tuple[Engine, Gates]:
    """Run `concurrency` gated jobs on store, open their gate together, let run() fail."""
    gates = Gates()
    engine = Engine(
        store,
        registry=gates.registry(),
        concurrency=concurrency,
        poll_interval=0.02,
        retention_keep=None,
    )
    await store.open()
    await engine.submit_many([("gated", {"gate": 0})] * concurrency)

    async def open_gate() -> None:
        await gates.wait_entered(concurrency)
        gates.gates[0].set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(open_gate)
        await run_until_it_fails(engine, store)
    return engine, gates


async def assert_completed_once(store: MemoryStore, ids: list[int], gates: Gates) -> None:
    """Each job finished completed on its first attempt, its body having run once."""
    for job_id in ids:
        stored = await store.get(job_id)
        assert stored is not None
        assert stored.status is Status.COMPLETED, (job_id, stored.status, stored.error)
        assert stored.result == "passed" and stored.attempts == 1
    assert gates.runs == Counter(ids)  # recorded, not run again


async def test_outcomes_of_a_failed_call_are_recorded_later() -> None:
    store = FailingStore(fail_on={1})  # one transient failure, whoever ticks
    engine, gates = await run_gated_until_it_fails(store, 3)
    assert sorted(store.lost) == [1, 2, 3]  # the three ended together: one call, which failed
    await assert_completed_once(store, store.lost, gates)
    assert engine.processed == 3


async def test_outcomes_no_runner_could_record_are_recorded_by_the_cleanup_flush() -> None:
    store = FailingStore(fail_on=range(1, 10**6))  # every runner tick fails; the host's calls work
    store.host = asyncio.current_task()
    engine, gates = await run_gated_until_it_fails(store, 3)
    assert sorted(store.lost) == [1, 2, 3]
    assert sorted(store.by_host) == [1, 2, 3]  # run()'s cleanup flush recorded them
    await assert_completed_once(store, store.lost, gates)
    assert engine.processed == 3


# -- 4. the dispatcher's Alarm ------------------------------------------------------------


async def test_alarm_long_sleep_ends_on_wake() -> None:
    alarm = Alarm()
    woke = anyio.Event()

    async def sleeper() -> None:
        await alarm.sleep(60)
        woke.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper)
        await anyio.wait_all_tasks_blocked()
        assert not woke.is_set()  # asleep, not returned at once
        alarm.wake()
        with anyio.fail_after(2):
            await woke.wait()
    alarm.close()


async def test_alarm_short_sleep_ends_by_itself() -> None:
    alarm = Alarm()
    with anyio.fail_after(2):
        await alarm.sleep(0.05)
    alarm.close()


async def test_alarm_rearms_its_timer_for_an_earlier_deadline() -> None:
    alarm = Alarm()
    woke = anyio.Event()

    async def sleeper() -> None:
        await alarm.sleep(60)  # leaves its 60 s timer pending once woken
        woke.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper)
        await anyio.wait_all_tasks_blocked()
        alarm.wake()
        with anyio.fail_after(2):
            await woke.wait()
    with anyio.fail_after(2):
        await alarm.sleep(0.05)  # must not wait for the 60 s timer
    alarm.close()


# -- 5. MemoryStore.finish: the final record, or a copy ------------------------------------


async def claimed_job(store: MemoryStore, now: float) -> Job:
    """A job added to store and claimed by worker w."""
    await store.add([NewJob("noop", {}, max_attempts=3)], now)
    [job] = await store.claim("w", 1, now)
    assert job.token is not None
    return job


@pytest.mark.parametrize("status", sorted(TERMINAL))
async def test_finish_returns_the_final_record_which_never_changes(status: Status) -> None:
    store = MemoryStore()
    job = await claimed_job(store, 100.0)
    token = job.token or ""
    [final] = await store.finish([Outcome(job.id, token, status, result={"n": 1})], 101.0)
    assert final is store._jobs[job.id]  # the store's own record: no copy
    assert final.status is status and final.token is None
    before = final.copy()

    for command in ("cancel", "pause", "resume"):
        with pytest.raises(TransitionError):
            await store.command(job.id, command, 102.0)
    await store.save_progress([(job.id, token, 50.0, "late")], 103.0)
    assert await store.finish([Outcome(job.id, token, Status.FAILED, error="again")], 104.0) == []
    await store.add([NewJob("noop", {})], 105.0)
    assert [j.id for j in await store.claim("w", 10, 106.0)] == [job.id + 1]

    assert final == before
    assert await store.get(job.id) == before


async def test_finish_returns_a_copy_for_a_retry() -> None:
    store = MemoryStore()
    job = await claimed_job(store, 100.0)
    retry = Outcome(job.id, job.token or "", Status.SCHEDULED, error="try again", run_at=110.0)
    [scheduled] = await store.finish([retry], 101.0)
    assert scheduled.status is Status.SCHEDULED and scheduled.run_at == 110.0
    assert scheduled is not store._jobs[job.id]
    before = scheduled.copy()

    [again] = await store.claim("w", 1, 111.0)  # promoted, then claimed for attempt 2
    assert again.id == job.id and again.status is Status.RUNNING and again.attempts == 2
    await store.save_progress([(job.id, again.token or "", 40.0, "halfway")], 112.0)

    assert scheduled == before
    assert scheduled.status is Status.SCHEDULED and scheduled.attempts == 1
