"""Incident state per bot (``monitor/incidents.py``): streaks from the runs read, a lookup once per
streak longer than them, the precedence of the states, and the grouping by signature; unit tests
on runs made here, then the monitor and the session against the demo backend."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from demo_support import FIXED_NOW, quiet_demo, settings_for

from botmon_tui.demo import DemoServer
from botmon_tui.diagnosis import signature_of
from botmon_tui.medplum.client import MedplumClient
from botmon_tui.medplum.models import Bot
from botmon_tui.monitor.alerts import FailedRun
from botmon_tui.monitor.incidents import (
    FLAKY_RUNS,
    ON_ERROR_FAILING_FOR,
    RECOVERED_FOR,
    RUNS_KEPT,
    STATES,
    Incident,
    RunLog,
    Silence,
    Streak,
    count_incidents,
    counts_text,
    evaluate,
    group_counts,
    group_failures,
    group_report,
    incident_heading,
    incident_label,
    incident_report,
)
from botmon_tui.monitor.session import Connection, ProjectSession
from botmon_tui.monitor.summary import MAX_STREAK_LOOKUPS, ProjectMonitor

NOW = FIXED_NOW
BOT = Bot(id="b1", name="lab-results-router")


def runlog(pattern: str, *, bounded: bool = True, every: timedelta = timedelta(minutes=1)) -> RunLog:
    """A bot's runs, oldest first: ``S`` a success, ``F`` a failure, one ``every`` apart, the
    newest at NOW. ``bounded``: nothing came before them (the whole history)."""
    log = RunLog(before_bounded=bounded)
    for n, code in enumerate(pattern):
        when = NOW - every * (len(pattern) - 1 - n)
        log.note((when, f"r{n:04d}"), code == "F", 1.0)
    return log


def at(pattern: str, index: int, every: timedelta = timedelta(minutes=1)) -> datetime:
    return NOW - every * (len(pattern) - 1 - index)


def state_of(pattern: str, *, bot: Bot = BOT, **options: Any) -> Incident:
    bounded = options.pop("bounded", True)
    return evaluate(bot, runlog(pattern, bounded=bounded), now=options.pop("now", NOW), timeout=10, **options)


# ------------------------------------------------------------------------------------------------
# Streaks
# ------------------------------------------------------------------------------------------------


def test_failing_since_the_first_failure_after_the_last_success() -> None:
    incident = state_of("SSSFFF")
    assert incident.state == "failing" and incident.active
    assert incident.streak == Streak(at("SSSFFF", 3), NOW, 3, True, "r0005", last_duration=1.0)
    assert incident.failing_since == at("SSSFFF", 3)
    assert incident.kind == "error"


def test_a_streak_longer_than_the_runs_kept_stays_exact_when_its_start_was_seen() -> None:
    pattern = "SS" + "F" * (RUNS_KEPT * 3)
    log = runlog(pattern)
    assert len(log.runs) == RUNS_KEPT
    streak = log.current()
    assert streak is not None and (streak.runs, streak.exact) == (RUNS_KEPT * 3, True)
    assert streak.since == at(pattern, 2)


def test_a_streak_back_past_what_was_read_is_at_least_n_until_looked_up() -> None:
    log = runlog("FFFF", bounded=False)
    streak = log.current()
    assert streak is not None and (streak.runs, streak.exact, streak.runs_text) == (4, False, "≥ 4")
    # The lookup read the bot's newest runs (newest first): 6 more failures, then a success.
    older = [((NOW - timedelta(minutes=4 + n), f"o{n}"), n < 6) for n in range(10)]
    log.absorb(older, complete=False)
    streak = log.current()
    assert streak is not None and (streak.runs, streak.exact) == (10, True)
    assert streak.since == NOW - timedelta(minutes=9)
    assert log.looked_up


def test_a_lookup_that_finds_no_success_says_at_least_or_since_the_first_run() -> None:
    log = runlog("FF", bounded=False)
    log.absorb([((NOW - timedelta(minutes=2 + n), f"o{n}"), True) for n in range(998)], complete=False)
    streak = log.current()
    assert streak is not None and (streak.runs, streak.exact) == (1000, False)
    log = runlog("FF", bounded=False)
    log.absorb([((NOW - timedelta(minutes=2 + n), f"o{n}"), True) for n in range(3)], complete=True)
    streak = log.current()
    assert streak is not None and (streak.runs, streak.exact) == (5, True)


def test_runs_seen_twice_count_once_and_late_ones_go_in_their_place() -> None:
    log = runlog("SFF")
    assert not log.note((NOW, "r0002"), True)
    assert log.note((NOW - timedelta(seconds=30), "late"), False)
    assert log.current() == Streak(NOW, NOW, 1, True, "r0002", last_duration=1.0)


def test_a_success_starts_the_next_streaks_lookup_afresh() -> None:
    log = runlog("FF", bounded=False)
    log.absorb([], complete=False)
    assert log.looked_up
    log.note((NOW + timedelta(minutes=1), "ok"), False)
    assert not log.looked_up


# ------------------------------------------------------------------------------------------------
# States
# ------------------------------------------------------------------------------------------------


def test_recovered_for_an_hour_after_the_streak_ended() -> None:
    pattern = "SFFFS"
    incident = state_of(pattern)
    assert incident.state == "recovered" and not incident.active
    assert incident.recovered_at == NOW
    previous = incident.previous
    assert previous is not None and (previous.runs, previous.exact) == (3, True)
    assert previous.since == at(pattern, 1) and previous.ended == NOW
    assert previous.lasted(NOW) == timedelta(minutes=3)
    assert state_of(pattern, now=NOW + RECOVERED_FOR).state == "recovered"
    later = state_of(pattern, now=NOW + RECOVERED_FOR + timedelta(seconds=1))
    assert later.state == "ok" and later.previous == previous


def test_a_recovery_folded_out_of_the_runs_kept_is_remembered() -> None:
    pattern = "S" + "F" * 5 + "S" * (RUNS_KEPT + 2)
    log = runlog(pattern, every=timedelta(seconds=10))
    assert all(not failed for _, failed, _ in log.runs)
    previous = log.previous()
    assert previous is not None and (previous.runs, previous.exact) == (5, True)
    assert previous.ended == at(pattern, 6, timedelta(seconds=10))


def test_flaky_when_the_last_ten_runs_hold_two_streaks() -> None:
    assert state_of("SSSFSSFFSS").state == "flaky"
    assert state_of("SSSFSSFFSS").flaky_streaks == 2
    # The failures of the streak before the last ten runs do not count.
    assert state_of("F" + "S" * FLAKY_RUNS, now=NOW + 2 * RECOVERED_FOR).state == "ok"
    # Failing beats flaky.
    assert state_of("SFSFSF").state == "failing"


def test_one_state_per_bot_first_match_wins() -> None:
    late = Silence("late", NOW - timedelta(minutes=42), "late 42m: due 09:00")
    assert state_of("SSF", silence=late).state == "failing"
    assert state_of("SFSFSS", silence=late).state == "late"
    assert state_of("SFSFSS", silence=late).summary == "late 42m: due 09:00"
    assert state_of("SFSFSS").state == "flaky"
    silent = Bot(id="s", auditEventDestination=["log"])
    assert state_of("FFF", bot=silent).state == "no-audit"
    assert state_of("FFF", bot=Bot(id="n", auditEventTrigger="never")).state == "no-audit"
    empty = RunLog()
    assert evaluate(BOT, empty, now=NOW, timeout=10, ran=False).state == "never-ran"
    assert evaluate(BOT, empty, now=NOW, timeout=10, ran=None).state == "unknown"
    assert [s for s in STATES if s not in ("late", "quiet")][:2] == ["no-audit", "failing"]


def test_a_bot_recording_only_failures_is_not_failing_from_an_old_failure() -> None:
    on_error = Bot(id="e", auditEventTrigger="on-error")
    every = timedelta(minutes=20)
    log = runlog("FFF", every=every)
    incident = evaluate(on_error, log, now=NOW, timeout=10)
    assert incident.state == "failing" and incident.streak is not None and incident.streak.runs == 3
    at = NOW + ON_ERROR_FAILING_FOR + timedelta(seconds=1)
    later = evaluate(on_error, log, now=at, timeout=10)
    assert later.state == "ok" and later.previous is not None and later.previous.runs == 3
    # Its newest AuditEvent is a failure: its "ok" says what it rests on, as room allows.
    assert later.errors_only and not evaluate(BOT, runlog("FFS"), now=at, timeout=10).errors_only
    quiet = at - later.previous.last
    assert quiet >= ON_ERROR_FAILING_FOR
    assert incident_label(later, at) == "ok · no failure for 1h"
    assert incident_label(later, at, width=len("ok · 1h no failure")) == "ok · 1h no failure"
    assert incident_label(later, at, width=11) == "ok"
    # Never flaky nor recovered: its successes leave no trace.
    assert evaluate(on_error, runlog("F"), now=NOW + timedelta(hours=3), timeout=10).state == "ok"


def test_the_kind_comes_from_the_failure_watchs_text_else_from_the_timing() -> None:
    log = runlog("SF")
    run = FailedRun(
        "r0001", "b1", None, "4", "Unhandled error: boom", NOW, "crash", signature_of("Error: boom")
    )
    incident = evaluate(BOT, log, now=NOW, timeout=10, last_failure=run)
    assert (incident.kind, incident.summary) == ("crash", "Unhandled error: boom")
    assert incident.signature == signature_of("Error: boom")
    # The watch's run is an older one: the newest failed run's timing is all that is known.
    older = FailedRun("r0000", "b1", None, "4", "x", NOW, "crash", signature_of("x"))
    assert evaluate(BOT, log, now=NOW, timeout=10, last_failure=older).kind == "error"
    slow = RunLog(before_bounded=True)
    slow.note((NOW, "slow"), True, 9.7)
    assert evaluate(BOT, slow, now=NOW, timeout=10).kind == "timeout"
    assert evaluate(BOT, slow, now=NOW, timeout=30).kind == "error"


def test_labels_and_the_failing_now_summary() -> None:
    incident = state_of("S" + "F" * 14)
    assert incident_label(incident, NOW + timedelta(minutes=10)) == "failing 23m · 14× · error"
    inexact = state_of("FFF", bounded=False)
    assert incident_label(inexact, NOW) == "failing 2m · ≥ 3× · error"
    assert incident_label(state_of("SFS"), NOW + timedelta(minutes=5)) == "recovered 5m ago"
    assert incident_label(state_of("SSSFSSFFSS"), NOW) == "flaky (2 streaks in 10 runs)"
    assert incident_label(Incident("never-ran"), NOW) == "never ran"
    counts = count_incidents([state_of("SF"), state_of("SFF"), state_of("SFSFS"), state_of("SFS")])
    assert counts_text(counts) == "! 2 failing · 1 flaky · 1 recovered"
    assert counts_text(count_incidents([state_of("SFS")])) == "1 recovered"
    assert counts_text(count_incidents([state_of("SS"), Incident("no-audit")])) == "✓ nothing failing"


def test_an_incident_as_plain_text_for_the_incident_channel() -> None:
    pattern = "S" + "F" * 14
    run = FailedRun(
        "r0014", "b1", None, "4", "ERROR TypeError: x is undefined", NOW, "crash", signature_of("T")
    )
    incident = evaluate(BOT, runlog(pattern), now=NOW, timeout=10, last_failure=run)
    text = incident_report(
        "lab-results-router",
        incident,
        now=NOW + timedelta(minutes=10),
        link="https://app.medplum.com/Bot/b1/event",
        input_ref="Patient/123",
        profile="prod",
    )
    assert text.splitlines() == [
        "prod/lab-results-router: failing 23m · 14× · crash",
        "since: 2025-03-14T11:47:00.000Z (23m ago)",
        "streak: 14 failed runs in 23m 00s",
        "kind: crash",
        "error: ERROR TypeError: x is undefined",
        f"signature: T [{signature_of('T').key}]",
        "link: https://app.medplum.com/Bot/b1/event",
        "input: Patient/123",
    ]
    recovered = incident_report("adt", state_of("SFFS"), now=NOW)
    assert (
        recovered.splitlines()[0] == "adt: recovered now"
        and "recovered: 2025-03-14T12:00:00.000Z" in recovered
    )


# ------------------------------------------------------------------------------------------------
# One cause across bots
# ------------------------------------------------------------------------------------------------


def failed(run_id: str, bot_id: str, minutes: int, text: str) -> FailedRun:
    return FailedRun(
        run_id, bot_id, None, "4", text, NOW - timedelta(minutes=minutes), "error", signature_of(text)
    )


def test_failures_are_grouped_by_signature_newest_group_first() -> None:
    runs = [
        failed("a", "lab", 30, "status code 503"),
        failed("b", "adt", 20, "status code 503"),
        failed("c", "lab", 10, "status code 503"),
        failed("d", "eligibility", 5, "status code 500"),
        failed("e", "adt", 1, "status code 503"),
    ]
    groups = group_failures(runs, ongoing=lambda run: run.id == "e")
    assert [g.signature.text for g in groups] == ["status code 503", "status code 500"]
    first = groups[0]
    assert [r.id for r in first.runs] == ["e", "c", "b", "a"]
    assert first.bot_ids == ("adt", "lab")
    assert (first.first_seen, first.last_seen) == (NOW - timedelta(minutes=30), NOW - timedelta(minutes=1))
    assert first.ongoing and not groups[1].ongoing
    assert first.example == "status code 503"


def test_a_cause_in_words_for_the_table_and_the_incident_channel() -> None:
    runs = [failed(str(n), f"bot{n % 3}", 40 - n, "status code 503") for n in range(12)]
    group = group_failures(runs, ongoing=lambda run: False)[0]
    assert group_counts(group) == "12 runs · 3 bots"
    assert group_counts(group, width=15) == "12× · 3 bots"  # (the table at 80 columns)
    assert group_counts(group_failures(runs[:1])[0]) == "1 run · 1 bot"
    text = group_report(
        group, ["lab", "adt", "erx"], now=NOW, link="https://app/AuditEvent/11", input_ref="Patient/1"
    )
    assert text.splitlines() == [
        f"cause: status code 503 [{group.signature.key}]",
        "12 runs · 3 bots: lab, adt, erx",
        "ongoing: no (over)",
        "first seen: 2025-03-14T11:20:00.000Z (40m ago)",
        "last seen: 2025-03-14T11:31:00.000Z (29m ago)",
        "kind: error",
        "error: status code 503",
        "link: https://app/AuditEvent/11",
        "input: Patient/1",
    ]


def test_the_state_in_fewer_cells_and_for_a_heading() -> None:
    later = NOW + timedelta(minutes=10)
    failing = state_of("S" + "F" * 14)
    assert [incident_label(failing, later, width=w) for w in (None, 25, 17, 11, 9, 5, 1)] == [
        "failing 23m · 14× · error",
        "failing 23m · 14× · error",
        "failing 23m · 14×",
        "✗ 23m · 14×",
        "✗ 23m 14×",
        "✗ 23m",
        "✗ 23m",  # (the shortest when none fits)
    ]
    assert incident_label(state_of("FFF", bounded=False), NOW, width=11) == "✗ 2m · ≥3×"
    recovered = state_of("SFS")
    assert [incident_label(recovered, later, width=w) for w in (None, 13, 9)] == [
        "recovered 10m ago",
        "recovered 10m",
        "recovered",
    ]
    assert incident_label(state_of("SSSFSSFFSS"), NOW, width=11) == "flaky 2/10"
    assert incident_label(Incident("no-audit"), NOW, width=11) == "no audit"
    assert incident_heading(failing, later) == "14× in a row · error"
    assert incident_heading(recovered, later) == "recovered 10m ago (1 failed run in 1m 00s)"
    assert incident_heading(state_of("SSSFSSFFSS"), NOW) == "flaky (2 streaks in 10 runs)"
    assert incident_heading(state_of("SS"), NOW) is None
    assert incident_heading(Incident("no-audit"), NOW) is None


def test_an_incident_report_names_the_project_and_the_run_it_points_at() -> None:
    run = FailedRun("r9", "b1", None, "4", "Error: old", NOW - timedelta(hours=3), "crash", signature_of("E"))
    text = incident_report("adt", state_of("SS"), now=NOW, project="prod.example", run=run)
    assert text.splitlines() == [
        "adt: ok",
        "project: prod.example",
        "failed run: 2025-03-14T09:00:00.000Z (3h ago)",
        "kind: crash",
        "error: Error: old",
        "signature: E [" + signature_of("E").key + "]",
    ]


# ------------------------------------------------------------------------------------------------
# The monitor and the session, against the demo backend
# ------------------------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[DemoServer]:
    with quiet_demo(seed=13, history_days=1) as demo:
        yield demo


def add_bot(server: DemoServer, name: str, **fields: Any) -> str:
    return str(server.store.add_bot({"resourceType": "Bot", "name": name, **fields})["id"])


def execute_requests(server: DemoServer, bot_id: str) -> list[str]:
    return [r.path for r in server.requests if "AuditEvent" in r.path and f"Bot%2F{bot_id}" in r.path]


async def test_a_long_streak_costs_one_lookup_once(server: DemoServer) -> None:
    bot_id = add_bot(server, "nightly-sync")
    base = NOW + timedelta(hours=1)
    server.store.add_event(bot_id, outcome="0", desc="ok", at=base)
    for n in range(30):
        server.store.add_event(
            bot_id, outcome="4", desc=f"Error: upstream 503 #{n}", at=base + timedelta(minutes=n + 1)
        )
    async with MedplumClient(settings_for(server)) as client:
        monitor = ProjectMonitor(client, clock=lambda: base + timedelta(minutes=31), latest_page=10)
        await monitor.load()
        status = monitor.statuses[bot_id]
        streak = status.incident.streak
        assert status.incident.state == "failing" and streak is not None
        assert (streak.runs, streak.exact) == (10, False)
        assert monitor.needs_streak_lookup() == [bot_id]
        before = len(execute_requests(server, bot_id))
        assert await monitor.lookup_streaks() == {bot_id}
        streak = monitor.statuses[bot_id].incident.streak
        assert streak is not None and (streak.runs, streak.exact) == (30, True)
        assert streak.since == base + timedelta(minutes=1)
        assert len(execute_requests(server, bot_id)) == before + 1
        assert monitor.needs_streak_lookup() == []
        # Later failures extend the streak from the runs query alone.
        server.store.add_event(
            bot_id, outcome="4", desc="Error: upstream 503", at=base + timedelta(minutes=40)
        )
        await monitor.poll()
        streak = monitor.statuses[bot_id].incident.streak
        assert streak is not None and (streak.runs, streak.exact) == (31, True)
        assert len(execute_requests(server, bot_id)) == before + 1


async def test_lookups_are_bounded_per_call(server: DemoServer) -> None:
    base = NOW + timedelta(hours=1)
    ids = [add_bot(server, f"zz-failing-{n:02d}") for n in range(MAX_STREAK_LOOKUPS + 3)]
    for n in range(3):
        for bot_id in ids:
            server.store.add_event(bot_id, outcome="4", desc="Error: x", at=base + timedelta(seconds=n))
    async with MedplumClient(settings_for(server)) as client:
        # The newest 40 runs hold each bot's newest run, and none of them its first.
        monitor = ProjectMonitor(client, clock=lambda: base + timedelta(minutes=1), latest_page=40)
        await monitor.load()
        assert len(monitor.needs_streak_lookup()) == MAX_STREAK_LOOKUPS
        await monitor.lookup_streaks()
        assert len(monitor.needs_streak_lookup()) == len(ids) - MAX_STREAK_LOOKUPS


async def test_the_session_names_the_incidents_kind_and_cause_from_the_output(server: DemoServer) -> None:
    bot_id = add_bot(server, "payer-sync", runtimeVersion="awslambda")
    base = NOW + timedelta(hours=1)
    server.store.add_event(bot_id, outcome="0", desc="ok", at=base)
    log = (
        "2025-03-14T13:00:00.000Z\t146fcfcf-c32b-43f5-82a6-ee0f3132d873\tERROR\tInvoke Error \t"
        '{"errorType":"AxiosError","errorMessage":"Request failed with status code 503",'
        '"stack":["AxiosError: Request failed with status code 503","    at sync (/var/task/index.js:9:1)"]}'
    )
    for n in range(2):
        server.store.add_event(bot_id, outcome="4", desc=log, at=base + timedelta(minutes=n + 1))
    client = MedplumClient(settings_for(server))
    session = ProjectSession(Connection(client, "demo"), clock=lambda: base + timedelta(minutes=3))
    try:
        await session.poll()
        incident = session.project.statuses[bot_id].incident
        assert incident.state == "failing" and incident.kind == "error"  # the timing alone so far
        assert session.wants_failures()
        await session.poll_failures()
        incident = session.project.statuses[bot_id].incident
        assert (incident.kind, incident.summary) == (
            "crash",
            "ERROR AxiosError: Request failed with status code 503",
        )
        assert incident.signature is not None
        assert incident.signature.text == "AxiosError: Request failed with status code 503 @ sync (index.js)"
        assert incident.streak is not None and (incident.streak.runs, incident.streak.exact) == (2, True)
        run = session.failure_watch.runs[0]
        assert (run.kind, run.signature) == ("crash", incident.signature)
    finally:
        await session.aclose()


async def test_a_timed_out_lambda_run_is_a_timeout_from_its_duration(server: DemoServer) -> None:
    bot_id = add_bot(server, "slow-export", runtimeVersion="awslambda", timeout=30)
    at_ = NOW + timedelta(hours=1)
    server.store.add_event(bot_id, outcome="4", desc="INFO fetched page 3", at=at_, duration_ms=29_000)
    client = MedplumClient(settings_for(server))
    session = ProjectSession(Connection(client, "demo"), clock=lambda: at_ + timedelta(seconds=5))
    try:
        await session.poll()
        assert session.project.statuses[bot_id].incident.kind == "timeout"
        await session.poll_failures()
        run = session.failure_watch.runs[0]
        assert run.kind == "timeout" and run.summary == "timed out after 29.0 s (timeout 30.0 s)"
    finally:
        await session.aclose()


def test_states_are_evaluated_for_every_bot_in_the_monitor_without_a_request() -> None:
    class NoClient:
        pass

    monitor = ProjectMonitor(NoClient(), clock=lambda: NOW)  # type: ignore[arg-type]
    assert monitor.evaluate() == set()
