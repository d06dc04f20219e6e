"""How every bot of the project is doing, for ``bots``, ``status`` and ``failures``: read with the
bot list's project-wide queries (:class:`~botmon_tui.monitor.summary.ProjectMonitor`), never one
per bot; for several projects (``-p prod -p staging``) side by side (:func:`load_projects`).

``ProjectMonitor.load`` sends the bot list (one request per 1,000 bots), the project's newest
1,000 runs (last run and outcome of every recently active bot) and the failed runs of the window
(one request per 1,000). Bots with no run among those newest 1,000 are not looked up one by one
(the TUI does that after its first paint): their last run is shown as older than the oldest run
read (``>3h ago``), which is all a one-shot answer can say without a request per bot.

With the incidents (``status``): a failure streak longer than the runs read costs one lookup per
bot (at most 20 bots; the others' streaks are told as "at least N"), and the output of the newest
failed run of each bot failing now or recently recovered is read in one request per 100
(``AuditEvent?_id=...``): its kind, signature and error line. Nothing is asked when no bot is
failing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from botmon_tui.cli.output import Output
from botmon_tui.cli.session import connected, patiently, warn_unreadable
from botmon_tui.cli.table import Cell, Compact, Drop, Shrink, Step
from botmon_tui.formatting import (
    audit_label,
    explain_no_events,
    outcome_label,
    percentiles_text,
    plural,
    relative_age,
    short_duration,
)
from botmon_tui.medplum.auth import ConnectionSettings
from botmon_tui.medplum.client import MedplumClient
from botmon_tui.medplum.errors import MedplumError
from botmon_tui.medplum.models import Bot, SearchPage, format_instant
from botmon_tui.monitor.deploys import Deploy, DeployHistory
from botmon_tui.monitor.durations import bot_timeout
from botmon_tui.monitor.incidents import Incident, incident_forms, incident_label
from botmon_tui.monitor.summary import MAX_FAILURE_PAGES, BotStatus, ProjectMonitor, attention_key
from botmon_tui.textsafe import clip, first_line

__all__ = [
    "INCIDENT_FIELDS",
    "NARROW",
    "RECORD_FIELDS",
    "SILENCE_FIELDS",
    "Outcome",
    "Project",
    "by_failure",
    "incident_fields",
    "last_deploys",
    "load_project",
    "load_projects",
    "reached",
    "silence_fields",
    "unreachable",
]

#: The fields of :meth:`Project.record`, in the order ``--csv`` writes them.
RECORD_FIELDS = (
    "id",
    "name",
    "lastRun",
    "lastOutcome",
    "lastOutcomeText",
    "lastEventId",
    "failures",
    "writesAuditEvents",
    "auditWarning",
    "lastDeploy",
    "state",
    "failingSince",
    "streak",
    "streakExact",
    "recoveredAt",
    "kind",
    "signature",
    "signatureText",
    "summary",
    "missed",
    "lateBy",
    "nextExpected",
    "expectedEvery",
    "durationP50",
    "durationP95",
    "timeout",
    "profile",
)
#: The incident's fields of a bot's record (``status --json``), from :func:`incident_fields`.
INCIDENT_FIELDS = RECORD_FIELDS[RECORD_FIELDS.index("state") : RECORD_FIELDS.index("missed")]
#: Its silence and durations (issue #17), from :func:`silence_fields`.
SILENCE_FIELDS = RECORD_FIELDS[RECORD_FIELDS.index("missed") : RECORD_FIELDS.index("profile")]
#: The start of a note about a bot's last deploy (under ``status``' and ``bots``' tables).
DEPLOY_NOTE = "↻"
#: History reads sent at once.
DEPLOY_READS_AT_ONCE = 4
#: The last steps of the bot tables' plans (see :mod:`botmon_tui.cli.table`): long names give way,
#: the outcome's code goes, then the id; the age, the outcome, the count and the ⚠ stay.
NARROW: tuple[Step, ...] = (Shrink("name", 20), Compact("outcome"), Drop("id"), Shrink("name", 10))


def incident_fields(incident: Incident) -> dict[str, Any]:
    """A bot's incident for ``--json`` and ``--csv``: ``state``, ``failingSince``, ``streak`` (failed
    runs in a row; ``streakExact`` false: at least that many), ``recoveredAt``, ``kind``,
    ``signature`` (its key) and ``signatureText``, ``summary`` (the error line)."""
    streak = incident.streak
    signature = incident.signature
    recovered = incident.recovered_at
    return {
        "state": incident.state,
        "failingSince": format_instant(streak.since) if streak is not None else None,
        "streak": streak.runs if streak is not None else None,
        "streakExact": streak.exact if streak is not None else None,
        "recoveredAt": format_instant(recovered) if recovered is not None else None,
        "kind": incident.kind,
        "signature": signature.key if signature is not None else None,
        "signatureText": signature.text if signature is not None else None,
        "summary": incident.summary,
    }


def silence_fields(status: BotStatus) -> dict[str, Any]:
    """A bot's silence and durations for ``--json`` and ``--csv`` (issue #17): ``missed`` (scheduled
    runs that did not come, late only), ``lateBy`` (seconds since the first of them was due),
    ``nextExpected`` (a FHIR instant), ``expectedEvery`` (seconds: its schedule's period, or its
    learned cadence), ``durationP50`` and ``durationP95`` (seconds, over its runs read) and
    ``timeout`` (seconds: ``Bot.timeout``, or the server's default)."""
    cadence = status.cadence
    fields: dict[str, Any] = (
        cadence.json_fields()
        if cadence is not None
        else {"missed": None, "lateBy": None, "nextExpected": None, "expectedEvery": None}
    )
    stats = status.duration_stats()
    fields["durationP50"] = None if stats.p50 is None else round(stats.p50, 3)
    fields["durationP95"] = None if stats.p95 is None else round(stats.p95, 3)
    fields["timeout"] = bot_timeout(status.bot)
    return fields


@dataclass
class Project:
    statuses: list[BotStatus]
    #: The server's time when the failures were asked for (the window ends here).
    now: datetime
    window: timedelta
    #: Runs older than this were not read: a bot with no run seen last ran before it (None: the
    #: whole history was read, so such a bot never ran).
    horizon: datetime | None
    #: The connection's label (``profile`` in ``--json``).
    label: str = ""
    #: The last deploy of the bots whose history was read (None: read, never deployed), and
    #: which bots were read: ``"failed"``, ``"all"`` or None (no history read).
    deploys: dict[str, Deploy | None] = field(default_factory=dict)
    deploys_for: str | None = None

    @classmethod
    def of(cls, monitor: ProjectMonitor, window: timedelta, label: str = "") -> Project:
        """The project as ``monitor`` has read it, now (by its clock)."""
        return cls(list(monitor.statuses.values()), monitor.clock(), window, monitor.horizon, label)

    @property
    def since(self) -> datetime:
        return self.now - self.window

    @property
    def failures_capped(self) -> bool:
        """The failures query stopped at its page limit: the counts are lower bounds."""
        return sum(s.recent_failures for s in self.statuses) >= MAX_FAILURE_PAGES * 1000

    # ------------------------------------------------------------------ cells

    def last_run(self, status: BotStatus) -> Cell:
        if status.last_run is not None:
            return Cell(relative_age(status.last_run, self.now))
        if not status.bot.writes_audit_events:
            return Cell("—")
        if self.horizon is not None:
            return Cell(">" + relative_age(self.horizon, self.now))
        return Cell("never")

    @staticmethod
    def outcome(status: BotStatus) -> Cell:
        info = status.last_outcome
        return Cell(outcome_label(info), outcome_label(info, code=False), info.level if info else None)

    @staticmethod
    def failures(status: BotStatus) -> Cell:
        count = status.recent_failures
        return Cell(f"{count:,}", level="error" if count else None)

    @staticmethod
    def audit(status: BotStatus, *, short: bool = False) -> Cell:
        """The audit settings (``resource · always``, ``⚠ log only · always``); ``short``: only the
        trigger or the warning (``on-error``, ``⚠ never``), blank for the default ``always``."""
        compact, warn = audit_label(status.bot, compact=True)
        level = "warning" if warn else None
        if short:
            return Cell("" if not warn and compact == "always" else compact, level=level)
        return Cell(audit_label(status.bot)[0], compact, level)

    @staticmethod
    def name(status: BotStatus) -> Cell:
        return Cell(first_line(status.bot.display_name, 100))

    def state(self, status: BotStatus) -> Cell:
        """``failing 23m · 14× · crash`` (compact: ``failing 23m``), ``recovered 5m ago`` (compact:
        ``recovered``), ``ok``."""
        incident = status.incident
        text = incident_label(incident, self.now)
        level = {"failing": "error", "late": "warning", "quiet": "warning", "flaky": "warning"}.get(
            incident.state, "success" if incident.state == "recovered" else None
        )
        first = incident.state in ("failing", "late", "quiet")
        # The TUI's shortest form (``no audit``, ``never ran``), but a failing bot's says "failing".
        compact = text.split(" · ", 1)[0] if first else incident_forms(incident, self.now)[-1]
        return Cell(text, compact, level)

    @staticmethod
    def durations(status: BotStatus) -> Cell:
        """Its runs' median and 95th-percentile duration: ``4.5s/7.5s`` (compact: the p95)."""
        stats = status.duration_stats()
        return Cell(percentiles_text(stats.p50, stats.p95), short_duration(stats.p95), None)

    # ------------------------------------------------------------------ machine-readable

    def record(self, status: BotStatus) -> dict[str, Any]:
        """One bot for ``--json`` / ``--csv`` (server text as sent: JSON escapes it, CSV decides)."""
        event = status.last_event
        info = status.last_outcome
        _, warn = audit_label(status.bot)
        return {
            "id": status.bot.id,
            "name": status.bot.name,
            "lastRun": format_instant(status.last_run) if status.last_run else None,
            "lastOutcome": info.code if info else None,
            "lastOutcomeText": info.display if info else None,
            "lastEventId": event.id if event else None,
            "failures": status.recent_failures,
            "writesAuditEvents": status.bot.writes_audit_events,
            # explain_no_events' machine-readable cause: "log-only" or "never".
            "auditWarning": explain_no_events(status.bot).cause if warn else None,
            # The end of its newest deploy, for a bot whose history was read (see deploys_for).
            "lastDeploy": _instant(self.deploys.get(status.bot.id)),
            **incident_fields(status.incident),
            **silence_fields(status),
            "profile": self.label,
        }

    def notes(self) -> list[str]:
        """What the reader of a table should know about what was not read."""
        lines: list[str] = []
        silent = [s for s in self.statuses if not s.bot.writes_audit_events]
        if silent:
            lines.append(
                f"⚠ {plural(len(silent), 'bot')} write{'s' if len(silent) == 1 else ''} no AuditEvents "
                "(auditEventDestination without 'resource', or auditEventTrigger 'never'): their runs "
                "and failures cannot be seen here"
            )
        if self.horizon is not None and any(s.last_event is None for s in self.statuses):
            lines.append(
                f"'>{relative_age(self.horizon, self.now)}': no run among the project's newest 1,000 "
                f"(read back to {format_instant(self.horizon)}); an older one, if any, is not looked up"
            )
        if self.failures_capped:
            most = MAX_FAILURE_PAGES * 1000
            lines.append(f"failed runs are counted up to {most:,}: the counts are lower bounds")
        names = {s.bot.id: first_line(s.bot.display_name, 60) for s in self.statuses}
        for bot_id, deploy in self.deploys.items():
            if deploy is not None and bot_id in names:
                who = f" by {first_line(deploy.author, 60)}" if deploy.author else ""
                lines.append(
                    f"{DEPLOY_NOTE} {names[bot_id]}: last deployed {format_instant(deploy.at)} "
                    f"({relative_age(deploy.at, self.now)}){who}"
                )
        return lines


async def load_project(
    client: MedplumClient,
    io: Output,
    window: timedelta,
    *,
    label: str = "",
    incidents: bool = False,
    count_failures: bool = True,
    silence: bool = False,
    grace: Mapping[str, float] | None = None,
    bots: SearchPage[Bot] | None = None,
) -> Project:
    """Every bot with its last run and its failed runs in ``window`` (by the server's clock).
    ``incidents``: the streaks longer than what was read are looked up, and the causes of the
    incidents read (see the module docstring). ``count_failures``: False for a caller that reads
    the window's failures itself (``failures``). ``bots``: the bot list, when the caller read it
    (not read again)."""
    monitor = await load_monitor(
        client,
        io,
        window,
        incidents=incidents,
        count_failures=count_failures,
        silence=silence or incidents,
        grace=grace,
        bots=bots,
    )
    return Project.of(monitor, window, label)


async def load_monitor(
    client: MedplumClient,
    io: Output,
    window: timedelta,
    *,
    incidents: bool = False,
    count_failures: bool = True,
    silence: bool = False,
    grace: Mapping[str, float] | None = None,
    bots: SearchPage[Bot] | None = None,
) -> ProjectMonitor:
    """A loaded :class:`ProjectMonitor` on the server's clock (see :func:`load_project`).
    ``silence``: whether bots are late or quiet is told right: the last run of each scheduled bot
    with none among the runs read (one request each, at most 50), and the runs of the bots whose
    cadence those runs cannot tell (one request each, at most 20). ``grace``: the config file's.
    ``bots``: the bot list, when the caller read it (not read again)."""
    monitor = ProjectMonitor(
        client, recent=window, clock=client.now, count_failures=count_failures, grace=grace
    )
    await patiently(io, partial(monitor.load, bots))
    if silence and (monitor.needs_backfill(scheduled_only=True) or monitor.needs_cadence_lookup()):
        await patiently(io, partial(monitor.backfill, scheduled_only=True))
    if incidents:
        if monitor.needs_streak_lookup():  # one round: at most MAX_STREAK_LOOKUPS requests
            await patiently(io, monitor.lookup_streaks)
        if monitor.causes_unread():
            await patiently(io, monitor.read_causes)
    warn_unreadable(io, monitor.invalid)
    return monitor


@dataclass
class Outcome:
    """One connection's answer: its project, or why it could not be read."""

    label: str
    settings: ConnectionSettings
    project: Project | None = None
    error: MedplumError | None = None
    #: Anything else the command read there (``failures``: the failed runs).
    extra: list[Any] = field(default_factory=list)


async def load_projects(
    connections: Sequence[tuple[str, ConnectionSettings]],
    io: Output,
    window: timedelta,
    *,
    incidents: bool = False,
    then: Callable[[MedplumClient, Project], Awaitable[None]] | None = None,
    silence: bool = False,
    grace: Mapping[str, float] | None = None,
) -> list[Outcome]:
    """Each connection's project, read side by side; a server that cannot be read is an
    :class:`Outcome` with its error (see :func:`reached`). ``then(client, project)``: more to read
    there, while its connection is open (the last deploys)."""

    async def one(label: str, settings: ConnectionSettings) -> Outcome:
        try:
            async with connected(settings, io) as client:
                project = await load_project(
                    client, io, window, label=label, incidents=incidents, silence=silence, grace=grace
                )
                if then is not None:
                    await then(client, project)
        except MedplumError as exc:
            return Outcome(label, settings, error=exc)
        return Outcome(label, settings, project)

    return list(await asyncio.gather(*(one(label, settings) for label, settings in connections)))


def reached(outcomes: Sequence[Outcome], io: Output) -> list[Outcome]:
    """The connections that could be read. Each that could not is told on stderr with its label;
    when none could, the error is raised (exit 3), the only one's as it is."""
    failed = [outcome for outcome in outcomes if outcome.error is not None]
    if len(failed) == len(outcomes):
        if len(outcomes) == 1:
            assert failed[0].error is not None
            raise failed[0].error
        for outcome in failed:
            io.error(f"{outcome.label}: {outcome.error}")
        raise MedplumError(f"none of the {len(outcomes)} projects could be read")
    for outcome in failed:
        io.error(f"{outcome.label}: could not be read: {outcome.error}")
    return [outcome for outcome in outcomes if outcome.error is None]


def print_unread(io: Output, outcomes: Iterable[Outcome]) -> None:
    """Above a table: ``✗ staging: could not be read: ...`` for each connection that could not be."""
    for outcome in outcomes:
        if outcome.error is not None:
            io.line(io.paint(f"✗ {clip(outcome.label, 40)}: could not be read: {outcome.error}", "error"))


def print_notes(io: Output, projects: Iterable[Project], *, several: bool) -> None:
    """Below a table: each project's notes once (after its label when several are shown)."""
    seen: set[str] = set()
    for project in projects:
        if project.label not in seen:
            seen.add(project.label)
            for note in project.notes():
                io.prose(f"{project.label}: {note}" if several else note)


def unreachable(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """The connections that could not be read, for ``--json``: ``profile`` and ``error``."""
    return [
        {"profile": outcome.label, "error": clip(str(outcome.error), 300)}
        for outcome in outcomes
        if outcome.error is not None
    ]


def by_failure(statuses: Sequence[BotStatus]) -> list[BotStatus]:
    """Bots that failed in the window first, then the others; each group in the bot list's
    attention order (:func:`~botmon_tui.monitor.summary.attention_key`: failing now, most failures,
    most recent run; then bots that write no AuditEvents; then the rest, most recent first)."""
    return sorted(statuses, key=lambda s: (not s.failed_runs, attention_key(s)))


def _instant(deploy: Deploy | None) -> str | None:
    return format_instant(deploy.at) if deploy is not None else None


async def last_deploys(client: MedplumClient, io: Output, bot_ids: Sequence[str]) -> dict[str, Deploy | None]:
    """Each bot's newest deploy from its history (``Bot/<id>/_history``: one request, 10 quota
    units each; :data:`DEPLOY_READS_AT_ONCE` at a time). A bot whose history cannot be read is
    left out, with one warning for them all."""
    gate = asyncio.Semaphore(DEPLOY_READS_AT_ONCE)
    failed: list[str] = []

    async def one(bot_id: str) -> tuple[str, Deploy | None] | None:
        async with gate:
            history = DeployHistory(client, bot_id)
            try:
                await patiently(io, history.load)
            except MedplumError as error:
                failed.append(error.kind)
                return None
            return bot_id, history.last_deploy

    found = await asyncio.gather(*(one(bot_id) for bot_id in dict.fromkeys(bot_ids)))
    if failed:
        io.warning(f"the history of {plural(len(failed), 'bot')} could not be read ({failed[0]})")
    return dict(item for item in found if item is not None)
