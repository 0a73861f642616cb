"""The Stats view: the last hour's finished jobs per minute, per type, and how long they took.

Everything comes from the store (Engine.history), so the view is the same after a restart
and counts the jobs of every worker on the store, not only this dashboard's."""

from __future__ import annotations

import time
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Static

from tuiqueue.core import logs
from tuiqueue.core.history import DURATIONS_MAX, History, TypeHistory
from tuiqueue.core.status import Status
from tuiqueue.core.text import one_line
from tuiqueue.engine.engine import Engine
from tuiqueue.store.base import StoreError
from tuiqueue.ui.format import BADGE_COLOURS, ICONS, plain, took
from tuiqueue.ui.widgets.key_footer import KeyFooter

if TYPE_CHECKING:
    from tuiqueue.ui.widgets.finished_chart import FinishedChart

logger = logs.logger(__name__)

REFRESH = 5.0
"""Seconds between reloads while the view is shown (two index reads on SQL stores)."""

LOAD_SHARE = 0.05
"""Reloads are spaced so that reading the store takes at most this share of the time: on
SQLite the read holds the event loop the engine's jobs share (about 40 ms for 10^4 jobs
finished in the hour, 300 ms for 10^5), so a busy store is read less often."""

COLUMNS = ("Type", "Finished", "Completed", "Failed", "Cancelled", "Success", "p50", "p95")

EMPTY = "No job finished in the last hour."
EMPTY_HINT = (
    "Jobs that complete, fail or are cancelled on this store are counted here per minute, "
    "with their success rate and run times."
)


def rate(value: float | None) -> str:
    """A success rate as a percentage ("-" when nothing completed or failed)."""
    return "-" if value is None else f"{value * 100:.1f}%"


class StatsScreen(Screen[None]):
    """A chart of jobs completed and failed per minute, totals, and a table per type."""

    BINDINGS = [
        Binding("escape,g", "app.pop_screen", "Back", id="stats.back", tooltip="Back to the queue")
    ]

    def __init__(self, engine: Engine, refresh_every: float | None = None) -> None:
        super().__init__()
        self.engine = engine
        self.refresh_every = REFRESH if refresh_every is None else refresh_every
        self.history: History | None = None
        """The history shown (None until the first read)."""
        self.loads = 0
        """Reads of the store so far (tests wait on it)."""
        self.chart: FinishedChart | None = None
        self.next_in = self.refresh_every
        """Seconds until the next reload (longer while reading the store is costly)."""
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        """Title, summary, chart (or the empty state), per-type table, footer."""
        # The chart's module is imported when the view first opens, not with the dashboard.
        from tuiqueue.ui.widgets.finished_chart import FinishedChart

        yield Static(Text("Stats · the last hour on this store", style="bold"), id="history-title")
        yield Static(Text("Reading the store…", style="dim"), id="history-summary")
        self.chart = FinishedChart(id="history-chart")
        self.chart.border_title = "Completed and failed per minute"
        yield self.chart
        yield Static(
            Text.assemble((EMPTY, "bold"), "\n\n", (EMPTY_HINT, "dim")), id="history-empty"
        )
        yield DataTable[Any](id="history-types", cursor_type="row", zebra_stripes=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        """Add the columns, load now and every few seconds."""
        table = self.query_one("#history-types", DataTable)
        table.border_title = "Per type"
        for label in COLUMNS:
            table.add_column(label, key=label.lower())
        self._show_empty(None)
        self.refresh_history()

    def on_screen_resume(self) -> None:
        """Back from a screen that covered it (help, the palette): read again now."""
        if self.history is not None:
            self.refresh_history()

    def _tick(self) -> None:
        if self.is_current:
            self.refresh_history()
        else:  # nobody looks while another screen covers it
            self._arm(self.refresh_every)

    def _arm(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.stop()
        self.next_in = delay
        self._timer = self.set_timer(delay, self._tick)

    def refresh_history(self) -> None:
        """Read the last hour from the store again."""
        self.run_worker(self._load(), group="history", exclusive=True)

    async def _load(self) -> None:
        summary = self.query_one("#history-summary", Static)
        started = time.perf_counter()
        try:
            history = await self.engine.history()
        except StoreError as exc:
            logger.warning("the Stats view could not read the store: %s", exc)
            summary.update(Text(f"Could not read the store: {one_line(str(exc))} (retrying)"))
            return
        finally:
            self.loads += 1
            cost = time.perf_counter() - started
            self._arm(max(self.refresh_every, cost / LOAD_SHARE))
        self.history = history
        with self.app.batch_update(), suppress(NoMatches):  # (closed meanwhile: see DetailScreen)
            summary.update(self._summary(history))
            self._show_empty(history)
            if not history.empty and self.chart is not None:
                self.chart.show(history)
                self._fill_table(history)

    def _show_empty(self, history: History | None) -> None:
        empty = history is not None and history.empty
        self.query_one("#history-empty").display = empty
        for selector in ("#history-chart", "#history-types"):
            self.query_one(selector).display = not empty

    def _summary(self, history: History) -> Text:
        """One line of totals in the chart's colours (it is the chart's legend too)."""
        colours = self.app.theme_variables
        overall = history.overall
        if history.empty:
            return Text("0 finished", style="dim")
        parts: list[Text | str] = [Text(f"{overall.finished} finished", style="bold")]
        for status, n in (
            (Status.COMPLETED, overall.completed),
            (Status.FAILED, overall.failed),
            (Status.CANCELLED, overall.cancelled),
        ):
            colour = colours.get(BADGE_COLOURS[status], "")
            parts += [" · ", Text(f"{ICONS[status]} {n} {status}", style=colour)]
        parts += [
            " · success ",
            Text(rate(overall.success_rate), style="bold"),
            f" · p50 {took(overall.p50)} · p95 {took(overall.p95)}",
        ]
        if history.sampled:
            parts.append(Text(f" (run times of the newest {DURATIONS_MAX:,})", style="dim"))
        return Text.assemble(*parts)

    def _fill_table(self, history: History) -> None:
        table = self.query_one("#history-types", DataTable)
        row = table.cursor_row
        table.clear()
        for item in history.types:
            table.add_row(*self._cells(item), key=item.type)
        table.move_cursor(row=row)
        table.border_subtitle = f"{len(history.types)} types · p50/p95: run time of completed jobs"

    @staticmethod
    def _cells(item: TypeHistory) -> list[Text]:
        numbers = (item.finished, item.completed, item.failed, item.cancelled)
        return [
            plain(item.type),
            *(Text(str(n), justify="right") for n in numbers),
            Text(rate(item.success_rate), justify="right"),
            Text(took(item.p50), justify="right"),
            Text(took(item.p95), justify="right"),
        ]
