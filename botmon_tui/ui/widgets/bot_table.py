"""The bot list: one row per bot with its last run, last outcome, its newest runs as a strip of
symbols, recent failures and audit settings; in attention order until a column sort is chosen."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message

from botmon_tui.formatting import relative_age
from botmon_tui.medplum.models import FAILURE_CODES, Bot
from botmon_tui.monitor.summary import BotStatus, attention_key
from botmon_tui.textsafe import clip
from botmon_tui.ui.formatting import DIM, app_palette, audit_text, outcome_strip, outcome_text
from botmon_tui.ui.widgets.cells import AgeCell
from botmon_tui.ui.widgets.keyed_table import EPOCH, ColumnSpec, KeyedTable

__all__ = ["ATTENTION", "FAILING_MARK", "NEW_MARK", "BotTable"]

#: The default order (not a column): see ``monitor.summary.attention_key``.
ATTENTION = "attention"
#: In front of the name of a bot whose last run failed (the row is in the failure colour too;
#: the symbol carries the meaning without colour).
FAILING_MARK = "!"
#: In front of the name of a bot with a failure announced since its Event tab was last opened.
NEW_MARK = "●"


class BotTable(KeyedTable):
    SPECS: ClassVar[tuple[ColumnSpec, ...]] = (
        ColumnSpec("name", "Name", flex=True, min_width=12, number=1),
        ColumnSpec("id", "ID", widths=((0, 9), (150, 36)), number=2),
        ColumnSpec("last_run", "Last run", widths=((0, 9), (100, 10)), number=3, descending_first=True),
        ColumnSpec("outcome", "Outcome", widths=((0, 10), (100, 17)), number=4, descending_first=True),
        # Its newest runs (no key of its own: keys 1-6 kept their columns; a header click sorts).
        ColumnSpec("history", "Runs", widths=((0, 6), (100, 9), (150, 12)), descending_first=True),
        ColumnSpec("failures", "Fails", widths=((0, 5), (100, 7)), number=5, descending_first=True),
        ColumnSpec("audit", "Audit", widths=((0, 10), (120, 26)), number=6),
    )
    DEFAULT_SORT = (ATTENTION, False)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter", "select_cursor", "Open", id="bots.open_row", tooltip="Open the selected bot's Event tab"
        ),
    ]

    class OpenWanted(Message):
        """``enter`` on a table with no rows yet (keys typed before the list loaded)."""

    def action_select_cursor(self) -> None:
        if not self.row_count:
            self.post_message(self.OpenWanted())
            return
        super().action_select_cursor()

    def __init__(
        self,
        *,
        clock: Callable[[], datetime],
        unseen: Mapping[str, int] | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.clock = clock
        #: Bot id → new failures not looked at yet (the alerts' marks; ``FailureWatch.unseen``).
        self.unseen: Mapping[str, int] = unseen if unseen is not None else {}
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

    def _history_width(self) -> int:
        return self.column_spec("history").width_for(max(self._layout_width, 0))

    def cells(self, status: BotStatus) -> list[Any]:
        bot = status.bot
        failures = status.recent_failures
        failing = status.failing_now
        palette = app_palette(self.app)
        # A bot whose last run failed is marked on the whole row: the mark, and the colour.
        row = palette.fail if failing else None
        name = Text(no_wrap=True, overflow="ellipsis")
        if bot.id in self.unseen:
            name.append(f"{NEW_MARK} ", palette.fail + Style(reverse=not palette.mono))
        else:
            name.append(f"{FAILING_MARK} " if failing else "  ", palette.fail)
        name.append(clip(bot.display_name), row or "")
        return [
            name,
            Text(clip(bot.id), style=row or "", no_wrap=True, overflow="ellipsis"),
            AgeCell(status.last_run, bot.id, self._age_label, row or (None if status.last_run else DIM)),
            outcome_text(
                status.last_outcome,
                palette,
                code=False,
                missing=self._missing_outcome(status),
                short=self._layout_width < 100,
            ),
            outcome_strip(status.history_outcomes, palette, self._history_width()),
            Text(str(failures), style=palette.fail if failures else DIM, justify="right"),
            audit_text(bot, palette, compact=self._compact()),
        ]

    def _remember(self, status: BotStatus) -> None:
        bot = status.bot
        self._statuses[bot.id] = status
        info = status.last_outcome
        strip = status.history_outcomes
        self._keys[bot.id] = {
            ATTENTION: attention_key(status),
            "name": (bot.display_name.casefold(), bot.id),
            "id": (bot.id,),
            "last_run": (status.last_run or EPOCH, bot.id),
            "outcome": (info.severity if info else -2, status.last_run or EPOCH, bot.id),
            "history": (sum(i.code in FAILURE_CODES for i in strip), status.last_run or EPOCH, bot.id),
            "failures": (status.recent_failures, status.last_run or EPOCH, bot.id),
            "audit": (bot.writes_audit_events, bot.audit_trigger, bot.display_name.casefold(), bot.id),
        }

    def column_spec(self, key: str) -> ColumnSpec:
        if key == ATTENTION:
            return ColumnSpec(ATTENTION, "Attention")
        return super().column_spec(key)

    def sort_by_attention(self) -> None:
        """Back to the default order: what needs attention first."""
        self.sort_by(ATTENTION, reverse=False)

    @property
    def attention_order(self) -> bool:
        return self.sort_column == ATTENTION

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
        forms_before = self._forms()
        super().fit_columns(width)
        if self._forms() != forms_before:
            # The Audit and Outcome columns have a compact and a full form; the strip a width.
            self.restyle()

    def restyle(self) -> None:
        if self._statuses:
            self.apply_rows([(bot_id, self.cells(s)) for bot_id, s in self._statuses.items()])
        super().restyle()

    def _forms(self) -> tuple[bool, bool, int]:
        return (self._compact(), self._layout_width < 100, self._history_width())

    def refresh_ages(self) -> None:
        self.refresh_age_column("last_run")
