"""The failure watch (monitor/alerts.py) against the demo backend over real HTTP: what it
announces, once, and what each poll costs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from demo_support import FIXED_NOW, demo_fixture

from botmon_tui.demo import DemoServer
from botmon_tui.formatting import summary_line
from botmon_tui.medplum.client import MedplumClient
from botmon_tui.monitor import alerts as alerts_module
from botmon_tui.monitor.alerts import FailureWatch
from botmon_tui.monitor.summary import ProjectMonitor

demo = demo_fixture(scope="function", seed=5, history_days=2)


def audit_requests(demo: DemoServer, mark: int) -> list[str]:
    return [r.path for r in demo.requests[mark:] if r.path.startswith("/fhir/R4/AuditEvent")]


def bot(demo: DemoServer, name: str) -> str:
    found = demo.store.bot_id(name)
    assert found is not None
    return found


async def test_failures_there_at_start_are_listed_not_announced(
    demo: DemoServer, client: MedplumClient
) -> None:
    watch = FailureWatch(client, window=50)
    mark = len(demo.requests)
    assert await watch.poll() == []
    (path,) = audit_requests(demo, mark)
    assert "outcome=4%2C8%2C12" in path and "type=execute" in path and "_elements" not in path
    assert watch.loaded and len(watch.runs) == 50
    stamps = [r.when for r in watch.runs if r.when is not None]
    assert len(stamps) == 50 and stamps == sorted(stamps, reverse=True)
    assert all(watch.knows(run.id) for run in watch.runs)
    assert all(run.outcome in ("4", "8", "12") and run.bot_id for run in watch.runs)
    # Idle: one small request, nothing to say.
    mark = len(demo.requests)
    assert await watch.poll() == []
    (path,) = audit_requests(demo, mark)
    assert "_lastUpdated=" in path and "_sort=_lastUpdated" in path


async def test_a_burst_is_one_alert_per_bot_each_run_once(demo: DemoServer, client: MedplumClient) -> None:
    watch = FailureWatch(client, window=20)
    await watch.poll()
    lab, hl7 = bot(demo, "lab-results-router"), bot(demo, "hl7-adt-ingest")
    log = (
        "2025-03-14T12:00:01.000Z\nStarting\nTypeError: Cannot read properties of undefined (reading 'id')\n"
    )
    at = FIXED_NOW + timedelta(seconds=1)
    burst = [
        demo.store.add_event(lab, outcome="8", desc=log, at=at + timedelta(milliseconds=n)) for n in range(3)
    ]
    demo.store.add_event(lab, outcome="0", desc="fine", at=at + timedelta(milliseconds=5))
    other = demo.store.add_event(hl7, outcome="4", desc="Error: MSA|AE", at=at + timedelta(milliseconds=9))
    mark = len(demo.requests)
    alerts = await watch.poll()
    assert len(audit_requests(demo, mark)) == 1
    by_bot = {a.bot_id: a for a in alerts}
    assert set(by_bot) == {lab, hl7}
    assert [r.id for r in by_bot[lab].runs] == [e["id"] for e in burst]
    assert by_bot[lab].worst.code == "8" and by_bot[hl7].worst.code == "4"
    assert (
        by_bot[lab].newest.summary
        == summary_line(log)
        == "TypeError: Cannot read properties of undefined (reading 'id')"
    )
    assert by_bot[hl7].newest.id == other["id"] and by_bot[hl7].newest.bot_display == "hl7-adt-ingest"
    assert watch.runs[0].id == other["id"] and len(watch.runs) == 20
    # Never twice, whatever asks again.
    assert await watch.poll() == []
    assert all(watch.knows(e["id"]) for e in [*burst, other])


async def test_the_bot_list_path_asks_only_for_failures_it_does_not_know(
    demo: DemoServer, client: MedplumClient
) -> None:
    """The bot list's own runs query sees new failures without their output; the watch is asked
    (one more request) only for one it has not announced."""
    monitor = ProjectMonitor(client, clock=lambda: FIXED_NOW)
    watch = FailureWatch(client)
    await monitor.load()
    await watch.poll()
    target = bot(demo, "legacy-hl7-bridge")
    event = demo.store.add_event(
        target, outcome="12", desc="FATAL: out of memory", at=FIXED_NOW + timedelta(seconds=2)
    )
    await monitor.poll()
    assert [e.id for e in monitor.new_failures] == [event["id"]] and not watch.knows(event["id"])
    alerts = await watch.poll()
    assert [run.id for a in alerts for run in a.runs] == [event["id"]]
    # The Event tab's path (the watch each poll) met it again: known, not announced again.
    await monitor.poll()
    assert monitor.new_failures == [] and watch.knows(event["id"])


async def test_what_it_remembers_is_bounded(
    demo: DemoServer, client: MedplumClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alerts_module, "MAX_KNOWN", 30)
    watch = FailureWatch(client, window=10)
    await watch.poll()
    names = ["lab-results-router", "hl7-adt-ingest", "legacy-hl7-bridge"]
    for n in range(40):
        demo.store.add_event(
            bot(demo, names[n % 3]), outcome="4", desc=f"run {n}", at=FIXED_NOW + timedelta(seconds=3 + n)
        )
    alerts = await watch.poll()
    assert sum(len(a.runs) for a in alerts) == 40 and len(alerts) == 3
    assert len(watch._known) == 30 and len(watch.runs) == 10


def test_an_alert_speaks_of_its_worst_run() -> None:
    from botmon_tui.monitor.alerts import Alert, FailedRun

    def run(run_id: str, outcome: str) -> FailedRun:
        return FailedRun(run_id, "b", "bot", outcome, f"summary of {run_id}", FIXED_NOW)

    alert = Alert("b", [run("a", "4"), run("b", "8"), run("c", "4"), run("d", "8"), run("e", "4")])
    assert alert.newest.id == "e" and alert.worst_run.id == "d" and alert.worst.code == "8"
