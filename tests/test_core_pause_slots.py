"""A paused job gives its slot to the next job, and once resumed takes the next free slot
before any queued job (people pause to make room)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tuiqueue.core.context import JobContext
from tuiqueue.core.params import Param
from tuiqueue.core.registry import Registry
from tuiqueue.core.status import Status
from tuiqueue.engine.engine import Engine
from tuiqueue.store import open_store

pytestmark = pytest.mark.anyio

GATES: dict[str, anyio.Event] = {}


def _registry() -> Registry:
    reg = Registry()

    @reg.job_type("hold", params=[Param("name", "str", required=True)])
    async def hold(ctx: JobContext, name: str) -> str:
        while not GATES[name].is_set():
            await ctx.checkpoint()
            await anyio.sleep(0.005)
        await ctx.checkpoint()  # (a paused job waits here even once its gate is open)
        return name

    return reg


@pytest.fixture(params=["memory", "sqlite"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return ":memory:" if request.param == "memory" else str(tmp_path / "q.db")


async def _until(engine: Engine, job_id: int, status: Status) -> None:
    with anyio.fail_after(10):
        while (await engine.get(job_id)).status is not status:
            await anyio.sleep(0.01)


async def test_a_paused_job_gives_its_slot_and_gets_the_next_one_first(target: str) -> None:
    for name in "abc":
        GATES[name] = anyio.Event()
    async with Engine(open_store(target), concurrency=1, registry=_registry()) as engine:
        a = await engine.submit("hold", {"name": "a"})
        await _until(engine, a.id, Status.RUNNING)
        b = await engine.submit("hold", {"name": "b"})
        await engine.pause(a.id)
        await _until(engine, b.id, Status.RUNNING)  # a's slot went to b
        c = await engine.submit("hold", {"name": "c"})
        await engine.resume(a.id)
        GATES["a"].set()
        await anyio.sleep(0.2)  # (b holds the only slot: a waits for it, paused here)
        assert engine._d.resuming == type(engine._d.resuming)([a.id])
        assert (await engine.get(a.id)).status is Status.RUNNING
        assert (await engine.get(c.id)).status is Status.PENDING
        GATES["b"].set()
        await _until(engine, a.id, Status.COMPLETED)  # a took b's slot, ahead of c
        done_a = await engine.get(a.id)
        GATES["c"].set()
        await _until(engine, c.id, Status.COMPLETED)
        done_c = await engine.get(c.id)
        assert done_c.started_at is not None and done_a.finished_at is not None
        assert done_c.started_at >= done_a.finished_at
        assert not engine._d.parked and not engine._d.resuming
        await engine.stop()
