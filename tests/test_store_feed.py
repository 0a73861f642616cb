"""SQLite's change feed (schema 11): every write of a job is found by another process's
changes(), the same as a scan of jobs.version would find it, and a watcher further behind
than the feed keeps still gets every change."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.test_store_conformance import NOW, info, new
from tuiqueue.core.lifecycle import Outcome
from tuiqueue.core.records import LogLines, ProgressUpdate
from tuiqueue.core.schedule import Fire, Origin, make_schedule
from tuiqueue.core.status import Priority, Status
from tuiqueue.store import sqlite_conn, sqlite_feed
from tuiqueue.store.sqlite import SqliteStore
from tuiqueue.store.sqlite_batches import CHUNK, hidden, skip

pytestmark = pytest.mark.anyio


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[tuple[SqliteStore, SqliteStore]]:
    """A writer and a watcher: two stores (two connections) on one file."""
    writer, watcher = SqliteStore(tmp_path / "jobs.db"), SqliteStore(tmp_path / "jobs.db")
    await writer.open()
    await watcher.open()
    yield writer, watcher
    await watcher.close()
    await writer.close()


def both_ways(store: SqliteStore, since: int) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """(id, version) of the jobs changed after since: by the feed, and by a scan of jobs."""
    conn = store.conn
    conn.execute("BEGIN")
    try:
        (version,) = conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        hide, args = skip(hidden(conn))
        fed, _ = sqlite_feed.changed(conn, since, int(version), hide, args)
        scanned, _ = sqlite_feed.by_scan(conn, since, int(version), hide, args)
    finally:
        conn.execute("COMMIT")
    return {(j.id, j.version) for j in fed}, {(j.id, j.version) for j in scanned}


async def test_every_kind_of_write_is_in_the_feed(
    pair: tuple[SqliteStore, SqliteStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each write the store makes, checked from the other connection right after it: the
    feed names exactly the jobs a scan of jobs.version finds (and some did change)."""
    monkeypatch.setattr(sqlite_feed, "FEED_MAX", 10**9)  # nothing cut: the two must agree
    writer, watcher = pair
    since = await watcher.version()

    async def check(what: str, fed_too: bool = True) -> None:
        nonlocal since
        fed, scanned = both_ways(watcher, since)
        if fed_too:  # (a big submit's rows come from its batch row, not from the feed)
            assert fed == scanned, what
        assert scanned, f"{what} changed no job: the check proves nothing"
        changes = await watcher.changes(since)
        assert {(j.id, j.version) for j in changes.jobs} == scanned, what
        since = changes.version

    first, later, dep = await writer.add(
        [new(), new(run_at=NOW + 5, max_attempts=2), new(type="other")], NOW
    )
    await check("add")
    (waiting,) = await writer.add([new(depends_on=(first.id,))], NOW)
    await check("add a dependent")
    await writer.set_priority(dep.id, Priority.LOW, NOW)
    await check("priority")
    await writer.command(dep.id, "pause", NOW)
    await check("pause")
    await writer.command(dep.id, "resume", NOW)
    await check("resume")
    await writer.register_worker(info("w1", NOW))
    (job,) = await writer.claim("w1", 1, NOW)
    assert job.id == first.id
    await check("claim")
    await writer.save_progress([ProgressUpdate(job.id, job.token or "", 50.0, "half")], NOW)
    await check("progress")
    await writer.append_logs({job.id: LogLines(job.token or "", ["a line"])})
    await check("logs")
    await writer.command(job.id, "cancel", NOW)  # a running job: a request only
    await check("cancel requested")
    done = Outcome(job.id, job.token or "", Status.COMPLETED, result={"ok": 1})
    recorded, claimed = await writer.finish_ids_and_claim([done], "w1", 8, NOW + 10)
    # the claim after the finish promotes the due job and the dependent, and takes them
    assert recorded == {job.id} and {later.id, waiting.id} <= {j.id for j in claimed}
    await check("finish and claim (promotions)")
    retry = next(j for j in await writer.list_jobs() if j.id == later.id)
    again = Outcome(retry.id, retry.token or "", Status.SCHEDULED, run_at=NOW + 60, error="x")
    assert [j.id for j in await writer.finish([again], NOW + 11)] == [later.id]
    await check("retry")
    running = [j for j in await writer.list_jobs() if j.status is Status.RUNNING]
    await writer.stop_worker("w1", NOW + 11)
    orphans = await writer.orphans(NOW + 100, dead_after=10)
    assert {j.id for j in orphans} == {j.id for j in running}
    lost = [Outcome(j.id, j.token or "", Status.PENDING, error="lost") for j in orphans]
    assert await writer.take_over(lost, NOW + 100, dead_after=10)
    await check("take over")
    schedule = make_schedule("tick", "echo", {}, every="10s", tz="UTC", now=NOW)
    await writer.add_schedule(schedule)
    slot = schedule.next_run or 0
    made = await writer.fire_schedule(
        Fire("tick", slot, slot + 10, Origin("tick", slot)), new(), NOW + 10
    )
    assert made
    await check("schedule fired")
    big = await writer.add([new() for _ in range(CHUNK + 3)], NOW + 12)
    await check("a submit bigger than a chunk", fed_too=False)
    changes = await watcher.changes(since)
    assert changes.jobs == []
    await writer.delete([big[0].id])
    after = await watcher.changes(since)
    assert after.deleted == [big[0].id]


async def test_a_watcher_behind_the_kept_feed_still_gets_every_change(
    pair: tuple[SqliteStore, SqliteStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The feed keeps CHANGED_KEEP versions; a watcher older than that reads jobs by their
    version (slow, but nothing is missed), and one within it reads the feed."""
    monkeypatch.setattr(sqlite_conn, "CHANGED_KEEP", 5)
    monkeypatch.setattr(sqlite_conn, "CHANGED_PRUNE_EVERY", 1)
    writer, watcher = pair
    start = await watcher.version()
    jobs = [(await writer.add([new()], NOW))[0] for _ in range(20)]
    conn = watcher.conn
    (kept_from,) = conn.execute("SELECT value FROM meta WHERE key = 'changed_from'").fetchone()
    assert int(kept_from) > start  # pruned: the first versions have no rows any more
    (oldest,) = conn.execute("SELECT MIN(version) FROM changed").fetchone()
    assert oldest > int(kept_from)
    behind = await watcher.changes(start)
    assert {j.id for j in behind.jobs} == {j.id for j in jobs}
    assert behind.version == await writer.version()
    recent = await watcher.changes(jobs[-3].version - 1)
    assert [j.id for j in recent.jobs] == [j.id for j in jobs[-3:]]


async def test_a_long_feed_comes_in_parts_cut_at_a_version(
    pair: tuple[SqliteStore, SqliteStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At most about FEED_MAX jobs a call, never half of a write; the parts add up."""
    monkeypatch.setattr(sqlite_feed, "FEED_MAX", 5)
    writer, watcher = pair
    since = await watcher.version()
    three = [await writer.add([new(), new(), new()], NOW) for _ in range(4)]
    seen: list[int] = []
    parts = 0
    while True:
        changes = await watcher.changes(since)
        if not changes.jobs:
            break
        parts += 1
        assert len(changes.jobs) in (3, 6)  # whole writes of three
        seen += [j.id for j in changes.jobs]
        since = changes.version
    assert parts == 2 and sorted(seen) == [j.id for batch in three for j in batch]


async def test_a_file_of_schema_10_gets_the_feed(tmp_path: Path) -> None:
    """Schema 11: the jobs_version index gives way to the feed; a file of 10 keeps its jobs,
    and its watchers see the writes made after the upgrade."""
    from tuiqueue.store.sqlite_schema import MIGRATIONS

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for version in range(1, 11):
        conn.executescript(MIGRATIONS[version])
    conn.execute(
        "INSERT INTO jobs (type, params, priority, status, created_at, version, updated_at) "
        "VALUES ('echo', '{}', 1, 'pending', 1, 7, 1)"
    )
    conn.execute("UPDATE meta SET value = 7 WHERE key = 'version'")
    conn.execute("PRAGMA user_version = 10")
    conn.commit()
    conn.close()
    store = SqliteStore(path)
    await store.open()
    try:
        assert await store.version() == 7
        assert (await store.changes(0)).jobs[0].id == 1  # before the feed: by a scan
        (claimed,) = await store.claim("w", 1, NOW)
        changes = await store.changes(7)
        assert [(j.id, j.status) for j in changes.jobs] == [(1, Status.RUNNING)]
        assert claimed.version == changes.version
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "jobs_version" not in names and {"changed", "changed_version"} <= names
        assert conn.execute("SELECT value FROM meta WHERE key = 'changed_from'").fetchone() == (7,)
    finally:
        conn.close()
