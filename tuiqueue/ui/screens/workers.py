"""The workers view: every engine registered on the store and whether it is alive."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tuiqueue.ui.format import plain, span

if TYPE_CHECKING:
    from tuiqueue.ui.app import QueueApp

DEAD_AFTER = 15.0
"""A worker silent for this many seconds is shown as dead."""


class WorkersScreen(Screen[None]):
    """A table of workers: host, pid, concurrency, load, heartbeat, alive or dead."""

    BINDINGS = [Binding("escape,w", "app.pop_screen", "Back", id="workers.back",
                        tooltip="Back to the queue")]

    @property
    def qapp(self) -> QueueApp:
        """The dashboard app."""
        return cast("QueueApp", self.app)

    def compose(self) -> ComposeResult:
        """Title, table, footer."""
        yield Static(Text("Workers on this store", style="bold"), id="workers-title")
        yield DataTable[Any](id="workers", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        """Add columns, load and refresh every two seconds."""
        table = self.query_one(DataTable)
        for label in ("Worker", "Host", "PID", "Concurrency", "Running", "Processed",
                      "Started", "Last heartbeat", "State"):
            table.add_column(label, key=label.lower())
        self.refresh_workers()
        self.set_interval(2.0, self.refresh_workers)

    def refresh_workers(self) -> None:
        """Reload the workers from the engine."""
        self.run_worker(self._load(), group="workers", exclusive=True)

    async def _load(self) -> None:
        workers = await self.qapp.engine.workers()
        now = self.qapp.clock()
        colours = self.app.theme_variables
        table = self.query_one(DataTable)
        with self.app.batch_update():
            table.clear()
            for info in workers:
                alive = info.alive(now, DEAD_AFTER)
                state = "stopped" if info.stopped else "alive" if alive else "dead"
                colour = colours.get("success" if alive else "error", "")
                table.add_row(plain(info.id), plain(info.host), info.pid, info.concurrency,
                              info.running, info.processed, f"{span(now - info.started_at)} ago",
                              f"{span(now - info.heartbeat)} ago",
                              Text(state, style=f"bold {colour}"), key=info.id)
            if not workers:
                table.add_row("(no workers registered yet)", *[""] * 8)
