"""The symbols the screen is drawn with, and the set the terminal can draw (Textual-free).

The app and the command line write their marks (``✓ Success``, ``✗ failed``, ``⚠ log only``, the
runs-per-hour bars, the sort keys' ``¹²³``) in Unicode. The Linux console (``TERM=linux``: a
machine's own screen, a serial or KVM console) draws from a font of 256 or 512 glyphs that lacks
the check marks and crosses, the warning sign, most of the block elements and the superscripts
from 4 up: they come out as a diamond or a blank, and a failure would look like a success. There,
each of those is written as a character that font has (:data:`LINUX_CONSOLE`): one cell for one
cell, so widths and layouts stay as they are. Everywhere else nothing changes.

This module is the one place that chooses: :func:`symbol_table` says which replacements a terminal
needs (``None``: none), and :func:`for_terminal` applies them. The TUI applies them to every line
it paints (``ui/terminal.py``), the command line to what it writes to a terminal
(``cli/output.py``); piped output and JSON keep the Unicode.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = [
    "BARS",
    "LINUX_CONSOLE",
    "NOT_LOADED",
    "NO_RUNS",
    "for_terminal",
    "symbol_table",
    "uses_console_font",
]

#: Bar heights of the runs-per-hour strip, lowest first. The lowest is a quarter block, not the
#: eighth: an eighth block reads like the ``·`` of an hour without runs.
BARS = "▂▃▄▅▆▇█"
#: An hour without runs on that strip.
NO_RUNS = "·"
#: An hour older than the runs loaded.
NOT_LOADED = "░"

#: What the Linux console's fonts cannot draw, and the character written instead (one cell each).
#: Kept: ``·``, ``─``, ``│``, ``→``, ``↑``, ``↓``, ``×``, ``µ``, ``≥``: its fonts have them. Its
#: fonts have ``¹²³`` too, but not the other superscripts: all nine are digits there, alike.
LINUX_CONSOLE: Mapping[str, str] = {
    # Outcomes and states.
    "✓": "+",
    "✗": "x",
    "✖": "X",
    "❌": "X",
    "▲": "^",
    "▼": "v",
    "⚠": "!",
    "●": "*",
    "‖": "|",
    "↻": "@",
    "⏱": "~",  # a run near its timeout (monitor/durations.NEAR_TIMEOUT_MARK)
    "⇄": "=",
    "⏎": "<",  # Textual's footer writes the enter key so
    # The runs-per-hour strip: bars by height, and the hours not loaded.
    **dict(zip(BARS, "_-=+*#@", strict=True)),
    "▁": "_",
    NOT_LOADED: "?",
    # The sort keys in the headers (Outcome⁴ reads Outcome4).
    **dict(zip("¹²³⁴⁵⁶⁷⁸⁹", "123456789", strict=True)),
}

_LINUX_TABLE = str.maketrans(dict(LINUX_CONSOLE))


def uses_console_font(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the terminal is the Linux console (``TERM=linux``), whose fonts lack most symbols."""
    term = (os.environ if environ is None else environ).get("TERM", "")
    return term == "linux" or term.startswith("linux-")


def symbol_table(environ: Mapping[str, str] | None = None) -> dict[int, str] | None:
    """The ``str.translate`` table the terminal needs (``None``: it draws every symbol)."""
    return _LINUX_TABLE if uses_console_font(environ) else None


def for_terminal(text: str, table: Mapping[int, str] | None) -> str:
    """``text`` with the symbols the terminal cannot draw replaced (``table`` from :func:`symbol_table`)."""
    return text.translate(table) if table else text
