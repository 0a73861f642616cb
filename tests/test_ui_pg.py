"""Two dashboards on one PostgreSQL: one runs jobs, one watches; both show every change."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.pg_support import SKIP_REASON, drop_schema, fresh_url, pg_reachable
from tests.test_ui_helpers import GATE, _quiet, make_ui_registry, status_of, table, wait_for
from tests.test_ui_modes import _queue, _statuses
from tuiqueue.store import open_store
from tuiqueue.ui.app import QueueApp, make_app

__all__ = ["_quiet"]

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not pg_reachable(), reason=SKIP_REASON),
]


@pytest.fixture
def url() -> Iterator[str]:
    """A schema of its own on the test database."""
    url = fresh_url()
    yield url
    drop_schema(url)


def _app(db: str, **kw: Any) -> QueueApp:
    return make_app(
        open_store(db),
        registry=make_ui_registry(),
        toasts=False,
        stats_interval=0.2,
        grace=0.5,
        **kw,
    )


@pytest.mark.anyio
async def test_two_dashboards_stay_in_sync(url: str) -> None:
    """A submit elsewhere runs on the worker dashboard and shows on both; a cancel from
    the watching one stops the job running on the other."""
    runner = _app(url, worker=True, worker_id="runner", concurrency=2)
    watcher = _app(url, worker=False, worker_id="watcher")
    async with runner.run_test(size=(140, 40)) as pr, watcher.run_test(size=(140, 40)) as pw:
        (done,) = await _queue(url, 1)
        GATE["open"] = True
        await wait_for(pr, lambda: status_of(runner, done) == "completed", 10)
        await wait_for(pw, lambda: status_of(watcher, done) == "completed", 10)
        GATE["open"] = False
        store = open_store(url)
        async with store:
            from tuiqueue.engine.engine import Engine

            gate = (await Engine(store, registry=make_ui_registry()).submit("gate", {})).id
        await wait_for(pw, lambda: status_of(watcher, gate) == "running", 10)
        await wait_for(pr, lambda: status_of(runner, gate) == "running", 10)
        table(watcher).select(gate)
        table(watcher).focus()
        await pw.press("c", "y")  # running: asked first (issue 14)
        await wait_for(pr, lambda: status_of(runner, gate) == "cancelled", 10)
        await wait_for(pw, lambda: status_of(watcher, gate) == "cancelled", 10)
    statuses = await _statuses(url)
    assert statuses == {done: "completed", gate: "cancelled"}
