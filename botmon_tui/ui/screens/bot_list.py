"""The home screen: every bot of the project with its last run and outcome."""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Sequence
from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from botmon_tui.formatting import plural
from botmon_tui.medplum.auth import ConnectionSettings
from botmon_tui.medplum.errors import AuthError, ForbiddenError, MedplumError, NetworkError, RequestTimeout
from botmon_tui.monitor.session import ProjectSession, SessionPoll
from botmon_tui.monitor.summary import BotStatus
from botmon_tui.textsafe import clip, sanitize
from botmon_tui.ui.formatting import BOLD, DIM
from botmon_tui.ui.messages import OpenBot
from botmon_tui.ui.screens.base import SORT, PollingScreen, sort_bindings
from botmon_tui.ui.widgets.banner import Banner
from botmon_tui.ui.widgets.bot_table import FAILING_MARK, NEW_MARK, BotTable, ProjectLabel, ProjectsBotTable
from botmon_tui.ui.widgets.filter_bar import FilterBar
from botmon_tui.ui.widgets.status_line import StatusInfo, retry_info_text

__all__ = ["BotListScreen"]


def bot_matches(status: BotStatus, needle: str) -> bool:
    if not needle:
        return True
    bot = status.bot
    return needle in bot.display_name.casefold() or needle in bot.id.casefold()


def startup_text(problem: MedplumError | str, settings: ConnectionSettings, retry: str) -> Text:
    """What a failed start says, in words: what went wrong, what to check, and when it is tried
    again (``retry``: the status line's words, ``retry in 2s``)."""
    base = sanitize(settings.base)
    if isinstance(problem, AuthError):
        title = f"Cannot sign in to {base}"
        source = sanitize(settings.source)
        if settings.auth_method in ("client-credentials", "basic"):
            check = (
                f"Check the client id and secret (they come from {source}): the ClientApplication "
                "must exist on this server, and the secret must be its current one "
                f"(token URL {sanitize(settings.token_endpoint)})."
            )
        else:
            check = f"Check the credentials (they come from {source}): an access token may have expired."
    elif isinstance(problem, ForbiddenError):
        title = f"Signed in to {base}, but not allowed to read the bots"
        check = "The ClientApplication's access policy must allow reading Bot and AuditEvent resources."
    elif isinstance(problem, NetworkError | RequestTimeout):
        title = f"Cannot reach {base}"
        check = (
            "Check the server's address (--base-url, MEDPLUM_BASE_URL or the profile's baseUrl), "
            "and the network between here and there (VPN, proxy, firewall)."
        )
    else:
        title = f"{base} answered with an error"
        check = "The bots appear as soon as it answers."
    text = Text(end="")
    text.append(f"{title}.\n", BOLD)
    text.append(f"\n{sanitize(str(problem))}\n")
    text.append(f"\n{check}\n")
    text.append(f"\nbotmon-tui: {retry} · r tries now · q quits", DIM)
    return text


class BotListScreen(PollingScreen):
    POLL_WHAT = "polling the bot list"
    AUTO_FOCUS = "#bots"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_bot", "Open", id="bots.open", tooltip="Open the selected bot's Event tab"),
        # (A priority key: the focus is in the filter box before the next key typed is handled.)
        Binding(
            "slash",
            "filter",
            "Filter",
            priority=True,
            id="bots.filter",
            tooltip="Filter bots by name or id (enter keeps it, esc clears it)",
        ),
        Binding(
            "escape",
            "clear_filter",
            "Clear filter",
            show=False,
            id="bots.clear_filter",
            tooltip="Clear the filter",
        ),
        Binding(
            "0",
            "sort_attention",
            "Attention first",
            id="bots.sort_attention",
            group=SORT,
            tooltip="Attention order (the default): failing now, most failures, most recent run; "
            "then bots that write no AuditEvents; then the rest",
        ),
        *sort_bindings("bots", BotTable.COLUMNS),
        *PollingScreen.POLL_BINDINGS,
        Binding(
            "a",
            "acknowledge",
            "Acknowledge",
            show=False,
            id="bots.acknowledge",
            tooltip="Acknowledge the selected bot's incident: no more toasts or bells for it until it "
            "recovers",
        ),
        Binding(
            "Y",
            "copy_incident",
            "Copy incident",
            show=False,
            id="bots.copy_incident",
            tooltip="Copy the selected bot's incident as plain text for the incident channel: its state, "
            "since, streak, kind, error line, link and input",
        ),
        Binding(
            "P",
            "next_project",
            "Project",
            id="bots.project",
            tooltip="Several projects: show one project's bots, then the next, then all of them again "
            "(as k9s switches contexts)",
        ),
    ]

    def __init__(self, sessions: Sequence[ProjectSession], *, deferred: bool = False) -> None:
        super().__init__(sessions)
        #: ``P``: the one project shown (``None``: every project).
        self.only: ProjectSession | None = None
        #: ``--bot``: the Event tab opens on top at once; load the list only when it is shown.
        self.deferred = deferred
        #: ``enter`` was pressed before the list loaded: open the selected bot once it has.
        self.open_when_loaded = False
        #: Each project's data was live at the last poll (see :meth:`repaint_projects`).
        self._live: dict[str, bool] = {}

    def compose(self) -> ComposeResult:
        return self.compose_table(
            "Filter bots by name or id (enter: keep, esc: clear)",
            (ProjectsBotTable if self.multi else BotTable)(
                clock=self.botmon.clock,
                unseen=ChainMap(*(session.unseen for session in self.sessions)),
                project=self.project_of if self.multi else None,
                id="bots",
            ),
        )

    def on_mount(self) -> None:
        self.update_heading()
        self.update_status()

    @property
    def table(self) -> BotTable:
        return self.query_one(BotTable)

    # ------------------------------------------------------------------ polling

    def wants_activity(self) -> bool:
        # With ``--bot`` the Event tab is pushed over this screen at once: its first resume is
        # not a real showing, so the list loads only when the user comes back to it.
        if self.deferred and self._resumes < 2:
            return False
        return super().wants_activity()

    @property
    def loaded(self) -> bool:
        """Some project's bots are loaded (the table shows them)."""
        return any(session.project.loaded for session in self.sessions)

    def on_session_polled(self, session: ProjectSession, news: SessionPoll) -> None:
        if session not in self.sessions or not self.is_attached:
            return
        if news.loaded:
            self.show_statuses(None)
            if self.open_when_loaded:
                self.open_when_loaded = False
                self.action_open_bot()
        else:
            self.show_statuses(set(news.changed))

    def on_alerts(self, session: ProjectSession, bot_ids: set[str]) -> None:
        if session in self.sessions and session.project.loaded and self.is_attached:
            self.show_statuses(bot_ids & set(session.project.statuses))

    def project_of(self, bot_id: str) -> ProjectLabel | None:
        """A bot's project, for its row (several projects watched): its label, padded to the
        longest, and whether its data is live (see :meth:`project_live`)."""
        width = max(cell_len(session.label) for session in self.sessions)
        for session in self.sessions:
            if bot_id in session.project.statuses:
                label = session.label + " " * (width - cell_len(session.label))
                return ProjectLabel(label, self.project_live(session))
        return None

    @staticmethod
    def project_live(session: ProjectSession) -> bool:
        return session.project.loaded and session.schedule.status.ok

    def repaint_projects(self) -> None:
        """Rows of a project whose data went stale, or came back, show it (their name cells)."""
        live = {session.label: self.project_live(session) for session in self.sessions}
        flipped = [s for s in self.sessions if self._live.get(s.label, True) != live[s.label]]
        self._live = live
        if flipped and self.multi and self.loaded:
            self.show_statuses({bot_id for session in flipped for bot_id in session.project.statuses})

    def shown_sessions(self) -> tuple[ProjectSession, ...]:
        """The projects whose bots are listed (one, after ``P``)."""
        return self.sessions if self.only is None else (self.only,)

    def statuses(self) -> list[BotStatus]:
        """Every shown project's loaded bots (the first project's first)."""
        return [
            status
            for session in self.shown_sessions()
            if session.project.loaded
            for status in session.project.statuses.values()
        ]

    def show_statuses(self, changed: set[str] | None) -> None:
        table = self.table
        horizons = [s.project.horizon for s in self.sessions if s.project.loaded and s.project.horizon]
        table.horizon = max(horizons) if horizons else None
        needle = self.filter_text.casefold()
        table.show([s for s in self.statuses() if bot_matches(s, needle)], changed)
        self.update_empty()
        self.update_heading()

    def update_status(self) -> None:
        super().update_status()
        if not self.loaded and self.startup_error() is not None:
            self.update_empty()  # the panel's retry counts down with the status line's

    def after_poll(self) -> None:
        self.repaint_projects()
        self.update_heading()
        if not self.loaded:
            self.update_empty()  # a start that failed says why

    def startup_error(self) -> tuple[ProjectSession, MedplumError | str] | None:
        """Why no bots could be loaded (nothing shown yet), ``None`` while all is well or some
        project's bots are shown (a project that failed alone is named in the heading)."""
        if self.loaded:
            return None
        for session in self.sessions:
            error = session.schedule.status.last_error
            if error is not None:
                return session, error
        return None

    def error_in_view(self, session: ProjectSession | None = None) -> bool:
        problem = self.startup_error()
        return problem is not None and (session is None or problem[0] is session)

    def refresh_ages(self) -> None:
        self.table.refresh_ages()

    def status_info(self) -> StatusInfo:
        info = super().status_info()
        # A name longer than its cell (more than 24 characters at 80 columns) is whole here.
        info.lead = self.table.selected_name() if self.loaded else None
        return info

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table is self.table:
            self.update_status()

    def status_parts(self) -> list[str]:
        loaded = [session.project for session in self.shown_sessions() if session.project.loaded]
        if not loaded:
            return []
        parts = [plural(sum(len(project.statuses) for project in loaded), "bot")]
        invalid = sum(project.invalid for project in loaded)
        if invalid:
            parts.append(f"{invalid} entries unreadable")
        return parts

    # ------------------------------------------------------------------ view

    def update_heading(self) -> None:
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        text.append("Bots", BOLD)
        unseen = sum(len(session.unseen) for session in self.sessions)
        if unseen:
            # New failures since the app started, on bots whose Event tab was not opened since.
            text.append("  ")
            text.append(f"{NEW_MARK} new failures on {plural(unseen, 'bot')}", self.palette.fail)
        if self.multi:
            text.append("  ")
            text.append_text(self.project_counts())
        else:
            text.append(f"  {self.sessions[0].server_label}", DIM)
        if self.loaded:
            statuses = self.statuses()
            now = sum(1 for s in statuses if s.failing_now)
            failed = sum(1 for s in statuses if s.recent_failures)
            silent = sum(1 for s in statuses if not s.bot.writes_audit_events)
            text.append("\n")
            if self.only is not None:
                text.append(f"{self.only.label} only", self.palette.accent)
                text.append(" (P) · ", DIM)
            text.append(plural(len(statuses), "bot"))
            text.append(" · ", DIM)
            text.append(
                f"{FAILING_MARK} {now} failing now" if now else "0 failing now",
                self.palette.fail if now else "",
            )
            text.append(" · ", DIM)
            text.append(
                f"{failed} with failures in {self.botmon.recent_label}", self.palette.fail if failed else ""
            )
            if silent:
                text.append(" · ", DIM)
                text.append(f"⚠ {silent} write no AuditEvents", self.palette.warn)

        elif self.startup_error() is not None:
            text.append("\nnot connected: the bots could not be loaded (see below)", self.palette.fail)
        else:
            text.append("\nloading…", DIM)
        self.show_heading(text)

    def project_counts(self) -> Text:
        """Each project in a few words: ``prod ! 2 failing · staging ✓ · qa ✗ not connected``."""
        text = Text(end="")
        for number, session in enumerate(self.sessions):
            if number:
                text.append(" · ", DIM)
            shown = self.only is None or session is self.only
            text.append(session.label, BOLD if session is self.only else "" if shown else DIM)
            if not self.project_live(session):
                loaded = session.project.loaded
                text.append(" ✗ not connected" if not loaded else " ✗ stale", self.palette.fail)
                continue
            failing = sum(1 for s in session.project.statuses.values() if s.failing_now)
            if failing:
                text.append(f" {FAILING_MARK} {failing} failing", self.palette.fail)
            else:
                text.append(" ✓", self.palette.ok)
        return text

    def update_empty(self) -> None:
        table = self.table
        empty = self.query_one("#empty", Banner)
        area = self.query_one("#empty-area")
        problem = self.startup_error()
        if problem is not None:
            session, error = problem
            retry = retry_info_text(self.status_info())
            empty.show_error(startup_text(error, session.settings, retry), "Cannot load the bots")
        elif not self.loaded or table.row_count:
            self.show_instead(area, table, False)
            return
        elif self.filter_text:
            empty.show_empty(
                f"No bot matches the filter {self.filter_text!r}.",
                f"{plural(len(self.statuses()), 'bot')} hidden by it: press esc to clear the filter.",
            )
        else:
            empty.show_empty(
                "This project has no bots.",
                "Create one in the Medplum app (Project admin → Bots), or check that these credentials "
                "can read Bot resources.",
            )
        self.show_instead(area, table, True)

    # ------------------------------------------------------------------ actions

    def action_refresh(self) -> None:
        # A manual refresh reads the whole bot list: deleted bots go (polls only see changes).
        for session in self.sessions:
            session.project.request_roster()
        super().action_refresh()

    def action_open_bot(self) -> None:
        bot = self.table.selected_bot
        if bot is not None:
            self.post_message(OpenBot(bot.id, bot))

    def action_acknowledge(self) -> None:
        bot = self.table.selected_bot
        if bot is not None:
            self.botmon.acknowledge(self.botmon.session_of(bot.id), bot.id)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_bot()

    def on_bot_table_open_wanted(self, event: BotTable.OpenWanted) -> None:
        # Keys typed ahead are not lost: "/", a name, enter, enter opens the bot once loaded.
        event.stop()
        if not self.loaded:
            self.open_when_loaded = True

    def action_copy_incident(self) -> None:
        """``Y``: the selected bot's incident as plain text (its newest failed run's link and input)."""
        status = self.table.status(self.table.selected_id)
        if status is None:
            self.notify("No bot selected: nothing to copy", timeout=3)
            return
        session = self.botmon.session_of(status.bot.id)
        name = clip(status.bot.display_name)
        text = session.incident_text(status.bot.id, name, now=self.now, several=self.multi)
        self.copy_text(text, f"the incident of {name}")

    def action_sort_attention(self) -> None:
        self.table.sort_by_attention()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # ``P`` only where there is more than one project (hidden from the footer otherwise).
        return self.multi if action == "next_project" else True

    def action_next_project(self) -> None:
        """``P``: the next project alone, and after the last one every project again."""
        sessions = list(self.sessions)
        if len(sessions) < 2:
            return
        at = -1 if self.only is None else sessions.index(self.only)
        self.show_project(sessions[at + 1] if at + 1 < len(sessions) else None)

    def show_project(self, session: ProjectSession | None) -> None:
        """List ``session``'s bots only (``None``: every project's)."""
        self.only = session
        self.show_statuses(None)
        self.table.show_top()
        self.update_status()
        where = "every project" if session is None else f"project {session.label} only (P: the next)"
        self.notify(f"Showing {where}", timeout=3, markup=False)

    def action_clear_filter(self) -> None:
        self.query_one(FilterBar).dismiss()

    def filter_rows(self, text: str) -> None:
        if self.loaded:
            self.show_statuses(set())
