"""A bot's Event tab: its runs (AuditEvents) newest first, the selected run's output beside or below."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.timer import Timer
from textual.widgets import DataTable, Static

from botmon_tui.formatting import clock_time, plural
from botmon_tui.medplum.auth import app_link
from botmon_tui.medplum.errors import MedplumError, NotFoundError
from botmon_tui.medplum.models import FAILURE_CODES, Bot
from botmon_tui.monitor.cadence import explain_no_runs
from botmon_tui.monitor.deploys import Deploy, DeployHistory, deploy_before, incident_line
from botmon_tui.monitor.durations import bot_timeout
from botmon_tui.monitor.feed import EventFeed, FeedDelta, FeedEvent
from botmon_tui.monitor.incidents import incident_heading
from botmon_tui.monitor.resources import ResourceReads
from botmon_tui.monitor.session import ProjectSession, SessionPoll
from botmon_tui.resourceview import subscription_summary
from botmon_tui.symbols import NOT_LOADED
from botmon_tui.textsafe import ansi_text, clip, sanitize
from botmon_tui.ui.formatting import BOLD, DEPLOY_MARK, DIM, audit_text, history_strip
from botmon_tui.ui.screens.base import PollingScreen, sort_bindings
from botmon_tui.ui.screens.resource import ResourceScreen
from botmon_tui.ui.widgets.banner import Banner
from botmon_tui.ui.widgets.event_table import EventTable
from botmon_tui.ui.widgets.filter_bar import FilterBar
from botmon_tui.ui.widgets.footer import KeyFooter
from botmon_tui.ui.widgets.keyed_table import KeyedTable
from botmon_tui.ui.widgets.outcome_pane import OutcomePane, copyable

__all__ = ["WIDE_LAYOUT_COLUMNS", "EventScreen"]

#: From this terminal width the Outcome Desc pane sits beside the table instead of below it.
WIDE_LAYOUT_COLUMNS = 140
#: Fewer lines than this for the pane (a short terminal): enter shows it full screen.
PANE_MIN_LINES = 3
#: The pane follows the cursor this long after it moved (see ``on_data_table_row_highlighted``).
PANE_DELAY = 0.01
#: The Bot is read again after this many seconds (and on ``r``, and at every poll while it cannot
#: be found), so that a bot deleted or reconfigured while its Event tab is open is noticed. On a
#: time budget, not a poll count: an idle poll stays one request however short the interval.
BOT_RECHECK_SECONDS = 300.0
#: The same while the tab has no events (the banner explains the bot's settings: a fix shows soon).
BOT_RECHECK_EMPTY_SECONDS = 60.0
#: The feed asks the server at least this often even when the project's polls saw no new run of the
#: bot (they read bot runs only: ``type=execute``; any other AuditEvent about the bot shows then).
FEED_RECHECK_SECONDS = 60.0
#: The runs-per-hour strip under the heading covers this many clock hours (the current one last).
HISTORY_HOURS = 24
#: Opened to show one run (``select_event``) that is not on the first page: at most this many
#: pages of older events are loaded to find it.
SEEK_PAGES = 20


class EventScreen(PollingScreen):
    POLL_WHAT = "polling the bot's events"
    OWN_POLL = True
    AUTO_FOCUS = "#events-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "back",
            "Back",
            id="events.back",
            tooltip="Back: clear the filter, leave the pane, then back to the bot list",
        ),
        # (A priority key, as on the bot list: keys typed right after it go to the filter box.)
        Binding(
            "slash",
            "filter",
            "Filter",
            priority=True,
            id="events.filter",
            tooltip="Filter events by id, outcome or output text",
        ),
        *sort_bindings("events", EventTable.COLUMNS),
        Binding(
            "f",
            "toggle_failed_only",
            "Failed only",
            id="events.failed_only",
            tooltip="This bot's failed runs only (outcome 4, 8, 12, asked for from the server) / every run",
        ),
        Binding(
            "t",
            "toggle_times",
            "Times",
            id="events.times",
            tooltip="Last Updated: toggle absolute times / relative ages",
        ),
        *PollingScreen.POLL_BINDINGS,
        Binding(
            "a",
            "acknowledge",
            "Acknowledge",
            show=False,
            id="events.acknowledge",
            tooltip="Acknowledge this bot's incident: no more toasts or bells for it until it recovers",
        ),
        Binding(
            "o",
            "load_older",
            "Older events",
            show=False,
            id="events.older",
            tooltip="Load the next page of older events (also at the bottom of the table, newest first)",
        ),
        Binding(
            "n",
            "next_match(1)",
            "Next match",
            show=False,
            id="events.next_match",
            tooltip="Next match of the / search in the output (the pane scrolls to it)",
        ),
        Binding(
            "N",
            "next_match(-1)",
            "Previous match",
            show=False,
            id="events.previous_match",
            tooltip="Previous match of the / search in the output",
        ),
        Binding(
            "e",
            "next_failure(1)",
            "Next failure",
            show=False,
            id="events.next_failure",
            tooltip="Next failed run in the table (below the cursor, wrapping around)",
        ),
        Binding(
            "E",
            "next_failure(-1)",
            "Previous failure",
            show=False,
            id="events.previous_failure",
            tooltip="Previous failed run in the table",
        ),
        Binding(
            "y",
            "copy('id')",
            "Copy id",
            show=False,
            id="events.copy_id",
            tooltip="Copy the selected run's id (terminal clipboard, OSC 52: works over SSH and tmux)",
        ),
        Binding(
            "c",
            "copy('output')",
            "Copy output",
            show=False,
            id="events.copy_output",
            tooltip="Copy the selected run's whole output (as shown: no escape sequences)",
        ),
        Binding(
            "l",
            "copy('link')",
            "Copy link",
            show=False,
            id="events.copy_link",
            tooltip="Copy the selected run's web-app link",
        ),
        Binding(
            "Y",
            "copy_incident",
            "Copy incident",
            show=False,
            id="events.copy_incident",
            tooltip="Copy the bot's incident as plain text for the incident channel: its state, since, "
            "streak, kind, error line, link and input",
        ),
        Binding(
            "i",
            "open_input",
            "Input",
            show=False,
            id="events.open_input",
            tooltip="The selected run's input resource, read-only (one request when asked; y copies it)",
        ),
        Binding(
            "R",
            "copy('request')",
            "Copy request id",
            show=False,
            id="events.copy_request",
            tooltip="Copy the selected run's request id (the tracing extension's: finds it in a log search)",
        ),
        Binding(
            "T",
            "copy('trace')",
            "Copy trace id",
            show=False,
            id="events.copy_trace",
            tooltip="Copy the selected run's trace id (the tracing extension's)",
        ),
        # (Not in the footer, which is full at 80 columns: the pane's title says it.)
        Binding(
            "z",
            "zoom_log",
            "Full-screen log",
            show=False,
            id="events.zoom_log",
            tooltip="The Outcome Desc pane full screen, and back (esc too)",
        ),
        Binding(
            "tab",
            "toggle_focus",
            "Pane",
            id="events.focus_pane",
            show=False,
            tooltip="Focus the Outcome Desc pane / the table",
        ),
    ]

    def __init__(
        self,
        session: ProjectSession,
        bot_id: str,
        bot: Bot | None = None,
        *,
        select_event: str | None = None,
        failed_only: bool = False,
    ) -> None:
        """``session``: the project the bot belongs to. ``select_event``: the id of a run to select
        once loaded (paging older, bounded, if it is not among the newest). ``failed_only``: open
        in the failures-only mode (``f``)."""
        super().__init__([session])
        app = self.botmon
        self.session = session
        self.bot_id = bot_id
        self.select_event = select_event
        self.feed = self._new_feed(failed_only)
        self.feed.bot = bot
        # The first page is asked for now, before the screen is built (see EventFeed.prefetch).
        self.feed.prefetch()
        self._needle: str | None = None
        self._lock = asyncio.Lock()
        self.loading_older = False
        #: ``G`` asked for the last row: older pages load until the oldest run is held.
        self._to_bottom = False
        self.load_error: MedplumError | None = None
        self._bot_read_at = app.monotonic()  # the Bot handed over by the bot list is fresh
        self._pane_deferred = False
        self._pane_timer: Timer | None = None
        #: ``f`` was pressed and the other mode's first page is on its way.
        self.switching = False
        self._history: Text | None = None
        #: Resources read on request (``i``): inputs and Subscriptions, one GET each, kept.
        self.resources = ResourceReads(self.session.client)
        #: The bot's deploys: its history read once the first rows are on screen, then again only
        #: when the Bot read again has a new ``meta.versionId`` (a history read costs 10 units).
        self.deploys = DeployHistory(self.session.client, bot_id)
        #: The rows are on screen (the projects' poll loops may start: see may_start_sessions).
        self._first_paint_seen = False
        #: The project's poll saw a run of this bot that the feed has not asked for yet.
        self._session_news = False
        #: The project polled successfully since the feed's last request (it knows what is new).
        self._session_checked = False
        #: ``r``: the next poll asks the server whatever the project's poll says.
        self._force = False
        self._feed_polled_at = -math.inf

    def _new_feed(self, failed_only: bool) -> EventFeed:
        app = self.botmon
        outcomes = FAILURE_CODES if failed_only else ()
        return EventFeed(
            self.session.client,
            self.bot_id,
            window=app.event_window,
            first_page=app.first_page,
            outcomes=outcomes,
        )

    @property
    def failed_only(self) -> bool:
        """Only failed runs (outcome 4, 8, 12), asked for as such from the server."""
        return self.feed.failed_only

    def compose(self) -> ComposeResult:
        app = self.botmon
        yield Static("", id="heading", markup=False)
        yield Static("", id="history", markup=False)
        yield FilterBar(
            "Filter events by id, outcome or output text (enter: keep, esc: clear)", self.apply_filter
        )
        with Container(id="banner-area", classes="banner-area"):
            yield Banner(id="banner")
        with Container(id="body"):
            yield EventTable(clock=app.clock, tz=app.tz, id="events-table")
            yield OutcomePane(id="pane")
        yield from self.compose_status()
        # The keys come once the first rows are on screen (or after half a second).
        yield KeyFooter(hold=0.5)

    def on_mount(self) -> None:
        # The poll loop takes the first page (asked for in __init__) as soon as it is here.
        assert self.own_poller is not None
        self.own_poller.start()
        self._layout(self.app.size.width)
        self.update_heading()
        self.update_pane()
        self.update_status()

    def on_resize(self, event: events.Resize) -> None:
        self._layout(event.size.width)
        self.update_heading()

    def _layout(self, width: int) -> None:
        self.set_class(width >= WIDE_LAYOUT_COLUMNS, "-wide")

    @property
    def table(self) -> EventTable:
        return self.query_one(EventTable)

    @property
    def pane(self) -> OutcomePane:
        return self.query_one(OutcomePane)

    # ------------------------------------------------------------------ polling

    def may_start_sessions(self) -> bool:
        return self._first_paint_seen

    def on_session_polled(self, session: ProjectSession, news: SessionPoll) -> None:
        """The project's poll reads every new run of every bot: when it saw one of this bot, the
        feed asks for it now; when it saw none, the feed's next poll needs no request."""
        if session is self.session and (news.loaded or self.bot_id in news.changed):
            self._session_news = True

    def after_session_poll(self, session: ProjectSession) -> None:
        """The project's poll ended: when it saw a run of this bot (or on ``r``), the feed asks
        for it now, once."""
        super().after_session_poll(session)
        if session is not self.session:
            return
        ok = session.schedule.status.ok
        self._session_checked = ok
        # (Not after a failed poll of the project: the server or the credentials are in trouble,
        # and the tab's request would fail the same way. ``r`` stays pending until it is back.)
        wanted = ok and (self._session_news or self._force)
        if wanted and self.feed.loaded and self.own_poller is not None and self.wants_activity():
            self.own_poller.poll_now()

    def _feed_poll_needed(self) -> bool:
        """Whether the feed must ask the server: not when the project's poll (which reads every new
        run: ``type=execute``) polled since and saw no run of this bot. It asks anyway after
        ``FEED_RECHECK_SECONDS`` (an AuditEvent that is not a bot run), on ``r`` and while the Bot is
        re-read or missing."""
        if self._force or not self.feed.loaded or self.load_error is not None:
            return True
        if self._session_news or not self._session_checked:
            return True
        return self.botmon.monotonic() >= self._feed_polled_at + FEED_RECHECK_SECONDS

    async def poll_job(self) -> None:
        async with self._lock:
            feed = self.feed
            bot_due = (
                feed.bot is None
                or self.load_error is not None
                or self.botmon.monotonic() >= self._bot_read_at + self._bot_recheck_after()
            )
            if not bot_due and not self._feed_poll_needed():
                self._session_checked = False  # (until the project polls again)
                return
            self._force = self._session_news = self._session_checked = False
            self._feed_polled_at = self.botmon.monotonic()
            if bot_due:
                await self._read_bot()
            first = not feed.loaded
            delta = await feed.poll()
            await asyncio.sleep(0)  # keys and timers get a turn between parsing a page and the table update
            self.apply_delta(delta, first=first)

    def _bot_recheck_after(self) -> float:
        return BOT_RECHECK_EMPTY_SECONDS if self.feed.loaded and not len(self.feed) else BOT_RECHECK_SECONDS

    async def _read_bot(self) -> None:
        self._bot_read_at = self.botmon.monotonic()
        try:
            await self.feed.load_bot()
        except NotFoundError as error:
            self.load_error = NotFoundError(
                f"{error} (Bot/{self.bot_id}: deleted, or these credentials cannot read it)", status=404
            )
            self.update_banner()
            self.update_heading()
            raise self.load_error from None
        self.load_error = None
        self.update_heading()
        if self.deploys.loaded and self.deploys.stale(self._bot_version()):
            self._read_deploys()

    def _bot_version(self) -> str | None:
        bot = self.feed.bot
        return bot.meta.versionId if bot is not None and bot.meta is not None else None

    def _read_deploys(self) -> None:
        self.run_worker(self._load_deploys(), group="deploys", exclusive=True, exit_on_error=False)

    async def _load_deploys(self) -> None:
        """The bot's history (one request): its deploys on the strip, the heading's incident line
        and the pane. A failed read is said on the status line; the rest of the tab is unaffected."""
        try:
            changed = await self.deploys.refresh(self._bot_version())
        except MedplumError as error:
            self.note(f"deploys not read ({error.kind})", "warn", 10)
            return
        if changed:
            self.table.set_deploys(self.deploys.deploys)
            self.update_heading()
            self.update_history()
            self.update_pane()

    def action_acknowledge(self) -> None:
        self.botmon.acknowledge(self.session, self.bot_id)

    def action_refresh(self) -> None:
        self._bot_read_at = -math.inf  # r reads the Bot again too
        self._force = True
        super().action_refresh()

    def apply_delta(self, delta: FeedDelta, *, first: bool = False) -> None:
        table = self.table
        bot = self.feed.bot  # its timeout marks the runs that came near it (issue #17)
        table.set_timeout(bot_timeout(bot) if bot is not None else None)
        # A newer version of a row held (delta.changed) refreshes it in place.
        added = [e for e in (*delta.added, *delta.changed) if self.matches(e)]
        table.merge(added, delta.removed)
        if first and table.row_count:
            table.move_cursor(row=0, animate=False)
        if first and self.select_event is not None:
            self._seek(self.select_event)
        if delta.behind:
            self.note("many new runs: still catching up", "warn", 10)
        self.update_banner()
        self.update_history()
        if first:
            # The rows first; the selected run's output (up to 10 KiB to wrap) and the footer's
            # keys right after that frame.
            self._pane_deferred = True
            self.call_after_refresh(self._first_paint_done)
        else:
            self.update_pane()

    def _pane_due(self) -> None:
        self._pane_timer = None
        self.update_pane()

    def _first_paint_done(self) -> None:
        self._pane_deferred = False
        self._first_paint_seen = True
        if self.wants_activity():
            self.botmon.start_sessions()
        self.update_pane()
        self.query_one(KeyFooter).release()
        self._read_deploys()
        # The screen lives until it is left: out of the collector's way (thawed in on_unmount).
        self.set_timer(0.05, self.botmon.collector.freeze, name="settle-heap")

    def on_unmount(self) -> None:
        self.feed.close()
        self.botmon.collector.thaw()

    def after_poll(self) -> None:
        self.update_heading()
        self.update_banner()

    def refresh_ages(self) -> None:
        self.table.refresh_ages()
        self.update_history()

    def status_parts(self) -> list[str]:
        feed = self.feed
        if not feed.loaded:
            return []
        parts = [plural(len(feed), "failed run" if self.failed_only else "event")]
        if self.switching:
            parts.append("loading all runs…" if self.failed_only else "loading failures…")
        elif self.loading_older:
            parts.append("loading older…")
        elif feed.has_older and not feed.at_limit:
            parts.append("o: older")
        elif feed.at_limit:
            parts.append(f"window full ({feed.window})")
        if feed.invalid:
            parts.append(f"{feed.invalid} unreadable")
        return parts

    # ------------------------------------------------------------------ view

    def update_heading(self) -> None:
        bot = self.feed.bot
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        if bot is None:
            text.append(f"Bot/{clip(self.bot_id)}", BOLD)
            text.append("\nnot found" if self.load_error is not None else "\nloading…", DIM)
        else:
            name = clip(bot.display_name)
            link = app_link(self.session.app_base, "Bot", clip(bot.id), "event")
            if self.multi:
                text.append(f"{self.session.label} ", DIM)
            text.append(name, BOLD)
            if self.load_error is not None:
                text.append("  not found (deleted?)", self.palette.warn)
            # The deep link holds the id; when it does not fit, the id alone (always visible).
            if text.cell_len + 2 + len(link) <= self.size.width - 2:
                text.append(f"  {link}", DIM)
            else:
                text.append(f"  Bot/{clip(bot.id)}", DIM)
            text.append("\n")
            status = self.session.status(self.bot_id)
            incident = status.incident if status is not None else None
            failing = incident is not None and incident.state == "failing" and incident.streak is not None
            since = self.feed.failing_since() if self.feed.loaded else None
            if since is None and failing and incident is not None and incident.streak is not None:
                since = incident.streak.since  # (a streak longer than the runs the tab holds)
            state = incident_heading(incident, self.now) if incident is not None else None
            if since is not None:
                line = incident_line(since, self.deploys.deploys, self.botmon.tz, now=self.now)
                text.append(f"✗ {line}", self.palette.fail)
                if failing and state:
                    text.append(f" · {state}", self.palette.fail)
                text.append(" · ", DIM)
            elif state and incident is not None and incident.state != "failing":
                style = self.palette.ok if incident.state == "recovered" else self.palette.warn
                text.append(f"{'✓' if incident.state == 'recovered' else '!'} {state}", style)
                text.append(" · ", DIM)
            if self.failed_only:
                text.append("✗ failures only", self.palette.fail)
                text.append(" (f: all runs) · ", DIM)
            text.append("runtime ", DIM)
            text.append(clip(bot.runtimeVersion) or "—")
            text.append(" · cron ", DIM)
            text.append(clip(bot.schedule) if bot.schedule else "none")
            text.append(" · audit ", DIM)
            text.append_text(audit_text(bot, self.palette))
        self.show_heading(text)

    def update_history(self) -> None:
        """The runs-per-hour strip of the last 24 hours, from the events held (no request)."""
        feed = self.feed
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        if feed.loaded and len(feed):
            now = self.now
            hours = feed.hourly(now, HISTORY_HOURS)
            since = feed.complete_since
            # The hours that start before the oldest run held (when older ones exist) are not known.
            first = (math.floor(now.timestamp() / 3600) - HISTORY_HOURS + 1) * 3600
            unknown = 0
            if since is not None and since.timestamp() > first:
                unknown = min(HISTORY_HOURS, math.ceil((since.timestamp() - first) / 3600))
            runs = sum(r for r, _ in hours)
            failed = sum(f for _, f in hours)
            shown = [d for d in self.deploys.deploys if first <= d.at.timestamp() <= now.timestamp()]
            slots = {int((d.at.timestamp() - first) // 3600) for d in shown}
            text.append(f"{HISTORY_HOURS}h ", DIM)
            text.append_text(history_strip(hours, self.palette, unknown=unknown, deploys=slots))
            text.append(" now", DIM)
            text.append(f" · {plural(runs, 'failed run' if self.failed_only else 'run')}")
            if failed and not self.failed_only:
                text.append(" · ")
                text.append(f"✗ {failed} failed", self.palette.fail)
            elif not failed:
                text.append(" · no failure", DIM)
            if unknown:
                text.append(f" · {NOT_LOADED} not loaded", DIM)
            if shown:
                text.append(
                    f" · {DEPLOY_MARK} deploy {clock_time(shown[0].at, self.botmon.tz, now=now)}", DIM
                )
        if text != self._history:
            self._history = text
            # One line high whatever it says: no layout of the screen (which would wrap the
            # pane's output again).
            self.query_one("#history", Static).update(text, layout=False)

    def error_in_view(self, session: ProjectSession | None = None) -> bool:
        # (the banner says it; a project's error is not this screen's to show)
        return session is None and self.load_error is not None and not self.feed.loaded

    def update_banner(self) -> None:
        banner = self.query_one("#banner", Banner)
        body = self.query_one("#body", Container)
        feed = self.feed
        show = True
        if self.load_error is not None and not feed.loaded:
            # Nothing to show: say why. (Once events are shown, they stay; the status line says it.)
            message = Text(end="")
            message.append(f"Bot/{clip(self.bot_id)} was not found.\n", BOLD)
            if not isinstance(self.load_error, NotFoundError):  # (its words are the lines around)
                message.append(f"\n{clip(str(self.load_error))}\n")
            message.append(
                "\nIt may have been deleted, or these credentials cannot read it. "
                "Press esc for the bot list.",
                DIM,
            )
            banner.show_error(message)
        elif not feed.loaded or feed.bot is None:
            show = False
        elif len(feed) == 0 and self.failed_only:
            banner.show_empty(
                "No failed run of this bot (outcome 4, 8 or 12).",
                "Its AuditEvents hold only successful runs: press f to show every run.",
            )
        elif len(feed) == 0:
            # A scheduled bot that never ran: the likely causes on Medplum's side (issue #17).
            status = self.session.status(self.bot_id)
            reason = explain_no_runs(feed.bot, status.cadence if status is not None else None)
            banner.show_reason(reason, app_link(self.session.app_base, "Bot", clip(feed.bot.id)))
        elif self.table.row_count == 0 and self.filter_text:
            banner.show_empty(
                f"No event matches the filter {self.filter_text!r}.",
                f"{plural(len(feed), 'loaded event')} {'is' if len(feed) == 1 else 'are'} hidden by it: "
                "press esc to clear the filter" + (", or o to load older events." if feed.has_older else "."),
            )
        else:
            show = False
        self.show_instead(self.query_one("#banner-area"), body, show)

    def update_pane(self) -> None:
        event = self.table.selected_event
        self.pane.show(
            event,
            now=self.now,
            tz=self.botmon.tz,
            app_base=self.session.app_base,
            subscription=self._subscription_line(event),
            deploy=self._deploy_before(event),
            kind=event.failure_kind(self.table.kind_timeout) if event is not None else None,
        )

    def _deploy_before(self, event: FeedEvent | None) -> Deploy | None:
        """The deploy done within 30 minutes before the run started, if one was."""
        when = (event.started or event.when) if event is not None else None
        return deploy_before(self.deploys.deploys, when) if when is not None else None

    def _subscription_line(self, event: FeedEvent | None) -> str | None:
        """The one-line description of the run's Subscription, if it was read (never a request)."""
        found = event.subscription_entity if event is not None else None
        ref = found.what.reference if found is not None and found.what else None
        read = self.resources.peek(ref) if ref else None
        return subscription_summary(read.data) if read is not None and read.data is not None else None

    def restyle(self) -> None:
        super().restyle()
        self.update_history()
        self.update_pane()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if not self._pane_deferred:
            # In a turn of its own, after the table's repaint: wrapping a 10 KiB output takes
            # longer than a held arrow key takes to move the cursor again (one update).
            self._pane_soon()
        table = self.table
        # Only when the bottom is where older rows go: in any other order the selected row can sit
        # on the last line after a sort or a page, and each page loaded would ask for the next one.
        if (
            table.row_count
            and table.oldest_at_bottom
            and table.cursor_row >= table.row_count - 1
            and self.feed.has_older
            and not self.feed.at_limit
        ):
            self.action_load_older()

    def on_event_table_went_to_bottom(self, event: EventTable.WentToBottom) -> None:
        """``G`` lands on the last row in one press: when older runs are still to load (newest
        first), they are paged in until the oldest is held (or the window is full), the cursor
        following the bottom as each page arrives; a move of the cursor meanwhile stops it."""
        event.stop()
        feed, table = self.feed, self.table
        if not (table.oldest_at_bottom and feed.loaded and feed.has_older and not feed.at_limit):
            return
        if self.loading_older:
            self._to_bottom = True  # the page under way goes on to the end
            return
        self.loading_older = True
        self._to_bottom = True
        self.update_status()
        self.run_worker(self._load_older(), group="older", exit_on_error=False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        visible = self.pane.region.intersection(self.query_one("#body", Container).region)
        if visible.height < PANE_MIN_LINES:
            self.action_zoom_log()  # no room for the pane (a short terminal): full screen
        else:
            self.pane.focus()

    def on_keyed_table_sort_changed(self, event: KeyedTable.SortChanged) -> None:
        event.stop()
        self.update_pane()

    # ------------------------------------------------------------------ filter

    def matches(self, event: FeedEvent) -> bool:
        needle = self._needle
        if needle is None:
            return True
        info = event.outcome_info
        # Case-insensitive substring search with ``casefold``: a compiled IGNORECASE pattern
        # compares character by character, an order of magnitude slower over 10,000 outputs. The
        # whole output, at any size: what is on the last line of a 200 kB log is found too (the
        # cost is the size of the logs held: ~8 ms for 10,000 logs of 1 KiB; benchmarks/runlog.py).
        return (
            needle in event.id.casefold()
            or needle in info.display.casefold()
            or needle in info.code.casefold()
            or needle in (event.outcomeDesc or "").casefold()
        )

    def filter_rows(self, text: str) -> None:
        self._needle = text.casefold() if text else None
        self.table.show_only(e for e in self.feed.events if self.matches(e))
        self.pane.search(text)
        self.update_banner()
        # (In a turn of its own, as after a cursor move: a key that narrowed 10,000 rows to the
        # run of a 200 kB log would otherwise pay for both in one stall.)
        self._pane_soon()

    def _pane_soon(self) -> None:
        """Update the pane ``PANE_DELAY`` from now (one update for a burst of moves or keys)."""
        if self._pane_timer is not None:
            self._pane_timer.stop()
        self._pane_timer = self.set_timer(PANE_DELAY, self._pane_due, name="pane-update")

    # ------------------------------------------------------------------ actions

    def action_back(self) -> None:
        if self.maximized is not None:
            self.action_zoom_log()
            return
        if self.query_one(FilterBar).dismiss():
            return
        if self.pane.has_focus:
            self.table.focus()
            return
        self.app.pop_screen()

    def action_next_match(self, delta: int) -> None:
        """``n`` / ``N``: the next / previous match of the search in the output."""
        message = self.pane.step(delta)
        if message:
            self.notify(message, timeout=3)

    def action_next_failure(self, delta: int) -> None:
        """``e`` / ``E``: the next failed run below / above the cursor (wrapping around)."""
        table = self.table
        ids = table.ids_in_order()
        if not ids:
            return
        start = table.cursor_row
        for step in range(1, len(ids) + 1):
            row = (start + delta * step) % len(ids)
            event = table.event(ids[row])
            if event is not None and event.outcome in FAILURE_CODES:
                if (row < start) == (delta > 0) and row != start:
                    self.notify("Wrapped around to the other end of the table", timeout=2)
                table.move_cursor(row=row, animate=False)
                return
        self.notify(f"No failed run among the {plural(len(ids), 'run')} shown (f: failures only)", timeout=4)

    @contextmanager
    def _says_why(self, doing: str) -> Iterator[None]:
        """A request made on a key press that fails: a toast says why (a bug: logged, never a crash)."""
        try:
            yield
        except MedplumError as error:
            self.notify(f"Could not {doing}: {error}", severity="warning", markup=False)
        except Exception as error:
            self.notify(self.botmon.crash_log.record(error, doing), severity="error", markup=False)

    def action_copy(self, what: str) -> None:
        """``y`` / ``c`` / ``l``: the selected run's id, whole output or web-app link to the
        terminal's clipboard (OSC 52: through SSH, and tmux with ``set-clipboard on``).

        What is copied is the text as shown: escape sequences are dropped or made visible (the
        sanitizer's job), never passed on to wherever it is pasted."""
        event = self.table.selected_event
        if event is None:
            self.notify("No run selected: nothing to copy", timeout=3)
            return
        if what == "id":
            text, label = sanitize(event.id), "the run's id"
        elif what in ("request", "trace", "input"):
            found = copyable(event, what)
            if found is None:
                self.notify(
                    f"This run has no {what} id to copy" if what != "input" else "This run has no input",
                    timeout=3,
                )
                return
            text, label = found
        elif what == "output":
            text = ansi_text(event.outcomeDesc or "", colour=False).plain
            label = f"the output of run {clip(event.id)[:8]}"
        else:
            text, label = self.session.run_link(event.id), "the run's web-app link"
        self.copy_text(text, label)

    def action_copy_incident(self) -> None:
        """``Y``: the bot's incident as plain text for the incident channel (its newest failed run's
        link and input)."""
        bot = self.feed.bot
        name = clip(bot.display_name) if bot is not None else f"Bot/{clip(self.bot_id)}"
        text = self.session.incident_text(self.bot_id, name, now=self.now, several=self.multi)
        self.copy_text(text, f"the incident of {name}")

    def action_toggle_failed_only(self) -> None:
        """``f``: failures only (``outcome=4,8,12`` on the server) ⇄ every run."""
        if self.switching or not self.feed.loaded:
            return
        self.switching = True
        self.update_status()
        self.run_worker(self._switch_feed(not self.failed_only), group="mode", exit_on_error=False)

    async def _switch_feed(self, failed_only: bool) -> None:
        """Load the other mode's first page, then show it (the rows both modes hold stay as they
        are); until it is here, and if it fails, the current rows stay on screen."""
        feed = self._new_feed(failed_only)
        feed.bot = self.feed.bot
        try:
            with self._says_why("load failed runs" if failed_only else "load all runs"):
                async with self._lock:
                    await feed.load_initial()
                    await asyncio.sleep(0)
                    old, self.feed = self.feed, feed
                    old.close()
                    table = self.table
                    held = set(table.held_ids())
                    table.merge(
                        [e for e in feed.events if e.id not in held and self.matches(e)],
                        [row_id for row_id in held if row_id not in feed],
                    )
                    table.show_top()
                    self.update_heading()
                    self.update_history()
                    self.update_banner()
                    self.update_pane()
        finally:
            self.switching = False
            self.update_status()

    def action_toggle_times(self) -> None:
        absolute = self.table.toggle_absolute()
        self.notify("Last Updated: absolute times" if absolute else "Last Updated: relative ages", timeout=2)

    def action_open_input(self) -> None:
        """``i``: the selected run's input resource, read-only (one GET when asked, kept), with
        its Subscription's criteria, status and channel."""
        event = self.table.selected_event
        if event is None:
            self.notify("No run selected", timeout=3)
            return
        found = event.input_entity
        ref = found.what.reference if found is not None and found.what else None
        if not ref:
            self.notify(
                "This run names no input resource (its input was a message, not a resource)",
                timeout=4,
                markup=False,
            )
            return
        trigger = event.subscription_entity
        subscription = trigger.what.reference if trigger is not None and trigger.what else None
        self.app.push_screen(
            ResourceScreen(self.resources, ref, run=event.id, subscription=subscription),
            callback=lambda _: self.update_pane(),
        )

    def action_zoom_log(self) -> None:
        """``z``: the Outcome Desc pane full screen (and back): the way to read a long log, and
        the only one when the terminal is too short to show the pane under the table."""
        if self.maximized is not None:
            self.minimize()
            self.table.focus()
        elif self.maximize(self.pane, container=False):
            self.pane.focus()

    def action_toggle_focus(self) -> None:
        if self.pane.has_focus:
            self.table.focus()
        else:
            self.pane.focus()

    def _seek(self, event_id: str) -> None:
        """Select ``event_id``: at once if it is held, else once older pages brought it."""
        if event_id in self.feed:
            self.select_event = None
            self.table.select_id(event_id)
            return
        if not self.feed.has_older or self.feed.at_limit:
            self._not_found(event_id)
            return
        self.loading_older = True
        self.update_status()
        self.run_worker(self._load_older(until=event_id), group="older", exit_on_error=False)

    def _not_found(self, event_id: str) -> None:
        self.select_event = None
        self.notify(
            f"Run {clip(event_id)} is not among this bot's newest {len(self.feed):,} events "
            "(deleted, or older: o loads more).",
            severity="warning",
            timeout=8,
            markup=False,
        )

    def action_load_older(self) -> None:
        feed = self.feed
        if self.loading_older or not feed.loaded:
            return
        if not feed.has_older or feed.at_limit:
            if feed.at_limit:
                self.notify(
                    f"Holding the newest {plural(feed.window, 'event')}: older ones are not loaded.",
                    timeout=4,
                )
            return
        self.loading_older = True
        self.update_status()
        self.run_worker(self._load_older(), group="older", exit_on_error=False)

    async def _load_older(self, until: str | None = None) -> None:
        """One page of older events; ``until``: pages until that event is held (``SEEK_PAGES`` at
        most), then select it."""
        feed = self.feed
        try:
            with self._says_why("load older events"):
                async with self._lock:
                    pages = 0
                    while feed.has_older and not feed.at_limit:
                        if until is not None:
                            if until in feed or pages >= SEEK_PAGES:
                                break
                        elif pages and not self._to_bottom:
                            break  # one page for o; G's go on while the cursor stays at the bottom
                        delta = await feed.load_older()
                        pages += 1
                        await asyncio.sleep(0)  # (as in poll_job)
                        follow = until is None and self._to_bottom and self._at_bottom()
                        self._to_bottom = follow
                        self.apply_delta(delta)
                        if follow:
                            self.table.move_cursor(row=self.table.row_count - 1, animate=False)
                    # (in its own turn of the loop, not right after the repaint)
                    self.set_timer(0.05, self.botmon.collector.after_load, name="after-load-gc")
                if until is not None and until == self.select_event:
                    if until in feed:
                        self._seek(until)
                    else:
                        self._not_found(until)
        finally:
            self.loading_older = False
            self._to_bottom = False
            self.update_status()

    def _at_bottom(self) -> bool:
        table = self.table
        return table.oldest_at_bottom and table.cursor_row >= table.row_count - 1
