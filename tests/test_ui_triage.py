"""Triage at a glance (issue #9), on screen: attention first, the failing mark and count, the
history strip. Pilot at 80x24 and 120x40 against the demo backend over real HTTP."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from demo_support import FIXED_NOW, demo_fixture
from fault_support import screen_text
from textual.widgets.data_table import ColumnKey
from ui_support import bot_id, running

from botmon_tui.demo import DemoServer
from botmon_tui.medplum.models import outcome_info
from botmon_tui.ui.formatting import app_palette
from botmon_tui.ui.widgets.bot_table import BotTable

SIZES = [(80, 24), (120, 40)]


srv = demo_fixture(scope="function")


def rows_on_screen(text: str) -> list[str]:
    """The bot rows as shown: the lines under the table header."""
    lines = text.split("\n")
    header = next(n for n, line in enumerate(lines) if line.lstrip().startswith("Name"))
    return [line.strip() for line in lines[header + 1 :] if line.strip()][:-2]  # (status, footer)


@pytest.mark.parametrize("size", SIZES)
async def test_failing_bots_come_first_marked_on_the_whole_row(
    srv: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    target = bot_id(srv, "lab-results-router")
    srv.store.add_event(target, outcome="8", desc="Error: HTTP 500", at=FIXED_NOW - timedelta(seconds=5))
    async with running(srv, tmp_path, size) as (app, pilot):
        table = app.screen.query_one(BotTable)
        failing = [s for s in app.project.statuses.values() if s.failing_now]
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
        fine = bot_id(srv, "daily-claims-export")
        assert table.get_cell(fine, "name").plain == "  daily-claims-export"
        # Column sorts still work, and 0 brings attention first back.
        await pilot.press("5")
        assert table.sort_column == "failures"
        await pilot.press("0")
        assert table.attention_order and table.ids_in_order()[0] in {s.bot.id for s in failing}


@pytest.mark.parametrize("size", SIZES)
async def test_history_strip_shows_the_newest_runs(
    srv: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    target = bot_id(srv, "hl7-adt-ingest")
    for seconds, outcome in ((40, "0"), (30, "8"), (20, "4"), (10, "0")):
        srv.store.add_event(target, outcome=outcome, desc="x", at=FIXED_NOW - timedelta(seconds=seconds))
    async with running(srv, tmp_path, size) as (app, _pilot):
        table = app.screen.query_one(BotTable)
        width = table.columns[ColumnKey("history")].width
        runs = sorted(srv.store.events_for(target), key=lambda e: e["meta"]["lastUpdated"])
        expected = "".join(outcome_info(e.get("outcome")).symbol for e in runs[-width:])
        assert expected.endswith("✓✗▲✓")
        assert table.get_cell(target, "history").plain == expected
        row = next(r for r in rows_on_screen(screen_text(app)) if "hl7-adt-ing" in r)
        assert expected in row
