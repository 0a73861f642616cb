"""Keyset pages of jobs through the engine, filtered by text on the client, bounded."""

from __future__ import annotations

import builtins
from collections.abc import Collection

import anyio

from tuiqueue.core.job import Job
from tuiqueue.core.status import Status
from tuiqueue.engine.engine import Engine
from tuiqueue.ui.format import matches

FETCH = 250
"""Jobs asked of the engine per query while searching by text: small, because a SQLite
query runs on the event loop and keys wait for it (250 jobs take about 20 ms)."""

SCAN_LIMIT = 20_000
"""Jobs looked at per page while searching by text; End searches further back."""


class Pager:
    """Pages of jobs in some statuses, newest or oldest first; with a needle, only the jobs
    it matches.

    The text filter is applied here, on pages fetched with `engine.list`, so searching needs
    nothing from the stores beyond keyset paging.
    """

    def __init__(self, engine: Engine, statuses: Collection[Status], needle: str = "",
                 page: int = 100, newest_first: bool = True) -> None:
        self.engine = engine
        self.statuses = frozenset(statuses)
        self.needle = needle
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
                batch = await self.engine.list(statuses=self.statuses, before_id=self.cursor,
                                               limit=limit)
            else:
                batch = await self.engine.list(statuses=self.statuses, after_id=self.cursor,
                                               limit=limit)
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
