"""The stats bar: counts per status, worker load, queue state and a throughput sparkline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Sparkline, Static

from tuiqueue.core.queues import DEFAULT_QUEUE
from tuiqueue.core.records import Stats
from tuiqueue.core.status import TERMINAL, Status
from tuiqueue.core.text import clean, mask_url
from tuiqueue.engine.engine import Engine
from tuiqueue.ui.format import BADGE_COLOURS, ICONS

MARK = "●"
"""Before the count of marked jobs (the queue's mark column shows the same)."""

SHOWN = (
    Status.RUNNING,
    Status.PENDING,
    Status.SCHEDULED,
    Status.WAITING,
    Status.PAUSED,
    Status.COMPLETED,
    Status.FAILED,
    Status.CANCELLED,
)
"""Statuses counted in the bar, in this order."""

WHEN_ANY = frozenset({Status.SCHEDULED, Status.WAITING})
"""Counted only when there are some (the bar is one line: room goes to what is there)."""

HISTORY = 30
"""Sparkline samples kept (one per stats refresh)."""

STORE_WIDTH = 32
"""The store's name is cut to this many characters (keeping its end: the file name)."""

NARROW_STORE_WIDTH = 16
"""The same on a narrow terminal, where the counts need the room."""


def store_label(url: str, width: int = STORE_WIDTH) -> str:
    """Which store is open, for the bar: the path (~ for the home folder) or the URL with
    any password masked, cut from the left when long."""
    shown = clean(mask_url(url))
    home = str(Path.home())
    if shown.startswith(home + "/"):
        shown = "~" + shown[len(home) :]
    return shown if len(shown) <= width else "…" + shown[-(width - 1) :]


def mode_of(engine: Engine) -> str:
    """What this dashboard is: "worker" (runs jobs), "watching" (steers) or "read-only"."""
    if engine.read_only:
        return "read-only"
    return "worker" if engine.worker else "watching"


class StatsBar(Horizontal):
    """One line of queue statistics with a sparkline of jobs finished per interval."""

    stats: reactive[Stats | None] = reactive(None, always_update=True)
    """The latest engine stats."""
    marked: reactive[int] = reactive(0)
    """Jobs marked in the queue for a bulk action (said in the bar while some are)."""

    def __init__(self, *, mode: str = "worker", store: str = "", **kw: Any) -> None:
        super().__init__(**kw)
        self.mode = mode
        """worker, watching or read-only (see mode_of); said in the bar."""
        self.store = store
        """The open store's path or masked URL (see store_label)."""
        self._finished: int | None = None

    def compose(self) -> ComposeResult:
        """The text and the sparkline."""
        yield Static(id="stats-text", markup=False)
        yield Static(Text(store_label(self.store)), id="stats-store", markup=False)
        yield Static("done/s", id="stats-label")
        yield Sparkline([0.0] * HISTORY, id="stats-spark")

    def fold(self, narrow: bool) -> None:
        """On a narrow terminal: no sparkline, a shorter store name."""
        self.set_class(narrow, "-narrow")
        width = NARROW_STORE_WIDTH if narrow else STORE_WIDTH
        self.query_one("#stats-store", Static).update(Text(store_label(self.store, width)))

    def watch_stats(self, stats: Stats | None) -> None:
        """Redraw the counts and push a throughput sample."""
        if stats is None:
            return
        self.set_class(stats.queue_paused, "-paused")
        # One line whatever the counts (height 1 in the .tcss): no layout of the whole screen.
        self.query_one("#stats-text", Static).update(self.render_stats(stats), layout=False)
        finished = sum(stats.counts.get(s, 0) for s in TERMINAL)
        if self._finished is not None:
            spark = self.query_one(Sparkline)
            data = [*list(spark.data or []), float(max(0, finished - self._finished))]
            spark.data = data[-HISTORY:]
        self._finished = finished

    def watch_marked(self, marked: int) -> None:
        """Say the new count of marked jobs."""
        if self.stats is not None:
            self.query_one("#stats-text", Static).update(
                self.render_stats(self.stats), layout=False
            )

    def render_stats(self, stats: Stats) -> Text:
        """The counts line, coloured from the theme."""
        colours = self.app.theme_variables
        text = Text()
        # The mode first: it decides what a key press does, and a narrow bar cuts the end.
        if self.mode == "worker":
            text.append(f" worker {stats.active}/{stats.capacity} ", style="bold")
        elif self.mode == "watching":
            text.append(" watching, no worker ", style="bold")
        else:
            text.append(" READ-ONLY ", style=f"bold reverse {colours.get('warning', '')}".strip())
        text.append("│", style="dim")
        if self.marked:
            accent = colours.get("accent", "")
            text.append(f" {MARK} {self.marked:,} marked ", style=f"bold {accent}".strip())
            text.append("│", style="dim")
        counts = stats.counts
        for status in SHOWN:
            colour = colours.get(BADGE_COLOURS[status], "")
            count = counts.get(status, 0)
            if not count and status in WHEN_ANY:
                continue
            text.append(
                f" {ICONS[status]} {count:,} {status} ",
                style=colour if count else f"{colour} dim".strip(),
            )
        text.append("│ ", style="dim")
        if stats.queue_paused:
            text.append("‖ QUEUE PAUSED │ ", style=f"bold {colours.get('warning', '')}")
        workers = f"{stats.workers} worker{'s' if stats.workers != 1 else ''}"
        text.append(f"{workers} {stats.fleet_active}/{stats.fleet_capacity}", style="bold")
        text.append(f" · {stats.fleet_processed:,} done")
        self.render_queues(stats, text)
        return text

    def render_queues(self, stats: Stats, text: Text) -> None:
        """Each named queue's running/limit and pause (nothing while only `default` exists
        with no settings: one queue needs no breakdown)."""
        if not any(
            q.name != DEFAULT_QUEUE or q.paused or q.limit is not None for q in stats.queues
        ):
            return
        warning = self.app.theme_variables.get("warning", "")
        text.append(" │ queues", style="dim")
        for q in stats.queues:
            text.append(" ")
            text.append(q.name, style="bold")
            load = f" {q.running}" if q.limit is None else f" {q.running}/{q.limit}"
            text.append(load)
            if q.paused:
                text.append(" ‖", style=f"bold {warning}".strip())
