"""A closed Select drawn by one widget, until its screen builds the real one (after a frame)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.content import Content
from textual.visual import VisualType
from textual.widgets import Select

from tuiqueue.ui.widgets.face import Face

ARROW = "▼"
"""What a closed Select shows at its right end."""

DIM = "$foreground 50%"
"""The arrow's colour, and the placeholder's (Textual's SelectCurrent rules; a style, not
component classes: each of those is one more node to style)."""


class SelectFace(Face):
    """What a closed Select looks like (its label and arrow inside the same border), in one
    widget instead of Textual's six (the Select, its current value, three labels and the
    hidden list of options).

    The dashboard's first screen has four Selects, and building and styling them was about
    a tenth of its time to the first frame (see Face).
    """

    def __init__(
        self,
        label: str,
        build: Callable[[], Select[Any]],
        *,
        placeholder: bool = False,
        compact: bool = False,
        id: str | None = None,
    ) -> None:
        super().__init__(build, id=id, classes="-compact" if compact else "")
        self.label = label
        """The text the Select shows: its value's prompt, or its placeholder."""
        self.placeholder = placeholder
        """Whether the label is the placeholder (no value: drawn dimmer, as Select does)."""

    def render(self) -> VisualType:
        """The label, padded to the arrow at the right end."""
        label = Content(self.label).truncate(max(0, self.content_size.width - 2), pad=True)
        if self.placeholder:
            label = label.stylize(DIM)
        return Content.assemble(label, " ", (ARROW, DIM))
