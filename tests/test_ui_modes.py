"""Dashboard modes: a worker (runs jobs), watching (steers, runs nothing), read-only (looks)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cli_env, tq
from tests.test_rel_escapes import _pty_session
from tests.test_store_conformance import redis_reachable
from tests.test_ui_helpers import _quiet, make_ui_registry, status_of, table, wait_for
from tuiqueue.core.lifecycle import ReadOnly
from tuiqueue.engine.engine import Engine
from tuiqueue.store import open_store
from tuiqueue.ui.app import QueueApp, make_app
from tuiqueue.ui.widgets.stats_bar import StatsBar

__all__ = ["_quiet"]


def _app(db: str, **kw: Any) -> QueueApp:
    return make_app(
        open_store(db),
        registry=make_ui_registry(),
        toasts=False,
        stats_interval=0.2,
        grace=0.5,
        worker_id="dashboard",
        **kw,
    )


async def _queue(db: str, count: int) -> list[int]:
    """Queue jobs from another store object, as another process would."""
    store = open_store(db)
    async with store:
        eng = Engine(store, registry=make_ui_registry())
        return [(await eng.submit("hello", {"count": 1 + i % 9})).id for i in range(count)]


async def _statuses(db: str) -> dict[int, str]:
    store = open_store(db)
    async with store:
        return {j.id: str(j.status) for j in await store.list_jobs(limit=1000)}


async def _workers(db: str) -> list[str]:
    store = open_store(db)
    async with store:
        return [w.id for w in await store.workers()]


def _bar(app: QueueApp) -> str:
    bar = app.main.query_one(StatsBar)
    assert app.stats is not None
    return bar.render_stats(app.stats).plain


REDIS_URL = "redis://127.0.0.1:6379/13"


def _flush_redis() -> None:
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=13)
    client.flushdb()
    client.close()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """One SQLite file, the real Redis (its db 13, emptied before and after) or the real
    PostgreSQL (a schema of its own)."""
    if request.param == "postgres":
        from tests.pg_support import SKIP_REASON, drop_schema, fresh_url, pg_reachable

        if not pg_reachable():
            pytest.skip(SKIP_REASON)
        url = fresh_url()
        yield url
        drop_schema(url)
        return
    if request.param == "sqlite":
        yield str(tmp_path / "jobs.db")
        return
    if not redis_reachable():
        pytest.skip("no Redis server at 127.0.0.1:6379")
    _flush_redis()
    yield REDIS_URL
    _flush_redis()


@pytest.mark.anyio
async def test_a_watching_dashboard_runs_nothing_and_steers(db: str) -> None:
    ids = await _queue(db, 3)
    app = _app(db, worker=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: all(status_of(app, i) == "pending" for i in ids))
        # Several stats refreshes and watcher polls later, nothing was claimed.
        seen = app.stats
        await wait_for(pilot, lambda: app.stats is not seen)
        await wait_for(pilot, lambda: app.stats is not seen and app.stats is not None)
        assert set((await _statuses(db)).values()) == {"pending"}
        assert await _workers(db) == [], "a watching dashboard is not a worker"
        assert "watching, no worker" in _bar(app)
        table(app).select(ids[0])
        table(app).focus()
        await pilot.press("c")  # it steers: the cancel reaches the store
        await wait_for(pilot, lambda: status_of(app, ids[0]) == "cancelled")
    assert (await _statuses(db))[ids[0]] == "cancelled"


@pytest.mark.anyio
async def test_a_read_only_dashboard_changes_nothing(db: str) -> None:
    ids = await _queue(db, 3)
    before = await _statuses(db)
    app = _app(db, read_only=True)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: all(status_of(app, i) == "pending" for i in ids))
        assert "READ-ONLY" in _bar(app)
        table(app).select(ids[0])
        table(app).focus()
        footer = {b.binding.description for b in app.screen.active_bindings.values() if b.enabled}
        assert not {"Cancel", "Pause", "Rerun", "Delete", "Clear", "New"} & footer, footer
        # Sent anyway, every steering key does nothing.
        for key in ("c", "p", "r", "d", "x", "P", "n", "ctrl+s"):
            await pilot.press(key)
            await pilot.pause()
        await pilot.press("enter")  # the detail view: its keys are refused too
        await pilot.pause(0.2)
        for key in ("c", "p", "r"):
            await pilot.press(key)
        await pilot.pause(0.2)
        with pytest.raises(ReadOnly, match="read-only"):
            await app.engine.cancel(ids[0])
        with pytest.raises(ReadOnly):
            await app.engine.submit("hello", {})
        commands = [c.title for c in app.get_system_commands(app.screen)]
        assert "Workers" in commands and "Cancel job" not in commands
    assert await _statuses(db) == before
    assert await _workers(db) == []


@pytest.mark.anyio
async def test_the_default_dashboard_is_a_worker(tmp_path: Path) -> None:
    db = str(tmp_path / "jobs.db")
    ids = await _queue(db, 2)
    app = _app(db)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: all(status_of(app, i) == "completed" for i in ids))
        assert "worker 0/3" in _bar(app)


def test_mode_options_are_checked() -> None:
    out = tq("--read-only", "--worker")
    assert out.returncode == 2 and "--read-only only watches" in out.stderr
    out = tq("--read-only", "list")
    assert out.returncode == 2 and "dashboard option" in out.stderr
    out = tq("-c", "0")
    assert out.returncode == 2 and "0" in out.stderr
    out = tq("--no-worker", "-c", "4")
    assert out.returncode == 2 and "--concurrency sets the dashboard's worker" in out.stderr


@pytest.mark.redis
@pytest.mark.skipif(not redis_reachable(), reason="no Redis server at 127.0.0.1:6379")
@pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
def test_on_redis_the_dashboard_attaches_without_a_worker(tmp_path: Path) -> None:
    """`tuiqueue --db redis://...` opened on a terminal claims nothing and is no worker."""
    import redis

    url = REDIS_URL
    client = redis.Redis(host="127.0.0.1", port=6379, db=13)
    client.flushdb()
    try:
        env = cli_env({"TUIQUEUE_DB": url, "TERM": "xterm-256color"})
        out = subprocess.run(
            [sys.executable, "-m", "tuiqueue", "submit", "echo", "-p", "message=hi"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        screen = _pty_session([sys.executable, "-m", "tuiqueue"], env, 4.0, [])
        text = re.sub(rb"\x1b\[[0-9;?<>=$]*[ -/]*[@-~]", b"", screen).decode(errors="replace")
        assert "watching, no worker" in text
        job = json.loads(tq("show", "1", "--json", env=env).stdout)
        assert job["status"] == "pending", job
        workers = json.loads(tq("workers", "--json", env=env).stdout)
        assert workers == []
    finally:
        client.flushdb()
        client.close()
