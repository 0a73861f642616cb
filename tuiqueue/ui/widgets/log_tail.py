"""The live log tail of one job on the Line API: follows new lines, wraps, highlights matches."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tuiqueue.ui.format import clean

MAX_LINES = 5_000
"""Lines kept on screen (the store keeps the head and the newest tail)."""

LINE_CACHE = 256
"""Rendered log lines kept (a few screens' worth)."""


class LogTail(ScrollView, can_focus=True):
    """Log lines as plain text (escape sequences shown, never executed, never markup).

    Only the visible lines are drawn. With `wrap` a long line takes as many rows as it
    needs; without, the log scrolls sideways. `search` highlights every match (case-blind)
    with rich styles on the plain text, and n / N move between the matching lines.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"log-tail--match", "log-tail--current"}

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search", id="log.search", tooltip="Search the log (/)"),
        Binding("w", "toggle_wrap", "Wrap", id="log.wrap", tooltip="Wrap long log lines (or not)"),
        Binding("n", "next_match", "Next", id="log.next", tooltip="Next search match in the log"),
        Binding(
            "N",
            "previous_match",
            "Prev",
            id="log.previous",
            tooltip="Previous search match in the log",
        ),
        Binding("up", "scroll_up", "Up", show=False),
        Binding("down", "scroll_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "scroll_home", "Top", show=False),
        Binding("end", "scroll_end", "End", show=False),
        Binding("left", "scroll_left", "Left", show=False),
        Binding("right", "scroll_right", "Right", show=False),
    ]

    KEYS_HELP: ClassVar[list[Binding]] = [
        Binding("slash", "", "", tooltip="Search the log: typing highlights, enter goes there"),
        Binding("n", "", "", tooltip="Next match (N: previous); esc in the search clears it"),
        Binding("w", "", "", tooltip="Wrap long lines, or scroll sideways (left/right)"),
    ]
    """The log's keys, for the help screen."""

    @dataclass
    class SearchRequested(Message):
        """`/` in the log: the log's container opens its search field."""

        log: LogTail

    wrap: reactive[bool] = reactive(False)
    """Long lines wrap onto more rows instead of scrolling sideways."""
    search: reactive[str] = reactive("")
    """Text highlighted wherever it occurs (case-blind); empty: none."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.last_seq = 0
        """Sequence number of the newest line shown."""
        self.following = True
        """Keep the newest line in view; off while the person reads further up."""
        self._lines: list[str] = []
        self._widest = 0
        self._starts: list[int] | None = None
        """With wrap: the first row of each line (rebuilt lazily after a change)."""
        self._wrap_width = 0
        self._current: int | None = None
        """The line index of the current search match."""
        self._cache: LRUCache[tuple[Any, ...], Strip] = LRUCache(LINE_CACHE)

    # -- what is shown -----------------------------------------------------------------

    @property
    def lines(self) -> list[str]:
        """The lines shown (control characters made visible)."""
        return list(self._lines)

    @property
    def line_count(self) -> int:
        """How many lines are shown."""
        return len(self._lines)

    def matches(self) -> list[int]:
        """Indexes of the lines that contain the search text."""
        needle = self.search.lower()
        if not needle:
            return []
        return [i for i, line in enumerate(self._lines) if needle in line.lower()]

    # -- changes -----------------------------------------------------------------------

    def clear(self) -> None:
        """Forget every line (another job is shown)."""
        self._lines = []
        self._widest = 0
        self.last_seq = 0
        self.following = True
        self._current = None
        self._changed()
        self.scroll_to(0, 0, animate=False, immediate=True)

    def add(self, lines: Iterable[tuple[int, str]], dropped: int = 0) -> None:
        """Append lines after last_seq; follow them unless the person scrolled up."""
        fresh = [(seq, line) for seq, line in lines if seq > self.last_seq]
        if not fresh:
            return
        if dropped and self.last_seq == 0:
            fresh.insert(0, (0, f"… {dropped} lines dropped …"))
        new = [clean(line) for _, line in fresh]
        self._lines.extend(new)
        if len(self._lines) > MAX_LINES:
            cut = len(self._lines) - MAX_LINES
            del self._lines[:cut]
            self._current = None
            self._cache.clear()  # line indexes moved
        self._widest = max(self._widest, *(cell_len(line) for line in new))
        self.last_seq = fresh[-1][0]
        self._changed()
        if self.following:
            self.call_after_refresh(self.scroll_end, animate=False, x_axis=False)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Scrolling back to the bottom resumes following (the person's moves up stop it)."""
        super().watch_scroll_y(old_value, new_value)
        # Only the person's moves up stop following (the wheel, the keys, a search): a move
        # up here may be the layout's, clamping the offset while the log is hidden or
        # shrinks. Judging by "at the end" breaks while the virtual height is ahead of the
        # layout (the first lines arrive before the first layout).
        if new_value > old_value and new_value >= self.max_scroll_y:
            self.following = True

    def on_mouse_scroll_up(self) -> None:
        """The wheel up: the person reads further up."""
        self.following = False

    def action_scroll_up(self) -> None:
        """Up: stop following and scroll."""
        self.following = False
        super().action_scroll_up()

    def action_page_up(self) -> None:
        """Page up: stop following and scroll."""
        self.following = False
        super().action_page_up()

    def action_scroll_home(self) -> None:
        """Home: stop following, go to the first line."""
        self.following = False
        super().action_scroll_home()

    def watch_wrap(self) -> None:
        """Re-flow the lines."""
        self._changed()
        if self.following:
            self.call_after_refresh(self.scroll_end, animate=False, x_axis=False)

    def watch_search(self) -> None:
        """Highlight the new text; the current match is the first from the top of the view."""
        self._current = None
        self._cache.clear()
        self.refresh()
        self.refresh_bindings()  # n and N come and go with the search

    # -- geometry ----------------------------------------------------------------------

    def _width(self) -> int:
        return max(1, self.scrollable_content_region.width)

    def _rows_of(self) -> list[int]:
        """With wrap: the first row of every line, plus the total at the end."""
        width = self._width()
        if self._starts is None or self._wrap_width != width:
            starts, row = [], 0
            for line in self._lines:
                starts.append(row)
                row += max(1, -(-cell_len(line) // width))
            starts.append(row)
            self._starts, self._wrap_width = starts, width
        return self._starts

    def _changed(self) -> None:
        self._starts = None
        self._fit()
        self.refresh()

    def _fit(self) -> None:
        if self.wrap:
            size = Size(self._width(), self._rows_of()[-1])
        else:
            size = Size(self._widest, len(self._lines))
        if size != self.virtual_size:
            self.virtual_size = size

    def on_resize(self) -> None:
        """Wrapped rows follow the width; a following log stays at its newest line."""
        self._starts = None
        self._fit()
        self.refresh()
        if self.following:
            self.call_after_refresh(self.scroll_end, animate=False, x_axis=False)

    def _row_of_line(self, index: int) -> int:
        return self._rows_of()[index] if self.wrap else index

    # -- drawing -----------------------------------------------------------------------

    def notify_style_update(self) -> None:
        """Theme or CSS changed: every cached line is stale."""
        super().notify_style_update()
        self._cache.clear()

    def render_lines(self, crop: Region) -> list[Strip]:
        """Work out the wrap rows once per paint, then draw the visible lines."""
        if self.wrap:
            self._rows_of()
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        """Row y of the widget (after scrolling)."""
        row = int(self.scroll_y) + y
        width = self.size.width
        base = self.rich_style
        if self.wrap:
            starts = self._rows_of()
            if not 0 <= row < starts[-1]:
                return Strip.blank(width, base)
            index = bisect_right(starts, row) - 1
            start = (row - starts[index]) * self._wrap_width
            end = start + self._wrap_width
        else:
            if not 0 <= row < len(self._lines):
                return Strip.blank(width, base)
            index = row
            start = int(self.scroll_x)
            end = start + width
        strip = self._strip(index, base)
        return strip.crop_extend(start, end, base)

    def _strip(self, index: int, base: Style) -> Strip:
        line = self._lines[index]
        current = index == self._current
        key = (index, line, self.search, current, base)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        text = Text(line, no_wrap=True, end="")
        needle = self.search.lower()
        if needle:
            component = "log-tail--current" if current else "log-tail--match"
            style = self.get_component_rich_style(component)
            hay, at = line.lower(), 0
            while (at := hay.find(needle, at)) >= 0:
                text.stylize(style, at, at + len(needle))
                at += len(needle)
        segments = [
            Segment(seg.text, base + seg.style if seg.style else base)
            for seg in text.render(self.app.console)
        ]
        strip = Strip(segments, cell_len(line))
        self._cache[key] = strip
        return strip

    # -- the person --------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """n and N apply only while searching (else they are the screen's keys)."""
        if action in ("next_match", "previous_match"):
            return bool(self.search)
        return True

    def action_search(self) -> None:
        """Ask the container to open the search field."""
        self.post_message(self.SearchRequested(self))

    def action_toggle_wrap(self) -> None:
        """Wrap long lines, or not."""
        self.wrap = not self.wrap

    def action_next_match(self) -> None:
        """Scroll to the next line with a match (after the current one, or the view's top)."""
        self._jump(forward=True)

    def action_previous_match(self) -> None:
        """Scroll to the previous line with a match."""
        self._jump(forward=False)

    def first_match(self) -> bool:
        """Go to the first match at or below the top of the view (else the first); any?"""
        self._current = None
        return self._jump(forward=True, inclusive=True)

    def _jump(self, forward: bool, inclusive: bool = False) -> bool:
        found = self.matches()
        if not found:
            self.notify(f"Not in the log: {self.search}", severity="warning", markup=False)
            return False
        if self._current is not None:
            at = self._current
        else:
            top = int(self.scroll_y)
            if self.wrap:
                at = bisect_right(self._rows_of(), top) - 1
            else:
                at = top
            inclusive = True
        if forward:
            after = [i for i in found if i > at or (inclusive and i == at)]
            target = after[0] if after else found[0]
        else:
            before = [i for i in found if i < at]
            target = before[-1] if before else found[-1]
        self._current = target
        self._cache.clear()
        self.following = False
        row = self._row_of_line(target)
        visible = max(1, self.scrollable_content_region.height)
        self.scroll_to(y=max(0, row - visible // 3), animate=False, immediate=True)
        self.refresh()
        return True
