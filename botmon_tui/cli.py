"""The ``botmon-tui`` command: the TUI by default, and subcommands for scripts.

    botmon-tui [CONNECTION] [--interval SECONDS] [--bot BOT_ID]      the TUI
    botmon-tui bots [CONNECTION] [--json]                            every bot
    botmon-tui events BOT_ID [CONNECTION] [--json] [--limit N] [--failures] [--since DURATION]
    botmon-tui demo-server [--port PORT] [--seed N] [--verbose]      the demo backend alone

Exit codes: 0 ok, 1 internal error (traceback in the log file), 2 usage or configuration error,
3 authentication, network or server error, 130 interrupted. Errors are one line on stderr and
never hold a secret; tables show server text only after :func:`~botmon_tui.textsafe.sanitize`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, TypeVar

from rich.cells import cell_len, set_cell_size

from botmon_tui import __version__
from botmon_tui.config import (
    DEFAULT_INTERVAL,
    ENVIRONMENT_VARIABLES,
    ConfigError,
    Flags,
    Resolver,
    Sources,
    demo_settings,
    save_theme,
)
from botmon_tui.crashlog import CrashLog
from botmon_tui.medplum.auth import AUTH_TYPES, ConnectionSettings
from botmon_tui.medplum.errors import AuthError, MedplumError, NotFoundError, RateLimitedError
from botmon_tui.medplum.models import AuditEvent, Bot, format_instant
from botmon_tui.textsafe import first_line, mask_secrets, sanitize

if TYPE_CHECKING:
    from botmon_tui.medplum.client import MedplumClient

__all__ = ["main", "parse_duration"]

PROG = "botmon-tui"
EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_SERVER, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
#: Largest ``--limit``: newest-first paging uses ``_offset``, which Medplum caps at 10,000.
MAX_LIMIT = 10_000
MAX_PAGE = 1000
#: FHIR id syntax.
_ID_RE = re.compile(r"^[A-Za-z0-9.\-]{1,64}$")
_DURATION_RE = re.compile(r"^([0-9]{1,7})([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: The longest ``--since`` accepted (ten years).
_MAX_SINCE = timedelta(days=3650)
#: A 429 is waited out (as long as the server asks) this many times per request, when the wait is
#: at most ``MAX_RATE_LIMIT_WAIT`` seconds; otherwise the command fails with the server's answer.
MAX_RATE_LIMIT_RETRIES = 3
MAX_RATE_LIMIT_WAIT = 60.0

T = TypeVar("T")


class UsageError(Exception):
    """A command-line mistake: exit 2 with one line."""


# ------------------------------------------------------------------------------------------------
# Argument parsing
# ------------------------------------------------------------------------------------------------


def parse_duration(text: str) -> timedelta:
    """``45s``, ``30m``, ``1h``, ``2d``: a positive whole number and one unit, nothing else."""
    match = _DURATION_RE.match(text.strip().lower()) if text else None
    if match is None or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(
            f"invalid duration {sanitize(text)[:40]!r}: "
            "use a positive number and a unit, like 45s, 30m, 1h or 2d"
        )
    value = timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    if value > _MAX_SINCE:
        raise argparse.ArgumentTypeError(f"duration {sanitize(text)!r} is too long (at most 3650d)")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {sanitize(text)[:40]!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {sanitize(text)[:40]!r}")
    return value


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {sanitize(text)[:40]!r}") from None
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_LIMIT}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {sanitize(text)[:40]!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be between 0 and 65535 (0 picks a free port)")
    return value


def _resource_id(text: str) -> str:
    if not _ID_RE.match(text):
        raise argparse.ArgumentTypeError(
            f"not a FHIR id: {sanitize(text)[:70]!r} (letters, digits, '-' and '.', at most 64)"
        )
    return text


class _RefuseSecret(argparse.Action):
    """``--client-secret VALUE`` / ``--access-token VALUE``: refused, and the value never echoed."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        raise argparse.ArgumentError(
            self,
            "a secret is not taken as a command-line value (other users can see it in ps): "
            "use --client-secret-file PATH ('-' reads stdin) or MEDPLUM_CLIENT_SECRET",
        )


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (raised, not printed) and never echo secrets."""

    def error(self, message: str) -> NoReturn:
        prefix = "unrecognized arguments: "
        if message.startswith(prefix):
            # A stray value may be a secret typed in the wrong place: name only the options.
            words = message[len(prefix) :].split()
            options = [word.split("=", 1)[0] for word in words if word.startswith("-")]
            hidden = len(words) - len(options)
            message = prefix + " ".join(options)
            if hidden:
                message += (
                    f"{' and ' if options else ''}{hidden} value{'s' if hidden > 1 else ''} (not shown)"
                )
        raise UsageError(f"{message} (see {self.prog} --help)")


def _connection_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """CONNECTION options. On subcommands the defaults are suppressed, so that options given
    before the subcommand (``botmon-tui --demo bots``) are not overwritten by its defaults."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("connection (flags > Medplum CLI profile > environment > config file)")
    group.add_argument(
        "--demo",
        action="store_true",
        default=default(False),
        help="start the embedded demo server on 127.0.0.1 and use it (no account needed)",
    )
    group.add_argument("--base-url", metavar="URL", default=default(None), help="Medplum server base URL")
    group.add_argument(
        "-p",
        "--profile",
        metavar="NAME",
        default=default(None),
        help="Medplum CLI profile (~/.medplum/NAME.json)",
    )
    group.add_argument("--client-id", metavar="ID", default=default(None), help="ClientApplication id")
    group.add_argument(
        "--client-secret-file",
        metavar="PATH",
        default=default(None),
        help="read the client secret from PATH ('-' reads stdin); secrets are never flag values",
    )
    group.add_argument(
        "--fhir-url-path",
        "--fhir-url",
        dest="fhir_url_path",
        metavar="PATH",
        default=default(None),
        help="FHIR path under the base URL (fhir/R4/)",
    )
    group.add_argument(
        "--token-url", metavar="URL", default=default(None), help="OAuth2 token URL (<base>oauth2/token)"
    )
    group.add_argument(
        "--ca-file", metavar="PATH", default=default(None), help="extra CA bundle (TLS is always verified)"
    )
    group.add_argument(
        "--insecure-http",
        action="store_true",
        default=default(False),
        help="allow plain http:// to a host that is not loopback (credentials travel unencrypted)",
    )
    group.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=_positive_float,
        default=default(None),
        help="HTTP timeout (default 30)",
    )
    group.add_argument(
        "--app-url",
        metavar="URL",
        default=default(None),
        help="the Medplum web app, for links (default: app.medplum.com for api.medplum.com, else guessed)",
    )
    group.add_argument(
        "--show-config",
        action="store_true",
        default=default(False),
        help="print the resolved connection, each field with its source (secrets masked), and exit",
    )
    for name in ("--client-secret", "--access-token"):
        group.add_argument(name, action=_RefuseSecret, default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _auth_types_help() -> str:
    width = max(len(name) for name, _ in AUTH_TYPES)
    return "\n".join(f"  {name.ljust(width)}  {text}" for name, text in AUTH_TYPES)


def _environment_help() -> str:
    width = max(len(name) for name, _ in ENVIRONMENT_VARIABLES)
    return "\n".join(f"  {name.ljust(width)}  {text}" for name, text in ENVIRONMENT_VARIABLES)


_USAGE = """\
botmon-tui [CONNECTION] [--interval SECONDS] [--bot BOT_ID] [--no-bell]
       botmon-tui bots [CONNECTION] [--json]
       botmon-tui events BOT_ID [CONNECTION] [--json] [--limit N] [--failures] [--since DURATION]
       botmon-tui demo-server [--port PORT] [--seed N] [--verbose]
       botmon-tui --help | --version"""

_EPILOG = f"""\
settings are resolved per field, as the Medplum CLI does:
  flags > Medplum CLI profile > environment > ./.env > config file > default.
  The profile is -p/--profile, BOTMON_PROFILE or 'profile' in the config file; without one, the
  Medplum CLI's 'default' profile is read only when no credential is set anywhere else.
  A credential is only sent to the server it was set up with: a client id, secret or token from
  one source is used with a server named by another only when both are given on the command line
  (--base-url with -p or --client-id/--client-secret-file); other mixes are refused. Secrets come
  only from --client-secret-file, the environment, .env, a profile or the config file's
  client_secret_file, never from a flag value. Plain http:// is refused except to loopback.
  --show-config prints what was resolved and where each field came from.

Medplum CLI profile authTypes:
{_auth_types_help()}

environment:
{_environment_help()}

config file (TOML, optional): <user config dir>/botmon-tui/config.toml or $BOTMON_CONFIG_DIR/config.toml
  keys: interval, timeout, profile, base_url, fhir_url_path, token_url, client_id,
        client_secret_file, ca_file, app_url, bell (true/false), theme (a Textual theme name;
        one chosen with ctrl+p → Theme is saved here)

examples:
  botmon-tui --demo                                   try it against the embedded demo server
  botmon-tui -p prod --bot 0a1b2c3d                   watch one bot of the 'prod' profile
  botmon-tui -p prod --show-config                    where each connection setting comes from
  botmon-tui bots --profile prod --json | jq '.[].name'
  botmon-tui events 0a1b2c3d --profile prod --failures --since 2h
  botmon-tui bots --base-url https://medplum.example.org/ --client-id <client id> \\
    --client-secret-file ~/.config/botmon-tui/secret

exit status: 0 ok, 1 internal error (see the log in the user state dir), 2 usage or
  configuration error, 3 authentication, network or server error, 130 interrupted.
"""


def build_parser() -> _Parser:
    formatter = argparse.RawDescriptionHelpFormatter
    top_parent = _Parser(add_help=False, allow_abbrev=False)
    _connection_options(top_parent, suppress=False)
    sub_parent = _Parser(add_help=False, allow_abbrev=False)
    _connection_options(sub_parent, suppress=True)

    parser = _Parser(
        prog=PROG,
        usage=_USAGE,
        description="Watch Medplum Bots and their AuditEvents from a terminal.",
        epilog=_EPILOG,
        formatter_class=formatter,
        parents=[top_parent],
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    tui = parser.add_argument_group("TUI")
    tui.add_argument(
        "--interval",
        metavar="SECONDS",
        type=_positive_float,
        default=None,
        help=f"poll interval (default {DEFAULT_INTERVAL:g}; BOTMON_INTERVAL)",
    )
    tui.add_argument(
        "--bot", metavar="BOT_ID", type=_resource_id, default=None, help="open this bot's events"
    )
    tui.add_argument(
        "--no-bell",
        dest="bell",
        action="store_const",
        const=False,
        default=None,
        help="no terminal bell when a new failure is announced (config file: bell = false)",
    )

    commands = parser.add_subparsers(
        dest="command",
        metavar="COMMAND",
        title="commands",
        description="Without a command, botmon-tui opens the TUI. "
        "Run 'botmon-tui COMMAND --help' for a command's own options.",
        required=False,
    )
    bots = commands.add_parser(
        "bots",
        prog=f"{PROG} bots",
        help="list every bot",
        description="List every bot of the project (all pages): name, id, runtime, schedule and audit "
        "settings. A warning mark shows bots whose settings mean no AuditEvent will ever appear.",
        parents=[sub_parent],
        formatter_class=formatter,
        allow_abbrev=False,
    )
    bots.add_argument("--json", action="store_true", help="print the Bot resources as the server sent them")

    events = commands.add_parser(
        "events",
        prog=f"{PROG} events",
        help="a bot's AuditEvents, newest first",
        description="A bot's AuditEvents (one per run), newest first.",
        epilog="examples:\n  botmon-tui events 0a1b2c3d --demo --failures --since 1h\n"
        "  botmon-tui events 0a1b2c3d --profile prod --json --limit 200 > runs.json",
        parents=[sub_parent],
        formatter_class=formatter,
        allow_abbrev=False,
    )
    events.add_argument("bot_id", metavar="BOT_ID", type=_resource_id, help="the Bot's id")
    events.add_argument("--json", action="store_true", help="print the AuditEvent resources as sent")
    events.add_argument(
        "--limit",
        metavar="N",
        type=_limit,
        default=20,
        help=f"how many events (default 20, at most {MAX_LIMIT})",
    )
    events.add_argument("--failures", action="store_true", help="only failed runs (outcome 4, 8 or 12)")
    events.add_argument(
        "--since",
        metavar="DURATION",
        type=parse_duration,
        default=None,
        help="only newer than 45s, 30m, 1h, 2d",
    )

    demo = commands.add_parser(
        "demo-server",
        prog=f"{PROG} demo-server",
        help="run the demo backend alone",
        description="Run the embedded Medplum-compatible demo server on 127.0.0.1 until Ctrl-C, and "
        "print its base URL, demo credentials and how to connect.",
        formatter_class=formatter,
        allow_abbrev=False,
    )
    demo.add_argument(
        "--port", metavar="PORT", type=_port, default=0, help="port to listen on (default: any free)"
    )
    demo.add_argument(
        "--seed", metavar="N", type=int, default=42, help="seed of the generated data (default 42)"
    )
    demo.add_argument("--verbose", action="store_true", help="print one line per request")
    return parser


# ------------------------------------------------------------------------------------------------
# Output helpers
# ------------------------------------------------------------------------------------------------


@dataclass
class Output:
    out: TextIO
    err: TextIO
    colour: bool = False
    width: int | None = None
    secrets: list[str] = field(default_factory=list)

    def remember_secrets(self, values: Sequence[str]) -> None:
        """Scrub these too from now on (e.g. an access token the client fetched)."""
        self.secrets.extend(v for v in values if v and v not in self.secrets)

    def scrub(self, text: str) -> str:
        return mask_secrets(text, self.secrets)

    def error(self, message: str) -> None:
        line = " ".join(sanitize(self.scrub(message)).split())
        print(f"{PROG}: error: {line}", file=self.err)

    def warning(self, message: str) -> None:
        line = " ".join(sanitize(self.scrub(message)).split())
        print(f"{PROG}: warning: {line}", file=self.err)

    def paint(self, text: str, level: str) -> str:
        if not self.colour:
            return text
        code = {"success": "32", "warning": "33", "error": "31", "critical": "1;31", "unknown": "35"}.get(
            level
        )
        return f"\x1b[{code}m{text}\x1b[0m" if code else text


def _wants_colour(stream: TextIO, environ: dict[str, str]) -> bool:
    if environ.get("NO_COLOR") or environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _table_width(stream: TextIO) -> int | None:
    isatty = getattr(stream, "isatty", None)
    if not (isatty and isatty()):
        return None
    return max(60, shutil.get_terminal_size((120, 24)).columns)


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    width: int | None = None,
    decorate: Callable[[int, int, str], str] | None = None,
) -> list[str]:
    """Plain-text columns of sanitized cells; the last column is cut to fit ``width``.

    ``decorate(row, column, padded_cell)`` may colour a body cell after widths are measured.
    """
    # Sanitized text may still hold TAB, which would break the columns.
    rows = [[cell.replace("\t", " ") for cell in row] for row in rows]
    widths = [cell_len(h) for h in headers]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], cell_len(cell))
    room = None if width is None else max(10, width - sum(w + 2 for w in widths[:-1]))
    lines: list[str] = []
    for number, row in enumerate([list(headers), *map(list, rows)]):
        cells = [set_cell_size(cell, widths[i]) for i, cell in enumerate(row[:-1])]
        last = row[-1]
        if room is not None and cell_len(last) > room:
            last = set_cell_size(last, room - 1) + "…"
        cells.append(last)
        if decorate is not None and number > 0:
            cells = [decorate(number - 1, column, cell) for column, cell in enumerate(cells)]
        lines.append("  ".join(cells).rstrip())
    return lines


def relative(when: datetime, now: datetime) -> str:
    seconds = (now - when).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 1:
        return "just now"
    if seconds < 60:
        text = f"{int(seconds)}s"
    elif seconds < 3600:
        text = f"{int(seconds // 60)}m"
    elif seconds < 86400:
        text = f"{int(seconds // 3600)}h"
    else:
        text = f"{int(seconds // 86400)}d"
    return f"in {text}" if future else f"{text} ago"


def format_duration(value: timedelta | None) -> str:
    if value is None:
        return "-"
    seconds = value.total_seconds()
    if seconds < 0:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m {rest:02d}s"


def outcome_cell(event: AuditEvent) -> tuple[str, str]:
    """``"✓ Success (0)"`` and the colour level; an unknown code shows as itself."""
    info = event.outcome_info
    code = first_line(info.code, limit=12)
    if not info.code:
        return f"{info.symbol} {info.display}", info.level
    display = first_line(info.display, limit=30) if info.display != info.code else "unknown"
    return f"{info.symbol} {display} ({code})", info.level


def bot_rows(bots: Sequence[Bot]) -> list[list[str]]:
    rows: list[list[str]] = []
    for bot in bots:
        destination = "+".join(first_line(d, 20) for d in bot.audit_destination)
        audit = f"{destination} / {first_line(bot.audit_trigger, 20)}"
        if not bot.writes_audit_events:
            audit += "  ⚠ no AuditEvents"
        rows.append(
            [
                first_line(bot.display_name, 60),
                first_line(bot.id, 64),
                first_line(bot.runtimeVersion, 20) or "-",
                first_line(bot.schedule, 40) or "-",
                audit,
            ]
        )
    return rows


def event_rows(events: Sequence[AuditEvent], now: datetime) -> tuple[list[list[str]], list[str]]:
    """The table cells of ``events`` and the colour level of each row's outcome."""
    rows: list[list[str]] = []
    levels: list[str] = []
    for event in events:
        outcome, level = outcome_cell(event)
        when = event.when
        if when is not None:
            updated = f"{format_instant(when)} ({relative(when, now)})"
        else:
            updated = first_line(event.when_raw, 40) or "-"
        rows.append(
            [
                first_line(event.id, 64),
                outcome,
                updated,
                format_duration(event.duration),
                first_line(event.outcomeDesc, 200),
            ]
        )
        levels.append(level)
    return rows, levels


def _print_json(raw: Sequence[dict[str, Any]], out: TextIO) -> None:
    # ensure_ascii: every control or bidi character in server text stays an escape, not raw bytes.
    out.write(json.dumps(list(raw), indent=2, ensure_ascii=True))
    out.write("\n")


# ------------------------------------------------------------------------------------------------
# Commands
# ------------------------------------------------------------------------------------------------


async def _patiently(io: Output, request: Callable[[], Awaitable[T]]) -> T:
    """``await request()``; after a 429, wait as long as the server says and ask again."""
    attempt = 0
    while True:
        try:
            return await request()
        except RateLimitedError as exc:
            attempt += 1
            if attempt > MAX_RATE_LIMIT_RETRIES or exc.retry_after > MAX_RATE_LIMIT_WAIT:
                raise
            io.warning(str(exc))
            await asyncio.sleep(exc.retry_after)


@asynccontextmanager
async def _connected(settings: ConnectionSettings, io: Output) -> AsyncIterator[MedplumClient]:
    """The client of one command; what it learnt to keep secret (its access token) is scrubbed from
    the output too, also when the command fails."""
    from botmon_tui.medplum.client import MedplumClient

    async with MedplumClient(settings) as client:
        try:
            yield client
        finally:
            io.remember_secrets(client.secrets())


async def _list_bots(settings: ConnectionSettings, io: Output) -> tuple[list[Bot], list[dict[str, Any]], int]:
    async with _connected(settings, io) as client:
        page = await _patiently(io, client.list_bots)
    return page.resources, page.raw, page.invalid


async def _list_events(
    settings: ConnectionSettings,
    io: Output,
    bot_id: str,
    *,
    limit: int,
    failures: bool,
    since: datetime | None,
) -> tuple[Bot, list[AuditEvent], list[dict[str, Any]], int]:
    async with _connected(settings, io) as client:
        return await _read_events(client, io, bot_id, limit=limit, failures=failures, since=since)


async def _read_events(
    client: MedplumClient, io: Output, bot_id: str, *, limit: int, failures: bool, since: datetime | None
) -> tuple[Bot, list[AuditEvent], list[dict[str, Any]], int]:
    events: list[AuditEvent] = []
    raw: list[dict[str, Any]] = []
    seen: set[str] = set()
    invalid = 0
    try:
        bot = await _patiently(io, partial(client.get_bot, bot_id))
    except NotFoundError as exc:
        raise NotFoundError(
            f"{exc} (Bot/{bot_id}: deleted, or these credentials cannot read it)", status=exc.status
        ) from None
    page = await _patiently(
        io,
        partial(client.bot_events, bot_id, count=min(limit, MAX_PAGE), failures_only=failures, since=since),
    )
    pages = 0
    while True:
        pages += 1
        invalid += page.invalid
        for event, resource in zip(page.resources, page.raw, strict=True):
            # Offset paging shifts when new runs land meanwhile: never show one twice.
            if event.id not in seen and len(events) < limit:
                seen.add(event.id)
                events.append(event)
                raw.append(resource)
        if len(events) >= limit or pages >= MAX_LIMIT:
            break
        next_page = await _patiently(io, partial(client.next_page, page, AuditEvent))
        if next_page is None:
            break
        page = next_page
    return bot, events, raw, invalid


def _cmd_bots(settings: ConnectionSettings, args: argparse.Namespace, io: Output) -> int:
    bots, raw, invalid = asyncio.run(_list_bots(settings, io))
    if invalid:
        io.warning(f"{invalid} Bot entr{'y' if invalid == 1 else 'ies'} could not be read and were skipped")
    if args.json:
        _print_json(raw, io.out)
        return EXIT_OK
    if not bots:
        print("No bots in this project.", file=io.out)
        return EXIT_OK
    headers = ["NAME", "ID", "RUNTIME", "SCHEDULE", "AUDIT (destination / trigger)"]
    for line in render_table(headers, bot_rows(bots), width=io.width):
        print(line, file=io.out)
    silent = sum(1 for bot in bots if not bot.writes_audit_events)
    summary = f"{len(bots)} bot{'s' if len(bots) != 1 else ''}"
    if silent:
        summary += (
            f"; ⚠ {silent} write no AuditEvent resources (auditEventDestination without 'resource' "
            "or auditEventTrigger 'never'): their runs will not appear here"
        )
    print(summary, file=io.out)
    return EXIT_OK


def _cmd_events(settings: ConnectionSettings, args: argparse.Namespace, io: Output) -> int:
    now = datetime.now(UTC)
    since = now - args.since if args.since is not None else None
    bot, events, raw, invalid = asyncio.run(
        _list_events(settings, io, args.bot_id, limit=args.limit, failures=args.failures, since=since)
    )
    if invalid:
        io.warning(
            f"{invalid} AuditEvent entr{'y' if invalid == 1 else 'ies'} could not be read and were skipped"
        )
    if not bot.writes_audit_events:
        io.warning(
            f"bot {first_line(bot.display_name, 60)!r} writes no AuditEvent resources "
            f"(destination {'+'.join(bot.audit_destination)}, trigger {bot.audit_trigger}): "
            "its runs only reach the server logs"
        )
    if args.json:
        _print_json(raw, io.out)
        return EXIT_OK
    what = "failed runs" if args.failures else "events"
    window = f" in the last {_duration_text(args.since)}" if args.since is not None else ""
    name = first_line(bot.display_name, 60)
    if not events:
        print(f"No {what}{window} for bot {name} ({first_line(bot.id, 64)}).", file=io.out)
        return EXIT_OK
    print(f"Bot {name} ({first_line(bot.id, 64)}): {len(events)} {what}{window}, newest first", file=io.out)
    rows, levels = event_rows(events, now)

    def decorate(row: int, column: int, cell: str) -> str:
        return io.paint(cell, levels[row]) if column == 1 else cell

    headers = ["ID", "OUTCOME", "LAST UPDATED (UTC)", "DURATION", "OUTCOME DESC (first line)"]
    for line in render_table(headers, rows, width=io.width, decorate=decorate):
        print(line, file=io.out)
    return EXIT_OK


def _duration_text(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _cmd_tui(
    settings: ConnectionSettings,
    interval: float,
    args: argparse.Namespace,
    io: Output,
    demo: object | None,
    warnings: Sequence[str] = (),
    bell: bool = True,
    theme: str | None = None,
    remember_theme: Callable[[str], object] | None = None,
) -> int:
    try:
        from botmon_tui.ui.app import run_tui
    except ImportError as exc:
        if exc.name not in ("botmon_tui.ui", "botmon_tui.ui.app"):
            raise
        print(
            f"{PROG}: the TUI is not built yet; try '{PROG} bots' or '{PROG} events BOT_ID'",
            file=io.err,
        )
        return EXIT_OK
    result = run_tui(
        settings,
        interval=interval,
        bot_id=args.bot,
        demo=demo,
        warnings=warnings,
        theme=theme,
        remember_theme=remember_theme,
        bell=bell,
    )
    return int(result) if isinstance(result, int) else EXIT_OK


def _cmd_demo_server(args: argparse.Namespace, io: Output) -> int:
    """Run the demo backend in the foreground; it prints its URL, credentials and examples."""
    from botmon_tui.demo import DemoConfig, serve_forever

    # Ctrl-C is how this command is meant to end, whenever it lands: exit 0.
    with suppress(KeyboardInterrupt):
        serve_forever(args.port or None, DemoConfig(seed=args.seed, verbose=args.verbose), out=io.out)
    return EXIT_OK


# ------------------------------------------------------------------------------------------------
# Entry point
# ------------------------------------------------------------------------------------------------


def _flags(args: argparse.Namespace) -> Flags:
    return Flags(
        base_url=getattr(args, "base_url", None),
        profile=getattr(args, "profile", None),
        client_id=getattr(args, "client_id", None),
        client_secret_file=getattr(args, "client_secret_file", None),
        fhir_url_path=getattr(args, "fhir_url_path", None),
        token_url=getattr(args, "token_url", None),
        ca_file=getattr(args, "ca_file", None),
        insecure_http=bool(getattr(args, "insecure_http", False)),
        timeout=getattr(args, "timeout", None),
        interval=getattr(args, "interval", None),
        bell=getattr(args, "bell", None),
        app_url=getattr(args, "app_url", None),
    )


@contextmanager
def _demo_server(enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    try:
        from botmon_tui.demo import DemoConfig, DemoServer
    except ImportError:
        raise ConfigError("the demo backend is not available in this build") from None
    server = DemoServer(DemoConfig(live=True))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _run(argv: Sequence[str] | None, io: Output, sources: Sources) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    command = args.command
    if command == "demo-server":
        return _cmd_demo_server(args, io)

    flags = _flags(args)
    use_demo = bool(getattr(args, "demo", False))
    if use_demo and (flags.base_url or flags.profile or flags.client_id or flags.client_secret_file):
        raise UsageError(
            "--demo cannot be combined with --base-url, --profile, --client-id or --client-secret-file"
        )
    resolver = Resolver(flags, sources)
    if getattr(args, "show_config", False):
        if use_demo:
            raise UsageError("--show-config shows the configured connection; drop --demo")
        return _show_config(resolver, io)
    interval = resolver.interval()
    bell = resolver.bell()
    with _demo_server(use_demo) as demo:
        if demo is not None:
            settings = demo_settings(
                demo.base_url, demo.client_id, demo.client_secret, timeout=resolver.timeout()
            )
        else:
            settings = resolver.connection()
        io.secrets.extend(settings.secrets())
        for message in resolver.warnings:
            io.warning(message)
        try:
            if command == "bots":
                return _cmd_bots(settings, args, io)
            if command == "events":
                return _cmd_events(settings, args, io)
            warnings = [io.scrub(w) for w in resolver.warnings]
            return _cmd_tui(
                settings,
                interval,
                args,
                io,
                demo,
                warnings,
                bell,
                theme=resolver.theme(),
                remember_theme=partial(save_theme, sources.config_dir),
            )
        except AuthError as exc:
            # Say where the credentials came from (never what they are).
            raise AuthError(
                f"{exc.message} (credentials from {settings.source})", status=exc.status
            ) from None


def _show_config(resolver: Resolver, io: Output) -> int:
    """``--show-config``: each resolved field and its source (secrets masked); no network."""
    rows, problem = resolver.describe()
    width = max(len(label) for label, _, _ in rows)
    for label, value, source in rows:
        print(f"{label.ljust(width)}  {value}  [{source}]", file=io.out)
    for message in resolver.warnings:
        io.warning(message)
    if problem is not None:
        io.error(str(problem))
        return EXIT_USAGE
    return EXIT_OK


def _crash_log(error: BaseException, secrets: Sequence[str]) -> str:
    """Write the traceback (secrets masked) to the crash log; return where it went."""
    log = CrashLog(secrets=lambda: secrets)
    if log.write(error, f"{PROG} {__version__} (command line)"):
        return f"traceback in {log.path}"
    return "could not write the log file"


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``botmon-tui``; return the exit status (never raises, never prints a traceback)."""
    environ = dict(os.environ)
    for stream in (sys.stdout, sys.stderr):
        with suppress(AttributeError, ValueError, OSError):
            stream.reconfigure(errors="replace")  # type: ignore[union-attr]
    io = Output(
        out=sys.stdout,
        err=sys.stderr,
        colour=_wants_colour(sys.stdout, environ),
        width=_table_width(sys.stdout),
        secrets=[
            v for k in ("MEDPLUM_CLIENT_SECRET", "MEDPLUM_CLIENT_ACCESS_TOKEN") if (v := environ.get(k))
        ],
    )
    try:
        return _run(argv, io, Sources.from_os())
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except (UsageError, ConfigError) as exc:
        io.error(str(exc))
        return EXIT_USAGE
    except MedplumError as exc:
        io.error(str(exc))
        return EXIT_SERVER
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_OK
    except Exception as exc:
        where = _crash_log(exc, io.secrets)
        io.error(f"internal error ({type(exc).__name__}); {where}")
        return EXIT_INTERNAL


def _silence_stdout() -> None:
    """After a closed pipe (``| head``), stop Python from complaining when it flushes at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
