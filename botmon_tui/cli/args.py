"""The command line's grammar: the parser, its value types and its help.

Imported by ``botmon-tui --version`` and ``--help``, so it stays light: argparse, the standard
library and the settings table (:mod:`botmon_tui.settings`, standard library only) at import time.
Each setting's flag, metavar, default and help come from that table.
"""

from __future__ import annotations

import argparse
import re
import textwrap
from collections.abc import Callable
from datetime import timedelta
from typing import Any, NoReturn, TypeVar

from botmon_tui import __version__
from botmon_tui.settings import ENVIRONMENT_VARIABLES, PRECEDENCE, SETTING, SETTINGS, Setting
from botmon_tui.textsafe import clip, is_safe

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_OUTPUT",
    "EXIT_SERVER",
    "EXIT_USAGE",
    "MAX_LIMIT",
    "PROG",
    "UsageError",
    "build_parser",
    "parse_duration",
]

PROG = "botmon-tui"
#: Exit statuses. 1 is both "a bot failed" (``status``) and an internal error (a bug; the log says
#: which): a cron job that mails on anything but 0 and 2 hears about both.
EXIT_OK, EXIT_FAILED, EXIT_INTERNAL, EXIT_USAGE, EXIT_SERVER = 0, 1, 1, 2, 3
#: The output could not be written (disk full, an I/O error); a closed pipe is not an error.
EXIT_OUTPUT = 4
EXIT_INTERRUPTED = 130
#: Largest ``--limit``: newest-first paging uses ``_offset``, which Medplum caps at 10,000.
MAX_LIMIT = 10_000
#: Bots whose history ``status`` reads for ``lastDeploy`` by default: the failed ones, in
#: attention order (a history read costs Medplum 10 quota units; ``--deploys`` reads every bot).
MAX_DEPLOY_READS = 20
#: ``status``'s default window.
DEFAULT_WINDOW = timedelta(hours=1)
#: ``failures``' default window.
DEFAULT_FAILURES_WINDOW = timedelta(hours=24)
_DURATION_RE = re.compile(r"^([0-9]{1,7})([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: The longest ``--since`` accepted (ten years).
_MAX_SINCE = timedelta(days=3650)
#: The longest bot name or id taken (Medplum's ids are 64 characters at most; names are free text).
_MAX_BOT_REF = 500


N = TypeVar("N", int, float)


class UsageError(Exception):
    """A command-line mistake: exit 2 with one line."""


# ------------------------------------------------------------------------------------------------
# Value types
# ------------------------------------------------------------------------------------------------


def _shown(text: str, limit: int = 40) -> str:
    return repr(clip(text, limit))


def parse_duration(text: str) -> timedelta:
    """``45s``, ``30m``, ``1h``, ``2d``: a positive whole number and one unit, nothing else."""
    match = _DURATION_RE.match(text.strip().lower()) if text else None
    if match is None or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(
            f"invalid duration {_shown(text)}: use a positive number and a unit, like 45s, 30m, 1h or 2d"
        )
    value = timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    if value > _MAX_SINCE:
        raise argparse.ArgumentTypeError(f"duration {_shown(text)} is too long (at most 3650d)")
    return value


def _number(convert: Callable[[str], N], what: str, ok: Callable[[N], bool], rule: str) -> Callable[[str], N]:
    """An argparse type: ``convert(text)``, refused unless ``ok`` (``rule`` says why)."""

    def parse(text: str) -> N:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {what}: {_shown(text)}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{rule}: {_shown(text)}")
        return value

    return parse


_positive_float = _number(
    float, "a number of seconds", lambda v: 0 < v < float("inf"), "must be a positive number of seconds"
)
_limit = _number(int, "a whole number", lambda v: 1 <= v <= MAX_LIMIT, f"must be between 1 and {MAX_LIMIT}")
_port = _number(
    int, "a port number", lambda v: 0 <= v <= 65535, "must be between 0 and 65535 (0 picks a free port)"
)


def bot_ref(text: str) -> str:
    """A bot's exact name or its id (``Bot/<id>`` is taken too). Checked for shape only here; the
    server says whether such a bot exists."""
    value = text.strip()
    if not value or len(value) > _MAX_BOT_REF or not is_safe(value) or "\n" in value:
        raise argparse.ArgumentTypeError(
            f"not a bot name or id: {_shown(text, 70)} (one line of printable text, at most {_MAX_BOT_REF})"
        )
    return value


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
    """An ArgumentParser whose errors are one line (raised, not printed) and never echo secrets.

    ``before_help`` runs before help is formatted: text that needs :mod:`botmon_tui.config` (the
    environment variables, defaults) is filled in then, so ``--version`` never imports it.
    """

    before_help: Callable[[_Parser], None] | None = None

    def format_help(self) -> str:
        if self.before_help is not None:
            self.before_help(self)
            self.before_help = None
        return super().format_help()

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


# ------------------------------------------------------------------------------------------------
# Options
# ------------------------------------------------------------------------------------------------


def _add_setting(
    group: Any, setting: Setting, *, default: Any, text: str | None = None, dest: str | None = None
) -> None:
    """A setting's flag as :data:`~botmon_tui.settings.SETTINGS` declares it (``dest`` is its name)."""
    options: dict[str, Any] = {
        "dest": dest or setting.dest,
        "default": default,
        "help": setting.help_line(text),
    }
    if setting.kind == "switch":
        options.update(action="store_const", const=not setting.default)
    else:
        options.update(metavar=setting.metavar, action="append" if setting.repeat else "store")
        if setting.kind == "seconds":
            options["type"] = _positive_float
    group.add_argument(*setting.flags, **options)


def _connection_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """CONNECTION options: every setting of a connection that has a flag. On subcommands the
    defaults are suppressed, so that options given before the subcommand (``botmon-tui --demo
    bots``) are not overwritten by its defaults, and a repeatable option's values after the
    subcommand go to ``<name>_after_command`` (argparse would replace those given before)."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group(f"connection ({PRECEDENCE})")
    group.add_argument(
        "--demo",
        action="store_true",
        default=default(False),
        help="start the embedded demo server on 127.0.0.1 and use it (no account needed)",
    )
    for setting in SETTINGS:
        if setting.flags and setting.scope != "global":
            dest = f"{setting.dest}_after_command" if suppress and setting.repeat else None
            _add_setting(group, setting, default=default(None), dest=dest)
    group.add_argument(
        "--show-config",
        action="store_true",
        default=default(False),
        help="print every setting and each connection's, with its value and source (secrets masked), "
        "and exit",
    )
    for name in ("--client-secret", "--access-token"):
        group.add_argument(name, action=_RefuseSecret, default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _output_options(parser: argparse.ArgumentParser, json_help: str, csv_help: str) -> None:
    group = parser.add_argument_group("output (default: a table as wide as the terminal, else 80 columns)")
    formats = group.add_mutually_exclusive_group()
    formats.add_argument("--json", action="store_true", help=json_help)
    formats.add_argument("--csv", action="store_true", help=csv_help)


def _window_and_bots(parser: argparse.ArgumentParser, window: timedelta, examples: str, only: str) -> None:
    """``--since DURATION`` (the window, ``window`` by default) and ``--bot BOT`` (repeatable, in
    ``bots``): ``status``'s and ``failures``'."""
    parser.add_argument(
        "--since", metavar="DURATION", type=parse_duration, default=window, help=f"the window: {examples}"
    )
    parser.add_argument(
        "--bot",
        metavar="BOT",
        dest="bots",
        type=bot_ref,
        action="append",
        default=None,
        help=f"{only} (its exact name or its id); repeat for several",
    )


_USAGE = """\
botmon-tui [CONNECTION] [--interval SECONDS] [--bot BOT] [--no-bell]
       botmon-tui status [CONNECTION] [--since DURATION] [--bot BOT ...] [--deploys] [--json | --csv]
       botmon-tui bots [CONNECTION] [--deploys] [--json | --csv]
       botmon-tui failures [CONNECTION] [--since DURATION] [--bot BOT ...] [--group] [--json | --csv]
       botmon-tui watch [CONNECTION] [--json] [--interval SECONDS] [--on-alert CMD] [--initial]
       botmon-tui events BOT [CONNECTION] [--limit N] [--failures] [--since DURATION]
                         [--follow [--interval SECONDS]] [--json | --csv]
       botmon-tui demo-server [--port PORT] [--seed N] [--verbose]
       botmon-tui --help | --version

BOT is a bot's exact name or its id. CONNECTION may name several projects (-p prod -p staging)
for the TUI, status, bots, failures and watch."""

_EXIT_STATUS = """\
exit status: 0 ok, 1 a bot failed (status) or an internal error (see the log in the user
  state dir), 2 usage or configuration error (also an unknown or ambiguous bot), 3 authentication,
  network or server error, 4 the output could not be written (disk full), 130 interrupted."""

_STATUS_HELP = """\
Every bot of the project (or those named with --bot): its state (failing since when, how many
runs in a row, what kind; recovered; flaky), its last run, how that run ended, how many of its
runs failed in the window, and a warning when its settings mean it writes no AuditEvents. Bots
that failed come first; the first line tells the bots failing now from those that failed and
recovered. With several projects (-p prod -p staging) every bot is listed with its project, and
a project that cannot be read is told with its label (exit 3 only when none could be read).

"Failed in the window" means: at least one AuditEvent of the bot's runs (type execute) with
outcome 4, 8 or 12 (Minor, Serious or Major failure) was stored (meta.lastUpdated) within the
last DURATION, by the server's clock. A bot that failed and then ran fine still counts: its
failure happened in the window. A bot whose settings write no AuditEvents cannot be seen failing;
it is marked with a warning and never counts as failed.

Silence is a failure too: a bot that runs on a schedule (cronString or cronTiming) is late when a
scheduled run did not come within its grace period ([grace] in the config file; by default the
larger of 2 min and 20 % of its period), and a bot with a regular rhythm learned from its runs
(at least 20 runs over a day) is quiet when its silence is far beyond it (3 times its longest gap,
and at least 30 min). A bot late or quiet now makes the exit status 1, as a failure does;
--ignore-late leaves them out of it (they are still listed). The P50/P95 column is the median and
95th-percentile duration of the bot's runs read.

The requests are the same whatever the number of bots: the bot list (one request per 1,000 bots),
the project's newest 1,000 runs, and its failed runs in the window (one request per 1,000); when
bots are failing, the output of their newest failed run (one request per 100 bots: the kind and
the cause), and for a failure streak longer than the runs read one lookup per bot (at most 20).
Then the history of each bot that failed, for its last deploy (one request, 10 quota units each;
at most 20); --deploys reads every bot's. For silence: the last run of each scheduled bot with
none among the runs read (one request each, at most 50), and the runs of a bot whose runs read look
regular but span less than a day (one request each, at most 20)."""

_STATUS_EPILOG = f"""\
examples:
  botmon-tui status --profile prod                      every bot, failing first; exit 1 if any failed
  botmon-tui status --profile prod --since 15m --bot lab-results-router --bot hl7-adt-ingest
  botmon-tui status --profile prod --json | jq '.bots[] | select(.failures > 0) | .name'
  botmon-tui status -p prod -p staging --json | jq '.bots[] | select(.state == "failing") | .name'
  # a cron job every 15 minutes: mail the table when a bot failed in those 15 minutes (exit 1)
  out=$(botmon-tui status --profile prod --since 15m 2>&1)
  [ $? -eq 1 ] && echo "$out" | mail -s 'Medplum bots failing' oncall@example.org

{_EXIT_STATUS}
"""


_FAILURES_HELP = """\
The failed runs of the window, newest first, each with its kind (timeout, crash, platform or
error: read from its output and its duration, since the server writes outcome 4 for every failed
run) and its error signature (its error line and its own first stack frame with ids, numbers,
times and quoted values taken out: one cause across runs and bots). --group gives one line per
signature: how many runs, which bots, first and last seen, and whether it is ongoing (a bot is
failing now with it).

Requests: the bot list, the project's newest 1,000 runs (which bots are failing now), and the
failed runs of the window with their output (one request per 1,000, at most 10,000; one query per
--bot instead when bots are named)."""

_FAILURES_EPILOG = """\
examples:
  botmon-tui failures -p prod --since 2h --group          one line per cause
  botmon-tui failures -p prod --bot lab-results-router --json | jq -r '.[].summary'
  botmon-tui failures -p prod -p staging --group --json | jq '.[] | select(.ongoing)'

JSON: a run is {id, bot, botId, lastUpdated, outcome, outcomeText, kind, signature, signatureText,
summary, profile}; a group {signature, signatureText, example, kind, runs, bots, botIds, firstSeen,
lastSeen, ongoing, profiles}.
"""

_WATCH_HELP = """\
Watch the projects as the TUI does and print one line per incident change, until Ctrl-C:
  failing         a bot started failing (a new streak)
  new-signature   a failing bot failed with a cause not seen in this incident
  still-failing   it goes on failing: told again at most every --realert (default 30 min)
  recovered       it ran fine again: how long it failed and how many runs
  late            a bot that runs on a schedule missed a run (past its grace period)
  quiet           a bot with a regular rhythm has been silent far longer than usual
  resumed         a late or quiet bot ran again
Later failures of the same incident are counted silently. Incidents already there at start are
told only with --initial. Server errors are told on stderr and retried with backoff; they never
stop the watch. It ends with status 130 on Ctrl-C, and 0 when the reader of its pipe goes away.

Each poll costs what the TUI's does: two requests whatever the number of bots, one more when a
failure it does not know came (its output: the kind and the cause), and one lookup once per
failure streak longer than the runs read.

--on-alert CMD runs CMD for each of these lines. CMD is split like a shell line and run without a
shell, with stdin closed, its output discarded and a 10 s timeout (then it is killed). The facts
are in its environment, never a secret: BOTMON_EVENT, BOTMON_BOT, BOTMON_BOT_ID, BOTMON_AT,
BOTMON_SINCE, BOTMON_STREAK, BOTMON_STREAK_EXACT, BOTMON_KIND, BOTMON_SIGNATURE, BOTMON_SUMMARY,
BOTMON_LASTED_SECONDS, BOTMON_LINK, BOTMON_PROFILE. Its failures are told on stderr."""

_WATCH_EPILOG = """\
examples:
  botmon-tui watch -p prod -p staging
  botmon-tui watch -p prod --json | jq -c 'select(.event == "failing")'
  botmon-tui watch -p prod --on-alert 'notify-send -u critical botmon'
  botmon-tui watch -p prod --on-alert ~/bin/page-oncall      # a script that reads $BOTMON_*

JSON (one object per line): {event, bot, botId, at, since, streak, streakExact, kind, signature,
signatureText, summary, lastedSeconds, newRuns, initial, link, profile}.
"""


def _auth_types_help() -> str:
    from botmon_tui.medplum.auth import AUTH_TYPES

    width = max(len(name) for name, _ in AUTH_TYPES)
    return "\n".join(f"  {name.ljust(width)}  {text}" for name, text in AUTH_TYPES)


def _environment_help() -> str:
    width = max(len(name) for name, _ in ENVIRONMENT_VARIABLES)
    indent = " " * (width + 4)
    return "\n".join(
        textwrap.fill(f"  {name.ljust(width)}  {text}", 100, subsequent_indent=indent)
        for name, text in ENVIRONMENT_VARIABLES
    )


def _config_keys_help() -> str:
    """The config file's keys, at the top level and in a [[connection]] table, from the table."""
    top = ", ".join(
        s.file_key for s in SETTINGS if s.file_key and s.at_top and s.kind not in ("keymap", "grace")
    )
    table = ", ".join(s.file_key for s in SETTINGS if s.file_key and s.in_table)
    return "\n".join(
        [
            *textwrap.wrap(f"keys: {top}", 96, initial_indent="  ", subsequent_indent="        "),
            *textwrap.wrap(
                f"[[connection]] tables (one per connection): {table}",
                96,
                initial_indent="  ",
                subsequent_indent="        ",
            ),
        ]
    )


def _top_epilog() -> str:
    return f"""\
settings are resolved per field, as the Medplum CLI does:
  {PRECEDENCE}.
  The profile is -p/--profile, BOTMON_PROFILE or 'profile' in the config file; without one, the
  Medplum CLI's 'default' profile is read only when no credential is set anywhere else.
  A credential is only sent to the server it was set up with: a client id, secret or token from
  one source is used with a server named by another only when both are given on the command line
  (--base-url with -p or --client-id/--client-secret-file) or in one [[connection]] table; other
  mixes are refused. Secrets come only from --client-secret-file, the environment, .env, a profile
  or the config file's client_secret_file, never from a flag value. Plain http:// is refused except
  to loopback. --show-config prints what was resolved and where each setting came from.

several connections: repeat -p (botmon-tui -p prod -p staging), or name them in the config file:
  watch = ["prod", "staging"], or one [[connection]] table each (all of them are watched when there
  is no watch). A NAME (of -p, BOTMON_PROFILE, profile or watch) is the [[connection]] with that label,
  else a Medplum CLI profile. Each connection is resolved on its own by the rules above, and a
  credential never goes to another connection's server. Each has a label (its table's label, else
  its profile's name, else its host); two connections with one label are refused.

Medplum CLI profile authTypes:
{_auth_types_help()}

environment:
{_environment_help()}

config file (TOML, optional): <user config dir>/botmon-tui/config.toml or $BOTMON_CONFIG_DIR/config.toml
{_config_keys_help()}
  [keymap]: binding id = key(s) for the TUI, like "events.times" = "T" or "poll.pause" = "space"
  [grace]: bot name or id = how long a scheduled run may be overdue before the bot is late, like
        "fax-inbox-poller" = "10m" (default: the larger of 2 min and 20 % of its period)

examples:
  botmon-tui --demo                                   try it against the embedded demo server
  botmon-tui -p prod --bot lab-results-router         watch one bot of the 'prod' profile
  botmon-tui -p prod --show-config                    where each connection setting comes from
  botmon-tui -p prod -p staging                       watch two projects
  botmon-tui status -p prod --since 15m               exit 1 if a bot failed in the last 15 minutes
  botmon-tui failures -p prod --group                 today's failures, one line per cause
  botmon-tui watch -p prod --on-alert ~/bin/page      one line (and one page) per incident change
  botmon-tui bots -p prod --json | jq '.[].name'
  botmon-tui events lab-results-router -p prod --failures --since 2h
  botmon-tui events lab-results-router -p prod --follow
  botmon-tui bots --base-url https://medplum.example.org/ --client-id <client id> \\
    --client-secret-file ~/.config/botmon-tui/secret

{_EXIT_STATUS}
"""


def _fill_top_help(parser: _Parser) -> None:
    parser.epilog = _top_epilog()


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
        formatter_class=formatter,
        parents=[top_parent],
        allow_abbrev=False,
    )
    parser.before_help = _fill_top_help
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    tui = parser.add_argument_group("TUI")
    _add_setting(tui, SETTING["interval"], default=None, text="the TUI's poll interval in seconds")
    tui.add_argument(
        "--bot", metavar="BOT", type=bot_ref, default=None, help="open this bot's events (its name or id)"
    )
    _add_setting(tui, SETTING["bell"], default=None, text="no terminal bell when an incident is announced")
    _add_setting(tui, SETTING["realert"], default=None)
    _add_setting(tui, SETTING["on_alert"], default=None)

    commands = parser.add_subparsers(
        dest="command",
        metavar="COMMAND",
        title="commands",
        description="Without a command, botmon-tui opens the TUI. "
        "Run 'botmon-tui COMMAND --help' for a command's own options.",
        required=False,
    )

    def command(name: str, **options: Any) -> _Parser:
        """A command's parser: its own prog, the connection options (hidden in its help)."""
        parser: _Parser = commands.add_parser(
            name,
            prog=f"{PROG} {name}",
            parents=[sub_parent],
            formatter_class=formatter,
            allow_abbrev=False,
            **options,
        )
        return parser

    status = command(
        "status",
        help="did any bot fail lately? (exit 1 if so: for cron and CI)",
        description=_STATUS_HELP,
        epilog=_STATUS_EPILOG,
    )
    _window_and_bots(status, DEFAULT_WINDOW, "45s, 30m, 1h (default), 2d", "only this bot")
    status.add_argument(
        "--deploys",
        action="store_true",
        help="read every bot's history for lastDeploy (one request and 10 quota units a bot); "
        f"without it, only the bots that failed are read (at most {MAX_DEPLOY_READS})",
    )
    status.add_argument(
        "--ignore-late",
        action="store_true",
        help="a bot late or quiet now does not make the exit status 1 (it is still listed)",
    )
    _output_options(
        status,
        "print the result as one JSON object (window, verdict and one entry per bot)",
        "print one CSV row per bot (RFC 4180, with a header row)",
    )

    bots = command(
        "bots",
        help="list every bot with its last run and failures in 24 h",
        description="List every bot of the project (all pages): name, last run, last outcome, failed runs "
        "in the last 24 h, audit settings (a warning mark when they mean no AuditEvent will ever "
        "appear), runtime, schedule and id. Bounded requests: the bot list, the project's newest "
        "1,000 runs and its failed runs of the last 24 h, whatever the number of bots.",
        epilog="examples:\n  botmon-tui bots --demo\n  botmon-tui bots --profile prod --csv > bots.csv\n"
        "  botmon-tui bots --profile prod --json | jq '.[].name'",
    )
    bots.add_argument(
        "--deploys",
        action="store_true",
        help="read every bot's history for its last deploy (one request and 10 quota units a bot): "
        "a lastDeploy key on each Bot with --json, the lastDeploy column with --csv, a line a bot",
    )
    _output_options(
        bots,
        "print the Bot resources as the server sent them (one request per 1,000 bots, nothing else; "
        "with --deploys, a lastDeploy key on each)",
        "print one CSV row per bot (RFC 4180, with a header row)",
    )

    failures = command(
        "failures",
        help="the failed runs of the window with their kind and cause; --group: one line per cause",
        description=_FAILURES_HELP,
        epilog=_FAILURES_EPILOG,
    )
    _window_and_bots(
        failures, DEFAULT_FAILURES_WINDOW, "45s, 30m, 1h, 24h (default), 7d", "only this bot's failures"
    )
    failures.add_argument(
        "--group", action="store_true", help="one entry per error signature instead of one per run"
    )
    _output_options(
        failures,
        "print a JSON array: one object per failed run (or per signature with --group)",
        "print one CSV row per failed run (or per signature with --group), with a header row",
    )

    watch = command(
        "watch",
        help="print one line per incident change (failing, new cause, recovered, late, quiet) until Ctrl-C",
        description=_WATCH_HELP,
        epilog=_WATCH_EPILOG,
    )
    watch.add_argument("--json", action="store_true", help="one JSON object per line (NDJSON), flushed")
    watch.add_argument(
        "--initial", action="store_true", help="also tell the incidents already there at start"
    )
    _add_setting(watch, SETTING["interval"], default=argparse.SUPPRESS, text="seconds between polls")
    _add_setting(watch, SETTING["realert"], default=argparse.SUPPRESS)
    _add_setting(watch, SETTING["on_alert"], default=argparse.SUPPRESS)

    events = command(
        "events",
        help="a bot's runs (AuditEvents), newest first; --follow for new ones",
        description="A bot's AuditEvents (one per run), newest first. With --follow, the newest "
        "--limit runs oldest first, then each new run as it happens (one request per interval "
        "while nothing happens; through server errors with backoff, told on stderr) until Ctrl-C.",
        epilog="examples:\n  botmon-tui events lab-results-router --demo --failures --since 1h\n"
        "  botmon-tui events lab-results-router --profile prod --follow --failures\n"
        "  botmon-tui events 0a1b2c3d-... --profile prod --json --limit 200 > runs.json\n"
        "  botmon-tui events lab-results-router --profile prod --csv --since 7d > runs.csv",
    )
    events.add_argument("bot_ref", metavar="BOT", type=bot_ref, help="the bot's exact name or its id")
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
    events.add_argument(
        "-f", "--follow", action="store_true", help="then print each new run as it happens, until Ctrl-C"
    )
    _add_setting(
        events, SETTING["interval"], default=argparse.SUPPRESS, text="with --follow: seconds between polls"
    )
    _output_options(
        events,
        "print the AuditEvent resources as sent: a JSON array, or with --follow one per line (NDJSON)",
        "print id, outcome, outcomeText, lastUpdated, durationSeconds, summary and outcomeDesc "
        "(RFC 4180, with a header row)",
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
