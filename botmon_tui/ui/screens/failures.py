"""The Failures screen (``F`` from anywhere): the newest failed runs of every bot.

Fed by the failure watch that also raises the alerts (``monitor/alerts.py``): one project-wide
query per poll, the table updated in place by run id (the cursor and the view stay put).
``enter`` opens the run in its bot's Event tab, with the run selected.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from botmon_tui.formatting import outcome_label, plural
from botmon_tui.monitor.alerts import FailedRun
from botmon_tui.textsafe import sanitize
from botmon_tui.ui.formatting import BOLD, DIM
from botmon_tui.ui.messages import OpenBot
from botmon_tui.ui.screens.base import PollingScreen, sort_bindings
from botmon_tui.ui.widgets.banner import Banner
from botmon_tui.ui.widgets.failure_table import FailureTable
from botmon_tui.ui.widgets.filter_bar import FilterBar

__all__ = ["FailuresScreen"]


class FailuresScreen(PollingScreen):
    POLL_WHAT = "polling the failed runs"
    WATCH_FAILURES = False  # (the watch is this screen's own query)
    AUTO_FOCUS = "#failures"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="failures.back"),
        Binding("enter", "open_run", "Open", id="failures.open"),
        Binding("slash", "filter", "Filter", priority=True, id="failures.filter"),
        *sort_bindings("failures", FailureTable.SPECS),
        *PollingScreen.POLL_BINDINGS,
    ]

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

    def bot_name(self, run: FailedRun) -> str:
        return self.botmon.alerts.bot_name(run.bot_id, run)

    # ------------------------------------------------------------------ polling

    async def poll_job(self) -> None:
        await self.botmon.alerts.poll()
        self.show_runs()

    def on_alerts(self, bot_ids: set[str]) -> None:
        if self.is_attached:
            self.show_runs()

    def show_runs(self) -> None:
        watch = self.botmon.failures
        needle = self.filter_text.casefold()
        self.table.show(run for run in watch.runs if self.matches(run, needle))
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
        watch = self.botmon.failures
        if not watch.loaded:
            return []
        parts = [plural(len(watch.runs), "failed run")]
        if watch.behind:
            parts.append("catching up")
        if watch.invalid:
            parts.append(f"{watch.invalid} unreadable")
        return parts

    # ------------------------------------------------------------------ view

    def update_heading(self) -> None:
        app = self.botmon
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        text.append("Failures", BOLD)
        text.append(f"  {sanitize(app.server_label)}", DIM)
        text.append("\n")
        if app.failures.loaded:
            bots = len({run.bot_id for run in app.failures.runs})
            text.append(f"newest failed runs of every bot · {plural(bots, 'bot')}")
            text.append(" · enter: the run in its Event tab", DIM)
        else:
            text.append("loading…", DIM)
        self.show_heading(text)

    def update_empty(self) -> None:
        watch = self.botmon.failures
        table = self.table
        show = watch.loaded and not table.row_count
        if show:
            empty = self.query_one("#empty", Banner)
            if self.filter_text:
                empty.show_empty(
                    f"No failed run matches the filter {self.filter_text!r}.",
                    f"{plural(len(watch.runs), 'failed run')} hidden by it: press esc to clear the filter.",
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
        status = self.botmon.project.statuses.get(run.bot_id)
        self.post_message(OpenBot(run.bot_id, status.bot if status else None, event_id=run.id))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_run()
