"""A DataTable whose rows are keyed by a resource id: diff updates, keyed sorting, fitted columns.

Textual's DataTable (8.2.8) keeps the cursor *index* across ``sort()`` and has no insert-at-position,
``clear()`` loses the cursor and ``remove_row`` is O(n) (docs/architecture.md, "Why the table is
custom"). So this table, through the private DataTable state that ``textual_private`` opens:

* keeps the displayed order itself (a list of ids, always sorted by the current column): new
  rows are merged into it in one O(rows) pass, a sort is one ``sorted()`` on precomputed keys,
  and DataTable's index map and order caches are rebuilt once from it (DataTable's own
  ``sort()`` and cache rebuilds are the baseline of benchmark rows 9-12);
* shows the top of a new order: after a sort the cursor is on the first row and the view at
  the top (what a k9s or htop user expects: the sorted extreme, not the row selected before);
* keeps the view still when rows arrive (polls): the cursor stays on its row, and when rows
  land above the viewport it scrolls by as many rows so what the reader was looking at does
  not move (at the very top, new rows simply appear above);
* removes many rows in one pass instead of one O(n) ``remove_row`` each;
* gives every column a fixed width computed from the table's width (one "flex" column takes
  the rest), so nothing depends on measuring every cell and the layout fits 80 columns.

Subclasses say how to sort (:meth:`sort_value`, or :meth:`sort_key` for a whole column) and
which columns exist (:attr:`SPECS`).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import zip_longest
from typing import Any, ClassVar, overload

from rich.segment import Segment
from rich.style import Style
from rich.text import DEFAULT_JUSTIFY, DEFAULT_OVERFLOW, Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, DuplicateKey, Row, RowKey

from botmon_tui.ui.textual_private import DataTableInternals, SegmentLines, TwoWayDict
from botmon_tui.ui.widgets.cells import AgeCell, TextCell

__all__ = ["EPOCH", "ColumnSpec", "KeyedTable"]

#: Cell renders cached for repaints (about ten screens of a 120x40 table).
CELL_RENDER_CACHE = 2000
#: The sort value of a missing time (sorts before every real one).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ColumnSpec:
    key: str
    label: str
    #: Width (cells) by table width: the first ``(min_table_width, width)`` that fits wins.
    widths: tuple[tuple[int, int], ...] = ((0, 10),)
    #: The flex column takes what the others leave (at least ``min_width``).
    flex: bool = False
    min_width: int = 8
    #: First press sorts descending (newest, worst first) instead of ascending.
    descending_first: bool = False
    #: Key used to sort by this column (1-based position on the keyboard).
    number: int = 0

    def width_for(self, table_width: int) -> int:
        chosen = self.widths[0][1]
        for threshold, width in self.widths:
            if table_width >= threshold:
                chosen = width
        return chosen


class RowIndex(TwoWayDict[RowKey, int]):
    """DataTable's row index map (key <-> position), changed at its ends without a rebuild.

    New runs go on top and the oldest leave at the bottom, or a page of older runs goes at the
    bottom: positions are kept relative to a movable base, so such a change costs what it adds
    or removes, not the 10,000 rows it shifts. Anything else rebuilds it.
    """

    def __init__(self, keys: list[RowKey]) -> None:
        self.keys = keys
        self.base = 0
        self.position: dict[RowKey, int] = dict(zip(keys, range(len(keys)), strict=True))

    def changed_at_ends(self, head: list[RowKey], tail: list[RowKey], cut: int) -> list[RowKey]:
        """Remove ``cut`` keys from the bottom, put ``head`` on top and ``tail`` below; the new keys."""
        position = self.position
        if cut:
            for key in self.keys[-cut:]:
                del position[key]
            self.keys = self.keys[:-cut]
        if head:
            self.base -= len(head)
            position.update(zip(head, range(self.base, self.base + len(head)), strict=True))
        if tail:
            start = self.base + len(self.keys) + len(head)
            position.update(zip(tail, range(start, start + len(tail)), strict=True))
        self.keys = [*head, *self.keys, *tail]
        return self.keys

    def __setitem__(self, key: RowKey, value: int) -> None:  # not used by the table (no add_row)
        keys = [*self.keys]
        keys.insert(value, key)
        self.__init__(keys)  # type: ignore[misc]

    def __delitem__(self, key: RowKey) -> None:  # not used by the table (no remove_row)
        self.__init__([k for k in self.keys if k != key])  # type: ignore[misc]

    def __iter__(self) -> Iterator[RowKey]:
        return iter(self.keys)

    def get(self, key: RowKey) -> int | None:
        position = self.position.get(key)
        return None if position is None else position - self.base

    def get_key(self, value: int) -> RowKey | None:
        return self.keys[value] if 0 <= value < len(self.keys) else None

    def contains_value(self, value: int) -> bool:
        return 0 <= value < len(self.keys)

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, item: object) -> bool:
        return item in self.position


class LineOffsets(Sequence[tuple[RowKey, int]]):
    """DataTable's line offsets (line → (row key, line in row)) for rows one line high, read from
    the row order itself: no list of 10,000 tuples to build, or for the collector to walk."""

    def __init__(self, keys: list[RowKey]) -> None:
        self.keys = keys

    @overload
    def __getitem__(self, index: int) -> tuple[RowKey, int]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[RowKey, int]]: ...

    def __getitem__(self, index: int | slice) -> tuple[RowKey, int] | list[tuple[RowKey, int]]:
        if isinstance(index, slice):
            return [(key, 0) for key in self.keys[index]]
        return (self.keys[index], 0)

    def __len__(self) -> int:
        return len(self.keys)

    def clear(self) -> None:  # (DataTable.clear(), unused here)
        self.keys = []


class KeyedTable(DataTableInternals):
    """Rows keyed by id; see the module docstring."""

    SPECS: ClassVar[tuple[ColumnSpec, ...]] = ()
    DEFAULT_SORT: ClassVar[tuple[str, bool]] = ("id", False)

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "scroll_top", "Top", show=False, id="table.top"),
        Binding("end", "scroll_bottom", "Bottom", show=False, id="table.bottom"),
        Binding("g", "scroll_top", "Top", show=False, id="table.top_vi"),
        Binding("G", "scroll_bottom", "Bottom", show=False, id="table.bottom_vi"),
        Binding("j", "cursor_down", "Down", show=False, id="table.down_vi"),
        Binding("k", "cursor_up", "Up", show=False, id="table.up_vi"),
    ]

    class SortChanged(Message):
        """The sort column or direction changed (for status lines and tests)."""

        def __init__(self, table: KeyedTable, column: str, reverse: bool) -> None:
            super().__init__()
            self.table = table
            self.column = column
            self.reverse = reverse

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(
            id=id,
            classes=classes,
            cursor_type="row",
            zebra_stripes=False,
            cursor_foreground_priority="css",
        )
        self.sort_column, self.sort_reverse = self.DEFAULT_SORT
        self._layout_width = -1
        #: Row ids top to bottom, always sorted by the current sort (the table's own index map
        #: is rebuilt from it in one pass).
        self._order: list[str] = []
        self._row_keys: dict[str, RowKey] = {}
        #: Rows hidden by a filter, kept as they were: id → (key, row, cells).
        self._stash: dict[str, tuple[RowKey, Row, dict[ColumnKey, Any]]] = {}
        #: The displayed rows, as DataTable's order cache wants them.
        self._ordered_rows: list[Row] = []
        # Rendered cells kept for repaints: a few screens' worth (DataTable keeps 10,000).
        self.cell_render_cache = LRUCache(CELL_RENDER_CACHE)
        #: Renders of one-line cells by row, position and width (see ``render_cell_lines``).
        self._line_cells: LRUCache[tuple[Any, ...], SegmentLines] = LRUCache(CELL_RENDER_CACHE)

    # ------------------------------------------------------------------ columns

    def on_mount(self) -> None:
        for spec in self.SPECS:
            self.add_column(Text(spec.label), key=spec.key, width=spec.width_for(80))
        self._relabel()

    def on_resize(self, event: events.Resize) -> None:
        # (DataTable's own ``_on_resize`` runs too: Textual calls the handler of every class.)
        self.fit_columns()
        if self.row_count:
            # A smaller terminal (or pane) must not leave the selected row out of sight.
            self.call_after_refresh(self.move_cursor, row=self.cursor_row, animate=False)

    def fit_columns(self, width: int | None = None) -> None:
        """Give every column its width for the current table width (the flex column takes the rest)."""
        total = width if width is not None else self.size.width
        if total <= 0 or total == self._layout_width or not self.columns:
            return
        self._layout_width = total
        # Room for the vertical scrollbar, and the padding on both sides of every cell.
        usable = total - 2 - 2 * self.cell_padding * len(self.SPECS)
        fixed = {spec.key: spec.width_for(total) for spec in self.SPECS if not spec.flex}
        rest = usable - sum(fixed.values())
        for spec in self.SPECS:
            column = self.columns.get(ColumnKey(spec.key))
            if column is None:
                continue
            column.width = max(spec.min_width, rest) if spec.flex else fixed[spec.key]
            column.auto_width = False
        self.redimension()
        self._touch()
        self._relabel()

    def _touch(self) -> None:
        """Invalidate every cache keyed on the update counter (O(rows) to rebuild) and repaint."""
        self.invalidate_order()
        self.refresh()

    def _repaint(self) -> None:
        """Re-render the visible cells (ages, labels) without touching the row order caches.

        A new update count would make DataTable rebuild its row order and line offsets, O(rows)
        each; clearing the render caches costs only a repaint.
        """
        self.drop_row_renders()
        self.cell_render_cache.clear()
        self._line_cells.clear()
        self.refresh()

    def _relabel(self) -> None:
        for spec in self.SPECS:
            column = self.columns.get(ColumnKey(spec.key))
            if column is None:
                continue
            if spec.key == self.sort_column:
                arrow = "▼" if self.sort_reverse else "▲"
                label = spec.label
                if not column.auto_width and len(label) + 2 > column.width:
                    label = label[: max(1, column.width - 2)]  # the arrow must stay visible
                column.label = Text.assemble((label, "bold"), " ", (arrow, "bold"))
            else:
                column.label = Text(spec.label)
        self._repaint()

    def restyle(self) -> None:
        """The theme changed: cells styled from the palette are built again (see subclasses)."""
        self._repaint()

    def _repaint_column(self, key: str) -> None:
        """Re-render one column's visible cells (e.g. ages); other cells come from the cache."""
        column_key = ColumnKey(key)
        for cache in (self.cell_render_cache, self._line_cells):
            for cache_key in [k for k in cache.keys() if k[1] == column_key]:  # noqa: SIM118 (no __iter__)
                cache.discard(cache_key)
        self.drop_line_renders()
        self.refresh()

    def render_cell_lines(
        self, row_index: int, column_index: int, base_style: Style, width: int, cursor: bool, hover: bool
    ) -> SegmentLines | None:
        """A direct path for a one-line text cell (``None``: DataTable renders it).

        DataTable renders every cell through Rich's generic pipeline (``Padding`` in ``Styled`` in
        ``render_lines``), the largest part of repainting the rows a merge or a sort brings on
        screen (benchmark rows 7 and 9-12). For a one-line ``Text`` (all our cells) the same
        segments are built directly: the text truncated as ``Text.wrap`` does with ``no_wrap``,
        padded, then styled as ``Styled`` does.
        """
        row_key = self.row_index.get_key(row_index) if row_index >= 0 else None
        column_key = self.column_index.get_key(column_index) if column_index >= 0 else None
        if row_key is None or column_key is None:
            return None
        # Keyed on the row's position and the width, not on DataTable's update count: a row
        # that stays where it is (rows added below it, or above the screen) is not rendered again.
        # Changed cells are dropped from the cache where they change (``_update_cells``).
        cache_key = (
            row_key,
            column_key,
            row_index,
            width,
            base_style,
            cursor,
            hover,
            *self.cell_render_state,
        )
        cached = self._line_cells.get(cache_key)
        if cached is not None:
            return cached
        row = self.rows.get(row_key)
        text = None
        if row is not None and row.height == 1 and not row.auto_height:
            text = self._one_line_text(self.cell_for(row_key, row_index, column_index))
        if text is None:
            return None
        base_style += Style.from_meta({"row": row_index, "column": column_index})
        component_style, post_style = self.cell_styles(
            fixed=row_index < self.fixed_rows or column_index < self.fixed_columns, hover=hover, cursor=cursor
        )
        console = self.app.console
        pad = self.cell_padding
        inner = max(0, width - 2 * pad)
        # Text.__rich_console__ with no_wrap (a one-line row): the line truncated, its style made
        # a span (``join``), rendered, then padded to the width as ``render_lines`` does.
        line = text.copy()
        if "\t" in line.plain:
            line.expand_tabs((console.tab_size if text.tab_size is None else text.tab_size) or 8)
        overflow = text.overflow or self.app.console_options.overflow or DEFAULT_OVERFLOW
        line.truncate(inner, overflow=overflow)
        segments = list(Text("\n").join([line]).render(console))
        length = Segment.get_line_length(segments)
        null = Style.null()
        if length < inner:
            segments.append(Segment(" " * (inner - length), null))
        elif length > inner:
            return None
        if pad:
            segments = [Segment(" " * pad, null), *segments, Segment(" " * pad, null)]
        # Styled(pre_style=base + component, post_style=post), as Segment.apply_style does.
        pre = base_style + component_style
        styled = []
        for segment in segments:
            style = segment.style
            if pre:
                style = pre + style
            if post_style:
                style = style + post_style if style else post_style
            styled.append(Segment(segment.text, style))
        lines = [styled]
        self._line_cells[cache_key] = lines
        return lines

    def _one_line_text(self, cell: object) -> Text | None:
        """The ``Text`` a cell renders as, when it is one line that only needs truncating."""
        if isinstance(cell, TextCell):
            text: object = cell.as_text()
        elif isinstance(cell, AgeCell):
            text = next(iter(cell.__rich_console__(self.app.console, self.app.console_options)))
        else:
            text = cell
        if not isinstance(text, Text) or "\n" in text.plain:
            return None
        justify = text.justify or self.app.console_options.justify or DEFAULT_JUSTIFY
        return text if justify == "default" else None

    def visible_row_ids(self) -> list[str]:
        """Ids of the rows on screen (rows are one line high)."""
        if not self.row_count:
            return []
        top = round(self.scroll_y)
        bottom = min(self.row_count, top + max(1, self.size.height))
        ids = []
        for index in range(top, bottom):
            key = self.row_index.get_key(index)
            if key is not None and key.value is not None:
                ids.append(key.value)
        return ids

    def refresh_age_column(self, key: str) -> bool:
        """Repaint the ``key`` column of ``AgeCell`` cells if a visible label changed."""
        column_key = ColumnKey(key)
        for row_id in self.visible_row_ids():
            cell = self.cell_at(RowKey(row_id), column_key)
            shown = getattr(cell, "shown", None)
            label = getattr(cell, "label", None)
            if label is not None and shown is not None and label(cell) != shown:
                self._repaint_column(key)
                return True
        return False

    def column_spec(self, key: str) -> ColumnSpec:
        for spec in self.SPECS:
            if spec.key == key:
                return spec
        raise KeyError(key)

    # ------------------------------------------------------------------ reading

    @property
    def selected_id(self) -> str | None:
        if not self._order:
            return None
        row = self.cursor_row
        return self._order[row] if 0 <= row < len(self._order) else None

    def ids_in_order(self) -> list[str]:
        """Row ids top to bottom (as displayed)."""
        return list(self._order)

    def has_id(self, row_id: str) -> bool:
        """Whether the row is shown (not hidden by a filter)."""
        return row_id in self._row_keys

    def hidden_ids(self) -> list[str]:
        """Rows held but hidden (see ``apply_rows(hide=...)``)."""
        return list(self._stash)

    # ------------------------------------------------------------------ sorting

    def sort_value(self, row_id: str, column: str) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        """Sort by ``column``; ``reverse=None`` toggles when it is already the sort column."""
        spec = self.column_spec(column)
        if reverse is None:
            reverse = not self.sort_reverse if column == self.sort_column else spec.descending_first
        self.sort_column, self.sort_reverse = column, reverse
        self._relabel()
        if self._order:
            self._install_order(self._sorted(self._order))
        self.show_top()
        self.post_message(self.SortChanged(self, column, reverse))

    def show_top(self) -> None:
        """The cursor on the first row and the view at the top (after a sort or a filter)."""
        if self._order and self.cursor_row != 0:
            self.move_cursor(row=0, animate=False, scroll=False)
        if round(self.scroll_y) != 0:
            self.scroll_to(y=0, animate=False, immediate=True, force=True)

    def sort_by_number(self, number: int) -> None:
        for spec in self.SPECS:
            if spec.number == number:
                self.sort_by(spec.key)
                return

    def sort_key(self, column: str) -> Callable[[str], Any]:
        """The key that sorts row ids by ``column`` (from :meth:`sort_value` unless overridden)."""
        value = self.sort_value
        return lambda row_id: value(row_id, column)

    def _sort_key(self) -> Callable[[str], Any]:
        return self.sort_key(self.sort_column)

    def _sorted(self, ids: Iterable[str]) -> list[str]:
        return sorted(ids, key=self._sort_key(), reverse=self.sort_reverse)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        if event.column_key.value:
            self.sort_by(event.column_key.value)

    # ------------------------------------------------------------------ diff updates

    def apply_rows(
        self,
        upserts: Sequence[tuple[str, Sequence[Any]]] = (),
        removals: Iterable[str] = (),
        *,
        hide: Iterable[str] = (),
        show: Iterable[str] = (),
        moved: bool = False,
    ) -> None:
        """Add or update rows by id and remove rows by id; the cursor and the view stay put.

        ``hide``: rows set aside (a filter), not dropped; ``show``: hidden rows shown again, as
        they were (no cells or rows to build: clearing a filter over 10,000 rows stays quick).
        ``moved``: some updated rows may sort elsewhere now (their sort values changed).
        """
        selected = self.selected_id
        view = (self.cursor_row, round(self.scroll_y))
        was_empty = not self._order
        stash = self._stash
        removals = list(removals)
        for row_id in removals:
            stash.pop(row_id, None)
        gone = {r for r in removals if r in self._row_keys}
        hidden = {r for r in hide if r in self._row_keys} - gone
        order = self._order
        # The common changes touch only the ends (new runs on top, the oldest leaving at the
        # bottom, a page of older runs below): then the index is updated, not rebuilt.
        head: list[str] = []
        tail: list[str] = []
        cut = 0
        at_ends = not hidden and not moved
        if gone or hidden:
            self._drop(gone)
            self._set_aside(hidden)
            if at_ends and set(order[-len(gone) :]) == gone:
                cut = len(gone)
                order = order[:-cut]
            else:
                at_ends = False
                order = [r for r in order if r not in gone and r not in hidden]
        new: list[str] = []
        for row_id in show:
            if row_id in stash:
                self._bring_back(row_id)
                new.append(row_id)
        column_keys = [ColumnKey(spec.key) for spec in self.SPECS]
        updated: set[RowKey] = set()
        for row_id, cells in upserts:
            key = self._row_keys.get(row_id)
            if key is None and row_id in stash:
                self._bring_back(row_id)
                new.append(row_id)
                key = self._row_keys[row_id]
            if key is not None:
                self._update_cells(key, cells, column_keys)
                updated.add(key)
            else:
                self._insert(row_id, cells, column_keys)
                new.append(row_id)
        if updated:
            self._forget_renders(updated)
        if selected is not None and selected not in self._row_keys:
            selected = None  # its row went away: the cursor stays at the same place
        if moved or updated:
            # Updated rows may sort elsewhere now.
            at_ends = False
            order = self._sorted([*order, *new])
        elif new:
            # The shown order is sorted: new rows that all go below (older pages) or above (new
            # runs) are joined on; otherwise merged in, O(rows).
            sort_key, reverse = self._sort_key(), self.sort_reverse
            added = self._sorted(new)
            if not order or (sort_key(added[0]) > sort_key(order[-1])) != reverse:
                tail = added
                order = [*order, *added]
            elif (sort_key(added[-1]) < sort_key(order[0])) != reverse:
                head = added
                order = [*added, *order]
            else:
                at_ends = False
                order = list(heapq.merge(order, added, key=sort_key, reverse=reverse))
        if new or gone or hidden or moved or updated:
            self._install_order(order, (head, tail, cut) if at_ends else None)
            self._restore(selected, *view)
            if was_empty and order and self.show_cursor and self.cursor_type == "row":
                # As add_row does for a table's first row: the cursor's row is highlighted, and said.
                row = self.cursor_row
                key = self.row_index.get_key(row)
                if key is not None:
                    self.refresh_row(row)
                    self.post_message(DataTable.RowHighlighted(self, row, key))

    def _insert(self, row_id: str, cells: Sequence[Any], column_keys: list[ColumnKey]) -> None:
        """Add a one-line row without ``add_row``: no per-row cursor check and index update (the
        order is installed once per batch), and no measuring of its cells on idle (the columns
        have fixed widths): ``add_row`` made restoring 10,000 rows after a filter freeze for
        seconds (benchmark row 16 measures the baseline's ``add_rows``)."""
        key = RowKey(row_id)
        if key in self.rows:
            raise DuplicateKey(f"The row key {row_id!r} already exists.")
        self.stored_cells[key] = self._row_cells(cells, column_keys)
        self.rows[key] = Row(key, 1)
        self._row_keys[row_id] = key

    def _row_cells(self, cells: Sequence[Any], column_keys: list[ColumnKey]) -> dict[ColumnKey, Any]:
        """The cells DataTable stores for a new row (a subclass may build its cells when painted)."""
        return {column_key: cell for column_key, cell in zip_longest(column_keys, cells[: len(column_keys)])}

    def _update_cells(self, key: RowKey, cells: Sequence[Any], column_keys: list[ColumnKey]) -> None:
        """Store a shown row's new cells (``apply_rows`` then drops their cached renders)."""
        row = self.stored_cells[key]
        for column_key, cell in zip(column_keys, cells, strict=False):
            row[column_key] = cell

    def _forget_renders(self, keys: set[RowKey]) -> None:
        """Drop the cached renders of the rows whose cells changed: one pass over each cache for
        the whole batch (a pass per row froze the screen for a third of a second at 1,000 rows)."""
        for cache in (self.cell_render_cache, self._line_cells):
            for cache_key in [k for k in cache.keys() if k[0] in keys]:  # noqa: SIM118 (no __iter__)
                cache.discard(cache_key)

    def cell_for(self, row_key: RowKey, row_index: int, column_index: int) -> object:
        """What a body cell renders (DataTable's stored cell; a subclass may build it when painted)."""
        return self.stored_renderable(row_index, column_index)

    def cell_at(self, row_key: RowKey, column_key: ColumnKey) -> Any:
        """The cell object of a shown row (see :meth:`cell_for`)."""
        return self.stored_cells.get(row_key, {}).get(column_key)

    def _set_aside(self, ids: set[str]) -> None:
        """Take rows out of the table but keep them (key, row and cells) to show them again."""
        for row_id in ids:
            key = self._row_keys.pop(row_id)
            self._stash[row_id] = (key, self.rows.pop(key), self.stored_cells.pop(key))
            self.forget_row_marks(key)

    def _bring_back(self, row_id: str) -> None:
        key, row, cells = self._stash.pop(row_id)
        self.rows[key] = row
        self.stored_cells[key] = cells
        self._row_keys[row_id] = key

    def _drop(self, ids: set[str]) -> None:
        """Forget rows without DataTable's ``remove_row`` (which rebuilds its index map per row).

        Their cached renders go too: a row added again later under the same id (the bot list
        rebuilds the rows a filter left out) must not be painted from its old cells."""
        keys: set[RowKey] = set()
        for row_id in ids:
            key = self._row_keys.pop(row_id)
            cells = self.stored_cells.pop(key, None)
            self.rows.pop(key, None)
            self.forget_row_marks(key, cells or ())
            keys.add(key)
        if keys:
            self._forget_renders(keys)

    def _install_order(self, order: list[str], ends: tuple[list[str], list[str], int] | None = None) -> None:
        """Make ``order`` the displayed order: one index map, and DataTable's order caches pre-filled.

        DataTable would otherwise rebuild its ordered row list and line offsets in Python loops
        calling helpers per row after every change (benchmark rows 7-12); all rows are one line.
        ``ends``: the change only put ids on top, put ids below and cut rows from the bottom
        (``head, tail, cut``): the lists are spliced instead of rebuilt.
        """
        row_keys, rows = self._row_keys, self.rows
        index = self.row_index
        if ends is not None and isinstance(index, RowIndex) and len(index) == len(self._ordered_rows):
            head_ids, tail_ids, cut = ends
            head = [row_keys[row_id] for row_id in head_ids]
            tail = [row_keys[row_id] for row_id in tail_ids]
            kept = slice(0, len(self._ordered_rows) - cut)
            keys = index.changed_at_ends(head, tail, cut)
            self._ordered_rows = [
                *(rows[key] for key in head),
                *self._ordered_rows[kept],
                *(rows[key] for key in tail),
            ]
        else:
            # (map/zip: these loops run in C.)
            keys = list(map(row_keys.__getitem__, order))
            self.row_index = RowIndex(keys)
            self._ordered_rows = list(map(rows.__getitem__, keys))
        self._order = order
        self.invalidate_order()
        # Every row is one line high (rows are only added by ``_insert``).
        self.install_order_caches(self._ordered_rows, LineOffsets(keys))
        # The scrollable size now, not on idle: a scroll made right after is not clamped to the
        # old size, and the table paints once. (Setting it updates the scrollbars; no layout of
        # the screen, which would also wrap the pane's whole output again to measure it.)
        width = sum(column.get_render_width(self) for column in self.columns.values())
        header = self.header_height if self.show_header else 0
        # (Rows have no labels: no label column.)
        self.virtual_size = Size(width, len(keys) + header)
        self.redimension()
        # The cursor back within the rows (move_cursor clamps it).
        self.move_cursor(row=self.cursor_row, animate=False, scroll=False)
        self.refresh()
        self.check_idle()

    def _restore(self, selected: str | None, old_cursor: int, old_scroll: int) -> None:
        """Put the cursor back on ``selected`` and keep it where it was on screen."""
        if selected is None or selected not in self._row_keys:
            return
        new_cursor = self.row_index.get(self._row_keys[selected])
        if new_cursor is None:
            return
        if new_cursor != self.cursor_row:
            self.move_cursor(row=new_cursor, animate=False, scroll=False)
        header = self.header_height if self.show_header else 0
        visible = max(1, self.scrollable_content_region.height - header)
        if old_scroll == 0 and new_cursor < visible:
            target = 0  # watching the top: new rows appear above the cursor
        else:
            target = max(0, new_cursor - (old_cursor - old_scroll))
            # Never leave the cursor off screen.
            target = min(target, new_cursor)
            target = max(target, new_cursor - visible + 1)
        if target != round(self.scroll_y):
            self.scroll_to(y=target, animate=False, immediate=True, force=True)

    def select_id(self, row_id: str) -> bool:
        key = self._row_keys.get(row_id)
        index = self.row_index.get(key) if key is not None else None
        if index is None:
            return False
        self.move_cursor(row=index, animate=False)
        return True
