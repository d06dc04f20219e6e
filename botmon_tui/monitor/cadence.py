"""Silence is a failure too: whether a bot's silence is late or quiet, from data already fetched.

A bot that stops running writes nothing. Its expected cadence says when the silence becomes a
failure (as healthchecks.io and Cronitor do for the cron jobs that ping them):

* a bot the server runs on a schedule (:func:`botmon_tui.monitor.cron.bot_schedule`) is ``late``
  when a scheduled run did not come within its grace period;
* a bot without one (a Subscription or ``$execute`` bot) gets a **learned cadence**
  (:func:`learn_cadence`): the typical gap between its runs and how much it varies, used only
  when there are enough runs over at least a day and the gaps are regular. It is ``quiet`` when
  its silence is far beyond it. A bursty bot is never learned, so it is never called quiet;
* a bot whose healthy runs leave no AuditEvent is neither (:func:`silence_blind`).

:func:`evaluate` is a pure function of the bot, its last run, its recent runs and "now" (a frozen
:class:`CadenceState`); :func:`explain_never_ran` is the banner of a scheduled bot with no run.
No request, no Textual.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import sub
from typing import Any, Literal, cast

from botmon_tui.formatting import NoEventsReason, explain_no_events, plural
from botmon_tui.medplum.models import Bot, format_instant
from botmon_tui.monitor.cron import (
    CronSchedule,
    InvalidSchedule,
    Schedule,
    aware,
    bot_schedule,
    from_epoch,
    to_epoch,
)
from botmon_tui.monitor.durations import bot_timeout, compact_span, quantile

__all__ = [
    "CRON_DOCS_URL",
    "GRACE_FRACTION",
    "LEARN_MAX_PAUSE",
    "LEARN_MAX_RUNS",
    "LEARN_MAX_SPREAD",
    "LEARN_MIN_RUNS",
    "LEARN_MIN_SPAN",
    "MIN_GRACE",
    "QUIET_FACTOR",
    "QUIET_MIN",
    "CadenceKind",
    "CadenceState",
    "LearnedCadence",
    "NoCadence",
    "default_grace",
    "evaluate",
    "explain_never_ran",
    "explain_no_runs",
    "learn_cadence",
    "might_learn",
    "silence_blind",
]

#: The shortest grace period: a scheduled run is late when it has not come this long after it was due
#: (or :data:`GRACE_FRACTION` of its period, when that is longer).
MIN_GRACE = 120.0
#: The grace period's share of the schedule's period (the gap before the run that is due).
GRACE_FRACTION = 0.20
#: A learned cadence needs at least this many runs ...
LEARN_MIN_RUNS = 20
#: ... spread over at least this many seconds (a day: a bot that runs only in business hours has
#: shown its nights; one seen for three hours has not).
LEARN_MIN_SPAN = 86400.0
#: The newest runs a cadence is learned from (bounded work, whatever the caller holds): a day of a
#: bot that runs every minute. A bot that runs more often than that covers less than a day with
#: them, and is never learned.
LEARN_MAX_RUNS = 1500
#: Regular enough: the 10th to 90th percentile of the gaps spans at most this share of the median
#: (a Poisson-like bot's spans about 3 times its median; a steady one's a small fraction).
LEARN_MAX_SPREAD = 1.0
#: Regular enough: no gap longer than this many times the median (a nightly pause, a weekend or an
#: outage in the history means the bot has a rhythm of its own that a median cannot tell).
LEARN_MAX_PAUSE = 6.0
#: Quiet: silent for more than this many times its longest gap seen ...
QUIET_FACTOR = 3.0
#: ... and for at least this many seconds.
QUIET_MIN = 1800.0
#: Medplum's page on cron-scheduled bots.
CRON_DOCS_URL = "https://www.medplum.com/docs/bots/bot-cron-job"

#: ``late`` and ``quiet`` are incident states; ``ok``: the bot keeps to what is expected of it;
#: ``untracked``: its healthy runs leave no AuditEvent, so silence says nothing; ``unknown``: nothing
#: to hold it to (no schedule and no learned cadence, or its last run is not known yet).
CadenceKind = Literal["late", "quiet", "ok", "untracked", "unknown"]


def default_grace(period: float) -> float:
    """The grace period of a scheduled run: :data:`MIN_GRACE` or :data:`GRACE_FRACTION` of its
    period (the gap since the scheduled run before it), whichever is longer."""
    return max(MIN_GRACE, GRACE_FRACTION * period)


# ------------------------------------------------------------------------------------------------
# Learned cadence
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LearnedCadence:
    """A bot's own rhythm, from its runs: regular enough to say when silence is unusual."""

    #: Runs it was learned from.
    runs: int
    #: The median gap between runs, seconds.
    typical: float
    #: The longest gap seen, seconds.
    longest: float
    #: (p90 - p10) of the gaps over the median: how much they vary.
    spread: float
    #: Seconds from the first run to the last.
    span: float
    #: The newest run.
    newest: datetime

    @property
    def quiet_after(self) -> float:
        """Seconds of silence after which the bot is quiet."""
        return max(QUIET_FACTOR * self.longest, QUIET_MIN)

    @property
    def description(self) -> str:
        every = compact_span(self.typical, about=True)
        return f"usually every {every} (learned from {plural(self.runs, 'run')})"


@dataclass(frozen=True, slots=True)
class NoCadence:
    """No rhythm learned: too few runs, too short a history, or too irregular (never quiet)."""

    runs: int
    reason: str

    @property
    def description(self) -> str:
        return f"no schedule; no regular rhythm ({self.reason})"


def learn_cadence(times: Iterable[datetime | float]) -> LearnedCadence | NoCadence:
    """The rhythm of a bot's runs (datetimes, or epoch seconds), in any order.

    Learned only from at least :data:`LEARN_MIN_RUNS` runs over at least :data:`LEARN_MIN_SPAN`, and
    only when the gaps are regular: their 10th to 90th percentile within :data:`LEARN_MAX_SPREAD`
    times the median, and none longer than :data:`LEARN_MAX_PAUSE` times it. So a bursty bot, a
    Poisson-like one and one that pauses at night or at weekends get no cadence, and are never
    called quiet. The newest :data:`LEARN_MAX_RUNS` runs are read.
    """
    given = list(times)
    # Epoch seconds are read as they are (no loop in Python); anything else is converted.
    all_floats = not set(map(type, given)) - {float}
    stamps = cast("list[float]", given) if all_floats else [to_epoch(t) for t in given]
    if len(stamps) > LEARN_MAX_RUNS:
        stamps = heapq.nlargest(LEARN_MAX_RUNS, stamps)
    stamps.sort()
    count = len(stamps)
    if count < LEARN_MIN_RUNS:
        return NoCadence(count, f"{plural(count, 'run')} seen, {LEARN_MIN_RUNS} needed")
    span = stamps[-1] - stamps[0]
    if span < LEARN_MIN_SPAN:
        return NoCadence(count, f"{plural(count, 'run')} over {compact_span(span)}, a day needed")
    gaps = sorted(map(sub, stamps[1:], stamps))
    typical = quantile(gaps, 0.5)
    if typical <= 0:
        return NoCadence(count, "bursty: most runs come in the same instant as another")
    low, high = quantile(gaps, 0.1), quantile(gaps, 0.9)
    spread = (high - low) / typical
    if spread > LEARN_MAX_SPREAD:
        return NoCadence(count, f"irregular: gaps from {compact_span(low)} to {compact_span(high)}")
    longest = gaps[-1]
    if longest > LEARN_MAX_PAUSE * typical:
        return NoCadence(
            count, f"pauses of up to {compact_span(longest)} between runs {compact_span(typical)} apart"
        )
    return LearnedCadence(count, typical, longest, spread, span, from_epoch(stamps[-1]))


#: :func:`might_learn`: the fewest runs whose gaps say anything about regularity.
MIGHT_LEARN_MIN_RUNS = 5


def might_learn(times: Iterable[datetime | float], *, lookup_runs: int = 1000) -> bool:
    """Whether reading more of a bot's runs could teach its cadence, when ``times`` (its runs
    seen) cannot: too few or too short a span, but their gaps already regular (as
    :func:`learn_cadence` tests them), and ``lookup_runs`` such runs would span a day. A bursty or
    irregular bot is not worth the request."""
    stamps = sorted(t if isinstance(t, float) else to_epoch(t) for t in times)
    count = len(stamps)
    if count < MIGHT_LEARN_MIN_RUNS:
        return False
    if count >= LEARN_MIN_RUNS and stamps[-1] - stamps[0] >= LEARN_MIN_SPAN:
        return False  # learn_cadence has all it needs (and said yes or no)
    gaps = sorted(map(sub, stamps[1:], stamps))
    typical = quantile(gaps, 0.5)
    if typical <= 0 or typical * (min(lookup_runs, LEARN_MAX_RUNS) - 1) < LEARN_MIN_SPAN:
        return False
    spread = (quantile(gaps, 0.9) - quantile(gaps, 0.1)) / typical
    return spread <= LEARN_MAX_SPREAD and gaps[-1] <= LEARN_MAX_PAUSE * typical


# ------------------------------------------------------------------------------------------------
# Evaluation
# ------------------------------------------------------------------------------------------------


def silence_blind(bot: Bot) -> str | None:
    """Why ``bot``'s silence says nothing (its healthy runs leave no AuditEvent), or ``None``."""
    if "resource" not in bot.audit_destination:
        return 'it writes no AuditEvents (auditEventDestination has no "resource")'
    trigger = bot.audit_trigger
    if trigger == "never":
        return 'it writes no AuditEvents (auditEventTrigger "never")'
    if trigger in ("on-error", "on-output"):
        what = "failed runs" if trigger == "on-error" else "runs that log something"
        return f'auditEventTrigger "{trigger}": only {what} leave an AuditEvent, so silence is normal'
    return None


@dataclass(frozen=True, slots=True)
class CadenceState:
    """What a bot's silence means now (:func:`evaluate`). Times are UTC; spans are seconds."""

    kind: CadenceKind
    #: Its schedule (``None``: none).
    schedule: Schedule | None = None
    #: Its learned rhythm, for a bot without a schedule the server runs.
    cadence: LearnedCadence | NoCadence | None = None
    #: A bot with a schedule (valid or not) that has never run (show :func:`explain_never_ran`).
    #: With a valid schedule, ``kind`` is ``late`` once its first run is overdue.
    never_ran: bool = False
    #: The scheduled run it waits for (the first after :attr:`counted_from`).
    due: datetime | None = None
    #: Where the count of scheduled runs starts: its last run, or the Bot's last change when that
    #: is later (the server registers a changed schedule afresh).
    counted_from: datetime | None = None
    #: The grace period of the run that is due (seconds).
    grace: float | None = None
    #: Scheduled runs since :attr:`counted_from` that have not come (late only).
    missed: int | None = None
    #: :attr:`missed` is a lower bound ("≥ N").
    missed_capped: bool = False
    #: Seconds since the first missed run was due (late only).
    late_by: float | None = None
    #: When the next run is expected: the run that is due (on time), the next scheduled run after
    #: now (late), its newest run plus its typical gap (learned, not quiet).
    next_expected: datetime | None = None
    #: Seconds between runs: the schedule's gap before the due run, or the learned typical gap.
    expected_every: float | None = None
    #: Seconds since its newest run (learned cadence).
    silent_for: float | None = None
    #: Why it is ``untracked`` or ``unknown``.
    note: str | None = None

    @property
    def is_incident(self) -> bool:
        """Late or quiet: an incident state (failing > late > quiet > flaky > recovered > ok)."""
        return self.kind in ("late", "quiet")

    @property
    def expectation(self) -> str:
        """What is expected of the bot, for people: its schedule, or its learned rhythm."""
        schedule, cadence = self.schedule, self.cadence
        if isinstance(schedule, CronSchedule):
            return schedule.description
        if isinstance(cadence, LearnedCadence):
            return cadence.description
        if isinstance(schedule, InvalidSchedule):
            return schedule.description
        if isinstance(cadence, NoCadence):
            return cadence.description
        return "no schedule"

    def label(self) -> str:
        """The bot list's words: ``late 42m · 9 missed``, ``late 3h · never ran``,
        ``quiet 2h · usually every 5m``; ``""`` when neither."""
        if self.kind == "late":
            if self.never_ran:
                return f"late {compact_span(self.late_by)} · never ran"
            missed = f"{'≥ ' if self.missed_capped else ''}{self.missed or 0:,}"
            return f"late {compact_span(self.late_by)} · {missed} missed"
        if self.kind == "quiet":
            usually = compact_span(self.expected_every, about=True)
            return f"quiet {compact_span(self.silent_for)} · usually every {usually}"
        return ""

    def json_fields(self) -> dict[str, Any]:
        """``missed``, ``lateBy``, ``nextExpected`` (a FHIR instant) and ``expectedEvery`` (seconds),
        ``None`` where they do not apply, for ``status`` and ``bots --json``."""
        return {
            "missed": self.missed,
            "lateBy": None if self.late_by is None else round(self.late_by, 3),
            "nextExpected": None if self.next_expected is None else format_instant(self.next_expected),
            "expectedEvery": None if self.expected_every is None else round(self.expected_every, 3),
        }


def _late_or_on_time(
    bot: Bot, schedule: CronSchedule, last_run: datetime | None, now: float, grace: float | None
) -> CadenceState:
    anchor = last_run
    changed = bot.last_updated
    if changed is not None and (anchor is None or changed > anchor):
        anchor = changed
    never = last_run is None
    if anchor is None:
        return CadenceState(
            "unknown",
            schedule,
            never_ran=never,
            note="it has never run, and when its schedule began is unknown (no meta.lastUpdated)",
        )
    table = schedule.table
    start = to_epoch(anchor)
    due = table.next_after(start)
    if due is None:
        note = "its schedule names no time within 8 years"
        return CadenceState("unknown", schedule, never_ran=never, counted_from=anchor, note=note)
    period = table.gap_before(due)
    if period is None:  # pragma: no cover - a schedule with a next time has one before it within 8 years
        period = 86400.0
    allowed = max(grace, 0.0) if grace is not None else default_grace(period)
    # A run's AuditEvent is written when it ends, up to its timeout after it started.
    if now <= due + allowed + bot_timeout(bot):
        return CadenceState(
            "ok",
            schedule,
            never_ran=never,
            due=from_epoch(due),
            counted_from=anchor,
            grace=allowed,
            next_expected=from_epoch(due),
            expected_every=period,
        )
    missed, capped = table.count_between(start, now)
    following = table.next_after(now)
    return CadenceState(
        "late",
        schedule,
        never_ran=never,
        due=from_epoch(due),
        counted_from=anchor,
        grace=allowed,
        missed=missed,
        missed_capped=capped,
        late_by=now - due,
        next_expected=None if following is None else from_epoch(following),
        expected_every=period,
    )


def evaluate(
    bot: Bot,
    last_run: datetime | None,
    runs: Iterable[datetime | float],
    now: datetime,
    *,
    grace: float | None = None,
    learned: LearnedCadence | NoCadence | None = None,
    last_run_known: bool = True,
) -> CadenceState:
    """What ``bot``'s silence means at ``now``. Pure: no request, no clock of its own.

    * ``last_run``: the time of its newest run (``AuditEvent.when``, when it was recorded), ``None``
      when it has none.
    * ``runs``: its recent run times (datetimes or epoch seconds, any order), for a learned
      cadence; pass ``learned`` instead to reuse one (:func:`learn_cadence`) until its runs change.
    * ``now``: the server's clock when known (``MedplumClient.server_now``).
    * ``grace``: the bot's grace period in seconds (the config file's), instead of :func:`default_grace`.
    * ``last_run_known``: ``False`` while a ``None`` ``last_run`` only means "not looked up yet"
      (then a scheduled bot is ``unknown``, not never-ran).

    A bot with a schedule is ``late`` when the first scheduled run after its last run (or after the
    Bot last changed, if later) has not come by its due time plus the grace period plus the bot's
    timeout (its AuditEvent is written when it ends). A run that arrives early does not count for
    the next scheduled run. A bot without one (or with one the server drops) is ``quiet`` when it
    has a :class:`LearnedCadence` and has been silent for more than its ``quiet_after``. A bot
    whose healthy runs leave no AuditEvent is ``untracked``: never late, never quiet.
    """
    schedule = bot_schedule(bot)
    blind = silence_blind(bot)
    if blind is not None:
        return CadenceState("untracked", schedule, note=blind)
    at = to_epoch(now)
    if last_run is not None:
        last_run = aware(last_run)
    if isinstance(schedule, CronSchedule):
        if last_run is None and not last_run_known:
            return CadenceState("unknown", schedule, note="its last run has not been looked up yet")
        return _late_or_on_time(bot, schedule, last_run, at, grace)
    cadence = learned if learned is not None else learn_cadence(runs)
    never = schedule is not None and last_run is None and last_run_known and cadence.runs == 0
    if isinstance(cadence, NoCadence):
        return CadenceState("unknown", schedule, cadence, never_ran=never, note=cadence.reason)
    newest = cadence.newest if last_run is None or cadence.newest > last_run else last_run
    silent = at - to_epoch(newest)
    if silent > cadence.quiet_after:
        return CadenceState("quiet", schedule, cadence, expected_every=cadence.typical, silent_for=silent)
    return CadenceState(
        "ok",
        schedule,
        cadence,
        next_expected=newest + timedelta(seconds=cadence.typical),
        expected_every=cadence.typical,
        silent_for=max(silent, 0.0),
    )


# ------------------------------------------------------------------------------------------------
# The never-ran banner
# ------------------------------------------------------------------------------------------------


def explain_never_ran(bot: Bot, state: CadenceState | None = None) -> NoEventsReason:
    """Why a bot with a schedule shows no run, from Medplum's side (a banner's title and lines,
    like :func:`botmon_tui.formatting.explain_no_events`). ``state``: its :func:`evaluate` result
    (for how overdue it is); without it, only the bot's settings are read."""
    schedule = state.schedule if state is not None else bot_schedule(bot)
    lines: list[str] = []
    if isinstance(schedule, InvalidSchedule):
        cause, blocking = "invalid-schedule", True
        title = f"Never runs on a schedule: the server drops its {schedule.source}"
        lines.append(f"{schedule.description}.")
    else:
        cause, blocking = "never-ran", False
        if state is not None and state.kind == "late":
            overdue = compact_span(state.late_by)
            title = f"Scheduled, but it has never run: its first run was due {overdue} ago"
        elif state is not None and state.next_expected is not None:
            title = f"Scheduled, no run yet: the first is due at {state.next_expected:%Y-%m-%d %H:%M} UTC"
        else:
            title = "Scheduled, but it has never run"
        if schedule is not None:
            lines.append(f"Schedule: {schedule.description}.")
    if schedule is not None:
        lines.extend(f"Note: {note}." for note in schedule.notes)
    lines.append(
        'The project must have the "cron" feature (Project.features): without it Medplum ignores '
        "cronString and cronTiming without a word."
    )
    if isinstance(schedule, CronSchedule) and schedule.source == "cronTiming":
        lines.append(
            "cronTiming is converted the server's way, not by FHIR's meaning: check that "
            f"{schedule.expression} is the schedule you meant."
        )
    lines.append(
        "The bot needs a ProjectMembership: without one each scheduled run fails before the bot "
        "starts, and no AuditEvent is written."
    )
    lines.append("Schedules run in the server's time zone: UTC on Medplum's deployments.")
    return NoEventsReason(cause, title, tuple(lines), blocking, CRON_DOCS_URL)


def explain_no_runs(bot: Bot, state: CadenceState | None = None) -> NoEventsReason:
    """The Event tab's banner for a bot with no run shown: :func:`explain_never_ran` for a bot the
    server runs on a schedule whose runs are all recorded, else what its audit settings say
    (:func:`botmon_tui.formatting.explain_no_events`)."""
    if silence_blind(bot) is None and bot_schedule(bot) is not None:
        return explain_never_ran(bot, state)
    return explain_no_events(bot)
