"""Engine commands on many jobs: one call, what cannot apply is skipped and said, never raised."""

from __future__ import annotations

import pytest

from tuiqueue.core.job import NewJob
from tuiqueue.core.registry import ensure_job_types
from tuiqueue.core.status import Priority, Status
from tuiqueue.engine.engine import Engine
from tuiqueue.store.memory import MemoryStore

pytestmark = pytest.mark.anyio


async def engine() -> Engine:
    """A worker-less engine on an open memory store (nothing runs by itself)."""
    ensure_job_types()
    e = Engine(MemoryStore(), worker=False)
    await e.store.open()
    return e


async def test_command_many_skips_finished_and_deleted_jobs() -> None:
    e = await engine()
    jobs = await e.submit_many([NewJob("echo", {}) for _ in range(4)])
    ids = [j.id for j in jobs]
    await e.cancel(ids[0])
    await e.delete([ids[1]])
    events = e.events()
    done = await e.command_many(ids, "cancel")
    assert done.done == tuple(ids[2:])
    assert set(done.skipped) == {ids[0], ids[1]} and done.skipped[ids[1]] == "deleted"
    assert [(await e.get(i)).status for i in ids[2:]] == [Status.CANCELLED] * 2
    assert {ev.job.id for ev in events.drain() if ev.job is not None} == set(ids[2:])


async def test_rerun_many_links_each_new_job_and_only_takes_the_asked_statuses() -> None:
    e = await engine()
    a, b = await e.submit_many(
        [NewJob("echo", {"message": "a"}, queue="q1", priority=Priority.HIGH), NewJob("echo", {})]
    )
    await e.cancel(a.id)
    done = await e.rerun_many([a.id, b.id, 999], only={Status.CANCELLED})
    assert done.done == (a.id,) and set(done.skipped) == {b.id, 999}
    (new,) = done.jobs
    assert new.rerun_of == a.id and new.params["message"] == "a"
    assert new.queue == "q1" and new.priority is Priority.HIGH
    assert await e.reruns(a.id) == [new.id]


async def test_set_priority_many_and_delete_many_skip_what_cannot_change() -> None:
    e = await engine()
    a, b = await e.submit_many([NewJob("echo", {}) for _ in range(2)])
    await e.cancel(b.id)
    done = await e.set_priority_many({a.id: Priority.LOW, b.id: Priority.LOW})
    assert done.done == (a.id,) and set(done.skipped) == {b.id}
    assert (await e.get(a.id)).priority is Priority.LOW
    gone = await e.delete_many([a.id, b.id, 999])
    assert gone.done == (a.id, b.id) and gone.skipped == {999: "deleted"}
