"""The Failures screen (``F`` from anywhere): the newest failed runs of every bot.

Fed by each project's failure watch, which also raises the alerts (``monitor/alerts.py``; the
sessions' polls ask it), the table updated in place by run id (the cursor and the view stay put).
``enter`` opens the run in its bot's Event tab, with the run selected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from botmon_tui.formatting import outcome_label, plural
from botmon_tui.monitor.alerts import FailedRun
from botmon_tui.monitor.session import ProjectSession, SessionPoll
from botmon_tui.ui.formatting import BOLD, DIM
from botmon_tui.ui.messages import OpenBot
from botmon_tui.ui.screens.base import PollingScreen, sort_bindings
from botmon_tui.ui.widgets.banner import Banner
from botmon_tui.ui.widgets.failure_table import FailureTable
from botmon_tui.ui.widgets.filter_bar import FilterBar

__all__ = ["FailuresScreen"]


class FailuresScreen(PollingScreen):
    POLL_WHAT = "polling the failed runs"
    AUTO_FOCUS = "#failures"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "back",
            "Back",
            id="failures.back",
            tooltip="Back: clear the filter, then back to where F was pressed",
        ),
        Binding(
            "enter",
            "open_run",
            "Open",
            id="failures.open",
            tooltip="Open the selected run in its bot's Event tab",
        ),
        Binding(
            "slash",
            "filter",
            "Filter",
            priority=True,
            id="failures.filter",
            tooltip="Filter by bot, outcome or what went wrong",
        ),
        *sort_bindings("failures", FailureTable.COLUMNS),
        *PollingScreen.POLL_BINDINGS,
    ]

    def __init__(self, sessions: Sequence[ProjectSession]) -> None:
        super().__init__(sessions)
        #: Run id → the session whose watch holds it (the runs shown).
        self._session_of: dict[str, ProjectSession] = {}

    def compose(self) -> ComposeResult:
        return self.compose_table(
            "Filter by bot, outcome or what went wrong (enter: keep, esc: clear)",
            FailureTable(clock=self.botmon.clock, bot_name=self.bot_name, id="failures"),
        )

    def on_mount(self) -> None:
        # What the watch holds shows at once; the poll (due now) brings what is newer.
        self.show_runs()
        self.update_status()

    @property
    def table(self) -> FailureTable:
        return self.query_one(FailureTable)

    def session(self, run: FailedRun) -> ProjectSession:
        return self._session_of.get(run.id) or self.sessions[0]

    def bot_name(self, run: FailedRun) -> str:
        name = self.botmon.alerts.bot_name(self.session(run), run.bot_id, run)
        return f"{self.session(run).label}: {name}" if self.multi else name

    # ------------------------------------------------------------------ polling

    def on_session_polled(self, session: ProjectSession, news: SessionPoll) -> None:
        if session in self.sessions and self.is_attached:
            self.show_runs()

    def on_alerts(self, session: ProjectSession, bot_ids: set[str]) -> None:
        if self.is_attached:
            self.show_runs()

    @property
    def loaded(self) -> bool:
        return any(session.failures.loaded for session in self.sessions)

    def runs(self) -> list[FailedRun]:
        """Every project's newest failed runs (each run's session remembered)."""
        runs: list[FailedRun] = []
        for session in self.sessions:
            for run in session.failures.runs:
                self._session_of[run.id] = session
                runs.append(run)
        return runs

    def show_runs(self) -> None:
        self._session_of = {}
        needle = self.filter_text.casefold()
        self.table.show(run for run in self.runs() if self.matches(run, needle))
        self.update_heading()
        self.update_empty()

    def matches(self, run: FailedRun, needle: str) -> bool:
        if not needle:
            return True
        return any(
            needle in text.casefold()
            for text in (self.bot_name(run), outcome_label(run.outcome_info), run.summary, run.id)
        )

    def filter_rows(self, text: str) -> None:
        self.show_runs()

    def after_poll(self) -> None:
        self.update_heading()

    def refresh_ages(self) -> None:
        self.table.refresh_ages()

    def status_parts(self) -> list[str]:
        watches = [session.failures for session in self.sessions if session.failures.loaded]
        if not watches:
            return []
        parts = [plural(sum(len(watch.runs) for watch in watches), "failed run")]
        if any(watch.behind for watch in watches):
            parts.append("catching up")
        invalid = sum(watch.invalid for watch in watches)
        if invalid:
            parts.append(f"{invalid} unreadable")
        return parts

    # ------------------------------------------------------------------ view

    def update_heading(self) -> None:
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        text.append("Failures", BOLD)
        if self.multi:
            text.append("  " + " · ".join(session.label for session in self.sessions), DIM)
        else:
            text.append(f"  {self.sessions[0].server_label}", DIM)
        text.append("\n")
        if self.loaded:
            bots = len({(self.session(run).index, run.bot_id) for run in self.runs()})
            text.append(f"newest failed runs of every bot · {plural(bots, 'bot')}")
            text.append(" · enter: the run in its Event tab", DIM)
        else:
            text.append("loading…", DIM)
        self.show_heading(text)

    def update_empty(self) -> None:
        table = self.table
        show = self.loaded and not table.row_count
        if show:
            empty = self.query_one("#empty", Banner)
            if self.filter_text:
                empty.show_empty(
                    f"No failed run matches the filter {self.filter_text!r}.",
                    f"{plural(len(self.runs()), 'failed run')} hidden by it: press esc to clear the filter.",
                )
            else:
                empty.show_empty(
                    "No failed runs: no bot of this project has a run with outcome 4, 8 or 12.",
                    "New failures appear here as they happen (and raise an alert on any screen).",
                )
        self.show_instead(self.query_one("#empty-area"), table, show)

    # ------------------------------------------------------------------ actions

    def action_back(self) -> None:
        if self.query_one(FilterBar).dismiss():
            return
        self.app.pop_screen()

    def action_open_run(self) -> None:
        run = self.table.selected_run
        if run is None:
            return
        session = self.session(run)
        status = session.status(run.bot_id)
        self.post_message(
            OpenBot(run.bot_id, status.bot if status else None, event_id=run.id, session=session)
        )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_run()
