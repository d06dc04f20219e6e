"""Alerts per incident in the TUI (issue #16 §4 and §5): one toast and one bell when a bot starts
failing, silence while the same incident goes on, a quiet toast on recovery, ``a`` acknowledges,
the failing-now summary on every screen, new rows that stay in sight, and ``--on-alert`` from the
TUI. Pilot at 80x24 and 120x40 against the demo backend over real HTTP; the clock is injected."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from demo_support import FIXED_NOW, demo_fixture, quiet_demo
from textual.pilot import Pilot
from ui_support import APP_BASE, bot_id, make_multi_app, running, screen_lines, settle, status

from botmon_tui.demo import DemoServer
from botmon_tui.monitor.session import Connection
from botmon_tui.onalert import AlertCommand
from botmon_tui.ui.app import AppOptions, BotmonApp
from botmon_tui.ui.screens.bot_list import BotListScreen
from botmon_tui.ui.screens.events import EventScreen
from botmon_tui.ui.screens.failures import FailuresScreen
from botmon_tui.ui.screens.help import HelpScreen
from botmon_tui.ui.widgets.bot_table import BotTable
from botmon_tui.ui.widgets.event_table import EventTable
from botmon_tui.ui.widgets.incidents import IncidentSummary
from botmon_tui.ui.widgets.status_line import StatusLine

SIZES = [(80, 24), (120, 40)]
#: A bot whose last run went well in the demo (no incident at start).
CALM = "daily-claims-export"
CRASH = "Unhandled error: TypeError: Cannot read properties of undefined (reading 'code')"
OTHER_CRASH = "Error: status code 503 for Patient/a1b2c3"

srv = demo_fixture(scope="function")


class Clock:
    """The app's "now", moved by the test."""

    def __init__(self) -> None:
        self.now = FIXED_NOW

    def __call__(self) -> datetime:
        return self.now


class Seen:
    """What the app announced: its toasts (title, message, severity) and its bells."""

    def __init__(self, app: BotmonApp) -> None:
        self.toasts: list[tuple[str, str, str]] = []
        self.bells = 0
        notify = app.notify

        def record(message: str, **options: Any) -> None:
            self.toasts.append((str(options.get("title", "")), str(message), str(options.get("severity"))))
            notify(message, **options)

        def bell() -> None:
            self.bells += 1

        app.notify = record  # type: ignore[method-assign]
        app.bell = bell  # type: ignore[method-assign]

    def titles(self) -> list[str]:
        return [title for title, _, _ in self.toasts]


async def run_once(
    app: BotmonApp, pilot: Pilot[Any], clock: Clock, srv: DemoServer, *runs: tuple[str, str]
) -> None:
    """One poll after ``runs`` (outcome, desc) of the calm bot, a second apart, the clock after them."""
    target = bot_id(srv, CALM)
    for outcome, desc in runs:
        clock.now += timedelta(seconds=1)
        srv.store.add_event(target, outcome=outcome, desc=desc, at=clock.now)
    clock.now += timedelta(seconds=1)
    app.poll_now()
    await settle(pilot)


def summary(app: BotmonApp) -> str:
    return app.screen.query_one(IncidentSummary).plain


@pytest.mark.parametrize("size", SIZES)
async def test_one_bell_for_a_three_failure_incident_and_a_quiet_recovery(
    srv: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    clock = Clock()
    async with running(srv, tmp_path, size, notifications=True, clock=clock) as (app, pilot):
        seen = Seen(app)
        before = summary(app)
        assert before.startswith("! ") and "failing" in before  # (the demo's failing bots)
        failing = app.sessions[0].project.statuses
        count = sum(1 for s in failing.values() if s.incident.state == "failing")
        await run_once(app, pilot, clock, srv, ("8", CRASH))
        assert seen.titles() == [f"{CALM} is failing"] and seen.bells == 1
        _, message, severity = seen.toasts[0]
        assert severity == "error" and message.split("\n") == [
            "1 failed run since 12:00 (1s ago) · crash",
            "Unhandled error: TypeError: Cannot read properties of undefined (reading 'code')",
        ]
        assert summary(app).startswith(f"! {count + 1} failing")
        # Two more failures of the same incident, in two polls: counted, not announced.
        await run_once(app, pilot, clock, srv, ("8", CRASH))
        await run_once(app, pilot, clock, srv, ("8", CRASH))
        assert len(seen.toasts) == 1 and seen.bells == 1
        incident = app.sessions[0].project.statuses[bot_id(srv, CALM)].incident
        assert incident.streak is not None and incident.streak.runs == 3
        # It recovers: a quiet toast naming the bot, how long and how many runs; no bell.
        await run_once(app, pilot, clock, srv, ("0", "ok"))
        assert seen.titles()[1:] == [f"{CALM} recovered"] and seen.bells == 1
        _, message, severity = seen.toasts[1]
        assert message == "failed for 6.0 s, 3 failed runs" and severity == "information"
        assert summary(app).startswith(f"! {count} failing")
        # (At 80 columns the summary says what fails now only; wider, what recovered too.)
        assert ("recovered" in summary(app)) == (size[0] >= 100)
        # The bot list's mark went with the incident.
        assert bot_id(srv, CALM) not in app.sessions[0].unseen


@pytest.mark.parametrize(("size", "where"), [((80, 24), "bot list"), ((120, 40), "event tab")])
async def test_a_acknowledges_until_it_recovers(
    srv: DemoServer, tmp_path: Path, size: tuple[int, int], where: str
) -> None:
    clock = Clock()
    target = bot_id(srv, CALM)
    realert = timedelta(seconds=30)  # (short: the demo's scheduled bots are not late yet)
    async with running(srv, tmp_path, size, notifications=True, clock=clock, realert=realert) as (app, pilot):
        seen = Seen(app)
        await run_once(app, pilot, clock, srv, ("8", CRASH))
        assert seen.bells == 1 and target in app.sessions[0].unseen
        if where == "bot list":
            table = app.screen.query_one(BotTable)
            assert table.select_id(target)
        else:
            app.open_bot(target)
            await settle(pilot)
            assert isinstance(app.screen, EventScreen)
        # The key is in the help and the command palette (from its binding).
        rows = [row for _, section in app.help_sections() for row in section]
        assert (
            "a",
            "Acknowledge this bot's incident: no more toasts or bells for it until it recovers",
        ) in rows or (
            "a",
            "Acknowledge the selected bot's incident: no more toasts or bells for it until it recovers",
        ) in rows
        await pilot.press("a")
        await settle(pilot)
        assert seen.titles()[-1] == f"{CALM}: acknowledged" and seen.bells == 1
        assert app.sessions[0].acknowledged(target) and target not in app.sessions[0].unseen
        assert summary(app).endswith("· 1 acked")
        # Again: nothing more to acknowledge.
        await pilot.press("a")
        assert seen.toasts[-1][1] == f"{CALM}: already acknowledged"
        toasts = len(seen.toasts)
        # A new signature, then a failure after the re-alert interval: silent.
        await run_once(app, pilot, clock, srv, ("8", OTHER_CRASH))
        clock.now += realert
        await run_once(app, pilot, clock, srv, ("8", OTHER_CRASH))
        assert len(seen.toasts) == toasts and seen.bells == 1
        # Its recovery is told (quietly), and the next failure is a new incident: loud again.
        await run_once(app, pilot, clock, srv, ("0", "ok"))
        assert seen.titles()[-1] == f"{CALM} recovered" and seen.bells == 1
        assert "acked" not in summary(app)
        await run_once(app, pilot, clock, srv, ("8", CRASH))
        assert seen.titles()[-1] == f"{CALM} is failing" and seen.bells == 2


async def test_an_incident_that_goes_on_is_told_again_after_realert(srv: DemoServer, tmp_path: Path) -> None:
    clock = Clock()
    realert = timedelta(seconds=30)  # (short: the demo's scheduled bots are not late yet)
    async with running(srv, tmp_path, notifications=True, clock=clock, realert=realert) as (app, pilot):
        seen = Seen(app)
        await run_once(app, pilot, clock, srv, ("8", CRASH))
        clock.now += timedelta(seconds=10)
        await run_once(app, pilot, clock, srv, ("8", CRASH))
        assert seen.bells == 1 and len(seen.toasts) == 1
        clock.now += realert
        await run_once(app, pilot, clock, srv, ("8", CRASH), ("8", CRASH))
        assert seen.titles() == [f"{CALM} is failing", f"{CALM} is still failing"] and seen.bells == 2
        assert seen.toasts[1][1].startswith("4 failed runs since 12:00 (46s ago) · 3 more · crash\n")
        # A new cause is told at once (the re-alert waits only for the same one).
        await run_once(app, pilot, clock, srv, ("8", OTHER_CRASH))
        assert seen.titles()[-1] == f"{CALM} failed with a new error" and seen.bells == 3


@pytest.mark.parametrize("size", SIZES)
async def test_the_failing_now_summary_is_on_every_screen_on_one_line(
    srv: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    async with running(srv, tmp_path, size) as (app, pilot):
        expected = app.incident_summary
        assert expected is not None and expected.plain.startswith("! ")
        assert "failing" in expected.plain and "flaky" in expected.plain

        def on_this_screen() -> None:
            line = app.screen.query_one(StatusLine)
            widget = app.screen.query_one(IncidentSummary)
            assert widget.plain == expected.plain
            # One row: the summary at the right end of the status line, whole, nothing wrapped.
            assert line.region.height == 1 and widget.region.height == 1
            assert widget.region.y == line.region.y and widget.region.right == size[0]
            assert widget.region.width == len(expected.plain) + 2

        assert isinstance(app.screen, BotListScreen)
        on_this_screen()
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        # The help covers the status row: its title says it.
        assert any(f"Keys · {expected.plain}" in line for line in screen_lines(app))
        await pilot.press("escape")
        app.open_bot(bot_id(srv, "lab-results-router"))
        await settle(pilot)
        assert isinstance(app.screen, EventScreen)
        on_this_screen()
        await pilot.press("F")
        await settle(pilot)
        assert isinstance(app.screen, FailuresScreen)
        on_this_screen()


@asynccontextmanager
async def busy_event_tab(
    srv: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> AsyncIterator[tuple[BotmonApp, Pilot[Any], EventTable, Callable[[int], Awaitable[list[str]]]]]:
    """A bot's Event tab, and what makes ``count`` new runs of it arrive (a poll after them): their
    ids, oldest first."""
    clock = Clock()
    name = "hourly-census-snapshot"
    async with running(srv, tmp_path, size, clock=clock) as (app, pilot):
        app.open_bot(bot_id(srv, name))
        await settle(pilot)
        assert isinstance(app.screen, EventScreen)

        async def arrive(count: int) -> list[str]:
            ids = []
            for _ in range(count):
                clock.now += timedelta(seconds=1)
                ids.append(srv.store.add_event(bot_id(srv, name), outcome="0", desc="ok", at=clock.now)["id"])
            app.poll_now()
            await settle(pilot)
            return ids

        yield app, pilot, app.screen.query_one(EventTable), arrive


def header(table: EventTable) -> str:
    return " ".join(column.label.plain for column in table.columns.values())


@pytest.mark.parametrize("size", SIZES)
async def test_the_cursor_on_the_top_row_follows_the_newest_run(
    srv: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    async with busy_event_tab(srv, tmp_path, size) as (_, _, table, arrive):
        assert table.cursor_row == 0
        for count in (2, 1):
            ids = await arrive(count)
            # As tail -f: the newest run selected, the view at the top, nothing "new" above.
            assert table.ids_in_order()[:count] == ids[::-1]
            assert table.selected_id == ids[-1] and table.cursor_row == 0 and table.scroll_y == 0
            assert table.new_above == 0 and "new" not in header(table)


@pytest.mark.parametrize("size", SIZES)
async def test_new_rows_above_the_cursor_are_counted_and_g_goes_to_them(
    srv: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    async with busy_event_tab(srv, tmp_path, size) as (app, pilot, table, arrive):
        await pilot.press("down", "down")
        selected = table.selected_id
        await arrive(3)
        # The cursor stays on its run (the view at the top, the new rows in sight above it); the
        # header says what arrived above it.
        assert table.selected_id == selected and table.cursor_row == 5 and table.scroll_y == 0
        assert table.new_above == 3 and "↑ 3 new" in header(table)
        on_screen = table.cursor_row - table.scroll_y
        # Enough runs to push the selected one below the screen: the view keeps it where it was,
        # and the count says the newest are above.
        newest = await arrive(size[1])
        assert table.selected_id == selected and table.cursor_row - table.scroll_y == on_screen
        assert table.scroll_y > 0 and table.new_above == size[1] + 3
        assert f"↑ {size[1] + 3} new" in header(table)
        assert any(f"↑ {size[1] + 3} new" in line for line in screen_lines(app))
        # g: the newest run, the marker gone.
        await pilot.press("g")
        await pilot.pause()
        assert table.selected_id == newest[-1] and table.cursor_row == 0 and table.scroll_y == 0
        assert table.new_above == 0 and "new" not in header(table)


@pytest.fixture
def servers() -> Iterator[dict[str, DemoServer]]:
    with quiet_demo(7) as prod, quiet_demo(7) as staging:
        yield {"prod": prod, "staging": staging}


async def test_with_two_projects_the_toast_names_the_project(
    servers: dict[str, DemoServer], tmp_path: Path
) -> None:
    clock = Clock()
    app = make_multi_app(servers, tmp_path, clock=clock)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        seen = Seen(app)
        # Both projects' incidents in the summary.
        one = sum(1 for s in app.sessions[0].project.statuses.values() if s.incident.state == "failing")
        assert summary(app).startswith(f"! {2 * one} failing")
        staging = servers["staging"]
        clock.now += timedelta(seconds=1)
        staging.store.add_event(bot_id(staging, CALM), outcome="8", desc=CRASH, at=clock.now)
        app.poll_now()
        await settle(pilot)
        assert seen.titles() == [f"staging: {CALM} is failing"] and seen.bells == 1
        assert bot_id(staging, CALM) in app.sessions[1].unseen and not app.sessions[0].unseen
        # Acknowledged in its project only.
        assert app.acknowledge(app.sessions[1], bot_id(staging, CALM))
        assert seen.titles()[-1] == f"staging: {CALM}: acknowledged"
        assert not app.acknowledge(app.sessions[0], bot_id(servers["prod"], CALM))
        assert seen.toasts[-1][1] == f"prod: {CALM} has no incident to acknowledge"


HOOK = """\
import json, os, sys
with open(sys.argv[1], "a") as out:
    out.write(json.dumps(dict(os.environ)) + "\\n")
"""


async def test_on_alert_runs_a_real_child_with_the_facts_in_its_environment(
    srv: DemoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook, out = tmp_path / "hook.py", tmp_path / "alerts.ndjson"
    hook.write_text(HOOK)
    # What the parent holds that must never reach the command.
    monkeypatch.setenv("MEDPLUM_CLIENT_SECRET", "parent-secret-value")
    monkeypatch.setenv("BOTMON_LEAK", "no")
    command = AlertCommand.parse(f"{sys.executable} {hook} {out}")
    clock = Clock()
    async with running(srv, tmp_path, notifications=True, clock=clock, on_alert=command) as (app, pilot):
        runner = app.alerts.runner
        assert runner is not None
        await run_once(app, pilot, clock, srv, ("8", CRASH + "\x1b]52;c;aGk=\x07"))
        await run_once(app, pilot, clock, srv, ("0", "ok"))
        await runner.drain()
        envs = [json.loads(line) for line in out.read_text().splitlines()]
        assert [env["BOTMON_EVENT"] for env in envs] == ["failing", "recovered"]
        failing = envs[0]
        assert failing["BOTMON_BOT"] == CALM and failing["BOTMON_BOT_ID"] == bot_id(srv, CALM)
        assert failing["BOTMON_STREAK"] == "1" and failing["BOTMON_KIND"] == "crash"
        assert failing["BOTMON_SINCE"] == "2025-03-14T12:00:01.000Z"
        assert failing["BOTMON_SUMMARY"].startswith("Unhandled error: TypeError")
        assert failing["BOTMON_LINK"].startswith(APP_BASE) and bot_id(srv, CALM) in failing["BOTMON_LINK"]
        # No secret, nothing of the parent's but the allowed variables, no control character.
        secrets = [*app.secrets(), "parent-secret-value"]
        for env in envs:
            assert not any(name.startswith("MEDPLUM_") for name in env) and "BOTMON_LEAK" not in env
            assert not any(secret in value for secret in secrets for value in env.values())
            assert all(value.isprintable() for value in env.values())
        assert envs[1]["BOTMON_STREAK"] == "1"
        assert "--on-alert" not in status(app)  # (it ran fine: nothing to say)


async def test_a_failing_on_alert_command_is_said_on_the_status_line(srv: DemoServer, tmp_path: Path) -> None:
    script = 'import sys; print("no route to pager", file=sys.stderr); sys.exit(3)'
    command = AlertCommand.parse(f"{sys.executable} -c '{script}'")
    clock = Clock()
    async with running(srv, tmp_path, notifications=True, clock=clock, on_alert=command) as (app, pilot):
        seen = Seen(app)
        await run_once(app, pilot, clock, srv, ("8", CRASH))
        runner = app.alerts.runner
        assert runner is not None
        await runner.drain()
        await pilot.pause()
        line = status(app)
        assert "--on-alert: " in line and "exit 3: no route to pager (failing daily-claims-export)" in line
        # The monitor goes on: the next polls still tell the incident's end.
        await run_once(app, pilot, clock, srv, ("0", "ok"))
        assert seen.titles() == [f"{CALM} is failing", f"{CALM} recovered"]
        assert os.path.basename(command.argv[0]) in line


def test_on_alert_and_realert_reach_the_tui_and_a_bad_command_stops_it_first(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    import botmon_tui.ui.app as app_module
    from botmon_tui.cli.main import main

    given: list[AppOptions] = []

    def run_tui(connections: Sequence[Connection], options: AppOptions) -> int:
        given.append(options)
        return 0

    monkeypatch.setattr(app_module, "run_tui", run_tui)
    monkeypatch.setattr(importlib.import_module("botmon_tui.cli.main"), "_terminal_problem", lambda: None)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert main(["--demo", "--realert", "600", "--on-alert", "notify-send -u critical 'bot alert'"]) == 0
    (options,) = given
    assert options.realert == 600 and options.on_alert is not None
    assert options.on_alert.argv == ("notify-send", "-u", "critical", "bot alert")
    assert main(["--demo", "--on-alert", "notify-send 'unbalanced"]) == 2
    assert "--on-alert: cannot split" in capsys.readouterr().err and len(given) == 1


def test_the_new_rows_note_keeps_its_room_in_a_narrow_header() -> None:
    from botmon_tui.ui.widgets.keyed_table import header_label, new_rows_text

    note = new_rows_text(1234)
    assert note == "↑ 1,234 new"
    wide = header_label("Outcome Desc", 3, 40, "▼", note)
    assert wide.plain == "Outcome Desc³▼  ↑ 1,234 new "
    # Narrow: the title gives way, the note stays whole, the label fits the column.
    narrow = header_label("Outcome Desc", 3, 20, None, note)
    assert narrow.plain == "Outc…³  ↑ 1,234 new " and narrow.cell_len <= 20


async def test_late_quiet_and_resumed_go_the_same_way(srv: DemoServer, tmp_path: Path) -> None:
    """The silence events (made by the monitor) need nothing more of the UI: a warning toast and the
    bell for ``late`` and ``quiet``, a quiet toast for ``resumed``; too many are counted in one."""
    from botmon_tui.monitor.tracker import IncidentEvent

    async with running(srv, tmp_path, notifications=True) as (app, pilot):
        seen = Seen(app)
        session = app.sessions[0]
        due = FIXED_NOW - timedelta(minutes=42)

        def event(kind: str, name: str = CALM) -> IncidentEvent:
            return IncidentEvent(kind, bot_id(srv, name), name, at=FIXED_NOW, since=due, summary="due 11:18")

        app.alerts.announce(session, [event("late")])
        await settle(pilot)
        assert seen.toasts == [(f"{CALM} is late", "due 11:18", "warning")] and seen.bells == 1
        app.alerts.announce(session, [event("resumed")])
        await settle(pilot)
        assert seen.toasts[-1] == (f"{CALM} ran again", "due 11:18", "information") and seen.bells == 1
        # A storm: four toasts, the fifth counts the rest (exactly), one bell.
        names = [status.bot.display_name for status in session.project.statuses.values()][:7]
        app.alerts.announce(session, [event("quiet", name) for name in names])
        await settle(pilot)
        storm = seen.toasts[2:]
        assert [title for title, _, _ in storm[:4]] == [f"{name} went quiet" for name in names[:4]]
        assert storm[4][0] == "More incidents" and storm[4][1].startswith("3 more incident changes: ")
        assert len(storm) == 5 and seen.bells == 2
