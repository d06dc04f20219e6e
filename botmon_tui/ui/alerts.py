"""Alerts from anywhere, per incident: whatever screen is open, a bot that starts failing interrupts once.

At the end of each project's poll (``ui/app.py``, whatever screen is showing) its session's
:meth:`~botmon_tui.monitor.session.ProjectSession.incident_events` says what changed in its
incidents (``monitor/tracker.py``), and :meth:`Alerts.announce` tells it:

* a **loud** event (a bot started failing, failed with a new signature, still fails after
  ``realert``; late or quiet) is a toast naming the bot (and the project, when several are
  watched) with its facts, and the poll rings the terminal bell once (unless ``--no-bell``); the
  bot's row on the bot list is marked until its Event tab is opened, its incident acknowledged
  (``a``) or over (``ProjectSession.unseen``);
* a **quiet** event (recovered, resumed) is a toast naming the bot, how long it failed and how
  many runs: no bell;
* later failures of the same incident only update its counts: no toast.

``--on-alert CMD`` runs CMD for each event (``onalert.AlertRunner``: an asyncio subprocess, one at a
time, off the event loop's way); what goes wrong with it is said on the status line, and never
stops the monitor.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from textual.notifications import SeverityLevel

from botmon_tui.formatting import clock_time, plural
from botmon_tui.monitor.alerts import FailedRun
from botmon_tui.monitor.session import ProjectSession
from botmon_tui.monitor.tracker import (
    FAILING,
    NEW_SIGNATURE,
    RECOVERED,
    STILL_FAILING,
    IncidentEvent,
    event_text,
    event_title,
)
from botmon_tui.onalert import AlertCommand, AlertResult, AlertRunner
from botmon_tui.textsafe import clip

if TYPE_CHECKING:
    from botmon_tui.ui.app import BotmonApp

__all__ = ["MAX_TOASTS", "TOAST_SECONDS", "Alerts"]

#: How long an alert's toast stays (the mark on the bot list stays until the bot is looked at).
TOAST_SECONDS = 10.0
#: How long a recovery's toast stays.
QUIET_TOAST_SECONDS = 6.0
#: Most toasts for one poll (a storm across many bots): the last one counts the rest.
MAX_TOASTS = 5
#: How long a failure of the ``--on-alert`` command stays on the status line (seconds).
ON_ALERT_NOTE_SECONDS = 30.0
#: The events of a failure (an error toast); ``late`` and ``quiet`` are warnings.
_FAILURES = frozenset({FAILING, NEW_SIGNATURE, STILL_FAILING})


class Alerts:
    """Announces what each project's incidents did (the session's poll hands them over)."""

    def __init__(self, app: BotmonApp, *, bell: bool, on_alert: AlertCommand | None = None) -> None:
        self.app = app
        self.bell = bell
        #: Incident events announced since start (the benchmark and the tests wait for them).
        self.announced = 0
        #: ``--on-alert``: the command run for each event.
        self.runner = (
            AlertRunner(on_alert, report=self._command_done, secrets=app.secrets) if on_alert else None
        )

    def bot_name(self, session: ProjectSession, bot_id: str, run: FailedRun | None = None) -> str:
        """The bot's current name (the bot list's), else the one the run wrote, else ``Bot/<id>``."""
        status = session.status(bot_id)
        if status is not None:
            return clip(status.bot.display_name)
        if run is not None and run.bot_display:
            return run.bot_display
        return f"Bot/{clip(bot_id)}"

    def announce(self, session: ProjectSession, events: list[IncidentEvent]) -> None:
        """Tell ``events`` (one poll of ``session``): toasts, one bell for the loud ones, marks,
        and the ``--on-alert`` command for each."""
        if not events:
            return
        app = self.app
        watching = app.watched_bot()
        if watching is not None and watching[0] is session:
            # Its Event tab is open: the new rows are in front of the user.
            session.seen(watching[1])
        self.announced += len(events)
        if self.runner is not None:
            for event in events:
                self.runner.submit(session.event_record(event))
        app.alerts_changed(session, {event.bot_id for event in events})
        # The toasts (a layout of the whole screen) once the poll's own rows are on screen: two
        # short pauses of the event loop instead of one long one.
        app.call_after_refresh(self._raise, session, events)

    def _raise(self, session: ProjectSession, events: list[IncidentEvent]) -> None:
        app = self.app
        shown = events if len(events) <= MAX_TOASTS else events[: MAX_TOASTS - 1]
        for event in shown:
            title, message = self.toast_text(session, event)
            app.notify(
                message,
                title=title,
                severity=self.severity(event),
                timeout=TOAST_SECONDS if event.loud else QUIET_TOAST_SECONDS,
                markup=False,
            )
        rest = events[len(shown) :]
        if rest:
            app.notify(
                self.rest_text(rest),
                title=self.named(session, "More incidents"),
                severity="error" if any(e.loud for e in rest) else "information",
                timeout=TOAST_SECONDS,
                markup=False,
            )
        if self.bell and any(event.loud for event in events):
            app.bell()

    @staticmethod
    def severity(event: IncidentEvent) -> SeverityLevel:
        if not event.loud:
            return "information"
        return "error" if event.event in _FAILURES else "warning"

    def named(self, session: ProjectSession, text: str) -> str:
        """``text``, after the project's label when several projects are watched."""
        return f"{session.label}: {text}" if len(self.app.sessions) > 1 else text

    def toast_text(self, session: ProjectSession, event: IncidentEvent) -> tuple[str, str]:
        """(title, message): ``lab-results-router is failing`` / ``3 failed runs since 11:37 (2m ago)
        · crash`` and the error line under it (local times); ``lab-results-router recovered`` /
        ``failed for 4m 10s, 3 failed runs``."""
        now = session.project.clock()
        clock = partial(clock_time, tz=self.app.tz, now=now)
        title = self.named(session, event_title(event))
        if event.streak is None or event.event == RECOVERED or not event.summary:
            return title, event_text(event, now, clock=clock)  # (late, quiet, resumed: one sentence)
        # A failure's error line on a line of its own (the facts first: they are short).
        return title, f"{event_text(replace(event, summary=None), now, clock=clock)}\n{event.summary}"

    def rest_text(self, events: list[IncidentEvent]) -> str:
        """The last toast of a storm: how many more, and whose (as far as they fit)."""
        names = list(dict.fromkeys(event.bot for event in events))
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3:,} more" if len(names) > 3 else "")
        return f"{plural(len(events), 'more incident change')}: {shown} (F lists the failures)"

    def seen(self, session: ProjectSession, bot_id: str) -> None:
        """The bot's Event tab is open: its mark goes."""
        if session.seen(bot_id):
            self.app.alerts_changed(session, {bot_id})

    # ------------------------------------------------------------------ --on-alert

    def _command_done(self, result: AlertResult) -> None:
        """The ``--on-alert`` command ran: a failure is said on the status line (never stops
        anything); a success is counted only."""
        if not result.ok:
            self.app.note_everywhere(f"--on-alert: {result.message}", "warn", ON_ALERT_NOTE_SECONDS)

    async def aclose(self) -> None:
        if self.runner is not None:
            await self.runner.aclose()
