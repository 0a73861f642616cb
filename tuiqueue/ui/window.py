"""The queue window, headless: which jobs the table keeps, in what order, how they page in."""

from __future__ import annotations

import builtins
from collections.abc import Collection, MutableSequence

import anyio

from tuiqueue.core import logs
from tuiqueue.core.job import Job
from tuiqueue.core.status import ACTIVE, QUEUED, TERMINAL, Status
from tuiqueue.engine.engine import Engine
from tuiqueue.ui.format import matches

logger = logs.logger(__name__)

MAX_KEPT = 500
"""Queued rows, and finished rows, kept in the window: the next queued jobs to run and the
newest finished ones; the rest are dropped as jobs arrive (they are paged back in with End)."""

GROUPS: tuple[frozenset[Status], ...] = (QUEUED, TERMINAL)
"""The groups kept up to a cap, in queue order (active jobs are all kept)."""

NEWEST_FIRST: tuple[bool, ...] = (False, True)
"""How each group is paged in: queued jobs oldest first (the next to run), finished ones
newest first."""

REFILL_BELOW = 50
"""Fewer queued jobs than this in the window (they started running) pages in the next ones."""

PAGE = 100
"""Jobs fetched per keyset page."""

MAX_ACTIVE = 1000
"""Running and paused jobs loaded at once (they are always shown first)."""

FETCH = 250
"""Jobs asked of the engine per query while searching by text: small, because a SQLite
query runs on the event loop and keys wait for it (250 jobs take about 20 ms)."""

SCAN_LIMIT = 20_000
"""Jobs looked at per page while searching by text; End searches further back."""


def group_key(job: Job) -> tuple[int, int, int]:
    """Running first, then queued (by priority, oldest first), then finished newest first."""
    if job.status in ACTIVE:
        return (0, 0, job.id)
    if job.status in QUEUED:
        return (1, -int(job.priority), job.id)
    return (2, 0, -job.id)


def of(queue: str | None) -> dict[str, str]:
    """The list filter for one queue (none for every queue)."""
    return {} if queue is None else {"queue": queue}


class Pager:
    """Keyset pages of jobs in some statuses, newest or oldest first, filtered by a needle.

    The text filter is applied here, on pages fetched with `engine.list`, so searching needs
    nothing from the stores beyond keyset paging.
    """

    def __init__(
        self,
        engine: Engine,
        statuses: Collection[Status],
        needle: str = "",
        page: int = 100,
        newest_first: bool = True,
        queue: str | None = None,
    ) -> None:
        self.engine = engine
        self.statuses = frozenset(statuses)
        self.needle = needle
        self.queue = queue
        self.page = page
        self.newest_first = newest_first
        self.cursor: int | None = None if newest_first else 0
        """The last id fetched: the next page starts past it (None: from the newest)."""
        self.done = not self.statuses
        """Every job in these statuses has been looked at."""
        self.scanned = 0
        """Jobs looked at so far (more than returned when searching)."""

    async def next(self) -> builtins.list[Job]:
        """The next page: up to `page` jobs, or fewer when the scan limit or the end is hit."""
        found: builtins.list[Job] = []
        budget = SCAN_LIMIT
        while not self.done and len(found) < self.page and budget > 0:
            limit = min(FETCH, budget) if self.needle else self.page - len(found)
            if self.newest_first:
                batch = await self.engine.list(
                    statuses=self.statuses, before_id=self.cursor, limit=limit, **of(self.queue)
                )
            else:
                batch = await self.engine.list(
                    statuses=self.statuses, after_id=self.cursor, limit=limit, **of(self.queue)
                )
            self.scanned += len(batch)
            budget -= len(batch)
            if len(batch) < limit:
                self.done = True
            if batch:
                self.cursor = batch[-1].id
            found += [job for job in batch if matches(job, self.needle)]
            if self.needle:
                await anyio.sleep(0)  # let keys and frames through between queries
        return found

    def rewind(self, floor: int) -> None:
        """The window dropped jobs from floor on (past it in paging order): fetch them again."""
        cursor = self.cursor
        if cursor is None or (floor > cursor if self.newest_first else floor < cursor):
            self.cursor = floor
            self.done = not self.statuses


class Window:
    """What the queue table is a window on: the pagers of one filter, refills and the note.

    No widget here: the main screen feeds the jobs it returns to its table.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statuses: frozenset[Status] | None = None
        self.needle = ""
        self.queue: str | None = None
        self.pagers: list[Pager] = []
        self.refilling = False
        """A refill of queued jobs is under way."""
        self.finished: set[int] = set()
        """Ids of finished jobs seen (loaded or announced), so each is toasted at most once."""
        self.note = ""
        """What `paging_note` last returned."""

    @property
    def more(self) -> bool:
        """Older queued or finished jobs can still be paged in."""
        return any(not p.done for p in self.pagers)

    def reset(
        self, statuses: frozenset[Status] | None, needle: str, queue: str | None = None
    ) -> None:
        """Start over for a filter: fresh pagers, nothing looked at yet."""
        self.statuses, self.needle, self.queue = statuses, needle, queue
        self.pagers = [
            self._pager(group, PAGE, newest)
            for group, newest in zip(GROUPS, NEWEST_FIRST, strict=True)
        ]

    def _pager(self, group: frozenset[Status], page: int, newest: bool = True) -> Pager:
        statuses = group if self.statuses is None else group & self.statuses
        return Pager(self.engine, statuses, self.needle, page, newest, self.queue)

    async def first(self) -> list[Job]:
        """The first window after `reset`: every active job (up to MAX_ACTIVE), then a page each."""
        active = self._pager(ACTIVE, MAX_ACTIVE)
        jobs = (
            [
                j
                for j in await self.engine.list(
                    statuses=active.statuses, limit=MAX_ACTIVE, **of(self.queue)
                )
                if matches(j, self.needle)
            ]
            if active.statuses
            else []
        )
        for each in self.pagers:
            jobs += await each.next()
        self._seen(jobs)
        return jobs

    def rewind(self, floors: MutableSequence[int | None], only: int | None = None) -> None:
        """Page again what the table dropped (its floors per group), clearing those floors."""
        for index, floor in enumerate(floors):
            if floor is not None and only in (None, index):
                self.pagers[index].rewind(floor)
                floors[index] = None

    async def next(self, only: int | None = None) -> list[Job]:
        """The next page of every group, or of group `only`."""
        pagers = self.pagers if only is None else [self.pagers[only]]
        jobs = [job for pager in pagers for job in await pager.next()]
        self._seen(jobs)
        return jobs

    def wants_refill(self, queued: int) -> bool:
        """Whether to page in queued jobs now that `queued` are left; if so, one is under way."""
        if self.refilling or not self.pagers or self.pagers[0].done or queued >= REFILL_BELOW:
            return False
        self.refilling = True
        return True

    def paging_note(self, shown: int, needle: str, searching: bool = False) -> str | None:
        """The line under the table, or None when it has not changed since the last one."""
        scanned = sum(p.scanned for p in self.pagers)
        if searching:
            note = f"searching… {scanned:,} jobs looked at"
        else:
            parts = [f"{shown:,} shown"]
            if needle:
                parts.append(f"{scanned:,} searched")
            if self.more:
                parts.append("End: more jobs")
            note = " · ".join(parts)
        if note == self.note:
            return None
        self.note = note
        return note

    def _seen(self, jobs: list[Job]) -> None:
        self.finished.update(j.id for j in jobs if j.status in TERMINAL)
