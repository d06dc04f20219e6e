"""Instants as the demo stores them (integer epoch milliseconds) and as Medplum writes them.

Medplum writes ``meta.lastUpdated`` with millisecond precision in UTC: ``2025-03-14T09:26:54.120Z``.
Search values for date parameters are checked in two steps, as Medplum does:

1. while the query is parsed (``@medplum/core``): a value that does not look like a FHIR date/dateTime
   gives 400 ``Invalid format for date search parameter: X``;
2. while the SQL is built (server): a value Postgres could not read gives 400 ``Invalid date value: X``
   (the server requires at least year-month-day, allows a space for ``T`` and an optional zone).

A value without a zone is read as UTC (Medplum's database session runs in UTC), and a date without a time
is midnight: Medplum compares the column with the value as a timestamp, not as a range.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache

__all__ = [
    "DateValueError",
    "format_ms",
    "from_ms",
    "now_ms",
    "parse_search_instant_us",
    "to_ms",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_ms(value: datetime) -> int:
    """Epoch milliseconds of an aware datetime (a naive one is taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def now_ms() -> int:
    return to_ms(datetime.now(UTC))


@lru_cache(maxsize=1 << 16)
def _second_prefix(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(seconds))


def format_ms(ms: int) -> str:
    """``2025-03-14T09:26:54.120Z`` (UTC, milliseconds), the form Medplum writes."""
    return f"{_second_prefix(ms // 1000)}{ms % 1000:03d}Z"


class DateValueError(ValueError):
    """A date search value Medplum would refuse; ``message`` is the OperationOutcome text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# Step 1: what @medplum/core accepts as a date/dateTime search value (a FHIR date or dateTime shape).
_LOOSE = re.compile(
    r"^\d{4}(-\d{2}(-\d{2}([T ]\d{2}(:\d{2}(:\d{2}(\.\d+)?)?)?)?)?)?"
    r"(Z|[+-]\d{2}(:?\d{2})?)?$"
)
# Step 2: the server's own check before the value reaches Postgres (year, month and day required).
_STRICT = re.compile(
    r"^(\d(\d(\d[1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2]\d|3[0-1])"
    r"([T ]([01]\d|2[0-3])(:[0-5]\d(:([0-5]\d|60))?(\.\d{1,9})?)?)?"
    r"(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00)?)?$"
)
_PARTS = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?)?"
    r"(Z|[+-](?:\d{2}:\d{2})?)?$"
)


def parse_search_instant_us(value: str, kind: str = "date") -> int:
    """Epoch microseconds of a date search value; raises :class:`DateValueError` like Medplum."""
    if not _LOOSE.match(value):
        raise DateValueError(f"Invalid format for {kind} search parameter: {value}")
    if not _STRICT.match(value):
        raise DateValueError(f"Invalid date value: {value}")
    match = _PARTS.match(value)
    if match is None:  # pragma: no cover - _STRICT implies _PARTS
        raise DateValueError(f"Invalid date value: {value}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    offset = timedelta(0)
    if zone and zone not in ("Z", "+", "-"):
        sign = 1 if zone[0] == "+" else -1
        offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    try:
        local = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            micro,
            tzinfo=UTC,
        )
    except ValueError as exc:  # 30 February, second 60, ...
        raise DateValueError(f"Invalid date value: {value}") from exc
    return ((local - offset) - EPOCH) // timedelta(microseconds=1)
