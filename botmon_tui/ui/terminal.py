"""The app's life in a real terminal: every way out is bounded, and a terminal that goes away ends it.

:class:`TerminalApp` is the base of ``BotmonApp``. When it runs on a terminal (not headless, as in
tests), :meth:`TerminalApp.run` wraps the run in a :class:`TerminalSession`:

* **Signals** (``botmon_tui/shutdown.py``): SIGTERM, SIGHUP and SIGINT end the app the normal way
  (the terminal is given back), with status 128 + the signal's number. A SIGTERM or SIGINT during
  a shutdown already under way ends the process at once.
* **The terminal going away** (an SSH connection dropped): SIGHUP (129), or, whichever comes first,
  a write to it failing (EIO, EPIPE, ENXIO) or its hang-up seen on input (both 1). Nothing more is
  written to it, and no attempt is made to restore it: its descriptors are pointed at ``/dev/null``
  (``botmon_tui/hangup.py``), and Textual's driver drops the rest and stops reading
  (``HangupSafeDriver``: docs/textual-hangup.md has the Textual bugs this works around).
* **A watchdog**: from the first reason to stop (``q``, ctrl+c, a signal, a crash, the terminal
  going), the process ends within ``SHUTDOWN_BUDGET`` (``HANGUP_BUDGET`` once the terminal is gone):
  if the orderly shutdown has not ended it by then, the crash log gets every thread's stack and the
  process ends with ``os._exit`` and the same status.

The exit status is that of the first reason to stop (:attr:`TerminalApp.return_code`).
"""

from __future__ import annotations

import contextlib
import os
import termios
from asyncio import AbstractEventLoop
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import RenderableType
from rich.segment import Segment
from textual.color import Color
from textual.drivers.linux_driver import LinuxDriver
from textual.filter import LineFilter, Monochrome, NoColor

from botmon_tui.crashlog import CrashLog
from botmon_tui.hangup import EXIT_TERMINAL_GONE, Gone, HangupWatch, LostTerminal, park_standard_fds
from botmon_tui.shutdown import HANGUP_BUDGET, SHUTDOWN_BUDGET, Shutdown
from botmon_tui.symbols import symbol_table
from botmon_tui.ui.textual_private import AppInternals, hangup_safe_driver

__all__ = ["RESTORE_TERMINAL", "ConsoleSymbols", "TerminalApp", "TerminalSession"]

#: What gives a terminal that is still there back when the watchdog has to end the process:
#: keyboard protocol, main screen, cursor, focus and mouse reporting, bracketed paste, line wrap.
RESTORE_TERMINAL = (
    b"\x1b[<u\x1b[?1049l\x1b[?25h\x1b[?1004l\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l\x1b[?2004l\x1b[?7h"
)

#: The descriptors Textual's driver uses: input from stdin, the screen to stderr.
TERMINAL_FDS = (0, 2)


class TerminalSession:
    """One run of ``app`` on the terminal: the signal handlers, the watch on the terminal, the
    watchdog (a :class:`~botmon_tui.shutdown.Shutdown`)."""

    def __init__(self, app: TerminalApp, crash_log: CrashLog | None) -> None:
        self.app = app
        self.shutdown = Shutdown(crash_log)
        self.shutdown.last_words = self.give_terminal_back
        self.lost = LostTerminal(self.terminal_lost)
        self.watch = HangupWatch(TERMINAL_FDS, self.hung_up)
        self.event_loop: AbstractEventLoop | None = None
        #: An exit asked for before the app's event loop ran (a signal during start-up).
        self.pending_exit: int | None = None
        self.saved_modes: list[Any] | None = None
        with contextlib.suppress(termios.error, OSError):
            self.saved_modes = termios.tcgetattr(TERMINAL_FDS[0])

    def __enter__(self) -> TerminalSession:
        if self.app.driver_class is LinuxDriver:  # (not one chosen with TEXTUAL_DRIVER)
            self.app.driver_class = hangup_safe_driver(self.lost, self.attach)
        self.shutdown.install_signals(self.request_exit)
        self.watch.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.watch.stop()
        self.shutdown.remove_signals()
        # What is left of the way out (the command line's exit, the interpreter's) is bounded too.
        status = self.shutdown.status if self.shutdown.status is not None else self.app.return_code
        self.shutdown.begin(status or 0, "the end of the app", budget=SHUTDOWN_BUDGET)

    def attach(self, loop: AbstractEventLoop) -> None:
        """The app's event loop runs (its driver is made): an exit asked for before now is asked
        for now. (With another driver than Textual's own, none is: the watchdog ends the run.)"""
        self.event_loop = loop
        if self.pending_exit is not None:
            loop.call_soon(self.exit_app, self.pending_exit)

    # ------------------------------------------------------------------ reasons to stop

    def request_exit(self, status: int) -> None:
        """Ask the app to exit (from a signal handler or any thread)."""
        loop = self.event_loop
        if loop is None:
            self.pending_exit = status
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: the app has ended
            loop.call_soon_threadsafe(self.exit_app, status)

    def exit_app(self, status: int) -> None:
        self.app.exit(return_code=status)

    def stopping(self, status: int) -> None:
        """The app was asked to exit (``q``, ctrl+c, a crash, or one of the above): the watchdog runs."""
        self.shutdown.begin(status, f"an exit with status {status}", budget=SHUTDOWN_BUDGET)

    def hung_up(self, gone: Gone) -> None:
        self.lost.lose(gone.reason)

    def terminal_lost(self, reason: str) -> None:
        """The terminal is gone (any thread, once): write nothing more to it, and end within
        ``HANGUP_BUDGET`` (with status 1, unless another reason to stop came first)."""
        park_standard_fds()
        if self.shutdown.begin(EXIT_TERMINAL_GONE, reason, budget=HANGUP_BUDGET):
            self.request_exit(EXIT_TERMINAL_GONE)

    def give_terminal_back(self) -> None:
        """The watchdog's last words: a terminal still there gets its modes and main screen back."""
        if self.lost.gone or self.saved_modes is None:
            return
        with contextlib.suppress(termios.error, OSError):
            termios.tcsetattr(TERMINAL_FDS[0], termios.TCSANOW, self.saved_modes)
        with contextlib.suppress(OSError):
            os.write(TERMINAL_FDS[1], RESTORE_TERMINAL)


#: The filter that takes every colour out under ``NO_COLOR`` (:meth:`TerminalApp.get_line_filters`).
_NO_COLOR = NoColor()


class ConsoleSymbols(LineFilter):
    """Writes each symbol the terminal cannot draw as the one :mod:`botmon_tui.symbols` chose for
    it (one cell for one cell: the layout is unchanged)."""

    def __init__(self, table: Mapping[int, str]) -> None:
        super().__init__()
        self.table = table

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        table = self.table
        return [Segment(text.translate(table), style, control) for text, style, control in segments]


class TerminalApp(AppInternals):
    """An App whose runs on a terminal are :class:`TerminalSession` s (see the module's docstring)."""

    #: The run on a terminal under way (None: not running, or headless).
    terminal_session: TerminalSession | None = None
    #: The Linux console's symbols filter (False: the terminal draws them all; None: not asked yet).
    _console_symbols: ConsoleSymbols | bool | None = None

    def get_line_filters(self) -> Sequence[LineFilter]:
        """Textual's filters, but with ``NO_COLOR`` no colour at all, and on the Linux console the
        symbols it can draw (:mod:`botmon_tui.symbols`). Textual 8.2.8 turns the
        theme's colours into 256-colour greys there (its ``Monochrome`` filter, unless the theme is
        an ANSI one); ``NoColor`` leaves the terminal's own colours, and bold, dim, underline and
        reverse video (the palette's ``mono`` styles) and the symbols carry the meaning."""
        filters = list(super().get_line_filters())
        if self.no_color:
            filters = [_NO_COLOR if isinstance(f, Monochrome) else f for f in filters]
        if self._console_symbols is None:
            table = symbol_table()
            self._console_symbols = ConsoleSymbols(table) if table else False
        if isinstance(self._console_symbols, ConsoleSymbols):
            filters.append(self._console_symbols)
        return filters

    def session_crash_log(self) -> CrashLog:
        """Where the watchdog writes (the app's own crash log, whose secrets it masks)."""
        log = getattr(self, "crash_log", None)
        return log if isinstance(log, CrashLog) else CrashLog()

    def run(self, *, headless: bool = False, **options: Any) -> int | None:
        """``App.run``, in a :class:`TerminalSession` unless ``headless``."""
        if headless:
            return super().run(headless=True, **options)
        self.terminal_session = TerminalSession(self, self.session_crash_log())
        with self.terminal_session:
            return super().run(**options)

    def exit(
        self, result: int | None = None, return_code: int = 0, message: RenderableType | None = None
    ) -> None:
        if self.terminal_session is not None:
            self.terminal_session.stopping(return_code)
        super().exit(result, return_code, message)

    @property
    def return_code(self) -> int | None:
        """The status of the first reason to stop (a signal or a lost terminal can come before
        the exit it asks for is handled), else Textual's."""
        session = self.terminal_session
        if session is not None and session.shutdown.status is not None:
            return session.shutdown.status
        return super().return_code
