"""Incidents on screen (issue #16): the Failures screen grouped by cause, its copy keys, the
incident copy key, the bot list's State column and the failure's kind next to the outcome.

Pilot at 80x24 and 120x40 against the demo backend (real HTTP). The demo's stories: the EMPI
outage (``status code 503``) failed three bots and is over; erx-surescripts-send is failing with
timeouts, lab-results-router with a crash; hl7-adt-ingest and questionnaire-scorer recovered;
legacy-hl7-bridge is flaky.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from demo_support import FIXED_NOW, demo_fixture, quiet_demo
from fault_support import screen_text
from rich.text import Text
from textual.pilot import Pilot
from ui_support import (
    APP_BASE,
    bot_id,
    make_app,
    make_multi_app,
    pane_caught_up,
    running,
    screen_lines,
    settle,
)

from botmon_tui.demo import DemoServer
from botmon_tui.medplum.models import AuditEvent
from botmon_tui.monitor.incidents import FailureGroup
from botmon_tui.textsafe import ansi_text
from botmon_tui.ui.app import BotmonApp
from botmon_tui.ui.screens.bot_list import BotListScreen
from botmon_tui.ui.screens.events import EventScreen
from botmon_tui.ui.screens.failures import FailuresScreen
from botmon_tui.ui.widgets.bot_table import BotTable
from botmon_tui.ui.widgets.event_table import EventTable
from botmon_tui.ui.widgets.failure_table import FailureTable
from botmon_tui.ui.widgets.group_table import GroupTable

SIZES = [(80, 24), (120, 40)]
EMPI = "EMPI lookup failed: status code 503"
EMPI_BOTS = {"hl7-adt-ingest", "erx-surescripts-send", "questionnaire-scorer"}

demo = demo_fixture()
fresh_demo = demo_fixture(scope="function")


async def failures_screen(app: BotmonApp, pilot: Pilot[Any]) -> FailuresScreen:
    await pilot.press("F")
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, FailuresScreen)
    return screen


def empi_group(table: GroupTable) -> FailureGroup:
    found = [table.group(key) for key in table.ids_in_order()]
    groups = [group for group in found if group is not None and EMPI in group.signature.text]
    assert len(groups) == 1, [group.signature.text for group in found if group]
    return groups[0]


def select(table: GroupTable | FailureTable | BotTable, row_id: str) -> None:
    assert table.select_id(row_id)


# ---------------------------------------------------------------------------- grouped by cause


@pytest.mark.parametrize("size", SIZES)
async def test_failures_are_grouped_by_cause_across_bots(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    async with running(demo, tmp_path, size) as (app, pilot):
        screen = await failures_screen(app, pilot)
        groups = screen.query_one(GroupTable)
        assert groups.display and not screen.query_one(FailureTable).display
        assert screen.focused is groups
        # One row for the EMPI outage's runs on three bots (each run's Patient id differs).
        empi = empi_group(groups)
        names = {app.alerts.bot_name(app.sessions[0], bot) for bot in empi.bot_ids}
        assert names == EMPI_BOTS
        runs = app.sessions[0].failure_watch.runs
        assert {run.id for run in empi.runs} == {run.id for run in runs if EMPI in run.summary}
        counts = f"{len(empi.runs)} runs · 3 bots" if size[0] >= 100 else f"{len(empi.runs)}× · 3 bots"
        row = next(line for line in screen_lines(app) if counts in line)
        assert "Error: EMPI lookup" in row and "over" in row  # (no bot fails with it now)
        if size[0] >= 120:
            assert "hl7-adt-ingest, " in row  # the bots' names, as far as they fit
        # The causes a bot is failing with now are ongoing: the timeouts and the crash.
        ongoing = {groups.group(k).signature.text for k in groups.ids_in_order() if groups.group(k).ongoing}  # type: ignore[union-attr]
        assert ongoing == {"timed out", next(t for t in ongoing if t.startswith("TypeError"))}
        assert "2 ongoing" in screen_text(app)
        # Newest cause first; one row per signature; every held run in one group.
        assert groups.ids_in_order()[0] == runs[0].signature.key
        held = [groups.group(key) for key in groups.ids_in_order()]
        assert sum(len(group.runs) for group in held if group) == len(runs)


@pytest.mark.parametrize("size", SIZES)
async def test_enter_lists_a_causes_runs_and_esc_goes_back(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    async with running(demo, tmp_path, size) as (app, pilot):
        screen = await failures_screen(app, pilot)
        groups = screen.query_one(GroupTable)
        empi = empi_group(groups)
        select(groups, empi.signature.key)
        await pilot.press("enter")
        await pilot.pause()
        runs = screen.query_one(FailureTable)
        assert runs.display and not groups.display and screen.focused is runs
        assert set(runs.ids_in_order()) == {run.id for run in empi.runs}
        assert runs.cursor_row == 0
        heading = screen_text(app).split("\n")[1]
        assert f"{len(empi.runs)} runs · 3 bots" in heading
        # The number keys sort the runs now (Bot is 1): the footer and the bindings say so.
        assert screen.check_action("sort", (1,)) and not screen.check_action("sort_groups", (1,))
        await pilot.press("1")
        names = [screen.bot_name(runs.run(i)) for i in runs.ids_in_order()]  # type: ignore[arg-type]
        assert names == sorted(names)
        # enter on a run: its bot's Event tab, the run selected.
        target = runs.selected_run
        assert target is not None
        await pilot.press("enter")
        await settle(pilot)
        events = app.screen
        assert isinstance(events, EventScreen) and events.query_one(EventTable).selected_id == target.id
        await pilot.press("F")
        await settle(pilot)
        assert app.screen_stack[-1] is screen and runs.display
        # esc: back to the causes, on the same cause; esc again: back to where F was pressed.
        await pilot.press("escape")
        await pilot.pause()
        assert groups.display and not runs.display and groups.selected_id == empi.signature.key
        assert screen.check_action("sort_groups", (1,)) and not screen.check_action("sort", (1,))
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, BotListScreen)


@pytest.mark.parametrize("size", SIZES)
async def test_v_switches_to_every_failed_run_and_back(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    async with running(demo, tmp_path, size) as (app, pilot):
        screen = await failures_screen(app, pilot)
        groups, runs = screen.query_one(GroupTable), screen.query_one(FailureTable)
        await pilot.press("v")
        await pilot.pause()
        assert runs.display and not groups.display and not screen.grouped
        assert runs.ids_in_order() == [run.id for run in app.sessions[0].failure_watch.runs]
        assert "newest failed runs of every bot" in screen_text(app)
        await pilot.press("v")
        await pilot.pause()
        assert groups.display and not runs.display and screen.grouped
        # The filter reads the causes too: their text, their bots, their kind.
        await pilot.press("slash", *"empi", "enter")
        await pilot.pause()
        assert [groups.group(key).signature.text for key in groups.ids_in_order()] == [
            empi_group(groups).signature.text
        ]


async def test_a_cause_is_updated_in_place_when_a_new_bot_fails_with_it(
    fresh_demo: DemoServer, tmp_path: Path
) -> None:
    async with running(fresh_demo, tmp_path, (120, 40)) as (app, pilot):
        screen = await failures_screen(app, pilot)
        groups = screen.query_one(GroupTable)
        empi = empi_group(groups)
        await pilot.press("down", "down", "down")
        selected, row = groups.selected_id, groups.cursor_row
        cgm = bot_id(fresh_demo, "cgm-device-sync")
        # The outage's log (its stack frame is part of the cause), for another Patient.
        log = next(
            e["outcomeDesc"]
            for e in fresh_demo.store.events_for(empi.bot_ids[0])
            if e["id"] == empi.newest.id
        )
        log = re.sub(r"Patient/[\w-]+", "Patient/0c1e9f", log)
        fresh_demo.store.add_event(cgm, outcome="4", desc=log, at=FIXED_NOW + timedelta(seconds=5))
        app.poll_now()
        await settle(pilot)
        again = groups.group(empi.signature.key)
        assert again is not None and len(again.runs) == len(empi.runs) + 1 and len(again.bot_ids) == 4
        assert "cgm-device-sync" in screen.bot_names(again)
        # The newest cause is on top now; the cursor stayed on its cause, one row lower.
        assert groups.ids_in_order()[0] == empi.signature.key
        assert groups.selected_id == selected and groups.cursor_row in (row, row + 1)
        assert f"{len(empi.runs) + 1} runs · 4 bots" in screen_text(app)


async def test_a_cause_met_in_two_projects_is_one_row_naming_each_project(tmp_path: Path) -> None:
    prod_keys: dict[str, Any] = {
        "client_id": "aaaa0000-0000-4000-8000-000000000001",
        "client_secret": "a" * 64,
    }
    staging_keys: dict[str, Any] = {
        "client_id": "bbbb0000-0000-4000-8000-000000000002",
        "client_secret": "b" * 64,
    }
    with quiet_demo(7, **prod_keys) as prod, quiet_demo(5, **staging_keys) as staging:
        app = make_multi_app({"prod": prod, "staging": staging}, tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            screen = await failures_screen(app, pilot)
            assert "prod · staging" in screen_text(app).split("\n")[0]
            groups = screen.query_one(GroupTable)
            empi = empi_group(groups)
            names = screen.bot_names(empi)
            assert {name.split(": ", 1)[0] for name in names} == {"prod", "staging"}
            assert {name.split(": ", 1)[1] for name in names} == EMPI_BOTS
            runs = [
                run for session in app.sessions for run in session.failure_watch.runs if EMPI in run.summary
            ]
            assert len(empi.runs) == len(runs)
            # Y names the project of the selected run's bot.
            await pilot.press("enter")
            await pilot.pause()
            table = screen.query_one(FailureTable)
            run = table.selected_run
            assert run is not None
            await pilot.press("Y")
            label = screen.session(run).label
            assert app.clipboard.splitlines()[0].startswith(f"{label}/")


async def test_hostile_names_and_errors_are_text_in_the_causes_and_the_incident(
    fresh_demo: DemoServer, tmp_path: Path
) -> None:
    """A bot's name and its error hold markup and escape sequences: shown and copied as text."""
    name = "[@click=app.quit]evil[/] \x1b]52;c;ZXZpbA==\x07bot"
    hostile = str(
        fresh_demo.store.add_bot({"resourceType": "Bot", "name": name, "runtimeVersion": "vmcontext"})["id"]
    )
    log = "Unhandled error: [bold]boom[/bold] \x1b[31m[/x]\nError: [bold]boom[/bold] [/x] for Patient/9\n"
    fresh_demo.store.add_event(hostile, outcome="4", desc=log, at=FIXED_NOW - timedelta(seconds=30))
    async with running(fresh_demo, tmp_path, (120, 40)) as (app, pilot):
        screen = await failures_screen(app, pilot)
        groups = screen.query_one(GroupTable)
        top = groups.group(groups.ids_in_order()[0])
        assert top is not None and top.newest.bot_id == hostile
        text = screen_text(app)
        assert "[@click=app.quit" in text and "Error: [bold]boom[/bold] [/x]" in text and "\x1b" not in text
        select(groups, top.signature.key)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("Y")
        copied = app.clipboard
        assert (
            copied.startswith("[@click=app.quit]evil[/] ") and "\x1b" not in copied and "\x07" not in copied
        )
        error = next(line for line in copied.splitlines() if line.startswith("error: "))
        assert "[bold]boom[/bold]" in error and "[/x]" in error
        assert isinstance(app.screen, FailuresScreen)  # (nothing ran: the app is still there)


# ---------------------------------------------------------------------------- copy keys


@pytest.mark.parametrize("size", SIZES)
async def test_y_c_l_copy_the_selected_run_on_the_failures_screen(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    async with running(demo, tmp_path, size) as (app, pilot):
        screen = await failures_screen(app, pilot)
        # On a cause: its newest run's.
        empi = empi_group(screen.query_one(GroupTable))
        select(screen.query_one(GroupTable), empi.signature.key)
        await pilot.press("y")
        assert app.clipboard == empi.newest.id
        await pilot.press("v")
        await pilot.pause()
        table = screen.query_one(FailureTable)
        await pilot.press("down")
        run = table.selected_run
        assert run is not None
        await pilot.press("y")
        assert app.clipboard == run.id
        await pilot.press("l")
        assert app.clipboard == f"{APP_BASE}AuditEvent/{run.id}"
        # c: the whole output, as shown (one GET of the run when asked).
        before = len(demo.requests)
        await pilot.press("c")
        await settle(pilot)
        event = next(e for e in demo.store.events_for(run.bot_id) if e["id"] == run.id)
        assert app.clipboard == ansi_text(event["outcomeDesc"], colour=False).plain
        assert len(app.clipboard) > len(run.summary)
        assert [r for r in demo.requests[before:] if "AuditEvent" in r.path] == [
            r for r in demo.requests[before:] if r.path.endswith(f"/AuditEvent/{run.id}")
        ]


@pytest.mark.parametrize("size", SIZES)
async def test_Y_copies_the_incident_as_plain_text(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    async with running(demo, tmp_path, size) as (app, pilot):
        erx = bot_id(demo, "erx-surescripts-send")
        status = app.sessions[0].status(erx)
        assert status is not None and status.incident.state == "failing"
        newest = status.incident.streak.last_id  # type: ignore[union-attr]
        # The bot list: the selected bot's incident, with its newest failed run.
        select(app.screen.query_one(BotTable), erx)
        await pilot.press("Y")
        lines = app.clipboard.splitlines()
        assert lines[0] == "erx-surescripts-send: failing 19m · 14× · timeout"
        assert "project: demo backend" in lines
        for start in (
            "since: 2025-03-14T11:40",
            "streak: 14 failed runs in 19m",
            "kind: timeout",
            "error: timed out",
        ):
            assert any(line.startswith(start) for line in lines), (start, lines)
        assert f"link: {APP_BASE}AuditEvent/{newest}" in lines
        event = next(e for e in demo.store.events_for(erx) if e["id"] == newest)
        found = AuditEvent.model_validate(event).input_entity
        assert found is not None and found.what is not None
        assert f"input: {found.what.reference}" in lines
        assert not any("\x1b" in line or "[/" in line for line in lines)
        from_bot_list = app.clipboard
        # The Event tab: the same incident.
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, EventScreen)
        await pilot.press("Y")
        assert app.clipboard == from_bot_list
        # The Failures screen: the selected run's bot, pointing at that run.
        screen = await failures_screen(app, pilot)
        await pilot.press("v")
        await pilot.pause()
        table = screen.query_one(FailureTable)
        lab = next(run for run in app.sessions[0].failure_watch.runs if run.kind == "crash")
        select(table, lab.id)
        await pilot.press("Y")
        lines = app.clipboard.splitlines()
        assert lines[0].startswith("lab-results-router: failing ") and lines[0].endswith(" · crash")
        assert f"link: {APP_BASE}AuditEvent/{lab.id}" in lines and "kind: crash" in lines
        assert f"error: {lab.summary}" in lines
        # On a cause: the cause across its bots.
        await pilot.press("v")
        await pilot.pause()
        groups = screen.query_one(GroupTable)
        empi = empi_group(groups)
        select(groups, empi.signature.key)
        await pilot.press("Y")
        lines = app.clipboard.splitlines()
        assert lines[0] == f"cause: {empi.signature.text} [{empi.signature.key}]"
        assert lines[1].startswith(f"{len(empi.runs)} runs · 3 bots: ")
        assert set(lines[1].split(": ", 1)[1].split(", ")) == EMPI_BOTS
        assert "ongoing: no (over)" in lines and f"link: {APP_BASE}AuditEvent/{empi.newest.id}" in lines


async def test_a_acknowledges_the_selected_runs_bot_on_the_failures_screen(
    fresh_demo: DemoServer, tmp_path: Path
) -> None:
    async with running(fresh_demo, tmp_path, (80, 24)) as (app, pilot):
        screen = await failures_screen(app, pilot)
        session = app.sessions[0]
        lab = bot_id(fresh_demo, "lab-results-router")
        crash = next(run for run in session.failure_watch.runs if run.bot_id == lab)
        # On a cause: its newest run's bot.
        select(screen.query_one(GroupTable), crash.signature.key)
        assert not session.acknowledged(lab)
        await pilot.press("a")
        await pilot.pause()
        assert session.acknowledged(lab)
        # On a run: that run's bot (one that is not failing has nothing to acknowledge).
        await pilot.press("v")
        await pilot.pause()
        table = screen.query_one(FailureTable)
        old = next(
            run
            for run in session.failure_watch.runs
            if run.bot_id == bot_id(fresh_demo, "patient-welcome-email")
        )
        select(table, old.id)
        await pilot.press("a")
        await pilot.pause()
        assert not session.acknowledged(old.bot_id)


# ---------------------------------------------------------------------------- states and kinds


@pytest.mark.parametrize("size", SIZES)
async def test_the_bot_list_says_each_bots_state(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    async with running(demo, tmp_path, size) as (app, pilot):
        table = app.screen.query_one(BotTable)

        def state(name: str) -> str:
            return str(table.get_cell(bot_id(demo, name), "state").plain)

        wide = size[0] >= 120
        assert state("erx-surescripts-send") == ("failing 19m · 14× · timeout" if wide else "✗ 19m · 14×")
        assert state("lab-results-router") == ("failing 32m · 7× · crash" if wide else "✗ 32m · 7×")
        assert state("hl7-adt-ingest") == ("recovered 35m ago" if wide else "recovered")
        assert state("legacy-hl7-bridge") == ("flaky (3 streaks in 10 runs)" if wide else "flaky 3/10")
        assert state("appointment-reminders") == ("no AuditEvents" if wide else "no audit")
        assert state("sms-opt-out-handler") == "never ran"
        # On screen, whole, with the names whole beside them; the failing bots in the failure colour.
        rows = screen_lines(app)
        row = next(line for line in rows if "erx-surescripts-send" in line)
        assert state("erx-surescripts-send") in row
        cell = table.get_cell(bot_id(demo, "erx-surescripts-send"), "state")
        assert cell.style == table.row_style(table.status(bot_id(demo, "erx-surescripts-send")))  # type: ignore[arg-type]
        header = next(line for line in rows if "Name¹" in line)
        assert "State²" in header
        # Sorted by it: the failing bots first.
        await pilot.press("2")
        first = [table.status(i).bot.display_name for i in table.ids_in_order()[:2]]  # type: ignore[union-attr]
        assert set(first) == {"erx-surescripts-send", "lab-results-router"}


@pytest.mark.parametrize("size", SIZES)
async def test_the_kind_is_next_to_the_outcome(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    async with running(demo, tmp_path, size) as (app, pilot):
        wide = size[0] >= 100
        bots = app.screen.query_one(BotTable)
        outcome = bots.get_cell(bot_id(demo, "erx-surescripts-send"), "outcome").plain
        assert outcome == ("▲ Minor · timeout" if wide else "▲ timeout")
        assert bots.get_cell(bot_id(demo, "hl7-adt-ingest"), "outcome").plain == "✓ Success"
        # The Event tab: every failed run's kind, from its output and duration; successes as they were.
        app.open_bot(bot_id(demo, "lab-results-router"))
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, EventScreen)
        table = screen.query_one(EventTable)
        cells = [table.get_cell(i, "outcome").plain for i in table.ids_in_order()[:8]]
        assert cells[:7] == ["▲ Minor (4) · crash" if wide else "▲ crash"] * 7
        assert cells[7] == ("✓ Success (0)" if wide else "✓ Success")
        assert "7× in a row · crash" in screen_text(app).split("\n")[1]  # the heading
        # The pane's outcome says it whole.
        await pane_caught_up(pilot)
        content = screen.pane.body.content
        assert isinstance(content, Text) and content.plain.startswith("▲ Minor failure (4) · crash  ")
        # The Failures screen's runs.
        failures = await failures_screen(app, pilot)
        await pilot.press("v")
        await pilot.pause()
        runs = failures.query_one(FailureTable)
        first = runs.run(runs.ids_in_order()[0])
        assert first is not None and first.kind == "timeout"
        label = runs.get_cell(first.id, "outcome").plain
        assert label == ("▲ Minor failure · timeout" if size[0] >= 120 else "▲ timeout")


# ---------------------------------------------------------------------------- snapshots


def test_failures_grouped_by_cause_120x40(snap_compare: Any, demo: DemoServer, tmp_path: Path) -> None:
    """F: one row per cause, the EMPI outage's cause selected."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("F")
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, FailuresScreen)
        select(screen.query_one(GroupTable), empi_group(screen.query_one(GroupTable)).signature.key)
        await pilot.pause()

    assert snap_compare(make_app(demo, tmp_path), terminal_size=(120, 40), run_before=run_before)


def test_failures_grouped_by_cause_80x24(snap_compare: Any, demo: DemoServer, tmp_path: Path) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("F")
        await settle(pilot)

    assert snap_compare(make_app(demo, tmp_path), terminal_size=(80, 24), run_before=run_before)


def test_bot_list_incident_rows_80x24(snap_compare: Any, demo: DemoServer, tmp_path: Path) -> None:
    """The State column at 80 columns: failing, recovered, flaky, no audit, never ran."""
    assert snap_compare(make_app(demo, tmp_path), terminal_size=(80, 24), run_before=settle)
