"""Alerts per incident, not per run (``monitor/tracker.py``): one event when a bot starts failing,
one per new signature, a re-alert at most every ``realert``, a quiet recovery with how long and how
many runs, acknowledge; nothing for what was there at start. Then through a session against the
demo backend."""

from __future__ import annotations

from datetime import timedelta

from demo_support import FIXED_NOW, quiet_demo, settings_for

from botmon_tui.diagnosis import error_signature, signature_of
from botmon_tui.medplum.client import MedplumClient
from botmon_tui.medplum.models import Bot
from botmon_tui.monitor.alerts import FailedRun
from botmon_tui.monitor.incidents import RunLog, evaluate
from botmon_tui.monitor.session import Connection, ProjectSession
from botmon_tui.monitor.summary import BotStatus
from botmon_tui.monitor.tracker import (
    FAILING,
    NEW_SIGNATURE,
    RECOVERED,
    STILL_FAILING,
    IncidentEvent,
    IncidentTracker,
    event_text,
    event_title,
)

NOW = FIXED_NOW


class Project:
    """Bots whose runs a test adds; their states are evaluated as the monitor does."""

    def __init__(self, *names: str) -> None:
        self.now = NOW
        self.statuses: dict[str, BotStatus] = {}
        self.count = 0
        for name in names:
            self.statuses[name] = BotStatus(bot=Bot(id=name, name=name), runlog=RunLog(before_bounded=True))

    def run(
        self, name: str, failed: bool, *, minutes: float = 1, text: str = "Error: boom"
    ) -> FailedRun | None:
        """One run of ``name``, ``minutes`` after the clock (which moves there); its FailedRun as the
        failure watch would read it when it failed."""
        self.now += timedelta(minutes=minutes)
        self.count += 1
        run_id = f"run-{self.count}"
        status = self.statuses[name]
        status.runlog.note((self.now, run_id), failed, 1.0)
        if not failed:
            return None
        run = FailedRun(run_id, name, name, "4", text, self.now, "crash", error_signature(text))
        status.last_failure = run
        return run

    def update(
        self, tracker: IncidentTracker, runs: list[FailedRun | None] | None = None
    ) -> list[IncidentEvent]:
        for status in self.statuses.values():
            status.incident = evaluate(
                status.bot,
                status.runlog,
                now=self.now,
                timeout=10,
                last_failure=status.last_failure,
                ran=False,
            )
        fresh = [run for run in runs or [] if run is not None]
        return tracker.update(self.statuses, fresh, now=self.now)


def kinds(events: list[IncidentEvent]) -> list[tuple[str, str]]:
    return [(event.event, event.bot) for event in events]


def test_incidents_there_at_start_are_not_announced_later_ones_once() -> None:
    project, tracker = Project("old-failure", "fine"), IncidentTracker()
    project.run("old-failure", True)
    project.run("fine", False)
    assert project.update(tracker) == []
    assert tracker.open() == {"old-failure": "failing"}
    # Three failures in one poll: one event, the streak counted exactly.
    runs = [project.run("fine", True, minutes=0.1) for _ in range(3)]
    events = project.update(tracker, runs)
    assert kinds(events) == [(FAILING, "fine")]
    event = events[0]
    assert (event.streak, event.exact, event.kind, event.loud) == (3, True, "crash", True)
    assert event.since == runs[0].when and event.at == runs[-1].when  # type: ignore[union-attr]
    assert event_title(event) == "fine is failing"
    # More of the same: counted silently.
    runs = [project.run("fine", True, minutes=2) for _ in range(2)]
    assert project.update(tracker, runs) == []


def test_a_new_signature_is_told_and_the_same_one_again_only_after_realert() -> None:
    project, tracker = Project("lab"), IncidentTracker(realert=timedelta(minutes=30))
    project.update(tracker)
    first = project.run("lab", True, text="status code 503 for Patient/a1")
    assert kinds(project.update(tracker, [first])) == [(FAILING, "lab")]
    same = project.run("lab", True, text="status code 503 for Patient/b2")
    assert project.update(tracker, [same]) == []
    other = project.run("lab", True, text="status code 500 for Patient/b2")
    events = project.update(tracker, [other])
    assert kinds(events) == [(NEW_SIGNATURE, "lab")]
    assert events[0].signature == signature_of("status code 500 for Patient/<id>")
    assert events[0].new_runs == 2
    # Within 30 minutes of the last alert: silent; after: once, with the runs since.
    again = "status code 503 for Patient/c3"
    assert project.update(tracker, [project.run("lab", True, minutes=10, text=again)]) == []
    events = project.update(tracker, [project.run("lab", True, minutes=25, text=again)])
    assert kinds(events) == [(STILL_FAILING, "lab")]
    assert (events[0].streak, events[0].new_runs) == (5, 2)
    assert "2 more" in event_text(events[0], project.now)
    assert project.update(tracker, [project.run("lab", True, minutes=1, text=again)]) == []
    # Nothing new, long after: no re-alert from the clock alone.
    project.now += timedelta(hours=2)
    assert project.update(tracker) == []


def test_a_recovery_is_a_quiet_event_with_how_long_and_how_many_runs() -> None:
    project, tracker = Project("adt"), IncidentTracker()
    project.update(tracker)
    runs = [project.run("adt", True, minutes=5) for _ in range(4)]
    project.update(tracker, runs)
    project.run("adt", False, minutes=5)
    events = project.update(tracker)
    assert kinds(events) == [(RECOVERED, "adt")]
    event = events[0]
    assert not event.loud
    assert (event.streak, event.exact) == (4, True)
    assert event.lasted == timedelta(minutes=20) and event.at == project.now
    assert event_text(event, project.now) == "failed for 20m 00s, 4 failed runs"
    assert tracker.open() == {}
    assert project.update(tracker) == []


def test_acknowledge_silences_an_incident_until_it_recovers() -> None:
    project, tracker = Project("claims"), IncidentTracker(realert=timedelta(minutes=1))
    project.update(tracker)
    assert kinds(project.update(tracker, [project.run("claims", True)])) == [(FAILING, "claims")]
    assert tracker.acknowledge("claims") and tracker.acknowledged("claims")
    assert not tracker.acknowledge("claims")
    assert project.update(tracker, [project.run("claims", True, minutes=5, text="Error: other")]) == []
    assert project.update(tracker, [project.run("claims", True, minutes=5)]) == []
    project.run("claims", False)
    assert kinds(project.update(tracker)) == [(RECOVERED, "claims")]
    assert not tracker.acknowledged("claims")
    # The next incident is told again.
    assert kinds(project.update(tracker, [project.run("claims", True)])) == [(FAILING, "claims")]
    assert not tracker.acknowledge("nobody")


def test_a_recovery_and_a_new_failure_between_two_polls_are_both_told() -> None:
    project, tracker = Project("hl7"), IncidentTracker()
    project.update(tracker)
    project.update(tracker, [project.run("hl7", True)])
    project.run("hl7", False)
    again = project.run("hl7", True)
    assert kinds(project.update(tracker, [again])) == [(RECOVERED, "hl7"), (FAILING, "hl7")]


def test_an_incident_there_at_start_is_not_told_but_its_end_while_watching_is() -> None:
    """Opened while erx was failing, and left open until it recovered: that is news (quiet)."""
    project, tracker = Project("old"), IncidentTracker()
    project.run("old", True)
    assert project.update(tracker) == []
    project.run("old", False)
    events = project.update(tracker)
    assert kinds(events) == [(RECOVERED, "old")] and not events[0].loud and tracker.open() == {}
    # Its next incident is a new one, told.
    assert kinds(project.update(tracker, [project.run("old", True)])) == [(FAILING, "old")]


def test_an_end_from_before_the_start_found_later_is_not_told() -> None:
    """A look-up after start finds that an incident there at start had ended before it: no news."""
    project, tracker = Project("old"), IncidentTracker()
    project.run("old", True)
    failed_at = project.now
    project.now += timedelta(minutes=5)
    assert project.update(tracker) == [] and tracker.open() == {"old": FAILING}
    project.statuses["old"].runlog.note((failed_at + timedelta(minutes=1), "found"), False, 1.0)
    assert project.update(tracker) == [] and tracker.open() == {}


def test_announce_initial_tells_what_was_there_at_start() -> None:
    project, tracker = Project("old"), IncidentTracker(announce_initial=True)
    project.run("old", True)
    events = project.update(tracker)
    assert kinds(events) == [(FAILING, "old")] and events[0].initial
    project.run("old", False)
    assert kinds(project.update(tracker)) == [(RECOVERED, "old")]


def test_a_deleted_bot_ends_its_incident_silently() -> None:
    project, tracker = Project("gone"), IncidentTracker()
    project.update(tracker)
    project.update(tracker, [project.run("gone", True)])
    del project.statuses["gone"]
    assert project.update(tracker) == [] and tracker.open() == {}


def test_the_events_record_for_json_and_the_alert_command() -> None:
    project, tracker = Project("lab"), IncidentTracker()
    project.update(tracker)
    [event] = project.update(tracker, [project.run("lab", True, text="Error: boom")])
    record = event.record(link="https://app.example/Bot/lab/event", profile="prod")
    assert record["event"] == "failing" and record["bot"] == record["botId"] == "lab"
    assert record["streak"] == 1 and record["kind"] == "crash" and record["summary"] == "Error: boom"
    assert record["signature"] == error_signature("Error: boom").key
    assert (record["link"], record["profile"]) == ("https://app.example/Bot/lab/event", "prod")
    assert record["at"] == record["since"] == "2025-03-14T12:01:00.000Z"


async def test_a_session_tells_incidents_once_against_the_demo() -> None:
    base = NOW + timedelta(hours=1)
    clock = [base]
    with quiet_demo(seed=3, history_days=1) as server:
        store = server.store
        bot_id = str(store.add_bot({"resourceType": "Bot", "name": "payer-sync"})["id"])
        store.add_event(bot_id, outcome="0", desc="ok", at=base)
        session = ProjectSession(
            Connection(MedplumClient(settings_for(server)), "demo"), clock=lambda: clock[0]
        )

        async def poll() -> list[IncidentEvent]:
            await session.poll()
            if session.needs_backfill():
                await session.backfill()
            if session.wants_failures():
                await session.poll_failures()
            return session.incident_events()

        try:
            assert [e for e in await poll() if e.bot_id == bot_id] == []
            for n in range(3):
                store.add_event(
                    bot_id,
                    outcome="4",
                    desc="Error: Request failed with status code 503",
                    at=base + timedelta(seconds=n + 1),
                )
            clock[0] = base + timedelta(seconds=5)
            events = [e for e in await poll() if e.bot_id == bot_id]
            assert kinds(events) == [(FAILING, "payer-sync")]
            assert (events[0].streak, events[0].signature) == (
                3,
                signature_of("Error: Request failed with status code 503"),
            )
            store.add_event(bot_id, outcome="0", desc="ok", at=base + timedelta(seconds=10))
            clock[0] = base + timedelta(seconds=12)
            events = [e for e in await poll() if e.bot_id == bot_id]
            assert kinds(events) == [(RECOVERED, "payer-sync")]
            assert events[0].lasted == timedelta(seconds=9) and events[0].streak == 3
        finally:
            await session.aclose()
