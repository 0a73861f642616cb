"""The job types list as its first frame shows it, drawn by one plain widget (see Face)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, cast

from textual.css.styles import RulesMap
from textual.geometry import Size
from textual.strip import Strip
from textual.visual import Visual, visualize

from tuiqueue.core.registry import JobType
from tuiqueue.ui.widgets.face import Face
from tuiqueue.ui.widgets.type_list import TypeList, prompt


class TypeListFace(Face):
    """The type list unfocused, the first type highlighted, before its scroll bar is drawn
    (Textual paints an OptionList's scroll bar from its second frame): each option drawn
    as OptionList draws it, through the same public Visual calls and component classes,
    without an OptionList (a scrolling widget with two scroll bars, and the first one to
    mount parses OptionList's CSS)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "option-list--option",
        "option-list--option-highlighted",
    }
    """OptionList's, for a plain and the highlighted option (their rules in the .tcss)."""

    def __init__(
        self, types: list[JobType], build: Callable[[], TypeList], *, id: str | None = None
    ) -> None:
        super().__init__(build, id=id)
        self.visuals: list[Visual] = [visualize(self, prompt(t)) for t in types]
        """Each type's prompt, as the list shows it."""

    def _heights(self, width: int) -> list[int]:
        rules = cast(RulesMap, self.styles)  # (as OptionList passes its styles)
        return [visual.get_height(rules, width) for visual in self.visuals]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """Every option's lines at this width, as OptionList counts them (its max-height
        cuts it)."""
        return sum(self._heights(width))

    def render_line(self, y: int) -> Strip:
        """Line y of the options; narrower by the scroll bar's room when they overflow."""
        width, height = self.content_size
        gutter = self.styles.scrollbar_size_vertical
        if sum(self._heights(width)) > height:
            width = max(0, width - gutter)
        else:
            gutter = 0
        blank = self.get_visual_style("option-list--option").rich_style
        line = y
        for index, rows in enumerate(self._heights(width)):
            if line < rows:
                classes = ["option-list--option"]
                if index == 0:
                    classes.append("option-list--option-highlighted")
                style = self.get_visual_style(*classes)
                strips = Visual.to_strips(self, self.visuals[index], width, None, style)
                strip = strips[line].extend_cell_length(width, style.rich_style)
                return Strip.join([strip, Strip.blank(gutter, self.rich_style)])
            line -= rows
        return Strip.blank(width + gutter, blank)
