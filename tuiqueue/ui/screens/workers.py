"""The workers view: every engine registered on the store and whether it is alive."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from tuiqueue.core import logs
from tuiqueue.core.records import WORKERS_KEPT_FOR
from tuiqueue.engine.engine import Engine
from tuiqueue.ui.format import plain, span
from tuiqueue.ui.widgets.key_footer import KeyFooter

logger = logs.logger(__name__)

NO_LOAD = "\u2013"
"""Shown (an en dash) instead of the running count of a dead or stopped worker."""

REFRESH = 1.0
"""Seconds between reloads of the workers."""


class WorkersScreen(Screen[None]):
    """A table of workers: host, pid, concurrency, load, heartbeat, alive or dead."""

    BINDINGS = [
        Binding(
            "escape,w", "app.pop_screen", "Back", id="workers.back", tooltip="Back to the queue"
        )
    ]

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine

    def compose(self) -> ComposeResult:
        """Title, table, footer."""
        yield Static(Text("Workers on this store", style="bold"), id="workers-title")
        yield DataTable[Any](id="workers", cursor_type="row")
        yield KeyFooter()

    def on_mount(self) -> None:
        """Add columns, load and refresh every two seconds."""
        table = self.query_one(DataTable)
        for label in (
            "Worker",
            "Host",
            "PID",
            "Concurrency",
            "Running",
            "Processed",
            "Started",
            "Last heartbeat",
            "State",
        ):
            table.add_column(label, key=label.lower())
        self.refresh_workers()
        self.set_interval(REFRESH, self.refresh_workers)

    def refresh_workers(self) -> None:
        """Reload the workers from the engine."""
        self.run_worker(self._load(), group="workers", exclusive=True)

    async def _load(self) -> None:
        engine = self.engine
        now = engine.clock()
        # The engine's own limit, so this view, `tuiqueue workers` and recovery agree.
        dead_after = engine.dead_after
        everyone = await engine.workers()
        workers = [
            w for w in everyone if w.alive(now, dead_after) or w.gone_for(now) <= WORKERS_KEPT_FOR
        ]
        colours = self.app.theme_variables
        tables = self.query(DataTable)
        if not tables:
            return  # the screen closed meanwhile (see DetailScreen)
        table = tables.first()
        row = table.cursor_row
        with self.app.batch_update():
            table.clear()
            for info in workers:
                alive = info.alive(now, dead_after)
                state = "stopped" if info.stopped else "alive" if alive else "dead"
                colour = colours.get(
                    "success" if alive else "foreground-darken-3" if info.stopped else "error", ""
                )
                # A dead or stopped worker runs nothing: its last reported load is stale
                # (recovery has given its jobs to others), so none is shown and it is dimmed.
                dim = "" if alive else "dim"
                numbers = (
                    info.pid,
                    info.concurrency,
                    info.running if alive else NO_LOAD,
                    info.processed,
                )
                cells = [
                    plain(info.id, dim),
                    plain(info.host, dim),
                    *(Text(str(n), style=dim) for n in numbers),
                    plain(f"{span(now - info.started_at)} ago", dim),
                    plain(f"{span(now - info.heartbeat)} ago", dim),
                ]
                table.add_row(*cells, Text(state, style=f"bold {colour}"), key=info.id)
            if not workers:
                table.add_row("(no workers registered yet)", *[""] * 8)
            table.move_cursor(row=row)
        living = sum(1 for w in workers if w.alive(now, dead_after))
        rule = (
            "alive while its process holds its lock"
            if engine.store.exact_liveness
            else f"dead after {dead_after:g}s without a heartbeat"
        )
        older = len(everyone) - len(workers)
        hidden = f" · {older} gone over an hour ago not shown" if older else ""
        table.border_subtitle = f"{living} of {len(workers)} alive · {rule}{hidden}"
