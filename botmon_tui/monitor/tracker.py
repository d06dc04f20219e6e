"""Alerts per incident, not per run: what the TUI's toasts and ``botmon-tui watch`` announce.

:class:`IncidentTracker` compares each poll's incident states (``BotStatus.incident``, see
``monitor/incidents.py``) with the incidents it has open, and says what changed, once:

* ``failing``: a bot started failing (a new streak), loud;
* ``new-signature``: a failing bot failed with an error signature not seen in this incident, loud;
* ``still-failing``: later failures of the same incident are counted silently, and re-alerted at
  most every ``realert`` (30 min by default; None: never), loud;
* ``recovered``: a failing bot's last run succeeded: quiet, naming how long it failed and how many
  runs; announced even when the incident was acknowledged;
* ``late`` / ``quiet`` and ``resumed``: the same for silence (the cadence work; see
  :data:`INCIDENT_EVENTS`, the one place an incident state gets its start and end events).

:meth:`IncidentTracker.acknowledge` silences a bot's incident (no more loud events) until it ends.
Incidents already there at start (the first :meth:`~IncidentTracker.update`, and an old streak
found later by a lookup) are not announced unless ``announce_initial`` (``watch --initial``); their
end is, when the run that ends it comes while watching.
Counts are exact: each event carries the streak as the monitor counted it (``exact`` False: "at
least"), and ``new_runs``, the failed runs since the last loud event of the incident.

Textual-free; the wording (:func:`event_title`, :func:`event_text`) is shared by the TUI and the
command line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botmon_tui import settings
from botmon_tui.diagnosis import FailureKind, Signature
from botmon_tui.formatting import duration_text, plural, relative_age
from botmon_tui.medplum.models import format_instant
from botmon_tui.monitor.alerts import FailedRun
from botmon_tui.monitor.incidents import Incident
from botmon_tui.monitor.summary import BotStatus
from botmon_tui.textsafe import clip

__all__ = [
    "DEFAULT_REALERT",
    "FAILING",
    "INCIDENT_EVENTS",
    "LOUD_EVENTS",
    "NEW_SIGNATURE",
    "RECOVERED",
    "RESUMED",
    "STILL_FAILING",
    "IncidentEvent",
    "IncidentTracker",
    "event_text",
    "event_title",
]

FAILING = "failing"
NEW_SIGNATURE = "new-signature"
STILL_FAILING = "still-failing"
RECOVERED = "recovered"
#: A ``late`` or ``quiet`` bot ran again.
RESUMED = "resumed"
#: Each incident state, the event when it starts and the event when it ends. A new kind of
#: incident is a row here (and a state in ``monitor/incidents.py``).
INCIDENT_EVENTS: dict[str, tuple[str, str]] = {
    "failing": (FAILING, RECOVERED),
    "late": ("late", RESUMED),
    "quiet": ("quiet", RESUMED),
}
#: Events that interrupt (a toast with the bell; ``--on-alert``); the others are quiet notices.
LOUD_EVENTS = frozenset({FAILING, NEW_SIGNATURE, STILL_FAILING, "late", "quiet"})
#: How often an incident that goes on is told again (the ``realert`` setting's default).
DEFAULT_REALERT = timedelta(seconds=settings.DEFAULT_REALERT)
#: Signatures remembered per incident (a bot failing in many ways is not a memory leak).
MAX_SIGNATURES = 100


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    """One change of one bot's incident."""

    event: str
    bot_id: str
    #: The bot's name (sanitized), else its id.
    bot: str
    #: When it happened: the failed run that started or continued it, the run that ended it.
    at: datetime | None
    #: ``failingSince`` (``late``/``quiet``: when the missing run was due).
    since: datetime | None = None
    #: Failed runs in a row (for ``recovered``: how many the streak was).
    streak: int | None = None
    #: False: the streak is "at least" :attr:`streak`.
    exact: bool = True
    kind: FailureKind | None = None
    signature: Signature | None = None
    summary: str | None = None
    #: ``recovered``: how long it failed, from its first failed run to the run that ended it.
    lasted: timedelta | None = None
    #: Failed runs since the last loud event of this incident (``still-failing``: how many more).
    new_runs: int = 0
    #: It was there when the tracker started (told only with ``announce_initial``).
    initial: bool = False

    @property
    def loud(self) -> bool:
        return self.event in LOUD_EVENTS

    def record(self, *, link: str | None = None, profile: str | None = None) -> dict[str, Any]:
        """The event for ``watch --json`` and ``--on-alert`` (server text as read; JSON escapes it)."""
        record: dict[str, Any] = {
            "event": self.event,
            "bot": self.bot,
            "botId": self.bot_id,
            "at": format_instant(self.at) if self.at else None,
            "since": format_instant(self.since) if self.since else None,
            "streak": self.streak,
            "streakExact": self.exact,
            "kind": self.kind,
            "signature": self.signature.key if self.signature else None,
            "signatureText": self.signature.text if self.signature else None,
            "summary": self.summary,
            "lastedSeconds": round(self.lasted.total_seconds(), 3) if self.lasted is not None else None,
            "newRuns": self.new_runs,
            "initial": self.initial,
            "link": link,
        }
        if profile is not None:
            record["profile"] = profile
        return record


def _runs(event: IncidentEvent) -> str:
    count = event.streak or 0
    return ("" if event.exact else "at least ") + plural(count, "failed run")


def event_title(event: IncidentEvent) -> str:
    """``lab-results-router is failing``, ``… failed with a new error``, ``… recovered``."""
    name = event.bot
    return {
        FAILING: f"{name} is failing",
        NEW_SIGNATURE: f"{name} failed with a new error",
        STILL_FAILING: f"{name} is still failing",
        RECOVERED: f"{name} recovered",
        RESUMED: f"{name} ran again",
        "late": f"{name} is late",
        "quiet": f"{name} went quiet",
    }.get(event.event, f"{name}: {event.event}")


def event_text(event: IncidentEvent, now: datetime, *, clock: Callable[[datetime], str] | None = None) -> str:
    """One line of facts: ``14 failed runs since 2025-03-14T11:37:00.000Z (23m) · crash · AxiosError:
    …``, ``failed for 23m 10s, 14 failed runs``. ``clock``: how the TUI writes a time (its local
    ``11:37``; the age is then ``23m ago``)."""
    if event.event == RECOVERED:
        lasted = duration_text(event.lasted) if event.lasted is not None else "—"
        return f"failed for {lasted}, {_runs(event)}"
    if event.event == RESUMED:
        return event.summary or "it ran again"
    parts: list[str] = []
    if event.streak is not None:
        if event.since is None:
            since = age = ""
        elif clock is not None:
            since, age = f" since {clock(event.since)}", f" ({relative_age(event.since, now)})"
        else:
            # (Never a negative age: the server's clock may be ahead of ours.)
            since = f" since {format_instant(event.since)}"
            age = f" ({duration_text(max(now - event.since, timedelta(0)))})"
        parts.append(f"{_runs(event)}{since}{age}")
        if event.event == STILL_FAILING and event.new_runs:
            parts.append(f"{event.new_runs:,} more")
    if event.kind:
        parts.append(event.kind)
    if event.summary:
        parts.append(clip(event.summary, 200))
    return " · ".join(parts)


@dataclass(slots=True)
class _Open:
    """An incident the tracker has open."""

    state: str
    since: datetime | None
    #: The newest failed run counted (a streak starting after it is a new incident).
    last: datetime | None
    streak: int
    exact: bool
    kind: FailureKind | None
    summary: str | None
    last_alert: datetime | None
    #: The streak when the last loud event was raised.
    alerted_streak: int
    signatures: set[str] = field(default_factory=set)
    #: The newest signature seen in it.
    signature: Signature | None = None
    acknowledged: bool = False
    #: Its start was told (an incident there at start is not; its end is, see ``_end_seen``).
    announced: bool = False


class IncidentTracker:
    """Turns each poll's incident states into events, once per change (see the module docstring)."""

    def __init__(
        self, *, realert: timedelta | None = DEFAULT_REALERT, announce_initial: bool = False
    ) -> None:
        if realert is not None and realert <= timedelta(0):
            realert = None
        self.realert = realert
        self.announce_initial = announce_initial
        #: The first update happened (what was there then was not announced).
        self.primed = False
        self.started: datetime | None = None
        self._open: dict[str, _Open] = {}

    # ------------------------------------------------------------------ reading

    def open(self) -> dict[str, str]:
        """The bots with an open incident: bot id → its state."""
        return {bot_id: held.state for bot_id, held in self._open.items()}

    def acknowledged(self, bot_id: str) -> bool:
        held = self._open.get(bot_id)
        return held is not None and held.acknowledged

    def acknowledge(self, bot_id: str) -> bool:
        """No more loud events for the bot's incident until it ends (its end is still told).
        Whether it had an open incident not yet acknowledged."""
        held = self._open.get(bot_id)
        if held is None or held.acknowledged:
            return False
        held.acknowledged = True
        return True

    # ------------------------------------------------------------------ updating

    def update(
        self, statuses: Mapping[str, BotStatus], new_runs: Iterable[FailedRun] = (), *, now: datetime
    ) -> list[IncidentEvent]:
        """What changed since the last call. ``statuses``: every bot's (``ProjectMonitor.statuses``,
        its incidents current); ``new_runs``: the failed runs the failure watch brought since (their
        signatures). Call once at the end of each poll."""
        runs_by_bot: dict[str, list[FailedRun]] = {}
        for run in new_runs:
            runs_by_bot.setdefault(run.bot_id, []).append(run)
        first = not self.primed
        if first:
            self.primed, self.started = True, now
        events: list[IncidentEvent] = []
        for bot_id in [b for b in self._open if b not in statuses]:
            del self._open[bot_id]  # the bot is gone: its incident ends with it, silently
        for bot_id, status in statuses.items():
            fresh = sorted(runs_by_bot.get(bot_id, ()), key=lambda run: (run.when is None, run.when, run.id))
            events.extend(self._bot(bot_id, status, fresh, now, first))
        return events

    def _end_seen(self, held: _Open, status: BotStatus) -> bool:
        """Whether the end of ``held`` is told: always when its start was; for an incident that was
        there at start (untold), when the run that ended it came after the first update (not when
        a lookup at start-up only found that it had ended before)."""
        if held.announced:
            return True
        if self.started is None:
            return False
        if held.state == "failing":
            previous = status.incident.previous
            ended = previous.ended if previous is not None else None
        else:  # late or quiet: the run that came
            ended = status.last_event.when if status.last_event is not None else None
        return ended is not None and ended >= self.started

    def _bot(
        self, bot_id: str, status: BotStatus, fresh: list[FailedRun], now: datetime, first: bool
    ) -> list[IncidentEvent]:
        incident = status.incident
        held = self._open.get(bot_id)
        name = clip(status.bot.display_name, 200)
        events: list[IncidentEvent] = []
        if incident.state not in INCIDENT_EVENTS:
            if held is not None:
                del self._open[bot_id]
                # It ran, and fine: told, also for an incident that was there at start (untold),
                # when the run that ended it came while watching.
                if incident.state in ("recovered", "flaky", "ok") and self._end_seen(held, status):
                    events.append(self._ended(bot_id, name, held, incident, now))
            return events
        streak = incident.streak
        since = incident.since
        last = streak.last if streak is not None else None
        runs = streak.runs if streak is not None else 0
        new_streak = (
            held is not None
            and held.state == incident.state
            and last is not None
            and held.last is not None
            and since is not None
            and since > held.last
        )
        if held is not None and (held.state != incident.state or new_streak):
            del self._open[bot_id]
            if new_streak and self._end_seen(held, status):  # it recovered and failed again between two polls
                events.append(self._ended(bot_id, name, held, incident, now))
            held = None
        if held is None:
            held = _Open(
                state=incident.state,
                since=since,
                last=last,
                streak=runs,
                exact=streak.exact if streak is not None else True,
                kind=incident.kind,
                summary=incident.summary,
                last_alert=now,
                alerted_streak=runs,
            )
            if incident.signature is not None:
                held.signatures.add(incident.signature.key)
            held.signatures.update(run.signature.key for run in fresh)
            held.signature = incident.signature or (fresh[-1].signature if fresh else None)
            self._open[bot_id] = held
            old = first or (self.started is not None and last is not None and last < self.started)
            if not old or self.announce_initial:
                held.announced = True
                start = INCIDENT_EVENTS[incident.state][0]
                events.append(self._event(start, bot_id, name, incident, at=last or now, initial=old))
            return events
        # The same incident: counts are updated silently; a new cause, or a long one, is told.
        grew = streak is not None and (streak.runs != held.streak or (last is not None and last != held.last))
        loud = not held.acknowledged
        for run in fresh:
            key = run.signature.key
            if key in held.signatures:
                continue
            if held.signatures and loud:
                events.append(
                    self._event(
                        NEW_SIGNATURE,
                        bot_id,
                        name,
                        incident,
                        at=run.when or now,
                        signature=run.signature,
                        summary=run.summary,
                        kind=run.kind,
                        new_runs=runs - held.alerted_streak,
                    )
                )
            if len(held.signatures) < MAX_SIGNATURES:
                held.signatures.add(key)
        if incident.signature is not None and not held.signatures:
            held.signatures.add(incident.signature.key)
        held.signature = incident.signature or (fresh[-1].signature if fresh else held.signature)
        if events:
            held.last_alert = now
            held.alerted_streak = runs
        elif (
            grew
            and loud
            and self.realert is not None
            and held.last_alert is not None
            and now - held.last_alert >= self.realert
        ):
            events.append(
                self._event(
                    STILL_FAILING,
                    bot_id,
                    name,
                    incident,
                    at=last or now,
                    new_runs=runs - held.alerted_streak,
                )
            )
            held.last_alert = now
            held.alerted_streak = runs
        if streak is not None:
            held.since = min(held.since, streak.since) if held.since else streak.since
            held.last, held.streak, held.exact = last, streak.runs, streak.exact
        held.kind, held.summary = incident.kind or held.kind, incident.summary or held.summary
        return events

    @staticmethod
    def _event(
        event: str,
        bot_id: str,
        name: str,
        incident: Incident,
        *,
        at: datetime,
        initial: bool = False,
        **changes: Any,
    ) -> IncidentEvent:
        streak = incident.streak
        values: dict[str, Any] = {
            "event": event,
            "bot_id": bot_id,
            "bot": name,
            "at": at,
            "since": incident.since,
            "streak": streak.runs if streak else None,
            "exact": streak.exact if streak else True,
            "kind": incident.kind,
            "signature": incident.signature,
            "summary": incident.summary,
            "initial": initial,
        }
        values.update(changes)
        return IncidentEvent(**values)

    @staticmethod
    def _ended(bot_id: str, name: str, held: _Open, incident: Incident, now: datetime) -> IncidentEvent:
        """``recovered`` (or ``resumed``): how long it failed and how many runs, from the streak that
        ended (the monitor's count when it has it, else the tracker's)."""
        previous = incident.previous
        end_event = INCIDENT_EVENTS[held.state][1]
        if held.state == "failing" and previous is not None and previous.ended is not None:
            ended = previous.ended
            since = min(previous.since, held.since) if held.since else previous.since
            return IncidentEvent(
                end_event,
                bot_id,
                name,
                at=ended,
                since=since,
                streak=max(previous.runs, held.streak),
                exact=previous.exact and held.exact,
                kind=incident.kind or held.kind,
                signature=incident.signature or held.signature,
                summary=incident.summary or held.summary,
                lasted=ended - since,
            )
        # No run ended it that the monitor saw (a bot that records only failures stopped failing, a
        # late bot ran): it is over now; a failing bot failed until its last failed run.
        end = held.last if held.state == "failing" and held.last is not None else now
        lasted = max(end - held.since, timedelta(0)) if held.since else None
        summary = held.summary
        if held.state in ("late", "quiet"):  # "late for 42m 10s" (from the missed run's due time)
            summary = f"{held.state} for {duration_text(lasted)}" if lasted is not None else held.state
        return IncidentEvent(
            end_event,
            bot_id,
            name,
            at=now,
            since=held.since,
            streak=held.streak if held.state == "failing" else None,
            exact=held.exact,
            kind=held.kind,
            signature=held.signature,
            summary=summary,
            lasted=lasted,
        )
