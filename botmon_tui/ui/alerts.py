"""Alerts from anywhere: a new failed run of any bot, while any screen is open, interrupts once.

Each project's :class:`~botmon_tui.monitor.alerts.FailureWatch` is polled as part of its
session's poll (``ui/app.py``), whatever screen is showing: only when the session's runs query
brought a failure the watch does not know (its output is needed for the toast).

Each alert (one bot's new failures in one poll) is a toast naming the bot, the worst outcome and
the newest run's summary line; a poll with alerts rings the terminal bell once (unless
``--no-bell``); the bot's row on the bot list is marked until its Event tab is opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.notifications import SeverityLevel

from botmon_tui.formatting import outcome_label, plural
from botmon_tui.monitor.alerts import Alert, FailedRun
from botmon_tui.monitor.session import ProjectSession
from botmon_tui.textsafe import clip

if TYPE_CHECKING:
    from botmon_tui.ui.app import BotmonApp

__all__ = ["TOAST_SECONDS", "Alerts"]

#: How long an alert's toast stays (the mark on the bot list stays until the bot is looked at).
TOAST_SECONDS = 10.0
#: Most toasts for one poll (a storm across many bots): the rest are counted in the last one.
MAX_TOASTS = 5


class Alerts:
    """Announces what each project's failure watch found new (the session's poll asks it)."""

    def __init__(self, app: BotmonApp, *, bell: bool) -> None:
        self.app = app
        self.bell = bell
        #: Alerts announced since start (the benchmark waits for one).
        self.announced = 0

    def bot_name(self, session: ProjectSession, bot_id: str, run: FailedRun | None = None) -> str:
        """The bot's current name (the bot list's), else the one the run wrote, else ``Bot/<id>``."""
        status = session.status(bot_id)
        if status is not None:
            return clip(status.bot.display_name)
        if run is not None and run.bot_display:
            return run.bot_display
        return f"Bot/{clip(bot_id)}"

    def announce(self, session: ProjectSession, alerts: list[Alert]) -> None:
        if not alerts:
            return
        app = self.app
        watching = app.watched_bot()
        if watching is not None and watching[0] is session:
            # Its Event tab is open: the new row is in front of the user.
            session.failures.seen(watching[1])
        self.announced += len(alerts)
        app.alerts_changed(session, {alert.bot_id for alert in alerts})
        # The toasts (a layout of the whole screen) once the poll's own rows are on screen: two
        # short pauses of the event loop instead of one long one.
        app.call_after_refresh(self._raise, session, alerts)

    def _raise(self, session: ProjectSession, alerts: list[Alert]) -> None:
        app = self.app
        for number, alert in enumerate(alerts[:MAX_TOASTS]):
            rest = len(alerts) - MAX_TOASTS if number == MAX_TOASTS - 1 else 0
            title, message = self.toast_text(session, alert, more_bots=max(rest, 0))
            severity: SeverityLevel = "warning" if alert.worst.severity <= 4 else "error"
            app.notify(message, title=title, severity=severity, timeout=TOAST_SECONDS, markup=False)
        if self.bell:
            app.bell()

    def toast_text(self, session: ProjectSession, alert: Alert, *, more_bots: int = 0) -> tuple[str, str]:
        """(title, message): ``lab-results-router failed`` / ``✗ Serious Failure · 2 failed runs``
        and the summary line of the run with that outcome (the worst; the newest of those)."""
        worst = alert.worst_run
        title = f"{self.bot_name(session, alert.bot_id, alert.newest)} failed"
        if len(self.app.sessions) > 1:
            title = f"{session.label}: {title}"
        head = outcome_label(worst.outcome_info, code=False)
        if len(alert.runs) > 1:
            head += f" · {plural(len(alert.runs), 'failed run')}"
        lines = [head, worst.summary or "(no output)"]
        if more_bots:
            lines.append(f"and {plural(more_bots, 'more bot')} failed: F lists them")
        return title, "\n".join(lines)

    def seen(self, session: ProjectSession, bot_id: str) -> None:
        """The bot's Event tab is open: its mark goes."""
        if session.failures.seen(bot_id):
            self.app.alerts_changed(session, {bot_id})
