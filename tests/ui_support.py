"""Helpers for the UI tests: a demo backend over real HTTP and a deterministic app around it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC
from pathlib import Path
from typing import Any

from demo_support import FIXED_NOW
from textual.app import App
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual_support import screen_strips

from botmon_tui.crashlog import CrashLog
from botmon_tui.demo import DemoServer
from botmon_tui.medplum.auth import ConnectionSettings, Secret
from botmon_tui.medplum.client import MedplumClient
from botmon_tui.monitor.session import Connection
from botmon_tui.ui.app import BotmonApp
from botmon_tui.ui.widgets.event_table import EventTable
from botmon_tui.ui.widgets.outcome_pane import OutcomePane
from botmon_tui.ui.widgets.status_line import StatusLine

APP_BASE = "https://app.medplum.example/"


def _defaults(log_dir: Path, secrets: Callable[[], list[str]]) -> dict[str, Any]:
    return {
        "interval": 3600.0,
        "clock": lambda: FIXED_NOW,
        "auto_poll": False,
        "tz": UTC,
        "monotonic": lambda: 1000.0,
        "jitter": lambda: 0.0,
        "crash_log": CrashLog(log_dir / "botmon-tui.log", secrets=secrets),
        "close_client": True,
    }


def make_app(
    demo: DemoServer, log_dir: Path, settings: ConnectionSettings | None = None, **options: Any
) -> BotmonApp:
    """The app on ``srv`` (or on ``settings``), its crash log in ``log_dir`` (``crash_log=None``:
    the default one, in the state dir)."""
    if settings is None:
        settings = ConnectionSettings(
            base_url=demo.base_url, client_id=demo.client_id, client_secret=Secret(demo.client_secret)
        )
    client = MedplumClient(settings)
    defaults = _defaults(log_dir, client.secrets)
    heading = options.pop("server_label", "demo backend")
    app_base = options.pop("app_base", APP_BASE)
    defaults.update(options)
    connection = Connection(client, "", app_base=app_base, heading=heading)
    app = BotmonApp(connections=[connection], **defaults)
    app.animation_level = "none"
    return app


def make_multi_app(servers: dict[str, DemoServer], log_dir: Path, **options: Any) -> BotmonApp:
    """The app watching several demo backends, one project each, named by the keys of ``servers``."""
    connections = [
        Connection(
            MedplumClient(
                ConnectionSettings(
                    base_url=demo.base_url, client_id=demo.client_id, client_secret=Secret(demo.client_secret)
                )
            ),
            label,
            app_base=f"https://app.{label}.example/",
        )
        for label, demo in servers.items()
    ]
    defaults = _defaults(log_dir, lambda: [s for c in connections for s in c.client.secrets()])
    defaults.update(options)
    app = BotmonApp(connections=connections, **defaults)
    app.animation_level = "none"
    return app


async def settle(pilot: Pilot[Any]) -> None:
    """Let every worker (polls) finish and the screen catch up."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def pause_until(
    pilot: Pilot[Any], condition: Callable[[], bool], what: str = "", turns: int = 200
) -> None:
    """Await ``pilot.pause()`` until ``condition()`` holds: a state, not a time (a timer of the
    app's, as the filter's 150 ms or the footer's 50 ms, fires during the pauses). Bounded by a
    count of pauses (each waits for the app to be idle, ~20 ms at least), not by a clock."""
    for _ in range(turns):
        if condition():
            return
        await pilot.pause()
    if not condition():
        raise AssertionError(f"still not {what or 'so'} after {turns} pauses")


async def pane_caught_up(pilot: Pilot[Any], tries: int = 200) -> None:
    """After a run was selected on the Event tab: its pane shows that run. The pane's update comes
    in a turn of its own (``PANE_DELAY`` after the cursor moved); one ``pause`` is not always
    enough for it on a loaded machine (the pause takes little CPU time for idleness), so wait for
    the state itself, a pause at a time."""
    screen = pilot.app.screen
    table = screen.query_one(EventTable)
    pane = screen.query_one(OutcomePane)
    for _ in range(tries):
        await pilot.pause()
        if pane.event_id == table.selected_id:
            return
    raise AssertionError(f"the pane shows {pane.event_id}, not the selected run {table.selected_id}")


async def polled(pilot: Pilot[Any]) -> None:
    """After a poll was started: its worker is done and the screen has caught up (one pause;
    ``settle`` pauses three times, and every pause waits for the process to be idle)."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def screen_lines(app: BotmonApp) -> list[str]:
    """What the terminal shows now, line by line (as plain text)."""
    return [strip.text for strip in screen_strips(app)]


def on_screen(app: BotmonApp, text: str) -> bool:
    return any(text in line for line in screen_lines(app))


def status(app: BotmonApp) -> str:
    """The status line of the screen on top."""
    return str(app.screen.query_one(StatusLine).plain)


@asynccontextmanager
async def running(
    demo: DemoServer,
    log_dir: Path,
    size: tuple[int, int] = (80, 24),
    *,
    notifications: bool = False,
    **options: Any,
) -> AsyncIterator[tuple[BotmonApp, Pilot[Any]]]:
    """The app on ``srv`` in a headless terminal of ``size``, loaded (``notifications``: toasts are
    shown, as they are outside tests; ``run_test`` hides them by default)."""
    app = make_app(demo, log_dir, **options)
    async with app.run_test(size=size, notifications=notifications) as pilot:
        await settle(pilot)
        yield app, pilot


async def command(pilot: Pilot[Any], *words: str) -> None:
    """Run what the command palette offers for ``words`` as a user does: ``ctrl+p``, the words
    typed, ``enter`` (each further word picks in the list the one before opened: Theme, nord)."""
    await pilot.press("ctrl+p")
    for word in words:
        await pilot.pause()
        await pilot.press(*word)
        await pause_until(pilot, lambda: offers(pilot.app, word), f"offering {word!r}")  # noqa: B023
        await pilot.press("enter")
    await settle(pilot)


def offers(app: App[Any], word: str) -> bool:
    """The command palette is open and its highlighted entry matches ``word`` (its letters in
    order, as the palette's fuzzy search matches): its search for what was typed is done."""
    palette = app.screen
    if not isinstance(palette, CommandPalette):
        return False
    options = palette.query_one(CommandList)
    if options.highlighted is None:
        return False
    prompt = options.get_option_at_index(options.highlighted).prompt
    letters = iter(str(getattr(prompt, "plain", prompt)).casefold())
    return all(letter in letters for letter in word.casefold())


def bot_id(demo: DemoServer, name: str) -> str:
    found = demo.store.bot_id(name)
    assert found is not None, name
    return found
