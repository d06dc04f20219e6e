"""The botmon-tui application: the bot list (home) → a bot's Event tab.

``run_tui`` is what the CLI calls; :class:`BotmonApp` takes its pieces injected (client, clock,
interval, auto polling) so tests drive it deterministically against the demo backend.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from functools import partial
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.app import App
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.screen import Screen
from textual.theme import Theme
from textual.widgets import DataTable, Input

from botmon_tui.config import ConfigError
from botmon_tui.crashlog import CrashLog
from botmon_tui.formatting import duration_text
from botmon_tui.medplum.models import Bot
from botmon_tui.monitor.incidents import count_incidents
from botmon_tui.monitor.session import Connection, ProjectSession, SessionPoll
from botmon_tui.monitor.tracker import DEFAULT_REALERT
from botmon_tui.onalert import AlertCommand
from botmon_tui.textsafe import sanitize
from botmon_tui.ui.alerts import Alerts
from botmon_tui.ui.commands import BotmonCommands
from botmon_tui.ui.formatting import Palette, palette_for
from botmon_tui.ui.gcpolicy import QuietCollector
from botmon_tui.ui.keys import key_rows, unknown_keymap_ids
from botmon_tui.ui.messages import OpenBot
from botmon_tui.ui.polling import Poller
from botmon_tui.ui.screens.base import PollingScreen
from botmon_tui.ui.screens.bot_list import BotListScreen
from botmon_tui.ui.screens.events import EventScreen
from botmon_tui.ui.screens.failures import FailuresScreen
from botmon_tui.ui.screens.help import HelpScreen, Section
from botmon_tui.ui.terminal import TerminalApp
from botmon_tui.ui.textual_private import bindings_of
from botmon_tui.ui.widgets.incidents import incident_summary

__all__ = ["DEFAULT_THEME", "AppOptions", "BotmonApp", "run_tui"]

#: Textual's own default theme (used when the one asked for does not exist).
DEFAULT_THEME = "textual-dark"

#: Exit status after ctrl+c (as after SIGINT): what the README promises for "interrupted".
EXIT_INTERRUPTED = 130


#: From this terminal width the failing-now summary counts the recovered bots too.
WIDE_SUMMARY = 100

#: Mouse and focus hints the help screen adds to the generated key list.
HELP_NOTES = (
    "↑ ↓ (or j k) move the cursor; page up / page down a page; home / end (or g G) the first / last row"
    " (on the Event tab, older runs load first).",
    "Mouse: click a column header to sort by it (click again to reverse); click a row to select it.",
    "tab moves the focus between the table and the Outcome Desc pane; arrows and page keys scroll it.",
    "Times are shown in your local time zone; the selected row shows its absolute Last Updated time.",
)


def keymap_classes() -> list[type[DOMNode]]:
    """Every class whose bindings a ``[keymap]`` may rebind (by id)."""
    from botmon_tui.ui.widgets.bot_table import BotTable
    from botmon_tui.ui.widgets.event_table import EventTable
    from botmon_tui.ui.widgets.failure_table import FailureTable
    from botmon_tui.ui.widgets.outcome_pane import OutcomePane

    return [
        BotmonApp,
        BotListScreen,
        EventScreen,
        FailuresScreen,
        HelpScreen,
        BotTable,
        EventTable,
        FailureTable,
        OutcomePane,
    ]


class BotmonApp(TerminalApp):
    CSS_PATH = "botmon.tcss"
    TITLE = "botmon-tui"
    COMMANDS = App.COMMANDS | {BotmonCommands}
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit"),
        # As in k9s and htop (Textual's own ctrl+c only says how to quit; an input copies with it).
        Binding(
            "ctrl+c",
            "interrupt",
            "Quit",
            show=False,
            priority=True,
            id="app.interrupt",
            tooltip="Quit (exit status 130)",
        ),
        # Keys typed before the app took the terminal come with enter as a newline (the line
        # discipline's ICRNL): ctrl+j is enter then (``/``, a name, enter, enter still opens it).
        Binding("ctrl+j", "newline", show=False, priority=True, id="app.newline"),
        # (Every footer shows it: the Event tab's f, failed runs only, is another thing.)
        Binding(
            "F",
            "failures",
            "Failures",
            id="app.failures",
            tooltip="Failures: the newest failed runs of every bot, by cause (enter lists a cause's runs, "
            "v every run)",
        ),
        Binding("question_mark", "help", "Help", id="app.help", tooltip="This help"),
    ]

    def __init__(
        self,
        *,
        connections: Sequence[Connection],
        interval: float = 10.0,
        bot_id: str | None = None,
        clock: Callable[[], datetime] | None = None,
        auto_poll: bool = True,
        tz: tzinfo | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        crash_log: CrashLog | None = None,
        recent: timedelta = timedelta(hours=24),
        event_window: int = 10_000,
        first_page: int = 100,
        close_client: bool = False,
        keymap: dict[str, str] | None = None,
        startup_warnings: Sequence[str] = (),
        bell: bool = True,
        jitter: Callable[[], float] = random.random,
        theme: str | None = None,
        remember_theme: Callable[[str], object] | None = None,
        realert: timedelta | None = DEFAULT_REALERT,
        on_alert: AlertCommand | None = None,
    ) -> None:
        """``connections``: the projects to watch, one :class:`ProjectSession` each (``bot_id`` is
        in the first). ``realert``: how often a failing bot's incident is told again while it goes
        on (None: never); ``on_alert``: the command run for each incident event. The other
        parameters are for tests: clocks, sizes, polling by hand."""
        super().__init__()
        warnings = list(startup_warnings)
        # ``theme``: TEXTUAL_THEME or the config file's (Textual reads TEXTUAL_THEME itself too).
        wanted = theme or self.theme
        if wanted not in self.available_themes:
            warnings.append(f"unknown theme {wanted!r}: using {DEFAULT_THEME} (ctrl+p, Theme, lists them)")
            wanted = DEFAULT_THEME
        if wanted != self.theme:
            self.theme = wanted
        #: Called with the name of a theme chosen in the command palette (saves it in the config).
        self.remember_theme = remember_theme
        self._palette: Palette | None = None
        self.interval = float(interval)
        self.start_bot_id = bot_id
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.auto_poll = auto_poll
        self.tz = tz
        self.monotonic = monotonic
        self.recent = recent
        self.event_window = event_window
        self.first_page = first_page
        self.close_client = close_client
        self.startup_warnings = tuple(warnings)
        #: The randomness of the backoff after a failure (``PollSchedule``; a constant in tests).
        self.jitter = jitter
        if not connections:
            raise ValueError("BotmonApp needs at least one connection")
        #: One per watched project: its connection, its monitor and failure watch, its schedule.
        self.sessions: list[ProjectSession] = [
            ProjectSession(
                connection,
                interval=self.interval,
                recent=recent,
                clock=self.clock,
                monotonic=monotonic,
                jitter=jitter,
                index=index,
                realert=realert,
            )
            for index, connection in enumerate(connections)
        ]
        #: Each session's poll loop (started with the first screen that shows its data).
        self.session_pollers: dict[int, Poller] = {}
        # The access tokens the clients fetched are secrets too (client.secrets() includes them).
        self.crash_log = crash_log or CrashLog(secrets=self.secrets)
        #: ``bell``: ring the terminal bell when a bot starts failing (``--no-bell``).
        self.alerts = Alerts(self, bell=bell, on_alert=on_alert)
        #: The failing-now summary of every project (``! 2 failing · 1 flaky``), as of the last
        #: poll; ``None`` until a project is loaded. Every screen shows it.
        self.incident_summary: Text | None = None
        #: ``p``: every screen's polling is paused (and so are the alerts).
        self.paused = False
        #: Full garbage collections at quiet moments (see ``gcpolicy``).
        self.collector = QuietCollector(self)
        if keymap:
            # Binding id → key(s), e.g. {"events.times": "T", "poll.pause": "space"}.
            unknown = unknown_keymap_ids(keymap, keymap_classes())
            if unknown:
                warnings.append(
                    f"[keymap] names no key of botmon-tui: {', '.join(unknown)} "
                    "(? lists the keys; their ids are in the README)"
                )
                self.startup_warnings = tuple(warnings)
            self.set_keymap(keymap)

    # ------------------------------------------------------------------ facts for screens

    def secrets(self) -> list[str]:
        """Every session's credentials and current tokens (masked in the crash log)."""
        return [secret for session in self.sessions for secret in session.secrets()]

    def session_of(self, bot_id: str) -> ProjectSession:
        """The session whose project lists ``bot_id`` (the first one when none does yet)."""
        for session in self.sessions:
            if bot_id in session.project.statuses:
                return session
        return self.sessions[0]

    @property
    def palette(self) -> Palette:
        """The styles of the current theme (built on first use: the colour system is known then)."""
        if self._palette is None:
            self._palette = palette_for(self)
        return self._palette

    def _theme_changed(self, theme: Theme) -> None:
        """A theme was chosen (command palette): restyle every screen and remember the choice."""
        self._palette = None
        self.incident_summary = None
        self.update_incident_summary()
        for screen in self.polling_screens():
            screen.restyle()
        if self.remember_theme is None:
            return
        try:
            where = self.remember_theme(theme.name)
        except ConfigError as error:
            self.notify(f"Theme not saved: {error}", severity="warning", timeout=8, markup=False)
            return
        self.notify(f"Theme {theme.name} (saved in {sanitize(str(where))})", timeout=4, markup=False)

    @property
    def recent_label(self) -> str:
        hours = self.recent.total_seconds() / 3600
        return f"{hours:g}h" if hours < 48 else duration_text(self.recent.total_seconds())

    # ------------------------------------------------------------------ screens

    def get_default_screen(self) -> Screen[Any]:
        return BotListScreen(self.sessions, deferred=bool(self.start_bot_id))

    def on_mount(self) -> None:
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self.collector.start()
        for warning in self.startup_warnings:
            self.notify(sanitize(warning), title="Warning", severity="warning", timeout=20, markup=False)
        if self.start_bot_id:
            self.push_screen(EventScreen(self.sessions[0], self.start_bot_id))

    async def on_unmount(self) -> None:
        self.collector.stop()
        for poller in self.session_pollers.values():
            poller.stop()
        await self.alerts.aclose()
        if self.close_client:
            for session in self.sessions:
                await session.aclose()

    def on_resize(self, event: events.Resize) -> None:
        self.update_incident_summary()  # (compact below WIDE_SUMMARY columns)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent):
            self.collector.note_input()
        await super().on_event(event)

    def open_bot(
        self,
        bot_id: str,
        bot: Bot | None = None,
        *,
        event_id: str | None = None,
        session: ProjectSession | None = None,
    ) -> None:
        """Open a bot's Event tab (``event_id``: with that run selected; ``session``: the project
        it belongs to, else the one that lists it)."""
        session = session or self.session_of(bot_id)
        while len(self.screen_stack) > 1 and isinstance(self.screen, EventScreen | HelpScreen):
            self.pop_screen()
        self.push_screen(EventScreen(session, bot_id, bot, select_event=event_id))
        self.alerts.seen(session, bot_id)

    def action_failures(self) -> None:
        """``F``: the newest failed runs of every bot. One Failures screen at most: from a run
        opened there, ``F`` (like ``esc``) goes back to it."""
        for index, screen in enumerate(self.screen_stack):
            if isinstance(screen, FailuresScreen):
                for _ in range(len(self.screen_stack) - 1 - index):
                    self.pop_screen()
                return
        while len(self.screen_stack) > 1 and isinstance(self.screen, HelpScreen):
            self.pop_screen()
        self.push_screen(FailuresScreen(self.sessions))

    # ------------------------------------------------------------------ the sessions' polls

    def start_sessions(self) -> None:
        """Start every session's poll loop (once; the first screen that shows data asks)."""
        for session in self.sessions:
            if session.index in self.session_pollers:
                continue
            poller = Poller(
                self,
                partial(self._session_job, session),
                schedule=session.schedule,
                crash_log=self.crash_log,
                on_done=partial(self._session_polled, session),
                auto=self.auto_poll,
                monotonic=self.monotonic,
                what=f"polling {session.label}" if len(self.sessions) > 1 else "polling the project",
            )
            session.schedule.paused = self.paused
            self.session_pollers[session.index] = poller
            poller.start()

    def session_poller(self, session: ProjectSession) -> Poller | None:
        return self.session_pollers.get(session.index)

    async def _session_job(self, session: ProjectSession) -> None:
        """One poll of a project: its bots and runs (the load, then the bots idle for longer than
        the newest runs cover), then its failure watch when those runs hold a failure it does not
        know. Each step's news reaches the screens as soon as it is known."""
        first = not session.project.loaded
        news = await session.poll()
        self._session_news(session, news)
        if first and session.needs_backfill():
            self._session_news(session, await session.backfill())
        if first:
            # After the list is on screen (one full collection, once).
            self.call_after_refresh(self.collector.freeze)
        if session.wants_failures():
            failed = await session.poll_failures()
            if failed:
                # (The Failures screen's rows, the bots' kinds and signatures.)
                self.alerts_changed(session, {alert.bot_id for alert in failed})
            if session.failures_changed:  # (their rows show the kind and the cause now)
                self._session_news(session, SessionPoll(session.failures_changed))
        # What the poll changed in the project's incidents: told once, per incident.
        self.alerts.announce(session, session.incident_events())

    def _session_news(self, session: ProjectSession, news: SessionPoll) -> None:
        for screen in self.polling_screens():
            screen.on_session_polled(session, news)

    def _session_polled(self, session: ProjectSession) -> None:
        """A session's poll ended (success or failure): one toast per outage and per recovery of
        its connection, and every screen's status line."""
        schedule = session.schedule
        status = schedule.status
        named = f"{session.label}: " if len(self.sessions) > 1 else ""
        screen = self.polling_screen()
        if schedule.take_recovered():
            self.notify(
                f"{named}Connection recovered: the data is current again.",
                title="Recovered",
                timeout=6,
                markup=False,
            )
            for polling in self.polling_screens():
                if session in polling.sessions:
                    polling.note("✓ recovered")
        elif (
            status.errors_in_a_row == 1
            and status.last_error is not None
            and not (screen is not None and screen.error_in_view(session))
        ):
            kept = "the last good data stays on screen; " if status.last_success is not None else ""
            self.notify(
                f"{named}{status.last_error} ({kept}retrying)",
                title="Update failed",
                severity="warning",
                timeout=6,
                markup=False,
            )
        self.update_incident_summary()
        for polling in self.polling_screens():
            polling.after_session_poll(session)

    # ------------------------------------------------------------------ alerts and pause

    def polling_screens(self) -> list[PollingScreen]:
        """The polling screens of the stack, bottom to top."""
        return [screen for screen in self.screen_stack if isinstance(screen, PollingScreen)]

    def polling_screen(self) -> PollingScreen | None:
        """The screen that polls now: the topmost polling one (a help screen leaves it visible)."""
        screens = self.polling_screens()
        return screens[-1] if screens else None

    def watched_bot(self) -> tuple[ProjectSession, str] | None:
        """The bot whose Event tab is showing, if one is (with its session)."""
        screen = self.polling_screen()
        return (screen.session, screen.bot_id) if isinstance(screen, EventScreen) else None

    def alerts_changed(self, session: ProjectSession, bot_ids: set[str]) -> None:
        """New failures were read, incidents announced or acknowledged (or their marks went):
        every screen that shows them updates."""
        for screen in self.polling_screens():
            screen.on_alerts(session, bot_ids)

    def note_everywhere(self, text: str, style: str = "warn", seconds: float = 15.0) -> None:
        """A note on the status line of every screen (``--on-alert`` failures)."""
        for screen in self.polling_screens():
            screen.note(text, style, seconds)

    # ------------------------------------------------------------------ incidents

    def update_incident_summary(self) -> None:
        """Count every loaded project's incidents again (after a poll, an acknowledgement) and
        show the summary on every screen."""
        loaded = [session for session in self.sessions if session.project.loaded]
        if not loaded:
            return
        counts = count_incidents(
            status.incident for session in loaded for status in session.project.statuses.values()
        )
        acked = sum(
            1 for session in loaded for bot_id in session.tracker.open() if session.acknowledged(bot_id)
        )
        # (At 80 columns what is failing now only: the status line beside it keeps its room.)
        summary = incident_summary(counts, acked, self.palette, compact=self.size.width < WIDE_SUMMARY)
        if summary == self.incident_summary:
            return
        self.incident_summary = summary
        for screen in self.screen_stack:
            if isinstance(screen, PollingScreen | HelpScreen):
                screen.show_incidents(summary)

    def acknowledge(self, session: ProjectSession, bot_id: str) -> bool:
        """``a``: acknowledge the bot's incident: no toast or bell for it until it recovers (its
        recovery is still told). Says what happened in a toast; whether it was acknowledged now.
        (The Failures screen calls this with its selected row's bot.)"""
        name = self.alerts.bot_name(session, bot_id)
        named = self.alerts.named
        if session.acknowledge(bot_id):
            self.notify(
                "No more alerts for it until it recovers.",
                title=named(session, f"{name}: acknowledged"),
                timeout=4,
                markup=False,
            )
            self.alerts_changed(session, {bot_id})
            self.update_incident_summary()
            return True
        if session.acknowledged(bot_id):
            self.notify(named(session, f"{name}: already acknowledged"), timeout=3, markup=False)
        else:
            self.notify(named(session, f"{name} has no incident to acknowledge"), timeout=3, markup=False)
        return False

    def toggle_pause(self) -> bool:
        """``p``: pause or resume the polling of every screen and every project (the alerts with it)."""
        self.paused = not self.paused
        for session in self.sessions:
            poller = self.session_poller(session)
            if poller is not None and session.schedule.paused != self.paused:
                poller.toggle_pause()
        for screen in self.polling_screens():
            screen.set_paused(self.paused)
        self.notify("Polling paused: press p to resume" if self.paused else "Polling resumed", timeout=3)
        return self.paused

    def on_open_bot(self, message: OpenBot) -> None:
        self.open_bot(message.bot_id, message.bot, event_id=message.event_id, session=message.session)

    def poll_now(self, sessions: Sequence[ProjectSession] | None = None) -> None:
        """Poll projects at once (``sessions``; default: every one): ``r``, and tests, which then
        await ``workers.wait_for_complete()``. A screen's own query follows its project's poll
        when that poll saw something for it (``PollingScreen.after_session_poll``)."""
        self.start_sessions()
        for session in self.sessions if sessions is None else sessions:
            poller = self.session_poller(session)
            if poller is not None:
                poller.poll_now()

    # ------------------------------------------------------------------ help

    def help_sections(self) -> list[Section]:
        """This app's keys on the current screen, each with the key it has now (``ui/keys.py``):
        the focused widget's first (a table's ``enter``), then the screen's, then everywhere."""
        screen = self.screen
        # The app's priority keys (ctrl+c) win over what any screen or widget binds them to.
        priority = {
            key
            for key, group in bindings_of(self).key_to_bindings.items()
            if any(binding.priority for binding in group)
        }
        seen = set(priority)
        sections: list[Section] = []
        focused = screen.focused
        if focused is not None and not isinstance(focused, Input):
            rows = key_rows(self, focused, seen)
            if rows:
                sections.append(("Table" if isinstance(focused, DataTable) else "Focused", rows))
        sections.append(("This screen", key_rows(self, screen, seen)))
        for table in screen.query(DataTable):
            if table is not focused:
                sections.append(("Table", key_rows(self, table, seen)))
        seen.difference_update(priority)
        palette = ("ctrl+p", "Command palette: every action of this screen, and open a bot by name")
        sections.append(("Everywhere", [*key_rows(self, self, seen), palette]))
        return sections

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        screen = self.screen
        title = "botmon-tui — keys for " + (
            "the Event tab"
            if isinstance(screen, EventScreen)
            else "the Failures screen"
            if isinstance(screen, FailuresScreen)
            else "the bot list"
        )
        self.push_screen(HelpScreen(title, self.help_sections(), HELP_NOTES, incidents=self.incident_summary))

    # ------------------------------------------------------------------ leaving

    def action_newline(self) -> None:
        self.simulate_key("enter")

    def action_interrupt(self) -> None:
        """``ctrl+c``: quit, with the exit status of an interrupted program (130)."""
        self.exit(return_code=EXIT_INTERRUPTED)

    # ------------------------------------------------------------------ crash safety

    def unhandled_error(self, error: Exception) -> bool:
        """A bug outside the workers: log it and leave cleanly with one line, never a traceback."""
        if self.is_headless:
            return False  # tests see the real exception
        summary = self.crash_log.record(error, "handling an event")
        self.exit(1, return_code=1, message=Text(f"botmon-tui stopped: {summary}"))
        return True


@dataclass(frozen=True)
class AppOptions:
    """What the command line hands the TUI besides its connections (the rest of ``BotmonApp``'s
    parameters are for tests: clocks, sizes, polling by hand)."""

    interval: float = 10.0
    #: ``--bot``: open this bot's Event tab (in the first connection) at once.
    bot_id: str | None = None
    bell: bool = True
    theme: str | None = None
    #: Binding id → key(s), from the config file's ``[keymap]``.
    keymap: Mapping[str, str] = field(default_factory=dict)
    #: Printed before the TUI took the screen; shown in it too, or they would be hidden until it exits.
    warnings: tuple[str, ...] = ()
    #: Called with the name of a theme chosen in the command palette (saves it in the config).
    remember_theme: Callable[[str], object] | None = None
    #: ``--realert``: seconds between two alerts of one incident that goes on.
    realert: float = DEFAULT_REALERT.total_seconds()
    #: ``--on-alert``: the command run for each incident event (``None``: none).
    on_alert: AlertCommand | None = None


def run_tui(connections: Sequence[Connection], options: AppOptions) -> int:
    """Run the TUI on ``connections`` (one project each) until the user quits; the exit code."""
    app = BotmonApp(
        connections=connections,
        interval=options.interval,
        bot_id=options.bot_id,
        close_client=True,
        startup_warnings=options.warnings,
        bell=options.bell,
        theme=options.theme,
        remember_theme=options.remember_theme,
        keymap=dict(options.keymap),
        realert=timedelta(seconds=options.realert),
        on_alert=options.on_alert,
    )
    app.run()
    code = app.return_code
    return 0 if code is None else int(code)
