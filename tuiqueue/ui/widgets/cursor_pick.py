"""CursorPick: whether the person picked the job under a table's cursor (mixed into JobTable)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import events
from textual.widgets import DataTable

if TYPE_CHECKING:
    _TableBase = DataTable[Any]
else:
    _TableBase = object


class CursorPick(_TableBase):
    """Keys and clicks that move the cursor pick a job; Home lets go of it.

    JobTable keeps the cursor on a picked job as rows move, and on the top row otherwise.
    """

    chosen = False
    """The person picked the job under the cursor: the cursor follows that job."""

    def action_cursor_up(self) -> None:
        """Up: picks the job above."""
        self.chosen = True
        super().action_cursor_up()

    def action_cursor_down(self) -> None:
        """Down: picks the job below."""
        self.chosen = True
        super().action_cursor_down()

    def action_page_up(self) -> None:
        """Page up: picks the job there."""
        self.chosen = True
        super().action_page_up()

    def action_page_down(self) -> None:
        """Page down: picks the job there."""
        self.chosen = True
        super().action_page_down()

    async def _on_click(self, event: events.Click) -> None:
        # Textual calls DataTable's own handler after this one (handlers run along the MRO).
        self.chosen = True

    def action_scroll_top(self) -> None:
        """Home: the top row, where the cursor stays again as the rows change."""
        self.chosen = False
        super().action_scroll_top()
