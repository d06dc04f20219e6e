"""A bounded way out for a long-running process (Textual-free): every exit finishes in time.

:class:`Shutdown` remembers the first reason to stop (its exit status wins: SIGHUP 129, a lost
terminal 1, SIGTERM 143, ctrl+c 130, ``q`` 0, a crash 1) and arms a **watchdog**: if the orderly
shutdown has not ended the process within its budget, the watchdog writes the crash log (every
thread's stack, secrets masked) and ends the process with ``os._exit`` and that same status.
Nothing the orderly shutdown waits on (a terminal that is gone, a stuck thread, a server that does
not answer) can keep the process alive past the budget.

It also handles the stop signals (:meth:`Shutdown.install_signals`), with Python-level handlers:
they run in the main thread even while it waits on a lock (where a handler registered with the
event loop would wait for a loop that no longer turns). A SIGTERM or SIGINT that comes while a
shutdown is already under way ends the process at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from types import FrameType

from botmon_tui.crashlog import CrashLog

__all__ = [
    "HANGUP_BUDGET",
    "SHUTDOWN_BUDGET",
    "STOP_SIGNALS",
    "Shutdown",
    "ShutdownTimeout",
    "thread_stacks",
]

#: After a hang-up or a lost terminal the process is gone within this long (the promise is 2 s).
HANGUP_BUDGET = 1.5
#: Any other exit (``q``, ctrl+c, SIGTERM, a crash) finishes within this long.
SHUTDOWN_BUDGET = 3.0
#: Signals that stop the process, with exit status 128 + the signal's number.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


class ShutdownTimeout(RuntimeError):
    """The orderly shutdown did not finish in time (what the crash log records, with the stacks)."""


def thread_stacks() -> str:
    """Every thread's Python stack, innermost call last (for the crash log)."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    parts = []
    for ident, frame in sys._current_frames().items():
        stack = "".join(traceback.format_stack(frame))
        parts.append(f"Thread {names.get(ident, '?')} ({ident}):\n{stack}")
    return "\n".join(parts)


class Shutdown:
    """The first reason to stop, and the watchdog that makes the stop happen in time.

    ``exit_now`` ends the process (``os._exit``; tests pass a function that records the call).
    ``last_words`` runs just before it, bounded to ``LAST_WORDS_TIME`` (the TUI gives a terminal
    that is still there back: raw mode off, main screen; never for one that is gone).
    """

    #: How long ``last_words`` may take before the process ends anyway.
    LAST_WORDS_TIME = 0.3

    def __init__(
        self,
        crash_log: CrashLog | None = None,
        *,
        exit_now: Callable[[int], object] = os._exit,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.crash_log = crash_log
        self.exit_now = exit_now
        self.clock = clock
        self.last_words: Callable[[], object] | None = None
        #: The exit status of the first reason to stop (None: no stop yet).
        self.status: int | None = None
        self.reason = ""
        self._deadline: float | None = None
        self._started_at = 0.0
        self._cond = threading.Condition()
        self._watchdog: threading.Thread | None = None
        self._ended = False
        self._saved_handlers: dict[int, object] = {}
        self._request_exit: Callable[[int], object] = lambda status: None

    @property
    def under_way(self) -> bool:
        return self.status is not None

    @property
    def deadline(self) -> float | None:
        return self._deadline

    # ------------------------------------------------------------------ the first reason, the watchdog

    def begin(self, status: int, reason: str, *, budget: float = SHUTDOWN_BUDGET) -> bool:
        """A reason to stop: the first one sets the exit status and arms the watchdog; a later one
        can only bring the deadline closer. True for the first."""
        with self._cond:
            first = self.status is None
            if first:
                self.status, self.reason = status, reason
                self._started_at = self.clock()
            deadline = self.clock() + budget
            if self._deadline is None or deadline < self._deadline:
                self._deadline = deadline
            if self._watchdog is None:
                self._watchdog = threading.Thread(target=self._watch, name="botmon-watchdog", daemon=True)
                self._watchdog.start()
            self._cond.notify_all()
        return first

    def _watch(self) -> None:
        with self._cond:
            while True:
                if self._ended:  # disarmed, or the process is being ended already
                    return
                assert self._deadline is not None
                left = self._deadline - self.clock()
                if left <= 0:
                    break
                self._cond.wait(min(left, 3600.0))
        self.end_now(self.status if self.status is not None else 1, "the watchdog", timed_out=True)

    def end_now(self, status: int, why: str, *, timed_out: bool = False) -> None:
        """Write the crash log (where every thread was), give the terminal back if it is there,
        and end the process with ``status``, now."""
        with self._cond:
            self._ended = True  # (the watchdog, if waiting, has nothing more to do)
            self._cond.notify_all()
        waited = self.clock() - self._started_at if self.status is not None else 0.0
        what = (
            f"the shutdown after {self.reason} did not finish in {waited:.1f} s"
            if timed_out
            else f"{why} during the shutdown after {self.reason} ({waited:.1f} s in)"
            if self.status is not None
            else why
        )
        if self.crash_log is not None:
            stacks = thread_stacks()
            error = ShutdownTimeout(f"{what}; exit status {status}. Where each thread was:\n{stacks}")
            with contextlib.suppress(Exception):
                self.crash_log.write(error, "shutdown watchdog" if timed_out else "shutdown cut short")
        self._say_last_words()
        self.exit_now(status)
        # (Only a test's exit_now returns: in the main thread, end what it was doing.)
        if threading.current_thread() is threading.main_thread():
            raise SystemExit(status)

    def _say_last_words(self) -> None:
        words = self.last_words
        if words is None:
            return
        helper = threading.Thread(target=words, name="botmon-last-words", daemon=True)
        with contextlib.suppress(Exception):
            helper.start()
            helper.join(self.LAST_WORDS_TIME)

    def disarm(self) -> None:
        """Stop the watchdog (for tests: a process that is ending never disarms it)."""
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    # ------------------------------------------------------------------ signals

    def install_signals(self, request_exit: Callable[[int], object]) -> None:
        """Handle SIGTERM, SIGHUP and SIGINT (until :meth:`remove_signals`): the first one begins the
        shutdown (``request_exit(status)`` asks the program to stop, thread- and signal-safely);
        SIGTERM or SIGINT during a shutdown ends the process at once; SIGHUP then shortens it to
        :data:`HANGUP_BUDGET` (the terminal is going away)."""
        self._request_exit = request_exit
        for sig in STOP_SIGNALS:
            with contextlib.suppress(OSError, ValueError):  # (not the main thread: no signals)
                self._saved_handlers[sig] = signal.signal(sig, self._on_signal)

    def remove_signals(self) -> None:
        for sig, handler in self._saved_handlers.items():
            with contextlib.suppress(OSError, ValueError, TypeError):
                signal.signal(sig, handler)  # type: ignore[arg-type]
        self._saved_handlers.clear()

    @contextlib.contextmanager
    def signals_handled(self, request_exit: Callable[[int], object]) -> Iterator[Shutdown]:
        self.install_signals(request_exit)
        try:
            yield self
        finally:
            self.remove_signals()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.on_signal(signum)

    def on_signal(self, signum: int) -> None:
        status = 128 + signum
        name = signal.Signals(signum).name
        hangup = signum == signal.SIGHUP
        if self.begin(status, name, budget=HANGUP_BUDGET if hangup else SHUTDOWN_BUDGET):
            self._request_exit(status)
        elif not hangup:
            self.end_now(status, name)
