"""Pilot tests of the TUI against the demo backend over real HTTP, at 80x24 and 120x40.

Polls are triggered explicitly (auto polling off), "now" is fixed, so every assertion is exact.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from demo_support import FIXED_NOW, demo_fixture
from textual.binding import Binding
from textual.widgets import Input, Static
from ui_support import bot_id, command, on_screen, pane_caught_up, pause_until, running, settle, status

from botmon_tui.demo import DemoServer
from botmon_tui.demo.catalog import BOT_SPECS
from botmon_tui.formatting import summary_line
from botmon_tui.monitor.feed import FeedEvent
from botmon_tui.monitor.summary import MAX_BACKFILL, attention_key
from botmon_tui.ui.formatting import app_palette
from botmon_tui.ui.screens.bot_list import BotListScreen
from botmon_tui.ui.screens.events import EventScreen
from botmon_tui.ui.screens.help import HelpScreen
from botmon_tui.ui.widgets.bot_table import BotTable
from botmon_tui.ui.widgets.event_table import EventTable
from botmon_tui.ui.widgets.keyed_table import KEY_MARKS
from botmon_tui.ui.widgets.outcome_pane import OutcomePane, log_text

SIZES = [(80, 24), (120, 40)]
EPOCH = FIXED_NOW - timedelta(days=3650)


demo = demo_fixture(scope="function")


async def open_bot(app, pilot, demo: DemoServer, name: str) -> EventScreen:  # type: ignore[no-untyped-def]
    table = app.screen.query_one(BotTable)
    assert table.select_id(bot_id(demo, name))
    await pilot.press("enter")
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, EventScreen)
    return screen


# ---------------------------------------------------------------------------- bot list


@pytest.mark.parametrize("size", SIZES)
async def test_bot_list_loads(demo: DemoServer, tmp_path: Path, size: tuple[int, int]) -> None:
    async with running(demo, tmp_path, size) as (app, pilot):
        assert isinstance(app.screen, BotListScreen)
        table = app.screen.query_one(BotTable)
        # Attention first: the order of monitor.summary.attention_key (tests/test_attention.py).
        statuses = [table.status(i) for i in table.ids_in_order()]
        assert statuses == sorted(app.sessions[0].project.statuses.values(), key=attention_key)
        names = [s.bot.display_name for s in statuses if s is not None]
        assert names[-1] == "sms-opt-out-handler"  # writes AuditEvents, never ran: the quietest
        # 1 sorts by name; 0 goes back to attention first.
        await pilot.press("1")
        assert [table.status(i).bot.display_name for i in table.ids_in_order()] == sorted(  # type: ignore[union-attr]
            b["name"] for b in demo.store.bots
        )
        await pilot.press("0")
        assert [table.status(i) for i in table.ids_in_order()] == statuses
        assert f"{len(BOT_SPECS)} bots" in status(app)
        assert status(app).startswith("● live")
        # The audit column warns about bots whose settings mean no events will appear.
        log_only = table.get_cell(bot_id(demo, "appointment-reminders"), "audit")
        never = table.get_cell(bot_id(demo, "stale-task-cleanup"), "audit")
        assert log_only.plain.startswith("⚠") and never.plain.startswith("⚠")
        assert not table.get_cell(bot_id(demo, "hl7-adt-ingest"), "audit").plain.startswith("⚠")
        # Loading the list costs a fixed number of requests, not one per bot; bots quieter than
        # the project's newest 1,000 runs get their own last run looked up once (bounded), and a
        # bot whose cadence those runs cannot tell gets its runs read once (cgm-device-sync).
        lookups = [r for r in demo.requests if "_count=1&" in r.path]
        cadences = [r for r in demo.requests if "_elements=meta%2Cperiod" in r.path]
        assert len(cadences) == 1 and bot_id(demo, "cgm-device-sync") in cadences[0].path
        assert len(demo.requests) - len(lookups) - len(cadences) <= 5
        looked_up = {bid for bid in table.ids_in_order() if table.status(bid).looked_up}  # type: ignore[union-attr]
        assert len(lookups) == len(looked_up) <= MAX_BACKFILL


async def test_bot_list_polls_cheaply_and_filters(demo: DemoServer, tmp_path: Path) -> None:
    async with running(demo, tmp_path) as (app, pilot):
        table = app.screen.query_one(BotTable)
        # A poll costs two requests, whatever the number of bots.
        before = len(demo.requests)
        app.poll_now()
        await settle(pilot)
        assert len(demo.requests) - before == 2
        # p pauses; r still refreshes at once.
        await pilot.press("p")
        assert status(app).startswith("‖ paused")
        before = len(demo.requests)
        await pilot.press("r")
        await settle(pilot)
        assert len(demo.requests) - before == 2
        await pilot.press("p")
        await settle(pilot)
        assert status(app).startswith("● live")
        # A new run shows in its bot's row.
        target = bot_id(demo, "sms-opt-out-handler")
        assert table.status(target).last_event is None  # type: ignore[union-attr]
        demo.store.add_event(target, outcome="8", desc="crashed", at=FIXED_NOW - timedelta(seconds=30))
        app.poll_now()
        await settle(pilot)
        # (80 columns: the symbol and the failure's kind, in place of "✗ Serious")
        assert table.get_cell(target, "outcome").plain == "✗ error"
        assert table.get_cell(target, "failures").plain == "1"
        assert str(table.get_cell(target, "last_run")) == "30s ago"
        # The filter, and its own empty state.
        await pilot.press("slash", *"hl7")
        await pause_until(pilot, lambda: app.screen.filter_text == "hl7", "filtered")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await settle(pilot)
        names = [table.status(i).bot.display_name for i in table.ids_in_order()]  # type: ignore[union-attr]
        assert names == ["hl7-adt-ingest", "legacy-hl7-bridge"]
        await pilot.press("slash")
        app.screen.query_one("#filter", Input).value = "zzz"
        await pilot.press("enter")
        await settle(pilot)
        empty = app.screen.query_one("#empty")
        assert app.screen.query_one("#empty-area").display and not table.display
        assert "No bot matches the filter 'zzz'" in str(empty.content)  # type: ignore[attr-defined]
        await pilot.press("escape")
        await settle(pilot)
        assert table.display and table.row_count == len(BOT_SPECS)
        # A deleted bot: polls cannot see it go; r reads the whole list (still two requests).
        gone = bot_id(demo, "sms-opt-out-handler")
        demo.store.delete_bot(gone)
        app.poll_now()
        await settle(pilot)
        assert table.has_id(gone)
        before = len(demo.requests)
        await pilot.press("r")
        await settle(pilot)
        assert len(demo.requests) - before == 2
        assert not table.has_id(gone) and table.row_count == len(BOT_SPECS) - 1


# ---------------------------------------------------------------------------- drill down


@pytest.mark.parametrize("size", SIZES)
async def test_drill_down_and_back(demo: DemoServer, tmp_path: Path, size: tuple[int, int]) -> None:
    async with running(demo, tmp_path, size) as (app, pilot):
        target = bot_id(demo, "hl7-adt-ingest")
        screen = await open_bot(app, pilot, demo, "hl7-adt-ingest")
        table = screen.query_one(EventTable)
        # The web app's columns, each with the number key that sorts by it.
        assert [c.label.plain for c in table.ordered_columns][:3] == ["ID¹", "Outcome²", "Outcome Desc³"]
        assert table.ordered_columns[3].label.plain == "Last Updated⁴▼"
        assert table.row_count == 100
        # Newest first, and the id column shows at least 8 characters.
        times = [table.event(i).when or EPOCH for i in table.ids_in_order()]  # type: ignore[union-attr]
        assert times == sorted(times, reverse=True)
        assert table.ordered_columns[0].width >= 9
        heading = str(screen.query_one("#heading", Static).content)
        assert "hl7-adt-ingest" in heading and target in heading
        assert "100 events" in status(app)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, BotListScreen)
        assert app.screen.query_one(BotTable).selected_id == target


async def test_bot_option_opens_the_event_tab_and_escape_goes_to_the_list(
    demo: DemoServer, tmp_path: Path
) -> None:
    target = bot_id(demo, "lab-results-router")
    async with running(demo, tmp_path, bot_id=target) as (app, pilot):
        assert isinstance(app.screen, EventScreen)
        assert app.screen.query_one(EventTable).row_count == 100
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, BotListScreen)
        assert app.screen.query_one(BotTable).row_count == len(BOT_SPECS)


async def test_unknown_bot_id_says_so(demo: DemoServer, tmp_path: Path) -> None:
    async with running(demo, tmp_path, bot_id="does-not-exist") as (app, pilot):
        banner = app.screen.query_one("#banner")
        assert banner.cause == "error"  # type: ignore[attr-defined]
        assert "Bot/does-not-exist was not found" in str(banner.content)  # type: ignore[attr-defined]
        assert "not found" in status(app)  # (in a word: the banner says it in full)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, BotListScreen)


async def test_a_bot_deleted_while_viewed_keeps_its_id_on_screen(demo: DemoServer, tmp_path: Path) -> None:
    """The "not found" mark takes room on the heading's first line: the deep link gives way to
    the id alone (always visible), as it does for a long name."""
    async with running(demo, tmp_path, (100, 30)) as (app, pilot):
        target = bot_id(demo, "hl7-adt-ingest")
        screen = await open_bot(app, pilot, demo, "hl7-adt-ingest")
        heading = screen.query_one("#heading")
        assert target in heading.render_line(0).text
        demo.store.delete_bot(target)
        await pilot.press("r")
        await settle(pilot)
        first = heading.render_line(0).text
        assert "not found (deleted?)" in first and f"Bot/{target}" in first


# ---------------------------------------------------------------------------- sorting


def _severity(event: FeedEvent) -> int:
    return event.outcome_info.severity


@pytest.mark.parametrize("size", SIZES)
async def test_each_column_sorts_both_ways(demo: DemoServer, tmp_path: Path, size: tuple[int, int]) -> None:
    """Every column of the Event tab, as its record says (``EventTable.COLUMNS``: a new column is
    tested here by itself): its number key sorts by it, the first press in its own direction,
    the next the other way; the header says so; the view shows the top of the new order."""
    target = bot_id(demo, "legacy-hl7-bridge")
    for second, text in enumerate(["zulu: done", "Alpha: started", "mike: retry"]):
        demo.store.add_event(target, outcome="4", desc=text, at=FIXED_NOW - timedelta(seconds=second + 1))
    async with running(demo, tmp_path, size, bot_id=target) as (app, pilot):
        screen = app.screen
        table = screen.query_one(EventTable)
        pane = screen.query_one(OutcomePane)
        for number, column in enumerate(EventTable.COLUMNS, 1):
            # Pressing the active column's key reverses it; another column starts in its own direction.
            first = (not table.sort_reverse) if column.key == table.sort_column else column.descending_first
            # The column tells the rows apart (or its sort would show nothing).
            assert len({str(table.get_cell(i, column.key)) for i in table.ids_in_order()}) > 1, column.key
            for reverse in (first, not first):
                # From a row further down, scrolled: the sort shows the top of the new order.
                table.move_cursor(row=min(60, table.row_count - 1))
                await pilot.pause()
                assert table.scroll_y > 0
                await pilot.press(str(number))
                await pilot.pause()
                assert (table.sort_column, table.sort_reverse) == (column.key, reverse)
                key = table.sort_key(column.key, reverse)
                keys = [key(i) for i in table.ids_in_order()]
                assert keys == sorted(keys, reverse=reverse), (number, reverse)
                # The header shows the column, its key and the direction; the cursor is on the first
                # row of the new order, the view at the top, and the pane shows that row.
                label = table.ordered_columns[number - 1].label.plain
                assert label.endswith(f"{KEY_MARKS[number - 1]}{'▼' if reverse else '▲'}")
                top = table.ids_in_order()[0]
                assert table.cursor_row == 0 and table.scroll_y == 0 and table.selected_id == top
                assert pane.event_id == top
                assert on_screen(app, top[:8]) and on_screen(app, label)
        # Clicking a header sorts by it too; clicking again reverses.
        x = table.ordered_columns[0].get_render_width(table) + 2
        await pilot.click(EventTable, offset=(x, 0))
        assert (table.sort_column, table.sort_reverse) == ("outcome", True)
        await pilot.click(EventTable, offset=(x, 0))
        assert (table.sort_column, table.sort_reverse) == ("outcome", False)
        severities = [_severity(table.event(i)) for i in table.ids_in_order()]  # type: ignore[arg-type]
        assert severities == sorted(severities)


@pytest.mark.parametrize("size", SIZES)
async def test_a_bot_list_sort_shows_the_top(demo: DemoServer, tmp_path: Path, size: tuple[int, int]) -> None:
    async with running(demo, tmp_path, size) as (app, pilot):
        table = app.screen.query_one(BotTable)
        table.move_cursor(row=table.row_count - 1)
        await pilot.pause()
        await pilot.press(str(BotTable.number_of("failures")))
        await pilot.pause()
        statuses = [table.status(i) for i in table.ids_in_order()]
        most = max(s.recent_failures for s in statuses if s is not None)
        top = statuses[0]
        assert top is not None and top.recent_failures == most > 0
        assert table.cursor_row == 0 and table.scroll_y == 0 and table.selected_bot is top.bot
        assert on_screen(app, top.bot.display_name[:12])


# ---------------------------------------------------------------------------- the pane


@pytest.mark.parametrize("size", SIZES)
async def test_pane_shows_the_highlighted_event_in_full(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    async with running(demo, tmp_path, size) as (app, pilot):
        screen = await open_bot(app, pilot, demo, "hl7-adt-ingest")
        table = screen.query_one(EventTable)
        pane = screen.query_one(OutcomePane)
        # The longest output among the loaded events, with several lines.
        longest = max(table.ids_in_order(), key=lambda i: len(table.event(i).outcomeDesc or ""))  # type: ignore[union-attr]
        event = table.event(longest)
        assert event is not None and (event.outcomeDesc or "").count("\n") > 3
        table.select_id(longest)
        await pane_caught_up(pilot)
        assert pane.event_id == longest
        # The whole output, read as Medplum writes it (Lambda lines as columns: issue 18).
        assert log_text(event.outcomeDesc or "", app_palette(app), tz=app.tz).plain in pane.plain
        assert event.outcome_info.display in pane.plain and longest in pane.plain
        # tab focuses the pane (scrollable), escape goes back to the table, then to the list.
        await pilot.press("tab")
        assert pane.has_focus
        await pilot.press("pagedown")
        await pilot.press("escape")
        assert table.has_focus
        assert screen.has_class("-wide") is (size[0] >= 140)
        # The selected row shows its absolute time, the others a relative age; t shows all absolute.
        ids = table.ids_in_order()
        table.select_id(ids[0])
        await pilot.pause()
        assert str(table.get_cell(ids[0], "updated")).startswith(("2025-03-14 ", "03-14 "))
        assert str(table.get_cell(ids[1], "updated")).endswith(" ago")
        await pilot.press("t")
        assert str(table.get_cell(ids[1], "updated")).startswith(("2025-03-1", "03-1"))
        await pilot.press("t")
        assert str(table.get_cell(ids[1], "updated")).endswith(" ago")
        if size != (120, 40):
            return
        # A wide terminal puts the pane beside the table, a narrow one below it.
        await pilot.resize_terminal(200, 50)
        await pilot.pause()
        assert screen.has_class("-wide")
        assert pane.region.x > table.region.x and pane.region.y == table.region.y
        await pilot.resize_terminal(*size)
        await pilot.pause()
        assert not screen.has_class("-wide")
        assert pane.region.y > table.region.y


# ---------------------------------------------------------------------------- polling


async def test_new_run_appears_and_the_cursor_stays(demo: DemoServer, tmp_path: Path) -> None:
    async with running(demo, tmp_path, (120, 40)) as (app, pilot):
        screen = await open_bot(app, pilot, demo, "hl7-adt-ingest")
        table = screen.query_one(EventTable)
        for _ in range(4):
            await pilot.press("down")
        selected, row_on_screen = table.selected_id, table.cursor_row - table.scroll_y
        target = bot_id(demo, "hl7-adt-ingest")
        new = demo.store.add_event(
            target, outcome="4", desc="fresh run\nsecond line", at=FIXED_NOW + timedelta(seconds=5)
        )
        before = len(demo.requests)
        app.poll_now()
        await settle(pilot)
        # The project's poll (bots changed, runs since) saw a run of this bot: the tab asks for it
        # (one request), and the alerts ask for the project's new failures (this one is new).
        paths = [r.path.split("?")[0] for r in demo.requests[before:]]
        assert sorted(paths) == ["/fhir/R4/AuditEvent"] * 3 + ["/fhir/R4/Bot"]
        assert table.ids_in_order()[0] == new["id"]
        assert table.row_count == 101
        assert table.selected_id == selected
        assert screen.query_one(OutcomePane).event_id == selected
        assert table.cursor_row - table.scroll_y == row_on_screen or table.scroll_y == 0
        assert "101 events" in status(app)
        # An idle poll changes nothing.
        app.poll_now()
        await settle(pilot)
        assert table.row_count == 101 and table.selected_id == selected


async def test_the_bot_is_read_again_on_a_time_budget_not_per_poll(demo: DemoServer, tmp_path: Path) -> None:
    """An idle poll with an Event tab open is the project's two requests (bots changed, runs since)
    however short the interval: the tab's own runs query asks nothing while the project's poll saw
    no run of its bot, except once a minute (an AuditEvent that is not a bot run); the Bot itself
    (deleted or reconfigured while viewed) is read again once five minutes have passed."""
    from botmon_tui.ui.screens import events as events_module

    now = [1000.0]
    bots, runs = "/fhir/R4/Bot", "/fhir/R4/AuditEvent"
    bot = "/fhir/R4/Bot/" + bot_id(demo, "hl7-adt-ingest")
    async with running(demo, tmp_path, (120, 40), monotonic=lambda: now[0]) as (app, pilot):
        screen = await open_bot(app, pilot, demo, "hl7-adt-ingest")
        assert screen.own_poller is not None

        async def polls(n: int) -> list[str]:
            """``n`` rounds of what the timers do: the project's poll, then the tab's own."""
            before = len(demo.requests)
            for _ in range(n):
                app.poll_now()
                await settle(pilot)
                screen.own_poller.poll_now()  # type: ignore[union-attr]
                await settle(pilot)
            return [r.path.split("?")[0] for r in demo.requests[before:]]

        # The list read the Bot a moment before it was opened: its Event tab does not read it again.
        assert await polls(5) == [bots, runs] * 5
        now[0] += events_module.FEED_RECHECK_SECONDS - 1
        assert await polls(1) == [bots, runs]
        now[0] += 2
        assert await polls(1) == [bots, runs, runs]
        now[0] = 1000.0 + events_module.BOT_RECHECK_SECONDS - 1
        assert await polls(1) == [bots, runs, runs]
        now[0] += 2
        assert await polls(1) == [bots, runs, bot, runs]
        assert await polls(1) == [bots, runs]
        # r reads the Bot again at once, and the runs: the project's, then the tab's.
        before = len(demo.requests)
        await pilot.press("r")
        await settle(pilot)
        assert [r.path.split("?")[0] for r in demo.requests[before:]] == [bots, runs, bot, runs]
        assert await polls(1) == [bots, runs]


async def test_new_rows_keep_a_scrolled_view_still(demo: DemoServer, tmp_path: Path) -> None:
    async with running(demo, tmp_path, bot_id=bot_id(demo, "hl7-adt-ingest")) as (app, pilot):
        screen = app.screen
        assert isinstance(screen, EventScreen)

        table = screen.query_one(EventTable)
        table.move_cursor(row=30)
        await pilot.pause()
        assert table.scroll_y > 0
        top_before = table.ids_in_order()[round(table.scroll_y)]
        selected, offset = table.selected_id, table.cursor_row - table.scroll_y
        target = bot_id(demo, "hl7-adt-ingest")
        for second in (5, 6, 7):
            demo.store.add_event(
                target, outcome="0", desc=f"run {second}", at=FIXED_NOW + timedelta(seconds=second)
            )
        app.poll_now()
        await settle(pilot)
        assert table.selected_id == selected
        assert table.cursor_row - table.scroll_y == offset
        assert table.ids_in_order()[round(table.scroll_y)] == top_before


async def test_server_error_keeps_data_and_recovers(demo: DemoServer, tmp_path: Path) -> None:
    # Auto polling on (with an hour's interval) so that the status shows the retry countdown.
    target = bot_id(demo, "hl7-adt-ingest")
    async with running(demo, tmp_path, bot_id=target, auto_poll=True) as (app, pilot):
        screen = app.screen
        assert isinstance(screen, EventScreen)

        table = screen.query_one(EventTable)
        demo.faults.add(status=500, path_contains="AuditEvent")
        app.poll_now()
        await settle(pilot)
        line = status(app)
        assert re.match(r"✗ retry in \d+s · ", line)
        assert "HTTP 500" in line and "showing data from" in line
        assert table.row_count == 100  # the last good data stays
        # Medplum's 429: the wait it asks for is honoured and shown.
        demo.faults.rate_limited(ms_before_next=7000, path_contains="AuditEvent")
        app.poll_now()
        await settle(pilot)
        line = status(app)
        assert "Rate limited" in line and "retry in 7s" in line
        new = demo.store.add_event(
            target, outcome="0", desc="after the outage", at=FIXED_NOW + timedelta(seconds=9)
        )
        app.poll_now()
        await settle(pilot)
        line = status(app)
        assert line.startswith("● live") and "recovered" in line
        assert table.ids_in_order()[0] == new["id"] and table.row_count == 101


@pytest.mark.parametrize(("size", "key"), [((60, 15), "G"), ((80, 24), "end"), ((120, 40), "G")])
async def test_the_last_row_is_one_key_away_when_older_runs_must_load_first(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int], key: str
) -> None:
    target = bot_id(demo, "hl7-adt-ingest")
    async with running(demo, tmp_path, size, bot_id=target) as (app, pilot):
        screen = app.screen
        assert isinstance(screen, EventScreen)
        table = screen.query_one(EventTable)
        assert table.row_count == 100 and screen.feed.has_older
        selected = table.selected_id
        await pilot.press(key)  # once
        await settle(pilot)
        # Every older page came in, and the cursor followed the bottom to the oldest run.
        everything = len(demo.store.events_for(target))
        assert not screen.feed.has_older and table.row_count == len(screen.feed) == everything > 200
        assert table.cursor_row == table.row_count - 1 and table.selected_event is screen.feed.oldest
        times = [table.event(i).when or EPOCH for i in table.ids_in_order()]
        assert times == sorted(times, reverse=True) and selected in table.ids_in_order()
        before = len(demo.requests)
        await pilot.press("o")  # nothing older to ask for
        await settle(pilot)
        assert len(demo.requests) == before


async def test_a_move_during_the_pages_of_g_stops_them(demo: DemoServer, tmp_path: Path) -> None:
    async with running(demo, tmp_path, bot_id=bot_id(demo, "hl7-adt-ingest")) as (app, pilot):
        screen = app.screen
        assert isinstance(screen, EventScreen)
        table = screen.query_one(EventTable)
        demo.faults.latency = 0.2  # (each page takes a while)
        await pilot.press("G")
        await pilot.press("home")  # the user went back up while the first page was on its way
        demo.faults.latency = 0.0
        await settle(pilot)
        assert table.cursor_row == 0 and screen.feed.has_older and 190 <= table.row_count <= 200


async def test_other_orders_load_older_events_only_on_request(demo: DemoServer, tmp_path: Path) -> None:
    """Oldest first, the newest run sits on the last row: moving there is no request for older
    events. It used to be one, and each page loaded asked for the next: the whole history paged in."""
    async with running(demo, tmp_path, bot_id=bot_id(demo, "hl7-adt-ingest")) as (app, pilot):
        screen = app.screen
        assert isinstance(screen, EventScreen)
        table = screen.query_one(EventTable)
        assert table.row_count == 100 and screen.feed.has_older
        before = len(demo.requests)
        await pilot.press("4")  # Last Updated, oldest first
        await settle(pilot)
        assert table.cursor_row == 0 and not table.oldest_at_bottom
        assert table.selected_event is screen.feed.oldest
        await pilot.press("end")
        await settle(pilot)
        assert table.row_count == 100 and len(demo.requests) == before
        await pilot.press("o")  # still there when asked for
        await settle(pilot)
        assert 190 <= table.row_count <= 200 and len(demo.requests) == before + 1


async def test_event_filter_and_its_empty_state(demo: DemoServer, tmp_path: Path) -> None:
    async with running(demo, tmp_path, bot_id=bot_id(demo, "hl7-adt-ingest")) as (app, pilot):
        screen = app.screen
        assert isinstance(screen, EventScreen)

        table = screen.query_one(EventTable)
        # From a success row further down: the filter hides it, and shows the top of the matches.
        success = next(i for i in table.ids_in_order()[30:] if table.event(i).outcome == "0")  # type: ignore[union-attr]
        table.select_id(success)
        await pilot.pause()
        assert table.scroll_y > 0
        await pilot.press("slash", *"minor")
        await pause_until(pilot, lambda: screen.filter_text == "minor", "filtered")
        await pilot.press("enter")
        await settle(pilot)
        outcomes = {table.event(i).outcome for i in table.ids_in_order()}  # type: ignore[union-attr]
        assert outcomes == {"4"}
        assert f"{table.row_count} shown" in status(app)
        assert table.cursor_row == 0 and table.scroll_y == 0
        assert screen.query_one(OutcomePane).event_id == table.ids_in_order()[0]
        await pilot.press("slash")
        screen.query_one("#filter", Input).value = "zqzq"
        await pilot.press("enter")
        await settle(pilot)
        banner = screen.query_one("#banner")
        assert banner.cause == "filtered"  # type: ignore[attr-defined]
        assert "No event matches the filter" in str(banner.content)  # type: ignore[attr-defined]
        await pilot.press("escape")
        await settle(pilot)
        assert table.row_count == 100 and isinstance(app.screen, EventScreen)


async def test_keys_typed_ahead_after_a_filter_are_not_lost(demo: DemoServer, tmp_path: Path) -> None:
    """``/``, a name, ``enter`` ``enter`` opens the bot, with no pause between the keys."""
    async with running(demo, tmp_path) as (app, pilot):
        await pilot.press("slash", *"legacy", "enter", "enter")
        await settle(pilot)
        assert isinstance(app.screen, EventScreen)
        assert app.screen.bot_id == bot_id(demo, "legacy-hl7-bridge")


# ---------------------------------------------------------------------------- no events


def _add_bot(demo: DemoServer, name: str, **fields: object) -> str:
    bot = demo.store.add_bot({"resourceType": "Bot", "name": name, "runtimeVersion": "vmcontext", **fields})
    return str(bot["id"])


BANNERS = {
    "log-only": ("appointment-reminders", {}, 'set Bot.auditEventDestination to include "resource"'),
    "never": ("stale-task-cleanup", {}, 'auditEventTrigger is "never"'),
    "on-error": (None, {"auditEventTrigger": "on-error"}, "records only failures"),
    "on-output": (None, {"auditEventTrigger": "on-output"}, "only runs that log something"),
    "not-run": ("sms-opt-out-handler", {}, "it has most likely never run"),
}


async def test_banner_for_each_no_events_cause(demo: DemoServer, tmp_path: Path) -> None:
    targets = {
        cause: bot_id(demo, name) if name else _add_bot(demo, f"new-{cause}-bot", **fields)
        for cause, (name, fields, _) in BANNERS.items()
    }
    async with running(demo, tmp_path, bot_id=targets["log-only"]) as (app, pilot):
        for cause, target in targets.items():
            if cause != "log-only":
                app.open_bot(target)
                await settle(pilot)
            screen = app.screen
            assert isinstance(screen, EventScreen) and screen.bot_id == target
            banner = screen.query_one("#banner")
            assert banner.cause == cause  # type: ignore[attr-defined]
            text = str(banner.content)  # type: ignore[attr-defined]
            assert BANNERS[cause][2] in text
            assert "https://www.medplum.com/docs/bots/monitoring-bots" in text
            assert screen.query_one("#banner-area").display and not screen.query_one("#body").display
        # The first run replaces the banner by the table.
        demo.store.add_event(targets["not-run"], outcome="0", desc="hello", at=FIXED_NOW)
        app.open_bot(targets["not-run"])
        await settle(pilot)
        assert not app.screen.query_one("#banner-area").display
        assert app.screen.query_one(EventTable).row_count == 1


# ---------------------------------------------------------------------------- hostile text


async def test_markup_and_escapes_in_server_text_show_literally(demo: DemoServer, tmp_path: Path) -> None:
    evil_name = "[@click=app.quit]evil[/] [/x] \x1b]0;pwned\x07"
    target = _add_bot(demo, evil_name)
    output = "[@click=app.quit]x[/]\n[/x] [bold]not bold\n\x1b]52;c;ZXZpbA==\x07 \x1b[2J \x9b31m tail"
    demo.store.add_event(target, outcome="4", desc=output, at=FIXED_NOW - timedelta(minutes=1))
    async with running(demo, tmp_path, (120, 40)) as (app, pilot):
        table = app.screen.query_one(BotTable)
        name_cell = table.get_cell(target, "name").plain
        # (its last run failed: "! " marks the row)
        assert name_cell.startswith("! [@click=app.quit]evil[/] [/x] ") and "\x1b" not in name_cell
        screen = await open_bot(app, pilot, demo, evil_name)
        events = screen.query_one(EventTable)
        first = events.ids_in_order()[0]
        # The summary line (no error in it: its last line), escapes shown as symbols.
        desc = events.get_cell(first, "desc").plain
        assert desc == summary_line(output) == "␛]52;c;ZXZpbA==␇ ␛[2J \ufffd31m tail"
        pane = screen.query_one(OutcomePane)
        assert "[@click=app.quit]x[/]\n[/x] [bold]not bold" in pane.plain
        assert not any(ch in pane.plain for ch in "\x1b\x07\x9b")
        heading = str(screen.query_one("#heading", Static).content)
        assert "[@click=app.quit]evil[/]" in heading
        # Clicking where the "link" text is does nothing: the app is still here.
        await pilot.click(OutcomePane, offset=(3, 0))
        await pilot.click("#heading", offset=(3, 0))
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, EventScreen)


# ---------------------------------------------------------------------------- help, palette, safety


async def test_help_lists_every_key_of_the_screen(demo: DemoServer, tmp_path: Path) -> None:
    """Every key of this app on this screen, in its binding's words (the tooltip), and none of
    Textual's generic keys (focus next, cursor left, page left, its own palette key)."""
    from botmon_tui.ui.keys import describe

    async with running(demo, tmp_path, bot_id=bot_id(demo, "hl7-adt-ingest")) as (app, pilot):
        screen = app.screen
        assert isinstance(screen, EventScreen)
        own = [*EventScreen.BINDINGS, *EventTable.BINDINGS, *type(app).BINDINGS]
        await pilot.press("question_mark")
        await pilot.pause()
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        text = help_screen.plain
        for binding in own:
            assert isinstance(binding, Binding)
            if binding.description:
                assert describe(binding) in text, binding
        for words in ("move the cursor", "page down", "click a column header", "ctrl+p"):
            assert words in text, words
        for generic in ("Focus Next", "Focus Previous", "Cursor left", "Page Left", "^p", "^q"):
            assert generic not in text, generic
        # ctrl+c quits here: Textual's "copy selected text" on the same key is not offered.
        assert "Copy selected text" not in text
        await pilot.press("escape")
        assert isinstance(app.screen, EventScreen)


async def test_every_binding_has_an_id() -> None:
    from botmon_tui.ui.app import BotmonApp
    from botmon_tui.ui.screens.base import PollingScreen

    classes = [BotmonApp, BotListScreen, EventScreen, HelpScreen, BotTable, EventTable, PollingScreen]
    for cls in classes:
        for binding in [*cls.__dict__.get("BINDINGS", []), *cls.__dict__.get("POLL_BINDINGS", [])]:
            assert getattr(binding, "id", None), (cls.__name__, binding)


async def test_command_palette_opens_a_bot_and_runs_actions(demo: DemoServer, tmp_path: Path) -> None:
    async with running(demo, tmp_path, (120, 40)) as (app, pilot):
        await command(pilot, "questi")
        assert isinstance(app.screen, EventScreen)
        assert app.screen.bot_id == bot_id(demo, "questionnaire-scorer")
        # The current screen's actions are offered too.
        table = app.screen.query_one(EventTable)
        await command(pilot, "outc")
        assert table.sort_column == "outcome"


async def test_a_bug_in_a_poll_is_logged_not_fatal(
    demo: DemoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(demo, tmp_path, bot_id=bot_id(demo, "hl7-adt-ingest")) as (app, pilot):
        screen = app.screen
        assert isinstance(screen, EventScreen)

        async def broken() -> None:
            raise KeyError("boom")

        monkeypatch.setattr(screen.feed, "poll", broken)
        await pilot.press("r")
        await settle(pilot)
        line = status(app)
        assert line.startswith("✗") and "Internal error (KeyError)" in line
        log = (tmp_path / "botmon-tui.log").read_text()
        assert "KeyError: 'boom'" in log and "Traceback" in log
        assert screen.query_one(EventTable).row_count == 100
        monkeypatch.undo()
        await pilot.press("r")
        await settle(pilot)
        assert status(app).startswith("● live")


async def test_no_color(demo: DemoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    async with running(demo, tmp_path) as (app, pilot):
        assert app.no_color
        screen = await open_bot(app, pilot, demo, "legacy-hl7-bridge")
        table = screen.query_one(EventTable)
        # Outcomes read without colour: symbol and words.
        cells = {table.get_cell(i, "outcome").plain for i in table.ids_in_order()}
        # (80 columns: the short form, the symbol and the failure's kind)
        assert {cell.split(" ")[0] for cell in cells} >= {"✗", "✖", "✓"}
        # Failures stay bold, and no colour is asked for (greys would hide them).
        for row in table.ids_in_order():
            style = table.get_cell(row, "outcome").style
            assert style.color is None and style.bgcolor is None
            event = table.event(row)
            assert event is not None
            if event.outcome in ("4", "8", "12"):
                assert style.bold


async def test_keymap_remaps_by_binding_id(demo: DemoServer, tmp_path: Path) -> None:
    async with running(demo, tmp_path, keymap={"poll.pause": "space"}) as (app, pilot):
        await pilot.press("space")
        assert status(app).startswith("‖ paused")


async def test_the_selected_row_stays_in_sight_when_the_terminal_shrinks(
    demo: DemoServer, tmp_path: Path
) -> None:
    async with running(demo, tmp_path, (120, 40), bot_id=bot_id(demo, "hl7-adt-ingest")) as (app, pilot):
        table = app.screen.query_one(EventTable)
        table.move_cursor(row=14)
        await pilot.pause()
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        top = round(table.scroll_y)
        visible = table.scrollable_content_region.height - 1  # (the header row)
        assert table.cursor_row == 14
        assert top <= table.cursor_row < top + visible, (top, visible)
