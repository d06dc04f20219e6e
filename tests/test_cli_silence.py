"""Silence is a failure too (issue #17), on the command line, as real processes: ``status``' exit
status and fields for late and quiet bots, ``--ignore-late``, ``[grace]``, ``bots --json`` and
``watch``'s late / quiet / resumed lines.

The demo's stories at ``FIXED_NOW``: ``fax-inbox-poller`` (``*/5 * * * *``) stopped ~40 minutes ago,
``cgm-device-sync`` ran every 10 minutes for days and not in the last ~2 h, the bursty
``questionnaire-scorer`` is neither. The demo tells that time in its ``Date`` header
(``date_from_now``), which is the clock the command line uses.
"""

from __future__ import annotations

import email.utils
import json
import signal
from datetime import datetime
from pathlib import Path
from typing import Any

from cli_support import botmon, server_env
from demo_support import demo_fixture
from test_cli_incidents import Watch

from botmon_tui.demo import DemoServer

demo = demo_fixture(date_from_now=True)
#: One for a test that adds runs.
fresh = demo_fixture(scope="function", date_from_now=True)


def demo_now(demo: DemoServer) -> datetime:
    """The demo's clock (its ``Date`` header's)."""
    date = demo.date_header()
    assert date is not None
    return email.utils.parsedate_to_datetime(date)


def status_json(demo: DemoServer, *argv: str, **env: str) -> tuple[int, dict[str, Any]]:
    done = botmon("status", "--json", *argv, env={**server_env(demo), **env})
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_status_exits_1_for_a_late_or_quiet_bot_and_ignore_late_leaves_them_out(demo: DemoServer) -> None:
    # No failure in the last second: only the silent bots can fail the run.
    done = botmon("status", "--since", "1s", env={**server_env(demo), "COLUMNS": "120"})
    assert done.returncode == 1, done.stderr
    first, header, *rows = done.stdout.splitlines()
    assert first.startswith("✗ 1 late and 1 quiet now: No bot failed in the last 1s (16 bots)")
    assert header.split()[:2] == ["BOT", "STATE"] and "P95" in header
    # Right after the bots failing now, in the attention order: failing, late, quiet.
    states = {row.split()[0]: row for row in rows if row and not row.startswith((" ", "⚠", "'", "↻"))}
    order = list(states)
    assert order.index("fax-inbox-poller") < order.index("cgm-device-sync")
    assert order.index("cgm-device-sync") < order.index("questionnaire-scorer")
    assert " late 3" in states["fax-inbox-poller"] and " quiet 2h" in states["cgm-device-sync"]
    assert " late " not in states["questionnaire-scorer"] and " quiet " not in states["questionnaire-scorer"]
    ignored = botmon("status", "--since", "1s", "--ignore-late", env=server_env(demo))
    assert ignored.returncode == 0, ignored.stderr
    assert "1 late and 1 quiet now (ignored: --ignore-late)" in ignored.stdout.replace("\n  ", " ")
    # The bursty bot alone is fine; the late one alone is not.
    assert (
        botmon("status", "--since", "1s", "--bot", "questionnaire-scorer", env=server_env(demo)).returncode
        == 0
    )
    assert (
        botmon("status", "--since", "1s", "--bot", "fax-inbox-poller", env=server_env(demo)).returncode == 1
    )
    assert botmon("status", "--since", "1s", "--bot", "cgm-device-sync", env=server_env(demo)).returncode == 1


def test_status_json_reports_the_silence_and_the_durations(demo: DemoServer) -> None:
    code, data = status_json(demo, "--since", "1s")
    assert code == 1 and (data["lateNow"], data["quietNow"], data["failed"]) == (1, 1, False)
    bots = {bot["name"]: bot for bot in data["bots"]}
    fax = bots["fax-inbox-poller"]
    assert fax["state"] == "late" and fax["expectedEvery"] == 300 and fax["timeout"] == 60
    # Its last run ~40 min ago at :x0; the next one was due 5 min later: late ~35 min, 7 or 8 missed.
    assert 30 * 60 < fax["lateBy"] < 40 * 60 and fax["missed"] in (7, 8)
    assert fax["nextExpected"] > data["now"]
    assert fax["summary"].startswith("no run since ") and fax["summary"].endswith(" missed")
    cgm = bots["cgm-device-sync"]
    assert cgm["state"] == "quiet" and 540 < cgm["expectedEvery"] < 660 and cgm["missed"] is None
    assert cgm["timeout"] == 10  # unset: the demo's 10 s
    scorer = bots["questionnaire-scorer"]
    assert scorer["state"] not in ("late", "quiet") and scorer["expectedEvery"] is None
    census = bots["hourly-census-snapshot"]
    assert census["state"] == "ok" and census["expectedEvery"] == 3600 and census["lateBy"] is None
    # Durations over the runs read: the census creeps towards its 60 s timeout.
    assert 0 < census["durationP50"] <= census["durationP95"] < 60
    assert bots["sms-opt-out-handler"]["durationP50"] is None  # never ran
    code, data = status_json(demo, "--since", "1s", "--ignore-late")
    assert code == 0 and data["ignoreLate"] is True and data["lateNow"] == 1


def test_a_grace_period_in_the_config_file_moves_late(demo: DemoServer, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[grace]\n"fax-inbox-poller" = "1h"\n')
    env = {"BOTMON_CONFIG_DIR": str(tmp_path)}
    code, data = status_json(demo, "--since", "1s", "--bot", "fax-inbox-poller", **env)
    assert code == 0 and data["bots"][0]["state"] != "late" and data["bots"][0]["lateBy"] is None
    (tmp_path / "config.toml").write_text('[grace]\n"fax-inbox-poller" = "10m"\n')
    code, data = status_json(demo, "--since", "1s", "--bot", "fax-inbox-poller", **env)
    assert code == 1 and data["bots"][0]["state"] == "late"


def test_bots_json_and_the_tables_within_columns(demo: DemoServer) -> None:
    done = botmon("bots", "--json", env=server_env(demo))
    assert done.returncode == 0, done.stderr
    bots = {bot["name"]: bot for bot in json.loads(done.stdout)}
    assert bots["fax-inbox-poller"]["state"] == "late" and bots["fax-inbox-poller"]["missed"] >= 7
    assert bots["cgm-device-sync"]["state"] == "quiet" and bots["cgm-device-sync"]["durationP95"] < 1
    assert bots["cgm-device-sync"]["resourceType"] == "Bot"  # the resource, with botmon-tui's keys
    for columns, wanted in (("200", ("STATE", "P50/P95")), ("100", ("STATE",)), ("80", ())):
        table = botmon("bots", env={**server_env(demo), "COLUMNS": columns})
        lines = table.stdout.splitlines()
        assert max(len(line) for line in lines if not line.startswith(("⚠", " ", "'"))) <= int(columns)
        assert all(word in lines[0] for word in wanted), (columns, lines[0])
    wide = botmon("status", "--since", "1s", env={**server_env(demo), "COLUMNS": "160"}).stdout
    assert "late 3" in wide and ("· 7 missed" in wide or "· 8 missed" in wide)
    assert "quiet 2h 1" in wide and "· usually every 10m" in wide


def test_events_marks_the_runs_near_their_timeout(demo: DemoServer) -> None:
    """``events``' DURATION: ``⏱`` before a run that used 80 % of the bot's timeout (census: 60 s)."""
    done = botmon(
        "events", "hourly-census-snapshot", "--limit", "3", env={**server_env(demo), "COLUMNS": "120"}
    )
    assert done.returncode == 0, done.stderr
    rows = done.stdout.splitlines()[2:5]
    assert ["⏱ 53.9 s" in rows[0], "⏱ 49.6 s" in rows[1], "⏱" in rows[2]] == [True, True, False]


def test_watch_tells_late_quiet_and_their_end(fresh: DemoServer) -> None:
    """``watch --initial``: the silent bots there at start are told (``late``, ``quiet``); a run
    of each ends it (``resumed``, how long it was silent)."""
    demo = fresh
    watch = Watch("--json", "--initial", "--interval", "1", env=server_env(demo))
    try:
        events: dict[tuple[str, str], dict[str, Any]] = {}
        while not {("late", "fax-inbox-poller"), ("quiet", "cgm-device-sync")} <= events.keys():
            event = watch.event()
            events[(event["event"], event["bot"])] = event
        late = events[("late", "fax-inbox-poller")]
        assert late["initial"] and late["since"] < late["at"] and " missed" in late["summary"]
        assert not any(bot == "questionnaire-scorer" for _, bot in events)
        for name in ("fax-inbox-poller", "cgm-device-sync"):
            bot = next(b for b in demo.store.bots if b["name"] == name)
            demo.store.add_event(bot["id"], outcome="0", desc="ok", at=demo_now(demo))
        ended: dict[str, dict[str, Any]] = {}
        while len(ended) < 2:
            event = watch.event()
            if event["event"] == "resumed":
                ended[event["bot"]] = event
        assert ended["fax-inbox-poller"]["summary"].startswith("late for 3")
        assert ended["cgm-device-sync"]["summary"].startswith("quiet for 2h")
        watch.process.send_signal(signal.SIGINT)
        assert watch.process.wait(30) == 130
    finally:
        watch.stop()


def test_watch_lines_say_late_and_quiet(demo: DemoServer) -> None:
    watch = Watch("--initial", "--interval", "1", env={**server_env(demo), "NO_COLOR": "1"})
    try:
        lines = [watch.line() for _ in range(4)]
        late = next(line for line in lines if "fax-inbox-poller" in line)
        quiet = next(line for line in lines if "cgm-device-sync" in line)
        assert "! late " in late and "no run since " in late
        assert "! quiet " in quiet and "usually every 10m" in quiet
    finally:
        watch.stop()
