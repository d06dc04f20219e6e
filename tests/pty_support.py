"""Run test scripts in real pseudo-terminals and collect every byte they write.

Used by the tests that need the real terminal (Textual's own driver): escape sequences from
data, the terminal given back after a crash or a signal, the bell.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from demo_support import FIXED_NOW, settings_for

from botmon_tui.demo import DemoServer
from botmon_tui.medplum.client import MedplumClient
from botmon_tui.monitor.session import Connection
from botmon_tui.ui.app import BotmonApp

__all__ = ["RESTORE", "Reply", "app_on", "run_in_pty", "until"]

#: What Textual writes when it gives the terminal back: leave the alternate screen, show the
#: cursor, stop mouse reporting, stop bracketed paste.
RESTORE = ("\x1b[?1049l", "\x1b[?25h", "\x1b[?1000l", "\x1b[?2004l")

#: ``reply(mode, output so far)``: bytes to type into that terminal now (``b""``: nothing yet).
Reply = Callable[[str, str], bytes]


def run_in_pty(
    script: Path,
    modes: list[str],
    env: dict[str, str],
    *,
    size: tuple[int, int] = (100, 30),
    reply: Reply | None = None,
    timeout: float = 90.0,
) -> dict[str, tuple[int, str]]:
    """Run ``python script MODE`` for each mode at once, each in its own pty of ``size``
    (columns, lines); return each mode's exit status and everything it wrote (decoded with
    ``surrogateescape``: a raw byte that is not UTF-8, an 8-bit C1, shows up as a lone surrogate).
    ``reply`` may type keys, once the output shows what it waits for."""
    columns, lines = size
    running: dict[int, tuple[str, subprocess.Popen[bytes], list[bytes]]] = {}
    for mode in modes:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        proc = subprocess.Popen(
            [sys.executable, str(script), mode],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        running[master] = (mode, proc, [])
    deadline = time.monotonic() + timeout
    open_fds = set(running)
    while open_fds and time.monotonic() < deadline:
        ready, _, _ = select.select(list(open_fds), [], [], 0.2)
        for fd in ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                data = b""
            if data:
                running[fd][2].append(data)
            else:
                open_fds.discard(fd)
                os.close(fd)
        if reply is not None:
            for fd in open_fds:
                mode, _proc, chunks = running[fd]
                keys = reply(mode, b"".join(chunks).decode("utf-8", "surrogateescape"))
                if keys:
                    os.write(fd, keys)
    results: dict[str, tuple[int, str]] = {}
    for fd, (mode, proc, chunks) in running.items():
        if fd in open_fds:
            proc.kill()
            os.close(fd)
        code = proc.wait(timeout=10)
        results[mode] = (code, b"".join(chunks).decode("utf-8", "surrogateescape"))
    return results


async def until(condition: Callable[[], bool], limit: float = 20.0) -> None:
    """Inside a script run in a pty: wait (real time) until ``condition()`` holds."""
    waited = 0.0
    while not condition():
        await asyncio.sleep(0.02)
        waited += 0.02
        if waited > limit:
            raise RuntimeError("the app did not get there in time")


def app_on(demo: DemoServer, **options: Any) -> BotmonApp:
    """Inside a script run in a pty: the app on ``srv`` with Textual's real driver, "now" fixed,
    no polling but the script's (``options``: more of BotmonApp's)."""
    return BotmonApp(
        connections=[Connection(MedplumClient(settings_for(demo)), "")],
        interval=3600.0,
        clock=lambda: FIXED_NOW,
        auto_poll=False,
        close_client=True,
        **options,
    )
