"""A DataTable whose rows are keyed by a resource id: diff updates, keyed sorting, fitted columns.

Textual's DataTable (8.2.8) keeps the cursor *index* across ``sort()`` and has no insert-at-position,
``clear()`` loses the cursor and ``remove_row`` is O(n) (docs/architecture.md, "Why the table is
custom"). So this table, through the private DataTable state that ``textual_private`` opens:

* keeps the displayed order itself (a list of ids, always sorted by the current column): new
  rows are merged into it in one O(rows) pass, a sort is one ``sorted()`` on keys read from the
  objects the table holds, and DataTable's index map and order caches are rebuilt once from it
  (DataTable's own ``sort()`` and cache rebuilds are the baseline of benchmark rows 9-12);
* shows the top of a new order: after a sort the cursor is on the first row and the view at
  the top (what a k9s or htop user expects: the sorted extreme, not the row selected before);
* keeps the view still when rows arrive (polls): the cursor stays on its row, and when rows
  land above the viewport it scrolls by as many rows so what the reader was looking at does
  not move (at the very top, new rows simply appear above);
* in a stream of runs (:attr:`KeyedTable.FOLLOWS_NEWEST`: the Event tab, the Failures screen),
  new rows stay in sight: with the cursor on the top row, it follows the newest (as ``tail -f``);
  elsewhere it stays on its run and the header says how many arrived above it (``↑ 12 new``,
  :attr:`KeyedTable.new_above`) until the cursor reaches the top row (``g``, ``home``);
* removes many rows in one pass instead of one O(n) ``remove_row`` each;
* holds one object per row (a ``FeedEvent``, a ``BotStatus``...) and builds a row's cells from it
  only when the row is painted (kept for the rows painted lately): 10,000 rows hold no cells;
* gives every column a fixed width computed from the table's width (one "flex" column takes
  the rest, and the columns that give way shrink for it first), so nothing depends on measuring
  every cell and the layout fits 80 columns.

A table is its :attr:`KeyedTable.COLUMNS`: one :class:`Column` record each, with its title, width
policy, cell, sort key and header tooltip, and one loop here does the rest for every table. The
key that sorts by a column is its position (``1``–``9``), shown by its title (:data:`KEY_MARKS`).
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime
from functools import partial
from operator import itemgetter
from typing import Any, ClassVar, Generic, TypeVar, overload

from rich.segment import Segment
from rich.style import Style
from rich.text import DEFAULT_JUSTIFY, DEFAULT_OVERFLOW, Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.coordinate import Coordinate
from textual.geometry import Size
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, DuplicateKey, Row, RowDoesNotExist, RowKey
from textual.widgets.data_table import Column as DataTableColumn

from botmon_tui.formatting import relative_age
from botmon_tui.ui.formatting import BOLD, DIM
from botmon_tui.ui.textual_private import DataTableInternals, SegmentLines, TwoWayDict
from botmon_tui.ui.widgets.cells import AgeCell, TextCell

__all__ = [
    "EPOCH",
    "KEY_MARKS",
    "Column",
    "KeyedTable",
    "SortOrder",
    "UnknownColumn",
    "age_column",
    "by_id",
    "fit_widths",
]

#: Cell renders cached for repaints (about ten screens of a 120x40 table).
CELL_RENDER_CACHE = 2000
#: Rows whose built cells are kept (a few screens' worth; the others are built again if painted).
BUILT_ROWS = 512
#: The sort value of a missing time (sorts before every real one).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: By each title, the key that sorts by the column: its position on the screen (so a table has
#: at most nine columns).
KEY_MARKS = "¹²³⁴⁵⁶⁷⁸⁹"
#: Cells the vertical scrollbar takes from a table's width.
SCROLLBAR = 2

TableT = TypeVar("TableT")
RowT = TypeVar("RowT")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class UnknownColumn(KeyError):
    """A table was asked for a column (or a sort order) it does not have: a bug, never a fallback."""


def by_id(table: Any, row: Any) -> tuple[str]:
    """The sort key of a column whose order is the row ids' (sorted as the ids themselves)."""
    return (table.row_id(row),)


@dataclass(frozen=True, slots=True)
class SortOrder(Generic[TableT, RowT]):
    """An order of a table's rows: by a column (:class:`Column`) or by itself (the bot list's
    attention order, which has no column)."""

    key: str
    title: str
    _: KW_ONLY
    #: The row's sort key, read from the object the table holds for it: a tuple of values
    #: compared in turn, that ends with the row's id (ties go by it, and the sort reads the ids
    #: back from the keys: one tuple a row, no second one made around it).
    sort: Callable[[TableT, RowT], tuple[Any, ...]]
    #: The first press sorts descending (newest, worst, longest first) instead of ascending.
    descending_first: bool = False
    #: The sort key starts with ``None`` for a row that has no value (no duration): such rows
    #: go last whichever the direction.
    blanks_last: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Column(SortOrder[TableT, RowT]):
    """One column, everything about it: its cell, its sort key, its width, its header's tooltip."""

    #: The cell of a row, built from its object when the row is painted (a ``Text``, a
    #: ``TextCell``, an ``AgeCell``); the table is there for its palette, clock and widths.
    cell: Callable[[TableT, RowT], object]
    #: What the column shows, for its header's tooltip (the sort key is added to it).
    tooltip: str
    #: Width (cells) by table width: the last ``(min_table_width, width)`` that fits wins. The
    #: flex column's is the width it wants before the others keep theirs.
    widths: tuple[tuple[int, int], ...] = ((0, 10),)
    #: Takes what the other columns leave (one per table at most).
    flex: bool = False
    #: The narrowest it gets (the flex column: whatever the others take; the others: when they
    #: give way).
    least: int = 8
    #: When the flex column lacks its width, the columns that give way shrink to ``least`` for
    #: it, rank 1 first (0: never).
    gives_way: int = 0
    #: The flex column: the cells a row's content takes; it then wants no more than its widest
    #: row takes (nor more than ``widths`` says), and the other columns keep the rest.
    fit: Callable[[TableT, RowT], int] | None = None
    #: Shown only in a table at least this wide; narrower, it takes no room at all (not even its
    #: padding): a column that is worth less than the others' room at 80 columns.
    hidden_below: int = 0
    #: When the flex column still lacks its width after every column that gives way gave, the
    #: columns that drop go (width 0, no padding, not painted, as a hidden one), rank 1 first (0:
    #: never); they come back when the table is wide enough again.
    drops: int = 0
    #: Its cells are ``AgeCell`` (``age_column``): :meth:`KeyedTable.refresh_ages` repaints it
    #: when a visible age moved on.
    ages: bool = False

    def shown_at(self, table_width: int) -> bool:
        return table_width >= self.hidden_below

    def width_for(self, table_width: int) -> int:
        chosen = self.widths[0][1]
        for threshold, width in self.widths:
            if table_width >= threshold:
                chosen = width
        return chosen


def age_column(
    key: str,
    title: str,
    when: Callable[[RowT], datetime | None],
    *,
    tooltip: str,
    widths: tuple[tuple[int, int], ...],
    style: Callable[[Any, RowT], Style | None] | None = None,
    least: int = 8,
    gives_way: int = 0,
    drops: int = 0,
) -> Column[Any, RowT]:
    """A column of a time of the row's (``when``), shown as the table's ``age_label`` says (an
    ``AgeCell``: an age, repainted as it moves on), sorted by the time then the row's id, the
    newest first; ``style``: the cell's style, from the table and the row."""
    return Column(
        key,
        title,
        cell=lambda table, row: AgeCell(
            when(row), table.row_id(row), table.age_label, style(table, row) if style is not None else None
        ),
        sort=lambda table, row: (when(row) or EPOCH, table.row_id(row)),
        descending_first=True,
        tooltip=tooltip,
        widths=widths,
        least=least,
        gives_way=gives_way,
        drops=drops,
        ages=True,
    )


class _HidingColumn(DataTableColumn):
    """A DataTable column that takes no room at all (not even its padding) while its width is 0
    (``Column.hidden_below``, ``Column.drops``)."""

    def get_render_width(self, data_table: DataTable[Any]) -> int:
        return 0 if self.width == 0 and not self.auto_width else super().get_render_width(data_table)


def fit_widths(
    columns: Sequence[Column[Any, Any]], table_width: int, padding: int, content: int | None = None
) -> list[int]:
    """Each column's width in a table ``table_width`` cells wide (``padding`` each side of a cell).

    Every column gets its width for that table width; the flex column gets the rest. When that
    rest is less than the flex column wants (its width, or ``content``, what its widest row
    takes, if that is less), the columns that give way shrink for it, in their rank's order, down
    to their ``least``; if it still lacks, the columns that drop go (width 0: not shown), in
    their rank's order; the flex column never gets less than its own ``least`` (the table then
    scrolls sideways).
    """
    shown = [column.shown_at(table_width) for column in columns]
    usable = table_width - SCROLLBAR - 2 * padding * sum(shown)
    widths = [column.width_for(table_width) if on else 0 for column, on in zip(columns, shown, strict=True)]
    flex = next((index for index, column in enumerate(columns) if column.flex), None)
    if flex is None:
        return widths
    if content is not None:
        widths[flex] = max(columns[flex].least, min(widths[flex], content))
    lack = widths[flex] - (usable - (sum(widths) - widths[flex]))
    giving = sorted(
        (i for i, c in enumerate(columns) if c.gives_way and shown[i]), key=lambda i: columns[i].gives_way
    )
    for index in giving:
        if lack <= 0:
            break
        give = min(lack, max(0, widths[index] - columns[index].least))
        widths[index] -= give
        lack -= give
    dropping = (i for i, c in enumerate(columns) if c.drops and shown[i])
    for index in sorted(dropping, key=lambda i: columns[i].drops):
        if lack <= 0:
            break
        # (A dropped column's padding comes back too.)
        lack -= widths[index] + 2 * padding
        usable += 2 * padding
        widths[index] = 0
    # What a drop freed beyond the lack goes back to the columns that gave way, the last first.
    preferred = [column.width_for(table_width) for column in columns]
    for index in reversed(giving):
        if lack >= 0:
            break
        if widths[index]:
            back = min(-lack, preferred[index] - widths[index])
            widths[index] += back
            lack += back
    widths[flex] = max(columns[flex].least, usable - (sum(widths) - widths[flex]))
    return widths


def _blanks_last(key: tuple[Any, ...], reverse: bool) -> tuple[Any, ...]:
    """``key`` led by whether its row has no value, so that such rows go last in ``reverse``'s
    direction too (see ``SortOrder.blanks_last``)."""
    return ((key[0] is None) != reverse, *key)


#: How the header says that rows arrived above the cursor (``↑ 12 new``).
NEW_ROWS_STYLE = Style(bold=True, reverse=True)


def new_rows_text(count: int) -> str:
    """``↑ 12 new``: rows arrived above the cursor (``g`` goes to them)."""
    return f"↑ {count:,} new"


def header_label(
    title: str, number: int, width: int | None, arrow: str | None, note: str | None = None
) -> Text:
    """A column's header: its title, the key that sorts by it and, on the sort column, the
    direction; the title gives way (``…``) when the column is too narrow for all of it. ``note``
    (``↑ 12 new``) goes after them, and the title gives way for it first."""
    mark = KEY_MARKS[number - 1]
    note_cells = len(note) + 3 if note else 0  # (a space, and a space each side in reverse video)
    room = None if width is None else max(0, width - 1 - (1 if arrow else 0) - note_cells)
    if room is not None and len(title) > room:
        # (In a room of three cells or fewer an ellipsis leaves a letter or none: "Ru", not "R…".)
        title = title[: room - 1] + "…" if room > 3 else title[:room]
    if arrow is None:
        label = Text.assemble(title, (mark, DIM))
    else:
        label = Text.assemble((title, BOLD), (mark, DIM), (arrow, BOLD))
    if note:
        label.append(" ")
        label.append(f" {note} ", NEW_ROWS_STYLE)
    return label


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
    """Rows keyed by id, one held object each; see the module docstring.

    A subclass gives :attr:`COLUMNS` (and :attr:`ORDERS`, :attr:`DEFAULT_SORT`) and says what a
    row's id is (:meth:`row_id`); rows come in as objects (:meth:`apply_rows`, :meth:`show`).
    """

    #: The columns, left to right; a column's key (``1``–``9``) is its position.
    COLUMNS: ClassVar[tuple[Column[Any, Any], ...]] = ()
    #: Orders with no column of their own (sorted by with :meth:`sort_by`, not by a number key).
    ORDERS: ClassVar[tuple[SortOrder[Any, Any], ...]] = ()
    #: The order at start: (column or order key, descending).
    DEFAULT_SORT: ClassVar[tuple[str, bool]] = ("", False)
    #: A stream of runs, newest on top: new rows stay in sight (the cursor on the top row follows
    #: the newest; elsewhere the header counts the rows that arrived above it: :attr:`new_above`).
    FOLLOWS_NEWEST: ClassVar[bool] = False

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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A table's records are checked when its class is made (an import fails on a bad one)."""
        super().__init_subclass__(**kwargs)
        columns = cls.COLUMNS
        keys = [order.key for order in (*columns, *cls.ORDERS)]
        problems = []
        if len(set(keys)) != len(keys):
            problems.append(f"keys repeat: {keys}")
        if len(columns) > len(KEY_MARKS):
            problems.append(f"{len(columns)} columns: a number key sorts by each, 1 to {len(KEY_MARKS)}")
        if sum(column.flex for column in columns) > 1:
            problems.append("more than one flex column")
        if cls.DEFAULT_SORT[0] not in keys:
            problems.append(f"DEFAULT_SORT {cls.DEFAULT_SORT[0]!r} is neither a column nor an order")
        if problems:
            raise TypeError(f"{cls.__name__}: {'; '.join(problems)}")

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(
            id=id,
            classes=classes,
            cursor_type="row",
            zebra_stripes=False,
            cursor_foreground_priority="css",
        )
        self.sort_column, self.sort_reverse = self.DEFAULT_SORT
        self._sorting: SortOrder[Any, Any] = self.order(self.sort_column)
        self._layout_width = -1
        #: Each column's width after the last layout, by key (see ``column_width``).
        self._widths: dict[str, int] = {}
        #: What the flex column's widest row takes (when the column says: ``Column.fit``).
        self._content_width: int | None = None
        #: The object of every row held, by id: shown, and hidden by a filter.
        self._rows: dict[str, Any] = {}
        #: Row ids top to bottom, always sorted by the current sort (the table's own index map
        #: is rebuilt from it in one pass).
        self._order: list[str] = []
        self._row_keys: dict[str, RowKey] = {}
        #: Rows hidden by a filter, kept as they were: id → (key, row).
        self._stash: dict[str, tuple[RowKey, Row]] = {}
        #: The displayed rows, as DataTable's order cache wants them.
        self._ordered_rows: list[Row] = []
        #: Cells built from the held objects for the rows painted lately (see ``built_cells``).
        self._built: OrderedDict[str, list[Any]] = OrderedDict()
        #: What DataTable stores for every row (one shared dict: the cells are built when painted).
        self._no_cells: dict[ColumnKey, Any] = {}
        # Rendered cells kept for repaints: a few screens' worth (DataTable keeps 10,000).
        self.cell_render_cache = LRUCache(CELL_RENDER_CACHE)
        #: Renders of one-line cells by row, position and width (see ``render_cell_lines``).
        self._line_cells: LRUCache[tuple[Any, ...], SegmentLines] = LRUCache(CELL_RENDER_CACHE)
        #: ``FOLLOWS_NEWEST``: rows that arrived above the cursor since it left the top row (the
        #: header's ``↑ N new``; 0 once the cursor is back on the top row).
        self.new_above = 0
        #: Inside :meth:`not_new`: rows added are not news (a filter bringing rows back).
        self._not_new = False
        #: "Now", for the ages of ``AgeCell`` cells.
        self.clock: Callable[[], datetime] = clock or _utc_now
        #: One bound method for every age cell (not one each); ``_age_label`` is the formatter.
        self.age_label: Callable[[AgeCell], str] = self._age_label

    def _age_label(self, cell: AgeCell) -> str:
        """An ``AgeCell``'s label: its age now (a table may say more, e.g. absolute times)."""
        return relative_age(cell.when, self.clock())

    # ------------------------------------------------------------------ rows

    def row_id(self, row: Any) -> str:  # pragma: no cover - abstract
        """The id of a held object (its row's key)."""
        raise NotImplementedError

    def row(self, row_id: str | None) -> Any:
        """The object held for ``row_id`` (shown or hidden by a filter), or None."""
        return self._rows.get(row_id) if row_id else None

    def held_ids(self) -> list[str]:
        """Every row the table holds: shown, and hidden by a filter."""
        return list(self._rows)

    # ------------------------------------------------------------------ columns

    @classmethod
    def column(cls, key: str) -> Column[Any, Any]:
        for column in cls.COLUMNS:
            if column.key == key:
                return column
        raise UnknownColumn(f"{cls.__name__} has no column {key!r}")

    @classmethod
    def order(cls, key: str) -> SortOrder[Any, Any]:
        """The column, or the order without a column, that ``key`` names."""
        for order in (*cls.COLUMNS, *cls.ORDERS):
            if order.key == key:
                return order
        raise UnknownColumn(f"{cls.__name__} has no column or order {key!r}")

    @classmethod
    def number_of(cls, key: str) -> int:
        """The key (``1``–``9``) that sorts by the column: its position."""
        for number, column in enumerate(cls.COLUMNS, 1):
            if column.key == key:
                return number
        raise UnknownColumn(f"{cls.__name__} has no column {key!r}")

    def column_width(self, key: str) -> int:
        """The column's width now (cells, without padding); at 80 columns before the first layout.
        (Cells ask it when they are built: a plain dict, no ``ColumnKey`` made and hashed.)"""
        width = self._widths.get(key)
        return self.column(key).width_for(80) if width is None else width

    def on_mount(self) -> None:
        for column in self.COLUMNS:
            self.add_column(Text(column.title), key=column.key, width=column.width_for(80))
            if column.hidden_below or column.drops:
                held = self.columns[ColumnKey(column.key)]
                self.columns[held.key] = _HidingColumn(
                    held.key, held.label, held.width, held.content_width, held.auto_width
                )
        self._no_cells.update(dict.fromkeys(ColumnKey(column.key) for column in self.COLUMNS))
        self._relabel()

    def on_resize(self, event: events.Resize) -> None:
        # (DataTable's own ``_on_resize`` runs too: Textual calls the handler of every class.)
        self.fit_columns()
        if self.row_count:
            # A smaller terminal (or pane) must not leave the selected row out of sight.
            self.call_after_refresh(self.move_cursor, row=self.cursor_row, animate=False)

    def fit_columns(self, width: int | None = None) -> None:
        """Give every column its width for the current table width (see :func:`fit_widths`)."""
        total = width if width is not None else self.size.width
        if total <= 0 or total == self._layout_width or not self.columns:
            return
        self._layout_width = total
        changed = False
        fitted_widths = fit_widths(self.COLUMNS, total, self.cell_padding, self._content_width)
        for spec, fitted in zip(self.COLUMNS, fitted_widths, strict=True):
            column = self.columns.get(ColumnKey(spec.key))
            if column is None:
                continue
            changed = changed or column.width != fitted
            column.width = self._widths[spec.key] = fitted
            column.auto_width = False
        if changed:
            # A cell may have a narrow and a wide form (the short outcome, the compact audit).
            self._built.clear()
        self.redimension()
        self._touch()
        self._relabel()

    def _fit_content(self) -> None:
        """The rows changed: lay the columns out again if the flex column's widest row did."""
        fit = next((column.fit for column in self.COLUMNS if column.flex), None)
        if fit is None:
            return
        widest = max(map(partial(fit, self), self._rows.values()), default=0)
        if widest != self._content_width:
            self._content_width = widest
            if self._layout_width > 0:
                width, self._layout_width = self._layout_width, -1
                self.fit_columns(width)

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
        arrow = "▼" if self.sort_reverse else "▲"
        # ``↑ N new`` in the widest column's header (the flex one), where it has room.
        note = new_rows_text(self.new_above) if self.new_above else None
        noted = next(
            (spec.key for spec in self.COLUMNS if spec.flex), self.COLUMNS[0].key if self.COLUMNS else ""
        )
        for number, spec in enumerate(self.COLUMNS, 1):
            column = self.columns.get(ColumnKey(spec.key))
            if column is None:
                continue
            width = None if column.auto_width else column.width
            column.label = header_label(
                spec.title,
                number,
                width,
                arrow if spec.key == self.sort_column else None,
                note if spec.key == noted else None,
            )
        self._repaint()

    def _note_new_above(self, count: int) -> None:
        """``count`` more rows arrived above the cursor (0 with the cursor on the top row: the
        count goes)."""
        total = 0 if count == 0 or self.cursor_row == 0 else self.new_above + count
        if total != self.new_above:
            self.new_above = total
            self._relabel()

    def watch_cursor_coordinate(self, old: Coordinate, value: Coordinate) -> None:
        super().watch_cursor_coordinate(old, value)
        if self.new_above and value.row == 0:
            self._note_new_above(0)  # at the newest: nothing arrived above it that is not seen

    def header_tooltip(self, column_index: int) -> Text | None:
        """The tooltip of a column's header: what it shows and the key that sorts by it."""
        if not 0 <= column_index < len(self.COLUMNS):
            return None
        column = self.COLUMNS[column_index]
        return Text(
            f"{column.title}: {column.tooltip}\n"
            f"Key {column_index + 1} (or a click here) sorts by it; again: the other way."
        )

    def watch_hover_coordinate(self, old: Coordinate, value: Coordinate) -> None:
        super().watch_hover_coordinate(old, value)
        # Only the header has a tooltip (a body row's would cover the rows below it).
        self.tooltip = self.header_tooltip(value.column) if value.row < 0 else None

    def restyle(self) -> None:
        """The theme changed: cells are built again from the held objects and painted."""
        self._built.clear()
        self._repaint()

    def _repaint_column(self, key: str) -> None:
        """Re-render one column's visible cells (e.g. ages); other cells come from the cache."""
        column_key = ColumnKey(key)
        for cache in (self.cell_render_cache, self._line_cells):
            for cache_key in [k for k in cache.keys() if k[1] == column_key]:  # noqa: SIM118 (no __iter__)
                cache.discard(cache_key)
        self.drop_line_renders()
        self.refresh()

    def rebuild_column(self, key: str, row_ids: Iterable[str] | None = None) -> None:
        """What a column shows changed while its rows' objects did not: build these rows' cells
        again (None: every row's) and repaint the column."""
        if row_ids is None:
            self._built.clear()
        else:
            for row_id in row_ids:
                self._built.pop(row_id, None)
        self._repaint_column(key)

    # ------------------------------------------------------------------ cells

    def built_cells(self, row_id: str) -> list[Any]:
        """The row's cells, one per column, built from its object (kept for the rows painted lately)."""
        cells = self._built.get(row_id)
        if cells is None:
            row = self._rows[row_id]
            cells = self._built[row_id] = [column.cell(self, row) for column in self.COLUMNS]
            if len(self._built) > BUILT_ROWS:
                self._built.popitem(last=False)
        else:
            self._built.move_to_end(row_id)
        return cells

    def cell_for(self, row_key: RowKey, row_index: int, column_index: int) -> object:
        """What a body cell renders."""
        return self.built_cells(str(row_key.value))[column_index]

    def cell_at(self, row_key: RowKey, column_key: ColumnKey) -> Any:
        """The cell object of a shown row (None if the row or the column is not there)."""
        row_id = str(row_key.value)
        if row_id not in self._row_keys:
            return None
        index = self.column_index.get(column_key)
        return None if index is None else self.built_cells(row_id)[index]

    def get_cell(self, row_key: RowKey | str, column_key: ColumnKey | str) -> Any:
        key = row_key if isinstance(row_key, RowKey) else RowKey(row_key)
        column = column_key if isinstance(column_key, ColumnKey) else ColumnKey(column_key)
        if str(key.value) not in self._row_keys or column not in self.columns:
            raise CellDoesNotExist(f"No cell exists for row_key={row_key!r}, column_key={column_key!r}.")
        return self.cell_at(key, column)

    def get_row(self, row_key: RowKey | str) -> list[Any]:
        key = row_key if isinstance(row_key, RowKey) else RowKey(row_key)
        if str(key.value) not in self._row_keys:
            raise RowDoesNotExist(f"Row key {row_key!r} is not valid.")
        return list(self.built_cells(str(key.value)))

    # ------------------------------------------------------------------ painting

    def render_cell_lines(
        self, row_index: int, column_index: int, base_style: Style, width: int, cursor: bool, hover: bool
    ) -> SegmentLines | None:
        """A direct path for every body cell (``None``: DataTable renders it: the header).

        DataTable renders every cell through Rich's generic pipeline (``Padding`` in ``Styled`` in
        ``render_lines``), the largest part of repainting the rows a merge or a sort brings on
        screen (benchmark rows 7 and 9-12). Rows are one line, so each cell is one line of text
        (:meth:`_one_line_text`) and its segments are built directly: the text truncated as
        ``Text.wrap`` does with ``no_wrap``, justified, padded, then styled as ``Styled`` does.
        (DataTable's own path would not do for a body cell: it renders the cells DataTable
        stores, and the table stores none.)
        """
        if width <= 0:  # a hidden or dropped column (``Column.hidden_below``, ``drops``), header too
            return [[]]
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
        if row_key not in self.rows:
            return None
        text = self._one_line_text(self.cell_for(row_key, row_index, column_index))
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
        justify = text.justify or self.app.console_options.justify or DEFAULT_JUSTIFY
        if justify in ("right", "center"):
            # As ``Lines.justify`` does: the spaces take the text's own style.
            line.rstrip()
            room = inner - line.cell_len
            line.pad_left(room if justify == "right" else room // 2)
        null = Style.null()
        segments = Segment.adjust_line_length(list(Text("\n").join([line]).render(console)), inner, null)
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

    def _one_line_text(self, cell: object) -> Text:
        """The one line of ``Text`` a cell shows (its lines joined by spaces: a row is one line)."""
        if isinstance(cell, Text):
            text = cell
        elif isinstance(cell, TextCell | AgeCell):
            text = cell.as_text()
        else:
            text = Text("" if cell is None else str(cell))
        if "\n" in text.plain:
            text = Text(" ", style=text.style, justify=text.justify, overflow=text.overflow).join(
                text.split("\n", allow_blank=True)
            )
        return text

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

    def refresh_ages(self) -> None:
        """Repaint (visible rows only) the age columns whose labels moved on (called every few
        seconds)."""
        for column in self.COLUMNS:
            if column.ages:
                self.refresh_age_column(column.key)

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

    def sort_by(self, key: str, reverse: bool | None = None) -> None:
        """Sort by the column (or order) ``key``; ``reverse=None``: the other way when it is the
        sort column already, else the column's own first direction."""
        order = self.order(key)
        if reverse is None:
            reverse = not self.sort_reverse if key == self.sort_column else order.descending_first
        self.sort_column, self.sort_reverse, self._sorting = key, reverse, order
        self._relabel()
        if self._order:
            self._install_order(self._sorted(self._order))
        self.show_top()
        self.post_message(self.SortChanged(self, key, reverse))

    def show_top(self) -> None:
        """The cursor on the first row and the view at the top (after a sort or a filter)."""
        if self._order and self.cursor_row != 0:
            self.move_cursor(row=0, animate=False, scroll=False)
        if round(self.scroll_y) != 0:
            self.scroll_to(y=0, animate=False, immediate=True, force=True)

    def sort_by_number(self, number: int) -> None:
        """The number key ``number`` was pressed: sort by the column at that position."""
        if not 1 <= number <= len(self.COLUMNS):
            raise UnknownColumn(f"{type(self).__name__} has no column {number} (it has {len(self.COLUMNS)})")
        self.sort_by(self.COLUMNS[number - 1].key)

    def sort_key(
        self, key: str | None = None, reverse: bool | None = None
    ) -> Callable[[str], tuple[Any, ...]]:
        """The key that sorts row ids by the column (or order) ``key`` (default: the current
        sort) in that direction, read from the row's object."""
        order = self._sorting if key is None else self.order(key)
        reverse = self.sort_reverse if reverse is None else reverse
        value, rows = partial(order.sort, self), self._rows
        if order.blanks_last:
            return lambda row_id: _blanks_last(value(rows[row_id]), reverse)
        return lambda row_id: value(rows[row_id])

    def _keys(self, ids: list[str]) -> list[tuple[Any, ...]]:
        """The column's sort keys of ``ids``, made by ``map``: loops in C, one call of the
        column's key per row."""
        order = self._sorting
        keys = list(map(partial(order.sort, self), map(self._rows.__getitem__, ids)))
        if keys and keys[0][-1] != ids[0]:
            raise TypeError(
                f"{type(self).__name__}: the sort key of {order.key!r} must end with the row's id"
            )
        return keys

    def _keyed(self, ids: list[str]) -> list[tuple[Any, ...]]:
        """The keys of ``ids`` as ``sort_key`` makes them (rows without a value flagged)."""
        if self._sorting.sort is by_id:
            return list(zip(ids))
        keys, reverse = self._keys(ids), self.sort_reverse
        return [_blanks_last(key, reverse) for key in keys] if self._sorting.blanks_last else keys

    def _sorted(self, ids: list[str]) -> list[str]:
        """``ids`` in the current order: one ``sorted()`` on keys read from the held objects (no
        per-row key table; benchmark rows 9-12), the ids read back from the keys' ends."""
        order, reverse = self._sorting, self.sort_reverse
        if order.sort is by_id:
            return sorted(ids, reverse=reverse)
        keys = self._keys(ids)
        last = itemgetter(-1)
        if order.blanks_last:
            # Rows without a value after the others, each part in the direction asked for (the
            # order ``sort_key`` gives them).
            blank = [key for key in keys if key[0] is None]
            if blank:
                keys = [key for key in keys if key[0] is not None]
                keys.sort(reverse=reverse)
                blank.sort(reverse=reverse)
                return [*map(last, keys), *map(last, blank)]
        keys.sort(reverse=reverse)
        return list(map(last, keys))

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        if event.column_key.value:
            self.sort_by(event.column_key.value)

    # ------------------------------------------------------------------ diff updates

    def show(self, rows: Iterable[Any], changed: Collection[str] | None = None) -> None:
        """Show exactly ``rows``, as a diff by id: rows not shown yet are added, the rows in
        ``changed`` (every row when None) take their new object, the others keep theirs and
        their built cells, rows no longer there go; the cursor and the view stay where they are."""
        wanted = {self.row_id(row): row for row in rows}
        gone = [row_id for row_id in self._rows if row_id not in wanted]
        held = self._rows
        upserts = [
            row
            for row_id, row in wanted.items()
            if changed is None or row_id in changed or row_id not in held
        ]
        self.apply_rows(upserts, gone)

    def apply_rows(
        self,
        rows: Iterable[Any] = (),
        removed: Iterable[str] = (),
        *,
        hide: Iterable[str] = (),
        show: Iterable[str] = (),
    ) -> None:
        """Add or update rows (objects, by their id) and remove rows by id; the cursor and the
        view stay put.

        ``hide``: rows set aside (a filter), not dropped; ``show``: hidden rows shown again, as
        they were (nothing to build: clearing a filter over 10,000 rows stays quick).
        """
        selected = self.selected_id
        view = (self.cursor_row, round(self.scroll_y))
        was_empty = not self._order
        held, stash, built = self._rows, self._stash, self._built
        removals = [row_id for row_id in removed if row_id in held]
        for row_id in removals:
            del held[row_id]
            built.pop(row_id, None)
            stash.pop(row_id, None)
        gone = {r for r in removals if r in self._row_keys}
        hidden = {r for r in hide if r in self._row_keys} - gone
        order = self._order
        # The common changes touch only the ends (new runs on top, the oldest leaving at the
        # bottom, a page of older runs below): then the index is updated, not rebuilt.
        head: list[str] = []
        tail: list[str] = []
        cut = 0
        at_ends = not hidden
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
        updated: set[RowKey] = set()
        #: Rows never shown before (not a filter's rows coming back).
        inserted: list[str] = []
        row_id_of = self.row_id
        for row in rows:
            row_id = row_id_of(row)
            held[row_id] = row
            key = self._row_keys.get(row_id)
            if key is None and row_id in stash:
                self._bring_back(row_id)
                new.append(row_id)
                key = self._row_keys[row_id]
            if key is not None:
                built.pop(row_id, None)  # (a new version of the row: its cells are built again)
                updated.add(key)
            else:
                self._insert(row_id)
                new.append(row_id)
                inserted.append(row_id)
        if updated:
            self._forget_renders(updated)
        if selected is not None and selected not in self._row_keys:
            selected = None  # its row went away: the cursor stays at the same place
        if updated:
            # Updated rows may sort elsewhere now.
            at_ends = False
            order = self._sorted([*order, *new])
        elif new:
            # The shown order is sorted: new rows that all go below (older pages) or above (new
            # runs) are joined on; otherwise merged in, O(rows), on keys made once a row
            # (``heapq.merge`` with a ``key=`` would call it for every row again).
            sort_key, reverse, last = self.sort_key(), self.sort_reverse, itemgetter(-1)
            keys = self._keyed(new)
            keys.sort(reverse=reverse)
            added = list(map(last, keys))
            if not order or (keys[0] > sort_key(order[-1])) != reverse:
                tail = added
                order = [*order, *added]
            elif (keys[-1] < sort_key(order[0])) != reverse:
                head = added
                order = [*added, *order]
            else:
                at_ends = False
                order = list(map(last, heapq.merge(self._keyed(order), keys, reverse=reverse)))
        if new or gone or updated:
            self._fit_content()
        if new or gone or hidden or updated:
            self._install_order(order, (head, tail, cut) if at_ends else None)
            above = self._arrived_above(inserted, selected) if self.FOLLOWS_NEWEST and not was_empty else 0
            if above and view[0] == 0:
                # The cursor was on the top row: it follows the newest (as ``tail -f``).
                self.move_cursor(row=0, animate=False, scroll=False)
                if round(self.scroll_y) != 0:
                    self.scroll_to(y=0, animate=False, immediate=True, force=True)
            else:
                self._restore(selected, *view)
                if above:
                    self._note_new_above(above)
            if was_empty and order and self.show_cursor and self.cursor_type == "row":
                # As add_row does for a table's first row: the cursor's row is highlighted, and said.
                row_index = self.cursor_row
                key = self.row_index.get_key(row_index)
                if key is not None:
                    self.refresh_row(row_index)
                    self.post_message(DataTable.RowHighlighted(self, row_index, key))

    @contextmanager
    def not_new(self) -> Iterator[None]:
        """Rows added meanwhile are not new runs (a filter changed: they come back): the cursor
        does not follow them and they are not counted above it."""
        self._not_new = True
        try:
            yield
        finally:
            self._not_new = False

    def _arrived_above(self, inserted: list[str], selected: str | None) -> int:
        """How many of the rows just ``inserted`` are above ``selected`` (the cursor's row)."""
        if not inserted or self._not_new or selected is None or selected not in self._row_keys:
            return 0
        position = self.row_index.get
        keys = self._row_keys
        at = position(keys[selected])
        if at is None:
            return 0
        return sum(1 for row_id in inserted if (position(keys[row_id]) or 0) < at)

    def _insert(self, row_id: str) -> None:
        """Add a one-line row without ``add_row``: no per-row cursor check and index update (the
        order is installed once per batch), and no measuring of its cells on idle (the columns
        have fixed widths, and its cells are built when it is painted): ``add_row`` made restoring
        10,000 rows after a filter freeze for seconds (benchmark row 16 measures ``add_rows``)."""
        key = RowKey(row_id)
        if key in self.rows:
            raise DuplicateKey(f"The row key {row_id!r} already exists.")
        self.stored_cells[key] = self._no_cells
        self.rows[key] = Row(key, 1)
        self._row_keys[row_id] = key

    def _forget_renders(self, keys: set[RowKey]) -> None:
        """Drop the cached renders of the rows whose cells changed: one pass over each cache for
        the whole batch (a pass per row froze the screen for a third of a second at 1,000 rows)."""
        for cache in (self.cell_render_cache, self._line_cells):
            for cache_key in [k for k in cache.keys() if k[0] in keys]:  # noqa: SIM118 (no __iter__)
                cache.discard(cache_key)

    def _set_aside(self, ids: set[str]) -> None:
        """Take rows out of the table but keep them (key and row; the object stays held) to show
        them again."""
        for row_id in ids:
            key = self._row_keys.pop(row_id)
            self._stash[row_id] = (key, self.rows.pop(key))
            del self.stored_cells[key]
            self.forget_row_marks(key)

    def _bring_back(self, row_id: str) -> None:
        key, row = self._stash.pop(row_id)
        self.rows[key] = row
        self.stored_cells[key] = self._no_cells
        self._row_keys[row_id] = key

    def _drop(self, ids: set[str]) -> None:
        """Forget rows without DataTable's ``remove_row`` (which rebuilds its index map per row).

        Their cached renders go too: a row added again later under the same id (the bot list
        rebuilds the rows a filter left out) must not be painted from its old cells."""
        keys: set[RowKey] = set()
        for row_id in ids:
            key = self._row_keys.pop(row_id)
            self.stored_cells.pop(key, None)
            self.rows.pop(key, None)
            self.forget_row_marks(key)
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
