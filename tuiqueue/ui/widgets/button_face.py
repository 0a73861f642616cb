"""A Button drawn by one plain widget, until its screen builds the real one (after a frame)."""

from __future__ import annotations

from collections.abc import Callable

from textual.content import Content
from textual.geometry import Size
from textual.visual import VisualType
from textual.widgets import Button

from tuiqueue.ui.widgets.face import Face


class ButtonFace(Face):
    """What a Button looks like at rest (label, variant, compact, disabled), without
    mounting a Button: the first Button to mount parses Button's CSS, the longest of
    Textual's widgets (about 5 ms; see Face). Its rules are Textual's, in the .tcss."""

    def __init__(
        self,
        label: str,
        build: Callable[[], Button],
        *,
        primary: bool = False,
        compact: bool = False,
        id: str | None = None,
    ) -> None:
        classes = " ".join(c for c, on in (("-primary", primary), ("-compact", compact)) if on)
        super().__init__(build, id=id, classes=classes)
        self.label = Content(label)
        """The button's text (plain: no markup)."""

    def get_content_width(self, container: Size, viewport: Size) -> int:
        """The label and a cell either side (Button's `line-pad`), as Button measures."""
        return self.label.cell_length + 2

    def render(self) -> VisualType:
        """The label (centred by the .tcss)."""
        return self.label
