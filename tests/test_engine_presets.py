"""The engine's preset commands: checked when saved and when used, refused when read-only."""

from __future__ import annotations

import pytest

from tests.conftest import make_registry
from tuiqueue.core.lifecycle import ReadOnly
from tuiqueue.core.params import Param, ValidationError
from tuiqueue.core.preset import PresetError, PresetExists, UnknownPreset
from tuiqueue.core.registry import Registry, UnknownJobType
from tuiqueue.core.status import Priority
from tuiqueue.engine.engine import Engine
from tuiqueue.store.memory import MemoryStore

pytestmark = pytest.mark.anyio


def engine(store: MemoryStore | None = None, **kw: object) -> Engine:
    """An engine (not running) on a memory store, with the test job types."""
    return Engine(store or MemoryStore(), registry=make_registry(), clock=lambda: 100.0, **kw)  # type: ignore[arg-type]


async def test_save_keeps_what_was_given_and_checks_it() -> None:
    e = engine()
    saved = await e.save_preset("quick", "sleep", {"seconds": 1}, priority="high", queue="q")
    assert (saved.params, saved.priority, saved.queue) == ({"seconds": 1.0}, Priority.HIGH, "q")
    assert (saved.created_at, saved.updated_at) == (100.0, 100.0)
    bare = await e.save_preset("bare", "chatty")
    assert bare.params == {}  # the type's defaults are not copied in
    assert [p.name for p in await e.presets()] == ["bare", "quick"]
    assert [p.name for p in await e.presets("sleep")] == ["quick"]
    with pytest.raises(ValidationError):
        await e.save_preset("bad", "sleep", {"seconds": 999})
    with pytest.raises(UnknownJobType):
        await e.save_preset("bad", "nothing")
    with pytest.raises(PresetError):
        await e.save_preset("bad name", "sleep")
    with pytest.raises(PresetExists):
        await e.save_preset("quick", "sleep", {"seconds": 2})
    again = await e.save_preset("quick", "sleep", {"seconds": 2}, replace=True)
    assert again.params == {"seconds": 2.0} and again.priority is Priority.NORMAL
    assert (await e.preset("quick")) == again
    with pytest.raises(UnknownPreset):
        await e.preset("nope")


async def test_jobs_from_a_preset_take_overrides() -> None:
    e = engine()
    await e.save_preset("quick", "chatty", {"lines": 3}, priority="low", queue="slow")
    job = await e.submit_preset("quick")
    assert (job.type, job.params, job.priority, job.queue) == (
        "chatty",
        {"lines": 3, "reports": 0},
        Priority.LOW,
        "slow",
    )
    other = await e.submit_preset("quick", {"reports": 2}, priority="critical", queue="default")
    assert other.params == {"lines": 3, "reports": 2}
    assert (other.priority, other.queue) == (Priority.CRITICAL, "default")
    with pytest.raises(ValidationError):
        await e.submit_preset("quick", {"nope": 1})  # the override's fault, said plainly


async def test_a_preset_that_no_longer_fits_is_named() -> None:
    store = MemoryStore()
    await engine(store).save_preset("long", "sleep", {"seconds": 30})
    narrower = make_registry()
    narrower.job_type("sleep", params=[Param("seconds", "float", default=1, max=5)])(
        lambda ctx, seconds: None
    )
    e = Engine(store, registry=narrower)
    with pytest.raises(PresetError, match="preset 'long' no longer fits job type 'sleep'"):
        await e.preset_job("long")
    assert (await e.preset_job("long", {"seconds": 2})).params == {"seconds": 2.0}
    with pytest.raises(PresetError, match="makes 'sleep' jobs, a job type not loaded here"):
        await Engine(store, registry=Registry()).preset_job("long")


async def test_read_only_engines_list_but_never_change_presets() -> None:
    store = MemoryStore()
    await engine(store).save_preset("quick", "sleep")
    ro = engine(store, read_only=True)
    assert [p.name for p in await ro.presets()] == ["quick"]
    assert (await ro.preset_job("quick")).type == "sleep"
    for call in (
        ro.save_preset("x", "sleep"),
        ro.remove_preset("quick"),
        ro.submit_preset("quick"),
    ):
        with pytest.raises(ReadOnly):
            await call
    assert [p.name for p in await store.presets()] == ["quick"]
