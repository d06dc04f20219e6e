#!/usr/bin/env python3
"""Regenerate the README's SVG screenshots from the seeded demo backend, deterministically.

    python scripts/screenshots.py            # writes screenshots/*.svg

Same seed, same "now" (2025-03-14 12:00 UTC), same terminal sizes every time: the files change
only when the UI does. The app runs headless against the embedded demo server over real HTTP.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")

from textual.pilot import Pilot

from botmon_tui.crashlog import CrashLog
from botmon_tui.demo import DemoConfig, DemoServer
from botmon_tui.medplum.auth import ConnectionSettings, Secret
from botmon_tui.medplum.client import MedplumClient
from botmon_tui.monitor.session import Connection
from botmon_tui.ui.app import BotmonApp

NOW = datetime(2025, 3, 14, 12, 0, 0, tzinfo=UTC)
SEED = 42
OUT = Path(__file__).resolve().parent.parent / "screenshots"

Step = Callable[[BotmonApp, Pilot[Any], DemoServer], Awaitable[None]]


async def _settle(pilot: Pilot[Any]) -> None:
    for _ in range(2):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def _nothing(app: BotmonApp, pilot: Pilot[Any], srv: DemoServer) -> None:
    return None


async def _down(app: BotmonApp, pilot: Pilot[Any], srv: DemoServer) -> None:
    await pilot.press("down", "down")
    await pilot.pause()


async def _failures_and_search(app: BotmonApp, pilot: Pilot[Any], srv: DemoServer) -> None:
    await pilot.press("f")  # failures only, from the server
    await _settle(pilot)
    await pilot.press("slash", *"econnreset", "enter")  # filter, and search the output
    await _settle(pilot)


async def _light_theme(app: BotmonApp, pilot: Pilot[Any], srv: DemoServer) -> None:
    app.theme = "catppuccin-latte"  # as chosen with ctrl+p, Theme
    await _settle(pilot)
    await pilot.press("2")  # sorted by outcome, worst first


def _fail(app: BotmonApp, srv: DemoServer, name: str = "lab-results-router") -> None:
    """A failed run of ``name`` arrives, and a poll brings it (its alert)."""
    bot_id = srv.store.bot_id(name)
    assert bot_id is not None
    log = "\n".join(
        [
            "2025-03-14T12:00:04.912Z",
            "Routing ORU^R01 to the EHR",
            "AxiosError: Request failed with status code 503",
        ]
    )
    srv.store.add_event(bot_id, outcome="8", desc=log, at=NOW + timedelta(seconds=5))
    app.poll_now()


async def _new_failure(app: BotmonApp, pilot: Pilot[Any], srv: DemoServer) -> None:
    """The bot list with a failure announced since start (its ● mark), the toast gone."""
    _fail(app, srv)
    await _settle(pilot)
    app.clear_notifications()


async def _alert(app: BotmonApp, pilot: Pilot[Any], srv: DemoServer) -> None:
    """Another bot fails while a bot's Event tab is open: its toast."""
    _fail(app, srv)


async def _failures_screen(app: BotmonApp, pilot: Pilot[Any], srv: DemoServer) -> None:
    await pilot.press("F")  # the failed runs of every bot, one row per cause
    await _settle(pilot)
    _fail(app, srv)  # a new one comes on top
    await _settle(pilot)
    app.clear_notifications()


#: (file name, terminal size, bot to open or None for the list, what to do before the shot)
SHOTS: list[tuple[str, tuple[int, int], str | None, Step]] = [
    ("bot-list.svg", (120, 36), None, _new_failure),
    ("failures.svg", (120, 30), None, _failures_screen),
    ("alert.svg", (100, 30), "hl7-adt-ingest", _alert),
    ("event-tab.svg", (120, 40), "hl7-adt-ingest", _down),
    ("event-tab-wide.svg", (180, 45), "legacy-hl7-bridge", _down),
    ("banner.svg", (100, 30), "appointment-reminders", _nothing),
    ("event-tab-80x24.svg", (80, 24), "eligibility-check", _nothing),
    ("event-tab-failures.svg", (120, 36), "legacy-hl7-bridge", _failures_and_search),
    ("event-tab-theme.svg", (120, 30), "hl7-adt-ingest", _light_theme),
]


async def shoot(
    srv: DemoServer, name: str, size: tuple[int, int], bot: str | None, step: Step, log: Path
) -> None:
    settings = ConnectionSettings(
        base_url=srv.base_url, client_id=srv.client_id, client_secret=Secret(srv.client_secret)
    )
    bot_id = srv.store.bot_id(bot) if bot else None
    if bot and bot_id is None:
        raise SystemExit(f"the demo has no bot named {bot!r}")
    connection = Connection(
        MedplumClient(settings), "", app_base="https://app.medplum.com/", heading="demo backend"
    )
    app = BotmonApp(
        connections=[connection],
        interval=10.0,
        bot_id=bot_id,
        clock=lambda: NOW,
        auto_poll=False,
        tz=UTC,
        monotonic=lambda: 1000.0,
        crash_log=CrashLog(log),
        close_client=True,
    )
    app.animation_level = "none"
    async with app.run_test(size=size, notifications=True) as pilot:
        await _settle(pilot)
        await step(app, pilot, srv)
        await _settle(pilot)
        svg = app.export_screenshot(title=f"botmon-tui — {name.removesuffix('.svg')}")
    (OUT / name).write_text(svg, encoding="utf-8")
    print(f"wrote {OUT / name}")


async def main() -> int:
    OUT.mkdir(exist_ok=True)
    log = OUT.parent / ".screenshots-crash.log"
    log.unlink(missing_ok=True)  # (this run's errors only: an old log failed every later run)
    for name, size, bot, step in SHOTS:
        # A fresh backend per shot: nothing one shot does can change another.
        with DemoServer(DemoConfig(seed=SEED, live=False, now=NOW)) as srv:
            await shoot(srv, name, size, bot, step, log)
    if log.exists():
        print(f"the app logged an internal error: see {log}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
