"""Medplum's cron semantics (monitor/cron.py): which schedule the server runs, read its way.

cronString must pass cron-validator's isValidCron (default options), cronTiming is converted as
the server's convertTimingToCron converts it, and the times are computed arithmetically: checked
here against cronsim's own iteration (Hypothesis) and at hour, day, month and year boundaries (UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cronsim import CronSim
from hypothesis import given, settings
from hypothesis import strategies as st

from botmon_tui.medplum.models import Bot
from botmon_tui.monitor.cron import (
    MAX_COUNT_DAYS,
    CronSchedule,
    CronTable,
    InvalidSchedule,
    bot_schedule,
    cron_problem,
    timing_to_cron,
)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def bot(**fields: Any) -> Bot:
    return Bot.model_validate({"id": "b1", "meta": {"lastUpdated": "2025-01-01T00:00:00Z"}, **fields})


def schedule_of(**fields: Any) -> CronSchedule:
    schedule = bot_schedule(bot(**fields))
    assert isinstance(schedule, CronSchedule), schedule
    return schedule


# ------------------------------------------------------------------------------------------------
# cronString: cron-validator's isValidCron with its default options
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "* * * * *",
        "*/5 * * * *",
        "0 * * * *",
        "30 9 * * 1-5",
        "0 0 1 * *",
        "5/10 * * * *",  # a start with a step: 5, 15, ... 55
        "1-10/3 * * * *",
        "0,15,30,45 * * * *",
        "0 9 1,15 * 1",
        "0 0 * * 0",
        "05 09 * * *",  # leading zeros are numbers
        "59 23 31 12 6",
        "*/100 * * * *",  # a step past the range: only the start
        "5-5 * * * *",  # a one-value range
        "  */5   *\t*  * *  ",  # any whitespace between fields
    ],
)
def test_the_server_takes_these_cron_strings(text: str) -> None:
    assert cron_problem(text) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "0 fields"),
        ("* * * *", "4 fields"),
        ("0 * * * * *", "6 fields"),  # no seconds field
        ("@hourly", "1 field"),
        ("0 0 * * MON", "'M' is not allowed"),  # no names without cron-validator's alias option
        ("0 0 1 JAN *", "'J' is not allowed"),
        ("0 0 ? * *", "'?' is not allowed"),
        ("0 0 L * *", "'L' is not allowed"),
        ("0 0 * * 1#2", "'#' is not allowed"),
        ("0 0 15W * *", "'W' is not allowed"),
        ("H * * * *", "'H' is not allowed"),
        ("0 0 * * 7", "7 is outside 0–6"),  # 7 is not Sunday without allowSevenAsSunday
        ("60 * * * *", "60 is outside 0–59"),
        ("0 24 * * *", "24 is outside 0–23"),
        ("0 0 0 * *", "0 is outside 1–31"),
        ("0 0 32 * *", "32 is outside 1–31"),
        ("0 0 * 13 *", "13 is outside 1–12"),
        ("0 0 * 0 *", "0 is outside 1–12"),
        ("*/0 * * * *", "step '0'"),
        ("*/ * * * *", "no step after /"),
        ("*/5/2 * * * *", "more than one /"),
        ("*/x * * * *", "'x' is not allowed"),
        ("5-1 * * * *", "runs backwards"),
        ("*-5 * * * *", "not a number, a range or *"),
        ("1-2-3 * * * *", "not a number, a range or *"),
        ("1,,2 * * * *", "empty value"),
        ("-5 * * * *", "empty value"),
    ],
)
def test_the_server_refuses_these_cron_strings(text: str, reason: str) -> None:
    problem = cron_problem(text)
    assert problem is not None and reason in problem, problem


def test_an_invalid_cron_string_is_an_invalid_schedule_never_an_exception() -> None:
    schedule = bot_schedule(bot(cronString="0 0 * * MON"))
    assert isinstance(schedule, InvalidSchedule)
    assert schedule.source == "cronString"
    assert schedule.text == "0 0 * * MON"
    assert "'M' is not allowed" in schedule.reason
    assert schedule.description.startswith('invalid cronString "0 0 * * MON": ')
    assert schedule.description.endswith("the server schedules nothing")


def test_a_pattern_no_date_matches_is_invalid() -> None:
    """cron-validator takes ``0 0 31 2 *``; no February has a 31st, so nothing ever runs."""
    schedule = bot_schedule(bot(cronString="0 0 31 2 *"))
    assert isinstance(schedule, InvalidSchedule)
    assert "no time ever matches it" in schedule.reason


def test_hostile_cron_text_is_sanitized_in_the_reason() -> None:
    schedule = bot_schedule(bot(cronString="\x1b]52;c;aGk=\x07 * * * *"))
    assert isinstance(schedule, InvalidSchedule)
    for text in (schedule.text, schedule.reason, schedule.description):
        assert "\x1b" not in text and "\x07" not in text


def test_no_cron_string_is_no_schedule() -> None:
    assert bot_schedule(bot()) is None
    assert bot_schedule(bot(cronString="")) is None  # the server's ``bot.cronString && ...``


def test_a_blank_cron_string_is_invalid() -> None:
    schedule = bot_schedule(bot(cronString="   "))
    assert isinstance(schedule, InvalidSchedule)
    assert "0 fields" in schedule.reason


# ------------------------------------------------------------------------------------------------
# Describe texts (UTC said every time)
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("*/5 * * * *", "every 5 min (cron */5 * * * *, UTC)"),
        ("* * * * *", "every minute (cron * * * * *, UTC)"),
        ("5/10 * * * *", "every 10 min from :05 (cron 5/10 * * * *, UTC)"),
        ("0 * * * *", "hourly (cron 0 * * * *, UTC)"),
        ("15 * * * *", "hourly at :15 (cron 15 * * * *, UTC)"),
        ("0 */2 * * *", "every 2 h (cron 0 */2 * * *, UTC)"),
        ("30 1-23/2 * * *", "every 2 h from 01:30 (cron 30 1-23/2 * * *, UTC)"),
        ("30 9 * * *", "daily at 09:30 (cron 30 9 * * *, UTC)"),
        ("0 */5 * * *", "daily at 00:00, 05:00, 10:00, 15:00 and 20:00 (cron 0 */5 * * *, UTC)"),
        ("0,48 * * * *", "at :00 and :48 every hour (cron 0,48 * * * *, UTC)"),
        ("30 9 * * 1-5", "at 09:30 on Monday through Friday (cron 30 9 * * 1-5, UTC)"),
        ("*/5  *  * * *", "every 5 min (cron */5 * * * *, UTC)"),
    ],
)
def test_describe_texts(text: str, description: str) -> None:
    assert schedule_of(cronString=text).description == description


def test_the_describe_text_never_uses_the_debian_day_rule_where_the_server_differs() -> None:
    """``*/2`` as the day of month is restricted for BullMQ's cron-parser (it is not exactly
    ``*``): odd days OR Mondays. cronsim's explanation follows Debian (odd days that are Mondays),
    so it is not used."""
    schedule = schedule_of(cronString="0 0 */2 * 1")
    assert "if it's on Monday" not in schedule.description
    assert schedule.description == "on the days of the month or of the week it names (cron 0 0 */2 * 1, UTC)"
    # 2025-03-03 is a Monday (an even day: it runs as a Monday) and 2025-03-05 an odd day.
    assert schedule.next_after(utc(2025, 3, 2, 1)) == utc(2025, 3, 3)
    assert schedule.next_after(utc(2025, 3, 3, 1)) == utc(2025, 3, 5)


# ------------------------------------------------------------------------------------------------
# cronTiming: the server's conversion, every branch
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("repeat", "expression"),
    [
        ({}, "0 */24 * * *"),  # period unset: 1
        ({"period": 0}, "0 */24 * * *"),  # 0 is false in JavaScript: 1
        ({"period": 1}, "0 */24 * * *"),
        ({"period": 2}, "0 */12 * * *"),
        ({"period": 5}, "0 */5 * * *"),  # ceil(4.8)
        ({"period": 7}, "0 */4 * * *"),  # ceil(3.43)
        ({"period": 2.4}, "0 */10 * * *"),  # a decimal period: 24 / 2.4
        ({"period": 3.5}, "0 */7 * * *"),  # ceil(6.86)
        ({"period": 0.5}, "0 */48 * * *"),
        ({"period": 24}, "0 */1 * * *"),  # 24 is not above 24: hourly
        ({"period": 24.5}, "*/59 * * * *"),  # 24 < p < 60: minutes
        ({"period": 25}, "*/58 * * * *"),
        ({"period": 30}, "*/48 * * * *"),
        ({"period": 48}, "*/30 * * * *"),
        ({"period": 59.9}, "*/25 * * * *"),
        ({"period": 60}, "0 */1 * * *"),  # 60 is not below 60: back to hours
        ({"period": 1000}, "0 */1 * * *"),
        ({"period": 2, "dayOfWeek": ["mon", "fri"]}, "0 */12 * * 1,5"),
        ({"dayOfWeek": ["sun", "sat"]}, "0 */24 * * 0,6"),
        ({"period": 30, "dayOfWeek": ["wed"]}, "*/48 * * * 3"),
        # FHIR's other fields are not read: frequency, periodUnit, timeOfDay.
        ({"frequency": 4, "period": 1, "periodUnit": "h", "timeOfDay": ["09:00:00"]}, "0 */24 * * *"),
    ],
)
def test_timing_is_converted_the_servers_way(repeat: dict[str, Any], expression: str) -> None:
    conversion = timing_to_cron({"repeat": repeat})
    assert conversion is not None
    assert conversion.problem is None
    assert conversion.expression == expression
    assert schedule_of(cronTiming={"repeat": repeat}).expression == expression


def test_timing_without_repeat_is_ignored_by_the_server() -> None:
    assert timing_to_cron({}) is None
    assert timing_to_cron({"event": ["2025-01-01T00:00:00Z"]}) is None
    # ... so cronString is scheduled, with a note.
    schedule = schedule_of(cronTiming={"code": {"text": "daily"}}, cronString="*/5 * * * *")
    assert schedule.source == "cronString"
    assert schedule.expression == "*/5 * * * *"
    assert schedule.notes == ("cronTiming has no repeat: the server ignores it and uses cronString",)


def test_timing_without_repeat_and_no_cron_string_schedules_nothing() -> None:
    schedule = bot_schedule(bot(cronTiming={"code": {"text": "daily"}}))
    assert isinstance(schedule, InvalidSchedule)
    assert schedule.source == "cronTiming"
    assert "no repeat" in schedule.reason


def test_timing_wins_over_cron_string() -> None:
    schedule = schedule_of(cronTiming={"repeat": {"period": 24}}, cronString="*/5 * * * *")
    assert schedule.source == "cronTiming"
    assert schedule.expression == "0 */1 * * *"
    assert schedule.description == "hourly (cronTiming period 24 → cron 0 */1 * * *, UTC)"
    assert "cronString is ignored: cronTiming wins" in schedule.notes
    assert schedule.timing_period == 24


def test_timing_wins_even_over_a_valid_cron_string_when_it_is_broken() -> None:
    """The server uses cronTiming's pattern whenever it builds one, broken or not: a negative
    period gives ``*/-24``, which BullMQ's cron-parser refuses, and cronString is never tried."""
    schedule = bot_schedule(bot(cronTiming={"repeat": {"period": -1}}, cronString="*/5 * * * *"))
    assert isinstance(schedule, InvalidSchedule)
    assert schedule.source == "cronTiming"
    assert schedule.text == "0 */-24 * * *"
    assert "negative" in schedule.reason


@pytest.mark.parametrize(
    ("repeat", "reason"),
    [
        ({"period": "24"}, "is not a number"),
        ({"period": True}, "is not a number"),
        ({"period": 24, "dayOfWeek": ["mon", "xyz"]}, "'xyz' is not one of sun"),
        ({"period": 24, "dayOfWeek": ["Mon"]}, "'Mon' is not one of sun"),  # codes are lower case
        ({"period": 24, "dayOfWeek": []}, "not a list of days"),
        ({"period": 24, "dayOfWeek": "mon"}, "not a list of days"),
        ({"period": 1e-320}, "no whole step"),
    ],
)
def test_timing_the_scheduler_would_refuse(repeat: dict[str, Any], reason: str) -> None:
    schedule = bot_schedule(bot(cronTiming={"repeat": repeat}))
    assert isinstance(schedule, InvalidSchedule)
    assert reason in schedule.reason, schedule.reason


def test_timing_notes_say_where_fhir_and_the_server_disagree() -> None:
    hourly_in_fhir = schedule_of(cronTiming={"repeat": {"frequency": 1, "period": 1, "periodUnit": "h"}})
    assert hourly_in_fhir.human == "daily at 00:00"
    assert hourly_in_fhir.notes == (
        "FHIR reads this cronTiming as every 1h; Medplum's server reads repeat.period only (as 1) "
        "and runs it daily at 00:00 (0 */24 * * *)",
    )
    daily_in_fhir = schedule_of(cronTiming={"repeat": {"period": 1, "periodUnit": "d"}})
    assert daily_in_fhir.notes == ()  # FHIR and the server agree: once a day
    at_nine = schedule_of(cronTiming={"repeat": {"period": 1, "periodUnit": "d", "timeOfDay": ["09:00:00"]}})
    assert at_nine.notes == ("the server ignores repeat.timeOfDay",)


# ------------------------------------------------------------------------------------------------
# Next, previous, counts: boundaries in UTC
# ------------------------------------------------------------------------------------------------


def test_next_is_strictly_after() -> None:
    every5 = schedule_of(cronString="*/5 * * * *")
    assert every5.next_after(utc(2025, 3, 14, 10, 0)) == utc(2025, 3, 14, 10, 5)
    assert every5.next_after(utc(2025, 3, 14, 10, 4, 59)) == utc(2025, 3, 14, 10, 5)
    assert every5.next_after(utc(2025, 3, 14, 10, 5, 0, 1)) == utc(2025, 3, 14, 10, 10)
    assert every5.previous_before(utc(2025, 3, 14, 10, 5)) == utc(2025, 3, 14, 10, 0)
    assert every5.previous_before(utc(2025, 3, 14, 10, 5, 0, 1)) == utc(2025, 3, 14, 10, 5)


@pytest.mark.parametrize(
    ("text", "after", "expected"),
    [
        ("*/5 * * * *", utc(2025, 12, 31, 23, 57), utc(2026, 1, 1, 0, 0)),  # year
        ("0 * * * *", utc(2025, 1, 31, 23, 30), utc(2025, 2, 1, 0, 0)),  # month
        ("30 9 * * *", utc(2025, 3, 14, 9, 31), utc(2025, 3, 15, 9, 30)),  # day
        ("0 0 29 2 *", utc(2025, 3, 1), utc(2028, 2, 29)),  # leap day: 3 years on
        ("0 0 29 2 *", utc(2096, 3, 1), utc(2104, 2, 29)),  # 2100 is not a leap year
        ("0 0 31 * *", utc(2025, 1, 31, 0, 1), utc(2025, 3, 31)),  # February has no 31st
        ("30 9 * * 1-5", utc(2025, 3, 14, 9, 31), utc(2025, 3, 17, 9, 30)),  # Friday → Monday
        ("0 0 1 1 *", utc(2025, 1, 1, 0, 0, 1), utc(2026, 1, 1)),
    ],
)
def test_next_across_boundaries(text: str, after: datetime, expected: datetime) -> None:
    schedule = schedule_of(cronString=text)
    assert schedule.next_after(after) == expected
    assert schedule.previous_before(expected + timedelta(microseconds=1)) == expected


def test_utc_has_no_dst() -> None:
    """Europe's clocks moved on 2025-03-30 at 01:00 UTC, America's on 2025-03-09: UTC runs on."""
    hourly = schedule_of(cronString="0 * * * *")
    assert hourly.count_between(utc(2025, 3, 30, 0, 30), utc(2025, 3, 30, 4, 10)) == (4, False)
    assert hourly.count_between(utc(2025, 3, 9, 0, 30), utc(2025, 3, 9, 4, 10)) == (4, False)
    assert hourly.next_after(utc(2025, 10, 26, 0, 59)) == utc(2025, 10, 26, 1)


@pytest.mark.parametrize(
    ("text", "after", "until", "count"),
    [
        ("*/5 * * * *", utc(2025, 12, 31, 23, 50, 2), utc(2026, 1, 1, 0, 21), 6),
        ("*/5 * * * *", utc(2025, 3, 14, 10, 0), utc(2025, 3, 14, 10, 5), 1),  # until is included
        ("*/5 * * * *", utc(2025, 3, 14, 10, 5), utc(2025, 3, 14, 10, 9, 59), 0),  # after is not
        ("30 9 * * *", utc(2024, 2, 27, 9, 30, 5), utc(2024, 3, 2, 12), 4),  # Feb 28, 29, Mar 1, 2
        ("30 9 * * *", utc(2025, 2, 27, 9, 30, 5), utc(2025, 3, 2, 12), 3),  # no Feb 29th
        ("0 0 1 * *", utc(2024, 11, 1, 0, 0, 3), utc(2025, 2, 15), 3),  # Dec, Jan, Feb
        ("30 9 * * 1-5", utc(2025, 3, 14, 9, 31), utc(2025, 3, 31, 12), 11),  # weekdays only
        ("* * * * *", utc(2025, 3, 1), utc(2025, 3, 31), 43_200),  # 30 days of minutes
        ("0 0 29 2 *", utc(2023, 1, 1), utc(2029, 1, 1), 2),  # 2024 and 2028
    ],
)
def test_counts_across_boundaries(text: str, after: datetime, until: datetime, count: int) -> None:
    assert schedule_of(cronString=text).count_between(after, until) == (count, False)


def test_counting_a_long_silence_costs_no_more_than_a_short_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``* * * * *`` bot silent for ten years: counted arithmetically, not minute by minute (nor
    day by day: the days a count looks at are its first and its last)."""
    looked: list[int] = []
    real = CronTable.day_matches

    def counted(table: CronTable, day: int) -> bool:
        looked.append(day)
        return real(table, day)

    monkeypatch.setattr(CronTable, "day_matches", counted)
    minutely = schedule_of(cronString="* * * * *")
    assert minutely.count_between(utc(2015, 1, 1), utc(2025, 1, 1)) == (5_260_320, False)
    assert len(looked) == 2
    weekdays = schedule_of(cronString="30 9 * * 1-5")
    assert weekdays.count_between(utc(2015, 1, 1), utc(2025, 1, 1)) == (2609, False)
    assert len(looked) == 4


def test_counting_days_of_the_month_and_of_the_week_stops_at_the_cap_and_says_so() -> None:
    """Both restricted (the 1st, the 15th, or any Monday) is counted day by day, up to MAX_COUNT_DAYS."""
    either = schedule_of(cronString="0 9 1,15 * 1")
    count, capped = either.count_between(utc(2000, 1, 1, 10), utc(2025, 1, 1, 10))
    assert capped
    assert MAX_COUNT_DAYS // 7 <= count <= MAX_COUNT_DAYS  # a lower bound: "≥ N"
    # January 2025: the 1st, the 15th and Mondays 6, 13, 20, 27.
    assert either.count_between(utc(2024, 12, 31, 10), utc(2025, 1, 31, 10)) == (6, False)
    # Mondays in January only: months that never run are skipped, not looked at.
    january_mondays = schedule_of(cronString="0 9 * 1 1")
    assert january_mondays.count_between(utc(2020, 2, 1), utc(2025, 2, 1)) == (23, False)


def test_days_of_the_month_are_counted_month_by_month() -> None:
    monthly = schedule_of(cronString="0 0 1 * *")
    assert monthly.count_between(utc(2000, 1, 1, 1), utc(2025, 1, 1, 1)) == (300, False)
    thirty_firsts = schedule_of(cronString="0 0 31 * *")
    assert thirty_firsts.count_between(utc(2024, 12, 31, 1), utc(2025, 12, 31, 1)) == (7, False)


def test_the_grace_period_comes_from_the_gap_before_each_run() -> None:
    """``*/58``: minutes 0 and 58 of each hour, so the gaps alternate 58 and 2 minutes."""
    schedule = schedule_of(cronString="*/58 * * * *")
    assert schedule.table.gap_before(utc(2025, 3, 14, 10, 58).timestamp()) == 58 * 60
    assert schedule.table.gap_before(utc(2025, 3, 14, 11, 0).timestamp()) == 2 * 60


# ------------------------------------------------------------------------------------------------
# Against cronsim's own iteration
# ------------------------------------------------------------------------------------------------


def _field(low: int, high: int) -> st.SearchStrategy[str]:
    number = st.integers(low, high)
    step = st.integers(1, high - low + 2).map(str)
    ranged = st.tuples(number, number).map(lambda ab: f"{min(ab)}-{max(ab)}")
    part = st.one_of(
        st.just("*"),
        number.map(str),
        ranged,
        st.tuples(st.just("*"), step).map("/".join),
        st.tuples(number.map(str), step).map("/".join),
        st.tuples(ranged, step).map("/".join),
    )
    return st.one_of(part, st.lists(part, min_size=2, max_size=3).map(",".join))


cron_strings = st.tuples(_field(0, 59), _field(0, 23), _field(1, 31), _field(1, 12), _field(0, 6)).map(
    " ".join
)
instants = st.datetimes(
    min_value=datetime(2001, 1, 1), max_value=datetime(2090, 12, 31), timezones=st.just(UTC)
)


def _oracle(text: str, start: datetime, *, reverse: bool = False) -> CronSim:
    """cronsim's iterator with the day rule of BullMQ's cron-parser (restricted = not exactly ``*``)."""
    fields = text.split()
    sim = CronSim(text, start, reverse=reverse)
    sim.day_and = fields[2] == "*" or fields[4] == "*"
    return sim


@settings(max_examples=300, deadline=None)
@given(cron_strings, instants)
def test_next_and_previous_agree_with_cronsim(text: str, start: datetime) -> None:
    assert cron_problem(text) is None, text
    schedule = bot_schedule(bot(cronString=text))
    if isinstance(schedule, InvalidSchedule):  # no date ever matches (a 31st of February)
        assert "no time ever matches" in schedule.reason
        return
    assert isinstance(schedule, CronSchedule)
    try:
        expected = next(_oracle(text, start))
    except StopIteration:
        expected = None
    found = schedule.next_after(start)
    if expected is None or expected > start + timedelta(days=8 * 366):
        assert found is None or found == expected
    else:
        assert found == expected
    try:
        before = next(_oracle(text, start, reverse=True))
    except StopIteration:
        before = None
    found_before = schedule.previous_before(start)
    if before is None or before < start - timedelta(days=8 * 366):
        assert found_before is None or found_before == before
    else:
        assert found_before == before


@settings(max_examples=200, deadline=None)
@given(cron_strings, instants, st.integers(0, 3 * 86400))
def test_counts_agree_with_cronsim(text: str, start: datetime, seconds: int) -> None:
    schedule = bot_schedule(bot(cronString=text))
    if not isinstance(schedule, CronSchedule):
        return
    until = start + timedelta(seconds=seconds)
    expected = 0
    for when in _oracle(text, start):
        if when > until:
            break
        expected += 1
    assert schedule.count_between(start, until) == (expected, False)


def test_schedules_are_cached_per_setting() -> None:
    first = bot_schedule(bot(cronString="*/7 * * * *"))
    again = bot_schedule(Bot.model_validate({"id": "other", "cronString": "*/7 * * * *"}))
    assert first is again
    timing = bot_schedule(bot(cronTiming={"repeat": {"period": 3, "dayOfWeek": ["mon"]}}))
    other = bot_schedule(bot(cronTiming={"repeat": {"period": 3, "dayOfWeek": ["tue"]}}))
    assert isinstance(timing, CronSchedule) and isinstance(other, CronSchedule)
    assert (timing.expression, other.expression) == ("0 */8 * * 1", "0 */8 * * 2")
