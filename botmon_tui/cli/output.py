"""Where the command line writes: stdout for results, stderr for one-line errors and warnings.

* A closed pipe (``botmon-tui events ... | head``) is not an error: the rest of the output is
  dropped quietly and the command ends with its own status. Nor is a terminal that hung up (a
  write fails with EIO): the same, and :attr:`Output.terminal_gone` says so.
* Any other write error (a full disk, an I/O error) is :class:`OutputError`: one line, exit 4.
* Tables are as wide as ``$COLUMNS``, else the terminal, else 80 columns (also when piped).
* Colour only on a terminal, never with ``NO_COLOR`` or ``TERM=dumb``.
* On the Linux console (``TERM=linux``) the symbols its fonts lack are written as ones they have
  (``botmon_tui.symbols``); piped output keeps them.
* Every line on stderr is sanitized and scrubbed of the secrets in use.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from botmon_tui.cli.args import PROG
from botmon_tui.symbols import for_terminal, symbol_table
from botmon_tui.textsafe import mask_secrets, sanitize

__all__ = ["DEFAULT_WIDTH", "Output", "OutputError", "table_width", "wants_colour"]

#: Width of tables when neither ``$COLUMNS`` nor the terminal says (a pipe, a file, cron).
DEFAULT_WIDTH = 80

#: Environment variables holding secrets: scrubbed from every message from the start.
_SECRET_VARIABLES = ("MEDPLUM_CLIENT_SECRET", "MEDPLUM_CLIENT_ACCESS_TOKEN")
_SGR = {
    "success": "32",
    "warning": "33",
    "error": "31",
    "critical": "1;31",
    "unknown": "35",
    "bold": "1",
    "dim": "2",
}


class OutputError(Exception):
    """stdout could not be written (disk full, I/O error); a closed pipe is not one."""


def wants_colour(stream: TextIO, environ: Mapping[str, str]) -> bool:
    if environ.get("NO_COLOR") or environ.get("TERM") == "dumb":
        return False
    return _isatty(stream)


def _isatty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):
        return False


def table_width(stream: TextIO, environ: Mapping[str, str]) -> int:
    """``$COLUMNS`` if set, else the width of the terminal ``stream`` writes to, else 80."""
    columns = (environ.get("COLUMNS") or "").strip()
    if columns.isdigit() and 0 < int(columns) < 10_000:
        return int(columns)
    if _isatty(stream):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            width = os.get_terminal_size(stream.fileno()).columns
            if width > 0:
                return width
    return DEFAULT_WIDTH


@dataclass
class Output:
    out: TextIO
    err: TextIO
    colour: bool = False
    width: int = DEFAULT_WIDTH
    #: stdout is a terminal (CSV is then sanitized: no raw escape reaches it).
    tty: bool = False
    secrets: list[str] = field(default_factory=list)
    #: The reader went away (a closed pipe, a terminal that hung up): nothing more is written.
    closed: bool = False
    #: What went away was the terminal (``--follow`` then ends with status 1, as the TUI does).
    terminal_gone: bool = False
    #: The symbols stdout's terminal cannot draw, and what is written instead (the Linux console:
    #: :mod:`botmon_tui.symbols`); None: written as they are (other terminals, pipes, files).
    symbols: dict[int, str] | None = None

    @classmethod
    def for_streams(cls, out: TextIO, err: TextIO, environ: Mapping[str, str]) -> Output:
        return cls(
            out=out,
            err=err,
            colour=wants_colour(out, environ),
            width=table_width(out, environ),
            tty=_isatty(out),
            symbols=symbol_table(environ) if _isatty(out) else None,
            secrets=[v for k in _SECRET_VARIABLES if (v := environ.get(k))],
        )

    # ------------------------------------------------------------------ secrets and stderr

    def remember_secrets(self, values: Sequence[str]) -> None:
        """Scrub these too from now on (e.g. an access token the client fetched)."""
        self.secrets.extend(v for v in values if v and v not in self.secrets)

    def scrub(self, text: str) -> str:
        return mask_secrets(text, self.secrets)

    def _stderr(self, kind: str, message: str) -> None:
        line = " ".join(sanitize(self.scrub(message)).split())
        with contextlib.suppress(OSError, ValueError):
            print(f"{PROG}: {kind}{line}", file=self.err, flush=True)

    def error(self, message: str) -> None:
        self._stderr("error: ", message)

    def warning(self, message: str) -> None:
        self._stderr("warning: ", message)

    def note(self, message: str) -> None:
        """A line for the person watching (``--follow``'s retries), not an error."""
        self._stderr("", message)

    # ------------------------------------------------------------------ stdout

    def write(self, text: str) -> None:
        if self.closed:
            return
        try:
            self.out.write(for_terminal(text, self.symbols))
        except BrokenPipeError:
            self._gone()
        except OSError as exc:
            self._failed(exc)

    def line(self, text: str = "") -> None:
        self.write(text + "\n")

    def lines(self, texts: Iterable[str]) -> None:
        for text in texts:
            if self.closed:
                return
            self.line(text)

    def prose(self, text: str) -> None:
        """A sentence, wrapped to the table width (continuation lines indented)."""
        self.lines(textwrap.wrap(text, width=max(20, self.width), subsequent_indent="  ") or [""])

    def flush(self) -> None:
        if self.closed:
            return
        try:
            self.out.flush()
        except BrokenPipeError:
            self._gone()
        except OSError as exc:
            self._failed(exc)

    def _failed(self, exc: OSError) -> None:
        from botmon_tui.hangup import is_gone_error  # (here: --version imports no asyncio)

        if self.tty and is_gone_error(exc):  # EIO: the terminal hung up
            self.terminal_gone = True
            self._gone()
            return
        raise OutputError(_reason(exc)) from None

    def _gone(self) -> None:
        self.closed = True
        silence_stdout(self.out)

    def reader_gone(self) -> None:
        """The reader of stdout went away (seen before a write failed): nothing more is written."""
        if not self.closed:
            self._gone()

    def paint(self, text: str, level: str | None) -> str:
        code = _SGR.get(level or "") if self.colour else None
        return f"\x1b[{code}m{text}\x1b[0m" if code else text

    # ------------------------------------------------------------------ formats

    def json(self, value: Any, *, indent: int | None = 2) -> None:
        # ensure_ascii: every control or bidi character in server text stays an escape, not raw bytes.
        separators = (",", ": ") if indent else (",", ":")
        self.line(json.dumps(value, indent=indent, ensure_ascii=True, separators=separators))

    def csv_writer(self) -> CsvWriter:
        return CsvWriter(self)


class CsvWriter:
    """RFC 4180 rows (the csv module's ``excel`` dialect: CRLF, quotes only where needed).

    Values are the real text (a consumer needs the whole console output as the bot wrote it), but
    on a terminal they are sanitized like everything else shown there: no escape sequence from a
    bot's log ever reaches a terminal raw.
    """

    def __init__(self, io: Output) -> None:
        self._io = io
        self._writer = csv.writer(self, lineterminator="\r\n")

    def write(self, text: str) -> None:  # the csv module's file protocol
        self._io.write(text)

    def row(self, values: Iterable[object]) -> None:
        cells = ["" if v is None else str(v) for v in values]
        if self._io.tty:
            cells = [sanitize(cell) for cell in cells]
        self._writer.writerow(cells)


def _reason(exc: OSError) -> str:
    return f"cannot write the output: {exc.strerror or type(exc).__name__}"


def silence_stdout(stream: TextIO) -> None:
    """After a closed pipe or a failed write, point stdout at /dev/null so that the flush at exit
    neither fails nor complains."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
