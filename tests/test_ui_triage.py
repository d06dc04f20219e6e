"""Triage at a glance (issue #9), on screen: attention first, the failing mark and count, the
history strip. Pilot at 80x24 and 120x40 against the demo backend over real HTTP."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from demo_support import FIXED_NOW, demo_fixture, settings_for
from fault_support import screen_text
from rich.text import Text
from textual import events
from textual.pilot import Pilot
from textual.widgets.data_table import ColumnKey
from textual_support import notifications
from ui_support import bot_id, command, make_app, pause_until, running, screen_lines, settle, status

from botmon_tui.demo import DemoServer
from botmon_tui.demo.catalog import BOT_SPECS
from botmon_tui.medplum.auth import Secret
from botmon_tui.medplum.models import outcome_info
from botmon_tui.ui.app import BotmonApp
from botmon_tui.ui.formatting import app_palette
from botmon_tui.ui.screens.bot_list import BotListScreen
from botmon_tui.ui.screens.events import EventScreen
from botmon_tui.ui.screens.failures import FailuresScreen
from botmon_tui.ui.widgets.banner import Banner
from botmon_tui.ui.widgets.bot_table import BotTable
from botmon_tui.ui.widgets.event_table import EventTable
from botmon_tui.ui.widgets.failure_table import FailureTable
from botmon_tui.ui.widgets.status_line import StatusLine

SIZES = [(80, 24), (120, 40)]


demo = demo_fixture(scope="function")


def rows_on_screen(text: str) -> list[str]:
    """The bot rows as shown: the lines under the table header."""
    lines = text.split("\n")
    header = next(n for n, line in enumerate(lines) if line.lstrip().startswith("Name"))
    return [line.strip() for line in lines[header + 1 :] if line.strip()][:-2]  # (status, footer)


@pytest.mark.parametrize("size", SIZES)
async def test_failing_bots_come_first_marked_on_the_whole_row(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    target = bot_id(demo, "lab-results-router")
    demo.store.add_event(target, outcome="8", desc="Error: HTTP 500", at=FIXED_NOW - timedelta(seconds=5))
    async with running(demo, tmp_path, size) as (app, pilot):
        table = app.screen.query_one(BotTable)
        failing = [s for s in app.sessions[0].project.statuses.values() if s.failing_now]
        assert target in {s.bot.id for s in failing}
        text = screen_text(app)
        # The header counts them.
        assert f"! {len(failing)} failing now" in text.split("\n")[1]
        # They are the first rows, each marked "!" and in the failure colour on every cell.
        rows = rows_on_screen(text)
        assert [row.startswith("! ") for row in rows[: len(failing)]] == [True] * len(failing)
        assert not any(row.startswith("!") for row in rows[len(failing) :])
        assert set(table.ids_in_order()[: len(failing)]) == {s.bot.id for s in failing}
        assert table.get_cell(target, "name").plain == "! lab-results-router"
        fail = app_palette(app).fail
        for column in ("name", "id"):
            cell = table.get_cell(target, column)
            assert fail in {cell.style, *(span.style for span in cell.spans)}, column
        assert table.get_cell(target, "last_run").style == fail
        # A row whose last run went well has no mark.
        fine = bot_id(demo, "daily-claims-export")
        assert table.get_cell(fine, "name").plain == "  daily-claims-export"
        # Column sorts still work, and 0 brings attention first back.
        await pilot.press(str(BotTable.number_of("failures")))
        assert table.sort_column == "failures"
        await pilot.press("0")
        assert table.attention_order and table.ids_in_order()[0] in {s.bot.id for s in failing}


@pytest.mark.parametrize("size", SIZES)
async def test_history_strip_shows_the_newest_runs(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    target = bot_id(demo, "hl7-adt-ingest")
    for seconds, outcome in ((40, "0"), (30, "8"), (20, "4"), (10, "0")):
        demo.store.add_event(target, outcome=outcome, desc="x", at=FIXED_NOW - timedelta(seconds=seconds))
    async with running(demo, tmp_path, size) as (app, _pilot):
        table = app.screen.query_one(BotTable)
        width = table.columns[ColumnKey("history")].width
        runs = sorted(demo.store.events_for(target), key=lambda e: e["meta"]["lastUpdated"])
        expected = "".join(outcome_info(e.get("outcome")).symbol for e in runs[-width:])
        # (At 80 columns the strip gives way to the names: its newest three runs.)
        assert width >= 3 and expected.endswith("✓✗▲✓"[-width:])
        assert table.get_cell(target, "history").plain == expected
        row = next(r for r in rows_on_screen(screen_text(app)) if "hl7-adt-ing" in r)
        assert expected in row


# ---------------------------------------------------------------------------- alerts from anywhere

CRASH = "\n".join(
    [
        "2025-03-14T12:00:05.000Z",
        "Routing ORU^R01",
        "TypeError: Cannot read properties of undefined (reading 'code')",
    ]
)


def toasts(app: BotmonApp) -> list[str]:
    return [f"{n.title}\n{n.message}" for n in notifications(app)]


async def open_bot(app: BotmonApp, pilot: Pilot[Any], demo: DemoServer, name: str) -> EventScreen:
    app.open_bot(bot_id(demo, name))
    await settle(pilot)
    assert isinstance(app.screen, EventScreen)
    return app.screen


@pytest.mark.parametrize("size", SIZES)
async def test_a_new_failure_is_announced_once_from_another_bots_event_tab(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    bells: list[int] = []
    async with running(demo, tmp_path, size, notifications=True) as (app, pilot):
        app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
        # Failures there at start are shown (the marks, the counts), never announced.
        assert (
            app.sessions[0].failure_watch.loaded
            and app.sessions[0].failure_watch.runs
            and not app.sessions[0].unseen
        )
        assert toasts(app) == [] and bells == []
        await open_bot(app, pilot, demo, "hl7-adt-ingest")
        target = bot_id(demo, "questionnaire-scorer")  # its last run went well (lab-results-router's fail)
        # A burst: two failed runs of one bot in one poll: it starts failing (one incident).
        for seconds in (5, 6):
            demo.store.add_event(target, outcome="8", desc=CRASH, at=FIXED_NOW + timedelta(seconds=seconds))
        before = len(demo.requests)
        app.poll_now()
        await settle(pilot)
        # The project's poll (bots changed, runs since: it sees no run of the open bot, so the Event
        # tab asks nothing), and one request for the whole project's failures (their output).
        assert len(demo.requests) - before == 3
        (toast,) = toasts(app)
        title, message = toast.split("\n", 1)
        assert title == "questionnaire-scorer is failing"
        assert message.split("\n") == [
            "2 failed runs since 12:00 (now) · error",
            "TypeError: Cannot read properties of undefined (reading 'code')",
        ]
        text = " ".join(screen_text(app).split())
        assert "questionnaire-scorer is failing" in text and "2 failed runs since" in text
        assert "TypeError: Cannot read" in text
        assert bells == [1]
        # The next poll has nothing new, and a third failure of the same incident is counted
        # silently: no toast, no bell.
        app.poll_now()
        await settle(pilot)
        demo.store.add_event(target, outcome="8", desc=CRASH, at=FIXED_NOW + timedelta(seconds=7))
        app.poll_now()
        await settle(pilot)
        assert len(toasts(app)) == 1 and bells == [1]
        assert app.sessions[0].status(target).incident.streak.runs == 3  # type: ignore[union-attr]
        # The bot list marks the bot until its Event tab is opened.
        await pilot.press("escape")
        await settle(pilot)
        table = app.screen.query_one(BotTable)
        assert table.get_cell(target, "name").plain == "● questionnaire-scorer"
        assert "● new failures on 1 bot" in screen_text(app).split("\n")[0]
        await open_bot(app, pilot, demo, "questionnaire-scorer")
        await pilot.press("escape")
        await settle(pilot)
        assert table.get_cell(target, "name").plain == "! questionnaire-scorer"  # (still failing)
        assert "new failures" not in screen_text(app).split("\n")[0]


async def test_no_bell_with_no_bell_and_the_bot_list_pays_one_request_per_new_failure(
    demo: DemoServer, tmp_path: Path
) -> None:
    bells: list[int] = []
    async with running(demo, tmp_path, bell=False, notifications=True) as (app, pilot):
        app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
        before = len(demo.requests)
        app.poll_now()
        await settle(pilot)
        assert len(demo.requests) - before == 2  # idle: bots changed, runs since
        target = bot_id(demo, "legacy-hl7-bridge")
        demo.store.add_event(
            target, outcome="12", desc="FATAL: heap exhausted", at=FIXED_NOW + timedelta(seconds=3)
        )
        before = len(demo.requests)
        app.poll_now()
        await settle(pilot)
        # One more request, for the new failure's output.
        paths = [r.path for r in demo.requests[before:]]
        assert len(paths) == 3 and "outcome=4%2C8%2C12" in paths[2]
        assert [t.split("\n") for t in toasts(app)] == [
            [
                "legacy-hl7-bridge is failing",
                "1 failed run since 12:00 (now) · error",
                "FATAL: heap exhausted",
            ]
        ]
        assert bells == []
        assert app.screen.query_one(BotTable).get_cell(target, "name").plain == "● legacy-hl7-bridge"


# ---------------------------------------------------------------------------- pause


def footer_text(app: BotmonApp) -> str:
    return next(line for line in reversed(screen_text(app).split("\n")) if "q Quit" in line)


def shows(app: BotmonApp, state: str, key: str) -> bool:
    """The status line starts with ``state`` and the footer offers ``key``."""
    return status(app).startswith(state) and key in footer_text(app)


@pytest.mark.parametrize("size", SIZES)
async def test_p_pauses_every_screen_and_the_footer_says_resume(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    async with running(demo, tmp_path, size) as (app, pilot):
        assert "p Pause" in footer_text(app)
        await open_bot(app, pilot, demo, "hl7-adt-ingest")
        await pilot.press("p")
        # (the footer is recomposed after 50 ms: the state is waited for, not the time)
        await pause_until(pilot, lambda: shows(app, "‖ paused", "p Resume"), "paused")
        events = app.screen
        await pilot.press("escape")
        # The bot list is paused too (and says so), and so is a screen opened now.
        await pause_until(pilot, lambda: app.screen is not events and shows(app, "‖ paused", "p Resume"))
        await open_bot(app, pilot, demo, "lab-results-router")
        await pause_until(pilot, lambda: shows(app, "‖ paused", "p Resume"), "paused")
        assert app.screen.own_schedule.paused and not events.is_attached  # type: ignore[attr-defined]
        assert all(session.schedule.paused for session in app.sessions)
        await pilot.press("p")
        await pause_until(pilot, lambda: shows(app, "● live", "p Pause"), "live")
        opened = app.screen
        await pilot.press("escape")
        await pause_until(pilot, lambda: app.screen is not opened and shows(app, "● live", "p Pause"))


# ---------------------------------------------------------------------------- the Failures screen


@pytest.mark.parametrize("size", SIZES)
async def test_failures_screen_lists_updates_in_place_and_opens_the_run(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    async with running(demo, tmp_path, size) as (app, pilot):
        await open_bot(app, pilot, demo, "hl7-adt-ingest")
        await pilot.press("F")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, FailuresScreen)
        await pilot.press("v")  # every failed run (the screen opens on one row per cause)
        table = screen.query_one(FailureTable)
        runs = app.sessions[0].failure_watch.runs
        assert table.ids_in_order() == [run.id for run in runs]  # newest first
        failed = [e for e in demo.store.events_for(bot_id(demo, "legacy-hl7-bridge")) if e["outcome"] != "0"]
        assert {e["id"] for e in failed[:3]} <= set(table.ids_in_order())
        # What is on screen: the bot, the outcome, what went wrong, the age.
        first = runs[0]
        row = next(line for line in rows_after(screen_text(app), "Bot") if first.summary[:12] in line)
        assert row.startswith(app.alerts.bot_name(app.sessions[0], first.bot_id, first)[:12])
        assert first.outcome_info.symbol in row and "ago" in row
        # A poll: the project's (bots, runs) and its failures'; the new failure on top, the selected
        # run still selected.
        await pilot.press("down", "down")
        selected, row_on_screen = table.selected_id, table.cursor_row - table.scroll_y
        target = bot_id(demo, "lab-results-router")
        new = demo.store.add_event(target, outcome="8", desc=CRASH, at=FIXED_NOW + timedelta(seconds=9))
        before = len(demo.requests)
        app.poll_now()
        await settle(pilot)
        assert len(demo.requests) - before == 3
        assert table.ids_in_order()[0] == new["id"] and table.selected_id == selected
        assert table.cursor_row - table.scroll_y in (row_on_screen, row_on_screen + 1)
        assert "lab-results-router failed" in " ".join(toasts(app))
        # enter: the run in its bot's Event tab, selected.
        table.move_cursor(row=0)
        await pilot.press("enter")
        await settle(pilot)
        events = app.screen
        assert isinstance(events, EventScreen) and events.bot_id == target
        assert events.query_one(EventTable).selected_id == new["id"]
        # Its mark went (its Event tab is open); F goes back to the same Failures screen.
        assert target not in app.sessions[0].unseen
        await pilot.press("F")
        await settle(pilot)
        assert app.screen is screen and sum(isinstance(s, FailuresScreen) for s in app.screen_stack) == 1
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, EventScreen) and app.screen.bot_id == bot_id(demo, "hl7-adt-ingest")


def rows_after(text: str, header: str) -> list[str]:
    lines = text.split("\n")
    start = next(n for n, line in enumerate(lines) if line.lstrip().startswith(header))
    return [line.strip() for line in lines[start + 1 :] if line.strip()]


async def test_failures_screen_from_the_command_palette_and_its_filter(
    demo: DemoServer, tmp_path: Path
) -> None:
    async with running(demo, tmp_path, (120, 40)) as (app, pilot):
        await command(pilot, "Failures")
        assert isinstance(app.screen, FailuresScreen)
        table = app.screen.query_one(FailureTable)
        await pilot.press("slash", *"legacy-hl7", "enter")
        await settle(pilot)
        names = {
            app.alerts.bot_name(app.sessions[0], r.bot_id) for r in map(table.run, table.ids_in_order()) if r
        }
        assert names == {"legacy-hl7-bridge"} and table.row_count > 0
        await pilot.press("escape")
        await settle(pilot)
        assert table.row_count == len(app.sessions[0].failure_watch.runs)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, BotListScreen)


# ---------------------------------------------------------------------------- a terminal program


def burst(app: BotmonApp, *keys: tuple[str, str]) -> None:
    """Keys as a terminal delivers them typed fast: all queued at once, none waited for."""
    for key, character in keys:
        app.post_message(events.Key(key, character))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("newline", ["\r", "\n"], ids=["enter", "typed-before-start"])
async def test_keys_typed_ahead_of_a_slow_first_load_open_the_bot(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int], newline: str
) -> None:
    """``/``, a name, ``enter`` ``enter``, typed while the list is loading, opens that bot (typed
    before the app took the terminal, enter arrives as a newline: ctrl+j)."""
    demo.faults.latency = 0.3
    app = make_app(demo, tmp_path)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert not app.sessions[0].project.loaded
        enter = ("enter", "\r") if newline == "\r" else ("ctrl+j", "\n")
        burst(app, ("slash", "/"), *((c, c) for c in "legacy"), enter, enter)
        await settle(pilot)
        demo.faults.latency = 0.0
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, EventScreen) and screen.bot_id == bot_id(demo, "legacy-hl7-bridge")


async def test_ctrl_c_quits_with_status_130(demo: DemoServer, tmp_path: Path) -> None:
    async with running(demo, tmp_path) as (app, pilot):
        await pilot.press("slash", "x")  # even from inside the filter box
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert app.return_code == 130


@pytest.mark.parametrize("size", SIZES)
async def test_a_wrong_secret_says_so_at_once_in_words(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    settings = settings_for(demo, client_secret=Secret("not-the-secret"))
    async with running(demo, tmp_path, size, settings=settings, notifications=True) as (app, _pilot):
        text = " ".join(screen_text(app).split())
        assert "Cannot sign in to" in text and "Invalid secret" in text
        assert "Check the client id and secret" in text and "r tries now · q quits" in text
        assert "not connected" in text and "loading" not in text
        assert status(app).startswith("✗ r to retry · authentication failed · no data yet")
        assert app.sessions[0].schedule.status.next_delay == 60.0
        assert toasts(app) == []  # said once, on the screen


async def test_an_unreachable_server_says_so_and_the_list_comes_when_it_is_back(
    demo: DemoServer, tmp_path: Path
) -> None:
    demo.faults.add(status=503, path_contains="/fhir/R4/Bot", count=1)
    async with running(demo, tmp_path, notifications=True) as (app, pilot):
        text = " ".join(screen_text(app).split())
        assert "answered with an error" in text and "Server error (HTTP 503" in text
        # Retried within a minute (the interval here is an hour), and then the list is there.
        assert status(app).startswith("✗ r to retry · server error · no data yet")
        assert app.sessions[0].schedule.status.next_delay == 60.0
        app.poll_now()
        await settle(pilot)
        assert status(app).startswith("● live") and app.screen.query_one(BotTable).row_count == len(BOT_SPECS)


@pytest.mark.parametrize("size", [(60, 15), (80, 24), (120, 40)])
async def test_an_outage_says_one_retry_on_one_status_line(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    # The server cannot be reached at start; polling on (every hour: the backoff's ceiling is 60 s).
    demo.faults.add(status=503, path_contains="/fhir/R4/Bot")
    async with running(demo, tmp_path, size, auto_poll=True) as (app, _pilot):
        screen = app.screen
        assert isinstance(screen, BotListScreen)
        screen.update_status()
        line = status(app)
        retry = re.match(r"✗ (retry in \d+s) · ", line)
        assert retry is not None, line
        # The panel says the same words, from the same countdown: the real backoff (60x15 shows
        # the panel's top only: its text is read from the widget).
        panel = screen.query_one("#empty", Banner).content
        assert isinstance(panel, Text)
        assert f"botmon-tui: {retry.group(1)} · r tries now · q quits" in panel.plain
        assert "within a minute" not in panel.plain
        poller = app.session_poller(app.sessions[0])
        wait = None if poller is None else poller.seconds_to_next()
        assert wait is not None and retry.group(1) == f"retry in {round(wait)}s"
        # One line at every width: the table's rows keep theirs.
        status_line = screen.query_one(StatusLine)
        assert status_line.region.height == 1 and status_line.region.y == size[1] - 2
        shown = [row for row in screen_lines(app) if row.lstrip().startswith("✗ retry in")]
        assert len(shown) == 1 and shown[0].rstrip().endswith(("…", "ago", "no data yet"))


async def test_a_bot_that_does_not_exist_gets_one_message(demo: DemoServer, tmp_path: Path) -> None:
    missing = "00000000-dead-beef-0000-000000000000"
    async with running(demo, tmp_path, bot_id=missing, notifications=True) as (app, _pilot):
        text = screen_text(app)
        assert text.count("not found") + text.count("was not found") >= 1
        assert " ".join(text.split()).count("deleted, or these credentials cannot read it") == 1
        assert toasts(app) == []
        assert status(app) == "✗ r to retry · not found · no data yet"


async def test_a_mark_that_came_while_a_filter_hid_the_bot_shows_when_it_is_cleared(
    demo: DemoServer, tmp_path: Path
) -> None:
    """The bot list leaves out the rows its filter hides and builds them again when it is cleared:
    a row back under its old id is painted from its new cells, not from its old renders."""
    async with running(demo, tmp_path) as (app, pilot):
        lab = bot_id(demo, "lab-results-router")
        assert any("lab-results-" in row for row in rows_on_screen(screen_text(app)))
        await pilot.press("slash", *"quest", "enter")
        await settle(pilot)
        await open_bot(app, pilot, demo, "questionnaire-scorer")
        demo.store.add_event(lab, outcome="8", desc="Error: x", at=FIXED_NOW + timedelta(seconds=3))
        app.poll_now()
        await settle(pilot)
        await pilot.press("escape")  # back to the list, still filtered
        await settle(pilot)
        await pilot.press("escape")  # the filter goes
        await settle(pilot)
        row = next(row for row in rows_on_screen(screen_text(app)) if "lab-results-" in row)
        assert row.startswith("● lab-results-"), row


@pytest.mark.parametrize("size", SIZES)
async def test_keys_typed_ahead_of_the_event_tab_filter_reach_it(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    """On the Event tab too, ``/`` then a word typed in one burst all land in the filter box
    (``e`` is also "next failure" and ``c`` "copy": none of them may be taken as a key of the tab)."""
    async with running(demo, tmp_path, size, bot_id=bot_id(demo, "legacy-hl7-bridge")) as (app, pilot):
        screen = app.screen
        assert isinstance(screen, EventScreen)
        burst(app, ("slash", "/"), *((c, c) for c in "econnreset"), ("enter", "\r"))
        await settle(pilot)
        assert screen.filter_text == "econnreset"
        table = screen.query_one(EventTable)
        assert 0 < table.row_count < 100
        for row_id in table.ids_in_order():
            event = table.event(row_id)
            assert event is not None and "econnreset" in (event.outcomeDesc or "").casefold()
