"""The Stats view's chart: jobs completed and failed per minute, as stacked bars (plotext)."""

from __future__ import annotations

import math
from typing import Any, cast

from textual.color import Color, ColorParseError
from textual_plotext import PlotextPlot

from tuiqueue.core.history import History

FALLBACK = {"success": (78, 191, 113), "error": (186, 60, 91)}
"""Bar colours when the theme does not define its own (RGB)."""


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


class FinishedChart(PlotextPlot):
    """Completed (success colour) and failed (error colour) jobs per minute of a history,
    the newest minute on the right; it follows the theme."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.history: History | None = None

    def on_mount(self) -> None:
        """Redraw in the new theme's colours when the theme changes."""
        self.app.theme_changed_signal.subscribe(self, lambda _: self._draw())

    def show(self, history: History) -> None:
        """Draw a history."""
        self.history = history
        self._draw()

    def _colour(self, name: str) -> tuple[int, int, int]:
        value = self.app.theme_variables.get(name, "")
        try:
            return Color.parse(value).rgb if value else FALLBACK[name]
        except ColorParseError:
            return FALLBACK[name]

    def _draw(self) -> None:
        history = self.history
        if history is None:
            return
        plt = self.plt
        plt.clear_figure()
        xs: list[float] = [float(x) for x in range(len(history.completed))]
        plt.stacked_bar(
            xs,
            [list(history.completed), list(history.failed)],
            # One colour per stacked series (the stub types a single colour).
            color=cast(Any, [self._colour("success"), self._colour("error")]),
            width=0.8,
            minimum=0,
        )
        stacked = zip(history.completed, history.failed, strict=True)
        ticks = y_ticks(max((c + f for c, f in stacked), default=0))
        plt.yticks(ticks, [f"{t:.0f}" for t in ticks])
        plt.ylim(0, ticks[-1])
        positions, labels = minute_labels(len(xs))
        plt.xticks(positions, labels)
        plt.xlim(-0.5, len(xs) - 0.5)
        self.refresh()
