"""``botmon-tui events BOT``: names, honest counts, CSV, and ``--follow``."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cli_support import REPO, flags_for, interrupted, one_error_line, process_env, run
from demo_support import FIXED_NOW, demo_fixture

import botmon_tui.cli.events
from botmon_tui.demo import DemoServer
from botmon_tui.formatting import summary_line

HOSTILE = "\x1b]52;c;ZXZpbA==\x07\x1b[2J[@click=app.quit]pwned[/] \x9b31m done"


#: A quiet demo server (no live runs; its history ends at FIXED_NOW) for exact assertions.
demo = demo_fixture(seed=5, history_days=2)


@pytest.fixture
def connect(demo: DemoServer, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return flags_for(demo, monkeypatch)


def new_bot(demo: DemoServer, name: str, **fields: Any) -> str:
    return str(demo.store.add_bot({"resourceType": "Bot", "name": name, **fields})["id"])


def busiest(demo: DemoServer) -> dict[str, Any]:
    return max(demo.store.bots, key=lambda b: len(demo.store.events_for(b["id"])))


# ------------------------------------------------------------------------------------------------
# The list
# ------------------------------------------------------------------------------------------------


def test_events_limit_follows_pages(
    capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]
) -> None:
    bot = busiest(demo)
    expected = [e["id"] for e in demo.store.events_for(bot["id"])]
    assert len(expected) > 30
    code, out, err = run(capsys, "events", bot["id"], *connect, "--json", "--limit", str(len(expected) + 10))
    assert code == 0, err
    assert [e["id"] for e in json.loads(out)] == expected
    code, out, _ = run(capsys, "events", bot["id"], *connect, "--json", "--limit", "7")
    assert [e["id"] for e in json.loads(out)] == expected[:7]


def test_events_failures(capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]) -> None:
    bot_id = new_bot(demo, "flaky")
    for index, outcome in enumerate(["0", "4", "8", "0", "12"]):
        demo.store.add_event(bot_id, outcome=outcome, at=FIXED_NOW - timedelta(minutes=10 - index))
    code, out, err = run(capsys, "events", bot_id, *connect, "--json", "--failures")
    assert code == 0, err
    assert [e["outcome"] for e in json.loads(out)] == ["12", "8", "4"]


def test_events_since(capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]) -> None:
    bot_id = new_bot(demo, "recent")
    now = datetime.now(UTC)
    for minutes in (5, 50, 70, 600):
        demo.store.add_event(bot_id, desc=f"{minutes} min ago", at=now - timedelta(minutes=minutes))
    code, out, err = run(capsys, "events", bot_id, *connect, "--json", "--since", "1h")
    assert code == 0, err
    assert [e["outcomeDesc"] for e in json.loads(out)] == ["5 min ago", "50 min ago"]
    code, out, _ = run(capsys, "events", bot_id, *connect, "--json", "--since", "2d")
    assert len(json.loads(out)) == 4


def test_events_table_is_readable_and_sanitized(
    capsys: pytest.CaptureFixture[str],
    demo: DemoServer,
    connect: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    bot_id = new_bot(demo, "evil\x1b]0;t\x07bot")
    at = datetime.now(UTC) - timedelta(minutes=3, seconds=30)  # "3m ago", whatever the clocks' rounding
    log = f"2025-03-14T09:26:54Z starting\n{HOSTILE}\nError: second line"
    first = demo.store.add_event(bot_id, outcome="4", desc=log, at=at, duration_ms=1500)
    demo.store.add_event(bot_id, outcome="99", desc="", at=at - timedelta(minutes=1))
    code, out, err = run(capsys, "events", bot_id, *connect)
    assert code == 0, err
    assert "\x1b" not in out and "\x9b" not in out and "\x07" not in out
    lines = out.splitlines()
    assert lines[0] == f"evil␛]0;t␇bot ({bot_id}): 2 events, newest first"
    assert lines[1].split() == ["ID", "OUTCOME", "LAST", "UPDATED", "(UTC)", "AGE", "DURATION", "SUMMARY"]
    assert lines[2].startswith(f"{first['id']}  ▲ Minor failure (4)  {first['meta']['lastUpdated']}  3m ago")
    assert "1.5 s" in lines[2]
    assert lines[2].endswith("Error: second line")  # the line that says what went wrong, not the timestamp
    assert "? 99" in lines[3]


def test_a_stamp_shows_in_utc(
    capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]
) -> None:
    bot_id = new_bot(demo, "stamp")
    demo.store.add_event(bot_id, at=datetime(2025, 3, 14, 9, 26, 54, 120000, tzinfo=UTC))
    _, out, _ = run(capsys, "events", bot_id, *connect, "--csv")
    assert "2025-03-14T09:26:54.120Z" in out


def test_no_events_says_why(capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]) -> None:
    new_bot(demo, "never-ran")
    code, out, _ = run(capsys, "events", "never-ran", *connect)
    assert code == 0
    assert out.startswith("never-ran") and "No runs yet: this bot has no AuditEvents" in out
    new_bot(demo, "logging-only", auditEventDestination=["log"])
    code, out, err = run(capsys, "events", "logging-only", *connect)
    assert code == 0 and "its runs go only to the server logs" in out
    assert "botmon-tui: warning: bot 'logging-only': This bot writes no AuditEvents" in err
    code, out, _ = run(capsys, "events", "never-ran", "--failures", "--since", "1h", *connect)
    assert out.splitlines() == [out.splitlines()[0]] and out.rstrip().endswith(
        "no failed runs in the last 1h"
    )


# ------------------------------------------------------------------------------------------------
# Honest counts
# ------------------------------------------------------------------------------------------------


def test_a_capped_list_says_more_exist(
    capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]
) -> None:
    bot_id = new_bot(demo, "chatty")
    now = datetime.now(UTC)
    for minutes in range(1, 31):
        demo.store.add_event(bot_id, at=now - timedelta(minutes=minutes))
    code, out, err = run(capsys, "events", "chatty", "--since", "2d", "--limit", "20", *connect)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].endswith(": the newest 20 events in the last 2d, newest first")
    assert "20 events in the last 2d, newest" not in lines[0].replace("newest 20", "")
    assert len(lines) == 1 + 1 + 20 + 1
    assert lines[-1] == "More match in the last 2d: these are the newest 20 (--limit 200 shows more)"
    # --json and --csv keep stdout clean: the note goes to stderr.
    code, out, err = run(capsys, "events", "chatty", "--json", "--limit", "20", *connect)
    assert len(json.loads(out)) == 20
    assert "More match: these are the newest 20" in err
    # Exactly as many as the limit: nothing more to say (one request asked for limit + 1).
    mark = len(demo.requests)
    code, out, err = run(capsys, "events", "chatty", "--limit", "30", *connect)
    assert out.splitlines()[0].endswith(": 30 events, newest first") and "More" not in out + err
    searches = [p for _, p, _, _ in demo.requests[mark:] if p.startswith("/fhir/R4/AuditEvent")]
    assert len(searches) == 1 and "_count=31" in searches[0] and "_total" not in searches[0]


def test_one_event_is_singular(
    capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]
) -> None:
    bot_id = new_bot(demo, "once")
    demo.store.add_event(bot_id, outcome="4", at=datetime.now(UTC))
    _, out, _ = run(capsys, "events", "once", *connect)
    assert out.splitlines()[0].endswith(": 1 event, newest first")
    _, out, _ = run(capsys, "events", "once", "--failures", "--since", "1h", *connect)
    assert out.splitlines()[0].endswith(": 1 failed run in the last 1h, newest first")


# ------------------------------------------------------------------------------------------------
# Bots by name
# ------------------------------------------------------------------------------------------------


def test_a_bot_by_its_exact_name(
    capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]
) -> None:
    """Medplum's name search is a prefix match: ``resource`` must not pick ``resource-bot``."""
    exact, longer = new_bot(demo, "resource"), new_bot(demo, "resource-bot")
    demo.store.add_event(exact, desc="exact one", at=FIXED_NOW)
    demo.store.add_event(longer, desc="longer one", at=FIXED_NOW)
    for name, expected in (
        ("resource", "exact one"),
        ("resource-bot", "longer one"),
        (f"Bot/{exact}", "exact one"),
    ):
        code, out, err = run(capsys, "events", name, "--json", *connect)
        assert code == 0, err
        assert [e["outcomeDesc"] for e in json.loads(out)] == [expected]


def test_an_ambiguous_name_lists_the_bots(
    capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]
) -> None:
    ids = [new_bot(demo, "same name") for _ in range(2)]
    code, out, err = run(capsys, "events", "same name", *connect)
    assert code == 2 and out == ""
    line = one_error_line(err)
    assert "2 bots are named 'same name'" in line and all(bot_id in line for bot_id in ids)
    assert "give the id instead" in line
    assert run(capsys, "events", ids[1], "--json", *connect)[0] == 0


@pytest.mark.parametrize(
    "text", ["no-such-bot", "00000000-0000-4000-8000-000000000000", "Bot/nothing", "a b c"]
)
def test_an_unknown_bot_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], connect: list[str], text: str
) -> None:
    code, out, err = run(capsys, "events", text, *connect)
    assert code == 2 and out == ""
    line = one_error_line(err)
    assert f"no bot is named {text!r} or has that id" in line and "botmon-tui bots" in line
    assert "404" not in line and "Not found" not in line


def test_an_unknown_name_suggests_close_ones(
    capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]
) -> None:
    bot_id = new_bot(demo, "Billing-Export")
    code, _, err = run(capsys, "events", "billing-export", *connect)
    assert code == 2
    assert f"did you mean Billing-Export ({bot_id})?" in one_error_line(err)


# ------------------------------------------------------------------------------------------------
# CSV
# ------------------------------------------------------------------------------------------------


def test_csv_round_trip(capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]) -> None:
    """RFC 4180 with a header row; the real text (quotes, commas, newlines, escapes) when not on a
    terminal: a consumer gets the console output exactly as the bot wrote it."""
    bot_id = new_bot(demo, "csv-bot")
    desc = f'line 1, "quoted"\r\nERROR: it broke\n{HOSTILE}\n=SUM(A1:A2)'
    at = datetime(2025, 3, 14, 9, 26, 54, 120000, tzinfo=UTC)
    failed = demo.store.add_event(bot_id, outcome="8", desc=desc, at=at, duration_ms=1234)
    demo.store.add_event(bot_id, outcome="0", desc="", at=at - timedelta(minutes=1))
    code, out, err = run(capsys, "events", "csv-bot", "--csv", *connect)
    assert code == 0, err
    assert out.startswith("id,outcome,outcomeText,lastUpdated,durationSeconds,summary,outcomeDesc\r\n")
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert len(rows) == 2
    assert rows[0] == {
        "id": failed["id"],
        "outcome": "8",
        "outcomeText": "Serious Failure",
        "lastUpdated": "2025-03-14T09:26:54.120Z",
        "durationSeconds": "1.234",
        "summary": "ERROR: it broke",
        "outcomeDesc": desc,
    }
    assert (rows[1]["outcome"], rows[1]["outcomeText"], rows[1]["summary"], rows[1]["outcomeDesc"]) == (
        "0",
        "Success",
        "",
        "",
    )
    assert summary_line(desc) == "ERROR: it broke"


# ------------------------------------------------------------------------------------------------
# --follow
# ------------------------------------------------------------------------------------------------


Follow = Callable[..., tuple[int, str, str]]


@pytest.fixture
def follow(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Follow:
    """``follow(driver, *argv)``: ``botmon-tui events ARGV --follow`` with ``driver`` as its wait
    between polls; (exit status, stdout, stderr)."""

    def run_follow(driver: Driver, *argv: str) -> tuple[int, str, str]:
        monkeypatch.setattr(botmon_tui.cli.events, "SLEEP", driver)
        return run(capsys, "events", *argv, "--follow")

    return run_follow


class Driver:
    """Stands in for ``--follow``'s wait between polls: each wait runs the next step (add a run,
    queue a fault...), and the last one is Ctrl-C. No timer is waited on."""

    def __init__(self, *steps: Any) -> None:
        self.steps = list(steps)
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if not self.steps:
            raise KeyboardInterrupt
        self.steps.pop(0)()


def test_follow_prints_new_runs_as_they_happen(
    demo: DemoServer, connect: list[str], follow: Follow, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot_id = new_bot(demo, "follow-me")
    now = datetime.now(UTC)
    old = [demo.store.add_event(bot_id, desc=f"old {n}", at=now - timedelta(minutes=n)) for n in (3, 2, 1)]
    added: list[dict[str, Any]] = []
    driver = Driver(
        lambda: added.append(demo.store.add_event(bot_id, outcome="4", desc="Error: new one")),
        lambda: None,  # an idle poll
        lambda: added.append(demo.store.add_event(bot_id, outcome="0", desc="fine again")),
    )
    monkeypatch.setenv("COLUMNS", "200")
    code, out, err = follow(driver, "follow-me", "--limit", "2", "--interval", "7", *connect)
    assert code == 130 and "Traceback" not in err and err == ""
    assert driver.delays == [7.0, 7.0, 7.0, 7.0]
    lines = out.splitlines()
    assert lines[0] == f"follow-me ({bot_id}): following new runs every 7 s (Ctrl-C to stop)"
    assert lines[1].split() == ["ID", "OUTCOME", "LAST", "UPDATED", "(UTC)", "DURATION", "SUMMARY"]
    body = lines[2:]
    # The newest 2 oldest first, then each new run once, in order.
    expected = [old[1]["id"], old[2]["id"], added[0]["id"], added[1]["id"]]
    assert [line.split()[0] for line in body] == expected
    assert "▲ Minor failure" in body[2] and "Error: new one" in body[2] and "fine again" in body[3]


def test_follow_json_is_ndjson_and_goes_on_through_errors(
    demo: DemoServer, connect: list[str], follow: Follow
) -> None:
    bot_id = new_bot(demo, "ndjson")
    added: list[dict[str, Any]] = []

    def outage() -> None:
        demo.faults.add(status=503, count=2, path_contains="AuditEvent")
        added.append(demo.store.add_event(bot_id, outcome="4", desc="during the outage"))

    driver = Driver(outage, lambda: None, lambda: None)
    code, out, err = follow(driver, "ndjson", "--json", "--failures", *connect)
    assert code == 130
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["id"] for e in events] == [added[0]["id"]]  # nothing before, the new failure once
    notes = err.strip().splitlines()
    assert len(notes) == 3, err
    assert all("HTTP 503" in note and "trying again in" in note for note in notes[:2])
    assert notes[2] == "botmon-tui: the server answers again; following"
    # The same backoff as the TUI (PollSchedule): the delays grow after each failure, then the interval.
    assert driver.delays[0] == 10.0 and driver.delays[1] < driver.delays[2] and driver.delays[-1] == 10.0


def test_follow_csv_has_one_header(demo: DemoServer, connect: list[str], follow: Follow) -> None:
    bot_id = new_bot(demo, "csv-follow")
    demo.store.add_event(bot_id, desc="before", at=datetime.now(UTC) - timedelta(minutes=1))
    driver = Driver(lambda: demo.store.add_event(bot_id, desc="after"))
    code, out, _ = follow(driver, "csv-follow", "--csv", *connect)
    assert code == 130
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert [row["outcomeDesc"] for row in rows] == ["before", "after"]


def test_follow_ends_when_the_reader_of_its_pipe_goes_away() -> None:
    """``events -f | head -3``: once head has its lines and exits, --follow ends (status 0, nothing
    on stderr), as ``tail -f`` does, not at its next write (an interval of 10 minutes here)."""
    argv = ("events", "lab-results-router", "--demo", "-f", "--limit", "3", "--interval", "600")
    process = subprocess.Popen(
        [sys.executable, "-m", "botmon_tui", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=process_env(),
        cwd=REPO,
    )
    try:
        assert process.stdout is not None
        first = [process.stdout.readline() for _ in range(5)]  # the heading, the header, 3 runs
        assert b"following new runs every 600 s" in first[0], first
        process.stdout.close()  # the reader goes away, as head does
        code = process.wait(timeout=60)
        assert process.stderr is not None
        err = process.stderr.read().decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert (code, err) == (0, "")


def test_follow_ends_with_130_on_sigint() -> None:
    """A real process, a real SIGINT: status 130, no traceback, what was printed stays."""
    # The heading, the table's header and three runs, printed (and flushed) before any wait.
    argv = ("events", "lab-results-router", "--demo", "-f", "--limit", "3")
    lines, code, out, err = interrupted(*argv, lines=5)
    assert "following new runs every 10 s" in lines[0], lines
    assert code == 130, err
    assert err == ""
    assert lines[1].startswith("ID ") and all(line.strip() for line in lines[2:]) and out == ""
