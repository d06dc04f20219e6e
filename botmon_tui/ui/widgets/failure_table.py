"""The Failures screen's table: the newest failed runs of every bot, one row per run (by its id)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text

from botmon_tui.formatting import relative_age
from botmon_tui.monitor.alerts import FailedRun
from botmon_tui.ui.formatting import app_palette, outcome_text
from botmon_tui.ui.widgets.cells import AgeCell
from botmon_tui.ui.widgets.keyed_table import EPOCH, ColumnSpec, KeyedTable

__all__ = ["FailureTable"]


class FailureTable(KeyedTable):
    SPECS: ClassVar[tuple[ColumnSpec, ...]] = (
        ColumnSpec("bot", "Bot", widths=((0, 18), (120, 26)), number=1),
        ColumnSpec("outcome", "Outcome", widths=((0, 10), (100, 17)), number=2, descending_first=True),
        ColumnSpec("summary", "What went wrong", flex=True, min_width=16, number=3),
        ColumnSpec("when", "When", widths=((0, 8), (100, 10)), number=4, descending_first=True),
    )
    DEFAULT_SORT = ("when", True)

    def __init__(
        self, *, clock: Callable[[], datetime], bot_name: Callable[[FailedRun], str], id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.clock = clock
        #: The bot's current name for a run (the bot list's, else the one the run wrote).
        self.bot_name = bot_name
        self._runs: dict[str, FailedRun] = {}

    def _age_label(self, cell: AgeCell) -> str:
        return relative_age(cell.when, self.clock())

    def _short(self) -> bool:
        return 0 <= self._layout_width < 100

    def cells(self, run: FailedRun) -> list[Any]:
        palette = app_palette(self.app)
        return [
            Text(self.bot_name(run), no_wrap=True, overflow="ellipsis"),
            outcome_text(run.outcome_info, palette, code=False, short=self._short()),
            Text(run.summary or "(no output)", no_wrap=True, overflow="ellipsis"),
            AgeCell(run.when, run.id, self._age_label),
        ]

    def sort_value(self, row_id: str, column: str) -> Any:
        run = self._runs.get(row_id)
        if run is None:
            return ()
        when = run.when or EPOCH
        if column == "bot":
            return (self.bot_name(run).casefold(), when, row_id)
        if column == "outcome":
            return (run.outcome_info.severity, when, row_id)
        if column == "summary":
            return (run.summary.casefold(), when, row_id)
        return (when, row_id)

    def run(self, run_id: str | None) -> FailedRun | None:
        return self._runs.get(run_id) if run_id else None

    @property
    def selected_run(self) -> FailedRun | None:
        return self.run(self.selected_id)

    def show(self, runs: Iterable[FailedRun]) -> None:
        """Show exactly ``runs``, as a diff by id: rows already shown keep their cells, and the
        cursor and the view stay where they are."""
        wanted = {run.id: run for run in runs}
        gone = [run_id for run_id in self._runs if run_id not in wanted]
        for run_id in gone:
            del self._runs[run_id]
        upserts = []
        for run_id, run in wanted.items():
            if run_id not in self._runs:
                self._runs[run_id] = run
                upserts.append((run_id, self.cells(run)))
        self.apply_rows(upserts, gone)

    def restyle(self) -> None:
        if self._runs:
            self.apply_rows([(run_id, self.cells(run)) for run_id, run in self._runs.items()])
        super().restyle()

    def fit_columns(self, width: int | None = None) -> None:
        short = self._short()
        super().fit_columns(width)
        if self._short() != short:
            self.restyle()  # the Outcome column has a short and a full form

    def refresh_ages(self) -> None:
        self.refresh_age_column("when")
