"""The Stats view's chart: jobs completed and failed per minute, as stacked bars.

Drawn here with block characters rather than with plotext: at a few columns a minute,
plotext's bars run into each other (adjacent minutes merged into one block), so a person
could not tell one minute from the next. Here every minute gets its own columns and, when it
has two or more, a gap; heights have eighth-of-a-row resolution.
"""

from __future__ import annotations

import math

from rich.style import Style
from rich.text import Text
from textual.color import Color, ColorParseError
from textual.widget import Widget

from tuiqueue.core.history import History

FALLBACK = {"success": (78, 191, 113), "error": (186, 60, 91)}
"""Bar colours when the theme does not define its own (RGB)."""

EIGHTHS = " ▁▂▃▄▅▆▇█"
"""A cell filled from the bottom by 0..8 eighths."""


def y_ticks(top: int) -> list[float]:
    """At most five whole-number ticks from 0 to at least top (counts have no fractions)."""
    if top <= 0:
        return [0.0, 1.0]
    step = max(1, math.ceil(top / 4))
    magnitude = 10 ** (len(str(step)) - 1)
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= step)
    return [float(t) for t in range(0, top + step, step)][:6]


def minute_labels(buckets: int) -> tuple[list[float], list[str]]:
    """x ticks every quarter of the window, counted back from now: "-45m" ... "now"."""
    last = buckets - 1
    every = max(1, buckets // 4)
    ticks = sorted({*range(last, -1, -every), 0})
    return [float(t) for t in ticks], [f"-{last - t}m" if t != last else "now" for t in ticks]


class FinishedChart(Widget):
    """Completed (success colour) and failed (error colour, stacked on top) jobs per minute
    of a history, the newest minute on the right; it follows the theme."""

    DEFAULT_CSS = "FinishedChart { height: 1fr; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.history: History | None = None

    def on_mount(self) -> None:
        """Redraw in the new theme's colours when the theme changes."""
        self.app.theme_changed_signal.subscribe(self, lambda _: self.refresh())

    def show(self, history: History) -> None:
        """Draw a history."""
        self.history = history
        self.refresh()

    def _colour(self, name: str) -> Color:
        value = self.app.theme_variables.get(name, "")
        try:
            return Color.parse(value) if value else Color(*FALLBACK[name])
        except ColorParseError:
            return Color(*FALLBACK[name])

    def render(self) -> Text:
        """The chart at the widget's size."""
        width, height = self.content_size
        return Text("\n").join(self.lines(width, height))

    def lines(self, width: int, height: int) -> list[Text]:
        """The chart as `height` lines of `width` cells: a y axis with whole-number ticks,
        the bars, a baseline and minute labels ("-59m" ... "now")."""
        history = self.history
        if history is None or width < 12 or height < 4:
            return [Text("")] * max(0, height)
        completed, failed = list(history.completed), list(history.failed)
        n = len(completed)
        ticks = y_ticks(max((c + f for c, f in zip(completed, failed, strict=True)), default=0))
        top = ticks[-1]
        axis = len(f"{top:.0f}") + 1
        plot_w, plot_h = width - axis, height - 2
        ok, bad = self._colour("success"), self._colour("error")
        ok_style, bad_style = Style(color=ok.rich_color), Style(color=bad.rich_color)
        mixed = Style(color=ok.rich_color, bgcolor=bad.rich_color)
        muted = Style(dim=True)
        # Each minute's bar starts at its slot; every bar is as wide as the narrowest slot
        # allows with a gap after it (one column when the slots are under two wide).
        edges = [round(i * plot_w / n) for i in range(n + 1)]
        slot = plot_w // n
        bar = max(1, slot - 1 if slot >= 2 else 1)
        columns: list[int | None] = [None] * plot_w
        for i in range(n):
            for x in range(edges[i], min(edges[i] + bar, edges[i + 1])):
                columns[x] = i

        def eighths(count: int) -> int:
            if count <= 0:
                return 0
            return max(1, round(count / top * plot_h * 8))  # a job finished: never invisible

        low = [eighths(c) for c in completed]
        high = [
            eighths(c + f) if f else low[i]
            for i, (c, f) in enumerate(zip(completed, failed, strict=True))
        ]
        tick_rows = {round(t / top * plot_h): f"{t:.0f}" for t in ticks}
        out: list[Text] = []
        for row in range(plot_h, 0, -1):  # top row first; row r covers eighths (r-1)*8..r*8
            label = tick_rows.get(row, "")
            line = Text(label.rjust(axis - 1), style=muted)
            line.append("┤" if label else "│", style=muted)
            base = (row - 1) * 8
            for bucket in columns:
                if bucket is None:
                    line.append(" ")
                    continue
                filled = min(8, max(0, high[bucket] - base))
                if filled == 0:
                    line.append(" ")
                elif base + 8 <= low[bucket] or low[bucket] >= high[bucket]:
                    line.append(EIGHTHS[filled], style=ok_style)
                elif base >= low[bucket]:
                    line.append(EIGHTHS[filled], style=bad_style)
                else:  # completed up to part of this cell, failed above it
                    line.append(EIGHTHS[low[bucket] - base], style=mixed)
            out.append(line)
        baseline = Text("0".rjust(axis - 1) + "┴", style=muted)
        baseline.append("─" * plot_w, style=muted)
        out.append(baseline)
        labels = [" "] * plot_w
        positions, names = minute_labels(n)
        for pos, name in zip(positions, names, strict=True):
            at = edges[int(pos)]
            at = min(at, plot_w - len(name)) if name == "now" else at
            if name == "now":
                at = max(0, edges[n] - len(name))
            if at + len(name) <= plot_w and all(c == " " for c in labels[at : at + len(name)]):
                labels[at : at + len(name)] = list(name)
        out.append(Text(" " * axis + "".join(labels), style=muted))
        return out
