"""Store.reruns, the reverse of `rerun_of` ("rerun as #17"), run against every store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests import test_store_conformance
from tuiqueue.core.job import NewJob
from tuiqueue.store.base import Store
from tuiqueue.store.sqlite import SqliteStore

pytestmark = pytest.mark.anyio

NOW = 1_700_000_000.0

store = test_store_conformance.store
"""Every store (the conformance suite's fixture, PostgreSQL too)."""


async def test_reruns_lists_the_jobs_made_from_a_job(store: Store) -> None:
    (first,) = await store.add([NewJob("echo", {"message": "hi"})], NOW)
    (other,) = await store.add([NewJob("echo", {})], NOW)
    again, unrelated = await store.add(
        [NewJob("echo", {"message": "hi"}, rerun_of=first.id), NewJob("echo", {})], NOW
    )
    (third,) = await store.add([NewJob("echo", {}, rerun_of=first.id)], NOW)
    (deeper,) = await store.add([NewJob("echo", {}, rerun_of=again.id)], NOW)
    assert await store.reruns(first.id) == [again.id, third.id]
    assert await store.reruns(again.id) == [deeper.id]  # one link each way, not the tree
    assert await store.reruns(other.id) == []
    assert await store.reruns(unrelated.id) == []
    assert await store.reruns(999_999) == []
    fetched = await store.get(third.id)
    assert fetched is not None and fetched.rerun_of == first.id


async def test_deleted_reruns_are_gone_from_the_list(store: Store) -> None:
    (first,) = await store.add([NewJob("echo", {})], NOW)
    a, b = await store.add([NewJob("echo", {}, rerun_of=first.id) for _ in range(2)], NOW)
    assert await store.delete([a.id]) == [a.id]
    assert await store.reruns(first.id) == [b.id]
    # The original deleted: its rerun keeps its link; asking about the id finds nothing new.
    await store.delete([first.id])
    kept = await store.get(b.id)
    assert kept is not None and kept.rerun_of == first.id


async def test_reruns_of_a_big_submit(store: Store) -> None:
    """A batch larger than a chunk (written in steps) is indexed as a small one is."""
    (first,) = await store.add([NewJob("echo", {})], NOW)
    added = await store.add([NewJob("echo", {}, rerun_of=first.id) for _ in range(1200)], NOW)
    assert await store.reruns(first.id) == [j.id for j in added]


async def test_sqlite_looks_reruns_up_by_an_index(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "jobs.db")
    await store.open()
    await store.close()
    with sqlite3.connect(tmp_path / "jobs.db") as conn:
        plan = " ".join(
            str(row[-1])
            for row in conn.execute(
                "EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE rerun_of = ? ORDER BY id", (1,)
            )
        )
    assert "jobs_rerun_of" in plan
