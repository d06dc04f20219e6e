"""A DataTable whose rows are keyed by a resource id: diff updates, keyed sorting, fitted columns.

Textual's DataTable (8.2.8, see DESIGN.md) keeps the cursor *index* across ``sort()`` and has no
insert-at-position, ``clear()`` loses the cursor and ``remove_row`` is O(n). So this table:

* adds new rows at the bottom with their id as the row key, then re-sorts (``sort(key=...)``
  only rebuilds an index map) and puts the cursor back on the row it was on;
* keeps the view still: when rows land above the viewport, it scrolls by as many rows so what
  the reader was looking at does not move (at the very top, new rows simply appear above);
* removes many rows in one pass instead of one O(n) ``remove_row`` each;
* gives every column a fixed width computed from the table's width (one "flex" column takes
  the rest), so nothing depends on measuring every cell and the layout fits 80 columns.

Subclasses say how to sort (:meth:`sort_value`) and which columns exist (:attr:`SPECS`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual._two_way_dict import TwoWayDict
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import CellKey, ColumnKey, RowKey

__all__ = ["ColumnSpec", "KeyedTable"]


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


class KeyedTable(DataTable[Any]):
    """Rows keyed by id; see the module docstring."""

    SPECS: ClassVar[tuple[ColumnSpec, ...]] = ()
    #: The column whose cell holds the full id as plain text (used as the sort handle).
    ID_COLUMN: ClassVar[str] = "id"
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
            cursor_foreground_priority="renderable",
        )
        self.sort_column, self.sort_reverse = self.DEFAULT_SORT
        self._layout_width = -1

    # ------------------------------------------------------------------ columns

    def on_mount(self) -> None:
        for spec in self.SPECS:
            self.add_column(Text(spec.label), key=spec.key, width=spec.width_for(80))
        self._relabel()

    def _on_resize(self, event: events.Resize) -> None:
        super()._on_resize(event)
        self.fit_columns()

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
        self._require_update_dimensions = True
        self._touch()

    def _touch(self) -> None:
        """Invalidate the rendering caches (they are keyed on an update counter) and repaint."""
        self._update_count += 1
        self.refresh()

    def _relabel(self) -> None:
        for spec in self.SPECS:
            column = self.columns.get(ColumnKey(spec.key))
            if column is None:
                continue
            if spec.key == self.sort_column:
                arrow = "▼" if self.sort_reverse else "▲"
                column.label = Text.assemble((spec.label, "bold"), " ", (arrow, "bold"))
            else:
                column.label = Text(spec.label)
        self._touch()

    def column_spec(self, key: str) -> ColumnSpec:
        for spec in self.SPECS:
            if spec.key == key:
                return spec
        raise KeyError(key)

    # ------------------------------------------------------------------ reading

    @property
    def selected_id(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0))
        except Exception:
            return None
        return row_key.value

    def ids_in_order(self) -> list[str]:
        """Row ids top to bottom (as displayed)."""
        return [row.key.value or "" for row in self.ordered_rows]

    def has_id(self, row_id: str) -> bool:
        return RowKey(row_id) in self.rows

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
        self._resort()
        self.post_message(self.SortChanged(self, column, reverse))

    def sort_by_number(self, number: int) -> None:
        for spec in self.SPECS:
            if spec.number == number:
                self.sort_by(spec.key)
                return

    def _resort(self, *, anchor: str | None = None, view: tuple[int, int] | None = None) -> None:
        """Sort rows and keep the cursor on ``anchor`` (default: the row it is on)."""
        if self.row_count == 0:
            return
        selected = anchor if anchor is not None else self.selected_id
        old_cursor, old_scroll = view if view is not None else (self.cursor_row, round(self.scroll_y))
        column = self.sort_column
        value: Callable[[str, str], Any] = self.sort_value

        def key(cell: Any) -> Any:
            return value(cell.plain if isinstance(cell, Text) else str(cell), column)

        self.sort(self.ID_COLUMN, key=key, reverse=self.sort_reverse)
        self._restore(selected, old_cursor, old_scroll)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        if event.column_key.value:
            self.sort_by(event.column_key.value)

    # ------------------------------------------------------------------ diff updates

    def apply_rows(
        self,
        upserts: Sequence[tuple[str, Sequence[Any]]] = (),
        removals: Iterable[str] = (),
    ) -> None:
        """Add or update rows by id and remove rows by id, then sort; cursor and view stay put."""
        selected = self.selected_id
        view = (self.cursor_row, round(self.scroll_y))
        gone = [r for r in removals if RowKey(r) in self.rows]
        if gone:
            self._remove_many(gone)
        added = False
        column_keys = [ColumnKey(spec.key) for spec in self.SPECS]
        for row_id, cells in upserts:
            key = RowKey(row_id)
            if key in self.rows:
                row = self._data[key]
                for column_key, cell in zip(column_keys, cells, strict=False):
                    row[column_key] = cell
                self._update_count += 1
            else:
                self.add_row(*cells, key=row_id)
                added = True
        if selected is not None and RowKey(selected) not in self.rows:
            selected = None  # its row went away: the cursor stays at the same place
        if added or gone:
            self._resort(anchor=selected, view=view)
        else:
            self._touch()

    def _remove_many(self, ids: list[str]) -> None:
        """Remove rows in one pass: ``remove_row`` rebuilds the whole index map for every row."""
        if len(ids) <= 4:
            for row_id in ids:
                self.remove_row(row_id)
            return
        doomed = {RowKey(r) for r in ids}
        for key in doomed:
            cells = self._data.pop(key, None)
            self.rows.pop(key, None)
            self._new_rows.discard(key)
            if cells:
                for column_key in cells:
                    self._updated_cells.discard(CellKey(key, column_key))
        locations = self._row_locations
        remaining = sorted((locations.get(key), key) for key in locations if key not in doomed)
        self._row_locations = TwoWayDict({key: index for index, (_, key) in enumerate(remaining)})
        self._require_update_dimensions = True
        self.cursor_coordinate = self._clamp_cursor_coordinate(self.cursor_coordinate)
        self._update_count += 1
        self.refresh(layout=True)
        self.check_idle()

    def replace_all(self, rows: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Make the table hold exactly ``rows`` (by id), as a diff: rows already shown stay."""
        wanted = {row_id for row_id, _ in rows}
        removals = [key.value or "" for key in self.rows if key.value not in wanted]
        upserts = [(row_id, cells) for row_id, cells in rows if RowKey(row_id) not in self.rows]
        self.apply_rows(upserts, removals)

    def _restore(self, selected: str | None, old_cursor: int, old_scroll: int) -> None:
        """Put the cursor back on ``selected`` and keep it where it was on screen."""
        if selected is None or RowKey(selected) not in self._row_locations:
            return
        new_cursor = self.get_row_index(selected)
        if new_cursor != self.cursor_row:
            self.move_cursor(row=new_cursor, animate=False, scroll=False)
        visible = max(
            1, self.scrollable_content_region.height - (self.header_height if self.show_header else 0)
        )
        if old_scroll == 0 and new_cursor < visible:
            target = 0  # watching the top: new rows appear above the cursor
        else:
            target = max(0, new_cursor - (old_cursor - old_scroll))
            # Never leave the cursor off screen.
            target = min(target, new_cursor)
            target = max(target, new_cursor - visible + 1)
        if target != round(self.scroll_y):
            self._pending_scroll = target
            self.call_after_refresh(self._apply_pending_scroll)

    _pending_scroll: int | None = None

    def _apply_pending_scroll(self) -> None:
        target = self._pending_scroll
        self._pending_scroll = None
        if target is not None:
            self.scroll_to(y=target, animate=False, immediate=True, force=True)

    def select_id(self, row_id: str) -> bool:
        if RowKey(row_id) not in self.rows:
            return False
        self.move_cursor(row=self.get_row_index(row_id), animate=False)
        return True
