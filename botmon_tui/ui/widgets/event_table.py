"""The Event tab's table: exactly the web app's columns ID, Outcome, Outcome Desc, Last Updated."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, tzinfo
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType

from botmon_tui.medplum.models import AuditEvent
from botmon_tui.textsafe import clip, first_line
from botmon_tui.ui.formatting import absolute_time, outcome_text, relative_age
from botmon_tui.ui.widgets.cells import AgeCell
from botmon_tui.ui.widgets.keyed_table import ColumnSpec, KeyedTable

__all__ = ["EventTable"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DIM = Style(dim=True)


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
        Binding("enter", "select_cursor", "Read output", show=False, id="events.read_output"),
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
        self._events: dict[str, AuditEvent] = {}
        self._keys: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ cells

    def _age_label(self, cell: AgeCell) -> str:
        column = self.columns.get(self._updated_key)
        short = column is None or column.width < 19
        if self.show_absolute or cell.row_id == self.selected_id:
            return absolute_time(cell.when, self.tz, short=short)
        return relative_age(cell.when, self.clock())

    @property
    def _updated_key(self) -> Any:
        from textual.widgets.data_table import ColumnKey

        return ColumnKey("updated")

    def cells(self, event: AuditEvent) -> list[Any]:
        desc = first_line(event.outcomeDesc)
        return [
            Text(clip(event.id), no_wrap=True, overflow="ellipsis"),
            outcome_text(event.outcome_info),
            Text(desc, no_wrap=True, overflow="ellipsis") if desc else Text("(no output)", style=DIM),
            AgeCell(event.when, event.id, self._age_label),
        ]

    def _remember(self, event: AuditEvent) -> None:
        self._events[event.id] = event
        when = event.when or _EPOCH
        self._keys[event.id] = {
            "id": (event.id,),
            "outcome": (event.outcome_info.severity, when, event.id),
            "desc": (first_line(event.outcomeDesc).casefold(), when, event.id),
            "updated": (when, event.id),
        }

    def sort_value(self, row_id: str, column: str) -> Any:
        keys = self._keys.get(row_id)
        return keys[column] if keys else ()

    # ------------------------------------------------------------------ updates

    def event(self, event_id: str | None) -> AuditEvent | None:
        return self._events.get(event_id) if event_id else None

    @property
    def selected_event(self) -> AuditEvent | None:
        return self.event(self.selected_id)

    def merge(self, added: Iterable[AuditEvent] = (), removed: Iterable[str] = ()) -> None:
        """Add (or refresh) ``added`` and drop ``removed``, by id; cursor and view stay put."""
        upserts = []
        for event in added:
            self._remember(event)
            upserts.append((event.id, self.cells(event)))
        gone = [r for r in removed if r in self._events]
        for row_id in gone:
            self._events.pop(row_id, None)
            self._keys.pop(row_id, None)
        self.apply_rows(upserts, gone)

    def show_only(self, events: Iterable[AuditEvent]) -> None:
        """Hold exactly ``events`` (a filter changed): rows already shown stay, others come and go."""
        wanted: dict[str, AuditEvent] = {e.id: e for e in events}
        gone = [row_id for row_id in self._events if row_id not in wanted]
        new = [e for row_id, e in wanted.items() if row_id not in self._events]
        self.merge(new, gone)

    def toggle_absolute(self) -> bool:
        self.show_absolute = not self.show_absolute
        self._repaint_column("updated")
        return self.show_absolute

    def refresh_ages(self) -> None:
        """Repaint (visible rows only) so relative ages move on."""
        self.refresh_age_column("updated")
