"""The live log tail of one job: follows new lines while scrolled to the bottom."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.widgets import Log

from tuiqueue.ui.format import clean

MAX_LINES = 5_000
"""Lines kept on screen (the store keeps the head and the newest tail)."""


class LogTail(Log):
    """Log lines as plain text; escape sequences are shown, never executed."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(max_lines=MAX_LINES, auto_scroll=False, **kw)
        self.last_seq = 0
        """Sequence number of the newest line shown."""
        self.following = True
        """Keep the newest line in view; off while the person reads further up."""

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Scrolling up stops following; scrolling back to the bottom resumes it."""
        super().watch_scroll_y(old_value, new_value)
        # Only a move up is the person's: growth never scrolls by itself, and our own
        # scroll_end moves down. Judging by "at the end" instead breaks while the virtual
        # height is ahead of the layout (the first lines arrive before the first layout).
        if new_value < old_value:
            self.following = False
        elif new_value >= self.max_scroll_y:
            self.following = True

    def add(self, lines: Iterable[tuple[int, str]], dropped: int = 0) -> None:
        """Append lines after last_seq; follow them unless the person scrolled up."""
        fresh = [(seq, line) for seq, line in lines if seq > self.last_seq]
        if not fresh:
            return
        if dropped and self.last_seq == 0:
            fresh.insert(0, (0, f"… {dropped} lines dropped …"))
        self.write_lines((clean(line) for _, line in fresh), scroll_end=False)
        self.last_seq = fresh[-1][0]
        if self.following:
            self.call_after_refresh(self.scroll_end, animate=False, x_axis=False)
