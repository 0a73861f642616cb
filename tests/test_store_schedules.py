"""The schedule part of the store interface, run against every store (the conformance
suite's fixture: memory, SQLite, Redis, PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tests import test_store_conformance
from tuiqueue.core.job import NewJob
from tuiqueue.core.schedule import (
    Fire,
    Origin,
    ScheduleExists,
    UnknownSchedule,
    make_schedule,
)
from tuiqueue.core.status import Status
from tuiqueue.store.base import Store
from tuiqueue.store.memory import MemoryStore

pytestmark = pytest.mark.anyio

NOW = 1_700_000_000.0


store = test_store_conformance.store
"""Every store (the conformance suite's fixture, PostgreSQL too)."""

JOB = NewJob("echo", {"message": "hi"})


async def test_add_list_pause_resume_remove(store: Store) -> None:
    s = make_schedule("b", "echo", {"message": "hi"}, every="10s", tz="UTC", now=NOW)
    assert await store.add_schedule(s)
    other = make_schedule("a", "echo", {}, cron="*/5 * * * *", tz="Europe/Berlin", now=NOW)
    await store.add_schedule(other)
    assert [x.name for x in await store.schedules()] == ["a", "b"]
    assert (await store.schedules())[1] == s
    with pytest.raises(ScheduleExists):
        await store.add_schedule(s)
    assert not await store.add_schedule(s, if_absent=True)

    paused = await store.set_schedule_paused("b", True, None)
    assert paused.paused and paused.next_run == s.next_run
    resumed = await store.set_schedule_paused("b", False, NOW + 100)
    assert not resumed.paused and resumed.next_run == NOW + 100

    gone = await store.remove_schedule("b")
    assert gone == resumed
    assert [x.name for x in await store.schedules()] == ["a"]
    for call in (
        store.remove_schedule("b"),
        store.set_schedule_paused("b", True, None),
    ):
        with pytest.raises(UnknownSchedule):
            await call
    await store.add_schedule(gone)  # undo
    assert [x.name for x in await store.schedules()] == ["a", "b"]


async def test_each_slot_fires_once_and_records_its_origin(store: Store) -> None:
    s = make_schedule("tick", "echo", {"message": "hi"}, every="10s", tz="UTC", now=NOW)
    await store.add_schedule(s)
    slot = s.next_run
    assert slot == NOW + 10
    fire = Fire("tick", slot, slot + 10, Origin("tick", slot))
    made = await store.fire_schedule(fire, JOB, NOW + 10.1)
    assert made is not None and len(made) == 1
    job = made[0]
    assert job.status is Status.PENDING and job.type == "echo"
    assert (await store.get(job.id)) is not None
    # a second worker read the same next_run: the slot is taken
    assert await store.fire_schedule(fire, JOB, NOW + 10.2) is None
    assert len(await store.list_jobs()) == 1
    assert await store.job_origin(job.id) == Origin("tick", slot)
    after = (await store.schedules())[0]
    assert (after.next_run, after.last_run, after.last_job) == (slot + 10, slot, job.id)


async def test_a_skipped_slot_moves_on_without_a_job(store: Store) -> None:
    s = make_schedule("tick", "echo", {}, every="10s", tz="UTC", now=NOW)
    await store.add_schedule(s)
    slot = s.next_run
    assert slot is not None
    assert (
        await store.fire_schedule(Fire("tick", slot, slot + 10, None, "skipped: x"), None, NOW)
        == []
    )
    after = (await store.schedules())[0]
    assert (after.next_run, after.last_note, after.last_job) == (slot + 10, "skipped: x", None)
    assert await store.list_jobs() == []


async def test_paused_or_removed_schedules_do_not_fire(store: Store) -> None:
    s = make_schedule("tick", "echo", {}, every="10s", tz="UTC", now=NOW, paused=True)
    await store.add_schedule(s)
    slot = s.next_run
    fire = Fire("tick", slot, (slot or 0) + 10, Origin("tick", slot or 0))
    assert await store.fire_schedule(fire, JOB, NOW + 11) is None
    await store.remove_schedule("tick")
    assert await store.fire_schedule(fire, JOB, NOW + 11) is None
    with pytest.raises(UnknownSchedule):
        await store.fire_schedule(Fire("tick", None, None, Origin("tick", NOW, "manual")), JOB, NOW)
    assert await store.list_jobs() == []


async def test_a_manual_fire_leaves_next_run_alone(store: Store) -> None:
    s = make_schedule("tick", "echo", {}, every="10s", tz="UTC", now=NOW)
    await store.add_schedule(s)
    made = await store.fire_schedule(
        Fire("tick", None, None, Origin("tick", NOW, "manual")), JOB, NOW
    )
    assert made is not None and len(made) == 1
    after = (await store.schedules())[0]
    assert after.next_run == s.next_run and after.last_job == made[0].id
    assert await store.job_origin(made[0].id) == Origin("tick", NOW, "manual")
    assert await store.job_origin(made[0].id + 1000) is None


async def test_concurrent_fires_of_one_slot_make_one_job(store: Store, tmp_path: Path) -> None:
    s = make_schedule("tick", "echo", {}, every="10s", tz="UTC", now=NOW)
    await store.add_schedule(s)
    slot = s.next_run or 0
    others = [store] if isinstance(store, MemoryStore) else [store.clone() for _ in range(4)]
    for other in others:
        await other.open()
    results: list[object] = []

    async def race(other: Store) -> None:
        results.append(
            await other.fire_schedule(Fire("tick", slot, slot + 10, Origin("tick", slot)), JOB, NOW)
        )

    async with anyio.create_task_group() as tg:
        for other in others * (4 if isinstance(store, MemoryStore) else 1):
            tg.start_soon(race, other)
    assert sum(1 for r in results if r) == 1
    assert len(await store.list_jobs()) == 1
    if not isinstance(store, MemoryStore):
        for other in others:
            await other.close()
