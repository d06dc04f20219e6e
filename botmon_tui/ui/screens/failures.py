"""The Failures screen (``F`` from anywhere): the failed runs of every bot, one row per cause.

Fed by each project's failure watch, which also raises the alerts (``monitor/alerts.py``; the
sessions' polls ask it), the tables updated in place by key (the cursor and the view stay put).

* **Grouped** (the default): one row per error signature (``monitor.incidents.group_failures``):
  one cause across runs, bots and projects, with how many runs on how many bots, first and last
  seen, and whether a bot is failing with it now. ``enter`` lists that cause's runs (``esc``: back).
* **Runs** (``v``, and a cause's runs): one row per failed run, newest first; ``enter`` opens the
  run in its bot's Event tab, with the run selected.

``y``, ``c`` and ``l`` copy the selected run's id, whole output and web-app link, as on the Event
tab (on a cause: its newest run's); ``Y`` copies the incident as plain text for the incident
channel (the selected run's bot's incident; on a cause, the cause across its bots); ``a``
acknowledges the selected run's bot's incident (the app's ``acknowledge``, as on the bot list).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from botmon_tui.formatting import outcome_label, plural
from botmon_tui.medplum.errors import MedplumError
from botmon_tui.monitor.alerts import FailedRun
from botmon_tui.monitor.incidents import FailureGroup, group_counts, group_failures, group_report
from botmon_tui.monitor.session import ProjectSession, SessionPoll
from botmon_tui.textsafe import ansi_text, clip, sanitize
from botmon_tui.ui.formatting import BOLD, DIM
from botmon_tui.ui.messages import OpenBot
from botmon_tui.ui.screens.base import PollingScreen, sort_bindings
from botmon_tui.ui.widgets.banner import Banner
from botmon_tui.ui.widgets.failure_table import FailureTable
from botmon_tui.ui.widgets.filter_bar import FilterBar
from botmon_tui.ui.widgets.group_table import GroupTable

__all__ = ["COPY_BINDINGS", "INCIDENT_BINDING", "FailuresScreen"]

#: ``y``, ``c``, ``l``: the same keys, and words, as on the Event tab.
COPY_BINDINGS: list[BindingType] = [
    Binding(
        "y",
        "copy('id')",
        "Copy id",
        show=False,
        id="failures.copy_id",
        tooltip="Copy the selected run's id (on a cause: its newest run's)",
    ),
    Binding(
        "c",
        "copy('output')",
        "Copy output",
        show=False,
        id="failures.copy_output",
        tooltip="Copy the selected run's whole output, as shown (one request: the list holds its error line)",
    ),
    Binding(
        "l",
        "copy('link')",
        "Copy link",
        show=False,
        id="failures.copy_link",
        tooltip="Copy the selected run's web-app link (on a cause: its newest run's)",
    ),
]
#: ``Y``: the incident as plain text (the bot list and the Event tab have it too).
INCIDENT_BINDING = Binding(
    "Y",
    "copy_incident",
    "Copy incident",
    show=False,
    id="failures.copy_incident",
    tooltip="Copy the incident as plain text for the incident channel: the bot, its state, since, "
    "streak, kind, error line, link and input (on a cause: the cause across its bots)",
)


class FailuresScreen(PollingScreen):
    POLL_WHAT = "polling the failed runs"
    AUTO_FOCUS = "#failure-groups"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "back",
            "Back",
            id="failures.back",
            tooltip="Back: clear the filter, then from a cause's runs to the causes, then back to where "
            "F was pressed",
        ),
        Binding(
            "enter",
            "open",
            "Open",
            id="failures.open",
            tooltip="On a cause: its runs; on a run: the run in its bot's Event tab",
        ),
        Binding(
            "slash",
            "filter",
            "Filter",
            priority=True,
            id="failures.filter",
            tooltip="Filter by bot, outcome, kind or what went wrong",
        ),
        # (One key, its footer word saying what it shows next: two bindings, one shown at a time.)
        Binding(
            "v",
            "view('runs')",
            "Runs",
            id="failures.runs",
            tooltip="Every failed run, newest first (v again: one row per cause)",
        ),
        Binding(
            "v",
            "view('causes')",
            "Causes",
            id="failures.causes",
            tooltip="One row per cause (the default: v again for every run)",
        ),
        *sort_bindings("failures", FailureTable.COLUMNS),
        *sort_bindings("failures.groups", GroupTable.COLUMNS, action="sort_groups"),
        *PollingScreen.POLL_BINDINGS,
        *COPY_BINDINGS,
        INCIDENT_BINDING,
        Binding(
            "a",
            "acknowledge",
            "Acknowledge",
            show=False,
            id="failures.acknowledge",
            tooltip="Acknowledge the incident of the selected run's bot (on a cause: its newest run's): "
            "no more toasts or bells for it until it recovers",
        ),
    ]

    def __init__(self, sessions: Sequence[ProjectSession]) -> None:
        super().__init__(sessions)
        #: Run id → the session whose watch holds it (the runs shown).
        self._session_of: dict[str, ProjectSession] = {}
        #: One row per cause (``v``: one per run).
        self.grouped = True
        #: The cause whose runs are listed (``enter`` on a cause), by its signature's key.
        self.group_key: str | None = None
        #: What the watches held at the last :meth:`show_runs`: the runs and their causes.
        self._shown: tuple[list[FailedRun], list[FailureGroup]] = ([], [])

    def compose(self) -> ComposeResult:
        return self.compose_table(
            "Filter by bot, outcome, kind or what went wrong (enter: keep, esc: clear)",
            GroupTable(clock=self.botmon.clock, bot_names=self.bot_names, id="failure-groups"),
            FailureTable(clock=self.botmon.clock, bot_name=self.bot_name, id="failures"),
        )

    def on_mount(self) -> None:
        # What the watch holds shows at once; the poll (due now) brings what is newer.
        self.show_runs()
        self.update_status()

    @property
    def showing_groups(self) -> bool:
        return self.grouped and self.group_key is None

    @property
    def table(self) -> FailureTable | GroupTable:
        """The table shown: the causes, or the runs."""
        return self.groups_table if self.showing_groups else self.runs_table

    @property
    def runs_table(self) -> FailureTable:
        return self.query_one(FailureTable)

    @property
    def groups_table(self) -> GroupTable:
        return self.query_one(GroupTable)

    def session(self, run: FailedRun) -> ProjectSession:
        return self._session_of.get(run.id) or self.sessions[0]

    def bot_name(self, run: FailedRun) -> str:
        name = self.botmon.alerts.bot_name(self.session(run), run.bot_id, run)
        return f"{self.session(run).label}: {name}" if self.multi else name

    def bot_names(self, group: FailureGroup) -> list[str]:
        """The cause's bots' names, the most recently failed first (one run each)."""
        names: dict[tuple[int, str], str] = {}
        for run in group.runs:
            key = (self.session(run).index, run.bot_id)
            if key not in names:
                names[key] = self.bot_name(run)
        return list(names.values())

    # ------------------------------------------------------------------ polling

    def on_session_polled(self, session: ProjectSession, news: SessionPoll) -> None:
        if session in self.sessions and self.is_attached:
            self.show_runs()

    def on_alerts(self, session: ProjectSession, bot_ids: set[str]) -> None:
        if self.is_attached:
            self.show_runs()

    @property
    def loaded(self) -> bool:
        return any(session.failure_watch.loaded for session in self.sessions)

    def runs(self) -> list[FailedRun]:
        """Every project's newest failed runs (each run's session remembered)."""
        runs: list[FailedRun] = []
        for session in self.sessions:
            for run in session.failure_watch.runs:
                self._session_of[run.id] = session
                runs.append(run)
        return runs

    def ongoing(self, run: FailedRun) -> bool:
        """``run`` is the newest failed run of a bot failing now (its cause goes on)."""
        status = self.session(run).status(run.bot_id)
        if status is None or status.incident.state != "failing" or status.incident.streak is None:
            return False
        return status.incident.streak.last_id == run.id

    def groups(self, runs: Sequence[FailedRun]) -> list[FailureGroup]:
        return group_failures(runs, ongoing=self.ongoing)

    def show_runs(self) -> None:
        """Both tables from what the watches hold, as diffs (the hidden one too: switching is
        instant, and its cursor is where it was left)."""
        self._session_of = {}
        needle = self.filter_text.casefold()
        runs = self.runs()
        groups = self.groups(runs)
        self._shown = (runs, groups)
        if self.group_key is not None:
            held = next((group for group in groups if group.signature.key == self.group_key), None)
            keys = {run.id for run in held.runs} if held is not None else set()
            shown = [run for run in runs if run.id in keys]
        else:
            shown = runs
        self.runs_table.show(run for run in shown if self.matches(run, needle))
        self.groups_table.show_groups(group for group in groups if self.group_matches(group, needle))
        self.update_heading()
        self.update_empty()

    def matches(self, run: FailedRun, needle: str) -> bool:
        if not needle:
            return True
        return any(
            needle in text.casefold()
            for text in (
                self.bot_name(run),
                outcome_label(run.outcome_info),
                run.kind,
                run.summary,
                run.id,
            )
        )

    def group_matches(self, group: FailureGroup, needle: str) -> bool:
        if not needle:
            return True
        texts = (group.signature.text, group.example, group.newest.kind, *self.bot_names(group))
        return any(needle in text.casefold() for text in texts)

    def filter_rows(self, text: str) -> None:
        self.show_runs()

    def after_poll(self) -> None:
        self.update_heading()

    def refresh_ages(self) -> None:
        self.table.refresh_ages()

    def status_parts(self) -> list[str]:
        watches = [session.failure_watch for session in self.sessions if session.failure_watch.loaded]
        if not watches:
            return []
        parts = [plural(sum(len(watch.runs) for watch in watches), "failed run")]
        if self.showing_groups:
            parts.append(plural(self.groups_table.row_count, "cause"))
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
        if not self.loaded:
            text.append("loading…", DIM)
        elif self.group_key is not None:
            group = self.groups_table.group(self.group_key)
            if group is not None:
                text.append(group_counts(group))
                text.append(" · ", DIM)
                if group.ongoing:
                    text.append("ongoing", self.palette.fail)
                    text.append(" · ", DIM)
                text.append(group.signature.text)
            text.append(" · esc: every cause", DIM)
        else:
            runs, groups = self._shown
            bots = len({(self.session(run).index, run.bot_id) for run in runs})
            if self.grouped:
                ongoing = sum(1 for group in groups if group.ongoing)
                text.append(f"{plural(len(groups), 'cause')} of {plural(len(runs), 'failed run')}")
                text.append(f" · {plural(bots, 'bot')}")
                if ongoing:
                    text.append(" · ", DIM)
                    text.append(f"{ongoing} ongoing", self.palette.fail)
                text.append(" · enter: runs · v: all runs", DIM)  # (80 columns: fits beside the counts)
            else:
                text.append(f"newest failed runs of every bot · {plural(bots, 'bot')}")
                text.append(" · enter: the run in its Event tab · v: by cause", DIM)
        self.show_heading(text)

    def update_empty(self) -> None:
        table = self.table
        other = self.runs_table if table is self.groups_table else self.groups_table
        other.display = False
        show = self.loaded and not table.row_count
        if show:
            empty = self.query_one("#empty", Banner)
            if self.filter_text:
                empty.show_empty(
                    f"No failed run matches the filter {self.filter_text!r}.",
                    f"{plural(len(self.runs()), 'failed run')} hidden by it: press esc to clear the filter.",
                )
            elif self.group_key is not None:
                empty.show_empty(
                    "This cause's runs are no longer among the newest failed runs.",
                    "Press esc for every cause.",
                )
            else:
                empty.show_empty(
                    "No failed runs: no bot of this project has a run with outcome 4, 8 or 12.",
                    "New failures appear here as they happen (and raise an alert on any screen).",
                )
        area = self.query_one("#empty-area")
        if area.display != show or table.display == show:
            area.display = show
            table.display = not show

    def switch_view(self) -> None:
        """The other table is shown now (a cause opened or left, ``v``): rows, heading, focus."""
        self.show_runs()
        self.table.focus()
        self.update_status()
        self.refresh_bindings()

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The number keys sort the table shown (the footer and the help show its columns).
        if action == "sort":
            return not self.showing_groups
        if action == "sort_groups":
            return self.showing_groups
        if action == "view":
            return (parameters == ("runs",)) == self.grouped
        return True

    def action_sort_groups(self, number: int) -> None:
        self.groups_table.sort_by_number(number)

    def action_back(self) -> None:
        if self.query_one(FilterBar).dismiss():
            return
        if self.group_key is not None:
            self.group_key = None
            self.switch_view()
            return
        self.app.pop_screen()

    def action_view(self, view: str) -> None:
        """``v``: every failed run (``runs``) / one row per cause (``causes``)."""
        self.grouped = view == "causes"
        self.group_key = None
        self.switch_view()
        said = "one row per cause" if self.grouped else "every failed run"
        self.notify(f"Failures: {said}", timeout=2)

    def action_open(self) -> None:
        if self.showing_groups:
            self.open_group()
        else:
            self.action_open_run()

    def open_group(self) -> None:
        """``enter`` on a cause: its runs (the run list, only them; ``esc``: back)."""
        group = self.groups_table.selected_group
        if group is None:
            return
        self.group_key = group.signature.key
        self.switch_view()
        self.runs_table.show_top()

    def action_open_run(self) -> None:
        run = self.runs_table.selected_run
        if run is None:
            return
        session = self.session(run)
        status = session.status(run.bot_id)
        self.post_message(
            OpenBot(run.bot_id, status.bot if status else None, event_id=run.id, session=session)
        )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def selected_run(self) -> FailedRun | None:
        """The run a copy key speaks of: the selected run, or the selected cause's newest."""
        if self.showing_groups:
            group = self.groups_table.selected_group
            return group.newest if group is not None else None
        return self.runs_table.selected_run

    def action_copy(self, what: str) -> None:
        """``y`` / ``c`` / ``l``: the run's id, whole output or web-app link (as on the Event tab)."""
        run = self.selected_run()
        if run is None:
            self.notify("No run selected: nothing to copy", timeout=3)
            return
        if what == "id":
            self.copy_text(sanitize(run.id), "the run's id")
        elif what == "link":
            self.copy_text(self.session(run).run_link(run.id), "the run's web-app link")
        else:
            self.run_worker(self._copy_output(run), group="copy-output", exclusive=True, exit_on_error=False)

    async def _copy_output(self, run: FailedRun) -> None:
        try:
            raw = await self.session(run).run_output(run.id)
        except MedplumError as error:
            self.notify(f"Could not read the run's output: {error}", severity="warning", markup=False)
            return
        self.copy_text(ansi_text(raw, colour=False).plain, f"the output of run {clip(run.id)[:8]}")

    def action_acknowledge(self) -> None:
        """``a``: the selected run's bot's incident acknowledged (the app's, as on the bot list)."""
        run = self.selected_run()
        if run is None:
            self.notify("No run selected", timeout=3)
            return
        self.botmon.acknowledge(self.session(run), run.bot_id)

    def action_copy_incident(self) -> None:
        """``Y``: the incident as plain text for the incident channel (on a cause: the cause)."""
        if self.showing_groups:
            group = self.groups_table.selected_group
            if group is None:
                self.notify("No cause selected: nothing to copy", timeout=3)
                return
            newest = group.newest
            text = group_report(
                group,
                self.bot_names(group),
                now=self.now,
                link=self.session(newest).run_link(newest.id),
                input_ref=newest.input_ref,
            )
            self.copy_text(text, "the cause, as plain text")
            return
        run = self.runs_table.selected_run
        if run is None:
            self.notify("No run selected: nothing to copy", timeout=3)
            return
        session = self.session(run)
        name = self.botmon.alerts.bot_name(session, run.bot_id, run)
        text = session.incident_text(run.bot_id, name, now=self.now, run=run, several=self.multi)
        self.copy_text(text, f"the incident of {name}")
