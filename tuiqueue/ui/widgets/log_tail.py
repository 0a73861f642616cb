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

    def add(self, lines: Iterable[tuple[int, str]], dropped: int = 0) -> None:
        """Append lines after last_seq; follow them only if already at the bottom."""
        follow = self.is_vertical_scroll_end or self.max_scroll_y == 0
        fresh = [(seq, line) for seq, line in lines if seq > self.last_seq]
        if not fresh:
            return
        if dropped and self.last_seq == 0:
            fresh.insert(0, (0, f"… {dropped} lines dropped …"))
        self.write_lines((clean(line) for _, line in fresh), scroll_end=follow)
        self.last_seq = fresh[-1][0]
