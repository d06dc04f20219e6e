"""Incidents, not runs: one state per bot, from the runs already fetched.

The questions at 3 a.m. are *is it still failing, since when, how many in a row, is it one cause
across several bots, and is it over?* :func:`evaluate` answers them for one bot, first match wins
(:data:`STATES` in that order):

* ``no-audit``: its settings write no AuditEvent (``formatting.explain_no_events``): what it does
  cannot be seen, so no run (not even an old failure) says anything about now;
* ``failing``: its last run failed. :attr:`Incident.streak` holds ``since`` (the first failed run
  after the last success) and ``runs`` (failed runs in a row, ``exact`` False when the last success
  is beyond what was read: "at least N"). A bot that records only failures (``auditEventTrigger:
  on-error``) leaves no trace of its successes: it is failing for :data:`ON_ERROR_FAILING_FOR`
  after its newest failure, never longer because of an old one;
* ``late`` and ``quiet``: silence as a failure (the schedule or the learned cadence says a run is
  missing). Computed elsewhere (``monitor/cadence.py``), handed in as a :class:`Silence`: this
  module only places them, after ``failing`` and before ``flaky``;
* ``flaky``: its last run succeeded and its last :data:`FLAKY_RUNS` runs hold
  :data:`FLAKY_STREAKS` or more separate failure streaks;
* ``recovered``: its last run succeeded and a failure streak ended within :data:`RECOVERED_FOR`
  (:attr:`Incident.previous`: when it ended, how long and how many runs it was);
* ``ok``; ``never-ran`` (no run at all, and the whole history was read or the bot's own newest run
  was looked up); ``unknown`` (no run among those read, and its last one was not looked up: the
  command line's one-shot answers do not pay a request per idle bot).

Each bot keeps a :class:`RunLog`: its newest runs in order, with no run of the bot missing between
them (the project's runs query reads every run since the last poll), and a summary of what came
before them (a failure streak running past the oldest run kept, and whether a success bounds it).
A streak longer than what was read costs one lookup, once per streak
(:meth:`~botmon_tui.monitor.summary.ProjectMonitor.lookup_streaks`).

The kind, signature and summary of a failing bot's incident are its newest failed run's, from the
failure watch's texts (:class:`~botmon_tui.monitor.alerts.FailedRun`) when it holds that run, else
from its timing alone (``timeout`` when it used 95 % of the bot's timeout, else ``error``).

:func:`group_failures` groups failed runs by signature (one cause across several bots), for the
Failures screen and ``botmon-tui failures --group``. :func:`incident_label` and
:func:`counts_text` are the wording both the TUI and the command line show.

Textual-free, no request of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from botmon_tui.diagnosis import FailureKind, Signature, timed_out_by_clock
from botmon_tui.formatting import duration_text, plural, relative_age
from botmon_tui.medplum.models import Bot, format_instant
from botmon_tui.monitor.alerts import FailedRun
from botmon_tui.monitor.durations import compact_span
from botmon_tui.monitor.feed import SortKey

__all__ = [
    "FLAKY_RUNS",
    "FLAKY_STREAKS",
    "ON_ERROR_FAILING_FOR",
    "RECOVERED_FOR",
    "RUNS_KEPT",
    "STATES",
    "FailureGroup",
    "Incident",
    "IncidentCounts",
    "RunLog",
    "Silence",
    "State",
    "Streak",
    "count_incidents",
    "counts_text",
    "evaluate",
    "group_counts",
    "group_failures",
    "group_report",
    "incident_heading",
    "incident_label",
    "incident_report",
    "streak_text",
]

State = Literal["failing", "late", "quiet", "flaky", "recovered", "ok", "never-ran", "no-audit", "unknown"]
#: Every state, in the order :func:`evaluate` tries them (``no-audit`` first: see the docstring).
STATES: tuple[State, ...] = (
    "no-audit",
    "failing",
    "late",
    "quiet",
    "flaky",
    "recovered",
    "ok",
    "never-ran",
    "unknown",
)
#: States that are an incident now (counted in the failing-now summary, alerted on).
ACTIVE_STATES: frozenset[State] = frozenset({"failing", "late", "quiet"})

#: Newest runs kept per bot (older ones are summed up in :class:`RunLog`). Enough for
#: :data:`FLAKY_RUNS`, and for most streaks to be exact without a lookup.
RUNS_KEPT = 24
#: ``flaky``: among its last this many runs ...
FLAKY_RUNS = 10
#: ... this many separate failure streaks (or more).
FLAKY_STREAKS = 2
#: ``recovered`` for this long after the run that ended the streak.
RECOVERED_FOR = timedelta(hours=1)
#: A bot that records only failures is failing for this long after its newest failure (its
#: successes leave no AuditEvent: nothing else ever says it is over).
ON_ERROR_FAILING_FOR = timedelta(hours=1)

#: The smallest step of time: a state that holds "for an hour" holds at the hour, not after.
_TICK = timedelta(microseconds=1)
#: One run of a bot: (chronological key, failed, duration in seconds or None).
Run = tuple[SortKey, bool, float | None]


@dataclass(frozen=True, slots=True)
class Streak:
    """Failed runs in a row."""

    #: The first failed run (``failingSince``).
    since: datetime
    #: The newest failed run.
    last: datetime
    #: How many (``streak``).
    runs: int
    #: False: the success before them is beyond what was read, so "at least :attr:`runs`".
    exact: bool
    #: The newest failed run's id (None when only counted, not seen).
    last_id: str | None = None
    #: The run that ended the streak (``recoveredAt``); None while it goes on.
    ended: datetime | None = None
    #: The newest failed run's duration in seconds (its timing says ``timeout`` or not).
    last_duration: float | None = None

    @property
    def runs_text(self) -> str:
        """``14``, ``≥ 1,000`` (at least, when inexact)."""
        return f"{self.runs:,}" if self.exact else f"≥ {self.runs:,}"

    def lasted(self, now: datetime) -> timedelta:
        """From its first failed run to the run that ended it (to ``now`` while it goes on)."""
        return max((self.ended or now) - self.since, timedelta(0))


@dataclass(frozen=True, slots=True)
class Silence:
    """A bot that should have run and did not: ``late`` (its schedule) or ``quiet`` (its learned
    cadence). Made by the silence evaluation (``monitor/silence.py``), placed here."""

    state: Literal["late", "quiet"]
    #: Since when it is silent beyond what is expected: a late bot's first missed run's due time;
    #: a quiet bot's newest run (None: unknown).
    since: datetime | None
    #: One line saying why (``no run since 2025-03-14 11:25 UTC, when one was due (every 5 min); 7 missed``).
    summary: str
    #: The bot list's few words after the span: ``9 missed``, ``never ran``, ``usually every 5m``.
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Incident:
    """One bot's state (see the module docstring) and what the on-call engineer needs of it."""

    state: State
    #: ``failing``: the streak going on.
    streak: Streak | None = None
    #: The newest streak that ended (a ``recovered`` bot's; kept in the other states too).
    previous: Streak | None = None
    #: The incident's kind: its newest failed run's (``failing``; ``recovered`` and ``flaky``: the
    #: streak that ended, when its newest failed run was read), None otherwise.
    kind: FailureKind | None = None
    #: That run's signature, when the failure watch (or a lookup) read its output.
    signature: Signature | None = None
    #: That run's error line, when its output was read; for ``late`` and ``quiet``, what the
    #: silence evaluation says.
    summary: str | None = None
    silence: Silence | None = None
    #: ``flaky``: the separate failure streaks among the last :data:`FLAKY_RUNS` runs.
    flaky_streaks: int = 0
    #: When it stops being true by the passage of time alone, its runs unchanged (``recovered``
    #: becomes ``ok`` an hour after; a bot that records only failures stops failing); None: it holds
    #: until its runs change.
    until: datetime | None = None
    #: ``ok`` of a bot that records only its failures (``auditEventTrigger: on-error``): no failure
    #: for a while, which is all it can say (its successes leave no trace).
    errors_only: bool = False

    @property
    def active(self) -> bool:
        """An incident now: failing, late or quiet."""
        return self.state in ACTIVE_STATES

    @property
    def failing_since(self) -> datetime | None:
        return self.streak.since if self.streak is not None else None

    @property
    def since(self) -> datetime | None:
        """When it began: the failure streak's first run, else when the missing run was due
        (``late``, ``quiet``)."""
        if self.streak is not None:
            return self.streak.since
        return self.silence.since if self.silence is not None else None

    @property
    def recovered_at(self) -> datetime | None:
        """When the last streak ended, while the bot is ``recovered`` (None otherwise)."""
        if self.state == "recovered" and self.previous is not None:
            return self.previous.ended
        return None


UNKNOWN = Incident("unknown")


# ------------------------------------------------------------------------------------------------
# A bot's runs
# ------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class RunLog:
    """A bot's newest runs, oldest first, with no run of the bot missing between them, and what is
    known of the runs before the oldest one kept (see the module docstring)."""

    runs: list[Run] = field(default_factory=list)
    #: Failed runs in a row just before ``runs[0]`` (folded out of :attr:`runs`, or looked up).
    before_failures: int = 0
    #: The first of them.
    before_since: datetime | None = None
    #: A success (or the bot's very first run) comes before them: :attr:`before_failures` is exact.
    before_bounded: bool = False
    #: The runs before the current streak were looked up (once per streak).
    looked_up: bool = False
    #: The newest streak that ended among the runs folded out of :attr:`runs`.
    ended: Streak | None = None
    #: Bumped at every change (evaluations are cached on it).
    version: int = 0

    def note(self, key: SortKey, failed: bool, duration: float | None = None) -> bool:
        """One more run (usually the newest; a tie or a late one goes in its place). False when it
        was already there."""
        runs = self.runs
        if runs and key <= runs[-1][0]:
            low, high = 0, len(runs)
            while low < high:
                middle = (low + high) // 2
                if runs[middle][0] < key:
                    low = middle + 1
                else:
                    high = middle
            if low < len(runs) and runs[low][0] == key:
                return False
            runs.insert(low, (key, failed, duration))
        else:
            runs.append((key, failed, duration))
            if not failed:
                self.looked_up = False  # a new streak, if one starts, is looked up on its own
        while len(runs) > RUNS_KEPT:
            self._fold(runs.pop(0))
        self.version += 1
        return True

    def _fold(self, run: Run) -> None:
        """``run`` (the oldest kept) leaves :attr:`runs`: it joins what is known of the runs before."""
        (when, _), failed, _ = run
        if failed:
            if self.before_failures == 0:
                self.before_since = when
            self.before_failures += 1
            return
        if self.before_failures and self.before_since is not None:
            self.ended = Streak(
                self.before_since, self.before_since, self.before_failures, self.before_bounded, ended=when
            )
        self.before_failures, self.before_since, self.before_bounded = 0, None, True

    def absorb(self, older: Sequence[tuple[SortKey, bool]], *, complete: bool) -> None:
        """What a lookup read of the bot's runs (newest first): those older than the oldest kept
        tell how far the streak at that end goes back. ``complete``: they are the bot's whole
        history (no older run exists)."""
        self.looked_up = True
        self.version += 1
        if not self.runs:
            return
        oldest = self.runs[0][0]
        count, since, bounded = 0, None, complete
        for key, failed in older:
            if key >= oldest:
                continue
            if not failed:
                bounded = True
                break
            count += 1
            since = key[0]
        else:
            bounded = complete
        if count or bounded:
            self.before_failures, self.before_since, self.before_bounded = count, since, bounded

    # ------------------------------------------------------------------ reading

    def current(self) -> Streak | None:
        """The failure streak going on (the newest run failed), or None."""
        runs = self.runs
        count = 0
        for _, failed, _ in reversed(runs):
            if not failed:
                break
            count += 1
        if count == 0:
            return None
        (newest, newest_id), _, duration = runs[-1]
        if count < len(runs):
            return Streak(runs[-count][0][0], newest, count, True, newest_id, last_duration=duration)
        since = self.before_since if self.before_failures and self.before_since else runs[0][0][0]
        return Streak(
            since,
            newest,
            count + self.before_failures,
            self.before_bounded,
            newest_id,
            last_duration=duration,
        )

    def previous(self) -> Streak | None:
        """The newest failure streak that ended (a success came after it), or None."""
        runs = self.runs
        index = len(runs) - 1
        while index >= 0 and not runs[index][1]:
            index -= 1
        if index < 0:
            return self.ended
        if index == len(runs) - 1:  # the newest run failed: look past the current streak
            while index >= 0 and runs[index][1]:
                index -= 1
            while index >= 0 and not runs[index][1]:
                index -= 1
            if index < 0:
                return self.ended
        ended_at = runs[index + 1][0][0]
        (last, last_id), _, duration = runs[index]
        count = 0
        while index >= 0 and runs[index][1]:
            count += 1
            index -= 1
        if index >= 0:
            since = runs[index + 1][0][0]
            return Streak(since, last, count, True, last_id, ended_at, duration)
        since = self.before_since if self.before_failures and self.before_since else runs[0][0][0]
        return Streak(
            since, last, count + self.before_failures, self.before_bounded, last_id, ended_at, duration
        )

    def failure_streaks(self, last: int = FLAKY_RUNS) -> int:
        """Separate failure streaks among the newest ``last`` runs."""
        streaks, in_streak = 0, False
        for _, failed, _ in self.runs[-last:]:
            if failed and not in_streak:
                streaks += 1
            in_streak = failed
        return streaks


# ------------------------------------------------------------------------------------------------
# The state
# ------------------------------------------------------------------------------------------------


def _on_error(log: RunLog, now: datetime) -> Incident:
    """A bot that records only failures: failing while its newest failure is recent; the failures
    chained by gaps shorter than :data:`ON_ERROR_FAILING_FOR` are the streak (successes between
    them leave no trace)."""
    runs = log.runs
    if not runs:
        return Incident("ok")
    (newest, newest_id), _, duration = runs[-1]
    count, index = 1, len(runs) - 1
    while index > 0 and runs[index][0][0] - runs[index - 1][0][0] <= ON_ERROR_FAILING_FOR:
        index -= 1
        count += 1
    streak = Streak(
        runs[index][0][0], newest, count, index > 0 or log.before_bounded, newest_id, None, duration
    )
    if now - newest <= ON_ERROR_FAILING_FOR:
        return Incident("failing", streak=streak, until=newest + ON_ERROR_FAILING_FOR + _TICK)
    return Incident("ok", previous=streak)


def _timing_kind(streak: Streak, timeout: float) -> FailureKind:
    return "timeout" if timed_out_by_clock(streak.last_duration, timeout) else "error"


def evaluate(
    bot: Bot,
    log: RunLog,
    *,
    now: datetime,
    timeout: float,
    last_failure: FailedRun | None = None,
    ran: bool | None = None,
    silence: Silence | None = None,
) -> Incident:
    """The state of ``bot`` from its runs (``log``) at ``now``.

    ``timeout``: its timeout in seconds (``durations.bot_timeout``). ``last_failure``: its newest
    failed run as the failure watch read it (kind, signature, summary from its text). ``ran``: when
    no run is known, whether it is certain that it never ran (True), or unknown (None).
    ``silence``: what the silence evaluation says (``late``/``quiet``), if anything.
    """
    if not bot.writes_audit_events:
        return Incident("no-audit")
    incident: Incident | None
    if bot.audit_trigger == "on-error":
        incident = _on_error(log, now)
        streak = incident.streak
    else:
        streak = log.current()
        incident = Incident("failing", streak=streak) if streak is not None else None
    if incident is not None and incident.state == "failing" and streak is not None:
        until = incident.until
        if last_failure is not None and last_failure.id == streak.last_id:
            return Incident(
                "failing",
                streak=streak,
                previous=log.previous(),
                kind=last_failure.kind,
                signature=last_failure.signature,
                summary=last_failure.summary or None,
                until=until,
            )
        kind = _timing_kind(streak, timeout)
        return Incident("failing", streak=streak, previous=log.previous(), kind=kind, until=until)
    previous = incident.previous if incident is not None else log.previous()
    if silence is not None:
        return Incident(silence.state, previous=previous, summary=silence.summary, silence=silence)
    if not log.runs:
        if ran is False:
            return Incident("never-ran")
        return Incident("unknown", previous=previous) if ran is None else Incident("ok", previous=previous)
    # What the streak that ended was, when its newest failed run was read (recovered from what).
    cause: dict[str, Any] = {}
    if last_failure is not None and previous is not None and last_failure.id == previous.last_id:
        cause = {"kind": last_failure.kind, "signature": last_failure.signature}
        cause["summary"] = last_failure.summary or None
    streaks = log.failure_streaks() if bot.audit_trigger != "on-error" else 0
    if streaks >= FLAKY_STREAKS:
        return Incident("flaky", previous=previous, flaky_streaks=streaks, **cause)
    ended = previous.ended if previous is not None else None
    if ended is not None and now - ended <= RECOVERED_FOR and bot.audit_trigger != "on-error":
        return Incident("recovered", previous=previous, until=ended + RECOVERED_FOR + _TICK, **cause)
    return Incident("ok", previous=previous, errors_only=bot.audit_trigger == "on-error")


# ------------------------------------------------------------------------------------------------
# Wording (the TUI and the command line)
# ------------------------------------------------------------------------------------------------


def _short_span(span: timedelta) -> str:
    """``45s``, ``23m``, ``2h 05m``: the bot list's few characters (``durations.compact_span``)."""
    return compact_span(max(span.total_seconds(), 0.0))


def incident_label(incident: Incident, now: datetime, *, width: int | None = None) -> str:
    """The state in a few words: ``failing 23m · 14× · crash``, ``failing 2h · ≥ 1,000× · timeout``,
    ``late 42m · 9 missed``, ``quiet 2h · usually every 5m``, ``recovered 5m ago``,
    ``flaky (2 streaks in 10 runs)``, ``ok``, ``never ran``, ``no AuditEvents``.

    ``width``: the longest form that fits in that many cells (``failing 23m · 14×``,
    ``✗ 23m · 14×``, ``✗ 23m``; ``recovered 5m``; ``flaky 2/10``; ``late 42m``: the bot list's
    State column at 80 columns); the shortest when none does."""
    forms = incident_forms(incident, now)
    if width is None:
        return forms[0]
    return next((form for form in forms if len(form) <= width), forms[-1])


def incident_forms(incident: Incident, now: datetime) -> list[str]:
    """Every form of :func:`incident_label`, the longest first."""
    state = incident.state
    if state == "failing" and incident.streak is not None:
        streak = incident.streak
        span = _short_span(now - streak.since)
        runs = f"{streak.runs_text}×"
        full = [f"failing {span}", runs]
        if incident.kind:
            full.append(incident.kind)
        compact = f"{streak.runs}×" if streak.exact else f"≥{streak.runs}×"
        return [
            " · ".join(full),
            f"failing {span} · {runs}",
            f"✗ {span} · {compact}",
            f"✗ {span} {compact}",
            f"✗ {span}",
        ]
    if state == "recovered" and incident.recovered_at is not None:
        age = relative_age(incident.recovered_at, now)
        return [f"recovered {age}", f"recovered {age.removesuffix(' ago')}", "recovered"]
    if state == "flaky":
        streaks = incident.flaky_streaks
        return [f"flaky ({streaks} streaks in {FLAKY_RUNS} runs)", f"flaky {streaks}/{FLAKY_RUNS}", "flaky"]
    silence = incident.silence
    if state in ("late", "quiet") and silence is not None and silence.since is not None:
        span = f"{state} {_short_span(now - silence.since)}"
        return [f"{span} · {silence.detail}", span, state] if silence.detail else [span, state]
    if state == "no-audit":
        return ["no AuditEvents", "no audit"]
    if state == "ok" and incident.errors_only and incident.previous is not None:
        # Its newest AuditEvent is a failure: say what "ok" rests on.
        quiet = _short_span(now - incident.previous.last)
        return [f"ok · no failure for {quiet}", f"ok · {quiet} no failure", "ok"]
    return [{"never-ran": "never ran"}.get(state, state)]


def incident_heading(incident: Incident, now: datetime) -> str | None:
    """The state for a bot's heading (the Event tab's), after what it says of a failing bot's
    start: ``14× in a row · timeout`` (``≥ 1,000× in a row``); ``recovered 5m ago (14 failed runs
    in 23m 00s)``; ``flaky (2 streaks in 10 runs)``; ``late 42m``. None: nothing to say (``ok``,
    ``never-ran``, ``unknown``; ``no-audit``, which the tab's banner explains)."""
    state = incident.state
    if state == "failing" and incident.streak is not None:
        parts = [f"{incident.streak.runs_text}× in a row"]
        if incident.kind:
            parts.append(incident.kind)
        return " · ".join(parts)
    if state == "recovered" and incident.previous is not None:
        return f"{incident_label(incident, now)} ({streak_text(incident.previous, now)})"
    if state in ("flaky", "late", "quiet"):
        return incident_label(incident, now)
    return None


def streak_text(streak: Streak, now: datetime) -> str:
    """``14 failed runs in 23m``, ``at least 1,000 failed runs in 2h 05m``."""
    runs = plural(streak.runs, "failed run")
    return f"{'' if streak.exact else 'at least '}{runs} in {duration_text(streak.lasted(now))}"


def incident_report(
    bot: str,
    incident: Incident,
    *,
    now: datetime,
    link: str | None = None,
    input_ref: str | None = None,
    profile: str | None = None,
    project: str | None = None,
    run: FailedRun | None = None,
) -> str:
    """An incident as plain text for the incident channel (the TUI's copy key): the bot, its
    state, since when, the streak, the kind, the error line, the web-app link and the input
    reference, one fact a line; ``bot`` and the texts sanitized by the caller.

    ``profile``: the project's label in front of the name (several projects); ``project``: a
    ``project:`` line (the server or project the bot is in). ``run``: the failed run the report
    points at (the one selected): its time, and its kind, error line and signature when the
    incident names none or other ones (an older failure of a bot that is not failing now)."""
    name = f"{profile}/{bot}" if profile else bot
    lines = [f"{name}: {incident_label(incident, now)}"]
    if project:
        lines.append(f"project: {project}")
    streak = incident.streak if incident.state == "failing" else incident.previous
    if streak is not None and incident.state in ("failing", "recovered", "flaky"):
        lines.append(f"since: {_at(streak.since, now)}")
        lines.append(f"streak: {streak_text(streak, now)}")
        if streak.ended is not None:
            lines.append(f"recovered: {_at(streak.ended, now)}")
    kind, summary, signature = incident.kind, incident.summary, incident.signature
    # (late or quiet: the summary says why it is)
    said = "why" if incident.silence is not None else "error"
    if run is not None:
        if run.when is not None:
            lines.append(f"failed run: {_at(run.when, now)}")
        kind, summary, signature, said = run.kind, run.summary or None, run.signature, "error"
    if kind:
        lines.append(f"kind: {kind}")
    if summary:
        lines.append(f"{said}: {summary}")
    if signature is not None:
        lines.append(f"signature: {signature.text} [{signature.key}]")
    return _report_end(lines, link, input_ref)


def _at(when: datetime, now: datetime) -> str:
    """``2025-03-14T11:40:41.960Z (19m ago)``: a time in a report."""
    return f"{format_instant(when)} ({relative_age(when, now)})"


def _report_end(lines: list[str], link: str | None, input_ref: str | None) -> str:
    """A report's last lines (the web-app link and the input reference, when known), and all of
    it as one text."""
    if link:
        lines.append(f"link: {link}")
    if input_ref:
        lines.append(f"input: {input_ref}")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class IncidentCounts:
    """How many bots are in each state (the failing-now summary on every screen)."""

    counts: Mapping[str, int]

    def __getitem__(self, state: str) -> int:
        return self.counts.get(state, 0)

    @property
    def active(self) -> int:
        return sum(self[state] for state in ACTIVE_STATES)


def count_incidents(incidents: Iterable[Incident]) -> IncidentCounts:
    counts: dict[str, int] = {}
    for incident in incidents:
        counts[incident.state] = counts.get(incident.state, 0) + 1
    return IncidentCounts(counts)


def counts_text(counts: IncidentCounts) -> str:
    """``! 2 failing · 1 late · 1 flaky · 3 recovered``; ``✓ nothing failing`` when none is."""
    shown = ("failing", "late", "quiet", "flaky", "recovered")
    parts = [f"{counts[state]:,} {state}" for state in shown if counts[state]]
    if not parts:
        return "✓ nothing failing"
    return ("! " if counts.active else "") + " · ".join(parts)


# ------------------------------------------------------------------------------------------------
# One cause across bots
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FailureGroup:
    """Failed runs with one signature."""

    signature: Signature
    #: The newest run's error line (what one of them said, before normalising).
    example: str
    #: Its runs, newest first.
    runs: tuple[FailedRun, ...]
    #: Its bots' ids, the most recently failed first.
    bot_ids: tuple[str, ...]
    first_seen: datetime | None
    last_seen: datetime | None
    #: A bot of the group is failing now with this signature.
    ongoing: bool

    @property
    def newest(self) -> FailedRun:
        return self.runs[0]


def group_failures(
    runs: Iterable[FailedRun], *, ongoing: Callable[[FailedRun], bool] | None = None
) -> list[FailureGroup]:
    """``runs`` grouped by signature, the group with the newest run first. ``ongoing(run)``: whether
    ``run`` is the newest failure of a bot failing now (its group is then ongoing). One pass and a
    sort of the groups: 1,000 runs in about a millisecond."""
    members: dict[str, list[FailedRun]] = {}
    for run in runs:
        members.setdefault(run.signature.key, []).append(run)
    groups: list[FailureGroup] = []
    for held in members.values():
        held.sort(key=_newest_first)
        bots = tuple(dict.fromkeys(run.bot_id for run in held))
        times = [run.when for run in held if run.when is not None]
        newest = held[0]
        groups.append(
            FailureGroup(
                signature=newest.signature,
                example=newest.summary,
                runs=tuple(held),
                bot_ids=bots,
                first_seen=min(times) if times else None,
                last_seen=max(times) if times else None,
                ongoing=ongoing is not None and any(ongoing(run) for run in held),
            )
        )
    groups.sort(key=lambda group: _newest_first(group.newest))
    return groups


def group_counts(group: FailureGroup, *, width: int | None = None) -> str:
    """``6 runs · 3 bots``; ``6× · 3 bots`` when that does not fit in ``width`` cells."""
    bots = plural(len(group.bot_ids), "bot")
    full = f"{plural(len(group.runs), 'run')} · {bots}"
    return full if width is None or len(full) <= width else f"{len(group.runs):,}× · {bots}"


def group_report(
    group: FailureGroup,
    bots: Sequence[str],
    *,
    now: datetime,
    link: str | None = None,
    input_ref: str | None = None,
) -> str:
    """One cause across bots as plain text for the incident channel: its signature, how many runs
    and bots (``bots``: their names, sanitized by the caller, the most recently failed first),
    first and last seen, whether it goes on, its kind and error line, and the newest run's
    web-app link and input reference."""
    lines = [f"cause: {group.signature.text} [{group.signature.key}]"]
    lines.append(f"{group_counts(group)}: {', '.join(bots)}" if bots else group_counts(group))
    lines.append("ongoing: a bot is failing with it now" if group.ongoing else "ongoing: no (over)")
    for label, when in (("first seen", group.first_seen), ("last seen", group.last_seen)):
        if when is not None:
            lines.append(f"{label}: {_at(when, now)}")
    lines.append(f"kind: {group.newest.kind}")
    if group.example:
        lines.append(f"error: {group.example}")
    return _report_end(lines, link, input_ref)


def _newest_first(run: FailedRun) -> tuple[float, str]:
    return (-run.when.timestamp() if run.when is not None else float("inf"), run.id)
