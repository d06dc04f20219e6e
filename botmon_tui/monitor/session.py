"""One watched Medplum project as a value: its connection, its state and its poll.

A :class:`ProjectSession` holds everything that belongs to one project (one connection): the
client (its token and rate-limit state), the bot list's :class:`ProjectMonitor`, the
:class:`FailureWatch` behind the alerts and the Failures screen, its :class:`PollSchedule`
(backoff and rate limits are per server), its web-app base URL and its label. The TUI holds a
list of them and screens are handed the session they show; the command line's ``watch`` polls
them the same way. Textual-free: ``ui/`` drives the loop (``ui/app.py``), ``cli/`` too.

One poll of a session (:meth:`ProjectSession.poll`, then :meth:`ProjectSession.poll_failures`
when :meth:`ProjectSession.wants_failures` says so) costs what the bot list cost before sessions
existed: two requests whatever the number of bots (bots changed since, runs since), plus the
failure watch's one only when those runs hold a failure it does not know (its output is needed
for the alert). It runs whatever screen is showing, so that a bot's state (and its alerts) is
current everywhere.
"""

from __future__ import annotations

import random
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from botmon_tui.medplum.auth import ConnectionSettings, app_link
from botmon_tui.medplum.client import MedplumClient
from botmon_tui.medplum.models import AuditEvent
from botmon_tui.monitor.alerts import Alert, FailedRun, FailureWatch
from botmon_tui.monitor.incidents import UNKNOWN, incident_report
from botmon_tui.monitor.schedule import PollSchedule
from botmon_tui.monitor.summary import BotStatus, ProjectMonitor
from botmon_tui.monitor.tracker import DEFAULT_REALERT, INCIDENT_EVENTS, IncidentEvent, IncidentTracker
from botmon_tui.textsafe import clip, sanitize

__all__ = ["Connection", "ProjectSession", "SessionPoll"]

#: Failed runs kept for :meth:`ProjectSession.incident_events` between two calls (bounded when
#: nobody asks).
MAX_FRESH = 1000
#: Bots marked as having an alert not looked at yet (:attr:`ProjectSession.unseen`).
MAX_UNSEEN = 1000
#: The events that end an incident (its mark goes with it).
_END_EVENTS = frozenset(end for _, end in INCIDENT_EVENTS.values())


@dataclass(frozen=True)
class Connection:
    """What a session is made from: a client for one server, and how to name it."""

    client: MedplumClient
    #: Shown wherever projects are told apart (the profile's name; ``""``: the server's host).
    label: str
    #: The Medplum web app for deep links (``None``: derived from the connection's base URL).
    app_base: str | None = None
    #: Served by the embedded demo backend (the heading says so).
    demo: bool = False
    #: How headings name the server (``None``: its base URL).
    heading: str | None = None
    #: Scheduled bots' grace periods in seconds, by bot id or name (the config file's ``[grace]``).
    grace: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SessionPoll:
    """What one poll of a session changed."""

    #: Bots whose row changed (every bot after a load).
    changed: frozenset[str]
    #: This poll was the (re)load: the whole list is new.
    loaded: bool = False


class ProjectSession:
    """One project: its connection, the monitor and failure watch on it, and when to poll next."""

    def __init__(
        self,
        connection: Connection,
        *,
        interval: float = 10.0,
        recent: timedelta = timedelta(hours=24),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        index: int = 0,
        realert: timedelta | None = DEFAULT_REALERT,
        announce_initial: bool = False,
    ) -> None:
        """``realert``: how often a failing bot's incident is told again while it goes on (None:
        never); ``announce_initial``: tell the incidents already there at start too
        (:class:`~botmon_tui.monitor.tracker.IncidentTracker`)."""
        self.connection = connection
        self.client = connection.client
        self.label = sanitize(connection.label or urlsplit(self.client.settings.base).netloc or "project")
        #: Position among the sessions of one run (0 for the first): the bot list's row ids.
        self.index = index
        self.recent = recent
        self.project = ProjectMonitor(self.client, recent=recent, clock=clock, grace=connection.grace)
        self.failure_watch = FailureWatch(self.client, timeout_of=self.project.timeout_of)
        self.schedule = PollSchedule(interval, wall=clock, clock=monotonic, jitter=jitter)
        #: Alerts per incident (what :meth:`incident_events` says).
        self.tracker = IncidentTracker(realert=realert, announce_initial=announce_initial)
        #: The failed runs the failure watch brought since the last :meth:`incident_events`.
        self._fresh: list[FailedRun] = []
        #: Bot id → loud incident events told since the bot was last looked at (its Event tab
        #: opened, its incident acknowledged) or recovered: the bot list's mark (insertion ordered).
        self.unseen: OrderedDict[str, int] = OrderedDict()
        #: The bots whose state the last :meth:`poll_failures` changed (their kind and cause).
        self.failures_changed: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        return f"ProjectSession({self.label!r})"

    # ------------------------------------------------------------------ facts

    @property
    def settings(self) -> ConnectionSettings:
        return self.client.settings

    @property
    def app_base(self) -> str:
        """The Medplum web app, for deep links shown as plain text."""
        return sanitize(self.connection.app_base or self.settings.app_base)

    @property
    def server_label(self) -> str:
        """The server, as headings name it."""
        if self.connection.heading is not None:
            return sanitize(self.connection.heading)
        base = sanitize(self.settings.base)
        return f"demo backend · {base}" if self.connection.demo else base

    def secrets(self) -> list[str]:
        """What must never be shown or logged (the client's credentials and its current token)."""
        return self.client.secrets()

    def status(self, bot_id: str | None) -> BotStatus | None:
        return self.project.statuses.get(bot_id) if bot_id else None

    def run_link(self, run_id: str) -> str:
        """The web-app link of a run (its AuditEvent)."""
        return app_link(self.app_base, "AuditEvent", sanitize(run_id))

    async def run_output(self, run_id: str) -> str:
        """A run's whole output (its ``outcomeDesc``, not sanitized): one GET of its AuditEvent, when
        asked (the failure watch keeps each run's summary line, not its log)."""
        data = await self.client.read_reference(f"AuditEvent/{run_id}")
        return AuditEvent.model_validate(data).outcomeDesc or ""

    def incident_text(
        self, bot_id: str, name: str, *, now: datetime, run: FailedRun | None = None, several: bool = False
    ) -> str:
        """The bot's incident as plain text for the incident channel (``incidents.incident_report``):
        ``run`` the failed run it points at (the one selected), else the incident's newest failed
        run; its web-app link (the bot's Event tab when no failed run is known) and its input.
        ``name``: the bot's name as shown (sanitized); ``several``: more than one project is
        watched (the project's label goes in front of the name)."""
        status = self.status(bot_id)
        incident = status.incident if status is not None else UNKNOWN
        run_id = run.id if run is not None else None
        if run is None:
            streak = incident.streak if incident.state == "failing" else incident.previous
            run_id = streak.last_id if streak is not None else None
            held = status.last_failure if status is not None else None
            if held is not None and held.id == run_id:
                run = held
        link = self.run_link(run_id) if run_id else app_link(self.app_base, "Bot", sanitize(bot_id), "event")
        return incident_report(
            name,
            incident,
            now=now,
            link=link,
            input_ref=run.input_ref if run is not None else None,
            profile=self.label if several else None,
            project=self.server_label,
            run=run,
        )

    # ------------------------------------------------------------------ polling

    async def poll(self) -> SessionPoll:
        """Load the project (first call, and after a failed load) or poll it (two requests)."""
        project = self.project
        if not project.loaded:
            await project.load()
            return SessionPoll(frozenset(project.statuses), loaded=True)
        changed = await project.poll()
        if project.needs_streak_lookup():  # a streak longer than what was read: once per streak
            changed |= await project.lookup_streaks()
        return SessionPoll(frozenset(changed))

    def needs_backfill(self) -> bool:
        """After the load: bots whose last run, or whose failure streak's start, is older than the
        runs read, or whose cadence needs more of their runs than were read (a request each, once)."""
        project = self.project
        return bool(
            project.needs_backfill() or project.needs_streak_lookup() or project.needs_cadence_lookup()
        )

    async def backfill(self) -> SessionPoll:
        """Bots idle for longer than the newest runs cover: their own last run, once (after load;
        scheduled bots first: whether they are late depends on it); the runs of bots whose cadence
        the load's runs cannot tell; then the streaks longer than what was read: one lookup each,
        once."""
        project = self.project
        changed = await project.backfill()
        if project.needs_streak_lookup():
            changed |= await project.lookup_streaks()
        return SessionPoll(frozenset(changed))

    def wants_failures(self) -> bool:
        """Whether the failure watch must be asked now: not loaded yet, a backlog to read, or the
        last poll's runs hold a failure it does not know (its output is needed for the alert)."""
        watch = self.failure_watch
        return (
            not watch.loaded
            or watch.behind
            or any(not watch.knows(event.id) for event in self.project.new_failures)
        )

    async def poll_failures(self) -> list[Alert]:
        """One poll of the failure watch (one request): the new failures, one alert per bot. Their
        output names the kind and cause of each bot's incident (``status.incident``)."""
        alerts = await self.failure_watch.poll()
        self.failures_changed = frozenset(self.project.note_failed_runs(self.failure_watch.runs))
        self._fresh.extend(run for alert in alerts for run in alert.runs)
        del self._fresh[:-MAX_FRESH]
        return alerts

    def incident_events(self) -> list[IncidentEvent]:
        """What changed in the project's incidents since the last call: a bot started failing,
        failed with a new signature, is still failing (at most every ``realert``), recovered; went
        late or quiet, ran again (``resumed``). Call
        it once at the end of each poll (after :meth:`backfill` and :meth:`poll_failures`); the first
        call tells nothing of what was already failing (unless ``announce_initial``)."""
        fresh, self._fresh = self._fresh, []
        if not self.project.loaded:
            return []
        self.project.evaluate()  # states that changed with time alone
        events = self.tracker.update(self.project.statuses, fresh, now=self.project.clock())
        unseen = self.unseen
        for event in events:
            if event.loud:
                unseen[event.bot_id] = unseen.pop(event.bot_id, 0) + 1
            elif event.event in _END_EVENTS:
                unseen.pop(event.bot_id, None)
        while len(unseen) > MAX_UNSEEN:
            unseen.popitem(last=False)
        return events

    def seen(self, bot_id: str) -> bool:
        """The bot was looked at (its Event tab opened): its mark goes. Whether it had one."""
        return self.unseen.pop(bot_id, None) is not None

    def acknowledge(self, bot_id: str) -> bool:
        """Silence the bot's incident until it ends (see ``IncidentTracker.acknowledge``); its
        mark goes. Whether it had an open incident not acknowledged yet."""
        self.seen(bot_id)
        return self.tracker.acknowledge(bot_id)

    def acknowledged(self, bot_id: str) -> bool:
        """Whether the bot's open incident was acknowledged."""
        return self.tracker.acknowledged(bot_id)

    def event_record(self, event: IncidentEvent) -> dict[str, Any]:
        """The event as ``watch --json`` prints it and ``--on-alert`` gets it: with the bot's web-app
        link and the project's label."""
        link = app_link(self.app_base, "Bot", clip(event.bot_id, 64), "event")
        return event.record(link=link, profile=self.label)

    async def aclose(self) -> None:
        await self.client.aclose()
