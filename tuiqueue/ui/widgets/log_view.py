"""A job's log tail with its search field (opened with / in the log)."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input

from tuiqueue.ui.widgets.log_tail import LogTail

SEARCH_PLACEHOLDER = "search the log (enter: go, esc: clear)"


class LogSearch(Input):
    """The log's search field: typing highlights, enter goes to the match, escape clears."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="log.search.close", tooltip="Stop searching"),
    ]

    def action_close(self) -> None:
        """Clear the search and go back to the log."""
        parent = self.parent
        if isinstance(parent, LogView):
            parent.close_search(clear=True)


class LogView(Vertical):
    """The log tail, and under it a search field that is shown only while searching."""

    def __init__(self, *, log_id: str | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.tail = LogTail(id=log_id)

    def compose(self) -> ComposeResult:
        """The log; its search field is added when first asked for (see open_search)."""
        yield self.tail

    async def open_search(self) -> None:
        """Show the search field with the current search, and type into it.

        The field is mounted the first time: hidden until then, it would be one more Input
        (with its cursor's timer) to build and style before the dashboard's first frame."""
        found = self.query(LogSearch)
        if found:
            field = found.first()
        else:
            field = LogSearch(placeholder=SEARCH_PLACEHOLDER, classes="log-search")
            await self.mount(field)
        field.value = self.tail.search
        self.add_class("-searching")
        field.focus()

    def close_search(self, clear: bool = False) -> None:
        """Hide the search field (clear: forget the search too) and focus the log."""
        if clear:
            self.tail.search = ""
        self.remove_class("-searching")
        self.tail.focus()

    @on(LogTail.SearchRequested)
    async def _search_requested(self, message: LogTail.SearchRequested) -> None:
        message.stop()
        await self.open_search()

    @on(Input.Changed, ".log-search")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        self.tail.search = event.value

    @on(Input.Submitted, ".log-search")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.tail.search = event.value
        self.close_search()
        if event.value:
            self.tail.first_match()
