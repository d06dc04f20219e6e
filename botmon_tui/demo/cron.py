"""A small five-field cron schedule (minute hour day-of-month month day-of-week), UTC.

Enough for the schedules a Medplum Bot's ``cronString`` holds: ``*``, numbers, ``a-b`` ranges, ``/n`` steps
and comma lists. As in Vixie cron, when both day-of-month and day-of-week are restricted a day matches
if either does. Day-of-week 0 and 7 are Sunday.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["CronSchedule", "convert_timing_to_cron"]

_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_DAYS_OF_WEEK = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}


def convert_timing_to_cron(timing: Any) -> str | None:
    """A Bot's ``cronTiming`` as the server's cron worker converts it (``convertTimingToCron``):
    ``p = repeat.period`` (1 when unset), minute ``0`` and hour ``*``; if ``24 < p < 60`` the minute
    becomes ``*/ceil(1440 / p)``, otherwise the hour ``*/ceil(24 / p)``; ``repeat.dayOfWeek`` is the
    day-of-week field. ``periodUnit`` is not read: ``{"period": 30, "periodUnit": "min"}`` is
    ``*/48 * * * *``. None without ``repeat``."""
    repeat = timing.get("repeat") if isinstance(timing, dict) else None
    if not isinstance(repeat, dict):
        return None
    period = repeat.get("period") or 1
    minute, hour, day_of_week = "0", "*", "*"
    if 24 < period < 60:
        minute = f"*/{math.ceil(24 * 60 / period)}"
    else:
        hour = f"*/{math.ceil(24 / period)}"
    days = repeat.get("dayOfWeek")
    if isinstance(days, list) and days:
        day_of_week = ",".join(str(_DAYS_OF_WEEK[d]) for d in days if d in _DAYS_OF_WEEK)
    return f"{minute} {hour} * * {day_of_week}"


def _field(text: str, low: int, high: int) -> tuple[frozenset[int], bool]:
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
            if step < 1:
                raise ValueError(f"bad cron step: {text!r}")
        if part == "*":
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = int(a), int(b)
        else:
            start = int(part)
            end = high if step > 1 else start
        if start < low or end > high or start > end:
            raise ValueError(f"cron value out of range: {text!r}")
        values.update(range(start, end + 1, step))
    return frozenset(values), text != "*"


@dataclass(frozen=True, slots=True)
class CronSchedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_restricted: bool
    weekdays_restricted: bool

    @classmethod
    def parse(cls, text: str) -> CronSchedule:
        fields = text.split()
        if len(fields) != 5:
            raise ValueError(f"expected five cron fields: {text!r}")
        parsed = [_field(f, lo, hi) for f, (lo, hi) in zip(fields, _RANGES, strict=True)]
        weekdays = frozenset(0 if d == 7 else d for d in parsed[4][0])
        return cls(
            parsed[0][0], parsed[1][0], parsed[2][0], parsed[3][0], weekdays, parsed[2][1], parsed[4][1]
        )

    def _day_matches(self, day: datetime) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return dom or dow
        return dom and dow

    def between(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Every matching minute in ``[start, end)``, in order (day by day, so sparse schedules are cheap)."""
        start = start.astimezone(UTC)
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        hours = sorted(self.hours)
        minutes = sorted(self.minutes)
        while day < end:
            if self._day_matches(day):
                for hour in hours:
                    for minute in minutes:
                        at = day.replace(hour=hour, minute=minute)
                        if at >= end:
                            return
                        if at >= start:
                            yield at
            day += timedelta(days=1)

    def next_after(self, after: datetime) -> datetime:
        """The first matching minute strictly after ``after``."""
        start = after.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        for at in self.between(start, start + timedelta(days=400)):
            return at
        raise ValueError("cron schedule never fires")
