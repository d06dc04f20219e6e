"""SVG snapshots of the main screens (pytest-textual-snapshot), from the seeded demo backend.

Deterministic: fixed seed, fixed "now", fixed terminal size, UTC, auto polling off.
Regenerate after an intended change with ``pytest tests/test_ui_snapshots.py --snapshot-update``
and look at the SVGs before committing them.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from demo_support import FIXED_NOW, demo_fixture
from textual.pilot import Pilot
from ui_support import bot_id, make_app, settle

from botmon_tui.demo import DemoServer
from botmon_tui.ui.widgets.event_table import EventTable

demo = demo_fixture(scope="function")


def test_bot_list_80x24(snap_compare: Any, demo: DemoServer, tmp_path: Path) -> None:
    assert snap_compare(make_app(demo, tmp_path), terminal_size=(80, 24), run_before=settle)


def test_event_tab_120x40(snap_compare: Any, demo: DemoServer, tmp_path: Path) -> None:
    app = make_app(demo, tmp_path, bot_id=bot_id(demo, "hl7-adt-ingest"))

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("down", "down", "down")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_event_tab_80x24(snap_compare: Any, demo: DemoServer, tmp_path: Path) -> None:
    assert snap_compare(
        make_app(demo, tmp_path, bot_id=bot_id(demo, "legacy-hl7-bridge")),
        terminal_size=(80, 24),
        run_before=settle,
    )


def test_event_tab_wide_200x50(snap_compare: Any, demo: DemoServer, tmp_path: Path) -> None:
    app = make_app(demo, tmp_path, bot_id=bot_id(demo, "hl7-adt-ingest"))

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("2")  # sorted by outcome, worst first
        await pilot.pause()

    assert snap_compare(app, terminal_size=(200, 50), run_before=run_before)


def test_event_tab_in_a_light_theme_120x40(snap_compare: Any, demo: DemoServer, tmp_path: Path) -> None:
    """Outcome colours follow the theme (here Textual's light theme, as chosen with ctrl+p)."""
    app = make_app(demo, tmp_path, bot_id=bot_id(demo, "legacy-hl7-bridge"), theme="textual-light")
    assert snap_compare(app, terminal_size=(120, 40), run_before=settle)


def test_event_tab_failures_only_80x24(snap_compare: Any, demo: DemoServer, tmp_path: Path) -> None:
    """``f``: only failed runs, fetched with outcome=4,8,12; the heading says the mode is on."""
    app = make_app(demo, tmp_path, bot_id=bot_id(demo, "legacy-hl7-bridge"))

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_banner_log_only_80x24(snap_compare: Any, demo: DemoServer, tmp_path: Path) -> None:
    app = make_app(demo, tmp_path, bot_id=bot_id(demo, "appointment-reminders"))
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)


def test_error_state_80x24(snap_compare: Any, demo: DemoServer, tmp_path: Path) -> None:
    target = bot_id(demo, "lab-results-router")
    app = make_app(demo, tmp_path, bot_id=target)

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        demo.faults.add(status=503, path_contains="AuditEvent")
        demo.store.add_event(target, outcome="0", desc="not seen yet", at=FIXED_NOW + timedelta(seconds=1))
        pilot.app.poll_now()  # type: ignore[attr-defined]
        await settle(pilot)
        assert pilot.app.screen.query_one(EventTable).row_count == 100

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


# ---------------------------------------------------------------------------- odd terminals


@pytest.mark.parametrize(
    ("variable", "value", "bot", "size"),
    [
        # No colour at all (not Textual's greys): bold, underline, reverse video and the symbols
        # say which bots fail.
        ("NO_COLOR", "1", None, (80, 24)),
        ("NO_COLOR", "1", "legacy-hl7-bridge", (120, 40)),
        # The symbols the Linux console's fonts have: x for ✗, + for ✓, digits for the sort keys,
        # the runs-per-hour strip in ASCII bars.
        ("TERM", "linux", None, (80, 24)),
        ("TERM", "linux", "lab-results-router", (120, 40)),
    ],
    ids=[
        "no-color-bot-list-80x24",
        "no-color-event-tab-120x40",
        "linux-bot-list-80x24",
        "linux-event-tab-120x40",
    ],
)
def test_odd_terminals(
    snap_compare: Any,
    demo: DemoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    bot: str | None,
    size: tuple[int, int],
) -> None:
    monkeypatch.setenv(variable, value)
    app = make_app(demo, tmp_path, bot_id=bot_id(demo, bot) if bot else None)
    assert snap_compare(app, terminal_size=size, run_before=settle)
