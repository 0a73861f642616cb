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
        self._cache: tuple[object, tuple[list[Strip], Strip]] | None = None

    def _heights(self, width: int) -> list[int]:
        rules = cast(RulesMap, self.styles)  # (as OptionList passes its styles)
        return [visual.get_height(rules, width) for visual in self.visuals]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """Every option's lines at this width, as OptionList counts them (its max-height
        cuts it)."""
        return sum(self._heights(width))

    def render_line(self, y: int) -> Strip:
        """Line y of the options (see _lines)."""
        strips, blank = self._lines()
        return strips[y] if y < len(strips) else blank

    def _lines(self) -> tuple[list[Strip], Strip]:
        """Every line of every option, narrower by the scroll bar's room when they overflow
        (and the blank line under them), made once per size and style."""
        width, height = self.content_size
        plain = self.get_visual_style("option-list--option")
        lit = self.get_visual_style("option-list--option", "option-list--option-highlighted")
        key = (width, height, plain, lit, self.rich_style)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        gutter = self.styles.scrollbar_size_vertical
        if sum(self._heights(width)) > height:
            width = max(0, width - gutter)
        else:
            gutter = 0
        bar = Strip.blank(gutter, self.rich_style)
        strips: list[Strip] = []
        for index, visual in enumerate(self.visuals):
            style = lit if index == 0 else plain
            for strip in Visual.to_strips(self, visual, width, None, style):
                strips.append(Strip.join([strip.extend_cell_length(width, style.rich_style), bar]))
        lines = (strips, Strip.blank(width + gutter, plain.rich_style))
        self._cache = (key, lines)
        return lines
