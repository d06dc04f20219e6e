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


def test_the_bell_rings_once_per_poll_with_new_incidents(sessions: dict[str, tuple[int, str]]) -> None:
    code, output = sessions["bell"]
    assert code == 0, output[-2000:]
    # Two polls brought incidents (one a burst of four runs of two bots: a failing bot's new error
    # and a bot that starts failing), one brought nothing.
    assert bells(output) == 2, output[-2000:]
    assert "lab-results-router failed with a new error" in output and "hl7-adt-ingest is failing" in output


def test_never_a_bell_with_no_bell(sessions: dict[str, tuple[int, str]]) -> None:
    code, output = sessions["no-bell"]
    assert code == 0, output[-2000:]
    assert bells(output) == 0
    assert "lab-results-router failed with a new error" in output  # the toasts still come


@pytest.mark.parametrize(("mode", "status"), [("sigterm", 143), ("sighup", 129), ("ctrl-c", 130)])
def test_signals_and_ctrl_c_give_the_terminal_back(
    sessions: dict[str, tuple[int, str]], mode: str, status: int
) -> None:
    code, output = sessions[mode]
    assert code == status, output[-2000:]
    assert LOADED in output and given_back(output)
    assert "Traceback" not in output


#: SGR colours: 256-colour (``38;5;n``, ``48;5;n``), truecolour (``38;2;r;g;b``), and the 16
#: colours (30-37, 40-47, 90-97, 100-107).
SGR = re.compile(r"\x1b\[([0-9;:]*)m")
COLOUR = re.compile(r"(?:^|;)(?:[34]8;(?:5;\d+|2;\d+;\d+;\d+)|(?:3|4|9|10)[0-7])(?=;|$)")


def colours(output: str) -> set[str]:
    return {m.group().lstrip(";") for sgr in SGR.findall(output) for m in COLOUR.finditer(sgr)}


@pytest.fixture(scope="module")
def drawn() -> dict[str, tuple[int, str]]:
    """The bot list and a failing bot's Event tab as written to a real terminal: with colours,
    with ``NO_COLOR=1``, and on the Linux console (``TERM=linux``)."""
    base = dict(os.environ, TEXTUAL_ANIMATIONS="none")
    base.pop("NO_COLOR", None)
    runs = {
        "xterm": dict(base, TERM="xterm-256color"),
        "no-color": dict(base, TERM="xterm-256color", NO_COLOR="1"),
        "linux": dict(base, TERM="linux"),
    }
    return {name: run_in_pty(SCRIPT, ["colours"], env)["colours"] for name, env in runs.items()}


def test_no_color_sends_no_colour_at_all(drawn: dict[str, tuple[int, str]]) -> None:
    code, output = drawn["no-color"]
    assert code == 0 and "lab-results-router" in output
    assert colours(output) == set()  # not even Textual's greys (38;5;253, 48;5;234)
    # Bold, underline and reverse video carry the meaning instead, with the symbols. (Textual
    # draws dim text by blending its colour, so without colour it is plain.)
    attributes = {part for sgr in SGR.findall(output) for part in sgr.split(";")}
    assert {"1", "4", "7"} <= attributes and "✗" in output and "✓" in output
    # The same screens with colours allowed do have them (the check above can fail).
    code, output = drawn["xterm"]
    assert code == 0 and any(c.startswith(("38;5;", "38;2;")) for c in colours(output))


def test_the_linux_console_gets_symbols_its_fonts_have(drawn: dict[str, tuple[int, str]]) -> None:
    code, output = drawn["linux"]
    assert code == 0 and "lab-results-router" in output
    lacking = set("✓✗✖❌⚠●‖↻⇄⏎▁▂▃▄▅▆▇█░⁴⁵⁶⁷⁸⁹")
    assert {ch for ch in output if ch in lacking} == set()
    # The marks are still there, as characters the console has.
    plain = SGR.sub("", output)
    assert "x Serious" in plain or "x Minor" in plain or "^ Minor" in plain
    assert "Outcome2" in plain and "Outcome5" in plain  # the bot list's key 5, the Event tab's 2
    # Elsewhere the look is kept.
    assert "✗" in drawn["xterm"][1] and "⁴" in drawn["xterm"][1]
