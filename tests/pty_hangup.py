"""Run the real ``botmon-tui`` (``botmon_tui.cli.main``) in child processes on pseudo-terminals, many
at once, and hang up on them (tests/test_hangup.py).

The children are forked from a ``multiprocessing`` fork server that has imported the app once
(:data:`PRELOAD`): a fresh interpreter would spend about a second importing Textual, httpx and
pydantic per child, and 50 children must fit in the test's time. Each child makes a session of
its own and opens its pseudo-terminal as its controlling terminal (``controlling``: as ``ssh -t
host botmon-tui`` runs it; closing the master then sends it SIGHUP and SIGCONT) or not (as under
``sh -c`` in tmux: no signal comes, the app must notice by itself), then runs the command line.
"""

from __future__ import annotations

import fcntl
import gc
import multiprocessing
import multiprocessing.connection
import os
import pty
import select
import signal
import struct
import sys
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess

__all__ = ["PRELOAD", "PROBE", "Child", "child_main", "fork_server", "open_terminal", "pump"]

#: What the fork server imports once, so that a child starts at the app, not at its imports
#: (installed modules only: Python 3.11's fork server does not get the parent's ``sys.path``, so
#: this module, in tests/, is imported by each child, and imports nothing heavy itself).
PRELOAD = [
    "botmon_tui.cli.main",
    "botmon_tui.cli.session",
    "botmon_tui.cli.tui",
    "botmon_tui.config",
    "botmon_tui.ui.app",
    "httpx",
    "httpcore",
    "anyio",
    "anyio._backends._asyncio",
    "anyio.streams.tls",
    "anyio.to_thread",
    "rich._unicode_data.unicode17-0-0",
    "h11",
    "certifi",
    "textual.layouts.factory",
    "textual.layouts.horizontal",
    "textual.layouts.stream",
    "textual.scrollbar",
    "textual.pilot",
    "pytest",  # (a parent run as the ``pytest`` script has its script run again in each child)
]

#: The bot the test's demo project has, whose name on the screen says the app has loaded.
PROBE = "hangup-probe"


def fork_server() -> ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def child_main(slave: str, argv: list[str], env: dict[str, str], controlling: bool) -> None:
    """In the child: take the terminal ``slave`` as stdin, stdout and stderr, run the command line,
    end with its status (``os._exit``: nothing of multiprocessing's own exit runs)."""
    gc.freeze()  # (what the fork server imported is never collected: no child walks through it)
    os.setsid()
    fd = os.open(slave, os.O_RDWR if controlling else os.O_RDWR | os.O_NOCTTY)
    for target in (0, 1, 2):
        os.dup2(fd, target)
    if fd > 2:
        os.close(fd)
    # (multiprocessing closed the child's stdin; Textual uses sys.__stdin__ and sys.__stderr__.)
    for name, number, mode in (("stdin", 0, "r"), ("stdout", 1, "w"), ("stderr", 2, "w")):
        stream = open(number, mode, buffering=1 if mode == "w" else -1, closefd=False)  # noqa: SIM115
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)
    os.environ.clear()
    os.environ.update(env)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from botmon_tui.cli.main import main

    status = main(argv)
    os._exit(status)


def open_terminal(columns: int, lines: int) -> tuple[int, int]:
    """A new pseudo-terminal of that size: the master's and the slave's descriptors. (The child
    opens the slave by name; the parent keeps its copy open until the child has written, since a
    pseudo-terminal with no slave open reads as hung up.)"""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    return master, slave


@dataclass
class Child:
    """One child on its terminal, as the parent sees it."""

    name: str
    process: BaseProcess
    master: int
    #: The parent's copy of the slave (-1 once closed).
    slave: int
    started: float
    #: The slave's path (``/dev/pts/N``).
    path: str = ""
    output: bytearray = field(default_factory=bytearray)
    #: When the app had loaded (:data:`PROBE` on the screen).
    on_screen: float | None = None
    #: When the master was closed (the hang-up).
    hung_up: float | None = None
    #: The child closed the terminal itself (it ended) before any hang-up.
    left: bool = False
    #: When the process was seen gone.
    gone: float | None = None

    @property
    def open(self) -> bool:
        return self.hung_up is None

    def read(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the child closed the terminal
            data = b""
        if data:
            self.output += data
            self.close_slave()
            if self.on_screen is None and PROBE.encode() in self.output:
                self.on_screen = time.monotonic()
        else:  # EIO: the child ended, and its side of the terminal closed
            self.left = self.hung_up is None
            self.hang_up()

    def __post_init__(self) -> None:
        self.path = self.path or os.ttyname(self.slave)

    def stop_output(self) -> int:
        """The terminal stops taking output (as XOFF does): the child's writes to it block. The
        descriptor to close when done."""
        fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY)
        termios.tcflow(fd, termios.TCOOFF)
        return fd

    def close_slave(self) -> None:
        if self.slave >= 0:
            os.close(self.slave)
            self.slave = -1

    def hang_up(self) -> None:
        """Close the master side: the terminal hangs up (as when an SSH connection drops)."""
        self.close_slave()
        if self.hung_up is None:
            self.hung_up = time.monotonic()
            os.close(self.master)

    def tail(self, size: int = 1500) -> str:
        return bytes(self.output[-size:]).decode("utf-8", "replace")

    @property
    def status(self) -> int | None:
        return self.process.exitcode


def pump(children: list[Child], timeout: float, *, reading: Callable[[Child], bool] = lambda c: True) -> None:
    """Read what the open terminals wrote and note the children that ended, for ``timeout``."""
    masters = {c.master: c for c in children if c.open and reading(c)}
    sentinels = {c.process.sentinel: c for c in children if c.gone is None}
    ready, _, _ = select.select([*masters, *sentinels], [], [], timeout)
    now = time.monotonic()
    for fd in ready:
        if fd in sentinels:
            sentinels[fd].gone = now
            sentinels[fd].process.join(0)
        elif fd in masters:
            masters[fd].read()
