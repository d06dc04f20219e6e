"""``botmon-tui status`` (exit 1 when a bot failed in the window) and ``botmon-tui bots``."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cli_support import flags_for, one_error_line, run
from demo_support import demo_fixture

from botmon_tui.cli.args import MAX_DEPLOY_READS
from botmon_tui.demo import DemoServer
from botmon_tui.monitor.summary import MAX_BACKFILL, MAX_CADENCE_LOOKUPS, MAX_STREAK_LOOKUPS

#: A quiet demo server whose generated history ended long ago (FIXED_NOW): no run is recent until
#: a test adds one, so the window's answer is exact. One per test: tests add bots and runs.
demo = demo_fixture(scope="function", seed=11, history_days=1)


@pytest.fixture
def connect(demo: DemoServer, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return flags_for(demo, monkeypatch)


def now() -> datetime:
    return datetime.now(UTC)


def table(out: str) -> tuple[str, str, list[str]]:
    """status' table: its first line (joined when it wraps), its header and its rows. (The demo's
    generated bots whose last run failed long ago add "N still failing from before" to it.)"""
    lines = out.splitlines()
    header = next(n for n, line in enumerate(lines) if line.startswith("BOT "))
    return " ".join(line.strip() for line in lines[:header]), lines[header], lines[header + 1 :]


def add_bot(demo: DemoServer, name: str, **fields: Any) -> str:
    return str(demo.store.add_bot({"resourceType": "Bot", "name": name, **fields})["id"])


# ------------------------------------------------------------------------------------------------
# status: the exit status
# ------------------------------------------------------------------------------------------------


def test_status_is_0_then_1_after_a_failed_run(
    capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]
) -> None:
    bot_id = add_bot(demo, "nightly-sync")
    demo.store.add_event(bot_id, outcome="0", desc="ok", at=now() - timedelta(seconds=5))
    # (The demo's silent bots, late and quiet, are left out of the exit status: this is about failures.)
    code, out, err = run(capsys, "status", "--since", "30s", "--ignore-late", *connect)
    assert code == 0, err
    assert table(out)[0].startswith(f"✓ No bot failed in the last 30s ({len(demo.store.bots)} bots)")
    demo.store.add_event(bot_id, outcome="4", desc="Error: the upstream said no", at=now())
    code, out, err = run(capsys, "status", "--since", "30s", *connect)
    assert code == 1, err
    first, header, (row, *_) = table(out)
    assert first.startswith(
        f"✗ 1 of {len(demo.store.bots)} bots failed in the last 30s (1 run): 1 failing now"
    )
    assert header.split()[:4] == ["BOT", "STATE", "LAST", "RUN"]
    assert row.startswith("nightly-sync") and "▲ Minor failure" in row
    assert row.split()[1] == "failing"


def test_status_with_a_failure_asked_of_the_demo(
    capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]
) -> None:
    """What the README shows: the demo server's POST /demo/run (demo only) makes a bot fail now."""
    assert run(capsys, "status", "--since", "30s", "--ignore-late", *connect)[0] == 0
    auth = (demo.client_id, demo.client_secret)
    params = {"bot": "lab-results-router", "outcome": "4"}
    answer = httpx.post(demo.base_url + "demo/run", params=params, auth=auth, timeout=10)
    assert answer.status_code == 201
    code, out, _ = run(capsys, "status", "--since", "30s", *connect)
    assert code == 1 and table(out)[2][0].startswith("lab-results-router")


def test_a_bot_that_failed_then_recovered_still_failed_in_the_window(
    capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]
) -> None:
    bot_id = add_bot(demo, "flaky")
    demo.store.add_event(bot_id, outcome="8", desc="boom", at=now() - timedelta(minutes=20))
    demo.store.add_event(bot_id, outcome="0", desc="fine", at=now() - timedelta(minutes=1))
    code, out, _ = run(capsys, "status", "--since", "1h", "--ignore-late", *connect)
    assert code == 1
    row = next(line for line in table(out)[2] if line.startswith("flaky "))
    assert re.search(r"✓ Success\s+1\b", row) and " recovered " in row
    # A failure older than the window does not count.
    assert run(capsys, "status", "--since", "10m", "--ignore-late", *connect)[0] == 0


def test_failing_bots_come_first_in_the_bot_lists_order(
    capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]
) -> None:
    """Failed in the window first: failing now, then late and quiet (silence is a failure too),
    then recovered; within each, the most failures."""
    once, twice, recovered = (
        add_bot(demo, "zz-once"),
        add_bot(demo, "zz-twice"),
        add_bot(demo, "zz-ok-again"),
    )
    demo.store.add_event(twice, outcome="4", at=now() - timedelta(minutes=30))
    demo.store.add_event(twice, outcome="4", at=now() - timedelta(minutes=29))
    demo.store.add_event(once, outcome="12", at=now() - timedelta(minutes=2))
    demo.store.add_event(recovered, outcome="8", at=now() - timedelta(minutes=20))
    demo.store.add_event(recovered, outcome="8", at=now() - timedelta(minutes=19))
    demo.store.add_event(recovered, outcome="8", at=now() - timedelta(minutes=18))
    demo.store.add_event(recovered, outcome="0", at=now() - timedelta(minutes=1))
    code, out, _ = run(capsys, "status", *connect)
    assert code == 1
    first, _, rows = table(out)
    assert first.startswith("✗ 3 of ")
    assert "failed in the last 1h (6 runs): 2 failing now, 1 recovered" in first
    names = [line.split()[0] for line in rows]
    states = [line.split()[1] for line in rows]
    assert names[:2] == ["zz-twice", "zz-once"] and "✖ Major failure" in rows[1]
    # Then the demo's bots failing from before the window, then the late and quiet ones, then
    # the bot that failed in the window and recovered.
    failing = states.index(next(state for state in states if state != "failing"))
    silent = [index for index, state in enumerate(states) if state in ("late", "quiet")]
    assert silent and silent == list(range(failing, failing + len(silent)))
    after = failing + len(silent)
    assert names[after] == "zz-ok-again" and "✓ Success" in rows[after]


def test_status_of_named_bots_only(
    capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]
) -> None:
    failing, quiet = add_bot(demo, "failing-one"), add_bot(demo, "quiet-one")
    demo.store.add_event(failing, outcome="4", at=now())
    demo.store.add_event(quiet, outcome="0", at=now())
    code, out, _ = run(capsys, "status", "--bot", "quiet-one", *connect)
    assert code == 0
    assert out.splitlines()[0] == "✓ No bot failed in the last 1h (1 bot)"
    assert len(out.splitlines()) == 3  # verdict, header, one row
    code, out, _ = run(capsys, "status", "--bot", quiet, "--bot", "failing-one", *connect)
    assert code == 1
    assert out.splitlines()[0] == "✗ 1 of 2 bots failed in the last 1h (1 run): 1 failing now"
    # --bot before the command works too.
    assert run(capsys, "--bot", "failing-one", "status", *connect)[0] == 1


def test_status_unknown_and_ambiguous_bots_are_exit_2(
    capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]
) -> None:
    first, second = add_bot(demo, "twin"), add_bot(demo, "twin")
    code, out, err = run(capsys, "status", "--bot", "twin", *connect)
    assert code == 2 and out == ""
    line = one_error_line(err)
    assert "2 bots are named 'twin'" in line and first in line and second in line
    code, out, err = run(capsys, "status", "--bot", "Twin-Peaks", *connect)
    assert code == 2 and out == ""
    line = one_error_line(err)
    assert "no bot is named 'Twin-Peaks' or has that id" in line
    assert "404" not in line and "Not found" not in line


def test_silent_bots_are_flagged_never_counted(
    capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]
) -> None:
    add_bot(demo, "logs-only", auditEventDestination=["log"])
    add_bot(demo, "muted", auditEventTrigger="never")
    code, out, _ = run(capsys, "status", "--bot", "logs-only", "--bot", "muted", *connect)
    assert code == 0
    rows = out.splitlines()[2:4]
    assert "⚠ log only" in rows[0] and "⚠ never" in rows[1]
    assert "⚠ 2 bots write no AuditEvents" in out


def test_status_requests_do_not_grow_with_the_bots(
    capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]
) -> None:
    """The same project-wide queries as the bot list: a token, the bots, the newest runs, the
    failures of the window; then the history of each bot that failed (for its last deploy), at
    most ``MAX_DEPLOY_READS``, and, when bots are failing, one request per 100 of them for their
    causes and a lookup for each streak longer than the runs read (at most ``MAX_STREAK_LOOKUPS``)."""

    def requests_of_one_status() -> list[str]:
        mark = len(demo.requests)
        run(capsys, "status", *connect)
        # Sorted: the bots and the runs are read side by side, so their order is not fixed.
        return sorted(path.split("?")[0] for _, path, _, _ in demo.requests[mark:])

    before = requests_of_one_status()
    # (The third AuditEvent search: the causes of the demo's bots whose last run failed long ago;
    # then, for silence, the last run of each scheduled bot with none among the newest runs, and
    # the runs of a bot whose cadence those cannot tell: a few, whatever the number of bots.)
    assert [path for path in before if path != "/fhir/R4/AuditEvent"] == ["/fhir/R4/Bot", "/oauth2/token"]
    silence_lookups = len(before) - 5
    assert 0 < silence_lookups <= MAX_BACKFILL + MAX_CADENCE_LOOKUPS
    failing: list[str] = []
    for number in range(60):
        bot_id = add_bot(demo, f"extra-{number:02d}")
        demo.store.add_event(bot_id, outcome="4" if number % 3 == 0 else "0", at=now())
        if number % 3 == 0:
            failing.append(bot_id)
    histories = sorted(f"/fhir/R4/Bot/{bot_id}/_history" for bot_id in failing)
    after = requests_of_one_status()
    # The histories of the 20 that failed; their causes in the same request as the others'; and
    # their streaks (a failed run, and older runs beyond the newest 1,000 read): a lookup each.
    assert sorted(set(after) - set(before)) == histories
    assert len(after) == len(before) + len(failing) + MAX_STREAK_LOOKUPS
    # More failing bots: still at most MAX_DEPLOY_READS histories and MAX_STREAK_LOOKUPS lookups,
    # and one request per 100 causes.
    for number in range(90):
        demo.store.add_event(add_bot(demo, f"more-{number:02d}"), outcome="4", at=now())
    assert len(requests_of_one_status()) == len(before) + MAX_DEPLOY_READS + MAX_STREAK_LOOKUPS + 1


def test_status_json(capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]) -> None:
    bot_id = add_bot(demo, "json-bot")
    event = demo.store.add_event(bot_id, outcome="4", at=now())
    code, out, _ = run(capsys, "status", "--json", "--since", "2h", *connect)
    assert code == 1
    data = json.loads(out)
    assert data["window"] == "2h" and data["failed"] is True
    assert (data["failedBots"], data["failedRuns"]) == (1, 1)
    assert datetime.fromisoformat(data["now"]) - datetime.fromisoformat(data["since"]) == timedelta(hours=2)
    entry = data["bots"][0]
    assert entry["id"] == bot_id and entry["name"] == "json-bot" and entry["failures"] == 1
    assert (entry["lastOutcome"], entry["lastOutcomeText"]) == ("4", "Minor failure")
    assert entry["lastEventId"] == event["id"] and entry["lastRun"] == event["meta"]["lastUpdated"]
    assert entry["writesAuditEvents"] is True and entry["auditWarning"] is None
    assert len(data["bots"]) == len(demo.store.bots)


def test_status_csv(capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]) -> None:
    bot_id = add_bot(demo, 'quote "and", comma')
    add_bot(demo, "silent", auditEventDestination=["log"])
    demo.store.add_event(bot_id, outcome="8", at=now())
    code, out, _ = run(capsys, "status", "--csv", *connect)
    assert code == 1
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert len(rows) == len(demo.store.bots)
    first = rows[0]
    assert first["name"] == 'quote "and", comma' and first["id"] == bot_id
    assert (first["failures"], first["lastOutcome"], first["writesAuditEvents"]) == ("1", "8", "true")
    silent = next(row for row in rows if row["name"] == "silent")
    assert (silent["writesAuditEvents"], silent["auditWarning"], silent["lastRun"]) == (
        "false",
        "log-only",
        "",
    )


# ------------------------------------------------------------------------------------------------
# bots
# ------------------------------------------------------------------------------------------------


def test_bots_table_shows_how_each_bot_is_doing(
    capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]
) -> None:
    add_bot(demo, "logs-only", auditEventDestination=["log"])
    busy = add_bot(demo, "busy")
    for minutes in (90, 60, 30):
        demo.store.add_event(busy, outcome="4", at=now() - timedelta(minutes=minutes))
    demo.store.add_event(busy, outcome="0", at=now() - timedelta(minutes=3, seconds=30))
    demo.store.add_event(busy, outcome="4", at=now() - timedelta(hours=30))  # older than 24 h
    code, out, err = run(capsys, "bots", *connect)
    assert code == 0, err
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "LAST", "RUN", "LAST", "OUTCOME", "FAILS", "24H", "AUDIT"]
    table = rows[: len(demo.store.bots)]
    assert rows[len(table)] == f"{len(table)} bots"
    busy_row = next(row for row in table if row.startswith("busy "))
    assert busy_row.split()[1:6] == ["3m", "ago", "✓", "Success", "3"]
    silent = next(row for row in table if row.startswith("logs-only"))
    assert "⚠ log only" in silent and "—" in silent
    quiet = [
        b
        for b in demo.store.bots
        if b.get("auditEventDestination") == ["log"] or b.get("auditEventTrigger") == "never"
    ]
    assert f"⚠ {len(quiet)} bots write no AuditEvents" in out


def test_bots_json_is_the_resources_as_sent(
    capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]
) -> None:
    """The Bot resources as sent, each with the keys botmon-tui adds (issue #17): its state, its
    silence and its durations, read from the project's runs as ``status`` reads them."""
    mark = len(demo.requests)
    code, out, _ = run(capsys, "bots", "--json", *connect)
    assert code == 0
    bots = json.loads(out)
    added = ("state", "missed", "lateBy", "nextExpected", "expectedEvery", "durationP50", "durationP95")
    assert {b["id"] for b in bots} == {b["id"] for b in demo.store.bots}
    sent = {b["id"]: b for b in demo.store.bots}
    for bot in bots:
        assert {k: v for k, v in bot.items() if k not in (*added, "timeout")} == {
            k: v for k, v in sent[bot["id"]].items() if k != "timeout"
        }
        assert set(added) <= bot.keys() and bot["timeout"] == sent[bot["id"]].get("timeout", 10.0)
    fax = next(b for b in bots if b["name"] == "fax-inbox-poller")
    assert fax["state"] == "late" and fax["missed"] >= 1 and fax["expectedEvery"] == 300
    # The bot list (once: the monitor loads from the page the command read), then the project-wide
    # queries and the silence lookups: none per bot otherwise.
    paths = [p.split("?")[0] for _, p, _, _ in demo.requests[mark:]]
    assert paths[:2] == ["/oauth2/token", "/fhir/R4/Bot"] and paths.count("/fhir/R4/Bot") == 1
    assert len(paths) <= 5 + MAX_BACKFILL + MAX_CADENCE_LOOKUPS


def test_bots_csv(capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]) -> None:
    bot_id = add_bot(demo, "cron-bot", cronString="*/5 * * * *", runtimeVersion="vmcontext")
    demo.store.add_event(bot_id, outcome="4", at=now())
    code, out, _ = run(capsys, "bots", "--csv", *connect)
    assert code == 0
    assert out.startswith("id,name,lastRun,lastOutcome,") and "\r\n" in out
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(out, newline=""))}
    assert set(rows) == {b["id"] for b in demo.store.bots}
    row = rows[bot_id]
    assert (row["failures24h"], row["lastOutcome"], row["schedule"]) == ("1", "4", "*/5 * * * *")
    assert (row["runtimeVersion"], row["auditEventDestination"], row["auditEventTrigger"]) == (
        "vmcontext",
        "resource",
        "always",
    )


# ------------------------------------------------------------------------------------------------
# one-shot commands: no automatic full garbage collection while they run
# ------------------------------------------------------------------------------------------------


def test_one_shot_commands_run_without_full_collections_and_restore_them(
    capsys: pytest.CaptureFixture[str],
    demo: DemoServer,
    connect: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gc

    from botmon_tui.cli import bots, events, status
    from botmon_tui.ui.gcpolicy import NEVER

    seen: dict[str, tuple[int, int, int]] = {}

    def recording(name: str, real: Any) -> Any:
        def wrapper(*args: Any) -> Any:
            seen[name] = gc.get_threshold()
            return real(*args)

        return wrapper

    before = gc.get_threshold()
    for module in (status, bots):
        monkeypatch.setattr(module, "run", recording(module.__name__, module.run))
    monkeypatch.setattr(events, "run", recording("events", lambda *args: 0))
    bot_id = add_bot(demo, "nightly-sync")
    demo.store.add_event(bot_id, outcome="4", desc="Error: boom", at=now())

    assert run(capsys, "status", *connect)[0] == 1  # the real command, its real answer
    assert run(capsys, "bots", *connect)[0] == 0
    assert run(capsys, "events", "nightly-sync", *connect)[0] == 0
    assert seen == {
        "botmon_tui.cli.status": (before[0], before[1], NEVER),
        "botmon_tui.cli.bots": (before[0], before[1], NEVER),
        "events": (before[0], before[1], NEVER),
    }
    assert gc.get_threshold() == before

    seen.clear()  # --follow runs for days: the interpreter's own policy
    assert run(capsys, "events", "nightly-sync", "--follow", *connect)[0] == 0
    assert seen == {"events": before}
