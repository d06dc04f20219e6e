"""Silence as a failure (monitor/cadence.py): late cron bots, quiet bots, and bots never called either.

The learned cadence is tried on regular, Poisson-like, bursty, business-hours-only and sparse
histories (Hypothesis, with fixed cases beside): only a regular bot may ever be called quiet.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botmon_tui.medplum.models import Bot
from botmon_tui.monitor.cadence import (
    CRON_DOCS_URL,
    LEARN_MAX_RUNS,
    LEARN_MIN_RUNS,
    QUIET_MIN,
    CadenceState,
    LearnedCadence,
    NoCadence,
    default_grace,
    evaluate,
    explain_never_ran,
    explain_no_runs,
    learn_cadence,
    might_learn,
    silence_blind,
)
from botmon_tui.monitor.cron import CronSchedule, InvalidSchedule


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


#: When the bots below were last changed (saved): long before the runs of the tests.
CHANGED = "2020-01-01T00:00:00.000Z"
NOW = utc(2025, 3, 14, 10, 47)


def bot(**fields: Any) -> Bot:
    return Bot.model_validate({"id": "b1", "name": "nightly", "meta": {"lastUpdated": CHANGED}, **fields})


def every(start: datetime, gap: timedelta, count: int) -> list[datetime]:
    return [start + gap * k for k in range(count)]


# ------------------------------------------------------------------------------------------------
# late: scheduled bots
# ------------------------------------------------------------------------------------------------


def test_a_cron_bot_silent_for_47_minutes_is_late_by_42_with_9_missed() -> None:
    """The issue's bot: ``*/5``, last run 10:00, now 10:47. Due 10:05; 10:05 ... 10:45 missed."""
    state = evaluate(bot(cronString="*/5 * * * *"), utc(2025, 3, 14, 10, 0, 3), [], NOW)
    assert state.kind == "late"
    assert state.is_incident
    assert state.due == utc(2025, 3, 14, 10, 5)
    assert state.missed == 9 and not state.missed_capped
    assert state.late_by == 42 * 60
    assert state.next_expected == utc(2025, 3, 14, 10, 50)
    assert state.expected_every == 300
    assert state.grace == 120
    assert state.label() == "late 42m · 9 missed"
    assert state.json_fields() == {
        "missed": 9,
        "lateBy": 2520.0,
        "nextExpected": "2025-03-14T10:50:00.000Z",
        "expectedEvery": 300.0,
    }
    assert state.expectation == "every 5 min (cron */5 * * * *, UTC)"


def test_on_time_until_the_grace_period_and_the_timeout_have_passed() -> None:
    """Due 11:00 (hourly): grace 20 % of an hour (12 min), plus the bot's timeout (its AuditEvent is
    written when the run ends)."""
    hourly = bot(cronString="0 * * * *", timeout=30)
    last = utc(2025, 3, 14, 10, 0, 4)
    deadline = utc(2025, 3, 14, 11, 12, 30)
    on_time = evaluate(hourly, last, [], deadline)
    assert on_time.kind == "ok" and not on_time.is_incident
    assert on_time.due == utc(2025, 3, 14, 11)
    assert on_time.next_expected == utc(2025, 3, 14, 11)
    assert on_time.grace == 720
    assert on_time.label() == ""
    late = evaluate(hourly, last, [], deadline + timedelta(seconds=1))
    assert late.kind == "late"
    assert late.missed == 1
    assert late.late_by == 12 * 60 + 31
    assert late.next_expected == utc(2025, 3, 14, 12)


@pytest.mark.parametrize(
    ("period", "grace"), [(60, 120), (300, 120), (600, 120), (3600, 720), (86400, 17280)]
)
def test_default_grace_is_two_minutes_or_a_fifth_of_the_period(period: float, grace: float) -> None:
    assert default_grace(period) == grace


def test_the_grace_period_comes_from_the_gap_before_the_due_run() -> None:
    """``0 9,17 * * *``: the 17:00 run comes 8 h after 09:00, the 09:00 run 16 h after 17:00."""
    twice = bot(cronString="0 9,17 * * *")
    assert evaluate(twice, utc(2025, 3, 14, 9, 0, 5), [], NOW).grace == 0.2 * 8 * 3600
    assert evaluate(twice, utc(2025, 3, 13, 17, 0, 5), [], NOW).grace == 0.2 * 16 * 3600


def test_a_grace_override_replaces_the_default() -> None:
    every5 = bot(cronString="*/5 * * * *")
    last = utc(2025, 3, 14, 10, 0, 3)
    assert evaluate(every5, last, [], utc(2025, 3, 14, 10, 6, 30)).kind == "ok"
    tight = evaluate(every5, last, [], utc(2025, 3, 14, 10, 6, 30), grace=60)
    assert tight.kind == "late" and tight.grace == 60 and tight.missed == 1
    loose = evaluate(every5, last, [], NOW, grace=3600)
    assert loose.kind == "ok" and loose.grace == 3600
    assert evaluate(every5, last, [], utc(2025, 3, 14, 10, 5, 11), grace=-5).kind == "late"  # at least 0


def test_a_run_that_arrives_early_does_not_count_for_the_next_slot() -> None:
    """healthchecks.io's rule: a run at 10:04:50 is not the 10:05 run, which is still expected."""
    every5 = bot(cronString="*/5 * * * *")
    early = evaluate(every5, utc(2025, 3, 14, 10, 4, 50), [], utc(2025, 3, 14, 10, 8))
    assert early.kind == "late"
    assert early.due == utc(2025, 3, 14, 10, 5)
    assert early.missed == 1
    on_time = evaluate(every5, utc(2025, 3, 14, 10, 5, 1), [], utc(2025, 3, 14, 10, 8))
    assert on_time.kind == "ok" and on_time.due == utc(2025, 3, 14, 10, 10)


@pytest.mark.parametrize(
    ("cron", "last", "now", "missed", "late_by"),
    [
        # hour, day and year boundaries
        ("*/5 * * * *", utc(2025, 12, 31, 23, 50, 2), utc(2026, 1, 1, 0, 21), 6, 26 * 60),
        ("0 * * * *", utc(2025, 3, 30, 0, 0, 2), utc(2025, 3, 30, 4, 15), 4, 3 * 3600 + 15 * 60),
        # month boundaries, leap year and not
        ("30 9 * * *", utc(2024, 2, 27, 9, 30, 5), utc(2024, 3, 2, 16), 4, 3 * 86400 + 6.5 * 3600),
        ("30 9 * * *", utc(2025, 2, 27, 9, 30, 5), utc(2025, 3, 2, 16), 3, 2 * 86400 + 6.5 * 3600),
        ("0 0 1 * *", utc(2024, 11, 1, 0, 0, 3), utc(2025, 2, 15), 3, 76 * 86400),
        # a weekday schedule over a weekend
        ("30 9 * * 1-5", utc(2025, 3, 13, 9, 30, 7), utc(2025, 3, 18, 12), 3, 4 * 86400 + 2.5 * 3600),
    ],
)
def test_missed_runs_across_boundaries(
    cron: str, last: datetime, now: datetime, missed: int, late_by: float
) -> None:
    state = evaluate(bot(cronString=cron), last, [], now)
    assert state.kind == "late"
    assert (state.missed, state.missed_capped) == (missed, False)
    assert state.late_by == late_by


def test_a_minutely_bot_silent_for_30_days() -> None:
    """43,200 missed runs, counted arithmetically (no walk through the minutes)."""
    state = evaluate(bot(cronString="* * * * *"), utc(2025, 2, 12, 10, 47), [], NOW)
    assert state.kind == "late"
    assert state.missed == 30 * 1440
    assert state.label() == "late 29d · 43,200 missed"


def test_a_lower_bound_says_so() -> None:
    either = bot(cronString="0 9 1,15 * 1")  # the 1st, the 15th, or any Monday
    state = evaluate(either, utc(2022, 1, 1), [], NOW)
    assert state.kind == "late" and state.missed_capped
    assert state.due == utc(2022, 1, 1, 9)
    assert state.missed is not None and state.missed >= 52
    assert state.label() == f"late 1168d · ≥ {state.missed:,} missed"


def test_a_timing_bot_is_late_by_the_servers_conversion() -> None:
    """period 24 → hourly at minute 0, not FHIR's "every 24 hours"."""
    timed = bot(cronTiming={"repeat": {"period": 24, "periodUnit": "h"}})
    state = evaluate(timed, utc(2025, 3, 14, 8, 0, 2), [], NOW)
    assert state.kind == "late"
    assert state.missed == 2  # 09:00 and 10:00
    assert state.expected_every == 3600
    assert isinstance(state.schedule, CronSchedule) and state.schedule.source == "cronTiming"


def test_a_long_timeout_extends_the_deadline() -> None:
    """A Lambda bot with a 15-minute timeout: its 10:05 run may be written as late as 10:22."""
    slow = bot(cronString="*/5 * * * *", runtimeVersion="awslambda", timeout=900)
    last = utc(2025, 3, 14, 10, 0, 3)
    assert evaluate(slow, last, [], utc(2025, 3, 14, 10, 22)).kind == "ok"
    assert evaluate(slow, last, [], utc(2025, 3, 14, 10, 22, 1)).kind == "late"


def test_a_change_to_the_bot_restarts_the_count() -> None:
    """Daily until 10:30, then every 5 min: the server registers the new schedule then, so the
    bot is not late for runs of the new schedule before the change."""
    changed = bot(cronString="*/5 * * * *", meta={"lastUpdated": "2025-03-14T10:30:00.000Z"})
    last = utc(2025, 3, 14, 0, 0, 2)  # its last daily run
    fresh = evaluate(changed, last, [], utc(2025, 3, 14, 10, 33))
    assert fresh.kind == "ok"
    assert fresh.counted_from == utc(2025, 3, 14, 10, 30)
    assert fresh.due == utc(2025, 3, 14, 10, 35)
    stale = evaluate(changed, last, [], NOW)
    assert stale.kind == "late" and stale.missed == 3  # 10:35, 10:40, 10:45


def test_a_cron_bot_that_never_ran() -> None:
    created = bot(cronString="*/5 * * * *", meta={"lastUpdated": "2025-03-14T10:00:30.000Z"})
    waiting = evaluate(created, None, [], utc(2025, 3, 14, 10, 6))
    assert waiting.kind == "ok" and waiting.never_ran
    assert waiting.next_expected == utc(2025, 3, 14, 10, 5)
    overdue = evaluate(created, None, [], NOW)
    assert overdue.kind == "late" and overdue.never_ran
    assert overdue.missed == 9
    assert overdue.label() == "late 42m · never ran"


def test_a_cron_bot_whose_last_run_is_not_looked_up_yet_is_unknown() -> None:
    state = evaluate(bot(cronString="*/5 * * * *"), None, [], NOW, last_run_known=False)
    assert state.kind == "unknown" and not state.never_ran
    assert state.note == "its last run has not been looked up yet"


def test_naive_datetimes_are_utc() -> None:
    naive = evaluate(
        bot(cronString="*/5 * * * *"), datetime(2025, 3, 14, 10, 0, 3), [], NOW.replace(tzinfo=None)
    )
    assert naive.kind == "late" and naive.missed == 9


# ------------------------------------------------------------------------------------------------
# Bots whose silence says nothing
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings_", "words"),
    [
        ({"auditEventTrigger": "on-error"}, 'auditEventTrigger "on-error": only failed runs'),
        ({"auditEventTrigger": "on-output"}, "only runs that log something"),
        ({"auditEventTrigger": "never"}, 'it writes no AuditEvents (auditEventTrigger "never")'),
        ({"auditEventDestination": ["log"]}, 'auditEventDestination has no "resource"'),
    ],
)
def test_a_bot_without_an_audit_trail_is_never_late_or_quiet(settings_: dict[str, Any], words: str) -> None:
    cron = bot(cronString="* * * * *", **settings_)
    state = evaluate(cron, utc(2024, 1, 1), [], NOW)
    assert state.kind == "untracked" and not state.is_incident
    assert state.note is not None and words in state.note
    assert state.label() == ""
    steady = every(utc(2025, 3, 10), timedelta(minutes=5), 300)
    learned = evaluate(bot(**settings_), steady[-1], steady, NOW)
    assert learned.kind == "untracked"
    assert silence_blind(bot(**settings_)) == state.note


def test_a_bot_that_records_every_run_is_watched() -> None:
    assert silence_blind(bot()) is None
    assert silence_blind(bot(auditEventTrigger="always", auditEventDestination=["resource", "log"])) is None


# ------------------------------------------------------------------------------------------------
# quiet: learned cadence
# ------------------------------------------------------------------------------------------------


def jittered(start: datetime, gap: float, count: int, jitter: float, seed: int = 7) -> list[datetime]:
    rng = random.Random(seed)
    return [start + timedelta(seconds=gap * k + rng.uniform(-jitter, jitter)) for k in range(count)]


def test_a_steady_bot_that_went_quiet() -> None:
    runs = jittered(utc(2025, 3, 12, 8), 300, 600, 20)  # every 5 min ± 20 s for 50 h
    cadence = learn_cadence(runs)
    assert isinstance(cadence, LearnedCadence)
    assert 290 < cadence.typical < 310
    assert cadence.runs == 600
    assert cadence.description == "usually every 5m (learned from 600 runs)"
    assert cadence.quiet_after == QUIET_MIN  # 3 × ~5m40s is less than 30 min
    last = max(runs)
    still = evaluate(bot(), last, runs, last + timedelta(minutes=29))
    assert still.kind == "ok"
    assert (
        still.next_expected is not None
        and abs((still.next_expected - last).total_seconds() - cadence.typical) < 1
    )
    quiet = evaluate(bot(), last, runs, last + timedelta(hours=2))
    assert quiet.kind == "quiet" and quiet.is_incident
    assert quiet.expected_every == cadence.typical
    assert quiet.silent_for == 7200
    assert quiet.label() == "quiet 2h · usually every 5m"
    assert quiet.json_fields()["expectedEvery"] == round(cadence.typical, 3)
    assert quiet.json_fields()["missed"] is None


def test_a_sparse_regular_bot_is_quiet_only_after_three_of_its_longest_gaps() -> None:
    runs = jittered(utc(2025, 3, 1), 6 * 3600, 40, 600)  # every 6 h ± 10 min, 10 days
    cadence = learn_cadence(runs)
    assert isinstance(cadence, LearnedCadence)
    last = max(runs)
    assert evaluate(bot(), last, runs, last + timedelta(hours=18)).kind == "ok"
    assert evaluate(bot(), last, runs, last + timedelta(seconds=cadence.quiet_after + 1)).kind == "quiet"


def test_a_reused_cadence_gives_the_same_state() -> None:
    runs = jittered(utc(2025, 3, 12, 8), 300, 600, 20)
    cadence = learn_cadence(runs)
    later = max(runs) + timedelta(hours=3)
    assert evaluate(bot(), max(runs), [], later, learned=cadence) == evaluate(bot(), max(runs), runs, later)


@pytest.mark.parametrize(
    ("runs", "reason"),
    [
        (every(utc(2025, 3, 1), timedelta(hours=2), LEARN_MIN_RUNS - 1), "19 runs seen, 20 needed"),
        (every(utc(2025, 3, 14), timedelta(minutes=5), 100), "100 runs over 8h 15m, a day needed"),
        ([utc(2025, 3, 1)] * 30 + [utc(2025, 3, 3)] * 30, "bursty: most runs come in the same instant"),
        (
            every(utc(2025, 3, 1), timedelta(minutes=5), 200)
            + every(utc(2025, 3, 2, 12), timedelta(minutes=5), 200),
            "pauses of up to",
        ),
    ],
)
def test_no_cadence_without_enough_regular_history(runs: list[datetime], reason: str) -> None:
    cadence = learn_cadence(runs)
    assert isinstance(cadence, NoCadence)
    assert reason in cadence.reason, cadence.reason
    state = evaluate(bot(), max(runs), runs, max(runs) + timedelta(days=30))
    assert state.kind == "unknown" and not state.is_incident
    assert state.note == cadence.reason
    assert state.expectation == f"no schedule; no regular rhythm ({cadence.reason})"


def test_only_the_newest_runs_are_read() -> None:
    old = every(utc(2024, 1, 1), timedelta(minutes=1), 3000)  # irregular against the new ones ...
    new = jittered(utc(2025, 3, 10), 600, LEARN_MAX_RUNS, 30)  # ... but only the newest count
    cadence = learn_cadence(old + new)
    assert isinstance(cadence, LearnedCadence)
    assert cadence.runs == LEARN_MAX_RUNS and 590 < cadence.typical < 610


def test_a_bot_that_runs_every_minute_is_learned_from_a_day() -> None:
    runs = jittered(utc(2025, 3, 13), 60, 1442, 5)
    cadence = learn_cadence(runs)
    assert isinstance(cadence, LearnedCadence)
    assert cadence.description == "usually every 1m (learned from 1,442 runs)"


def test_an_invalid_schedule_falls_back_to_the_learned_cadence() -> None:
    """The server schedules nothing from ``0 0 * * MON``: the bot runs (if at all) from a
    Subscription or $execute, so its own rhythm is what it is held to."""
    runs = jittered(utc(2025, 3, 12, 8), 300, 600, 20)
    state = evaluate(bot(cronString="0 0 * * MON"), max(runs), runs, max(runs) + timedelta(hours=2))
    assert state.kind == "quiet"
    assert isinstance(state.schedule, InvalidSchedule)
    assert not state.never_ran
    never = evaluate(bot(cronString="0 0 * * MON"), None, [], NOW)
    assert never.kind == "unknown" and never.never_ran


# ------------------------------------------------------------------------------------------------
# Never a false quiet: Poisson-like, bursty, business-hours-only, sparse (Hypothesis)
# ------------------------------------------------------------------------------------------------


#: Seeds of the histories' random numbers (Hypothesis picks and shrinks the seed, not each number).
seeds = st.integers(0, 2**32).map(random.Random)


def poisson(rng: random.Random, start: datetime, mean: float, count: int) -> Iterator[datetime]:
    when = start
    for _ in range(count):
        when += timedelta(seconds=rng.expovariate(1 / mean))
        yield when


@settings(max_examples=150, deadline=None)
@given(seeds, st.floats(30, 6 * 3600), st.integers(20, 800))
def test_a_poisson_bot_is_never_called_quiet(rng: random.Random, mean: float, count: int) -> None:
    runs = list(poisson(rng, utc(2025, 1, 1), mean, count))
    cadence = learn_cadence(runs)
    if count >= 30:  # the gaps of a Poisson process vary too much to be learned (p90 - p10 ≈ 3 × median)
        assert isinstance(cadence, NoCadence)
    silence = rng.expovariate(1 / mean)  # its next gap, from the same process
    assert evaluate(bot(), runs[-1], runs, runs[-1] + timedelta(seconds=silence)).kind != "quiet"


@settings(max_examples=150, deadline=None)
@given(
    seeds,
    st.integers(20, 800),
    st.integers(2, 30),
    st.floats(60, 4 * 3600),
    st.floats(0, 10),
)
def test_a_bursty_bot_is_never_called_quiet(
    rng: random.Random, count: int, burst: int, pause: float, spread: float
) -> None:
    """Bursts of up to ``burst`` runs within ``spread`` seconds, apart by about ``pause`` (even
    like clockwork); whatever the silence after the last burst, the bot is not quiet."""
    runs: list[datetime] = []
    when = utc(2025, 1, 1)
    while len(runs) < count:
        runs.extend(when + timedelta(seconds=rng.uniform(0, spread)) for _ in range(rng.randint(2, burst)))
        when += timedelta(seconds=pause * rng.uniform(0.5, 1.5))
    assert isinstance(learn_cadence(runs), NoCadence)
    for silence in (pause, 10 * pause, 30 * 86400):
        assert evaluate(bot(), max(runs), runs, max(runs) + timedelta(seconds=silence)).kind != "quiet"


def business_hours(rng: random.Random, start: datetime, until: datetime, gap: float) -> list[datetime]:
    """Every ``gap`` seconds (± 20 %), 09:00 to 17:00 UTC on weekdays."""
    runs = []
    when = start
    while when < until:
        if when.weekday() < 5 and 9 <= when.hour < 17:
            runs.append(when)
        when += timedelta(seconds=gap * rng.uniform(0.8, 1.2))
    return runs


def next_business_run(last: datetime, gap: float) -> datetime:
    """The latest the bot above runs again after ``last`` on a normal week."""
    late = timedelta(seconds=gap * 1.2)
    when = last + late
    if when.weekday() < 5 and 9 <= when.hour < 17:
        return when
    day = when if when.hour < 9 else when + timedelta(days=1)
    day = day.replace(hour=9, minute=0, second=0, microsecond=0)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day + late


@settings(max_examples=150, deadline=None)
@given(
    seeds,
    st.floats(60, 1800),
    st.integers(1, 60 * 24 * 14),
    st.floats(0, 1),
)
def test_a_business_hours_bot_is_never_called_quiet_at_night_or_at_weekends(
    rng: random.Random, gap: float, history_minutes: int, share: float
) -> None:
    """Histories from a minute to two weeks, ending anywhere in the week; silent until any time
    before it would run again on a normal week (over a night, over a weekend): never quiet."""
    end = utc(2025, 3, 3) + timedelta(minutes=rng.randrange(0, 7 * 24 * 60))
    runs = business_hours(rng, end - timedelta(minutes=history_minutes), end, gap)
    if not runs:
        return
    assert isinstance(learn_cadence(runs), NoCadence)  # a day's history holds a night
    last = runs[-1]
    now = last + (next_business_run(last, gap) - last) * share
    assert evaluate(bot(), last, runs, now).kind != "quiet"


@settings(max_examples=150, deadline=None)
@given(seeds, st.integers(1, 40), st.floats(3600, 5 * 86400))
def test_a_sparse_irregular_bot_is_never_called_quiet(rng: random.Random, count: int, spacing: float) -> None:
    """A few runs at random times (a weekly report, a bot run by hand)."""
    runs = sorted(utc(2025, 1, 1) + timedelta(seconds=rng.uniform(0, spacing * count)) for _ in range(count))
    for silence in (spacing, 5 * spacing):
        assert evaluate(bot(), runs[-1], runs, runs[-1] + timedelta(seconds=silence)).kind != "quiet"


@settings(max_examples=100, deadline=None)
@given(seeds, st.floats(60, 6 * 3600), st.floats(0, 0.25))
def test_a_regular_bot_is_learned_and_quiet_only_well_past_its_rhythm(
    rng: random.Random, gap: float, jitter: float
) -> None:
    count = max(LEARN_MIN_RUNS, int(86400 / gap) + 3)  # a day and more, whatever the jitter
    start = utc(2025, 1, 1)
    runs = sorted(
        start + timedelta(seconds=gap * (k + rng.uniform(-jitter, jitter) / 2)) for k in range(count)
    )
    cadence = learn_cadence(runs)
    assert isinstance(cadence, LearnedCadence), cadence
    last = max(runs)
    assert evaluate(bot(), last, runs, last + timedelta(seconds=3 * cadence.longest - 1)).kind == "ok"
    assert evaluate(bot(), last, runs, last + timedelta(seconds=cadence.quiet_after + 1)).kind == "quiet"


# ------------------------------------------------------------------------------------------------
# The never-ran banner
# ------------------------------------------------------------------------------------------------


def test_the_never_ran_banner_names_the_servers_causes() -> None:
    created = bot(cronString="*/5 * * * *", meta={"lastUpdated": "2025-03-14T10:00:30.000Z"})
    state = evaluate(created, None, [], NOW)
    reason = explain_never_ran(created, state)
    assert reason.cause == "never-ran" and not reason.blocking
    assert reason.title == "Scheduled, but it has never run: its first run was due 42m ago"
    text = "\n".join(reason.lines)
    assert "Schedule: every 5 min (cron */5 * * * *, UTC)." in text
    assert 'the "cron" feature (Project.features)' in text
    assert "ProjectMembership" in text
    assert "UTC on Medplum's deployments" in text
    assert reason.docs_url == CRON_DOCS_URL


def test_the_never_ran_banner_before_the_first_run_is_due() -> None:
    created = bot(cronString="0 * * * *", meta={"lastUpdated": "2025-03-14T10:30:00.000Z"})
    state = evaluate(created, None, [], NOW)
    assert state.kind == "ok" and state.never_ran
    assert (
        explain_never_ran(created, state).title
        == "Scheduled, no run yet: the first is due at 2025-03-14 11:00 UTC"
    )
    assert explain_never_ran(created).title == "Scheduled, but it has never run"


def test_the_never_ran_banner_of_an_invalid_schedule() -> None:
    broken = bot(cronString="0 9 * * MON-FRI")
    reason = explain_never_ran(broken, evaluate(broken, None, [], NOW))
    assert reason.cause == "invalid-schedule" and reason.blocking
    assert reason.title == "Never runs on a schedule: the server drops its cronString"
    assert reason.lines[0].startswith('invalid cronString "0 9 * * MON-FRI": day of week')


def test_the_never_ran_banner_of_a_timing_says_how_the_server_reads_it() -> None:
    timed = bot(
        cronTiming={"repeat": {"frequency": 1, "period": 1, "periodUnit": "h"}}, cronString="0 * * * *"
    )
    text = "\n".join(explain_never_ran(timed).lines)
    assert "Schedule: daily at 00:00 (cronTiming period 1 → cron 0 */24 * * *, UTC)." in text
    assert "Note: cronString is ignored: cronTiming wins." in text
    assert "FHIR reads this cronTiming as every 1h" in text
    assert "check that 0 */24 * * * is the schedule you meant" in text


def test_states_are_frozen() -> None:
    state = CadenceState("ok")
    with pytest.raises(AttributeError):
        state.kind = "late"  # type: ignore[misc]


def test_more_runs_are_read_only_for_a_rhythm_that_looks_regular_so_far() -> None:
    """``might_learn``: the runs seen span less than a day (or are fewer than 20) but their gaps
    are already regular, and a page of 1,000 such runs would span a day."""
    start = NOW.timestamp() - 20 * 3600
    every_10m = [start + 600 * k for k in range(116)]  # cgm-device-sync at load: 19 h of runs
    assert might_learn(every_10m)
    assert isinstance(learn_cadence(every_10m), NoCadence)
    assert not might_learn(every_10m[:4])  # too few to tell
    assert not might_learn([start + 60 * k for k in range(200)])  # 1,000 runs a minute apart: < a day
    bursty = [start + 3600 * (k // 5) + k % 5 for k in range(100)]
    assert not might_learn(bursty)
    day_and_more = [start - 86400 + 600 * k for k in range(300)]
    assert not might_learn(day_and_more)  # learn_cadence has all it needs already


def test_the_no_runs_banner_of_a_scheduled_bot_is_the_never_ran_one() -> None:
    scheduled = Bot.model_validate({"resourceType": "Bot", "id": "c", "cronString": "*/5 * * * *"})
    assert explain_no_runs(scheduled).cause == "never-ran"
    on_error = Bot.model_validate(
        {**scheduled.model_dump(exclude_none=True), "auditEventTrigger": "on-error"}
    )
    assert explain_no_runs(on_error).cause == "on-error"  # its audit settings say why first
    plain = Bot.model_validate({"resourceType": "Bot", "id": "p"})
    assert explain_no_runs(plain).cause != "never-ran"
