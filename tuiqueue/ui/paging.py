"""The dashboard's loading: the table's window paged in through the engine (mixed into QueueApp)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import App

from tuiqueue.core.status import ACTIVE, QUEUED, TERMINAL, Status
from tuiqueue.engine.engine import Engine
from tuiqueue.ui.format import matches
from tuiqueue.ui.pager import Pager
from tuiqueue.ui.window import GROUPS, NEWEST_FIRST, REFILL_BELOW

if TYPE_CHECKING:
    from tuiqueue.ui.screens.main import MainScreen

    _AppBase = App[None]
else:
    _AppBase = object

PAGE = 100
"""Jobs fetched per keyset page."""

MAX_ACTIVE = 1000
"""Running and paused jobs loaded at once (they are always shown first)."""


class PagingMixin(_AppBase):
    """QueueApp's loading: the window on start and on filter changes, End, and refills."""

    if TYPE_CHECKING:  # provided by QueueApp
        engine: Engine
        _started: bool
        _pagers: list[Pager]
        _finished: set[int]
        _refilling: bool
        _paging_note: str

        @property
        def main(self) -> MainScreen: ...

    def reload(self) -> None:
        """Reload the table's window from the engine (filter change, resync)."""
        if not self._started:
            return  # startup loads the window itself once the store is open
        self.run_worker(self._reload(), group="reload", exclusive=True)

    async def _reload(self) -> None:
        table = self.main.table
        wanted, needle = table.statuses, table.needle

        def pager(group: frozenset[Status], page: int, newest: bool = True) -> Pager:
            statuses = group if wanted is None else group & wanted
            return Pager(self.engine, statuses, needle, page, newest)

        self._pagers = [pager(group, PAGE, newest)
                        for group, newest in zip(GROUPS, NEWEST_FIRST, strict=True)]
        self.show_paging(searching=bool(needle))
        active = pager(ACTIVE, MAX_ACTIVE)
        jobs = [j for j in await self.engine.list(statuses=active.statuses, limit=MAX_ACTIVE)
                if matches(j, needle)] if active.statuses else []
        for each in self._pagers:
            jobs += await each.next()
        self._finished.update(j.id for j in jobs if j.status in TERMINAL)
        table.load(jobs)
        self.show_paging()

    def load_more(self) -> None:
        """Page in more queued and finished jobs (keyset paging through the engine)."""
        if any(not p.done for p in self._pagers):
            self.run_worker(self._load_more(), group="page", exclusive=True)

    def refill(self) -> None:
        """Page in the next queued jobs once most of those in the window have started."""
        if self._refilling or not self._pagers:
            return
        queued = self._pagers[0]
        table = self.main.table
        if queued.done or sum(1 for j in table.jobs.values() if j.status in QUEUED) >= (
            REFILL_BELOW
        ):
            return
        self._refilling = True
        self.run_worker(self._load_more(only=0), group="refill", exclusive=True)

    async def _load_more(self, only: int | None = None) -> None:
        table = self.main.table
        try:
            for index, floor in enumerate(table.floors):
                if floor is not None and only in (None, index):
                    self._pagers[index].rewind(floor)
                    table.floors[index] = None
            self.show_paging(searching=bool(table.needle))
            pagers = self._pagers if only is None else [self._pagers[only]]
            jobs = [job for pager in pagers for job in await pager.next()]
            self._finished.update(j.id for j in jobs if j.status in TERMINAL)
            table.page_in(jobs, grow=only is None)
            self.show_paging()
        finally:
            if only is not None:
                self._refilling = False

    def show_paging(self, searching: bool = False) -> None:
        """Say under the table how much is shown and whether older jobs can be paged in."""
        table = self.main.table
        scanned = sum(p.scanned for p in self._pagers)
        if searching:
            subtitle = f"searching… {scanned:,} jobs looked at"
        else:
            parts = [f"{table.row_count:,} shown"]
            if table.needle:
                parts.append(f"{scanned:,} searched")
            if any(not p.done for p in self._pagers):
                parts.append("End: more jobs")
            subtitle = " · ".join(parts)
        # Setting it repaints the whole table, even to the same text (after every batch).
        if subtitle != self._paging_note:
            table.border_subtitle = self._paging_note = subtitle
