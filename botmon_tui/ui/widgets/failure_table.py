"""The Failures screen's table: the newest failed runs of every bot, one row per run (by its id)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import datetime
from typing import ClassVar

from rich.text import Text

from botmon_tui.monitor.alerts import FailedRun
from botmon_tui.ui.formatting import app_palette, outcome_text
from botmon_tui.ui.widgets.keyed_table import EPOCH, Column, KeyedTable, age_column

__all__ = ["FailureTable"]

#: The Outcome column's width for "✗ Serious Failure · platform"; narrower, it shows
#: "✗ Serious · platform", then "✗ platform" (``formatting.outcome_kind_label``).
FULL_OUTCOME = 28


class FailureTable(KeyedTable):
    """One row per failed run, from the ``FailedRun`` the table holds for it."""

    COLUMNS: ClassVar[tuple[Column[FailureTable, FailedRun], ...]] = (
        Column(
            "bot",
            "Bot",
            cell=lambda table, run: Text(table.bot_name(run), no_wrap=True, overflow="ellipsis"),
            sort=lambda table, run: (table.bot_name(run).casefold(), run.when or EPOCH, run.id),
            tooltip="the bot that ran (its name now).",
            widths=((0, 18), (120, 26)),
        ),
        Column(
            "outcome",
            "Outcome",
            cell=lambda table, run: outcome_text(
                run.outcome_info,
                app_palette(table.app),
                code=False,
                kind=run.kind,
                width=table.column_width("outcome"),
            ),
            sort=lambda table, run: (run.outcome_info.severity, run.kind, run.when or EPOCH, run.id),
            descending_first=True,
            tooltip="how the run failed: 4 minor, 8 serious, 12 major, and its kind: timeout, crash, "
            "platform, error (▲ timeout when narrow; worst first).",
            widths=((0, 10), (100, 17), (120, FULL_OUTCOME)),
        ),
        Column(
            "summary",
            "What went wrong",
            cell=lambda table, run: Text(run.summary or "(no output)", no_wrap=True, overflow="ellipsis"),
            sort=lambda table, run: (run.summary.casefold(), run.when or EPOCH, run.id),
            tooltip="the line of the run's output that says what went wrong (enter: all of it).",
            flex=True,
            least=16,
        ),
        age_column(
            "when",
            "When",
            lambda run: run.when,
            tooltip="when the run's AuditEvent was written (the newest first).",
            widths=((0, 8), (100, 10)),
        ),
    )
    DEFAULT_SORT = ("when", True)
    FOLLOWS_NEWEST = True

    def __init__(
        self, *, clock: Callable[[], datetime], bot_name: Callable[[FailedRun], str], id: str | None = None
    ) -> None:
        super().__init__(clock=clock, id=id)
        #: The bot's current name for a run (the bot list's, else the one the run wrote).
        self.bot_name: Callable[[FailedRun], str] = bot_name

    def row_id(self, row: FailedRun) -> str:
        return row.id

    def run(self, run_id: str | None) -> FailedRun | None:
        row: FailedRun | None = self.row(run_id)
        return row

    @property
    def selected_run(self) -> FailedRun | None:
        return self.run(self.selected_id)

    def show(self, rows: Iterable[FailedRun], changed: Collection[str] | None = ()) -> None:
        """Show exactly these runs, as a diff by id (a run does not change: rows already shown
        keep their cells); the cursor and the view stay where they are."""
        super().show(rows, changed)
