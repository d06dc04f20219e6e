"""A bot run's console output read the way Medplum writes it (Textual-free).

Medplum stores a run's console output in ``AuditEvent.outcomeDesc`` (its server's
``createBotAuditEvent``, ``runInLambda`` and ``runInVmContext``); its shape depends on the bot's
runtime:

* **AWS Lambda** (``awslambda``): one line per ``console.*`` call,
  ``<ISO time>⇥<request id>⇥<LEVEL>⇥<message>``, the request id the same on every line; an uncaught
  error is one line, ``…⇥ERROR⇥Invoke Error ⇥{"errorType":…,"errorMessage":…,"stack":[…]}``.
  Medplum keeps what Lambda's ``LogResult`` holds: the last ~4 KB of the output, without its
  ``START`` line and everything from ``END``/``REPORT`` on.
* **vmcontext**: the bot's own lines; an uncaught error logs ``Unhandled error: <message>``, then
  the error's stack (``TypeError: <message>`` and its ``    at …`` frames), and the server appends
  ``Error <message>``.
* Stored, the log keeps only its **last** 10,240 characters (UTF-16 code units, as JavaScript
  counts them): a longer output is cut at the start.

:func:`parse_log` turns the output into :class:`LogEntry` rows: a Lambda line's time, level and
message apart (its request id held once, on the :class:`ParsedLog`), an error with its stack frames
as one block (the JSON of an ``Invoke Error`` read: ``TypeError: Cannot read properties of
undefined (reading 'reference')``, then one frame per row), and whether the log was possibly cut.
Every string in an entry is sanitized (:mod:`botmon_tui.textsafe`); the JSON inside a log is
untrusted like the rest of it (markup, escapes, huge strings, broken JSON are all shown as text).
Each entry says which lines of the log it stands for (``first``..``last``, the numbering of
:func:`log_lines`), the same numbering as :func:`botmon_tui.formatting.summarize`'s ``line``.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any

from botmon_tui.formatting import plural
from botmon_tui.medplum.models import parse_instant
from botmon_tui.textsafe import clip, sanitize, strip_sgr

__all__ = [
    "ERROR",
    "FRAME",
    "LAMBDA_LOG_BYTES",
    "LINE",
    "MAX_FRAMES",
    "MAX_PARSE_CHARS",
    "MORE",
    "STORED_LOG_CHARS",
    "LogEntry",
    "ParsedLog",
    "log_lines",
    "parse_log",
    "utf16_length",
]

#: Medplum's default ``maxBotLogLengthForResource``: a stored log keeps its last 10 × 1,024
#: characters (JavaScript's ``length``: UTF-16 code units).
STORED_LOG_CHARS = 10 * 1024
#: Lambda's ``LogResult`` holds the last 4 KB of a run's output, ``END``/``REPORT`` lines included
#: (Medplum drops those): a Lambda-shaped log of at least this many bytes was most likely cut.
LAMBDA_LOG_BYTES = 4096
LAMBDA_CUT_BYTES = LAMBDA_LOG_BYTES - 512
#: Longest output parsed into entries; a longer one is shown as it is (``ParsedLog.shape`` "raw").
#: Six times the stored cap: a Lambda log never comes near it (its LogResult is 4 KB), and a
#: longer one (a server configured to keep more) costs a pane ~20 ms a 64 KiB to read line by line.
MAX_PARSE_CHARS = 64 * 1024
#: Most stack frames shown per error (the rest become one ``MORE`` row).
MAX_FRAMES = 40
#: Longest error message or frame kept whole (a hostile blob can hold megabytes in one string).
MAX_MESSAGE_CHARS = 4000
MAX_FRAME_CHARS = 500

#: Entry kinds.
LINE = "line"
ERROR = "error"
FRAME = "frame"
MORE = "more"

#: ``2025-12-09T23:57:51.720Z⇥<request id>⇥INFO⇥<message>`` (the id is a UUID, or ``undefined``
#: for a line logged outside a request).
_LAMBDA_RE = re.compile(
    r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2}))\t"
    r"([0-9A-Za-z][0-9A-Za-z-]{0,63})\t([A-Z]{3,8})\t"
)
#: The start of an uncaught error Lambda's Node runtime logs as JSON.
_LAMBDA_ERRORS = ("Invoke Error", "Uncaught Exception", "Unhandled Promise Rejection")
#: A JavaScript (or Java) stack frame.
_FRAME_RE = re.compile(r"\s+at\s+\S|\s+\.\.\. \d+ more")
#: ``TypeError: message``, ``AxiosError: message``: the first line of a JavaScript stack.
_STACK_HEAD_RE = re.compile(r"[A-Za-z_$][\w$.]*(?:Error|Exception|Rejection)?: ")
#: vmcontext's line for an uncaught error, and the server's line after it.
_UNHANDLED = "Unhandled error: "
_SERVER_ERROR = "Error "
#: Lines an ``Unhandled error`` block may span before its frames (a message of many lines).
_MAX_BLOCK_LINES = 200


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One row of a log as shown: a line, an error (with its frames after it), a frame."""

    kind: str
    #: The message, sanitized, colour codes dropped; an error's may span lines (its message).
    text: str
    #: The lines of the log it stands for (0-based, inclusive; see :func:`log_lines`).
    first: int
    last: int
    #: Lambda: the line's time and level (``INFO``, ``WARN``, ``ERROR``, ``DEBUG``...).
    when: datetime | None = None
    level: str = ""
    #: Lambda: this line's request id, only when it is not the log's (``ParsedLog.request_id``).
    request_id: str = ""
    #: The message as the bot wrote it, **unsanitized**, when it holds SGR colour codes: only ever
    #: shown through :func:`botmon_tui.textsafe.ansi_text` (colours, every other escape visible).
    colour: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedLog:
    #: ``lambda``, ``vmcontext`` (an ``Unhandled error`` block), ``text`` (anything else),
    #: ``empty``, or ``raw``: too long to parse (``MAX_PARSE_CHARS``), shown as it is.
    shape: str
    entries: tuple[LogEntry, ...]
    #: Lambda: the request id of the run (the one most lines carry).
    request_id: str | None
    #: Why the start of the log may be missing (wording for the reader), or None.
    truncated: str | None
    #: Characters and lines of the log.
    chars: int
    lines: int

    def entry_at(self, line: int | None) -> int | None:
        """The index of the entry that shows ``line`` of the log (None: no entry does)."""
        if line is None or not self.entries:
            return None
        index = bisect_right(self.entries, line, key=attrgetter("first")) - 1
        if index < 0:
            return None
        # An error's frames are entries of their own after it, inside its range of lines.
        owner = index
        while owner > 0 and self.entries[owner].kind in (FRAME, MORE):
            owner -= 1
        if self.entries[owner].kind == ERROR and self.entries[owner].last >= line:
            return owner
        entry = self.entries[index]
        return index if entry.first <= line <= entry.last else None


def log_lines(raw: str) -> list[str]:
    """The lines of a log as every part of botmon-tui numbers them: ``\\n``, ``\\r\\n`` and a lone
    ``\\r`` each end a line (as :func:`~botmon_tui.textsafe.sanitize` makes them ``\\n``)."""
    if "\r" in raw:
        raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    return raw.split("\n")


def utf16_length(text: str) -> int:
    """``text.length`` as JavaScript (and so Medplum's cut) counts it: astral characters are two."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# ------------------------------------------------------------------------------------------------
# Parsing
# ------------------------------------------------------------------------------------------------


def parse_log(value: object) -> ParsedLog:
    """Read a run's ``outcomeDesc`` (see the module's docstring); never raises."""
    raw = value if isinstance(value, str) else ("" if value is None else str(value))
    chars = len(raw)
    if not raw.strip():
        return ParsedLog("empty", (), None, None, chars, 0 if not raw else len(log_lines(raw)))
    cut_at_cap = _at_stored_cap(raw)
    if chars > MAX_PARSE_CHARS:
        return ParsedLog("raw", (), None, _cap_note() if cut_at_cap else None, chars, len(log_lines(raw)))
    coloured = "\x1b[" in raw
    plain = log_lines(sanitize(strip_sgr(raw)) if coloured else sanitize(raw))
    source = log_lines(raw) if coloured else None
    if len(source or plain) != len(plain):  # (cannot happen: neither removes a line break)
        source = None
    lambda_lines = [_LAMBDA_RE.match(line) for line in plain]
    if _is_lambda(plain, lambda_lines):
        entries, request_id = _lambda_entries(plain, source, lambda_lines)
        first_partial = bool(plain[0].strip()) and lambda_lines[0] is None
        cut = cut_at_cap or first_partial or len(raw.encode("utf-8", "surrogatepass")) >= LAMBDA_CUT_BYTES
        note = _cap_note() if cut_at_cap else _lambda_note() if cut else None
        return ParsedLog("lambda", tuple(entries), request_id, note, chars, len(plain))
    entries, unhandled = _text_entries(plain, source)
    return ParsedLog(
        "vmcontext" if unhandled else "text",
        tuple(entries),
        None,
        _cap_note() if cut_at_cap else None,
        chars,
        len(plain),
    )


def _at_stored_cap(raw: str) -> bool:
    """At least the stored cap long: the server may have cut its start (a server configured for
    more keeps more; a log this long may have been cut there too)."""
    return len(raw) >= STORED_LOG_CHARS or (
        len(raw) * 2 >= STORED_LOG_CHARS and utf16_length(raw) >= STORED_LOG_CHARS
    )


def _cap_note() -> str:
    return (
        "possibly truncated at the start: the server keeps only the end of the log "
        f"(its last {STORED_LOG_CHARS:,} characters)"
    )


def _lambda_note() -> str:
    return (
        "possibly truncated at the start: the server keeps only the end of the log "
        f"(AWS Lambda returns the last {LAMBDA_LOG_BYTES // 1024} KB of a run's output)"
    )


def _coloured(source: list[str] | None, index: int, start: int = 0) -> str | None:
    """The unsanitized text of line ``index`` from ``start``, when it holds colour codes."""
    if source is None:
        return None
    line = source[index]
    return line[start:] if "\x1b[" in line[start:] else None


def _is_lambda(plain: list[str], matches: list[re.Match[str] | None]) -> bool:
    """Lambda's text format: two lines of it, or one among the first two lines that say anything
    (the first may be cut in the middle). Its other lines continue a message (a stack, JSON)."""
    count = 0
    for match in matches:
        if match is not None:
            count += 1
            if count >= 2:
                return True
    heads = [m for line, m in zip(plain, matches, strict=True) if line.strip()][:2]
    return count == 1 and any(m is not None for m in heads)


def _lambda_entries(
    plain: list[str], source: list[str] | None, matches: list[re.Match[str] | None]
) -> tuple[list[LogEntry], str | None]:
    ids = Counter(match.group(2) for match in matches if match is not None)
    request_id = next((rid for rid, _ in ids.most_common() if rid != "undefined"), None)
    if request_id is None and ids:
        request_id = ids.most_common(1)[0][0]
    entries: list[LogEntry] = []
    for index, (line, match) in enumerate(zip(plain, matches, strict=True)):
        if match is None:
            # A message of several lines continues without the prefix; a frame of a stack the bot
            # printed itself; the first line when Lambda's 4 KB cut it in the middle.
            if not line.strip() and (not entries or index == len(plain) - 1):
                continue
            kind = FRAME if _FRAME_RE.match(line) else LINE
            entries.append(
                LogEntry(
                    kind,
                    line.strip() if kind == FRAME else line,
                    index,
                    index,
                    colour=_coloured(source, index),
                )
            )
            continue
        when = parse_instant(match.group(1))
        rid, level = match.group(2), match.group(3)
        message = line[match.end() :]
        other = rid if rid != request_id else ""
        if message.startswith(_LAMBDA_ERRORS):
            block = _invoke_error(message, index, when, level, other)
            if block:
                entries.extend(block)
                continue
        entries.append(
            LogEntry(
                LINE,
                message,
                index,
                index,
                when=when,
                level=level,
                request_id=other,
                colour=_coloured(source, index, _source_offset(source, index)),
            )
        )
    return _extend_blocks(_fold_unhandled(entries)), clip(request_id, 100) if request_id else None


def _fold_unhandled(entries: list[LogEntry]) -> list[LogEntry]:
    """In a Lambda log, Medplum's wrapper logs an uncaught error as one INFO line of several lines,
    ``Unhandled error: <message>`` then the stack, before the runtime's ``Invoke Error``: that line
    and its stack become one error with its frames (as in a vmcontext log), and the Invoke Error
    after it keeps its row but not the same frames again."""
    out: list[LogEntry] = []
    shown: tuple[str, list[str]] | None = None
    index = 0
    while index < len(entries):
        entry = entries[index]
        if entry.kind == LINE and entry.when is not None and entry.text.startswith(_UNHANDLED):
            after = index + 1
            while (
                after < len(entries) and entries[after].when is None and entries[after].kind in (LINE, FRAME)
            ):
                after += 1
            stack = entries[index + 1 : after]
            if any(e.kind == FRAME for e in stack):
                message = entry.text[len(_UNHANDLED) :]
                lines = [e.text for e in stack if e.kind == LINE]
                frames = [e.text for e in stack if e.kind == FRAME]
                first_line = message.split("\n")[0]
                head = next(
                    (k for k, line in enumerate(lines) if _STACK_HEAD_RE.match(line) and first_line in line),
                    None,
                )
                text = _message("\n".join(lines[head:] if head is not None else [entry.text, *lines]))
                out.append(
                    LogEntry(
                        ERROR, text, entry.first, stack[-1].last, entry.when, entry.level, entry.request_id
                    )
                )
                out.extend(_frame_entries(frames, entry.first))
                shown = (text, frames)
                index = after
                continue
        if entry.kind == ERROR and shown is not None and entry.text == shown[0]:
            out.append(entry)
            after = index + 1
            while (
                after < len(entries)
                and entries[after].kind in (FRAME, MORE)
                and entries[after].first == entry.first
            ):
                after += 1
            if [e.text for e in entries[index + 1 : after] if e.kind == FRAME] == shown[1][:MAX_FRAMES]:
                index = after  # (the same frames: said once)
                continue
        out.append(entry)
        index += 1
    return out


def _source_offset(source: list[str] | None, index: int) -> int:
    """Where the message starts in the unsanitized line (after the three tab-separated fields)."""
    if source is None:
        return 0
    line = source[index]
    at = -1
    for _ in range(3):
        at = line.find("\t", at + 1)
        if at < 0:
            return len(line)
    return at + 1


def _invoke_error(message: str, index: int, when: datetime | None, level: str, rid: str) -> list[LogEntry]:
    """``Invoke Error ⇥{"errorType":…}`` as an error row and its frames; [] when it is not that JSON."""
    start = message.find("{")
    if start < 0:
        return []
    try:
        data: Any = json.loads(message[start:], strict=False)
    except (ValueError, RecursionError):
        return []
    if not isinstance(data, dict):
        return []
    kind, text = data.get("errorType"), data.get("errorMessage")
    kind = kind if isinstance(kind, str) and kind.strip() else None
    text = text if isinstance(text, str) and text.strip() else None
    stack = data.get("stack")
    lines: list[str] = []
    if isinstance(stack, str):
        lines = stack.split("\n")
    elif isinstance(stack, list):
        lines = [part for item in stack if isinstance(item, str) for part in item.split("\n")]
    frames = [line for line in lines if _FRAME_RE.match(line) or line.lstrip().startswith("at ")]
    if text is None and kind is None:
        head = next((line for line in lines if line.strip() and line not in frames), None)
        if head is None:
            return []
        headline = head
    elif text is None:
        headline = kind or ""
    else:
        headline = f"{kind}: {text}" if kind else text
    error = LogEntry(ERROR, _message(headline), index, index, when=when, level=level, request_id=rid)
    return [error, *_frame_entries(frames, index)]


def _message(text: str) -> str:
    """An error's message as shown: sanitized, bounded, without blank lines around it."""
    return clip(text.strip("\n"), MAX_MESSAGE_CHARS)


def _frame_entries(frames: list[str], index: int) -> list[LogEntry]:
    entries = [
        LogEntry(FRAME, clip(frame.strip(), MAX_FRAME_CHARS), index, index) for frame in frames[:MAX_FRAMES]
    ]
    entries.extend(_more_frames(frames, index))
    return entries


def _more_frames(frames: list[str], line: int) -> list[LogEntry]:
    """``… 12 more frames`` past the :data:`MAX_FRAMES` shown (none when all are)."""
    hidden = len(frames) - MAX_FRAMES
    return [LogEntry(MORE, f"… {plural(hidden, 'more frame')}", line, line)] if hidden > 0 else []


def _extend_blocks(entries: list[LogEntry]) -> list[LogEntry]:
    """An error row stands for the lines of its frames too (``ParsedLog.entry_at`` finds it)."""
    out = list(entries)
    for position, entry in enumerate(out):
        if entry.kind != ERROR:
            continue
        last = entry.last
        for after in out[position + 1 :]:
            if after.kind not in (FRAME, MORE):
                break
            last = max(last, after.last)
        if last != entry.last:
            out[position] = LogEntry(
                ERROR, entry.text, entry.first, last, entry.when, entry.level, entry.request_id, entry.colour
            )
    return out


def _text_entries(plain: list[str], source: list[str] | None) -> tuple[list[LogEntry], bool]:
    """A vmcontext (or any other) log: its lines, each ``Unhandled error`` block made one error."""
    entries: list[LogEntry] = []
    unhandled = False
    last_text = max((i for i, line in enumerate(plain) if line.strip()), default=-1)
    index = 0
    count = len(plain)
    while index < count:
        line = plain[index]
        if line.startswith(_UNHANDLED):
            block, index = _unhandled_block(plain, index)
            entries.extend(block)
            unhandled = True
            continue
        if index == last_text and line.startswith(_SERVER_ERROR) and len(line) > len(_SERVER_ERROR):
            # The server's own line after a failed vmcontext run (a timeout logs only this).
            entries.append(LogEntry(ERROR, _message(line[len(_SERVER_ERROR) :]), index, index))
        elif _FRAME_RE.match(line):
            entries.append(LogEntry(FRAME, line.strip(), index, index))
        elif not (index == count - 1 and not line):
            entries.append(LogEntry(LINE, line, index, index, colour=_coloured(source, index)))
        index += 1
    return _extend_blocks(entries), unhandled


def _unhandled_block(plain: list[str], start: int) -> tuple[list[LogEntry], int]:
    """``Unhandled error: <message>``, the stack (its head line and frames), and the server's
    ``Error <message>`` after it, as one error row with its frames; returns where to go on."""
    message = plain[start][len(_UNHANDLED) :]
    index = start + 1
    count = len(plain)
    before: list[str] = []
    while index < count and len(before) < _MAX_BLOCK_LINES and not _FRAME_RE.match(plain[index]):
        if plain[index].startswith(_SERVER_ERROR) or plain[index].startswith(_UNHANDLED):
            break
        before.append(plain[index])
        index += 1
    frames: list[str] = []
    while index < count and _FRAME_RE.match(plain[index]):
        frames.append(plain[index])
        index += 1
    if not frames and (index >= count or not plain[index].startswith(_SERVER_ERROR)):
        # No stack and no closing line: the lines after it are the bot's own, not the error's.
        before, index = [], start + 1
    closing: str | None = None
    if index < count and plain[index].startswith(_SERVER_ERROR):
        closing = plain[index][len(_SERVER_ERROR) :]
        index += 1
    # The stack's head ("TypeError: <message>") names the error's type: it becomes the row.
    head = next(
        (k for k, line in enumerate(before) if _STACK_HEAD_RE.match(line) and message.split("\n")[0] in line),
        None,
    )
    if head is not None:
        text = "\n".join(before[head:])
    else:
        text = "\n".join([f"Unhandled error: {message}", *before])
    entries = [LogEntry(ERROR, _message(text), start, start + len(before) + len(frames))]
    entries.extend(
        LogEntry(
            FRAME,
            clip(frame.strip(), MAX_FRAME_CHARS),
            start + 1 + len(before) + k,
            start + 1 + len(before) + k,
        )
        for k, frame in enumerate(frames[:MAX_FRAMES])
    )
    entries.extend(_more_frames(frames, start + len(before) + len(frames)))
    if closing is not None:
        line = index - 1
        if closing.strip() and closing.strip() not in text:
            entries.append(LogEntry(ERROR, _message(closing), line, line))
        else:
            # The same message again: the block stands for that line too.
            first = entries[0]
            entries[0] = LogEntry(ERROR, first.text, first.first, line)
    return entries, index
