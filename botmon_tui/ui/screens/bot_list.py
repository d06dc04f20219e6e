"""The home screen: every bot of the project with its last run and outcome."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from botmon_tui.formatting import plural
from botmon_tui.medplum.auth import ConnectionSettings
from botmon_tui.medplum.errors import AuthError, ForbiddenError, MedplumError, NetworkError, TimeoutError
from botmon_tui.monitor.summary import BotStatus
from botmon_tui.textsafe import sanitize
from botmon_tui.ui.formatting import BOLD, DIM
from botmon_tui.ui.messages import OpenBot
from botmon_tui.ui.screens.base import SORT, PollingScreen, sort_bindings
from botmon_tui.ui.widgets.banner import Banner
from botmon_tui.ui.widgets.bot_table import FAILING_MARK, NEW_MARK, BotTable
from botmon_tui.ui.widgets.filter_bar import FilterBar

__all__ = ["BotListScreen"]


def bot_matches(status: BotStatus, needle: str) -> bool:
    if not needle:
        return True
    bot = status.bot
    return needle in bot.display_name.casefold() or needle in bot.id.casefold()


def startup_text(problem: MedplumError | str, settings: ConnectionSettings) -> Text:
    """What a failed start says, in words: what went wrong, and what to check."""
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
    elif isinstance(problem, NetworkError | TimeoutError):
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
    text.append("\nbotmon-tui tries again within a minute: r tries now, q quits.", DIM)
    return text


class BotListScreen(PollingScreen):
    POLL_WHAT = "polling the bot list"
    WATCH_FAILURES = False  # (its own runs query says when: see poll_job)
    AUTO_FOCUS = "#bots"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_bot", "Open", id="bots.open"),
        # (A priority key: the focus is in the filter box before the next key typed is handled.)
        Binding("slash", "filter", "Filter", priority=True, id="bots.filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="bots.clear_filter"),
        Binding("0", "sort_attention", "Attention first", id="bots.sort_attention", group=SORT),
        *sort_bindings("bots", BotTable.SPECS),
        *PollingScreen.POLL_BINDINGS,
        Binding("F", "app.failures", "Failures", id="bots.failures"),
    ]

    def __init__(self, *, deferred: bool = False) -> None:
        super().__init__()
        #: ``--bot``: the Event tab opens on top at once; load the list only when it is shown.
        self.deferred = deferred
        #: ``enter`` was pressed before the list loaded: open the selected bot once it has.
        self.open_when_loaded = False

    def compose(self) -> ComposeResult:
        return self.compose_table(
            "Filter bots by name or id (enter: keep, esc: clear)",
            BotTable(clock=self.botmon.clock, unseen=self.botmon.failures.unseen, id="bots"),
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

    async def poll_job(self) -> None:
        project = self.botmon.project
        if not project.loaded:
            await project.load()
            self.show_statuses(None)
            if self.open_when_loaded:
                self.open_when_loaded = False
                self.action_open_bot()
            # Bots idle for longer than the newest runs cover: their own last run, once.
            if project.needs_backfill():
                self.show_statuses(await project.backfill())
            # After the list is on screen (one full collection, once).
            self.call_after_refresh(self.botmon.collector.freeze)
        else:
            changed = await project.poll()
            self.show_statuses(changed)
        # The alerts: the runs query above sees every new failure (without its output); the
        # failure watch is asked (one request, with the output) only for one it does not know.
        watch = self.botmon.failures
        if not watch.loaded or watch.behind or any(not watch.knows(e.id) for e in project.new_failures):
            await self.botmon.alerts.poll()

    def on_alerts(self, bot_ids: set[str]) -> None:
        if self.botmon.project.loaded:
            self.show_statuses(bot_ids & set(self.botmon.project.statuses))

    def show_statuses(self, changed: set[str] | None) -> None:
        project = self.botmon.project
        table = self.table
        table.horizon = project.horizon
        needle = self.filter_text.casefold()
        table.show([s for s in project.statuses.values() if bot_matches(s, needle)], changed)
        self.update_empty()
        self.update_heading()

    def after_poll(self) -> None:
        self.update_heading()
        if not self.botmon.project.loaded:
            self.update_empty()  # a start that failed says why

    def startup_error(self) -> MedplumError | str | None:
        """Why the bots could not be loaded (nothing shown yet), ``None`` while all is well."""
        return None if self.botmon.project.loaded else self.schedule.status.last_error

    def error_in_view(self) -> bool:
        return self.startup_error() is not None

    def refresh_ages(self) -> None:
        self.table.refresh_ages()

    def status_parts(self) -> list[str]:
        project = self.botmon.project
        if not project.loaded:
            return []
        parts = [f"{len(project.statuses)} bots"]
        if project.invalid:
            parts.append(f"{project.invalid} entries unreadable")
        return parts

    # ------------------------------------------------------------------ view

    def update_heading(self) -> None:
        app = self.botmon
        project = app.project
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        text.append("Bots", BOLD)
        unseen = app.failures.unseen
        if unseen:
            # New failures since the app started, on bots whose Event tab was not opened since.
            text.append("  ")
            text.append(f"{NEW_MARK} new failures on {plural(len(unseen), 'bot')}", self.palette.fail)
        text.append(f"  {sanitize(app.server_label)}", DIM)
        if project.loaded:
            statuses = list(project.statuses.values())
            now = sum(1 for s in statuses if s.failing_now)
            failed = sum(1 for s in statuses if s.recent_failures)
            silent = sum(1 for s in statuses if not s.bot.writes_audit_events)
            text.append("\n")
            text.append(f"{len(statuses)} bots")
            text.append(" · ", DIM)
            text.append(
                f"{FAILING_MARK} {now} failing now" if now else "0 failing now",
                self.palette.fail if now else "",
            )
            text.append(" · ", DIM)
            text.append(f"{failed} with failures in {app.recent_label}", self.palette.fail if failed else "")
            if silent:
                text.append(" · ", DIM)
                text.append(f"⚠ {silent} write no AuditEvents", self.palette.warn)
        elif self.startup_error() is not None:
            text.append("\nnot connected: the bots could not be loaded (see below)", self.palette.fail)
        else:
            text.append("\nloading…", DIM)
        self.show_heading(text)

    def update_empty(self) -> None:
        project = self.botmon.project
        table = self.table
        empty = self.query_one("#empty", Banner)
        area = self.query_one("#empty-area")
        problem = self.startup_error()
        if problem is not None:
            empty.show_error(startup_text(problem, self.botmon.settings), "Cannot load the bots")
        elif not project.loaded or table.row_count:
            self.show_instead(area, table, False)
            return
        elif self.filter_text:
            empty.show_empty(
                f"No bot matches the filter {self.filter_text!r}.",
                f"{len(project.statuses)} bots are hidden by it: press esc to clear the filter.",
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
        self.botmon.project.request_roster()
        super().action_refresh()

    def action_open_bot(self) -> None:
        bot = self.table.selected_bot
        if bot is not None:
            self.post_message(OpenBot(bot.id, bot))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_bot()

    def on_bot_table_open_wanted(self, event: BotTable.OpenWanted) -> None:
        # Keys typed ahead are not lost: "/", a name, enter, enter opens the bot once loaded.
        event.stop()
        if not self.botmon.project.loaded:
            self.open_when_loaded = True

    def action_sort_attention(self) -> None:
        self.table.sort_by_attention()

    def action_clear_filter(self) -> None:
        self.query_one(FilterBar).dismiss()

    def filter_rows(self, text: str) -> None:
        if self.botmon.project.loaded:
            self.show_statuses(set())
