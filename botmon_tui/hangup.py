"""Noticing that the terminal or the reader of our output went away, at once (Textual-free).

An SSH connection that drops closes the pseudo-terminal: a process still attached to it gets
SIGHUP (if it is the session leader or its shell passes it on), its writes fail with ``EIO`` and
its reads hit end-of-file. A ``| head`` that has its lines closes the pipe: the next write fails
with ``EPIPE``. Both can happen while the process does not write or read at all (a quiet bot, a
poll every 10 minutes), so waiting for the next write is not enough: :class:`HangupWatch` asks the
kernel, in a thread of its own, to say when a descriptor reports a hang-up or an error
(``poll()`` with no event asked for: only ``POLLHUP``, ``POLLERR`` and ``POLLNVAL`` come back;
a terminal being typed at or a pipe being read never wakes it).

Used by the TUI (``ui/terminal.py``: the terminal it draws on) and by the commands that run until
stopped (``events --follow``, ``watch``): :func:`watch_output` and :func:`until_gone`.
Nothing here imports Textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import select
import stat
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, TextIO, TypeVar

__all__ = [
    "EXIT_TERMINAL_GONE",
    "GONE_ERRNOS",
    "Gone",
    "GuardedStream",
    "HangupWatch",
    "LostTerminal",
    "is_gone_error",
    "output_fds",
    "park_standard_fds",
    "until_gone",
    "watch_output",
]

T = TypeVar("T")

#: Exit status when the terminal went away without a SIGHUP first (a write failed, input ended).
EXIT_TERMINAL_GONE = 1

#: Write errors that mean "nobody is there any more": a hung-up terminal (``EIO``, ``ENXIO``),
#: a pipe or socket whose reader left (``EPIPE``).
GONE_ERRNOS = frozenset({errno.EIO, errno.EPIPE, errno.ENXIO})

#: What poll() reports, unasked, when the other end went away.
_GONE_EVENTS = select.POLLHUP | select.POLLERR | select.POLLNVAL


def is_gone_error(error: BaseException) -> bool:
    """``error`` says the terminal or the reader went away (EIO, EPIPE, ENXIO)."""
    return isinstance(error, OSError) and error.errno in GONE_ERRNOS


@dataclass(frozen=True)
class Gone:
    """What went away: the reader of a pipe or socket (``reader``), or a terminal (``terminal``)."""

    fd: int
    kind: Literal["reader", "terminal"]

    @property
    def reason(self) -> str:
        if self.kind == "terminal":
            return f"the terminal hung up (fd {self.fd})"
        return f"the reader of fd {self.fd} went away"


class HangupWatch:
    """A daemon thread that calls ``on_gone(Gone)`` once, when one of ``fds`` reports a hang-up or
    an error (from that thread: ``on_gone`` must be thread-safe). A descriptor that can never
    report one (a regular file, ``/dev/null``) is simply never reported.

    ``with HangupWatch(fds, on_gone):`` starts it and stops it (at once: a pipe of its own wakes it).
    """

    def __init__(self, fds: Iterable[int], on_gone: Callable[[Gone], object]) -> None:
        self._on_gone = on_gone
        self._kinds: dict[int, Literal["reader", "terminal"]] = {}
        for fd in fds:
            try:
                # (A character device: a terminal, even one that hung up already, whose isatty()
                # fails. /dev/null is one too, and never reports anything.)
                self._kinds[fd] = "terminal" if stat.S_ISCHR(os.fstat(fd).st_mode) else "reader"
            except OSError:
                continue
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="botmon-hangup-watch", daemon=True)
        self._stopped = False

    @property
    def fds(self) -> tuple[int, ...]:
        return tuple(self._kinds)

    def start(self) -> HangupWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching (the thread ends at once; ``on_gone`` is not called after this returns)."""
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> HangupWatch:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._wake_r, select.POLLIN)
        for fd in self._kinds:
            poller.register(fd, 0)  # nothing asked for: only a hang-up or an error wakes it
        while not self._stopped:
            try:
                ready = poller.poll()
            except InterruptedError:  # pragma: no cover - retried by Python itself (PEP 475)
                continue
            except OSError:
                return
            for fd, events in ready:
                if fd == self._wake_r or self._stopped:
                    return
                if events & _GONE_EVENTS:
                    self._on_gone(Gone(fd, self._kinds[fd]))
                    return  # once: the condition stays, and would wake poll() again and again


class LostTerminal:
    """The terminal is gone (thread-safe, once): ``lose(reason)`` calls the listeners and then
    ``on_lost(reason)``, the first time only. Shared by the writer of the terminal and the
    :class:`HangupWatch` on it."""

    def __init__(self, on_lost: Callable[[str], object] = lambda reason: None) -> None:
        self._listeners: list[Callable[[str], object]] = [on_lost]
        self._lock = threading.Lock()
        self._event = threading.Event()
        self.reason: str | None = None

    def when_lost(self, listener: Callable[[str], object]) -> None:
        """Call ``listener(reason)`` too when the terminal is lost (before ``on_lost``)."""
        with self._lock:
            self._listeners.insert(0, listener)

    @property
    def gone(self) -> bool:
        return self._event.is_set()

    def lose(self, reason: str) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self.reason = reason
            self._event.set()
            listeners = list(self._listeners)
        for listener in listeners:
            listener(reason)


class GuardedStream:
    """A text stream for the terminal that never raises: a failed write or flush (the terminal hung
    up: EIO; or any other error) is told to ``lost`` once, and every later write is dropped.

    Textual writes the screen from a thread of its own; if a write raised there, that thread would
    end and the app would block for ever on the next write (``docs/textual-hangup.md``).
    """

    def __init__(self, stream: TextIO, lost: LostTerminal) -> None:
        self._stream = stream
        self._lost = lost

    def write(self, text: str) -> int:
        if not self._lost.gone:
            try:
                self._stream.write(text)
            except (OSError, ValueError) as error:
                self._lost.lose(_write_failed(error))
        return len(text)

    def flush(self) -> None:
        if not self._lost.gone:
            try:
                self._stream.flush()
            except (OSError, ValueError) as error:
                self._lost.lose(_write_failed(error))

    def fileno(self) -> int:
        return self._stream.fileno()

    def isatty(self) -> bool:
        try:
            return self._stream.isatty()
        except (OSError, ValueError):
            return False

    def __getattr__(self, name: str) -> object:  # encoding, errors, ... as the stream has them
        return getattr(self._stream, name)


def _write_failed(error: BaseException) -> str:
    if isinstance(error, OSError) and error.errno is not None:
        return f"a write to the terminal failed: {errno.errorcode.get(error.errno, error.errno)}"
    return f"a write to the terminal failed: {type(error).__name__}"


def park_standard_fds(fds: Iterable[int] = (0, 1, 2)) -> None:
    """Point the standard descriptors of a terminal that is gone at ``/dev/null``: no write can fail
    or block any more (including the flush of ``sys.stdout`` at exit, whose failure would make the
    exit status 120), and a read returns end-of-file at once, as the hung-up terminal did (a
    reader that waits on it must stop on its own: Textual's input thread is stopped by the
    driver)."""
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_RDWR)
        for fd in fds:
            with contextlib.suppress(OSError):
                os.dup2(null, fd)
        os.close(null)


# ------------------------------------------------------------------------------------------------
# Commands that run until stopped (events --follow, watch)
# ------------------------------------------------------------------------------------------------


def output_fds(out: TextIO) -> list[int]:
    """What a command that writes to ``out`` watches: ``out`` itself when a pipe, socket or
    terminal goes away with it, and standard input and error when they are a terminal (that
    terminal hanging up ends the command too, as when ``events -f | grep x`` runs in it)."""
    fds: list[int] = []
    try:
        fd = out.fileno()
        mode = os.fstat(fd).st_mode
    except (OSError, ValueError, AttributeError):
        pass
    else:
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode):
            fds.append(fd)
    for fd in (0, 2):
        with contextlib.suppress(OSError):
            if fd not in fds and os.isatty(fd):
                fds.append(fd)
    return fds


@contextlib.contextmanager
def watch_output(out: TextIO) -> Iterator[asyncio.Future[Gone] | None]:
    """Inside a running event loop: a future that is done (with the :class:`Gone`) once the reader
    of ``out`` or the terminal goes away (:func:`output_fds`); None when there is nothing to watch
    (``out`` is a file, and no terminal is attached)."""
    fds = output_fds(out)
    if not fds:
        yield None
        return
    loop = asyncio.get_running_loop()
    gone: asyncio.Future[Gone] = loop.create_future()

    def settle(what: Gone) -> None:
        if not gone.done():
            gone.set_result(what)

    def on_gone(what: Gone) -> None:  # (in the watch's thread)
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(settle, what)

    with HangupWatch(fds, on_gone):
        yield gone


async def until_gone(work: Awaitable[T], gone: asyncio.Future[Gone] | None) -> T | Gone:
    """``await work``, unless ``gone`` is done first: then ``work`` is cancelled and the
    :class:`Gone` returned. (``gone`` None: just ``await work``.)

    What a command that runs until stopped does with its waits and its polls::

        with watch_output(sys.stdout) as gone:
            while True:
                if isinstance(ended := await until_gone(asyncio.sleep(interval), gone), Gone):
                    return ended
                ...
    """
    if gone is None:
        return await work
    task = asyncio.ensure_future(work)
    try:
        waits: set[asyncio.Future[Any]] = {task, gone}
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if task.cancelled():  # (by the lines above: ``gone`` came first)
        return gone.result()
    return task.result()  # (or its exception)
