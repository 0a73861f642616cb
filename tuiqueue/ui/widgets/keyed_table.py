"""A DataTable for rows that change often: cells render once per content, rows move in bulk."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import chain
from typing import Any, NamedTuple

from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text, TextType
from textual._segment_tools import line_crop
from textual._two_way_dict import TwoWayDict
from textual._types import SegmentLines
from textual.cache import LRUCache
from textual.coordinate import Coordinate
from textual.geometry import Region, Size
from textual.renderables.styled import Styled
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import DataTable
from textual.widgets._data_table import default_cell_formatter
from textual.widgets.data_table import CellKey, ColumnKey, DuplicateKey, Row, RowKey

_EMPTY = Text(no_wrap=True, end="")

CELL_CACHE = 2000
"""Rendered cells kept by content: a few screens of rows, whatever moved or changed."""

PLACED_CACHE = 1000
"""Rendered cells kept with their position (the row and column the mouse needs)."""

LINE_CACHE = 256
"""Rendered rows and lines DataTable keeps (it keeps 1,000 of each): its entries only hold
until the next change anywhere in the table, and every one is garbage the collector has to
walk, so a few screens' worth is plenty."""

SHARED_CELLS = 2000
"""Distinct cell texts remembered so that equal cells are one object (see shared())."""

_CellKey = tuple[int, Style, Style, int, int]


class _Paint(NamedTuple):
    """What the rows of one paint share."""

    style: Style
    width: int
    keys: list[ColumnKey]
    widths: list[int]
    padding: int
    show_cursor: bool
    show_hover: bool
    fg_css: bool
    bg_css: bool
    cursor: Coordinate
    hover: Coordinate


class KeyedTable(DataTable[Any]):
    """A DataTable of one-line rows whose cells are replaced, never mutated.

    DataTable keys every render cache on a counter bumped by any change anywhere (a row
    added off screen, a sort), so after each change it renders every visible cell again
    through Rich. Here a cell's lines are cached by the cell object itself and the styles
    around it: after a batch only the cells that really changed are rendered; a cell that
    merely moved gets its new position stamped on its cached lines.

    The bulk row operations and the cache use DataTable internals (textual is pinned).
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._row_render_cache.maxsize = self._line_cache.maxsize = LINE_CACHE
        self._cell_lines: LRUCache[_CellKey, tuple[object, list[Segment]]] = LRUCache(
            CELL_CACHE)
        self._placed_lines: LRUCache[tuple[_CellKey, int, int], tuple[object, list[Segment]]]
        self._placed_lines = LRUCache(PLACED_CACHE)
        self._shared: LRUCache[tuple[object, ...], Text] = LRUCache(SHARED_CELLS)
        self._paint: _Paint | None = None
        """Set while painting."""

    def shared(self, cell: Text) -> Text:
        """An equal Text already handed out, else this one.

        Rows show the same few texts over and over (a type, a status, "100%"): as one
        object they are rendered once for the whole table. Cells are never mutated.
        """
        key = (cell.plain, cell.style, cell.justify, cell.overflow, cell.no_wrap,
               tuple(cell.spans))
        known = self._shared.get(key)
        if known is None:
            self._shared[key] = known = cell
        return known

    def render_lines(self, crop: Region) -> list[Strip]:
        """Paint, working out once per paint what DataTable works out once per line."""
        columns = self.ordered_columns
        self._paint = _Paint(
            super().rich_style, self.size.width, [c.key for c in columns],
            [c.get_render_width(self) for c in columns], self.cell_padding, self.show_cursor,
            self._show_hover_cursor, self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css", self.cursor_coordinate,
            self.hover_coordinate)
        try:
            return super().render_lines(crop)
        finally:
            self._paint = None

    @property
    def rich_style(self) -> Style:
        """The widget's style (walks every ancestor, so only once per paint)."""
        return self._paint.style if self._paint is not None else super().rich_style

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        """Line y of the table, cropped to x1..x2, as DataTable renders it, but cheaper.

        Every cell's line is exactly its column's width (Rich pads and crops it) and is
        simplified when cached, so the line's length is known and there is nothing left
        to merge: DataTable measures and simplifies every line again.
        """
        paint = self._paint
        if paint is None or self.fixed_columns:
            return super()._render_line(y, x1, x2, base_style)
        width = paint.width
        try:
            row_key, line_no = self._get_offsets(y)
        except LookupError:
            return Strip.blank(width, base_style)
        cursor, hover = paint.cursor, paint.hover
        cache_key = (y, x1, x2, width, cursor, hover, base_style, self.cursor_type,
                     paint.show_hover, self._update_count, self._pseudo_class_state)
        strip = self._line_cache.get(cache_key)
        if strip is not None:
            return strip
        fixed, scrollable = self._render_line_in_row(row_key, line_no, base_style, cursor,
                                                     hover)
        if fixed:
            return super()._render_line(y, x1, x2, base_style)
        total = max(width, sum(paint.widths))
        segments = line_crop(list(chain.from_iterable(scrollable)), x1, x2, total)
        if min(x2, total) - x1 == width:
            strip = Strip(segments, width)
        else:
            strip = Strip(segments).adjust_cell_length(width, base_style).simplify()
        self._line_cache[cache_key] = strip
        return strip

    def _render_line_in_row(self, row_key: RowKey, line_no: int, base_style: Style,
                            cursor_location: Coordinate, hover_location: Coordinate
                            ) -> tuple[SegmentLines, SegmentLines]:
        """A row (or the header) under a row cursor, as DataTable renders it, but cheaper.

        DataTable reads a dozen reactives per cell and merges the header's stylesheets
        for every row it paints; here they are read once per paint, and each cell's line
        comes from the cell caches.
        """
        paint = self._paint
        header = row_key is self._header_row_key
        row_index = -1 if header else self._row_locations.get(row_key)
        if (paint is None or row_index is None or line_no != 0 or self.cursor_type != "row"
                or self.fixed_columns or self.fixed_rows or (header and self.header_height != 1)
                or (self._labelled_row_exists and self.show_row_labels)):
            return super()._render_line_in_row(row_key, line_no, base_style, cursor_location,
                                               hover_location)
        cache_key = (row_key, line_no, base_style, cursor_location, hover_location,
                     self.cursor_type, paint.show_cursor, paint.show_hover,
                     self._update_count, self._pseudo_class_state)
        cached = self._row_render_cache.get(cache_key)
        if cached is not None:
            return cached
        row_style = self._get_row_style(row_index, base_style)
        cursor = cursor_location.row == row_index
        hover = hover_location.row == row_index
        component_style, post_style = self._get_styles_to_render_cell(
            header, False, False, hover, cursor, paint.show_cursor, paint.show_hover,
            paint.fg_css, paint.bg_css)
        pre_style = row_style + component_style
        cells = ([self.columns[key].label for key in paint.keys] if header
                 else [self._data[row_key].get(key) for key in paint.keys])
        scrollable = [
            self._cell_line(cell, row_index, index, pre_style, post_style, width, paint.padding)
            for index, (cell, width) in enumerate(zip(cells, paint.widths, strict=True))
        ]
        # The row's style extends to the widget's right edge.
        remaining = max(0, paint.width - sum(paint.widths))
        extend_style, _ = self._get_styles_to_render_cell(
            header, False, False, hover, cursor, paint.show_cursor, paint.show_hover,
            False, False)
        extend_style = row_style + extend_style + Style.from_meta(
            {"row": row_index, "column": 0, "out_of_bounds": True})
        scrollable.append([Segment(" " * remaining, extend_style)])
        row_pair: tuple[SegmentLines, SegmentLines] = ([], scrollable)
        self._row_render_cache[cache_key] = row_pair
        return row_pair

    def _cell_line(self, cell: object, row_index: int, column_index: int, pre_style: Style,
                   post_style: Style, width: int, padding: int) -> list[Segment]:
        """A cell's one line: from the cache when this object was rendered before."""
        # The entry holds the cell, so its id is not reused while the entry lives.
        key = (id(cell), pre_style, post_style, width, padding)
        placed = self._placed_lines.get((key, row_index, column_index))
        if placed is not None and placed[0] is cell:
            return placed[1]
        rendered = self._cell_lines.get(key)
        if rendered is None or rendered[0] is not cell:
            renderable = _EMPTY if cell is None else (
                default_cell_formatter(cell, wrap=False, height=1) or _EMPTY)
            options = self.app.console_options.update_dimensions(width, 1).update(
                no_wrap=True)
            lines = self.app.console.render_lines(
                Styled(Padding(renderable, (0, padding)), pre_style=pre_style,
                       post_style=post_style), options)
            rendered = (cell, list(Segment.simplify(lines[0])))
            self._cell_lines[key] = rendered
        # DataTable puts the cell's position in its style: a click or hover finds it there.
        meta = Style.from_meta({"row": row_index, "column": column_index})
        line = [Segment(text, None if control else meta + style if style else meta, control)
                for text, style, control in rendered[1]]
        self._placed_lines[key, row_index, column_index] = (cell, line)
        return line

    def notify_style_update(self) -> None:
        """Theme or CSS changed: every cached cell is stale."""
        super().notify_style_update()
        self._cell_lines.clear()
        self._placed_lines.clear()

    # -- one line per row --------------------------------------------------------------

    def add_row(self, *cells: Any, height: int | None = 1, key: str | None = None,
                label: TextType | None = None) -> RowKey:
        """Add a row; rows here are always one line high (see _get_offsets)."""
        if height != 1:
            raise ValueError(f"{type(self).__name__} rows are one line high")
        return super().add_row(*cells, height=height, key=key, label=label)

    def _get_offsets(self, y: int) -> tuple[RowKey, int]:
        """The row on line y: with one line per row, no table of every row's lines."""
        if self.show_header:
            if y < self.header_height:
                return self._header_row_key, y
            y -= self.header_height
        key = self._row_locations.get_key(y) if y >= 0 else None
        if key is None:
            raise LookupError(f"Y coord {y!r} is greater than total height")
        return key, 0

    @property
    def _total_row_height(self) -> int:
        return self.row_count

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """The scrollable size, without a layout of the screen when only the height changed.

        A virtual size is a layout reactive, so DataTable's new row count re-lays out every
        widget on the screen; the table's own size does not depend on it, and its scrollbars
        ask for a layout themselves if they appear or go.
        """
        new = list(new_rows)
        size = Size(sum(column.get_render_width(self) for column in self.columns.values())
                    + self._row_label_column_width,
                    self._total_row_height + (self.header_height if self.show_header else 0))
        if new or size.width != self.virtual_size.width:
            super()._update_dimensions(new)
        elif size != self.virtual_size:
            self.set_reactive(Widget.virtual_size, size)
            self._scroll_update(size)
            self.refresh()

    # -- rows in bulk -------------------------------------------------------------------

    def change_rows(self, drop: Iterable[str] = (),
                    add: Iterable[tuple[str, Sequence[object]]] = (),
                    order: Callable[[str], Any] | None = None, reverse: bool = False) -> None:
        """Drop rows, append rows (key, cells) and, given an order, sort them: in one pass.

        DataTable's remove_row renumbers every row on each call, and add_row and sort each
        go over the cursor and the caches again: k changes to n rows cost k*n there, seconds
        for a burst of finished jobs. `order` maps a row's key to what it sorts by. The new
        cells are not measured: every column has a fixed width.
        """
        data, rows = self._data, self.rows
        before = len(rows)
        dropped = False
        for key in drop:
            row_key = RowKey(key)
            if row_key not in rows:
                continue
            for column in data.pop(row_key):
                self._updated_cells.discard(CellKey(row_key, column))
            del rows[row_key]
            self._new_rows.discard(row_key)
            dropped = True
        columns = [column.key for column in self.ordered_columns]
        added: list[RowKey] = []
        for key, cells in add:
            row_key = RowKey(key)
            if row_key in rows:
                raise DuplicateKey(f"The row key {row_key!r} already exists.")
            data[row_key] = dict(zip(columns, cells, strict=True))
            rows[row_key] = Row(row_key, 1, None, False)
            added.append(row_key)
        old = self._row_locations
        if order is not None:
            ordered = sorted(data, key=lambda row_key: order(str(row_key.value)),
                             reverse=reverse)
            if not dropped and not added and all(
                    old.get(k) == i for i, k in enumerate(ordered)):
                return  # nothing moved
        elif dropped or added:
            ordered = [k for k in map(old.get_key, range(len(old))) if k in rows] + added
        else:
            return
        self._row_locations = TwoWayDict({k: i for i, k in enumerate(ordered)})
        if len(rows) != before:
            self._require_update_dimensions = True
        self.cursor_coordinate = self.cursor_coordinate
        self.hover_coordinate = self.hover_coordinate
        if (not before and rows and self.columns and self.show_cursor
                and self.cursor_type != "none"):
            self._highlight_cursor()  # a cell for the cursor exists now
        self._update_count += 1
        self.refresh()
        self.check_idle()
