"""The preset part of the store interface, run against every store (the conformance suite's
fixture: memory, SQLite, Redis, PostgreSQL)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import pytest

from tests import test_store_conformance
from tuiqueue.core.preset import Preset, PresetError, PresetExists, UnknownPreset
from tuiqueue.core.status import Priority
from tuiqueue.store.base import Store
from tuiqueue.store.sqlite import SqliteStore
from tuiqueue.store.sqlite_schema import SCHEMA_VERSION

pytestmark = pytest.mark.anyio

NOW = 1_700_000_000.0

store = test_store_conformance.store
"""Every store (the conformance suite's fixture, PostgreSQL too)."""


def preset(name: str = "nightly", type: str = "countdown", **kw: object) -> Preset:
    """A preset saved at NOW."""
    kw.setdefault("params", {"seconds": 2})
    return Preset(name, type, created_at=NOW, updated_at=NOW, **kw)  # type: ignore[arg-type]


async def test_save_list_get_and_remove(store: Store) -> None:
    night = preset(priority=Priority.HIGH, queue="batch", params={"seconds": 2.5, "x": [1, "ü"]})
    assert await store.save_preset(night) == night
    await store.save_preset(preset("a-echo", "echo", params={"message": "hi\x1b[31m"}))
    await store.save_preset(preset("b-count", "countdown"))
    assert [p.name for p in await store.presets()] == ["a-echo", "b-count", "nightly"]
    assert [p.name for p in await store.presets("countdown")] == ["b-count", "nightly"]
    assert await store.presets("nothing") == []
    got = await store.preset("nightly")
    assert got == night  # every field round-trips: params, priority, queue, times
    assert (await store.preset("a-echo")) is not None
    assert (await store.preset("a-echo")).params == {"message": "hi\x1b[31m"}  # type: ignore[union-attr]
    assert await store.preset("missing") is None

    gone = await store.remove_preset("nightly")
    assert gone == night
    assert await store.preset("nightly") is None
    assert [p.name for p in await store.presets()] == ["a-echo", "b-count"]
    with pytest.raises(UnknownPreset, match="no preset named 'nightly'"):
        await store.remove_preset("nightly")


async def test_a_taken_name_is_refused_unless_replaced(store: Store) -> None:
    first = preset(params={"seconds": 2})
    await store.save_preset(first)
    second = Preset("nightly", "echo", {"message": "m"}, Priority.LOW, "other", NOW + 50, NOW + 50)
    with pytest.raises(PresetExists) as caught:
        await store.save_preset(second)
    assert caught.value.existing == first  # the error says what holds the name
    assert "exists already" in str(caught.value)
    assert await store.preset("nightly") == first  # nothing changed

    stored = await store.save_preset(second, replace=True)
    assert stored.created_at == NOW  # first saved then; updated now
    assert (stored.type, stored.params, stored.priority, stored.queue, stored.updated_at) == (
        "echo",
        {"message": "m"},
        Priority.LOW,
        "other",
        NOW + 50,
    )
    assert await store.preset("nightly") == stored
    assert [p.name for p in await store.presets("countdown")] == []
    # replace of a new name simply creates it
    fresh = await store.save_preset(preset("fresh"), replace=True)
    assert fresh.created_at == NOW and await store.preset("fresh") == fresh


async def test_concurrent_saves_of_one_name_create_it_once(store: Store) -> None:
    outcomes: list[str] = []

    async def save(i: int) -> None:
        try:
            await store.save_preset(preset(params={"seconds": i}))
            outcomes.append("saved")
        except PresetExists:
            outcomes.append("exists")

    async with anyio.create_task_group() as tg:
        for i in range(8):
            tg.start_soon(save, i)
    assert sorted(outcomes) == ["exists"] * 7 + ["saved"]
    assert len(await store.presets()) == 1


async def test_presets_do_not_touch_jobs_or_their_change_feed(store: Store) -> None:
    before = await store.version()
    await store.save_preset(preset())
    await store.remove_preset("nightly")
    assert await store.version() == before
    assert await store.list_jobs() == []


def test_names_are_checked() -> None:
    for bad in ("", "-x", "a b", "x" * 101, "a\x1b"):
        with pytest.raises(PresetError):
            preset(bad)
    assert Preset.from_dict(preset(priority=Priority.CRITICAL).to_dict()) == preset(
        priority=Priority.CRITICAL
    )


async def test_a_schema_7_sqlite_file_gains_the_presets_table(tmp_path: Path) -> None:
    """An existing file (schedules, no presets) is migrated to 8 and keeps its jobs."""
    path = tmp_path / "old.db"
    store = SqliteStore(path)
    await store.open()
    await store.add([test_store_conformance.new()], NOW)
    await store.close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE presets")
    conn.execute("DROP INDEX jobs_rerun_of")  # schema 8 (reruns) too: a file of schema 7
    conn.execute("DROP TABLE changed")  # and 11 (the change feed)
    conn.execute("DELETE FROM meta WHERE key = 'changed_from'")
    conn.execute("CREATE INDEX jobs_version ON jobs (version)")
    conn.execute("PRAGMA user_version = 7")
    conn.commit()
    conn.close()
    again = SqliteStore(path)
    await again.open()
    try:
        assert len(await again.list_jobs()) == 1
        await again.save_preset(preset())
        assert [p.name for p in await again.presets()] == ["nightly"]
    finally:
        await again.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
