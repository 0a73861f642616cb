"""The queue window's model on its own: paging, refills, rewinds, the note; no Textual."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Collection
from typing import cast

import pytest

from tuiqueue.core.job import Job
from tuiqueue.core.status import TERMINAL, Status
from tuiqueue.engine.engine import Engine
from tuiqueue.ui import window as window_module
from tuiqueue.ui.window import MAX_ACTIVE, PAGE, REFILL_BELOW, Window

pytestmark = pytest.mark.anyio


class FakeEngine:
    """Keyset listing over a fixed set of jobs, counting the queries (what Pager needs)."""

    def __init__(self, jobs: list[Job]) -> None:
        self.jobs = {job.id: job for job in jobs}
        self.queries = 0

    async def list(
        self,
        *,
        statuses: Collection[Status] | None = None,
        before_id: int | None = None,
        after_id: int | None = None,
        limit: int = 100,
    ) -> list[Job]:
        """Newest first below before_id, or oldest first above after_id."""
        self.queries += 1
        wanted = [j for j in self.jobs.values() if statuses is None or j.status in statuses]
        if after_id is not None:
            return sorted((j for j in wanted if j.id > after_id), key=lambda j: j.id)[:limit]
        below = [j for j in wanted if before_id is None or j.id < before_id]
        return sorted(below, key=lambda j: -j.id)[:limit]


def jobs(statuses: dict[range, Status]) -> list[Job]:
    """Jobs with ids from each range in that status (type "t", label its id)."""
    return [
        Job(i, "t", {"label": f"job{i}"}, status=status)
        for ids, status in statuses.items()
        for i in ids
    ]


def window_on(engine: FakeEngine) -> Window:
    """A window on the fake engine."""
    return Window(cast(Engine, engine))


async def test_first_window_is_active_jobs_then_a_page_of_each_group() -> None:
    engine = FakeEngine(
        jobs(
            {
                range(1, 301): Status.PENDING,
                range(301, 311): Status.RUNNING,
                range(311, 611): Status.COMPLETED,
            }
        )
    )
    window = window_on(engine)
    window.reset(None, "")
    first = await window.first()
    ids = [j.id for j in first]
    assert ids[:10] == list(range(310, 300, -1))  # running, as listed
    assert ids[10 : 10 + PAGE] == list(range(1, PAGE + 1))  # queued: the next to run first
    assert ids[10 + PAGE :] == list(range(610, 610 - PAGE, -1))  # finished: newest first
    assert window.finished == set(range(610, 610 - PAGE, -1))
    assert window.more
    assert window.paging_note(len(first), "") == f"{len(first)} shown · End: more jobs"
    assert window.paging_note(len(first), "") is None  # unchanged: nothing to repaint


async def test_next_pages_on_until_every_group_is_done() -> None:
    engine = FakeEngine(jobs({range(1, 151): Status.PENDING, range(151, 161): Status.FAILED}))
    window = window_on(engine)
    window.reset(None, "")
    await window.first()
    more = await window.next()
    assert [j.id for j in more] == list(range(PAGE + 1, 151))
    assert not window.more
    assert await window.next() == []
    assert window.paging_note(160, "") == "160 shown"


async def test_a_status_filter_narrows_every_group_and_the_active_jobs() -> None:
    engine = FakeEngine(
        jobs(
            {
                range(1, 11): Status.PENDING,
                range(11, 21): Status.RUNNING,
                range(21, 31): Status.FAILED,
                range(31, 41): Status.COMPLETED,
            }
        )
    )
    window = window_on(engine)
    window.reset(frozenset({Status.FAILED}), "")
    assert {j.id for j in await window.first()} == set(range(21, 31))
    assert [p.statuses for p in window.pagers] == [frozenset(), frozenset({Status.FAILED})]
    assert not window.more


async def test_rewind_pages_again_what_the_table_dropped_and_clears_its_floor() -> None:
    engine = FakeEngine(jobs({range(1, 301): Status.PENDING}))
    window = window_on(engine)
    window.reset(None, "")
    await window.first()  # queued 1..100
    floors: list[int | None] = [50, None]  # the table dropped queued jobs from #50 on
    window.rewind(floors, only=0)
    assert floors == [None, None]
    assert [j.id for j in await window.next(only=0)] == list(range(51, 151))
    floors = [None, 7]
    window.rewind(floors, only=0)  # only the queued group: the finished floor stays
    assert floors == [None, 7]


async def test_refill_only_when_few_queued_are_left_and_one_at_a_time() -> None:
    engine = FakeEngine(jobs({range(1, 301): Status.PENDING}))
    window = window_on(engine)
    assert not window.wants_refill(0)  # nothing loaded yet
    window.reset(None, "")
    await window.first()
    assert not window.wants_refill(REFILL_BELOW)
    assert window.wants_refill(REFILL_BELOW - 1)
    assert not window.wants_refill(0)  # one is under way
    window.refilling = False
    assert window.wants_refill(0)


async def test_text_search_scans_in_small_queries_and_stops_at_the_scan_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(window_module, "FETCH", 10)
    monkeypatch.setattr(window_module, "SCAN_LIMIT", 50)
    engine = FakeEngine(jobs({range(1, 201): Status.COMPLETED}))
    engine.jobs[3].params = {"label": "needle"}
    engine.jobs[180].params = {"label": "needle"}
    window = window_on(engine)
    window.reset(TERMINAL, "needle")
    assert window.paging_note(0, "needle", searching=True) == "searching… 0 jobs looked at"
    found = await window.first()
    assert [j.id for j in found] == [180]  # #3 lies past the first 50 looked at
    assert window.pagers[1].scanned == 50 and window.more
    assert engine.queries == 5
    assert window.paging_note(1, "needle") == "1 shown · 50 searched · End: more jobs"
    assert [j.id for j in await window.next()] == []  # the next 50: 150..101
    await window.next()
    assert [j.id for j in await window.next()] == [3]
    assert window.more  # a full last query: the end is only known from the next one
    assert await window.next() == [] and not window.more


async def test_active_jobs_are_capped() -> None:
    engine = FakeEngine(jobs({range(1, MAX_ACTIVE + 6): Status.RUNNING}))
    window = window_on(engine)
    window.reset(None, "")
    assert [j.id for j in await window.first()] == list(range(MAX_ACTIVE + 5, 5, -1))


def test_the_model_needs_no_textual() -> None:
    code = (
        "import sys, tuiqueue.ui.window; "
        "sys.exit(any(m.split('.')[0] == 'textual' for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
