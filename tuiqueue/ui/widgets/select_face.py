"""A closed Select drawn by one widget, until its screen builds the real one (after a frame)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.content import Content
from textual.visual import VisualType
from textual.widget import Widget
from textual.widgets import Select

ARROW = "▼"
"""What a closed Select shows at its right end."""

DIM = "$foreground 50%"
"""The arrow's colour, and the placeholder's (Textual's SelectCurrent rules; a style, not
component classes: each of those is one more node to style)."""


class SelectFace(Widget, can_focus=False):
    """What a closed Select looks like (its label and arrow inside the same border), in one
    widget instead of Textual's six (the Select, its current value, three labels and the
    hidden list of options).

    The dashboard's first screen has four Selects, and building and styling them was about
    a tenth of its time to the first frame. Each is drawn as a face for that frame, then
    `replace` swaps in the real Select, built by `build`, in the face's place (its id, and so
    its CSS, is the Select's). A face cannot be focused or opened: for the few frames it is
    there, the keys go to the queue table.
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
        super().__init__(id=id, classes="-compact" if compact else "")
        self.label = label
        """The text the Select shows: its value's prompt, or its placeholder."""
        self.placeholder = placeholder
        """Whether the label is the placeholder (no value: drawn dimmer, as Select does)."""
        self.build = build
        """Makes the real Select (with the same id)."""

    def render(self) -> VisualType:
        """The label, padded to the arrow at the right end."""
        label = Content(self.label).truncate(max(0, self.content_size.width - 2), pad=True)
        if self.placeholder:
            label = label.stylize(DIM)
        return Content.assemble(label, " ", (ARROW, DIM))

    async def replace(self) -> Select[Any] | None:
        """Put the real Select where the face is (disabled if the face was); None when the
        face has left the screen meanwhile (the dashboard is closing: nothing to build)."""
        parent = self.parent
        if not isinstance(parent, Widget) or not self.is_attached or not parent.is_attached:
            return None
        select = self.build()
        select.disabled = self.disabled
        index = parent.children.index(self)
        await self.remove()
        if not parent.is_attached:  # (removed while this face was)
            return None
        await parent.mount(select, before=index if index < len(parent.children) else None)
        return select
