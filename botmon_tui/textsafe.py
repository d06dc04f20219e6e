"""The one sanitizer for untrusted text (everything a server returns).

Bot names, ids, ``outcomeDesc`` and error messages are written by other people's code and
travel to an on-call engineer's terminal over SSH. Rich and Textual strip only a few control
codes, so ESC, other C0 controls, DEL and C1 controls would reach the terminal (title changes,
OSC 52 clipboard writes, screen clears). Every backend string goes through :func:`sanitize`
before it is shown; the UI then wraps it in ``rich.text.Text`` (never a markup-parsing API).
Bidi controls and invisible characters (zero-width, BOM, fillers, tags) are made visible too.

``ansi_text`` renders SGR colour sequences from bot logs as colour and nothing else: it keeps
only ``ESC [ <digits;> m`` sequences, shows every other escape literally (as control pictures)
and hands Rich a string that can contain no other control code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

__all__ = [
    "MAX_ANSI_CHARS",
    "MAX_FIELD_CHARS",
    "ansi_text",
    "clip",
    "first_line",
    "is_safe",
    "mask_secrets",
    "sanitize",
    "strip_sgr",
]

# C0 controls (except TAB and LF) become their Unicode "control picture" (U+2400 + code),
# so an ESC shows as ␛ and the reader sees that something was there. DEL becomes ␡.
_C0_PICTURES = {c: chr(0x2400 + c) for c in range(0x20) if c not in (0x09, 0x0A)}
_C0_PICTURES[0x7F] = "\u2421"
# C1 controls (U+0080..U+009F, e.g. the 8-bit CSI U+009B) and bidi overrides/isolates, which can
# reorder what the reader sees ("Trojan source"), become U+FFFD.
_REPLACEMENT = "\ufffd"
_BIDI = [0x200E, 0x200F, 0x061C, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_TABLE: dict[int, str] = dict(_C0_PICTURES)
_TABLE.update({c: _REPLACEMENT for c in range(0x80, 0xA0)})
_TABLE.update({c: _REPLACEMENT for c in _BIDI})
# Lone surrogates (from badly decoded bytes) cannot be encoded to the terminal.
_TABLE.update({c: _REPLACEMENT for c in range(0xD800, 0xE000)})
# Invisible characters: zero-width space/joiners, word joiner, BOM, Hangul fillers, tag characters.
# They hide text (two names that look the same) and terminals disagree with Rich on their width
# (a name holding U+FEFF shifted its row by a column in tmux), so they become U+FFFD too.
_INVISIBLE = [0x034F, 0x115F, 0x1160, 0x180E, 0x3164, 0xFEFF, 0xFFA0, *range(0x200B, 0x200E)]
_INVISIBLE += [*range(0x2060, 0x2065), *range(0xE0000, 0xE0080)]
_TABLE.update({c: _REPLACEMENT for c in _INVISIBLE})


def _char_class(codes: list[int]) -> str:
    """A regex character class matching exactly ``codes`` (runs of neighbours become ranges)."""
    runs: list[list[int]] = []
    for code in sorted(codes):
        if runs and runs[-1][1] == code - 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    return "[" + "".join(f"\\U{a:08x}" + (f"-\\U{b:08x}" if b > a else "") for a, b in runs) + "]"


# What sanitize replaces, for the fast "nothing to replace" check: derived from the table, so the
# two can never disagree.
_UNSAFE_RE = re.compile(_char_class(list(_TABLE)))
_SGR_RE = re.compile(r"\x1b\[([0-9;]{0,64})m")

#: Longest text rendered with colour; past this the pane shows plain sanitized text (cheap).
MAX_ANSI_CHARS = 200_000
#: Longest one-line field shown whole (a name, an id, a code): wider than any terminal. A 1 MB bot
#: name would otherwise be measured and wrapped on every repaint (seconds of frozen UI).
MAX_FIELD_CHARS = 1000


def sanitize(value: object) -> str:
    """Return ``value`` as a string that holds no control character but TAB and LF.

    C0 controls show as control pictures (``␛``); C1, bidi and invisible characters as U+FFFD.
    ``\\r\\n`` becomes ``\\n``; a lone ``\\r`` becomes ``\\n`` too (it would let text overwrite
    itself on a terminal). ``None`` becomes ``""``.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _UNSAFE_RE.search(text) is None:
        return text
    return text.translate(_TABLE)


def clip(value: object, limit: int = MAX_FIELD_CHARS) -> str:
    """:func:`sanitize`, cut to ``limit`` characters with an ellipsis (for one-line fields)."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    if len(text) <= limit:
        return sanitize(text)
    return sanitize(text[:limit]) + "…"


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each (non-empty) secret replaced by ``********``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text


def is_safe(text: str) -> bool:
    """True when ``text`` holds no character :func:`sanitize` would replace."""
    return _UNSAFE_RE.search(text) is None  # CR is in the table too


def strip_sgr(text: str) -> str:
    """``text`` without its SGR colour sequences; other escapes are left for :func:`sanitize`."""
    return _SGR_RE.sub("", text) if "\x1b[" in text else text


def first_line(value: object, limit: int = 200) -> str:
    """The first non-empty line of ``value``, sanitized, SGR codes dropped, at most ``limit`` chars."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    head = text[: limit * 4 + 256]
    head = strip_sgr(head)
    for line in sanitize(head).split("\n"):
        stripped = line.strip()
        if stripped:
            return stripped[:limit] + ("…" if len(stripped) > limit else "")
    return ""


def ansi_text(value: object, *, colour: bool = True) -> Text:
    """A ``rich.text.Text`` of ``value`` with SGR colours rendered and everything else literal."""
    # Imported here: the command line's one-shot commands and --version never need Rich's Text.
    from rich.text import Text

    raw = value if isinstance(value, str) else ("" if value is None else str(value))
    if not colour or len(raw) > MAX_ANSI_CHARS or "\x1b[" not in raw:
        return Text(sanitize(strip_sgr(raw)))
    parts: list[str] = []
    pos = 0
    for match in _SGR_RE.finditer(raw):
        parts.append(sanitize(raw[pos : match.start()]))
        parts.append(f"\x1b[{match.group(1)}m")
        pos = match.end()
    parts.append(sanitize(raw[pos:]))
    # The joined string holds no control code but TAB, LF and complete SGR sequences.
    text = Text.from_ansi("".join(parts), end="")
    text.end = ""
    return text
