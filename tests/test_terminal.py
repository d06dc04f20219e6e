"""Behaving like a terminal program, in a real terminal (tests/pty_terminal.py in a pty): the
bell of the alerts, ctrl+c, SIGTERM and SIGHUP give the terminal back and set the exit status."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from pty_support import RESTORE, run_in_pty
from pty_terminal import LOADED

SCRIPT = Path(__file__).with_name("pty_terminal.py")
#: Textual's pointer-shape sequence (OSC 22) ends with BEL too: not a bell.
POINTER_SHAPE = re.compile(r"\x1b\]22;[a-z-]*\x07")


@pytest.fixture(scope="module")
def sessions() -> dict[str, tuple[int, str]]:
    env = dict(os.environ, TERM="xterm-256color", TEXTUAL_ANIMATIONS="none", COLUMNS="100", LINES="30")
    env.pop("NO_COLOR", None)
    typed: set[str] = set()

    def reply(mode: str, output: str) -> bytes:
        if mode == "ctrl-c" and mode not in typed and LOADED in output:
            typed.add(mode)
            return b"\x03"
        return b""

    return run_in_pty(SCRIPT, ["bell", "no-bell", "sigterm", "sighup", "ctrl-c"], env, reply=reply)


def bells(output: str) -> int:
    return POINTER_SHAPE.sub("", output).count("\x07")


def given_back(output: str) -> bool:
    """The terminal was restored at the end: every RESTORE sequence after the last screen."""
    tail = output[output.rindex("\x1b[?1049l") - 400 :]
    return all(sequence in tail for sequence in RESTORE)


def test_the_bell_rings_once_per_poll_with_new_failures(sessions: dict[str, tuple[int, str]]) -> None:
    code, output = sessions["bell"]
    assert code == 0, output[-2000:]
    # Two polls brought failures (one a burst of four runs of two bots), one brought nothing.
    assert bells(output) == 2, output[-2000:]
    assert "lab-results-router failed" in output and "hl7-adt-ingest failed" in output


def test_never_a_bell_with_no_bell(sessions: dict[str, tuple[int, str]]) -> None:
    code, output = sessions["no-bell"]
    assert code == 0, output[-2000:]
    assert bells(output) == 0
    assert "lab-results-router failed" in output  # the toasts still come


@pytest.mark.parametrize(("mode", "status"), [("sigterm", 143), ("sighup", 129), ("ctrl-c", 130)])
def test_signals_and_ctrl_c_give_the_terminal_back(
    sessions: dict[str, tuple[int, str]], mode: str, status: int
) -> None:
    code, output = sessions[mode]
    assert code == status, output[-2000:]
    assert LOADED in output and given_back(output)
    assert "Traceback" not in output
