"""How long a bot's runs take, and how close they come to its timeout.

Plain functions of data already fetched (no request, no Textual). Facts from Medplum's server:

* A run's duration is ``period.start`` to ``period.end`` of its AuditEvent.
* ``Bot.timeout`` is in seconds; unset means 10 s, for AWS Lambda bots and vmcontext bots alike
  (vmcontext: 10,000 ms). A Lambda's timeout is at most 900 s.
* A Lambda timeout leaves no "Task timed out" line (Medplum cuts the log at ``END``): it shows as
  a failed run (outcome 4) whose duration is about the timeout. So a failed run that used
  :data:`TIMED_OUT` of the timeout is a timeout, and any run that used :data:`NEAR_TIMEOUT` of it
  is near one.
* For a run started by a Subscription, ``period.start`` is when the triggering resource changed:
  its duration includes the time it waited in the queue (:func:`includes_queue_wait`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice

from botmon_tui.medplum.models import FAILURE_CODES, AuditEvent, Bot

__all__ = [
    "DEFAULT_TIMEOUT",
    "LAMBDA_MAX_TIMEOUT",
    "MAX_DURATIONS",
    "NEAR_TIMEOUT",
    "NEAR_TIMEOUT_MARK",
    "QUEUE_WAIT_NOTE",
    "QUEUE_WAIT_TEXT",
    "SUBSCRIBER_ROLE",
    "TIMED_OUT",
    "DurationStats",
    "RunTiming",
    "bot_timeout",
    "compact_span",
    "duration_seconds",
    "duration_stats",
    "includes_queue_wait",
    "quantile",
    "run_timing",
    "seconds_of",
]

#: Seconds a run may take when ``Bot.timeout`` is unset (Lambda: 10 s; vmcontext: 10,000 ms).
DEFAULT_TIMEOUT = 10.0
#: AWS Lambda's longest timeout: Medplum applies ``Bot.timeout`` at deploy time, within it.
LAMBDA_MAX_TIMEOUT = 900.0
#: A run that used this fraction of its timeout (or more) is "near timeout".
NEAR_TIMEOUT = 0.80
#: A failed run that used this fraction of its timeout (or more) timed out (kind ``timeout``).
TIMED_OUT = 0.95
#: Before the duration of a run that came near its timeout (the Event tab, ``events``).
NEAR_TIMEOUT_MARK = "⏱"
#: The most durations :func:`duration_stats` looks at (bounded work, whatever it is given).
MAX_DURATIONS = 1000
#: ``AuditEvent.entity[].role.code`` of the Subscription that started a run.
SUBSCRIBER_ROLE = "9"
#: After the duration of a run a Subscription started (:func:`includes_queue_wait`) ...
QUEUE_WAIT_NOTE = "incl. queue wait"
#: ... and why, where there is room for it.
QUEUE_WAIT_TEXT = (
    "started by a Subscription: period.start is when the triggering resource changed, so the "
    "duration includes the time the run waited in the queue"
)


def bot_timeout(bot: Bot) -> float:
    """The longest a run of ``bot`` may take, in seconds.

    ``Bot.timeout`` when it is a positive number, else :data:`DEFAULT_TIMEOUT`; for an AWS Lambda
    bot never more than Lambda allows (:data:`LAMBDA_MAX_TIMEOUT`).
    """
    timeout = bot.timeout
    seconds = (
        float(timeout)
        if isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout > 0
        else DEFAULT_TIMEOUT
    )
    if not math.isfinite(seconds):
        seconds = DEFAULT_TIMEOUT
    if bot.runtimeVersion == "awslambda":
        seconds = min(seconds, LAMBDA_MAX_TIMEOUT)
    return seconds


def duration_seconds(event: AuditEvent) -> float | None:
    """``period.end - period.start`` in seconds; ``None`` when either is missing or the end comes
    before the start (a clock that went backwards says nothing about the run)."""
    return seconds_of(event.duration)


def seconds_of(duration: timedelta | None) -> float | None:
    """A run's duration in seconds (see :func:`duration_seconds`): None when unknown or negative."""
    if duration is None:
        return None
    seconds = duration / timedelta(seconds=1)
    return seconds if seconds >= 0 else None


def includes_queue_wait(event: AuditEvent) -> bool:
    """The run was started by a Subscription (an entity with role 9, Subscriber): its
    ``period.start`` is when the triggering resource changed, so its duration includes the time it
    waited in the queue before the bot ran."""
    for entity in event.entity or ():
        role = entity.role
        if role is not None and role.code == SUBSCRIBER_ROLE:
            return True
    return False


@dataclass(frozen=True, slots=True)
class RunTiming:
    """One run's duration against its bot's timeout."""

    #: Seconds from ``period.start`` to ``period.end`` (``None`` when unknown).
    duration: float | None
    #: The bot's timeout in seconds (:func:`bot_timeout`).
    timeout: float
    #: ``duration / timeout`` (``None`` when the duration is unknown). Can pass 1 when the
    #: duration includes queue wait.
    fraction: float | None
    #: Used :data:`NEAR_TIMEOUT` of the timeout or more, and is not :attr:`timed_out`.
    near_timeout: bool
    #: A failed run (outcome 4, 8 or 12) that used :data:`TIMED_OUT` of the timeout or more:
    #: kind ``timeout``.
    timed_out: bool
    #: Subscription-triggered: the duration includes time waiting in the queue
    #: (:func:`includes_queue_wait`), so it overstates how long the bot itself ran.
    queue_wait: bool


def run_timing(event: AuditEvent, bot: Bot) -> RunTiming:
    """How much of ``bot``'s timeout ``event`` used."""
    duration = duration_seconds(event)
    timeout = bot_timeout(bot)
    fraction = duration / timeout if duration is not None else None
    timed_out = fraction is not None and fraction >= TIMED_OUT and event.outcome in FAILURE_CODES
    near = fraction is not None and fraction >= NEAR_TIMEOUT and not timed_out
    return RunTiming(duration, timeout, fraction, near, timed_out, includes_queue_wait(event))


def quantile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``ordered`` (sorted ascending, not empty), interpolated
    linearly between the two nearest values (numpy's default)."""
    if not ordered:
        raise ValueError("quantile of nothing")
    position = min(max(q, 0.0), 1.0) * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True, slots=True)
class DurationStats:
    """The median and 95th percentile of a bot's run durations, in seconds."""

    #: Durations counted (unknown ones left out).
    count: int
    p50: float | None
    p95: float | None


def duration_stats(durations: Iterable[float | None], *, limit: int = MAX_DURATIONS) -> DurationStats:
    """p50 and p95 of ``durations`` in seconds (``None``, negative and non-finite ones are left
    out; :func:`duration_seconds` gives a run's). Only the first ``limit`` values are read (give the
    newest first), so the work is bounded whatever the caller holds."""
    values = sorted(v for v in islice(durations, max(limit, 0)) if v is not None and 0 <= v < math.inf)
    if not values:
        return DurationStats(0, None, None)
    return DurationStats(len(values), quantile(values, 0.50), quantile(values, 0.95))


def compact_span(seconds: float | None, *, about: bool = False) -> str:
    """A span in the bot list's few characters: ``45s``, ``42m``, ``1m 30s``, ``2h``, ``2h 05m``,
    ``3d``; the second unit only where it matters (under 10 of the first), cut down, not rounded
    (``late 42m`` for 42 min 59 s). ``about``: a typical figure, rounded to the nearest second below
    2 minutes, minute below 2 days, hour above (a 299.6 s rhythm is ``5m``). ``—`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if about:
        unit = 1 if seconds < 120 else 60 if seconds < 172800 else 3600
        seconds = round(seconds / unit) * unit
    whole = max(int(seconds), 0)
    for size, unit_name, small, small_name in (
        (86400, "d", 3600, "h"),
        (3600, "h", 60, "m"),
        (60, "m", 1, "s"),
    ):
        if whole >= size:
            count, rest = divmod(whole, size)
            rest //= small
            if count < 10 and rest:
                width = 1 if small_name == "h" else 2
                return f"{count}{unit_name} {rest:0{width}d}{small_name}"
            return f"{count}{unit_name}"
    return f"{whole}s"
