"""Run the real app in a real terminal (the fault matrix starts this in a pseudo-terminal).

    python tests/pty_app.py hostile|clean

Starts a demo server (``hostile``: seeded with every hostile text of ``fault_support.HOSTILE``;
``clean``: the same number of ordinary runs, with ANSI colour), runs ``BotmonApp`` with Textual's
real driver on this process's terminal, walks through the bot list and the Event tab row by
row, and quits (exit 0). ``clean`` then ends with a bug in an event handler instead of quitting:
the app must log it, restore the terminal and exit 1 with one line.
Everything the app writes goes to the terminal; the test reads it from the pty's other end.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_support import FIXED_NOW, quiet_demo
from fault_support import HOSTILE, seed_hostile
from pty_support import app_on, until

from botmon_tui.ui.screens.events import EventScreen
from botmon_tui.ui.widgets.bot_table import BotTable
from botmon_tui.ui.widgets.event_table import EventTable

#: Time for a frame to reach the terminal after a change (Textual paints at up to 60 fps).
FRAME = 0.06


def main(mode: str) -> int:
    with quiet_demo(history_days=0.2, max_log_chars=None) as demo:
        viewer = demo.store.add_bot({"resourceType": "Bot", "name": "viewer", "runtimeVersion": "vmcontext"})
        if mode == "hostile":
            seed_hostile(demo, FIXED_NOW)
            for number, item in enumerate(HOSTILE):
                at = FIXED_NOW - timedelta(minutes=number)
                demo.store.add_event(viewer["id"], outcome="8", desc=item.text, at=at)
        else:
            for number in range(len(HOSTILE)):
                at = FIXED_NOW - timedelta(minutes=number)
                desc = f"run {number}\n\x1b[31mred\x1b[0m and plain text"
                demo.store.add_event(viewer["id"], outcome="8", desc=desc, at=at)
        app = app_on(demo)

        async def walk() -> None:
            await until(lambda: app.sessions[0].project.loaded)
            await asyncio.sleep(FRAME)
            # The bot list, scrolled through.
            bots = app.screen.query_one(BotTable)
            for row in range(0, bots.row_count, 5):
                bots.move_cursor(row=row)
                await asyncio.sleep(FRAME)
            app.open_bot(viewer["id"])
            await until(lambda: isinstance(app.screen, EventScreen) and app.screen.feed.loaded)
            table = app.screen.query_one(EventTable)
            for row in range(table.row_count):
                table.move_cursor(row=row)
                await asyncio.sleep(FRAME)
            if mode == "clean":

                def boom() -> None:
                    raise RuntimeError("a bug in an event handler")

                app.call_later(boom)
                return
            app.exit(0)

        def start() -> None:
            app.run_worker(walk(), exit_on_error=False)

        app.call_later(start)
        app.run()
        return int(app.return_code or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
