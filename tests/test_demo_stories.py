"""The demo's stories (``catalog.py``), relative to its "now": incidents that start and end, one cause
across bots, a flaky bot (#16); cron bots, a stopped one, a quiet one, a bursty one, runs near their
timeout, Lambda timeouts (#17); a deploy followed by failures (#18). The same for the seed the tests
and snapshots use (7) and the one ``--demo`` and the screenshots use (42)."""

from __future__ import annotations

import itertools
import statistics
from datetime import datetime, timedelta
from typing import Any

import pytest
from demo_support import FIXED_NOW

from botmon_tui.demo import DemoConfig, DemoStore
from botmon_tui.demo.cron import CronSchedule, convert_timing_to_cron
from botmon_tui.medplum.models import AuditEvent, Bot, parse_instant
from botmon_tui.monitor.cadence import evaluate
from botmon_tui.monitor.durations import run_timing

JsonDict = dict[str, Any]


@pytest.fixture(scope="module", params=[7, 42])
def store(request: pytest.FixtureRequest) -> DemoStore:
    seed: int = request.param
    return DemoStore(DemoConfig(seed=seed, now=FIXED_NOW, live=False))


def bot_id(store: DemoStore, name: str) -> str:
    found = store.bot_id(name)
    assert found is not None, name
    return found


def events(store: DemoStore, name: str) -> list[JsonDict]:
    return store.events_for(bot_id(store, name))


def at(event: JsonDict, field: str = "lastUpdated") -> datetime:
    value = event["meta"]["lastUpdated"] if field == "lastUpdated" else event["period"][field]
    when = parse_instant(value)
    assert when is not None
    return when


def minutes_ago(when: datetime) -> float:
    return (FIXED_NOW - when).total_seconds() / 60


def failure_streak(runs: list[JsonDict]) -> list[JsonDict]:
    """The failed runs since the last success (newest first)."""
    streak: list[JsonDict] = []
    for event in runs:
        if event["outcome"] == "0":
            break
        streak.append(event)
    return streak


def streaks(outcomes: list[str]) -> int:
    """Separate failure streaks in ``outcomes``."""
    return sum(1 for i, o in enumerate(outcomes) if o != "0" and (i == 0 or outcomes[i - 1] == "0"))


def duration_s(event: JsonDict) -> float:
    return (at(event, "end") - at(event, "start")).total_seconds()


# --------------------------------------------------------------------------------------------------
# Incidents (#16)
# --------------------------------------------------------------------------------------------------


def test_one_cause_across_three_bots(store: DemoStore) -> None:
    """The master patient index answered 503 from 58 to 41 minutes ago: one error, three bots, each
    for a different Patient."""
    hits: dict[str, list[JsonDict]] = {}
    for bot in store.bots:
        for event in store.events_for(bot["id"]):
            if "EMPI lookup failed: status code 503 for Patient/" in event["outcomeDesc"]:
                hits.setdefault(bot["name"], []).append(event)
    assert set(hits) == {"hl7-adt-ingest", "questionnaire-scorer", "erx-surescripts-send"}
    runs = [e for group in hits.values() for e in group]
    assert len(runs) >= 8 and all(e["outcome"] == "4" for e in runs)
    assert all(41 <= minutes_ago(at(e, "start")) <= 58 for e in runs)
    patients = {e["outcomeDesc"].split("for Patient/")[1][:36] for e in runs}
    assert len(patients) >= len(runs) - 2  # mostly different Patients (a few come twice)


@pytest.mark.parametrize("name", ["hl7-adt-ingest", "questionnaire-scorer"])
def test_recovered_within_the_last_hour(store: DemoStore, name: str) -> None:
    runs = events(store, name)
    assert runs[0]["outcome"] == "0"
    last_failure = next(e for e in runs if e["outcome"] != "0")
    assert 40 <= minutes_ago(at(last_failure)) <= 60
    streak = failure_streak(runs[runs.index(last_failure) :])
    assert len(streak) >= 2  # it failed for a while


def test_failing_now_for_20_minutes_14_times_in_a_row_timeouts(store: DemoStore) -> None:
    runs = events(store, "erx-surescripts-send")
    streak = failure_streak(runs)
    assert len(streak) == 14
    assert 18 <= minutes_ago(at(streak[-1], "start")) <= 21 and minutes_ago(at(streak[0])) < 3
    assert all(30 <= duration_s(e) < 32 for e in streak)  # each one used its whole 30 s


def test_a_flaky_bot(store: DemoStore) -> None:
    last10 = [e["outcome"] for e in events(store, "legacy-hl7-bridge")[:10]]
    assert last10[0] == "0" and streaks(list(reversed(last10))) >= 2


# --------------------------------------------------------------------------------------------------
# Silence, cadence and durations (#17)
# --------------------------------------------------------------------------------------------------


def schedule_of(store: DemoStore, name: str) -> CronSchedule:
    bot = store.bot(bot_id(store, name))
    assert bot is not None
    pattern = convert_timing_to_cron(bot["cronTiming"]) if "cronTiming" in bot else bot.get("cronString")
    assert pattern
    return CronSchedule.parse(pattern)


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("fax-inbox-poller", "*/5 * * * *"),
        ("hourly-census-snapshot", "0 * * * *"),
        ("legacy-hl7-bridge", "*/48 * * * *"),  # cronTiming every 30: the server's conversion
        ("daily-claims-export", "0 2 * * *"),
    ],
)
def test_cron_bots_run_on_their_schedules(store: DemoStore, name: str, pattern: str) -> None:
    schedule = schedule_of(store, name)
    assert schedule == CronSchedule.parse(pattern)
    for event in events(store, name)[:30]:
        started = at(event, "start")
        due = started.replace(second=0, microsecond=0)
        assert schedule.next_after(due - timedelta(minutes=1)) == due, (name, started)
        assert started - due < timedelta(seconds=2)


def test_a_cron_bot_stopped_40_minutes_ago_after_an_update(store: DemoStore) -> None:
    runs = events(store, "fax-inbox-poller")
    assert 39 <= minutes_ago(at(runs[0], "start")) <= 41
    gaps = [(at(a, "start") - at(b, "start")).total_seconds() for a, b in itertools.pairwise(runs[:40])]
    assert all(298 <= g <= 302 for g in gaps)  # every 5 minutes until then
    history = store.bot_history(bot_id(store, "fax-inbox-poller")) or []
    assert history[0].resource is not None
    assert 41 <= minutes_ago(at(history[0].resource)) <= 43  # edited just before it stopped
    assert bot_id(store, "fax-inbox-poller") not in dict(store.live_schedule())  # and it stays stopped


def test_a_steady_subscription_bot_went_quiet(store: DemoStore) -> None:
    runs = events(store, "cgm-device-sync")
    assert minutes_ago(at(runs[0])) >= 125
    gaps = [(at(a) - at(b)).total_seconds() / 60 for a, b in itertools.pairwise(runs)]
    assert len(gaps) >= 20 and max(gaps) < 12 and min(gaps) > 8  # every 10 minutes, for days
    assert bot_id(store, "cgm-device-sync") not in dict(store.live_schedule())


def test_a_bursty_bot_has_no_steady_rhythm(store: DemoStore) -> None:
    runs = events(store, "questionnaire-scorer")
    gaps = [(at(a) - at(b)).total_seconds() for a, b in itertools.pairwise(runs)]
    assert len(gaps) >= 20
    assert statistics.pstdev(gaps) > statistics.mean(gaps)  # bursts and long pauses
    assert minutes_ago(at(runs[0])) < 60


@pytest.mark.parametrize(("name", "timeout"), [("daily-claims-export", 300), ("hourly-census-snapshot", 60)])
def test_runs_near_their_timeout(store: DemoStore, name: str, timeout: int) -> None:
    bot = store.bot(bot_id(store, name))
    assert bot is not None and bot["timeout"] == timeout
    recent = [duration_s(e) for e in events(store, name)[:5]]
    assert all(d >= 0.8 * timeout for d in recent[:2]) and all(d < 0.95 * timeout for d in recent)
    assert recent == sorted(recent, reverse=True)  # creeping up


# --------------------------------------------------------------------------------------------------
# Deploys (#18)
# --------------------------------------------------------------------------------------------------


def test_a_deploy_followed_by_failures(store: DemoStore) -> None:
    lab = bot_id(store, "lab-results-router")
    history = store.bot_history(lab) or []
    deployed, saved = history[0].resource, history[1].resource
    assert deployed is not None and saved is not None
    assert 34.9 <= minutes_ago(at(deployed)) <= 35 and 0 < (at(deployed) - at(saved)).total_seconds() < 5
    assert saved["sourceCode"] != (history[2].resource or {}).get("sourceCode")
    assert deployed["executableCode"] != saved["executableCode"]
    runs = events(store, "lab-results-router")
    since = [e for e in runs if at(e, "start") > at(deployed)]
    assert len(since) >= 5 and failure_streak(runs) == since  # every run since has failed
    assert runs[len(since)]["outcome"] == "0"  # the one before the deploy succeeded
    first = since[-1]
    assert minutes_ago(at(first, "start")) <= 34 and "TypeError" in first["outcomeDesc"]
    before = "\n".join(e["outcomeDesc"] for e in runs[len(since) :])
    assert "reading 'coding'" not in before  # a new error, since the deploy


def test_the_inputs_can_be_read_found_forbidden_deleted(store: DemoStore) -> None:
    states = {
        store.resource_state(e["entity"][1]["what"]["reference"])
        for name in (
            "lab-results-router",
            "eligibility-check",
            "questionnaire-scorer",
            "erx-surescripts-send",
        )
        for e in events(store, name)
    }
    assert {"ok", "forbidden", "deleted", "expunged"} <= states


# --------------------------------------------------------------------------------------------------
# Live mode goes on from there
# --------------------------------------------------------------------------------------------------


def test_live_runs_go_on_with_the_stories() -> None:
    """The failing bots keep failing for a while, then the gateway is back (erx) and a fix is
    deployed (lab-results-router)."""
    store = DemoStore(DemoConfig(seed=7, now=FIXED_NOW, live=False))
    erx, lab = bot_id(store, "erx-surescripts-send"), bot_id(store, "lab-results-router")
    timed_out = store.run_bot(erx, at=FIXED_NOW + timedelta(minutes=2), fail_scale=0)
    assert timed_out is not None and timed_out["outcome"] == "4" and duration_s(timed_out) >= 30
    back = store.run_bot(erx, at=FIXED_NOW + timedelta(minutes=7), fail_scale=0)
    assert back is not None and back["outcome"] == "0"
    versions = len(store.bot_history(lab) or [])
    crash = store.run_bot(lab, at=FIXED_NOW + timedelta(minutes=5), fail_scale=0)
    assert crash is not None and "reading 'coding'" in crash["outcomeDesc"]
    fixed = store.run_bot(lab, at=FIXED_NOW + timedelta(minutes=11), fail_scale=0)
    assert fixed is not None and fixed["outcome"] == "0"
    history = store.bot_history(lab) or []
    assert len(history) == versions + 2 and history[0].resource is not None
    assert timedelta(0) < at(fixed) - at(history[0].resource) < timedelta(minutes=2)  # deployed just before


# --------------------------------------------------------------------------------------------------
# What the monitor makes of them (monitor/cadence.py and durations.py read the same runs)
# --------------------------------------------------------------------------------------------------


def test_the_monitor_reads_the_silence_and_timeout_stories(store: DemoStore) -> None:
    states: dict[str, str] = {}
    for bot in store.bots:
        model = Bot.model_validate(bot)
        runs = [AuditEvent.model_validate(e) for e in store.events_for(bot["id"])[:1000]]
        times = [e.when for e in runs if e.when is not None]
        states[bot["name"]] = evaluate(model, times[0] if times else None, times, FIXED_NOW).kind
        if bot["name"] == "erx-surescripts-send":
            assert all(run_timing(e, model).timed_out for e in runs[:14])
        if bot["name"] in ("daily-claims-export", "hourly-census-snapshot"):
            assert [run_timing(e, model).near_timeout for e in runs[:3]] == [True, True, False]
    assert states["fax-inbox-poller"] == "late"
    assert states["cgm-device-sync"] == "quiet"
    assert [name for name, kind in states.items() if kind in ("late", "quiet")] == [
        "fax-inbox-poller",
        "cgm-device-sync",
    ]  # the bursty questionnaire-scorer, the cron bots on time and the rest are not
    for name in (
        "daily-claims-export",
        "hourly-census-snapshot",
        "legacy-hl7-bridge",
        "weekly-quality-report",
    ):
        assert states[name] == "ok", name


@pytest.mark.parametrize("hours", [5, 14, 19, 27, 40, 63, 88, 131])
def test_the_stories_hold_at_any_time_of_day_or_week(hours: int) -> None:
    """``--demo``'s "now" is whenever it starts: at night (few ADT messages), on a weekend."""
    now = FIXED_NOW + timedelta(hours=hours)
    store = DemoStore(DemoConfig(seed=42, now=now, live=False))

    def ago(event: JsonDict) -> float:
        return (now - at(event)).total_seconds() / 60

    hl7 = events(store, "hl7-adt-ingest")
    assert hl7[0]["outcome"] == "0" and 40 <= ago(next(e for e in hl7 if e["outcome"] != "0")) <= 60
    assert len(failure_streak(events(store, "erx-surescripts-send"))) == 14
    lab = events(store, "lab-results-router")
    streak = failure_streak(lab)
    assert len(streak) == 7 and ago(streak[-1]) < 35 and lab[len(streak)]["outcome"] == "0"
    assert 39 <= ago(events(store, "fax-inbox-poller")[0]) <= 41
    assert ago(events(store, "cgm-device-sync")[0]) >= 125
    assert max(len(e["outcomeDesc"]) for e in events(store, "weekly-quality-report")) == 10_240
