"""Run the real app in a real terminal for tests/test_terminal.py (started in a pseudo-terminal).

    python tests/pty_terminal.py bell|no-bell|sigterm|sighup|ctrl-c

``bell`` / ``no-bell``: once the bot list is loaded, three polls: one bringing a burst of failed
runs of two bots, one bringing nothing new, one bringing one more failed run; then quit (exit 0).
``sigterm`` / ``sighup``: once loaded, the process sends itself that signal. ``ctrl-c``: once
loaded, it waits for the test to type ctrl+c. Everything the app writes goes to the terminal.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_support import FIXED_NOW, quiet_demo, settings_for

from botmon_tui.medplum.client import MedplumClient
from botmon_tui.ui.app import BotmonApp

#: What the status line says once the bot list is loaded (the test types ctrl+c after it).
LOADED = "11 bots"
#: The polls of the bell modes: how many runs of which bots each one brings.
POLLS: tuple[dict[str, int], ...] = (
    {"lab-results-router": 3, "legacy-hl7-bridge": 1},
    {},
    {"hl7-adt-ingest": 1},
)


async def until(condition: object, limit: float = 20.0) -> None:
    waited = 0.0
    while not condition():  # type: ignore[operator]
        await asyncio.sleep(0.02)
        waited += 0.02
        if waited > limit:
            raise RuntimeError("the app did not get there in time")


def main(mode: str) -> int:
    with quiet_demo(history_days=0.5) as srv:
        app = BotmonApp(
            client=MedplumClient(settings_for(srv)),
            interval=3600.0,
            clock=lambda: FIXED_NOW,
            auto_poll=False,
            close_client=True,
            bell=mode != "no-bell",
        )

        async def drive() -> None:
            await until(lambda: app.project.loaded and app.failures.loaded and app.screen.is_mounted)
            await asyncio.sleep(0.1)
            if mode in ("sigterm", "sighup"):
                os.kill(os.getpid(), signal.SIGTERM if mode == "sigterm" else signal.SIGHUP)
                return
            if mode == "ctrl-c":
                return  # the test types it
            at = FIXED_NOW
            for runs in POLLS:
                for name, count in runs.items():
                    for _ in range(count):
                        at += timedelta(seconds=1)
                        bot_id = srv.store.bot_id(name)
                        assert bot_id is not None
                        srv.store.add_event(bot_id, outcome="8", desc="Error: boom", at=at)
                screen = app.polling_screen()
                assert screen is not None
                announced, status = app.alerts.announced, screen.schedule.status
                polls = status.polls
                app.poll_now()
                await until(lambda: status.polls > polls)  # noqa: B023 (awaited here)
                assert app.alerts.announced == announced + len(runs)
                await asyncio.sleep(0.1)  # (the frame and the bell reach the terminal)
            app.exit(0)

        app.call_later(lambda: app.run_worker(drive(), exit_on_error=False))
        app.run()
        return int(app.return_code or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
