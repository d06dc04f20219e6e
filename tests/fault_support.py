"""Support for the fault matrix (tests/test_fault_matrix.py): hostile text, leak scanners, tallies.

* ``HOSTILE``: every hostile string the matrix feeds through bot names, runtime/cron fields, event
  ids, outcome codes and ``outcomeDesc`` (``seed_hostile`` stores them in a demo server).
* ``screen_leaks(app)``: what a headless app *would* write to the terminal for a full repaint (the
  compositor's segments and the escape sequences ``App._display`` writes), scanned for control
  characters that came from data rather than from Textual's own styling.
* ``terminal_leaks(data)``: the same scan over raw bytes from a real terminal session (the pty test).
* ``Tally``: what each test exercised and what went wrong (crash, lost run, escape leak); the
  conftest hook adds the tallies of every test (also across xdist workers) into the summary line.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from textual_support import compositor, screen_strips

from botmon_tui.demo import DemoServer

#: Key of the entries tests append to ``item.user_properties``.
TALLY_KEY = "botmon_fault_matrix"

# ------------------------------------------------------------------------------------------------
# Hostile text
# ------------------------------------------------------------------------------------------------

ONE_MB_LINE = "A" * 1_048_576 + " end of the 1 MB line"
TEN_MB_LOG = ("x" * 1023 + "\n") * 10_240 + "last line of the 10 MB log"


@dataclass(frozen=True)
class Hostile:
    name: str
    text: str
    #: Also used as the bot's name, runtime and cron string (the 10 MB log only goes in outcomeDesc).
    in_bot: bool = True
    #: A fragment that must be seen literally on screen (markup shown as text, not interpreted).
    literal: str = field(kw_only=True)


HOSTILE: tuple[Hostile, ...] = (
    Hostile("markup action [@click=app.quit]", "[@click=app.quit]x[/] tail", literal="[@click=app.quit]x[/]"),
    Hostile("stray closing tag [/x]", "[/x] and [/]", literal="[/x] and [/]"),
    Hostile("style markup [bold]", "[bold]not bold[/bold] [red on white]x", literal="[bold]not bold[/bold]"),
    Hostile("link markup", "[link=https://evil.example/]click me[/link]", literal="[link=https://evil"),
    Hostile("escaped markup", "\\[@click=app.quit]y\\[/] [[/]] \\", literal="\\[@click=app.quit]y"),
    Hostile("OSC 0 window title", "\x1b]0;PWNED-TITLE\x07after", literal="PWNED-TITLE"),
    Hostile("OSC 2 title with ST", "\x1b]2;PWNED-TITLE2\x1b\\after", literal="PWNED-TITLE2"),
    Hostile("OSC 52 clipboard write", "\x1b]52;c;cHduZWQ=\x07after", literal="52;c;cHduZWQ="),
    Hostile(
        "OSC 8 hyperlink", "\x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\", literal="evil.example"
    ),
    Hostile("CSI clear screen", "\x1b[2J\x1b[3J\x1b[Hafter the clear", literal="after the clear"),
    Hostile("8-bit CSI \\x9b", "\x9b2J\x9b31mred?\x9b0m", literal="red?"),
    Hostile("8-bit OSC \\x9d and ST \\x9c", "\x9d0;PWNED-C1\x9cafter", literal="PWNED-C1"),
    Hostile("cursor moves and saves", "\x1b[10A\x1b[5C\x1b7\x1b8\x1b[s\x1b[uafter", literal="after"),
    Hostile("DCS tmux passthrough", "\x1bPtmux;\x1b\x1b]52;c;cHduZWQ=\x07\x1b\\after", literal="tmux;"),
    Hostile(
        "terminal reset and modes", "\x1bc\x1b[?1049l\x1b[?25l\x1b[?1000l\x1b[?2004lafter", literal="after"
    ),
    Hostile("NUL and C0 controls", "a\x00b\x01c\x02d\x7fe\x08f\x0bg\x0ch", literal="b"),
    Hostile("BEL", "ding\x07\x07dong", literal="dong"),
    Hostile("CR overwrite", "all good\rFAILED\r\nnext", literal="FAILED"),
    Hostile("C1 controls", "x\x80\x84\x85\x8d\x90\x9f y", literal=" y"),
    Hostile("bidi overrides", "\u202eexe.live\u202c \u2066iso\u2069 \u200f\u061cz", literal="exe.live"),
    Hostile("wide characters", "名前ボット的运行日志 ｗｉｄｅ", literal="名前ボット"),
    Hostile("emoji and ZWJ sequences", "🤖 👩‍👩‍👧‍👦 🏳️‍🌈 ok", literal="🤖"),
    Hostile("combining marks", "Z\u0335\u0321\u0322\u0347\u0344a\u0337l\u0338g\u0336o", literal="Z"),
    Hostile("zero width and BOM", "a\u200bb\u200dc\ufeffd\u2060e", literal="a"),
    Hostile("line and paragraph separators", "one\u2028two\u2029three", literal="one"),
    Hostile("ANSI colour (SGR)", "\x1b[31mred\x1b[0m \x1b[1;32mgreen\x1b[0m", literal="red"),
    Hostile("SGR conceal and blink", "\x1b[8mhidden\x1b[0m \x1b[5mblink\x1b[0m", literal="blink"),
    Hostile("tabs", "col1\tcol2\t\tcol3", literal="col1"),
    Hostile("a single 1 MB line", ONE_MB_LINE, literal="AAAAAAAA"),
    Hostile("a 10 MB outcomeDesc", TEN_MB_LOG, in_bot=False, literal="xxxxxxxx"),
)

#: Hostile text that reaches the screen another way (server error texts, headers, raw bytes).
OUTCOME_TEXT = "[@click=app.quit]boom[/] \x1b]0;PWNED-OO\x07 \x9b2J [/x] \x1b]52;c;cHduZWQ=\x07 done"
HEADER_TEXT = "Bad \x9b2J Gateway \x85 [@click=app.quit]x[/]"


def short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit]


def seed_hostile(demo: DemoServer, at: datetime) -> dict[str, dict[str, Any]]:
    """Store one bot per hostile string and two runs of it; return ``name -> {bot, events}``."""
    seeded: dict[str, dict[str, Any]] = {}
    for number, item in enumerate(HOSTILE):
        fields: dict[str, Any] = {"runtimeVersion": "vmcontext"}
        if item.in_bot:
            fields.update(
                name=item.text, runtimeVersion=short(item.text, 200), cronString=short(item.text, 200)
            )
        else:
            fields["name"] = f"hostile-{number:02d}"
        bot = demo.store.add_bot({"resourceType": "Bot", **fields})
        when = at - timedelta(minutes=number + 1)
        events = hostile_runs(demo, bot["id"], item.text, when, f"h{number:02d}-{short(item.text, 50)}")
        seeded[item.name] = {"bot": bot, "events": events}
    return seeded


def hostile_runs(
    demo: DemoServer, bot_id: str, text: str, at: datetime, second_id: str
) -> list[dict[str, Any]]:
    """Two runs of the bot: ``text`` as the outcomeDesc of the first (at ``at``); the second (a
    second earlier) carries it in its id (``second_id``) and as an unknown outcome code.

    The demo derives versionIds from UUID ids, so the id is swapped in the stored JSON afterwards
    (what a hostile server would send).
    """
    first = demo.store.add_event(bot_id, outcome="8", desc=text, at=at)
    second = demo.store.add_event(
        bot_id, outcome=short(text, 40), desc="second run", at=at - timedelta(seconds=1)
    )
    record = demo.store.event_record(second["id"])
    assert record is not None and record.res is not None
    record.res["id"] = second["id"] = second_id
    return [first, second]


# ------------------------------------------------------------------------------------------------
# Leak scanners
# ------------------------------------------------------------------------------------------------

#: What ``textsafe.sanitize`` removes: C0 but TAB/LF, DEL, C1, bidi controls, invisible characters
#: (zero-width, BOM, fillers, tags), lone surrogates. Written out here, not imported: a check of
#: the sanitizer must not trust the sanitizer's own table.
UNSAFE_RE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u061c\u202a-\u202e\u2060-\u2064\u2066-\u2069"
    "\u034f\u115f\u1160\u180e\u3164\ufeff\uffa0\U000e0000-\U000e007f\ud800-\udfff]"
)
#: The only escape sequences Textual's compositor writes for a repaint: SGR styles and cursor moves.
COMPOSITOR_CSI_RE = re.compile(r"\x1b\[[0-9;]*[mH]")


def unsafe_chars(text: str) -> list[str]:
    return sorted({repr(ch) for ch in UNSAFE_RE.findall(text)})


def screen_leaks(app: Any, *, svg: bool = False) -> list[str]:
    """Control characters from data in what a headless ``app`` would write for a full repaint.

    ``App._display`` writes ``compositor.render_update(...).render_segments(console)``: the text
    of every segment with Textual's own SGR and cursor-move sequences around it. A leak is any
    control character in a segment's text, or anything but SGR/CUP in the written string.
    ``svg``: also export a screenshot and scan it (slower; the same segments drawn as SVG).
    """
    leaks: list[str] = []
    composed = compositor(app)
    for y, strip in enumerate(composed.render_strips()):
        for segment in strip:
            if segment.control:
                leaks.append(f"row {y}: a control segment {segment.control!r}")
            bad = unsafe_chars(segment.text)
            if bad:
                leaks.append(f"row {y}: {bad} in {segment.text[:40]!r}")
    written = composed.render_full_update().render_segments(app.console)
    rest = COMPOSITOR_CSI_RE.sub("", written).replace("\n", "")
    bad = unsafe_chars(rest)
    if bad:
        leaks.append(f"terminal output holds {bad}")
    if svg:
        bad = unsafe_chars(app.export_screenshot().replace("\n", "").replace("\t", ""))
        if bad:
            leaks.append(f"screenshot holds {bad}")
    return leaks


def screen_text(app: Any) -> str:
    """The plain text of the whole screen as the user sees it (one line per row)."""
    return "\n".join(strip.text for strip in screen_strips(app))


# A real terminal session: every escape sequence, classified.
_SEQUENCE_RE = re.compile(
    r"\x1b\[[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
    r"|\x1b[PX^_][^\x1b]*\x1b\\"  # DCS, SOS, PM, APC
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]"  # other ESC sequences (ESC 7, ESC c, ...)
)


def sequences(data: str) -> list[str]:
    return _SEQUENCE_RE.findall(data)


def sequence_kind(seq: str) -> str:
    """``CSI ?1049h`` → ``"CSI ?h"``: the kind of a sequence without its numbers."""
    if seq.startswith("\x1b["):
        return "CSI " + re.sub(r"[0-9;]", "", seq[2:])
    if seq.startswith("\x1b]"):
        return "OSC " + seq[2:].split(";", 1)[0]
    return "ESC " + seq[1:2]


def terminal_leaks(data: str, allowed_kinds: set[str]) -> list[str]:
    """Escape sequences and controls in raw terminal output that a clean session does not produce.

    ``allowed_kinds``: the kinds of the sequences a session over clean data wrote (the baseline).
    Besides those, only text, ``\\r`` and ``\\n`` may appear: no BEL, no other C0, no C1.
    """
    leaks = [
        f"unexpected {sequence_kind(s)}: {s!r}"
        for s in sequences(data)
        if sequence_kind(s) not in allowed_kinds
    ]
    rest = _SEQUENCE_RE.sub("", data).replace("\r", "").replace("\n", "")
    leaks.extend(f"raw {ch} in the output" for ch in unsafe_chars(rest))
    return leaks


# ------------------------------------------------------------------------------------------------
# Tallies
# ------------------------------------------------------------------------------------------------


class LostRun(AssertionError):
    """A run that happened during an outage did not appear, or appeared twice."""


class EscapeLeak(AssertionError):
    """A control character from data reached (or would reach) the terminal."""


@dataclass
class Tally:
    """What one test exercised. ``hostile``/``faults``: name -> set of legs (``tui``, ``cli``)."""

    hostile: dict[str, set[str]] = field(default_factory=dict)
    faults: dict[str, set[str]] = field(default_factory=dict)
    crashes: list[str] = field(default_factory=list)
    lost_runs: list[str] = field(default_factory=list)
    escape_leaks: list[str] = field(default_factory=list)

    @contextmanager
    def leg(self, kind: str, name: str, leg: str) -> Iterator[None]:
        """Count ``name`` (``kind`` "hostile" or "fault") for ``leg`` if the block passes.

        A failure is classified: LostRun → lost runs, EscapeLeak → escape leaks, any error that
        is not an assertion (the app or the CLI raised) → crashes. Then it propagates.
        """
        where = f"{kind} {name!r} ({leg})"
        try:
            yield
        except LostRun as error:
            self.lost_runs.append(f"{where}: {error}")
            raise
        except EscapeLeak as error:
            self.escape_leaks.append(f"{where}: {error}")
            raise
        except AssertionError:
            raise
        except BaseException as error:  # Crashed, or an exception out of the app or the CLI
            self.crashes.append(f"{where}: {type(error).__name__}: {error}")
            raise
        if kind in ("hostile", "fault"):  # other kinds ("check") are guarded, not counted
            getattr(self, "hostile" if kind == "hostile" else "faults").setdefault(name, set()).add(leg)

    def as_json(self) -> str:
        return json.dumps(
            {
                "hostile": {k: sorted(v) for k, v in self.hostile.items()},
                "faults": {k: sorted(v) for k, v in self.faults.items()},
                "crashes": self.crashes,
                "lost_runs": self.lost_runs,
                "escape_leaks": self.escape_leaks,
            }
        )


def check_no_leaks(leaks: list[str], where: str) -> None:
    if leaks:
        raise EscapeLeak(f"{where}: " + "; ".join(leaks[:5]))


@dataclass
class Summary(Tally):
    """The tallies of a whole session (conftest adds each test's into one)."""

    tests: int = 0

    def add(self, payload: str) -> None:
        data = json.loads(payload)
        self.tests += 1
        for key in ("hostile", "faults"):
            target = getattr(self, key)
            for name, legs in data[key].items():
                target.setdefault(name, set()).update(legs)
        self.crashes += data["crashes"]
        self.lost_runs += data["lost_runs"]
        self.escape_leaks += data["escape_leaks"]

    @staticmethod
    def _both(items: dict[str, set[str]]) -> int:
        return sum(1 for legs in items.values() if {"tui", "cli"} <= legs)

    @property
    def failed(self) -> bool:
        return bool(self.crashes or self.lost_runs or self.escape_leaks)

    def line(self) -> str:
        return (
            f"hostile inputs: {self._both(self.hostile)}, faults: {self._both(self.faults)}, "
            f"crashes: {len(self.crashes)}, lost runs: {len(self.lost_runs)}, "
            f"escape leaks: {len(self.escape_leaks)}"
        )

    def one_legged(self) -> list[str]:
        """Items exercised in only one of the TUI and the CLI (not counted)."""
        return [
            f"{name} ({'+'.join(sorted(legs))} only)"
            for items in (self.hostile, self.faults)
            for name, legs in items.items()
            if not {"tui", "cli"} <= legs
        ]


class Crashed(Exception):
    """The app logged an internal error (a bug caught at a worker's boundary), or the CLI exited 1."""


# ------------------------------------------------------------------------------------------------
# Certificates (TLS faults) and a switchable resolver (DNS faults)
# ------------------------------------------------------------------------------------------------


def make_cert(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost / DNS_HOST (``openssl`` must exist)."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
            "-addext", f"subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:{DNS_HOST}",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def server_context(pair: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(pair[0]), str(pair[1]))
    return context


#: A name only the test resolver knows (``.test`` is reserved: no real DNS answers for it).
DNS_HOST = "medplum.botmon.test"


class Resolver:
    """``socket.getaddrinfo`` for :data:`DNS_HOST`: 127.0.0.1, or EAI_NONAME while ``down``.

    Everything else resolves as usual. httpx (anyio) calls ``socket.getaddrinfo`` for each new
    connection, so the client's real DNS error path runs.
    """

    def __init__(self) -> None:
        self.down = False
        self.lookups = 0
        self._real = socket.getaddrinfo

    def getaddrinfo(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode("ascii", "replace") if isinstance(host, bytes) else host
        if name == DNS_HOST:
            self.lookups += 1
            if self.down:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return self._real("127.0.0.1", port, *args, **kwargs)
        return self._real(host, port, *args, **kwargs)
