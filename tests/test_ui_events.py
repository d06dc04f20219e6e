"""Pilot tests of the Event tab's triage keys (issue 9), at 80x24 and 120x40, against the demo
backend over real HTTP: opening on a given run, sorting to the top, failures only, search in the
output, copy, and the runs-over-time strip."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from demo_support import FIXED_NOW, demo_fixture
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Static
from textual_support import notifications
from ui_support import APP_BASE, bot_id, on_screen, running, screen_lines, settle, status

from botmon_tui.demo import DemoServer
from botmon_tui.symbols import BARS, NO_RUNS
from botmon_tui.ui.app import BotmonApp
from botmon_tui.ui.formatting import app_palette
from botmon_tui.ui.messages import OpenBot
from botmon_tui.ui.screens.events import EventScreen
from botmon_tui.ui.widgets.event_table import EventTable
from botmon_tui.ui.widgets.outcome_pane import MAX_PANE_CHARS, OutcomePane

SIZES = [(80, 24), (120, 40)]


demo = demo_fixture(scope="function")


def reflowed(app: BotmonApp) -> str:
    """The screen's text with wrapped lines joined (and scrollbar glyphs dropped)."""
    text = " ".join(line.strip(" ▁▂▃▄▅▆▇█▔") for line in screen_lines(app))
    return re.sub(r"\s+", " ", text)


def notes(app: BotmonApp) -> str:
    return " | ".join(str(n.message) for n in notifications(app))


async def open_on(app: BotmonApp, pilot: Pilot[Any], bot: str, event_id: str) -> EventScreen:
    app.post_message(OpenBot(bot, event_id=event_id))
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, EventScreen)
    return screen


# ---------------------------------------------------------------------------- open on a run


@pytest.mark.parametrize("size", SIZES)
async def test_the_event_tab_opens_with_a_given_run_selected(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    target = bot_id(demo, "hl7-adt-ingest")
    events = demo.store.events_for(target)  # newest first
    async with running(demo, tmp_path, size) as (app, pilot):
        # On the first page: selected, on screen, its output in the pane; no extra request.
        wanted = events[40]["id"]
        before = len(demo.requests)
        screen = await open_on(app, pilot, target, wanted)
        table = screen.query_one(EventTable)
        assert table.selected_id == wanted and screen.query_one(OutcomePane).event_id == wanted
        header = 1
        assert table.scroll_y <= table.cursor_row < table.scroll_y + table.size.height - header
        assert on_screen(app, wanted[:8])
        # (the bot's own requests: the alerts' project-wide failures query is one more per poll)
        event_requests = [r for r in demo.requests[before:] if "AuditEvent?entity=" in r.path]
        assert len(event_requests) == 1
        # Three pages down: older pages are loaded until it is held.
        await pilot.press("escape")
        await settle(pilot)
        wanted = events[250]["id"]
        before = len(demo.requests)
        screen = await open_on(app, pilot, target, wanted)
        table = screen.query_one(EventTable)
        assert table.selected_id == wanted and 250 < table.row_count <= 300
        assert on_screen(app, wanted[:8])
        assert screen.query_one(OutcomePane).event_id == wanted
        assert len([r for r in demo.requests[before:] if "AuditEvent?entity=" in r.path]) == 3
        assert not screen.loading_older


async def test_a_run_that_cannot_be_found_is_said_and_the_paging_is_bounded(
    demo: DemoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botmon_tui.ui.screens import events

    monkeypatch.setattr(events, "SEEK_PAGES", 3)
    target = bot_id(demo, "hl7-adt-ingest")  # 1,584 runs
    async with running(demo, tmp_path, (80, 24)) as (app, pilot):
        before = len(demo.requests)
        screen = await open_on(app, pilot, target, "no-such-run")
        table = screen.query_one(EventTable)
        pages = [r for r in demo.requests[before:] if "AuditEvent?entity=" in r.path]
        assert len(pages) == 1 + 3 and table.row_count < 400
        assert "Run no-such-run is not among this bot's newest" in notes(app)
        # The first row stays selected; nothing else moved.
        assert table.cursor_row == 0 and table.selected_id == table.ids_in_order()[0]
        assert screen.select_event is None and not screen.loading_older


# ---------------------------------------------------------------------------- failures only


def _failures(demo: DemoServer, bot: str) -> list[str]:
    return [e["id"] for e in demo.store.events_for(bot) if e.get("outcome") in ("4", "8", "12")]


def _event_requests(demo: DemoServer, since: int) -> list[str]:
    """The bot's own AuditEvent requests (not the alerts' project-wide failures query)."""
    return [r.path for r in demo.requests[since:] if "/AuditEvent?entity=" in r.path]


@pytest.mark.parametrize("size", SIZES)
async def test_f_shows_failures_only_fetched_polled_and_paged_on_the_server(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    target = bot_id(demo, "hl7-adt-ingest")  # 1,252 runs, 53 failed
    failed = _failures(demo, target)
    assert len(failed) > 50  # more than the first page
    async with running(demo, tmp_path, size, bot_id=target, first_page=50) as (app, pilot):
        screen = app.screen
        assert isinstance(screen, EventScreen)
        table = screen.query_one(EventTable)
        assert not on_screen(app, "failures only")
        before = len(demo.requests)
        await pilot.press("f")
        await settle(pilot)
        # One request, filtered by the server: the newest 50 failures, not a page with the rest hidden.
        (request,) = _event_requests(demo, before)
        assert "outcome=4%2C8%2C12" in request or "outcome=4,8,12" in request
        assert table.ids_in_order() == failed[:50]
        assert table.cursor_row == 0 and screen.query_one(OutcomePane).event_id == failed[0]
        assert on_screen(app, "✗ failures only") and "50 failed runs" in status(app)
        # Polling in that mode: one request, with the outcome filter; a success does not show.
        ok = demo.store.add_event(target, outcome="0", desc="fine", at=FIXED_NOW + timedelta(seconds=1))
        bad = demo.store.add_event(
            target, outcome="12", desc="Error: boom", at=FIXED_NOW + timedelta(seconds=2)
        )
        before = len(demo.requests)
        app.poll_now()
        await settle(pilot)
        (request,) = _event_requests(demo, before)
        assert "outcome=4%2C8%2C12" in request or "outcome=4,8,12" in request
        assert table.ids_in_order()[0] == bad["id"] and not table.has_id(ok["id"])
        # Paging older in that mode: the rest of the failures, and no more.
        before = len(demo.requests)
        await pilot.press("o")
        await settle(pilot)
        assert all("outcome=4" in path for path in _event_requests(demo, before))
        assert table.ids_in_order() == [bad["id"], *failed]
        assert not screen.feed.has_older and f"{len(failed) + 1} failed runs" in status(app)
        # f again: every run, newest first; the header no longer says it.
        await pilot.press("f")
        await settle(pilot)
        assert table.ids_in_order()[:2] == [bad["id"], ok["id"]] and table.row_count == 50
        assert {table.event(i).outcome for i in table.ids_in_order()} >= {"0", "12"}  # type: ignore[union-attr]
        assert not on_screen(app, "failures only") and "50 events" in status(app)


async def test_failures_only_for_a_bot_without_failures_says_so(demo: DemoServer, tmp_path: Path) -> None:
    async with running(demo, tmp_path, bot_id=bot_id(demo, "nightly-cohort-refresh")) as (app, pilot):
        await pilot.press("f")
        await settle(pilot)
        assert on_screen(app, "No failed run of this bot")
        await pilot.press("f")
        await settle(pilot)
        assert app.screen.query_one(EventTable).row_count == 5


async def test_a_failed_switch_keeps_the_rows_and_says_why(demo: DemoServer, tmp_path: Path) -> None:
    async with running(demo, tmp_path, bot_id=bot_id(demo, "legacy-hl7-bridge")) as (app, pilot):
        screen = app.screen
        assert isinstance(screen, EventScreen)
        demo.faults.add(status=503, path_contains="outcome=")
        await pilot.press("f")
        await settle(pilot)
        assert not screen.failed_only and screen.query_one(EventTable).row_count == 100
        assert "Could not load failed runs" in notes(app)


# ---------------------------------------------------------------------------- search in the output

#: A demo that keeps whole logs (Medplum keeps the last 10 KiB by default; it is configurable).
whole_logs = demo_fixture(scope="function", max_log_chars=None)


def _long_log(size: int) -> str:
    """A log of ``size`` characters: ordinary lines, and every 97th one an error naming its step."""
    lines: list[str] = []
    total = step = 0
    while total < size:
        step += 1
        stamp = f"2025-03-14T11:{step % 60:02d}:00.000Z"
        if step % 97 == 0:
            line = f"{stamp} ERROR Request failed with status code 500 at step {step}"
        else:
            line = f"{stamp} info processed message {step} " + "x" * (step * 7 % 61)
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines)


async def test_search_highlights_matches_and_n_walks_a_200_kb_log(
    whole_logs: DemoServer, tmp_path: Path
) -> None:
    demo = whole_logs
    target = bot_id(demo, "legacy-hl7-bridge")
    log = _long_log(200_000)
    steps = [int(line.rsplit(" ", 1)[1]) for line in log.split("\n") if "status code 500" in line]
    event = demo.store.add_event(target, outcome="8", desc=log, at=FIXED_NOW + timedelta(seconds=1))
    # One size (each match reflows the pane: every match at two sizes cost ~20 s).
    async with running(whole_logs, tmp_path, (120, 40), bot_id=target) as (app, pilot):
        screen = app.screen
        assert isinstance(screen, EventScreen)
        pane = screen.query_one(OutcomePane)
        await pilot.press("slash", *"STATUS code 500", "enter")  # case-insensitive
        await settle(pilot)
        table = screen.query_one(EventTable)
        assert table.ids_in_order() == [event["id"]] and pane.event_id == event["id"]
        count = len(steps)
        assert len(pane.matches) == count > 20
        # The first match is on screen, highlighted; the border says which of how many.
        assert f"status code 500 at step {steps[0]}" in reflowed(app) and on_screen(
            app, f"1 of {count} · n/N"
        )
        match_style = app_palette(app).match
        content = pane.body.content
        assert isinstance(content, Text)
        highlighted = [content.plain[s.start : s.end] for s in content.spans if s.style == match_style]
        assert highlighted and all(h.casefold() == "status code 500" for h in highlighted)
        # n walks the matches: the first, one in the hidden middle of the 200 kB log, the last
        # (in its tail), and around to the first again; N walks back.
        # (Each n reflows the pane: to reach the middle and the last without walking every match,
        # the search is put on the one before, as the n's before it would have.)
        middle = count // 2
        for index in (1, middle, count - 1, 0):
            if index > 1:
                pane.current = index - 1
            await pilot.press("n")
            await pilot.pause()
            assert pane.current == index
            assert f"status code 500 at step {steps[index]}" in reflowed(app), index
            assert on_screen(app, f"{index + 1} of {count}")
        await pilot.press("N")
        await pilot.pause()
        assert pane.current == count - 1 and f"at step {steps[-1]}" in reflowed(app)
        # At most 64 KiB of it is ever in the pane.
        assert len(pane.plain) < MAX_PANE_CHARS + 2_000
        # esc clears the search: no highlight, no counter, every run back.
        await pilot.press("escape")
        await settle(pilot)
        assert pane.needle == "" and not on_screen(app, "n/N")
        content = pane.body.content
        assert isinstance(content, Text) and match_style not in {s.style for s in content.spans}
        assert table.row_count == 100


async def test_n_without_a_search_or_without_a_match_says_so(demo: DemoServer, tmp_path: Path) -> None:
    async with running(demo, tmp_path, bot_id=bot_id(demo, "legacy-hl7-bridge")) as (app, pilot):
        await pilot.press("n")
        await pilot.pause()
        assert "No search: / searches the output" in notes(app)
        # A run that matches by its outcome, not its output.
        await pilot.press("slash", *"serious", "enter")
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()
        assert "No match for the search in this run's output" in notes(app)
        assert on_screen(app, "no match in this output")


@pytest.mark.parametrize("size", SIZES)
async def test_e_jumps_to_the_next_failed_run(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    target = bot_id(demo, "legacy-hl7-bridge")
    failed = _failures(demo, target)
    async with running(demo, tmp_path, size, bot_id=target) as (app, pilot):
        table = app.screen.query_one(EventTable)
        ids = table.ids_in_order()
        shown = [i for i in ids if i in failed]
        for expected in shown[:4]:
            await pilot.press("e")
            await pilot.pause()
            assert table.selected_id == expected and on_screen(app, expected[:8])
        await pilot.press("E")
        await pilot.pause()
        assert table.selected_id == shown[2]
        # Past the last one it wraps around to the first, and says so.
        table.move_cursor(row=ids.index(shown[-1]))
        await pilot.press("e")
        await pilot.pause()
        assert table.selected_id == shown[0] and "Wrapped around" in notes(app)


async def test_e_without_failures_says_so(demo: DemoServer, tmp_path: Path) -> None:
    async with running(demo, tmp_path, bot_id=bot_id(demo, "nightly-cohort-refresh")) as (app, pilot):
        await pilot.press("e")
        await pilot.pause()
        assert "No failed run among the 5 runs shown" in notes(app)


# ---------------------------------------------------------------------------- copy


@pytest.mark.parametrize("size", SIZES)
async def test_y_c_l_copy_the_run_id_output_and_link_sanitized(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    target = bot_id(demo, "legacy-hl7-bridge")
    desc = "start\n\x1b[31mError: boom\x1b[0m\n\x1b]52;c;ZXZpbA==\x07\x1b]0;title\x07done\x9b"
    event = demo.store.add_event(target, outcome="8", desc=desc, at=FIXED_NOW + timedelta(seconds=1))
    async with running(demo, tmp_path, size, bot_id=target, notifications=True) as (app, pilot):
        table = app.screen.query_one(EventTable)
        assert table.selected_id == event["id"]
        await pilot.press("y")
        await settle(pilot)
        assert app.clipboard == event["id"]
        assert f"Copied the run's id ({len(event['id'])} characters)" in reflowed(app)
        await pilot.press("c")
        await pilot.pause()
        copied = app.clipboard
        # SGR colours dropped; the OSC 52 and title sequences made visible, not passed on.
        assert copied.startswith("start\nError: boom\n␛]52;c;ZXZpbA==␇␛]0;title␇done")
        assert not any((ord(ch) < 32 and ch != "\n") or 0x7F <= ord(ch) <= 0x9F for ch in copied)
        assert f"({len(copied)} characters)" in notes(app) and "Copied the output of run" in notes(app)
        await pilot.press("l")
        await pilot.pause()
        assert app.clipboard == f"{APP_BASE}AuditEvent/{event['id']}"
        assert "Copied the run's web-app link" in notes(app)


# ---------------------------------------------------------------------------- runs over time


def _history(app: BotmonApp) -> Text:
    content = app.screen.query_one("#history", Static).content
    assert isinstance(content, Text)
    return content


@pytest.mark.parametrize("size", SIZES)
async def test_the_runs_per_hour_strip_shows_failures_from_the_events_held(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    target = bot_id(demo, "legacy-hl7-bridge")  # a run every 30 minutes
    # The 24 clock hours up to now (12:00): from 13:00 the day before.
    day = [e for e in demo.store.events_for(target) if e["meta"]["lastUpdated"] >= "2025-03-13T13:00:00.000Z"]
    failed = [e for e in day if e.get("outcome") in ("4", "8", "12")]
    async with running(demo, tmp_path, size, bot_id=target) as (app, pilot):
        line = next(line for line in screen_lines(app) if line.strip().startswith("24h "))
        assert f"{len(day)} runs" in line and f"✗ {len(failed)} failed" in line and "not loaded" not in line
        strip = line.split("24h ", 1)[1][:24]
        # A bar an hour (the current hour, just begun, has no run yet).
        assert len(strip) == 24 and set(strip[:23]) <= set(BARS) and strip[23] == "·"
        # The hours with a failure are in the failure style, the others not.
        history = _history(app)
        fail_style = app_palette(app).error
        failing_hours = {s.start for s in history.spans if s.style == fail_style and s.end - s.start == 1}
        assert 0 < len(failing_hours) <= len(failed)
        # A new failure arrives by polling: counted, and the last hour turns to the failure style.
        before = len(demo.requests)
        demo.store.add_event(target, outcome="8", desc="Error: new", at=FIXED_NOW + timedelta(seconds=1))
        app.poll_now()
        await settle(pilot)
        # The strip makes no request of its own: one poll of this bot's runs (the alerts' own
        # project-wide query is not the strip's).
        assert len([r for r in demo.requests[before:] if f"entity=Bot%2F{target}" in r.path]) == 1
        assert f"✗ {len(failed) + 1} failed" in reflowed(app)
        last = len("24h ") + 23
        assert any(s.start == last and s.style == fail_style for s in _history(app).spans)


@pytest.mark.parametrize("size", [(60, 15), (80, 24), (120, 40)])
async def test_one_run_is_one_run_and_hours_without_runs_look_apart_from_a_few(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    bot = demo.store.add_bot({"resourceType": "Bot", "name": "once", "runtimeVersion": "vmcontext"})
    demo.store.add_event(bot["id"], outcome="0", desc="done", at=FIXED_NOW - timedelta(hours=3))
    async with running(demo, tmp_path, size, bot_id=bot["id"]) as (app, _pilot):
        history = _history(app).plain
        assert " · 1 run · no failure" in history and "1 runs" not in history
        assert "1 event" in status(app) and "1 events" not in status(app)
        strip = history.split("24h ", 1)[1][:24]
        # The hour of the run is a bar (the busiest: a full one); the hours without runs are
        # dots, a glyph no bar uses (the lowest bar is ▂, which does not read as a dot).
        assert strip.count(NO_RUNS) == 23 and strip[20] == BARS[-1] and NO_RUNS not in BARS
        assert on_screen(app, "1 run ·")


async def test_the_strip_says_which_hours_are_not_loaded(demo: DemoServer, tmp_path: Path) -> None:
    async with running(demo, tmp_path, (120, 40), bot_id=bot_id(demo, "hl7-adt-ingest")) as (app, pilot):
        first = _history(app).plain
        unknown = first.count("░")
        assert unknown > 0 and "░ not loaded" in first
        for _ in range(6):
            await pilot.press("o")
            await settle(pilot)
        later = _history(app).plain
        assert later.count("░") < unknown
