"""The Textual-free parts of issue #21: noticing a hang-up (``botmon_tui/hangup.py``), the bounded
shutdown and its watchdog (``botmon_tui/shutdown.py``), and ``events --follow`` on a terminal that
goes away. (The TUI itself, on real terminals: tests/test_hangup.py.)"""

from __future__ import annotations

import asyncio
import os
import pty
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import process_env

from botmon_tui.crashlog import CrashLog
from botmon_tui.hangup import (
    Gone,
    GuardedStream,
    HangupWatch,
    LostTerminal,
    is_gone_error,
    output_fds,
    park_standard_fds,
    until_gone,
)
from botmon_tui.shutdown import HANGUP_BUDGET, SHUTDOWN_BUDGET, Shutdown

REPO = Path(__file__).resolve().parent.parent


def watch(fds: list[int]) -> tuple[HangupWatch, threading.Event, list[Gone]]:
    seen: list[Gone] = []
    event = threading.Event()

    def on_gone(what: Gone) -> None:
        seen.append(what)
        event.set()

    return HangupWatch(fds, on_gone), event, seen


# ------------------------------------------------------------------------------------------------
# HangupWatch, LostTerminal, GuardedStream
# ------------------------------------------------------------------------------------------------


def test_a_terminal_hanging_up_is_seen_and_input_is_not() -> None:
    master, slave = pty.openpty()
    hangup, event, seen = watch([slave])
    with hangup:
        os.write(master, b"typed keys\r")
        assert not event.wait(0.2)  # input never wakes it
        os.close(master)  # the SSH connection drops
        assert event.wait(5)
    os.close(slave)
    assert seen == [Gone(slave, "terminal")]
    assert seen[0].reason == f"the terminal hung up (fd {slave})"


def test_a_pipe_whose_reader_left_is_seen_and_a_full_one_is_not() -> None:
    read_end, write_end = os.pipe()
    hangup, event, seen = watch([write_end])
    with hangup:
        os.set_blocking(write_end, False)
        with pytest.raises(BlockingIOError):
            while True:
                os.write(write_end, b"x" * 65536)  # full: nobody reads
        assert not event.wait(0.2)
        os.close(read_end)  # | head has its lines
        assert event.wait(5)
    os.close(write_end)
    assert seen == [Gone(write_end, "reader")]


def test_a_stopped_watch_ends_at_once_and_reports_nothing() -> None:
    master, slave = pty.openpty()
    hangup, event, seen = watch([slave])
    hangup.start()
    began = time.monotonic()
    hangup.stop()
    assert time.monotonic() - began < 1.0
    os.close(master)
    assert not event.wait(0.2) and seen == []
    os.close(slave)


def test_a_lost_terminal_is_told_once_listeners_first() -> None:
    calls: list[str] = []
    lost = LostTerminal(lambda reason: calls.append(f"on_lost: {reason}"))
    lost.when_lost(lambda reason: calls.append(f"listener: {reason}"))
    assert not lost.gone
    lost.lose("EIO")
    lost.lose("the terminal hung up")
    assert lost.gone and lost.reason == "EIO"
    assert calls == ["listener: EIO", "on_lost: EIO"]


def test_a_guarded_stream_never_raises_and_drops_everything_once_lost() -> None:
    master, slave = pty.openpty()
    stream = open(slave, "w", buffering=1, closefd=False)  # noqa: SIM115
    reasons: list[str] = []
    lost = LostTerminal(reasons.append)
    guarded = GuardedStream(stream, lost)
    assert guarded.write("hello\n") == 6 and os.read(master, 100) == b"hello\r\n"
    assert guarded.isatty() and guarded.fileno() == slave and guarded.encoding == stream.encoding
    os.close(master)
    guarded.write("frame\n")  # EIO: told, not raised
    guarded.flush()
    guarded.write("more\n")
    assert reasons == ["a write to the terminal failed: EIO"] and lost.gone
    os.close(slave)


def test_write_errors_that_mean_gone() -> None:
    assert all(is_gone_error(OSError(code, "x")) for code in (5, 32, 6))  # EIO, EPIPE, ENXIO
    assert not is_gone_error(OSError(28, "No space left on device")) and not is_gone_error(ValueError())


def test_parked_descriptors_take_writes_and_read_as_end_of_file() -> None:
    master, slave = pty.openpty()
    spare = os.dup(slave)
    os.close(master)
    with pytest.raises(OSError):
        os.write(spare, b"x")  # the terminal is gone
    park_standard_fds((spare,))
    assert os.write(spare, b"drawn into /dev/null") == 20
    assert os.read(spare, 10) == b""
    os.close(spare)
    os.close(slave)


def test_what_a_command_watches(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    with open(write_end, "w", closefd=False) as piped, open(tmp_path / "out", "w") as file:
        assert output_fds(piped)[0] == write_end
        assert write_end not in output_fds(file)  # a file never hangs up
    os.close(read_end)
    os.close(write_end)


async def test_until_gone_cancels_the_work_when_gone_comes_first() -> None:
    loop = asyncio.get_running_loop()
    gone: asyncio.Future[Gone] = loop.create_future()
    cancelled = asyncio.Event()

    async def poll() -> int:
        try:
            await asyncio.Event().wait()  # a request that never ends
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return 1

    loop.call_soon(gone.set_result, Gone(1, "reader"))
    assert await until_gone(poll(), gone) == Gone(1, "reader")
    assert cancelled.is_set()


async def test_until_gone_returns_the_work_and_without_a_watch_just_awaits() -> None:
    gone: asyncio.Future[Gone] = asyncio.get_running_loop().create_future()

    async def value() -> int:
        return 7

    assert await until_gone(value(), gone) == 7
    assert await until_gone(value(), None) == 7
    assert not gone.done()


# ------------------------------------------------------------------------------------------------
# Shutdown: the first reason, the watchdog, the signals
# ------------------------------------------------------------------------------------------------


class Ending:
    """Stands in for ``os._exit``: records the status, and says when it was called."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.called = threading.Event()

    def __call__(self, status: int) -> None:
        self.statuses.append(status)
        self.called.set()


SHUTDOWNS: list[Shutdown] = []


@pytest.fixture(autouse=True)
def disarmed() -> Iterator[None]:
    """No watchdog of a test outlives it (its stand-in for os._exit would be called later)."""
    yield
    while SHUTDOWNS:
        SHUTDOWNS.pop().disarm()


def shutdown_for(tmp_path: Path, secret: str = "s3cr3t-value") -> tuple[Shutdown, Ending, Path]:
    ending = Ending()
    log = tmp_path / "botmon-tui.log"
    shutdown = Shutdown(CrashLog(log, secrets=lambda: [secret]), exit_now=ending)
    SHUTDOWNS.append(shutdown)
    return shutdown, ending, log


def test_the_first_reason_keeps_its_status_and_a_later_one_only_brings_the_end_closer(
    tmp_path: Path,
) -> None:
    shutdown, ending, _log = shutdown_for(tmp_path)
    assert not shutdown.under_way
    assert shutdown.begin(0, "an exit with status 0", budget=60)
    first = shutdown.deadline
    assert first is not None
    assert not shutdown.begin(1, "the terminal hung up", budget=30)
    assert shutdown.status == 0 and shutdown.deadline is not None and shutdown.deadline < first
    assert not shutdown.begin(143, "SIGTERM", budget=120)
    assert shutdown.status == 0 and shutdown.deadline < first
    assert not ending.called.is_set()
    assert HANGUP_BUDGET < 2.0 <= SHUTDOWN_BUDGET


def test_the_watchdog_logs_every_thread_then_ends_with_the_first_status(tmp_path: Path) -> None:
    secret = "s3cr3t-value"
    shutdown, ending, log = shutdown_for(tmp_path, secret)
    said: list[str] = []
    shutdown.last_words = lambda: said.append("terminal given back")
    stuck = threading.Event()
    worker = threading.Thread(target=stuck.wait, name=f"stuck-holding-{secret}", daemon=True)
    worker.start()
    shutdown.begin(129, "SIGHUP", budget=0.05)
    assert ending.called.wait(10)
    stuck.set()
    assert ending.statuses == [129] and said == ["terminal given back"]
    text = log.read_text()
    assert "shutdown watchdog" in text
    assert "ShutdownTimeout: the shutdown after SIGHUP did not finish in" in text
    assert "exit status 129" in text and "Thread stuck-holding-" in text and "Thread MainThread" in text
    assert secret not in text


def test_sigterm_begins_the_shutdown_and_a_second_ends_it_at_once(tmp_path: Path) -> None:
    shutdown, ending, log = shutdown_for(tmp_path)
    asked: list[int] = []
    with shutdown.signals_handled(asked.append):
        shutdown.on_signal(signal.SIGTERM)
        assert asked == [143] and shutdown.status == 143 and not ending.called.is_set()
        with pytest.raises(SystemExit):  # (the stand-in for os._exit returns)
            shutdown.on_signal(signal.SIGTERM)
    assert ending.statuses == [143]
    assert "SIGTERM during the shutdown after SIGTERM" in log.read_text()


def test_a_hangup_during_a_shutdown_brings_its_end_closer(tmp_path: Path) -> None:
    shutdown, ending, _log = shutdown_for(tmp_path)
    asked: list[int] = []
    with shutdown.signals_handled(asked.append):
        shutdown.begin(0, "an exit with status 0", budget=60)
        before = shutdown.deadline
        shutdown.on_signal(signal.SIGHUP)
    assert asked == [] and shutdown.status == 0
    assert before is not None and shutdown.deadline is not None and shutdown.deadline < before - 50
    assert not ending.called.is_set()


def test_the_signal_handlers_are_put_back(tmp_path: Path) -> None:
    shutdown, _ending, _log = shutdown_for(tmp_path)
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)}
    asked: list[int] = []
    with shutdown.signals_handled(asked.append):
        assert signal.getsignal(signal.SIGHUP) != before[signal.SIGHUP]
        os.kill(os.getpid(), signal.SIGHUP)
        deadline = time.monotonic() + 5
        while not asked and time.monotonic() < deadline:
            time.sleep(0.01)  # (the handler runs in the main thread, between two bytecodes)
    assert asked == [129] and shutdown.status == 129
    assert {sig: signal.getsignal(sig) for sig in before} == before


# ------------------------------------------------------------------------------------------------
# events --follow on a terminal that goes away
# ------------------------------------------------------------------------------------------------


def follow_on_a_terminal(*argv: str) -> tuple[subprocess.Popen[bytes], int]:
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "botmon_tui", "events", "lab-results-router", "--demo", "-f", *argv],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=process_env(),
        cwd=REPO,
        start_new_session=True,  # no controlling terminal: no SIGHUP will come
    )
    os.close(slave)
    return process, master


def read_lines(master: int, count: int, limit: float = 60) -> bytes:
    """What the terminal shows until ``count`` lines have ended (or ``limit`` seconds passed)."""
    seen = b""
    deadline = time.monotonic() + limit
    while seen.count(b"\n") < count and time.monotonic() < deadline:
        try:
            seen += os.read(master, 65536)
        except OSError:
            break
    return seen


def test_follow_ends_at_once_when_its_terminal_hangs_up() -> None:
    """A quiet bot, one poll every 10 minutes: the terminal hanging up (no SIGHUP: the process has
    no controlling terminal, as under ``sh -c`` in tmux) ends ``events --follow`` at once, with
    status 1, as the TUI; nothing is written to the terminal that is gone."""
    process, master = follow_on_a_terminal("--limit", "3", "--interval", "600")
    try:
        shown = read_lines(master, 5)  # the heading, the header, 3 runs: then it waits
        assert b"following new runs every 600 s" in shown and shown.count(b"\n") == 5, shown[-500:]
        hung_up = time.monotonic()
        os.close(master)
        code = process.wait(timeout=30)
        took = time.monotonic() - hung_up
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert code == 1 and took < 2.0, (code, took)


def test_a_lost_terminal_then_sigterm_ends_with_sigterm_but_keeps_the_first_status(
    tmp_path: Path,
) -> None:
    """(What the TUI puts together, without Textual: the terminal is lost, the shutdown begins with
    status 1; a SIGTERM during it ends the process at once.)"""
    shutdown, ending, _log = shutdown_for(tmp_path)
    asked: list[int] = []

    def terminal_lost(reason: str) -> None:
        if shutdown.begin(1, reason, budget=60):
            asked.append(1)

    lost = LostTerminal(terminal_lost)
    with shutdown.signals_handled(asked.append):
        lost.lose("a write to the terminal failed: EIO")
        with pytest.raises(SystemExit):
            shutdown.on_signal(signal.SIGTERM)
    assert asked == [1] and ending.statuses == [143] and shutdown.status == 1
