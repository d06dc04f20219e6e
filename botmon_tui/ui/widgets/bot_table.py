"""The bot list: one row per bot with its last run, last outcome, recent failures, audit settings."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType

from botmon_tui.formatting import relative_age
from botmon_tui.medplum.models import Bot
from botmon_tui.monitor.summary import BotStatus
from botmon_tui.textsafe import clip
from botmon_tui.ui.formatting import DIM, app_palette, audit_text, outcome_text
from botmon_tui.ui.widgets.cells import AgeCell
from botmon_tui.ui.widgets.keyed_table import ColumnSpec, KeyedTable

__all__ = ["BotTable"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BotTable(KeyedTable):
    SPECS: ClassVar[tuple[ColumnSpec, ...]] = (
        ColumnSpec("name", "Name", flex=True, min_width=12, number=1),
        ColumnSpec("id", "ID", widths=((0, 9), (150, 36)), number=2),
        ColumnSpec("last_run", "Last run", widths=((0, 9), (100, 10)), number=3, descending_first=True),
        ColumnSpec("outcome", "Last outcome", widths=((0, 17),), number=4, descending_first=True),
        ColumnSpec("failures", "Fails", widths=((0, 5), (100, 7)), number=5, descending_first=True),
        ColumnSpec("audit", "Audit", widths=((0, 10), (120, 26)), number=6),
    )
    DEFAULT_SORT = ("name", False)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open", id="bots.open_row"),
    ]

    def __init__(self, *, clock: Callable[[], datetime], id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        #: Runs older than this were not read (see ProjectMonitor.horizon); None: all history read.
        self.horizon: datetime | None = None
        self._statuses: dict[str, BotStatus] = {}
        self._keys: dict[str, dict[str, Any]] = {}

    def _age_label(self, cell: AgeCell) -> str:
        status = self._statuses.get(cell.row_id)
        if cell.when is None and status is not None and not status.bot.writes_audit_events:
            return "—"  # its settings write no AuditEvent: the Audit column says why
        if cell.when is None:
            if self.horizon is not None and not (status is not None and status.looked_up):
                return f"> {relative_age(self.horizon, self.clock())}"
            return "never"
        return relative_age(cell.when, self.clock())

    def _missing_outcome(self, status: BotStatus) -> str:
        if self.horizon is not None and not status.looked_up and status.bot.writes_audit_events:
            return "not recent"  # older than the runs read at load (and not looked up)
        return "no runs"

    def _compact(self) -> bool:
        return self._layout_width < 120

    def cells(self, status: BotStatus) -> list[Any]:
        bot = status.bot
        failures = status.recent_failures
        palette = app_palette(self.app)
        return [
            Text(clip(bot.display_name), no_wrap=True, overflow="ellipsis"),
            Text(clip(bot.id), no_wrap=True, overflow="ellipsis"),
            AgeCell(status.last_run, bot.id, self._age_label, None if status.last_run else DIM),
            outcome_text(status.last_outcome, palette, code=False, missing=self._missing_outcome(status)),
            Text(str(failures), style=palette.fail if failures else DIM, justify="right"),
            audit_text(bot, palette, compact=self._compact()),
        ]

    def _remember(self, status: BotStatus) -> None:
        bot = status.bot
        self._statuses[bot.id] = status
        info = status.last_outcome
        self._keys[bot.id] = {
            "name": (bot.display_name.casefold(), bot.id),
            "id": (bot.id,),
            "last_run": (status.last_run or _EPOCH, bot.id),
            "outcome": (info.severity if info else -2, status.last_run or _EPOCH, bot.id),
            "failures": (status.recent_failures, status.last_run or _EPOCH, bot.id),
            "audit": (bot.writes_audit_events, bot.audit_trigger, bot.display_name.casefold(), bot.id),
        }

    def sort_value(self, row_id: str, column: str) -> Any:
        keys = self._keys.get(row_id)
        return keys[column] if keys else ()

    def status(self, bot_id: str | None) -> BotStatus | None:
        return self._statuses.get(bot_id) if bot_id else None

    @property
    def selected_bot(self) -> Bot | None:
        status = self.status(self.selected_id)
        return status.bot if status else None

    def show(self, statuses: Iterable[BotStatus], changed: set[str] | None = None) -> None:
        """Show exactly ``statuses``; rows not in ``changed`` (when given) keep their cells."""
        wanted = {s.bot.id: s for s in statuses}
        gone = [bot_id for bot_id in self._statuses if bot_id not in wanted]
        for bot_id in gone:
            self._statuses.pop(bot_id, None)
            self._keys.pop(bot_id, None)
        upserts = []
        for bot_id, status in wanted.items():
            if changed is None or bot_id in changed or bot_id not in self._statuses:
                self._remember(status)
                upserts.append((bot_id, self.cells(status)))
        self.apply_rows(upserts, gone)

    def fit_columns(self, width: int | None = None) -> None:
        compact_before = self._compact()
        super().fit_columns(width)
        if self._compact() != compact_before:
            self.restyle()  # the Audit column has a compact and a full form

    def restyle(self) -> None:
        if self._statuses:
            self.apply_rows([(bot_id, self.cells(s)) for bot_id, s in self._statuses.items()])
        super().restyle()

    def refresh_ages(self) -> None:
        self.refresh_age_column("last_run")
