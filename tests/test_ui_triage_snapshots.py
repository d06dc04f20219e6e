"""SVG snapshots of triage at a glance (issue #9): the attention-first bot list with a failing
bot and a new-failure mark, an alert's toast over another bot's Event tab, the Failures screen.

Deterministic: fixed seed and "now", fixed terminal size, UTC, auto polling off.
``pytest tests/test_ui_triage_snapshots.py --snapshot-update`` after an intended change (look at
the SVGs before committing them).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from demo_support import FIXED_NOW, demo_fixture
from textual.pilot import Pilot
from ui_support import bot_id, make_app, settle

from botmon_tui.demo import DemoServer

demo = demo_fixture(scope="function")

CRASH = (
    "2025-03-14T12:00:05.000Z\nRouting ORU^R01 to the EHR\nAxiosError: Request failed with status code 503"
)


def _fail(demo: DemoServer, name: str, seconds: int, outcome: str = "8") -> None:
    demo.store.add_event(
        bot_id(demo, name), outcome=outcome, desc=CRASH, at=FIXED_NOW + timedelta(seconds=seconds)
    )


def test_attention_first_bot_list_120x40(snap_compare: Any, demo: DemoServer, tmp_path: Path) -> None:
    """Failing now on top, marked on the whole row; a failure announced since start marked ●."""
    _fail(demo, "legacy-hl7-bridge", -60, "12")

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        _fail(demo, "lab-results-router", 5)
        pilot.app.poll_now()  # type: ignore[attr-defined]
        await settle(pilot)
        pilot.app.clear_notifications()

    app = make_app(demo, tmp_path)
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_alert_toast_over_another_bots_event_tab_80x24(
    snap_compare: Any, demo: DemoServer, tmp_path: Path
) -> None:
    app = make_app(demo, tmp_path, bot_id=bot_id(demo, "hl7-adt-ingest"))

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        _fail(demo, "lab-results-router", 5)
        _fail(demo, "lab-results-router", 6)
        pilot.app.poll_now()  # type: ignore[attr-defined]
        await settle(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_failures_screen_120x40(snap_compare: Any, demo: DemoServer, tmp_path: Path) -> None:
    """F, then v: the newest failed runs of every bot, a new one on top (its toast cleared)."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("F", "v")
        await settle(pilot)
        _fail(demo, "lab-results-router", 5)
        pilot.app.poll_now()  # type: ignore[attr-defined]
        await settle(pilot)
        pilot.app.clear_notifications()
        await pilot.press("down")

    assert snap_compare(make_app(demo, tmp_path), terminal_size=(120, 40), run_before=run_before)
