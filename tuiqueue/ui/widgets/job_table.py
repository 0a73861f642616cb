"""The queue table: a bounded window of jobs, updated in place by job id, on the Line API."""

from __future__ import annotations

import time
from bisect import insort
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.actions import SkipAction
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tuiqueue.core import logs
from tuiqueue.core.job import Job
from tuiqueue.core.status import QUEUED, Status
from tuiqueue.ui.format import age, badge, bar, is_partial, matches, plain, until
from tuiqueue.ui.marks import Marks
from tuiqueue.ui.window import GROUPS, MAX_KEPT, NEWEST_FIRST, group_key

log = logs.logger(__name__)

COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("mark", "", 1),
    ("id", "ID", 5),
    ("type", "Type", 10),
    ("queue", "Queue", 8),
    ("status", "Status", 12),
    ("priority", "Prio", 8),
    ("progress", "Progress", 13),
    ("message", "Message", 24),
    ("age", "Age", 15),
)
"""(key, label, width) of each column; fixed widths so updates never re-measure. The mark
column is shown only while some job is marked."""

MARK = "●"
"""What the mark column shows on a marked row."""

GROWS_MAX = {"type": 24, "queue": 20}
"""Columns that widen to their longest value in the window (never shrinking back), up to."""

MIN_MESSAGE = 12
"""The message column takes the width left over, but never less than this."""

DROPPED_FIRST = ("age", "priority", "queue")
"""On a narrow table these columns go, in this order, until the message has ROOMY_MESSAGE
(id, type, status, progress and message always stay)."""

ROOMY_MESSAGE = 20
"""A message column narrower than this is not worth the other columns: they go first."""

PADDING = 1
"""Blank cells either side of every cell."""

LINE_CACHE = 512
"""Rendered rows kept by what they show: a few screens' worth."""


class JobTable(ScrollView, can_focus=True):
    """Jobs as rows keyed by id; the engine's events are applied to them in place.

    Once the person has picked a job (moved the cursor, clicked, submitted) the cursor
    belongs to it, not to a row index: every change that moves rows (re-sort, insert,
    delete, filter) puts it back on the same job id. Until then, and again after Home, it
    stays on the top row, so a finishing job does not carry the view to the bottom.
    Line 0 is the header, fixed; the rows scroll under it, and only visible rows are drawn.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "job-table--header",
        "job-table--cursor",
        "job-table--row",
        "job-table--marked",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("enter", "select_cursor", "Open", show=False),
        Binding(
            "home",
            "scroll_top",
            "First",
            show=False,
            id="table.first",
            tooltip="First row of the queue",
        ),
        Binding(
            "end",
            "scroll_bottom",
            "Last",
            show=False,
            id="table.last",
            tooltip="Last row of the queue (loads more jobs)",
        ),
        Binding(
            "space",
            "toggle_mark",
            "Mark",
            show=False,
            id="table.mark",
            tooltip="Mark or unmark the highlighted job (c, C, p, r, R, +, -, d then act on "
            "every marked job)",
        ),
        Binding(
            "shift+down",
            "extend_marks(1)",
            "Mark down",
            show=False,
            id="table.mark_down",
            tooltip="Mark this job and the one below (shift+up: above)",
        ),
        Binding("shift+up", "extend_marks(-1)", "Mark up", show=False, id="table.mark_up"),
        Binding(
            "escape",
            "clear_marks",
            "Unmark",
            show=False,
            id="table.unmark",
            tooltip="Unmark every job (when none is marked: back to the queue)",
        ),
    ]

    class NeedMore(Message):
        """The cursor reached the last row: page in older jobs."""

    @dataclass
    class Highlighted(Message):
        """The cursor is on another job."""

        job_id: int

    @dataclass
    class Selected(Message):
        """Enter (or a click on the cursor's row) on a job."""

        job_id: int

    @dataclass
    class MarksChanged(Message):
        """Jobs were marked or unmarked: this many are marked now."""

        count: int

    def __init__(self, clock: Callable[[], float] = time.time, **kw: Any) -> None:
        super().__init__(**kw)
        self.clock = clock
        self.jobs: dict[int, Job] = {}
        """Every job in the window, including those the filters hide."""
        self.statuses: frozenset[Status] | None = None
        self.queue: str | None = None
        """Only jobs of this queue are shown (None: every queue)."""
        self.needle = ""
        self.sort_column: str | None = None
        self.sort_reverse = False
        self.hidden: set[int] = set()
        """Jobs deleted with undo pending: kept in `jobs`, never shown."""
        self.marks = Marks()
        """Jobs marked for a bulk action (some may be beyond the window: select all)."""
        self.markable = True
        """Whether rows can be marked (not on a read-only dashboard)."""
        self.caps = [MAX_KEPT for _ in GROUPS]
        """Jobs of each group kept in the window; raised as the person pages back."""
        self.floors: list[int | None] = [None for _ in GROUPS]
        """Per group, set when trimming dropped jobs: paging in again starts below this id."""
        self.chosen = False
        """The person picked the job under the cursor: the cursor follows that job."""
        self.paint_cost = 0.0
        """Seconds the first paint after the last batch took."""
        self._paint_timed = True
        self._order: list[int] = []
        """Shown job ids, in row order."""
        self._index: dict[int, int] | None = {}
        """Job id -> row (rebuilt lazily after rows move)."""
        self._ranks: dict[int, Any] = {}
        """Job id -> where its row sorts (`order` of its job when it last changed)."""
        self._cursor = 0
        self._want: int | None = None
        self._highlighted: int | None = None
        self._id_width = 0
        """Digits of the longest id seen (the id column never shrinks back)."""
        self._grown: dict[str, int] = dict.fromkeys(GROWS_MAX, 0)
        """Longest type and queue names seen (those columns never shrink back either)."""
        self._paint: tuple[Style, list[int], Style, Style, Style, Style] | None = None
        """Set while painting: base, widths, header, cursor and row styles, read once."""
        self._lines: LRUCache[tuple[Any, ...], tuple[object, Strip]] = LRUCache(LINE_CACHE)
        """Rendered lines by what they show, with the job drawn (its id is in the key)."""

    # -- what is shown -----------------------------------------------------------------

    @property
    def row_count(self) -> int:
        """Rows shown."""
        return len(self._order)

    @property
    def cursor_row(self) -> int:
        """The row under the cursor."""
        return self._cursor

    def row_ids(self) -> list[int]:
        """The shown job ids in row order."""
        return list(self._order)

    def row_index(self, job_id: int) -> int | None:
        """The row a job is on, if shown."""
        if self._index is None:
            self._index = {job_id: row for row, job_id in enumerate(self._order)}
        return self._index.get(job_id)

    def cell_text(self, job_id: int, column: str) -> str:
        """The plain text a cell shows (before it is cut to its column)."""
        keys = [key for key, _, _ in COLUMNS]
        return self.cells(self.jobs[job_id])[keys.index(column)].plain

    @property
    def selected_id(self) -> int | None:
        """The id of the job under the cursor."""
        return self._order[self._cursor] if self._order else None

    def shows(self, job: Job) -> bool:
        """Whether the status and text filters let this job through."""
        if job.id in self.hidden:
            return False
        if self.statuses is not None and job.status not in self.statuses:
            return False
        if self.queue is not None and job.queue != self.queue:
            return False
        return matches(job, self.needle)

    def cells(self, job: Job) -> list[Text]:
        """The row for a job; user text is wrapped in Text so it is never markup."""
        progress = "" if job.status in QUEUED else bar(job.progress, 8)
        return [
            Text(MARK if job.id in self.marks else " "),
            Text(str(job.id)),
            plain(job.type),
            plain(job.queue),
            badge(job.status, self.app.theme_variables, is_partial(job)),
            Text(str(job.priority)),
            Text(progress),
            plain(self.message(job)),
            Text(age(job, self.clock())),
        ]

    def message(self, job: Job) -> str:
        """The message column: the error of a failed job; when a delayed job runs and what a
        dependent waits for (from the job itself: no store read per row)."""
        if job.status is Status.FAILED:
            return job.error or job.message
        if job.status is Status.SCHEDULED and job.run_at is not None:
            when = f"runs in {until(job.run_at - self.clock())}"
            return f"{when} · {job.message}" if job.message else when
        if job.status is Status.WAITING and job.depends_on:
            ids = ", ".join(f"#{i}" for i in job.depends_on[:3])
            after = f"after {ids}{' …' if len(job.depends_on) > 3 else ''}"
            return f"{after} · {job.message}" if job.message else after
        return job.message

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

    # -- changes -----------------------------------------------------------------------

    def load(self, jobs: Iterable[Job]) -> None:
        """Replace the window with these jobs (startup, filter change, resync)."""
        self.jobs = {job.id: job for job in jobs}
        self._measure(self.jobs.values())
        self.caps = [MAX_KEPT for _ in GROUPS]
        self.floors = [None for _ in GROUPS]
        self.rebuild()

    def rebuild(self) -> None:
        """Refill rows from the window (only on load and filter changes, never per event)."""
        selected = self.selected_id if self.chosen else None
        self._ranks = {i: self.order(j) for i, j in self.jobs.items() if self.shows(j)}
        self._sort()
        self._settle(selected)

    def apply(self, jobs: dict[int, Job], deleted: Collection[int] = ()) -> None:
        """Apply a batch of changed jobs and deletions in one screen update.

        The window is decided on `jobs` first (trimmed there), then the rows follow it: a
        job that would be trimmed at once never becomes a row, and rows only move when a
        job's place in the order changed.
        """
        selected = self.selected_id if self.chosen else None
        gone: set[int] = set()
        for job_id in deleted:
            self.jobs.pop(job_id, None)
            self.hidden.discard(job_id)
            gone.add(job_id)
        # Jobs new to the window or with a new status or priority: only these can move in
        # queue order (progress, the bulk of a batch, never moves a row).
        moved: set[int] = set()
        self._measure(jobs.values())
        for job_id, job in jobs.items():
            old = self.jobs.get(job_id)
            if old is None or old.status is not job.status or old.priority != job.priority:
                moved.add(job_id)
            self.jobs[job_id] = job
        if moved:  # only a new job or a new status can take a group past its cap
            gone.update(self._trim(selected))
        ranks, order = self._ranks, self.order
        filtered = bool(
            self.hidden or self.statuses is not None or self.queue is not None or self.needle
        )
        queue_order = self.sort_column is None
        changed: list[int] = []
        for job_id in jobs:
            kept = self.jobs.get(job_id)
            if kept is None or (filtered and not self.shows(kept)):
                gone.add(job_id)
                continue
            before = ranks.get(job_id)
            if before is not None and queue_order and job_id not in moved:
                continue
            rank = order(kept)
            if rank == before:
                continue
            ranks[job_id] = rank
            changed.append(job_id)
        dropped = [job_id for job_id in gone if ranks.pop(job_id, None) is not None]
        if len(changed) > 32:
            self._sort()  # a big batch: one sort beats many insertions
        elif changed or dropped:
            self._place({*changed, *dropped})
        self._paint_timed = False
        self._settle(selected)

    def page_in(self, jobs: Collection[Job], grow: bool = True) -> None:
        """Add a page of jobs; with grow, keep them all (the window grows as the person pages;
        a refill of queued jobs, which replace the ones that started, stays within it)."""
        for index, group in enumerate(GROUPS):
            # Only jobs new to the window: a page may repeat jobs it already holds.
            if grow:
                self.caps[index] += sum(
                    1 for job in jobs if job.status in group and job.id not in self.jobs
                )
        self.apply({job.id: job for job in jobs})

    def hide(self, job_id: int) -> None:
        """Stop showing a job (deleted, undo pending); the cursor stays on its row index."""
        self.hidden.add(job_id)
        if self._ranks.pop(job_id, None) is not None:
            self._place({job_id})
            self._settle(None)

    def unhide(self, job_id: int) -> None:
        """Show a job again (delete undone) and select it."""
        self.hidden.discard(job_id)
        job = self.jobs.get(job_id)
        if job is not None:
            self._want = job_id
            self.apply({job_id: job})

    def select(self, job_id: int) -> None:
        """Put the cursor on a job now, or as soon as its row arrives."""
        self.chosen = True
        if self.row_index(job_id) is not None:
            self._want = None
            self._settle(job_id)
        else:
            self._want = job_id

    def resort(self) -> None:
        """Sort rows by the current order, keeping the cursor on the same job."""
        selected = self.selected_id
        self._ranks = {job_id: self.order(self.jobs[job_id]) for job_id in self._ranks}
        self._sort()
        self._settle(selected)

    def tick(self) -> None:
        """Move every job's age on (once a second; only visible rows are drawn again)."""
        self.refresh()

    def _sort(self) -> None:
        ranks = self._ranks
        self._order = sorted(ranks, key=ranks.__getitem__, reverse=self.sort_reverse)
        self._index = None

    def _place(self, changed: set[int]) -> None:
        """Take the changed rows out and put those still shown back in their place."""
        ranks = self._ranks
        order = [job_id for job_id in self._order if job_id not in changed]
        if self.sort_reverse:
            order.reverse()
        key = ranks.__getitem__
        for job_id in sorted((i for i in changed if i in ranks), key=key):
            insort(order, job_id, key=key)
        if self.sort_reverse:
            order.reverse()
        self._order = order
        self._index = None

    def _settle(self, selected: int | None) -> None:
        """After rows changed: size, id column, cursor on its job, one refresh."""
        want = self._want
        if want is not None and self.row_index(want) is not None:
            self._want, selected = None, want
        if self.jobs:
            self._id_width = max(self._id_width, len(str(max(self.jobs))))
        row = self.row_index(selected) if selected is not None else None
        self._cursor = max(0, min(self._cursor if row is None else row, self.row_count - 1))
        self._fit()
        self._show_cursor()
        self.refresh()
        self._highlight()

    # -- geometry ----------------------------------------------------------------------

    def _measure(self, jobs: Collection[Job]) -> None:
        """Widen the type and queue columns to names longer than seen so far (capped)."""
        grown = self._grown
        for column in GROWS_MAX:
            longest = max((len(getattr(j, column)) for j in jobs), default=0)
            grown[column] = max(grown[column], min(longest, GROWS_MAX[column]))

    def _widths(self) -> list[int]:
        """Each column's width (0: not shown): id, type and queue fit their longest values
        (issue 14); on a narrow table the DROPPED_FIRST columns go; message takes the rest."""
        keys = [key for key, _, _ in COLUMNS]
        seen = {"id": self._id_width, **self._grown}
        widths = [max(w, seen.get(key, 0)) for key, _, w in COLUMNS]
        if not self.marks:
            widths[0] = 0  # the mark column
        # Leave room for the vertical scrollbar even before it appears.
        room = self.size.width - self.styles.scrollbar_size_vertical - 2 * PADDING
        for key in ("", *DROPPED_FIRST):
            if key:
                widths[keys.index(key)] = 0
            fixed = sum(
                w + 2 * PADDING for k, w in zip(keys, widths, strict=True) if w and k != "message"
            )
            if room - fixed >= ROOMY_MESSAGE:
                break
        widths[keys.index("message")] = max(MIN_MESSAGE, room - fixed)
        return widths

    def shown_columns(self) -> list[str]:
        """The keys of the columns this width shows (see DROPPED_FIRST)."""
        return [key for (key, _, _), w in zip(COLUMNS, self._widths(), strict=True) if w]

    def _fit(self) -> None:
        width = sum(w + 2 * PADDING for w in self._widths() if w)
        size = Size(width, self.row_count + 1)
        if size != self.virtual_size:
            self.virtual_size = size

    def on_resize(self) -> None:
        """Widths follow the widget's."""
        self._fit()
        self.refresh()

    def _visible(self) -> int:
        """Rows that fit under the header."""
        return max(1, self.scrollable_content_region.height - 1)

    def _show_cursor(self) -> None:
        top = int(self.scroll_y)
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, immediate=True)
        elif self._cursor >= top + self._visible():
            self.scroll_to(y=self._cursor - self._visible() + 1, animate=False, immediate=True)

    # -- drawing -----------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        """Paint the rows, timing the first paint after a batch (see paint_cost)."""
        start = time.perf_counter()
        self._paint = self._styles()
        try:
            lines = super().render_lines(crop)
        finally:
            self._paint = None
        if not self._paint_timed:
            self.paint_cost, self._paint_timed = time.perf_counter() - start, True
        return lines

    def _styles(self) -> tuple[Style, list[int], Style, Style, Style, Style]:
        """What every line of a paint shares (the base style walks every ancestor)."""
        base = self.rich_style
        component = self.get_component_rich_style
        return (
            base,
            self._widths(),
            base + component("job-table--header"),
            base + component("job-table--cursor"),
            base + component("job-table--row"),
            base + component("job-table--marked"),
        )

    def notify_style_update(self) -> None:
        """Theme or CSS changed: every cached line is stale."""
        super().notify_style_update()
        self._lines.clear()

    def render_line(self, y: int) -> Strip:
        """Line y of the widget: the header on line 0, then the visible rows."""
        width = self.size.width
        base, widths, header, cursor_style, row_style, marked_style = self._paint or self._styles()
        if y == 0:
            style = header
            labels = [Text(label + self._arrow(key)) for key, label, _ in COLUMNS]
            key: tuple[Any, ...] = (
                "header",
                tuple(widths),
                width,
                style,
                self.sort_column,
                self.sort_reverse,
                int(self.scroll_x),
            )
            return self._line(key, None, lambda: labels, widths, width, style)
        row = int(self.scroll_y) + y - 1
        if not 0 <= row < len(self._order):
            return Strip.blank(width, base)
        job = self.jobs[self._order[row]]
        marked = job.id in self.marks
        if row == self._cursor:
            style = cursor_style
        else:
            style = marked_style if marked else row_style
        # A delayed job's "runs in" counts down even when its age reads the same.
        due = self.message(job) if job.status is Status.SCHEDULED else None
        key = (
            id(job),
            marked,
            age(job, self.clock()),
            due,
            tuple(widths),
            width,
            style,
            int(self.scroll_x),
        )
        return self._line(key, job, lambda: self.cells(job), widths, width, style)

    def _arrow(self, column: str) -> str:
        if column != self.sort_column:
            return ""
        return " ▼" if self.sort_reverse else " ▲"

    def _line(
        self,
        key: tuple[Any, ...],
        owner: object,
        cells: Callable[[], list[Text]],
        widths: list[int],
        width: int,
        style: Style,
    ) -> Strip:
        """A line from the cache, else drawn; jobs are replaced, never changed, so a job
        drawn before (the very object: the entry keeps it alive) draws the same."""
        cached = self._lines.get(key)
        if cached is not None and cached[0] is owner:
            return cached[1]
        line = Text(no_wrap=True, end="")
        pad = " " * PADDING
        for cell, cell_width in zip(cells(), widths, strict=True):
            if not cell_width:
                continue
            cell = cell.copy()
            cell.truncate(cell_width, overflow="ellipsis", pad=True)
            line.append(pad)
            line.append_text(cell)
            line.append(pad)
        # On the cursor row the cursor's colours win (as in DataTable): a status drawn in
        # the cursor's own colour would vanish into it.
        on_cursor = style is (self._paint or self._styles())[3]
        top = Style(color=style.color, bgcolor=style.bgcolor) if on_cursor else None
        segments = [
            Segment(
                text,
                (style + seg_style + top if top else style + seg_style) if seg_style else style,
            )
            for text, seg_style, _ in line.render(self.app.console)
        ]
        total = sum(w + 2 * PADDING for w in widths if w)
        strip = Strip(segments, total).crop_extend(
            int(self.scroll_x), int(self.scroll_x) + width, style
        )
        self._lines[key] = (owner, strip)
        return strip

    # -- the person --------------------------------------------------------------------

    def move_cursor(self, row: int) -> None:
        """Put the cursor on a row (clamped) and keep it in view."""
        self._cursor = max(0, min(row, self.row_count - 1))
        self._show_cursor()
        self.refresh()
        if self._highlight() and self.row_count and self._cursor == self.row_count - 1:
            self.post_message(self.NeedMore())

    def _highlight(self) -> bool:
        """Tell the screen when the cursor is on another job; whether it is."""
        selected = self.selected_id
        if selected == self._highlighted:
            return False
        self._highlighted = selected
        if selected is not None:
            self.post_message(self.Highlighted(selected))
        return True

    def action_cursor_up(self) -> None:
        """Up: picks the job above."""
        self.chosen = True
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        """Down: picks the job below."""
        self.chosen = True
        self.move_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        """Page up: picks the job there."""
        self.chosen = True
        self.move_cursor(self._cursor - self._visible())

    def action_page_down(self) -> None:
        """Page down: picks the job there."""
        self.chosen = True
        self.move_cursor(self._cursor + self._visible())

    def action_scroll_top(self) -> None:
        """Home: the top row, where the cursor stays again as the rows change."""
        self.chosen = False
        self.move_cursor(0)

    def action_scroll_bottom(self) -> None:
        """End: the last row; already there (or no rows), ask for more jobs."""
        self.chosen = True
        if not self.row_count or self._cursor == self.row_count - 1:
            self.post_message(self.NeedMore())
        self.move_cursor(self.row_count - 1)

    # -- marks -------------------------------------------------------------------------

    def marks_changed(self) -> None:
        """Redraw after marks changed (the mark column comes and goes) and tell the screen."""
        self._fit()
        self.refresh()
        self.post_message(self.MarksChanged(len(self.marks)))

    def action_toggle_mark(self) -> None:
        """Space: mark or unmark the job under the cursor."""
        job_id = self.selected_id
        if job_id is None or not self.markable:
            return
        self.chosen = True
        self.marks.toggle(self.jobs[job_id])
        self.marks_changed()

    def action_extend_marks(self, step: int) -> None:
        """Shift+down/up: mark the job under the cursor and the next one, moving onto it."""
        job_id = self.selected_id
        if job_id is None or not self.markable:
            return
        self.chosen = True
        self.marks.mark([self.jobs[job_id]])
        self.move_cursor(self._cursor + step)
        after = self.selected_id
        if after is not None:
            self.marks.mark([self.jobs[after]])
        self.marks_changed()

    def action_clear_marks(self) -> None:
        """Escape: unmark every job; with none marked, the key goes on (to the screen)."""
        if not self.marks:
            raise SkipAction()
        self.marks.clear()
        self.marks_changed()

    def hide_many(self, job_ids: Collection[int]) -> None:
        """Stop showing many jobs at once (deleted, undo pending), in one re-sort."""
        self.hidden.update(job_ids)
        self.marks.drop(job_ids)
        gone = [job_id for job_id in job_ids if self._ranks.pop(job_id, None) is not None]
        if gone:
            self._sort()
            self._settle(None)
        self.marks_changed()

    def unhide_many(self, job_ids: Collection[int]) -> None:
        """Show many hidden jobs again (a bulk delete undone)."""
        self.hidden.difference_update(job_ids)
        self.apply({i: self.jobs[i] for i in job_ids if i in self.jobs})

    def action_select_cursor(self) -> None:
        """Enter: open the job under the cursor."""
        selected = self.selected_id
        if selected is not None:
            self.post_message(self.Selected(selected))

    def on_click(self, event: events.Click) -> None:
        """A click on a row picks it (on the cursor's row, opens it); on the header, sorts."""
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            x = offset.x + int(self.scroll_x)
            for (column, _, _), width in zip(COLUMNS, self._widths(), strict=True):
                if not width:
                    continue
                x -= width + 2 * PADDING
                if x < 0:
                    self._sort_by(column)
                    return
            return
        row = int(self.scroll_y) + offset.y - 1
        if not 0 <= row < self.row_count:
            return
        self.chosen = True
        if row == self._cursor:
            self.action_select_cursor()
        else:
            self.move_cursor(row)

    SORTABLE: ClassVar[tuple[str, ...]] = ("id", "type", "queue", "status", "priority", "age")
    """The columns `o` steps through (after them, queue order again)."""

    @dataclass
    class Sorted(Message):
        """The sort column or direction changed (None: queue order)."""

        column: str | None
        reverse: bool

    def next_sort(self) -> None:
        """Sort by the next column (o), ascending; after the last, queue order again."""
        order = [None, *self.SORTABLE]
        at = order.index(self.sort_column) if self.sort_column in order else 0
        self.sort_column, self.sort_reverse = order[(at + 1) % len(order)], False
        self.resort()
        self.post_message(self.Sorted(self.sort_column, self.sort_reverse))

    def reverse_sort(self) -> None:
        """Flip the direction of the sort (O); in queue order, sort by id newest first."""
        if self.sort_column is None:
            self.sort_column = "id"
        self.sort_reverse = not self.sort_reverse
        self.resort()
        self.post_message(self.Sorted(self.sort_column, self.sort_reverse))

    def sort_label(self) -> str:
        """The sort in words for a title: "" in queue order, else "by age ▼"."""
        if self.sort_column is None:
            return ""
        label = next(label for key, label, _ in COLUMNS if key == self.sort_column)
        return f"by {label.lower()}{self._arrow(self.sort_column)}"

    def _sort_by(self, column: str) -> None:
        """Sort by a column; clicking it again reverses, a third time resets."""
        if self.sort_column != column:
            self.sort_column, self.sort_reverse = column, False
        elif not self.sort_reverse:
            self.sort_reverse = True
        else:
            self.sort_column, self.sort_reverse = None, False
        self.resort()
        self.post_message(self.Sorted(self.sort_column, self.sort_reverse))

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
