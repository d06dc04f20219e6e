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


def test_bot_list_without_colour_80x24(
    snap_compare: Any, demo: DemoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``NO_COLOR=1``: no colour at all (not Textual's greys); bold, underline, reverse video and
    the symbols say which bots fail."""
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(make_app(demo, tmp_path), terminal_size=(80, 24), run_before=settle)


def test_event_tab_without_colour_120x40(
    snap_compare: Any, demo: DemoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(demo, tmp_path, bot_id=bot_id(demo, "legacy-hl7-bridge"))
    assert snap_compare(app, terminal_size=(120, 40), run_before=settle)


def test_bot_list_on_the_linux_console_80x24(
    snap_compare: Any, demo: DemoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``TERM=linux``: the symbols its fonts have (x for ✗, + for ✓, digits for the sort keys)."""
    monkeypatch.setenv("TERM", "linux")
    assert snap_compare(make_app(demo, tmp_path), terminal_size=(80, 24), run_before=settle)


def test_event_tab_on_the_linux_console_120x40(
    snap_compare: Any, demo: DemoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runs-per-hour strip in ASCII bars, the outcomes' and the headers' marks."""
    monkeypatch.setenv("TERM", "linux")
    app = make_app(demo, tmp_path, bot_id=bot_id(demo, "lab-results-router"))
    assert snap_compare(app, terminal_size=(120, 40), run_before=settle)
