"""Pilot tests of issue 18 on the Event tab, against the demo backend over real HTTP: the search
of a whole 200 kB log."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from demo_support import FIXED_NOW, demo_fixture
from ui_support import bot_id, on_screen, running, screen_lines, settle

from botmon_tui.demo import DemoServer
from botmon_tui.ui.app import BotmonApp
from botmon_tui.ui.screens.events import EventScreen
from botmon_tui.ui.widgets.event_table import EventTable
from botmon_tui.ui.widgets.outcome_pane import MAX_MATCHES, OutcomePane

#: A demo that keeps whole logs (Medplum keeps the last 10 KiB by default; it is configurable).
whole_logs = demo_fixture(scope="function", max_log_bytes=None)


def reflowed(app: BotmonApp) -> str:
    """The screen's text with wrapped lines joined (and scrollbar glyphs dropped)."""
    text = " ".join(line.strip(" ▁▂▃▄▅▆▇█▔") for line in screen_lines(app))
    return re.sub(r"\s+", " ", text)


def big_log(lines: int) -> str:
    """``lines`` rows of a noisy bot; a marker on the first, the middle and the last one, and
    ``huge`` on the last one only."""
    rows = [f"row {n:06d} imported from the batch" for n in range(lines)]
    for n in (0, lines // 2, lines - 1):
        rows[n] += f" marker {n:06d}"
    rows[-1] += " (huge)"
    return "\n".join(rows)


async def test_search_covers_a_whole_200_kb_log(whole_logs: DemoServer, tmp_path: Path) -> None:
    srv = whole_logs
    target = bot_id(srv, "legacy-hl7-bridge")
    lines = MAX_MATCHES + 1_000
    log = big_log(lines)
    assert len(log) > 200_000
    event = srv.store.add_event(target, outcome="4", desc=log, at=FIXED_NOW + timedelta(seconds=1))
    async with running(srv, tmp_path, bot_id=target) as (app, pilot):
        screen = app.screen
        assert isinstance(screen, EventScreen)
        table, pane = screen.query_one(EventTable), screen.query_one(OutcomePane)
        # The filter reads whole logs: "huge", on the last line, finds the run (and only it).
        await pilot.press("slash", *"HUGE", "enter")
        await settle(pilot)
        assert table.ids_in_order() == [event["id"]] and pane.event_id == event["id"]
        assert len(pane.matches) == 1 and "(huge)" in reflowed(app)
        # First, middle and last matches, then around to the first again.
        await pilot.press("escape", "slash", *"marker", "enter")
        await settle(pilot)
        assert table.ids_in_order() == [event["id"]] and len(pane.matches) == 3
        for index, row in [(0, 0), (1, lines // 2), (2, lines - 1), (0, 0)]:
            assert pane.current == index and f"marker {row:06d}" in reflowed(app), (index, row)
            assert on_screen(app, f"{index + 1} of 3")
            await pilot.press("n")
            await pilot.pause()
        # More matches than one search collects: n goes on past them, N from the first goes to
        # the very last line of the log, and the count is exact once every match was found.
        await pilot.press("escape", "slash", *"imported", "enter")
        await settle(pilot)
        assert len(pane.matches) == MAX_MATCHES and not pane.complete
        assert on_screen(app, f"1 of {MAX_MATCHES:,}+")
        await pilot.press("N")
        await pilot.pause()
        assert pane.complete and len(pane.matches) == lines and pane.current == lines - 1
        assert f"row {lines - 1:06d} imported" in reflowed(app)
        assert on_screen(app, f"{lines:,} of {lines:,}")
        await pilot.press("n")
        await pilot.pause()
        assert pane.current == 0 and f"row {0:06d} imported" in reflowed(app)
