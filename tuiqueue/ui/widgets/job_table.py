"""The queue table: a bounded window of jobs, updated in place by job id."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from tuiqueue.core.job import Job
from tuiqueue.core.status import QUEUED, Status
from tuiqueue.ui.format import age, badge, bar, matches, plain
from tuiqueue.ui.widgets.cursor_pick import CursorPick
from tuiqueue.ui.widgets.keyed_table import KeyedTable
from tuiqueue.ui.window import GROUPS, MAX_KEPT, NEWEST_FIRST, group_key

COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("id", "ID", 5),
    ("type", "Type", 10),
    ("status", "Status", 12),
    ("priority", "Prio", 8),
    ("progress", "Progress", 13),
    ("message", "Message", 24),
    ("age", "Age", 15),
)
"""(key, label, width) of each column; fixed widths so updates never re-measure."""

MIN_MESSAGE = 12
"""The message column takes the width left over, but never less than this."""

BLANK: tuple[None, ...] = (None,) * len(COLUMNS)
"""A new row's cells until it is first on screen (see _freshen)."""


class JobTable(CursorPick, KeyedTable):
    """Jobs as rows keyed by id; the engine's events are applied to them in place.

    Once the person has picked a job (moved the cursor, clicked, submitted) the cursor
    belongs to it, not to a row index: every change that moves rows (re-sort, insert,
    delete, filter) puts it back on the same job id. Until then, and again after Home, it
    stays on the top row, so a finishing job does not carry the view to the bottom.
    """

    BINDINGS = [
        Binding("home", "scroll_top", "First", show=False, id="table.first",
                tooltip="First row of the queue"),
        Binding("end", "scroll_bottom", "Last", show=False, id="table.last",
                tooltip="Last row of the queue (loads more jobs)"),
    ]

    class NeedMore(Message):
        """The cursor reached the last row: page in older jobs."""

    def __init__(self, clock: Callable[[], float] = time.time, **kw: Any) -> None:
        super().__init__(cursor_type="row", **kw)
        self.clock = clock
        self.jobs: dict[int, Job] = {}
        """Every job in the window, including those the filters hide."""
        self.statuses: frozenset[Status] | None = None
        self.needle = ""
        self.sort_column: str | None = None
        self.sort_reverse = False
        self.hidden: set[int] = set()
        """Jobs deleted with undo pending: kept in `jobs`, never shown."""
        self.caps = [MAX_KEPT for _ in GROUPS]
        """Jobs of each group kept in the window; raised as the person pages back."""
        self.floors: list[int | None] = [None for _ in GROUPS]
        """Per group, set when trimming dropped jobs: paging in again starts below this id."""
        self._stale: set[int] = set()
        """Jobs whose row cells are behind `jobs` (off screen when they changed)."""
        self._ranks: dict[str, Any] = {}
        """Row key -> where the row sorts (`order` of its job when it last changed)."""
        self.paint_cost = 0.0
        """Seconds the first paint after the last batch took: every visible cell again."""
        self._paint_timed = True
        self._want: int | None = None
        self._followed: int | None = None
        self._id_width = 0
        """Digits of the longest id seen (the id column never shrinks back)."""
        """Row the cursor was moved to because its job moved, not by the person."""

    def on_mount(self) -> None:
        """Add the fixed-width columns."""
        for key, label, width in COLUMNS:
            self.add_column(label, width=width, key=key)

    def on_resize(self) -> None:
        """Give the message column whatever width the others leave."""
        fixed = sum(self._width(key, w) + 2 for key, _, w in COLUMNS if key != "message")
        # Leave room for the vertical scrollbar even before it appears: when rows arrive and
        # it shows, a table measured without it would need a horizontal scrollbar.
        free = self.size.width - self.styles.scrollbar_size_vertical - fixed - 2
        width = max(MIN_MESSAGE, free)
        column = self.columns.get(ColumnKey("message"))
        if column is not None and column.width != width:
            column.width = width
            self._require_update_dimensions = True
            self.refresh()
        self._freshen()

    def _width(self, key: str, width: int) -> int:
        """A column's width: the id column grows with the longest id (issue 14)."""
        return max(width, self._id_width) if key == "id" else width

    def _fit_ids(self) -> None:
        """Widen the id column when an id has more digits than it shows (issue 14)."""
        longest = len(str(max(self.jobs))) if self.jobs else 0
        if longest <= self._id_width:
            return
        self._id_width = longest
        column = self.columns.get(ColumnKey("id"))
        if column is not None and column.width < longest:
            column.width = longest
            self.on_resize()  # the message column gives up what the id column took
            self._require_update_dimensions = True
            self.refresh()

    @property
    def selected_id(self) -> int | None:
        """The id of the job under the cursor."""
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return int(key.value) if key.value is not None else None

    def select(self, job_id: int) -> None:
        """Put the cursor on a job now, or as soon as its row arrives."""
        self.chosen = True
        if str(job_id) in self.rows:
            self._want = None
            self._restore(job_id)
        else:
            self._want = job_id

    def shows(self, job: Job) -> bool:
        """Whether the status and text filters let this job through."""
        if job.id in self.hidden:
            return False
        if self.statuses is not None and job.status not in self.statuses:
            return False
        return matches(job, self.needle)

    def cells(self, job: Job) -> list[Any]:
        """The row for a job; user text is wrapped in Text so it is never markup."""
        colours = self.app.theme_variables
        progress = "" if job.status in QUEUED else bar(job.progress, 8)
        shared = self.shared
        return [
            job.id,
            shared(plain(job.type)),
            shared(badge(job.status, colours)),
            shared(Text(str(job.priority))),
            shared(Text(progress)),
            shared(plain(job.error or job.message if job.status is Status.FAILED
                         else job.message)),
            shared(Text(age(job, self.clock()))),
        ]

    def order(self, job: Job) -> Any:
        """Where a job goes: the clicked column, else running/queued/finished groups."""
        column = self.sort_column
        if column is None:
            return group_key(job)
        if column == "age":
            return job.created_at
        if column == "status":
            return (str(job.status), job.id)
        value = getattr(job, column)
        return (int(value) if column == "priority" else value, job.id)

    def load(self, jobs: Iterable[Job]) -> None:
        """Replace the window with these jobs (startup, filter change, resync)."""
        self.jobs = {job.id: job for job in jobs}
        self.caps = [MAX_KEPT for _ in GROUPS]
        self.floors = [None for _ in GROUPS]
        self.rebuild()

    def rebuild(self) -> None:
        """Refill rows from the window (only on load and filter changes, never per event)."""
        selected = self.selected_id if self.chosen else None
        with self.app.batch_update():
            self.clear()
            self._ranks = {str(i): self.order(j) for i, j in self.jobs.items() if self.shows(j)}
            keys = sorted(self._ranks, key=self._ranks.__getitem__, reverse=self.sort_reverse)
            self._stale = {int(key) for key in keys}
            self.change_rows(add=[(key, BLANK) for key in keys])
            self._fit_ids()
            self._restore(self._wanted(selected))
            self._freshen()

    def apply(self, jobs: dict[int, Job], deleted: Collection[int] = ()) -> None:
        """Apply a batch of changed jobs and deletions in one screen update.

        The window is decided on `jobs` first (trimmed there), then the rows follow it: a
        job that would be trimmed at once never becomes a row, rows that leave go in one
        pass, and a row that stays only has the cells that changed updated.
        """
        self._apply(jobs, deleted)
        self._paint_timed = False

    def render_lines(self, crop: Region) -> list[Strip]:
        """Paint the rows, timing the first paint after a batch (see paint_cost)."""
        if self._paint_timed:
            return super().render_lines(crop)
        start = time.perf_counter()
        lines = super().render_lines(crop)
        self.paint_cost, self._paint_timed = time.perf_counter() - start, True
        return lines

    def _apply(self, jobs: dict[int, Job], deleted: Collection[int]) -> None:
        selected = self.selected_id if self.chosen else None
        gone: set[int] = set()
        for job_id in deleted:
            self.jobs.pop(job_id, None)
            self.hidden.discard(job_id)
            gone.add(job_id)
        # Jobs new to the window or with a new status or priority: only these can move in
        # queue order (progress, the bulk of a batch, never moves a row).
        moved: set[int] = set()
        for job_id, job in jobs.items():
            old = self.jobs.get(job_id)
            if old is None or old.status is not job.status or old.priority != job.priority:
                moved.add(job_id)
            self.jobs[job_id] = job
        if moved:  # only a new job or a new status can take a group past its cap
            gone.update(self._trim(selected))
        reorder = False
        new: list[str] = []
        ranks, stale, order = self._ranks, self._stale, self.order
        filtered = bool(self.hidden or self.statuses is not None or self.needle)
        queue_order = self.sort_column is None
        for job_id in jobs:
            kept = self.jobs.get(job_id)
            if kept is None or (filtered and not self.shows(kept)):
                gone.add(job_id)
                continue
            # Every changed row is stale: the rows on screen are brought up to date below,
            # the others (and new rows, added blank) when they scroll into view.
            stale.add(job_id)
            key = str(job_id)
            before = ranks.get(key)  # a rank for each row, so None: no row yet
            if before is not None and queue_order and job_id not in moved:
                continue
            rank = order(kept)
            if before is None:
                new.append(key)
            elif rank == before:
                continue
            ranks[key] = rank
            reorder = True
        with self.app.batch_update():
            for job_id in gone:
                stale.discard(job_id)
                ranks.pop(str(job_id), None)
            self.change_rows(drop=map(str, gone), add=[(key, BLANK) for key in new],
                             order=ranks.__getitem__ if reorder else None,
                             reverse=self.sort_reverse)
            self._fit_ids()
            self._restore(self._wanted(selected))
            self._freshen()

    def _freshen(self) -> None:
        """Bring the cells of stale rows on screen up to date, in one refresh.

        Rows off screen are only marked stale: a burst of progress from 500 jobs costs the
        ~30 rows a person can see, and the rest catch up as they scroll into view.
        """
        if not self._stale or not self.row_count:
            return
        first = max(0, int(self.scroll_y))  # every row is one line high
        last = min(self.row_count, first + self.size.height)
        changed = False
        for index in range(first, last):
            key = self._row_locations.get_key(index)
            if key is None or int(str(key.value)) not in self._stale:
                continue
            job_id = int(str(key.value))
            self._stale.discard(job_id)
            job = self.jobs.get(job_id)
            if job is None:
                continue
            row = self._data[key]
            for (column, _, _), after in zip(COLUMNS, self.cells(job), strict=True):
                before = row[ColumnKey(column)]
                if before is after:
                    continue
                if before != after or getattr(before, "style", None) != getattr(after, "style",
                                                                                None):
                    # update_cell, minus its refresh per cell: one refresh below for all.
                    row[ColumnKey(column)] = after
                    changed = True
        if changed:
            self._update_count += 1
            self.refresh()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Rows scrolled into view catch up on the changes made while they were off screen."""
        super().watch_scroll_y(old_value, new_value)
        self._freshen()

    def page_in(self, jobs: Collection[Job], grow: bool = True) -> None:
        """Add a page of jobs; with grow, keep them all (the window grows as the person pages;
        a refill of queued jobs, which replace the ones that started, stays within it)."""
        for index, group in enumerate(GROUPS):
            # Only jobs new to the window: a page may repeat jobs it already holds.
            if grow:
                self.caps[index] += sum(1 for job in jobs
                                        if job.status in group and job.id not in self.jobs)
        self.apply({job.id: job for job in jobs})

    def hide(self, job_id: int) -> None:
        """Stop showing a job (deleted, undo pending); the cursor stays on its row index."""
        self.hidden.add(job_id)
        if str(job_id) in self.rows:
            with self.app.batch_update():
                self.change_rows(drop=[str(job_id)])
                self._ranks.pop(str(job_id), None)
                self._freshen()  # the rows below moved up, maybe into view

    def unhide(self, job_id: int) -> None:
        """Show a job again (delete undone) and select it."""
        self.hidden.discard(job_id)
        job = self.jobs.get(job_id)
        if job is not None:
            self._want = job_id
            self.apply({job_id: job})

    def resort(self) -> None:
        """Sort rows by the current order, keeping the cursor on the same job."""
        selected = self.selected_id
        self._ranks = {key: self.order(self.jobs[int(key)]) for key in self._ranks}
        with self.app.batch_update():
            self.change_rows(order=self._ranks.__getitem__, reverse=self.sort_reverse)
            self._restore(selected)
            self._freshen()  # rows off screen until now may be on it

    def tick(self) -> None:
        """Move every job's age on (once a second; only visible rows are repainted now)."""
        self._stale.update(self.jobs)
        with self.app.batch_update():
            self._freshen()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """Sort by the clicked column; clicking it again reverses, a third time resets."""
        column = str(event.column_key.value)
        if self.sort_column != column:
            self.sort_column, self.sort_reverse = column, False
        elif not self.sort_reverse:
            self.sort_reverse = True
        else:
            self.sort_column, self.sort_reverse = None, False
        self.resort()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Ask for the next page of older jobs when the person moves to the last row."""
        followed, self._followed = self._followed, None
        if event.cursor_row == followed:
            return  # rows moved under the cursor; paging now would page again and again
        if self.row_count and event.cursor_row == self.row_count - 1:
            self.post_message(self.NeedMore())

    def action_scroll_bottom(self) -> None:
        """End: the last row; already there (or no rows), ask for more jobs."""
        self.chosen = True  # (see CursorPick)
        if not self.row_count or self.cursor_row == self.row_count - 1:
            self.post_message(self.NeedMore())
        super().action_scroll_bottom()

    def _trim(self, selected: int | None) -> list[int]:
        """Keep each group's first `cap` jobs in queue order in `jobs`; return the dropped ids.

        Queue order (group_key) keeps the next queued jobs to run and the newest finished
        ones; a job outside the window that belongs in it by that order displaces the last.
        """
        dropped: list[int] = []
        for index, group in enumerate(GROUPS):
            cap = self.caps[index]
            ids = [i for i, j in self.jobs.items() if j.status in group]
            if len(ids) <= cap:
                continue
            ids.sort(key=lambda i: group_key(self.jobs[i]))
            gone = [i for i in ids[cap:] if i != selected]
            for job_id in gone:
                del self.jobs[job_id]
            dropped += gone
            if gone:
                # Paging in again from just past the first dropped job (in paging order:
                # the newest for a newest-first group) brings every dropped one back.
                if NEWEST_FIRST[index]:
                    floor = max(gone) + 1
                    self.floors[index] = max(floor, self.floors[index] or floor)
                else:
                    floor = min(gone) - 1
                    earlier = self.floors[index]
                    self.floors[index] = floor if earlier is None else min(floor, earlier)
        return dropped

    def _wanted(self, selected: int | None) -> int | None:
        """The job the cursor goes to: one asked for by select(), else the selected one."""
        want = self._want
        if want is not None and str(want) in self.rows:
            self._want = None
            return want
        return selected

    def _restore(self, job_id: int | None) -> None:
        if job_id is None or str(job_id) not in self.rows:
            return
        row = self.get_row_index(str(job_id))
        if row != self.cursor_row:
            self._followed = row
            self.move_cursor(row=row, animate=False)

