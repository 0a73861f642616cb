"""A stand-in drawn by one plain widget for the first frame, until the real one is built."""

from __future__ import annotations

from collections.abc import Callable

from textual.widget import Widget


class Face(Widget, can_focus=False):
    """What a widget looks like before it is used, drawn without building it.

    Textual's cost to the dashboard's first frame is per widget (and, the first time a class
    mounts, the parse of its CSS): the Selects, Buttons and the text filter on the main screen
    are drawn as faces for that frame, then `replace` swaps in the real widget, made by
    `build`, in the face's place (its id, and so its CSS, is the real widget's). A face cannot
    be focused or used: for the few frames it is there, the keys go to the queue table.
    """

    def __init__(
        self, build: Callable[[], Widget], *, id: str | None = None, classes: str = ""
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.build = build
        """Makes the real widget (with the same id)."""

    async def replace(self) -> Widget | None:
        """Put the real widget where the face is (disabled if the face was); None when the
        face has left the screen meanwhile (the dashboard is closing: nothing to build)."""
        parent = self.parent
        if not isinstance(parent, Widget) or not self.is_attached or not parent.is_attached:
            return None
        widget = self.build()
        widget.disabled = self.disabled
        index = parent.children.index(self)
        await self.remove()
        if not parent.is_attached:  # (removed while this face was)
            return None
        await parent.mount(widget, before=index if index < len(parent.children) else None)
        return widget
