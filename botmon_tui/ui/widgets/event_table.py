"""The Event tab's table: exactly the web app's columns ID, Outcome, Outcome Desc, Last Updated."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, tzinfo
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowDoesNotExist, RowKey

from botmon_tui.formatting import absolute_time, relative_age
from botmon_tui.monitor.feed import FeedEvent
from botmon_tui.textsafe import clip
from botmon_tui.ui.formatting import DIM, app_palette, outcome_text
from botmon_tui.ui.widgets.cells import AgeCell, TextCell
from botmon_tui.ui.widgets.keyed_table import EPOCH, ColumnSpec, KeyedTable

__all__ = ["EventTable"]

#: Rows whose built cells are kept (a few screens' worth; the others are built again if painted).
BUILT_ROWS = 512


class EventTable(KeyedTable):
    SPECS: ClassVar[tuple[ColumnSpec, ...]] = (
        # At least the first 8 characters of the id, whatever the width; all of it when there is room.
        ColumnSpec("id", "ID", widths=((0, 9), (130, 36)), number=1),
        ColumnSpec("outcome", "Outcome", widths=((0, 21),), number=2, descending_first=True),
        ColumnSpec("desc", "Outcome Desc", flex=True, min_width=12, number=3),
        ColumnSpec("updated", "Last Updated", widths=((0, 14), (110, 19)), number=4, descending_first=True),
    )
    DEFAULT_SORT = ("updated", True)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "select_cursor",
            "Read output",
            show=False,
            id="events.read_output",
            tooltip="Focus the Outcome Desc pane to scroll the output",
        ),
    ]

    def __init__(
        self,
        *,
        clock: Callable[[], datetime],
        tz: tzinfo | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.tz = tz
        self.show_absolute = False
        self._events: dict[str, FeedEvent] = {}
        #: One outcome cell per code, shared by every row (cells are never changed in place).
        self._outcome_cells: dict[str | None, Text] = {}
        #: One bound method for every age cell (not one each).
        self._age_labeller = self._age_label
        #: Cells are built from the held event when a row is painted (or asked for), and kept for
        #: the rows painted lately: 10,000 rows hold no cell objects, only their events.
        self._built: OrderedDict[str, list[Any]] = OrderedDict()
        #: What DataTable stores for every row (one shared dict: the cells are built on demand).
        self._no_cells: dict[ColumnKey, Any] = {}

    @property
    def oldest_at_bottom(self) -> bool:
        """Newest first by time (the default): the last row is the oldest, so older pages go there."""
        return self.sort_column == "updated" and self.sort_reverse

    # ------------------------------------------------------------------ cells

    def _age_label(self, cell: AgeCell) -> str:
        column = self.columns.get(self._updated_key)
        short = column is None or column.width < 19
        if self.show_absolute or cell.row_id == self.selected_id:
            return absolute_time(cell.when, self.tz, short=short)
        return relative_age(cell.when, self.clock())

    @property
    def _updated_key(self) -> Any:
        return ColumnKey("updated")

    def cells(self, event: FeedEvent) -> list[Any]:
        desc = event.headline
        outcome = self._outcome_cells.get(event.outcome)
        if outcome is None:
            outcome = self._outcome_cells[event.outcome] = outcome_text(
                event.outcome_info, app_palette(self.app)
            )
        return [
            TextCell(clip(event.id)),
            outcome,
            TextCell(desc) if desc else TextCell("(no output)", DIM, fit=False),
            AgeCell(event.when, event.id, self._age_labeller),
        ]

    def restyle(self) -> None:
        self._outcome_cells.clear()
        self._built.clear()
        super().restyle()

    def _row_cells(self, cells: Sequence[Any], column_keys: list[ColumnKey]) -> dict[ColumnKey, Any]:
        if not self._no_cells:
            self._no_cells.update(dict.fromkeys(column_keys))
        return self._no_cells

    def _update_cells(self, key: RowKey, cells: Sequence[Any], column_keys: list[ColumnKey]) -> None:
        self._built.pop(str(key.value), None)  # (a new version of the event: built again)

    def built_cells(self, row_id: str) -> list[Any]:
        """The row's cells, built from its event (kept for the rows painted lately)."""
        cells = self._built.get(row_id)
        if cells is None:
            cells = self._built[row_id] = self.cells(self._events[row_id])
            if len(self._built) > BUILT_ROWS:
                self._built.popitem(last=False)
        else:
            self._built.move_to_end(row_id)
        return cells

    def cell_for(self, row_key: RowKey, row_index: int, column_index: int) -> object:
        return self.built_cells(str(row_key.value))[column_index]

    def cell_at(self, row_key: RowKey, column_key: ColumnKey) -> Any:
        row_id = str(row_key.value)
        if row_id not in self._events or row_key not in self.stored_cells:
            return None
        index = self.column_index.get(column_key)
        return None if index is None else self.built_cells(row_id)[index]

    def get_cell(self, row_key: RowKey | str, column_key: ColumnKey | str) -> Any:
        key = row_key if isinstance(row_key, RowKey) else RowKey(row_key)
        column = column_key if isinstance(column_key, ColumnKey) else ColumnKey(column_key)
        if key not in self.stored_cells:
            raise CellDoesNotExist(f"No cell exists for row_key={row_key!r}, column_key={column_key!r}.")
        return self.cell_at(key, column)

    def get_row(self, row_key: RowKey | str) -> list[Any]:
        key = row_key if isinstance(row_key, RowKey) else RowKey(row_key)
        if key not in self.stored_cells:
            raise RowDoesNotExist(f"Row key {row_key!r} is not valid.")
        return list(self.built_cells(str(key.value)))

    def sort_key(self, column: str) -> Callable[[str], Any]:
        """Sort keys read from the held events (no per-row key table; benchmark rows 9-12)."""
        events = self._events
        if column == "updated":
            return lambda row_id: (events[row_id].when or EPOCH, row_id)
        if column == "outcome":

            def outcome(row_id: str) -> Any:
                event = events[row_id]
                return (event.outcome_info.severity, event.when or EPOCH, row_id)

            return outcome
        if column == "desc":

            def desc(row_id: str) -> Any:
                event = events[row_id]
                return (event.headline.casefold(), event.when or EPOCH, row_id)

            return desc
        return lambda row_id: (row_id,)

    # ------------------------------------------------------------------ updates

    def held_ids(self) -> list[str]:
        """Every event the table holds: shown, and hidden by a filter."""
        return list(self._events)

    def event(self, event_id: str | None) -> FeedEvent | None:
        return self._events.get(event_id) if event_id else None

    @property
    def selected_event(self) -> FeedEvent | None:
        return self.event(self.selected_id)

    def merge(self, added: Iterable[FeedEvent] = (), removed: Iterable[str] = ()) -> None:
        """Add (or refresh) ``added`` and drop ``removed``, by id; cursor and view stay put."""
        upserts: list[tuple[str, Sequence[Any]]] = []
        for event in added:
            self._events[event.id] = event
            upserts.append((event.id, ()))
        gone = [r for r in removed if r in self._events]
        for row_id in gone:
            self._events.pop(row_id, None)
            self._built.pop(row_id, None)
        self.apply_rows(upserts, gone)

    def show_only(self, events: Iterable[FeedEvent]) -> None:
        """Show exactly ``events`` (a filter changed): the others are hidden, not dropped, so that
        clearing the filter brings 10,000 rows back without building them again."""
        wanted: dict[str, FeedEvent] = {e.id: e for e in events}
        hide = [row_id for row_id in self.ids_in_order() if row_id not in wanted]
        show = [row_id for row_id in self.hidden_ids() if row_id in wanted]
        upserts: list[tuple[str, Sequence[Any]]] = []
        for row_id, event in wanted.items():
            if row_id not in self._events:
                self._events[row_id] = event
                upserts.append((row_id, ()))
        self.apply_rows(upserts, hide=hide, show=show)

    def toggle_absolute(self) -> bool:
        self.show_absolute = not self.show_absolute
        self._repaint_column("updated")
        return self.show_absolute

    def refresh_ages(self) -> None:
        """Repaint (visible rows only) so relative ages move on."""
        self.refresh_age_column("updated")
