"""An empty, unfocused Input drawn by one plain widget, until its screen builds the real one."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.content import Content
from textual.visual import VisualType
from textual.widgets import Input

from tuiqueue.ui.widgets.face import Face


class InputFace(Face):
    """What an empty Input shows when it does not have the focus: its placeholder, in the
    same border (see Face: an Input is a scrolling widget with a cursor timer, and the first
    one parses Input's CSS)."""

    def __init__(self, placeholder: str, build: Callable[[], Input], *, id: str | None = None):
        super().__init__(build, id=id)
        self.placeholder = placeholder
        """The Input's placeholder."""

    def render(self) -> VisualType:
        """The placeholder's first line as Input draws it: wrapped at words to one cell more
        than the width (the cursor's), then cut at the edge. Its colour (Textual's
        `input--placeholder` rule) is the face's, in the .tcss."""
        width = self.content_size.width
        if not width:
            return Content("")
        lines = Text(self.placeholder).wrap(self.app.console, width + 1)
        return Content(lines[0].plain if lines else "")
