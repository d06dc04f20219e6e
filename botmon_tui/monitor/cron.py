"""Medplum's cron semantics: which schedule the server runs a bot on, and when that is.

Read from the Medplum server's cron worker (``workers/cron.ts``):

* ``cronTiming`` wins when it has a ``repeat``, converted the server's way, not by FHIR's meaning
  (:func:`timing_to_cron`); else ``cronString``, which must pass ``cron-validator``'s
  ``isValidCron`` with its default options (:func:`cron_problem`). An invalid schedule is dropped
  without a word: :func:`bot_schedule` returns an :class:`InvalidSchedule` with the reason, and
  never raises.
* The five fields are parsed by cronsim (the cron library of healthchecks.io) and evaluated here
  arithmetically (:class:`CronTable`): next and previous times, and how many fell in a span,
  without walking the times one by one.
* Day of month and day of week combine as BullMQ's cron-parser combines them: when both are
  restricted (neither is exactly ``*``), a day that matches either runs.
* Times are UTC: Medplum's deployments run in UTC (the server's time zone is not in the API).

No request, no Textual.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from itertools import pairwise
from typing import Any, Literal

from cronsim import CronSim, CronSimError

from botmon_tui.formatting import plural
from botmon_tui.medplum.models import Bot
from botmon_tui.monitor.durations import compact_span
from botmon_tui.textsafe import clip

__all__ = [
    "MAX_COUNT_DAYS",
    "SEARCH_DAYS",
    "CronSchedule",
    "CronTable",
    "InvalidSchedule",
    "Schedule",
    "ScheduleSource",
    "TimingConversion",
    "aware",
    "bot_schedule",
    "cron_problem",
    "from_epoch",
    "timing_to_cron",
    "to_epoch",
]

#: Missed runs are counted arithmetically (by weeks or by months), except for schedules that name
#: both days of the month and days of the week, or weekdays in some months only: those are counted
#: day by day, up to this many days looked at (then the count is a lower bound: "≥ N").
MAX_COUNT_DAYS = 400
#: How far ahead (and back) the next (or previous) scheduled time is looked for: February 29th comes
#: within 8 years.
SEARCH_DAYS = 8 * 366

DAY = 86400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

ScheduleSource = Literal["cronString", "cronTiming"]


def to_epoch(value: datetime | float) -> float:
    """Epoch seconds of ``value`` (a naive datetime is UTC)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    return float(value)


def aware(value: datetime) -> datetime:
    """``value`` with a time zone (a naive datetime is UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


# ------------------------------------------------------------------------------------------------
# cronString: Medplum's validation (cron-validator's isValidCron, default options)
# ------------------------------------------------------------------------------------------------

_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 6),
)
_FIELD_CHARS = frozenset("0123456789-,/*")
_DIGITS = frozenset("0123456789")


def _number(text: str) -> int | None:
    return int(text) if text and all(c in _DIGITS for c in text) else None


def _part_problem(part: str, low: int, high: int) -> str | None:
    """Why one comma-separated part of a field fails cron-validator (None when it passes)."""
    if part.endswith("/"):
        return f"{part!r} has no step after /"
    pieces = part.split("/")
    if len(pieces) > 2:
        return f"{part!r} has more than one /"
    if len(pieces) == 2:
        step = _number(pieces[1])
        if step is None or step == 0:
            return f"step {pieces[1]!r} is not a whole number above 0"
    left = pieces[0]
    if left == "*":
        return None
    sides = left.split("-")
    if len(sides) > 2:
        return f"{left!r} is not a number, a range or *"
    numbers = [_number(side) for side in sides]
    for side, number in zip(sides, numbers, strict=True):
        if number is None:
            return f"{left!r} is not a number, a range or *" if side else f"{part!r} has an empty value"
        if not low <= number <= high:
            return f"{number} is outside {low}–{high}"
    if len(numbers) == 2 and numbers[0] is not None and numbers[1] is not None and numbers[0] > numbers[1]:
        return f"the range {left} runs backwards"
    return None


def cron_problem(text: str) -> str | None:
    """Why Medplum's server refuses ``text`` as a ``cronString``, or ``None`` when it takes it.

    The server schedules a ``cronString`` only when ``cron-validator``'s ``isValidCron`` passes it
    with its default options: five fields (no seconds), numbers, ``*``, ranges ``a-b``, steps
    ``/n`` and lists ``,`` only; no names (``MON``, ``JAN``), no ``?``, ``L``, ``W``, ``#`` or
    ``@hourly``; day of week ``0``–``6`` (``7`` is not Sunday here).
    """
    fields = text.split()
    if len(fields) != 5:
        shape = "minute hour day-of-month month day-of-week"
        return f"{plural(len(fields), 'field')}: the server takes 5 ({shape})"
    for value, (name, low, high) in zip(fields, _FIELDS, strict=True):
        shown = clip(value, 30)
        bad = next((c for c in value if c not in _FIELD_CHARS), None)
        if bad is not None:
            return (
                f"{name} {shown!r}: {clip(bad)!r} is not allowed "
                "(numbers, *, -, / and , only: no names such as MON or JAN, no ?, L, W or #)"
            )
        for part in value.split(","):
            reason = _part_problem(part, low, high)
            if reason is not None:
                return f"{name} {shown!r}: {clip(reason, 80)}"
    return None


# ------------------------------------------------------------------------------------------------
# A compiled five-field pattern: next and previous times, and counts, in epoch seconds
# ------------------------------------------------------------------------------------------------


def _next_month(when: date) -> date:
    """The 1st of the month after ``when``'s."""
    return date(when.year + when.month // 12, when.month % 12 + 1, 1)


class CronTable:
    """The sets of a five-field pattern (as cronsim parsed them), evaluated arithmetically: a day is
    matched once, the times within it by bisection, and whole weeks by multiplication, so a
    ``* * * * *`` bot silent for 30 days costs no more than one silent for 5 minutes.

    Day of month and day of week combine as BullMQ's cron-parser combines them: when both are
    restricted (neither is exactly ``*``) a day matching either runs; otherwise both must match.
    """

    __slots__ = ("_gaps", "day_and", "days", "months", "offsets", "week", "weekdays")

    def __init__(
        self,
        minutes: Iterable[int],
        hours: Iterable[int],
        days: Iterable[int],
        months: Iterable[int],
        weekdays: Iterable[int],
        day_and: bool,
    ) -> None:
        hour_list = list(hours)
        #: Minutes of the day at which it runs, ascending.
        self.offsets: tuple[int, ...] = tuple(sorted({h * 60 + m for h in hour_list for m in minutes}))
        self.days = frozenset(days)
        self.months = frozenset(months)
        self.weekdays = frozenset(w % 7 for w in weekdays)  # 7 is Sunday too
        self.day_and = day_and
        #: When whether a day runs depends on its weekday only: one flag per weekday (Sunday first).
        self.week: tuple[bool, ...] | None = None
        #: :meth:`gap_before` of recent times (a bot waits for the same time poll after poll).
        self._gaps: dict[float, float | None] = {}
        if len(self.months) == 12:
            if len(self.days) == 31:
                self.week = tuple((d in self.weekdays) if day_and else True for d in range(7))
            elif len(self.weekdays) == 7 and not day_and:
                self.week = (True,) * 7

    def day_matches(self, day: int) -> bool:
        week = self.week
        if week is not None:
            return week[(day + 4) % 7]
        when = date.fromordinal(_EPOCH_ORDINAL + day)
        if when.month not in self.months:
            return False
        in_month = when.day in self.days
        in_week = (day + 4) % 7 in self.weekdays
        return (in_month and in_week) if self.day_and else (in_month or in_week)

    @property
    def every_day(self) -> bool:
        return self.week is not None and all(self.week)

    def _run_day(self, day: int, step: int) -> int | None:
        """The first day that runs from ``day`` on (``step`` 1) or back (``step`` -1), within
        :data:`SEARCH_DAYS` (months that never run are skipped whole)."""
        week = self.week
        if week is not None:
            if not any(week):
                return None
            while not week[(day + 4) % 7]:
                day += step
            return day
        end = day + step * SEARCH_DAYS
        while (end - day) * step > 0:
            when = date.fromordinal(_EPOCH_ORDINAL + day)
            if when.month not in self.months:  # to the 1st of the next month, or the last of the one before
                edge = _next_month(when) if step > 0 else when.replace(day=1)
                day = edge.toordinal() - _EPOCH_ORDINAL - (step < 0)
                continue
            if self.day_matches(day):
                return day
            day += step
        return None

    def next_after(self, at: float) -> float | None:
        """The first scheduled time strictly after ``at`` (epoch seconds)."""
        offsets = self.offsets
        day, second = divmod(math.floor(at), DAY)
        later = bisect_right(offsets, second // 60)  # a time at this minute is not after ``at``
        if later < len(offsets) and self.day_matches(day):
            return float(day * DAY + offsets[later] * 60)
        found = self._run_day(day + 1, 1)
        return None if found is None else float(found * DAY + offsets[0] * 60)

    def previous_before(self, at: float) -> float | None:
        """The last scheduled time strictly before ``at`` (epoch seconds)."""
        offsets = self.offsets
        whole = math.floor(at)
        day, second = divmod(whole, DAY)
        minute = second // 60
        on_the_minute = whole == at and second % 60 == 0
        earlier = bisect_left(offsets, minute) if on_the_minute else bisect_right(offsets, minute)
        if earlier > 0 and self.day_matches(day):
            return float(day * DAY + offsets[earlier - 1] * 60)
        found = self._run_day(day - 1, -1)
        return None if found is None else float(found * DAY + offsets[-1] * 60)

    def _matching_days(self, first: int, end: int) -> tuple[int, bool]:
        """Days in ``[first, end)`` that run, and whether the count is a lower bound.

        By weeks when only the weekday decides; month by month when only the month and the day of
        the month decide; otherwise day by day (months that never run skipped), up to
        :data:`MAX_COUNT_DAYS` days looked at.
        """
        if end <= first:
            return 0, False
        week = self.week
        if week is not None:
            weeks, rest = divmod(end - first, 7)
            start = first + weeks * 7
            return weeks * sum(week) + sum(week[(start + k + 4) % 7] for k in range(rest)), False
        by_month = self.day_and and len(self.weekdays) == 7
        days = sorted(self.days)
        count = looked = 0
        day = first
        while day < end:
            when = date.fromordinal(_EPOCH_ORDINAL + day)
            stop = min(end, _next_month(when).toordinal() - _EPOCH_ORDINAL)
            if when.month in self.months:
                if by_month:  # the days of the month in [when.day, when.day + stop - day)
                    last = when.day + stop - day - 1
                    count += bisect_right(days, last) - bisect_left(days, when.day)
                else:
                    for each in range(day, stop):
                        if looked >= MAX_COUNT_DAYS:
                            return count, True
                        looked += 1
                        count += self.day_matches(each)
            day = stop
        return count, False

    def gap_before(self, at: float) -> float | None:
        """Seconds from the scheduled time before ``at`` to ``at`` (``None``: none within
        :data:`SEARCH_DAYS`). Remembered for the last few thousand times asked."""
        gaps = self._gaps
        if at in gaps:
            return gaps[at]
        before = self.previous_before(at)
        gap = None if before is None else at - before
        if len(gaps) >= 4096:
            gaps.clear()
        gaps[at] = gap
        return gap

    def count_between(self, after: float, until: float) -> tuple[int, bool]:
        """Scheduled times ``t`` with ``after < t <= until``, and whether that is a lower bound."""
        if until <= after:
            return 0, False
        offsets = self.offsets
        first_day, first_second = divmod(math.floor(after), DAY)
        last_day, last_second = divmod(math.floor(until), DAY)
        skip = bisect_right(offsets, first_second // 60)
        upto = bisect_right(offsets, last_second // 60)
        if first_day == last_day:
            return (upto - skip if self.day_matches(first_day) else 0), False
        count = len(offsets) - skip if self.day_matches(first_day) else 0
        days, capped = self._matching_days(first_day + 1, last_day)
        count += days * len(offsets)
        if not capped and self.day_matches(last_day):
            count += upto
        return count, capped


#: Where cronsim starts when it parses (any instant: only its sets are read).
_PARSE_FROM = datetime(2000, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=1024)
def _compile(expression: str) -> CronTable | str:
    """The pattern's sets as cronsim parses them, or why no time ever matches it."""
    try:
        sim = CronSim(expression, _PARSE_FROM)
    except CronSimError as err:
        return f"no time ever matches it ({clip(err, 60)})"
    fields = expression.split()
    weekdays = [w for w in sim.weekdays if isinstance(w, int)]
    return CronTable(
        sim.minutes, sim.hours, sim.days, sim.months, weekdays, fields[2] == "*" or fields[4] == "*"
    )


def _clock(minute_of_day: int) -> str:
    return f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}"


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _human(table: CronTable, expression: str) -> str:
    """``every 5 min``, ``hourly``, ``every 2 h``, ``daily at 09:30``, ``at :00 and :48 every
    hour``, ``daily at 00:00, 05:00, ... and 20:00``; else cronsim's explanation."""
    offsets = table.offsets
    if table.every_day:
        gaps = {b - a for a, b in pairwise(offsets)}
        gaps.add(offsets[0] + 1440 - offsets[-1])
        at = offsets[0]
        if len(gaps) == 1:
            gap = gaps.pop()
            if gap == 1:
                return "every minute"
            if gap < 60:
                return f"every {gap} min" + (f" from :{at:02d}" if at else "")
            if gap == 60:
                return "hourly" if at == 0 else f"hourly at :{at:02d}"
            if gap < 1440:
                every = f"every {gap // 60} h" if gap % 60 == 0 else f"every {compact_span(gap * 60)}"
                return every + (f" from {_clock(at)}" if at else "")
            return f"daily at {_clock(at)}"
        if len(offsets) <= 6:
            return f"daily at {_listed([_clock(o) for o in offsets])}"
        minutes = sorted({o % 60 for o in offsets})
        if len(offsets) == 24 * len(minutes) and len(minutes) <= 4:
            return f"at {_listed([f':{m:02d}' for m in minutes])} every hour"
    fields = expression.split()
    debian_and = fields[2].startswith("*") or fields[4].startswith("*")
    if debian_and == table.day_and:  # cronsim explains the Debian rule for day of month and week
        try:
            text = CronSim(expression, _PARSE_FROM).explain()
        except Exception:  # pragma: no cover - cronsim explains what it parsed
            text = ""
        if text:
            return text[0].lower() + text[1:]
    return "on the days of the month or of the week it names"


# ------------------------------------------------------------------------------------------------
# cronTiming: the server's conversion (convertTimingToCron in the server's workers/cron.ts)
# ------------------------------------------------------------------------------------------------

_DAY_CODES = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
#: FHIR Timing.repeat.periodUnit in seconds (a month as 30 days, a year as 365).
_UNIT_SECONDS = {"s": 1, "min": 60, "h": 3600, "d": 86400, "wk": 604800, "mo": 2592000, "a": 31536000}
#: Timing.repeat fields the server's conversion does not read.
_IGNORED_REPEAT = ("timeOfDay", "when", "offset", "boundsPeriod", "boundsDuration", "boundsRange", "count")


def _truthy(value: Any) -> bool:
    """JavaScript's truthiness (an empty list or object is true; 0, "" and NaN are false)."""
    if value is None or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0 and not math.isnan(value)
    if isinstance(value, str):
        return value != ""
    return True


@dataclass(frozen=True, slots=True)
class TimingConversion:
    """What Medplum's server makes of a ``cronTiming``."""

    #: The five fields it hands its scheduler (``None`` when it cannot build them).
    expression: str | None
    #: ``repeat.period`` as it reads it (1 when unset or 0).
    period: float | None
    #: Why the scheduler would refuse the pattern (the bot then never runs on a schedule).
    problem: str | None = None


def timing_to_cron(timing: Mapping[str, Any]) -> TimingConversion | None:
    """The pattern Medplum's cron worker schedules for a ``cronTiming``, converted the server's way.

    ``None`` when it has no ``repeat``: the server then ignores ``cronTiming`` and uses
    ``cronString``. Otherwise ``p = repeat.period`` (1 when unset); the minute is ``0`` and the hour
    ``*/ceil(24 / p)``, except that for ``24 < p < 60`` the hour is ``*`` and the minute
    ``*/ceil(1440 / p)``. ``repeat.dayOfWeek`` (``sun``..``sat``) becomes the day of week; day of
    month and month are always ``*``. Nothing else of the Timing is read (``frequency``,
    ``periodUnit``, ``timeOfDay``...).
    """
    repeat = timing.get("repeat")
    if not _truthy(repeat):
        return None
    fields: Mapping[str, Any] = repeat if isinstance(repeat, Mapping) else {}
    raw = fields.get("period")
    if not _truthy(raw):
        period = 1.0
    elif isinstance(raw, bool) or not isinstance(raw, int | float):
        return TimingConversion(None, None, f"repeat.period {clip(repr(raw), 30)} is not a number")
    else:
        try:
            period = float(raw)
        except OverflowError:
            return TimingConversion(None, None, "repeat.period is too large a number")
    minute, hour = "0", "*"
    try:
        if 24 < period < 60:
            minute = f"*/{math.ceil(1440 / period)}"
        else:
            hour = f"*/{math.ceil(24 / period)}"
    except (OverflowError, ValueError):
        return TimingConversion(None, period, f"repeat.period {period:g} gives no whole step")
    day_of_week = "*"
    problem: str | None = None
    days = fields.get("dayOfWeek")
    if days is not None:
        if not isinstance(days, list) or not days:
            problem = "repeat.dayOfWeek is not a list of days"
            day_of_week = ""
        else:
            codes = [_DAY_CODES.get(day) if isinstance(day, str) else None for day in days]
            unknown = next((day for day, code in zip(days, codes, strict=True) if code is None), None)
            if unknown is not None or None in codes:
                problem = f"repeat.dayOfWeek {clip(repr(unknown), 20)} is not one of sun, mon, ..., sat"
            day_of_week = ",".join("" if code is None else str(code) for code in codes)
    expression = f"{minute} {hour} * * {day_of_week}"
    if problem is None and period < 0:
        problem = f"a negative repeat.period gives the step {hour}, which the server's scheduler refuses"
    return TimingConversion(expression, period, problem)


def _timing_notes(timing: Mapping[str, Any], table: CronTable, human: str, expression: str) -> list[str]:
    """Where the server's reading of a Timing differs from FHIR's."""
    repeat = timing.get("repeat")
    fields: Mapping[str, Any] = repeat if isinstance(repeat, Mapping) else {}
    notes: list[str] = []
    period, unit = fields.get("period"), fields.get("periodUnit")
    frequency = fields.get("frequency", 1)
    if (
        isinstance(period, int | float)
        and not isinstance(period, bool)
        and period > 0
        and isinstance(unit, str)
        and unit in _UNIT_SECONDS
        and isinstance(frequency, int | float)
        and not isinstance(frequency, bool)
        and frequency > 0
    ):
        meant = period * _UNIT_SECONDS[unit] / frequency
        served = 86400 / len(table.offsets)  # per day it runs (dayOfWeek aside)
        if math.isfinite(meant) and abs(served - meant) > 0.01 * meant:
            notes.append(
                f"FHIR reads this cronTiming as every {compact_span(meant)}; Medplum's server reads "
                f"repeat.period only (as {period:g}) and runs it {human} ({expression})"
            )
    ignored = [name for name in _IGNORED_REPEAT if name in fields]
    if ignored:
        notes.append(f"the server ignores repeat.{', repeat.'.join(ignored)}")
    return notes


# ------------------------------------------------------------------------------------------------
# A bot's schedule
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A schedule the server runs (UTC)."""

    source: ScheduleSource
    #: The five fields the server hands its scheduler (single spaces).
    expression: str
    #: ``every 5 min``, ``hourly``, ``daily at 09:30``, ``at 09:30 on Monday through Friday``.
    human: str
    #: ``every 5 min (cron */5 * * * *, UTC)``; ``hourly (cronTiming period 24 → cron 0 */1 * * *, UTC)``.
    description: str
    #: Its times, for arithmetic in epoch seconds.
    table: CronTable = field(repr=False, compare=False)
    #: Where the server's reading may surprise (cronString ignored, FHIR meaning of the Timing...).
    notes: tuple[str, ...] = ()
    #: ``repeat.period`` as the server reads it (cronTiming only).
    timing_period: float | None = None

    def next_after(self, when: datetime) -> datetime | None:
        """The first scheduled run strictly after ``when`` (``None``: none within 8 years)."""
        found = self.table.next_after(to_epoch(when))
        return None if found is None else from_epoch(found)

    def previous_before(self, when: datetime) -> datetime | None:
        """The last scheduled run strictly before ``when``."""
        found = self.table.previous_before(to_epoch(when))
        return None if found is None else from_epoch(found)

    def count_between(self, after: datetime, until: datetime) -> tuple[int, bool]:
        """Scheduled runs ``t`` with ``after < t <= until``, and whether the count is a lower bound
        (it stops after :data:`MAX_COUNT_DAYS` days for schedules that name days of the month)."""
        return self.table.count_between(to_epoch(after), to_epoch(until))


@dataclass(frozen=True, slots=True)
class InvalidSchedule:
    """A schedule the server drops without a word: the bot never runs on a schedule."""

    source: ScheduleSource
    #: What the bot holds (sanitized, clipped, spaces collapsed).
    text: str
    #: Why the server drops it.
    reason: str
    notes: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        return f'invalid {self.source} "{self.text}": {self.reason}; the server schedules nothing'


Schedule = CronSchedule | InvalidSchedule


def _one_line(value: object, limit: int = 60) -> str:
    return clip(" ".join(str(value).split()), limit)


def _timing_text(timing: Mapping[str, Any]) -> str:
    repeat = timing.get("repeat")
    if not isinstance(repeat, Mapping):
        return _one_line(repeat if repeat is not None else timing)
    shown = {k: repeat[k] for k in ("frequency", "period", "periodUnit", "dayOfWeek") if k in repeat}
    return _one_line(", ".join(f"{k} {v}" for k, v in shown.items()) or "repeat {}")


def _build_schedule(cron_string: str | None, timing: Any) -> Schedule | None:
    notes: list[str] = []
    if timing is not None:
        conversion = timing_to_cron(timing) if isinstance(timing, Mapping) else None
        if conversion is not None:
            if cron_string:
                notes.append("cronString is ignored: cronTiming wins")
            expression = conversion.expression
            if conversion.problem is not None or expression is None:
                text = _one_line(expression) if expression is not None else _timing_text(timing)
                return InvalidSchedule("cronTiming", text, conversion.problem or "unreadable", tuple(notes))
            table = _compile(expression)
            if isinstance(table, str):
                return InvalidSchedule("cronTiming", expression, table, tuple(notes))
            human = _human(table, expression)
            notes.extend(_timing_notes(timing, table, human, expression))
            period = conversion.period
            shown = f"{period:g}" if period is not None else "1"
            return CronSchedule(
                "cronTiming",
                expression,
                human,
                f"{human} (cronTiming period {shown} → cron {expression}, UTC)",
                table,
                tuple(notes),
                period,
            )
        if not cron_string:
            text = _timing_text(timing) if isinstance(timing, Mapping) else _one_line(timing)
            reason = "it has no repeat, so the server reads nothing from it"
            return InvalidSchedule("cronTiming", text, reason)
        notes.append("cronTiming has no repeat: the server ignores it and uses cronString")
    if not cron_string:
        return None
    problem = cron_problem(cron_string)
    if problem is not None:
        return InvalidSchedule("cronString", _one_line(cron_string), problem, tuple(notes))
    expression = " ".join(cron_string.split())
    table = _compile(expression)
    if isinstance(table, str):
        return InvalidSchedule("cronString", expression, table, tuple(notes))
    human = _human(table, expression)
    description = f"{human} (cron {expression}, UTC)"
    return CronSchedule("cronString", expression, human, description, table, tuple(notes))


def _freeze(value: Any) -> Any:
    """A hashable stand-in for a JSON value (the schedule cache's key)."""
    if isinstance(value, Mapping):
        return ("{", tuple(sorted((str(k), _freeze(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return ("[", tuple(_freeze(v) for v in value))
    if isinstance(value, str | int | float | bool) or value is None:
        return (type(value).__name__, value)
    return ("?", repr(value))


_SCHEDULES: dict[tuple[Any, ...], Schedule | None] = {}
_SCHEDULE_CACHE_SIZE = 4096


def bot_schedule(bot: Bot) -> Schedule | None:
    """The schedule Medplum's server runs ``bot`` on: a :class:`CronSchedule`, an
    :class:`InvalidSchedule` (the server drops it silently), or ``None`` (no schedule: it runs
    when a Subscription fires or someone calls ``$execute``). Never raises.

    ``cronTiming`` wins when it has a ``repeat`` (even a broken one); else ``cronString`` when it
    passes cron-validator. Whether the project has the ``cron`` feature cannot be seen from here.
    """
    timing = bot.cronTiming
    key = (bot.cronString, None if timing is None else _freeze(timing))
    try:
        return _SCHEDULES[key]
    except KeyError:
        pass
    schedule = _build_schedule(bot.cronString, timing)
    if len(_SCHEDULES) >= _SCHEDULE_CACHE_SIZE:
        _SCHEDULES.clear()
    _SCHEDULES[key] = schedule
    return schedule
