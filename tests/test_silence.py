"""The silence slot wired (issue #17): every bot's cadence evaluated from what the bot list already
reads, late and quiet in its incident state, in the attention order, in the counts and in the
incident events; what it costs (nothing per poll); and bounded memory."""

from __future__ import annotations

from datetime import timedelta

import pytest
from demo_support import FIXED_NOW, WallClock, demo_fixture, settings_for

from botmon_tui.demo import DemoServer
from botmon_tui.medplum.client import MedplumClient
from botmon_tui.medplum.models import Bot
from botmon_tui.monitor import silence as silence_module
from botmon_tui.monitor.cadence import LearnedCadence, NoCadence, learn_cadence
from botmon_tui.monitor.incidents import count_incidents, counts_text, incident_label
from botmon_tui.monitor.session import Connection, ProjectSession
from botmon_tui.monitor.silence import SilenceWatch
from botmon_tui.monitor.summary import RUN_TIMES_KEPT, BotStatus, attention_key
from botmon_tui.monitor.tracker import IncidentEvent

demo = demo_fixture(scope="function")


def fhir_requests(demo: DemoServer, mark: int) -> list[str]:
    return [r.path for r in demo.requests[mark:] if "/fhir/" in r.path]


def by_name(session: ProjectSession, name: str) -> BotStatus:
    return next(s for s in session.project.statuses.values() if s.bot.name == name)


async def loaded(demo: DemoServer, clock: WallClock, **grace: float) -> ProjectSession:
    session = ProjectSession(Connection(MedplumClient(settings_for(demo)), "demo", grace=grace), clock=clock)
    await session.poll()
    if session.needs_backfill():
        await session.backfill()
    return session


async def test_every_bot_gets_its_silence_from_what_the_list_reads(demo: DemoServer) -> None:
    session = await loaded(demo, WallClock(FIXED_NOW))
    try:
        project = session.project
        assert isinstance(project.silence, SilenceWatch)
        assert all(status.cadence is not None for status in project.statuses.values())
        fax, cgm = by_name(session, "fax-inbox-poller"), by_name(session, "cgm-device-sync")
        scorer = by_name(session, "questionnaire-scorer")
        assert fax.incident.state == "late" and cgm.incident.state == "quiet"
        assert scorer.incident.state not in ("late", "quiet")
        assert incident_label(fax.incident, FIXED_NOW) == "late 35m · 8 missed"
        assert incident_label(cgm.incident, FIXED_NOW).startswith("quiet 2h ")
        assert incident_label(cgm.incident, FIXED_NOW).endswith(" · usually every 10m")
        # Right after the failing bots.
        order = [s.bot.name for s in sorted(project.statuses.values(), key=attention_key)]
        failing = [s.bot.name for s in project.statuses.values() if s.incident.state == "failing"]
        assert order[: len(failing) + 2] == [*sorted(failing, key=order.index), fax.bot.name, cgm.bot.name]
        counts = count_incidents(project.incidents().values())
        assert (counts["late"], counts["quiet"], counts.active) == (1, 1, len(failing) + 2)
        assert "1 late · 1 quiet" in counts_text(counts)
        # Durations come with the runs: p50 <= p95, the census near its 60 s timeout.
        census = by_name(session, "hourly-census-snapshot").duration_stats()
        assert census.p50 is not None and census.p95 is not None and 30 < census.p50 <= census.p95 < 60
    finally:
        await session.aclose()


async def test_silence_costs_no_request_per_poll(demo: DemoServer) -> None:
    """After load and its one-time lookups (each scheduled bot with no run among those read; the
    one bot whose cadence the load's runs cannot tell), an idle poll is the bot list's two requests."""
    clock = WallClock(FIXED_NOW)
    session = ProjectSession(Connection(MedplumClient(settings_for(demo)), "demo"), clock=clock)
    try:
        await session.poll()
        project = session.project
        assert project.needs_cadence_lookup() == [by_name(session, "cgm-device-sync").bot.id]
        # The scheduled bot with no run among those read is looked up first (late depends on it).
        idle = [project.statuses[bot_id].bot.name for bot_id in project.needs_backfill()]
        assert idle == ["weekly-quality-report", "sms-opt-out-handler"]
        assert project.needs_backfill(scheduled_only=True) == project.needs_backfill()[:1]
        mark = len(demo.requests)
        await session.backfill()
        lookups = fhir_requests(demo, mark)
        # weekly-quality-report (scheduled) first, then sms-opt-out-handler; cgm-device-sync's runs.
        assert len(lookups) == len(project.needs_backfill()) + 3 and all("AuditEvent" in p for p in lookups)
        assert not session.needs_backfill()
        for minutes in (1, 2, 3):
            clock.at = FIXED_NOW + timedelta(minutes=minutes)
            mark = len(demo.requests)
            await session.poll()
            session.incident_events()
            assert len(fhir_requests(demo, mark)) == 2
    finally:
        await session.aclose()


async def test_late_and_resumed_reach_the_incident_events(demo: DemoServer) -> None:
    """A cron bot that stops running: ``late`` (loud) once its grace period is over, ``resumed``
    when it runs again. (The quiet demo makes no run after ``FIXED_NOW``: its other scheduled bots
    go late as the clock moves too; only this bot's events are looked at.)"""
    clock = WallClock(FIXED_NOW)
    session = await loaded(demo, clock)
    census = by_name(session, "hourly-census-snapshot")  # 0 * * * *, timeout 60 s; ran at 11:00
    try:

        def events() -> list[IncidentEvent]:
            return [e for e in session.incident_events() if e.bot_id == census.bot.id]

        assert events() == []  # the first call tells nothing already there
        assert census.incident.state == "ok"
        # 12:00 is due: grace 12 min (20 % of the hour) + its 60 s timeout.
        clock.at = FIXED_NOW + timedelta(minutes=13)
        await session.poll()
        assert events() == [] and census.incident.state == "ok"
        clock.at = FIXED_NOW + timedelta(minutes=13, seconds=1)
        await session.poll()
        late = events()
        assert [(e.event, e.bot) for e in late] == [("late", "hourly-census-snapshot")]
        assert late[0].loud and late[0].since == FIXED_NOW
        assert late[0].summary is not None and late[0].summary.endswith("(hourly); 1 missed")
        assert incident_label(census.incident, clock.at) == "late 13m · 1 missed"
        # Time alone: one more missed run at 13:00, no new event.
        clock.at = FIXED_NOW + timedelta(hours=1, minutes=5)
        await session.poll()
        assert events() == []
        assert incident_label(census.incident, clock.at) == "late 1h 05m · 2 missed"
        demo.store.add_event(census.bot.id, outcome="0", desc="ok", at=clock.at)
        await session.poll()
        ended = events()
        assert [(e.event, e.loud) for e in ended] == [("resumed", False)]
        assert ended[0].summary == "late for 1h 05m"
        assert census.incident.state == "ok"
    finally:
        await session.aclose()


async def test_a_grace_period_by_name_or_id(demo: DemoServer) -> None:
    fax_id = next(b["id"] for b in demo.store.bots if b["name"] == "fax-inbox-poller")
    for grace in ({"fax-inbox-poller": 3600.0}, {fax_id: 3600.0}):
        session = await loaded(demo, WallClock(FIXED_NOW), **grace)
        try:
            fax = by_name(session, "fax-inbox-poller")
            assert fax.incident.state != "late" and fax.cadence is not None and fax.cadence.grace == 3600
        finally:
            await session.aclose()


def test_the_learned_cadence_is_recomputed_only_when_runs_change(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = learn_cadence

    def counting(times: list[float]) -> LearnedCadence | NoCadence:
        calls.append(len(times))
        return real(times)

    monkeypatch.setattr(silence_module, "learn_cadence", counting)
    status = BotStatus(bot=Bot.model_validate({"resourceType": "Bot", "id": "b", "name": "sub"}))
    start = FIXED_NOW - timedelta(days=2)
    for n in range(300):
        status.note_time(start + timedelta(minutes=10 * n), 0.5)
    watch = SilenceWatch()
    now = start + timedelta(minutes=10 * 299 + 5)
    for minutes in range(0, 25, 5):  # quiet after 30 min (3 x its longest gap, 10 min)
        watch.check(status, now + timedelta(minutes=minutes), last_run_known=True)
    assert calls == [300]  # learned once; the state itself is cached until it changes by time
    assert status.cadence is not None and status.cadence.kind == "ok"
    silence = watch.check(status, now + timedelta(hours=3), last_run_known=True)
    assert silence is not None and silence.state == "quiet" and calls == [300]
    status.note_time(now + timedelta(hours=3), 0.5)
    assert watch.check(status, now + timedelta(hours=3), last_run_known=True) is None
    assert calls == [300, 301]


def test_run_times_and_durations_are_bounded() -> None:
    status = BotStatus(bot=Bot.model_validate({"resourceType": "Bot", "id": "b"}))
    for n in range(10 * RUN_TIMES_KEPT):
        status.note_time(FIXED_NOW + timedelta(seconds=n), float(n % 7))
    assert len(status.run_times) <= 2 * RUN_TIMES_KEPT and len(status.durations) <= 2000
    assert status.run_times[-1] == (FIXED_NOW + timedelta(seconds=10 * RUN_TIMES_KEPT - 1)).timestamp()
    stats = status.duration_stats()
    assert stats.count == 1000 and stats.p50 == 3.0 and stats.p95 == 6.0


async def test_a_scheduled_bot_created_after_load_that_never_runs_goes_late(demo: DemoServer) -> None:
    """Every run of a bot created after load is seen: no run means it never ran, and its first
    scheduled run (after it was created) is overdue: ``late · never ran``."""
    clock = WallClock(FIXED_NOW)
    session = await loaded(demo, clock)
    try:
        bot = demo.store.add_bot({"resourceType": "Bot", "name": "new-cron", "cronString": "*/5 * * * *"})
        created = Bot.model_validate(bot).last_updated
        assert created is not None
        clock.at = created + timedelta(minutes=1)
        await session.poll()
        status = session.project.statuses[bot["id"]]
        assert status.looked_up and status.incident.state == "never-ran"  # (its first run is not due yet)
        clock.at = created + timedelta(minutes=20)
        await session.poll()
        late = status.incident  # (read again: the poll changed it)
        assert late.state == "late" and incident_label(late, clock.at).endswith(" · never ran")
    finally:
        await session.aclose()
