"""Run the real app in a real terminal for tests/test_terminal.py (started in a pseudo-terminal).

    python tests/pty_terminal.py bell|no-bell|sigterm|sighup|ctrl-c|colours

``bell`` / ``no-bell``: once the bot list is loaded, three polls: one bringing a burst of failed
runs of two bots (lab-results-router, failing at start, with a new error; legacy-hl7-bridge, which
starts failing), one bringing nothing new, one bringing a failed run of a bot that had recovered
(hl7-adt-ingest: it starts failing); then quit (exit 0). Each poll's incidents are one toast each.
``sigterm`` / ``sighup``: once loaded, the process sends itself that signal. ``ctrl-c``: once
loaded, it waits for the test to type ctrl+c. ``colours``: once loaded, opens a failing bot's
Event tab and quits (the test looks at the colours and symbols it was drawn with). Everything the
app writes goes to the terminal.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_support import FIXED_NOW, quiet_demo
from pty_support import app_on, until
from textual_support import notifications

from botmon_tui.demo.catalog import BOT_SPECS
from botmon_tui.ui.screens.events import EventScreen

#: What the status line says once the bot list is loaded (the test types ctrl+c after it).
LOADED = f"{len(BOT_SPECS)} bots"
#: The polls of the bell modes: how many runs of which bots each one brings.
POLLS: tuple[dict[str, int], ...] = (
    {"lab-results-router": 3, "legacy-hl7-bridge": 1},
    {},
    {"hl7-adt-ingest": 1},
)


def main(mode: str) -> int:
    with quiet_demo(history_days=0.5) as demo:
        app = app_on(demo, bell=mode != "no-bell")

        async def drive() -> None:
            # Loaded, and the first poll (load, lookups, the failures' first page) over.
            session = app.sessions[0]
            await until(lambda: session.failure_watch.loaded and app.screen.is_mounted)
            poller = app.session_poller(session)
            assert poller is not None
            await until(lambda: session.schedule.status.polls > 0 and not poller.in_flight)
            await asyncio.sleep(0.1)
            if mode in ("sigterm", "sighup"):
                os.kill(os.getpid(), signal.SIGTERM if mode == "sigterm" else signal.SIGHUP)
                return
            if mode == "ctrl-c":
                return  # the test types it
            if mode == "colours":
                # The bot list, then a failing bot's Event tab with its pane (every style in use).
                app.open_bot(demo.store.bot_id("lab-results-router") or "")
                await until(lambda: isinstance(app.screen, EventScreen) and app.screen.feed.loaded)
                await asyncio.sleep(0.2)  # (its frames reach the terminal)
                app.exit(0)
                return
            at, toasts = FIXED_NOW, 0
            for runs in POLLS:
                for name, count in runs.items():
                    for _ in range(count):
                        at += timedelta(seconds=1)
                        bot_id = demo.store.bot_id(name)
                        assert bot_id is not None
                        demo.store.add_event(bot_id, outcome="8", desc="Error: boom", at=at)
                announced, status = app.alerts.announced, session.schedule.status
                polls = status.polls
                app.poll_now()
                await until(lambda: status.polls > polls)  # noqa: B023 (awaited here)
                assert app.alerts.announced == announced + len(runs)
                toasts += len(runs)
                # The toasts and the bell come once the poll's rows are painted.
                await until(lambda: len(notifications(app)) == toasts)  # noqa: B023 (awaited here)
                await asyncio.sleep(0.1)  # (the frame and the bell reach the terminal)
            app.exit(0)

        app.call_later(lambda: app.run_worker(drive(), exit_on_error=False))
        app.run()
        return int(app.return_code or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
