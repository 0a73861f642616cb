"""The stats bar: counts per status, worker load, queue state and a throughput sparkline."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.content import Content
from textual.reactive import reactive
from textual.style import Style
from textual.visual import VisualType
from textual.widget import Widget

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

SPARK_WIDTH = 16
"""The sparkline's cells (a margin of one after it)."""

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


class StatsBar(Widget):
    """One line of queue statistics with a sparkline of jobs finished per interval.

    One widget draws it all (the counts, the store, "done/s" and the sparkline, as four
    widgets did): it is on the first frame, where each widget costs its mount and styling.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "stats-bar--muted",
        "stats-bar--spark-max",
        "stats-bar--spark-min",
    }
    """The store's and the label's colour; the sparkline's for the most and the fewest jobs."""

    stats: reactive[Stats | None] = reactive(None, always_update=True, layout=False)
    """The latest engine stats."""
    marked: reactive[int] = reactive(0, layout=False)
    """Jobs marked in the queue for a bulk action (said in the bar while some are)."""

    def __init__(self, *, mode: str = "worker", store: str = "", **kw: Any) -> None:
        super().__init__(**kw)
        self.mode = mode
        """worker, watching or read-only (see mode_of); said in the bar."""
        self.store = store
        """The open store's path or masked URL (see store_label)."""
        self.narrow = False
        """Folded for a narrow terminal (see fold)."""
        self.samples = [0.0] * HISTORY
        """Jobs finished per stats refresh, the sparkline's data (oldest first)."""
        self._finished: int | None = None

    def fold(self, narrow: bool) -> None:
        """On a narrow terminal: no sparkline, a shorter store name."""
        self.narrow = narrow
        self.set_class(narrow, "-narrow")
        self.refresh()

    def watch_stats(self, stats: Stats | None) -> None:
        """Redraw the counts and push a throughput sample."""
        if stats is None:
            return
        self.set_class(stats.queue_paused, "-paused")
        finished = sum(stats.counts.get(s, 0) for s in TERMINAL)
        if self._finished is not None:
            sample = float(max(0, finished - self._finished))
            self.samples = [*self.samples, sample][-HISTORY:]
        self._finished = finished

    @property
    def text(self) -> Text:
        """The counts line as shown (empty before the first stats)."""
        return self.render_stats(self.stats) if self.stats is not None else Text()

    def render(self) -> VisualType:
        """The counts (cut with an ellipsis), then the store, "done/s" and the sparkline at
        the right end, as the bar's four widgets laid them out."""
        muted = Style.from_rich_style(self.get_component_rich_style("stats-bar--muted"))
        width = NARROW_STORE_WIDTH if self.narrow else STORE_WIDTH
        tail: list[Content] = [Content.styled(f" {store_label(self.store, width)} ", muted)]
        if not self.narrow:
            tail += [Content.styled(" done/s ", muted), self._sparkline(SPARK_WIDTH), Content(" ")]
        right = Content.assemble(*tail)
        room = max(0, self.content_size.width - right.cell_length)
        counts = Content.from_rich_text(self.text).truncate(room, ellipsis=True, pad=True)
        return Content.assemble(counts, right)

    def _sparkline(self, width: int) -> Content:
        """The samples as bars (Textual's Sparkline; flat, as before any job finished, the
        lowest bar in the colour for the fewest)."""
        _, base = self.background_colors
        low = base + self.get_component_styles("stats-bar--spark-min").color
        if min(self.samples) == max(self.samples):
            return Content.styled("▁" * width, Style(foreground=low))
        from textual.renderables.sparkline import Sparkline

        high = base + self.get_component_styles("stats-bar--spark-max").color
        bars = Sparkline(
            self.samples, width=width, min_color=low.rich_color, max_color=high.rich_color
        )
        console = self.app.console
        segments = console.render(bars, console.options.update_width(width))
        return Content.assemble(
            *(
                (seg.text, Style.from_rich_style(seg.style) if seg.style else "")
                for seg in segments
                if seg.text != "\n"
            )
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
