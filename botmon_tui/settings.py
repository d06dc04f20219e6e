"""Every setting botmon-tui reads, declared once: :data:`SETTINGS`.

One row per setting: its name, its flag, its environment variable, its key in a Medplum CLI profile
and in the config file, its kind, its default, its check and its help. The command line's options
(:mod:`botmon_tui.cli.args`), the resolution (:mod:`botmon_tui.config`), ``--show-config``,
``--help`` and the README's settings table are all made from it.

A small table of frozen rows rather than a pydantic-settings model: the resolution is per field and
per *source* (a credential only goes to the server named by the same source), which a settings
model's "merge the sources, then validate" does not express, and ``botmon-tui --version`` builds the
parser from this table, so it is standard library only (no pydantic at start-up).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_FHIR_URL_PATH",
    "DEFAULT_INTERVAL",
    "DEFAULT_REALERT",
    "DEFAULT_TIMEOUT",
    "DOTENV_VARIABLES",
    "ENVIRONMENT_VARIABLES",
    "LAYERS",
    "PRECEDENCE",
    "SETTING",
    "SETTINGS",
    "Setting",
    "markdown_table",
]

DEFAULT_BASE_URL = "https://api.medplum.com/"
DEFAULT_FHIR_URL_PATH = "fhir/R4/"
DEFAULT_INTERVAL = 10.0
DEFAULT_TIMEOUT = 30.0
MIN_INTERVAL = 1.0
MAX_INTERVAL = 3600.0
MAX_TIMEOUT = 600.0
MAX_LABEL = 40
#: How often an incident that goes on is told again (``realert``), and its bounds.
DEFAULT_REALERT = 1800.0
MIN_REALERT = 60.0
MAX_REALERT = 7 * 86400.0

#: Where a value can come from, highest first (each setting uses the layers it has a name in).
#: ``connection``: the keys of a ``[[connection]]`` table of the config file, for that connection.
LAYERS = ("flags", "connection", "profile", "environment", ".env", "config file", "default")
#: The order as users read it (``--help``, the README).
PRECEDENCE = (
    "flags > [[connection]] table > Medplum CLI profile > environment > ./.env > config file > default"
)

#: How a value is read and checked:
#: ``url`` an http(s) URL (plain http only to loopback unless insecure_http); ``url-or-path`` a path
#: under the base URL or such a URL; ``web-url`` any http(s) URL (links only); ``path`` a file (in the
#: config file, relative to its directory); ``secret`` a secret (flag and config file: a file holding
#: it); ``text``; ``name`` a profile or connection name; ``names`` a list of them; ``seconds`` a
#: number; ``switch`` true/false; ``keymap`` a table of binding id = key(s); ``grace`` a table of bot
#: name or id = duration.
Kind = Literal[
    "url",
    "url-or-path",
    "web-url",
    "path",
    "secret",
    "text",
    "name",
    "names",
    "seconds",
    "switch",
    "keymap",
    "grace",
]
#: ``connection``: each connection has its own (a flag for it needs exactly one connection);
#: ``shared``: each connection has its own, and a flag sets it for all of them; ``global``: one for the run.
Scope = Literal["connection", "shared", "global"]

_PROFILE_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")


def _seconds(low: float, high: float, *, low_included: bool = True) -> Callable[[Any], str | None]:
    """A check: a finite number of seconds in the range."""
    word = "between" if low_included else "more than"

    def check(value: Any) -> str | None:
        ok = math.isfinite(value) and (low <= value if low_included else low < value) and value <= high
        if ok:
            return None
        if low_included:
            return f"must be {word} {low:g} and {high:g} seconds, got {value:g}"
        return f"must be {word} {low:g} and at most {high:g} seconds"

    return check


def profile_name_problem(value: Any) -> str | None:
    """A Medplum CLI profile name: a file name in ``~/.medplum`` that cannot leave it."""
    if _PROFILE_NAME_RE.match(str(value)):
        return None
    return "is not a profile name: use letters, digits, '.', '_' and '-'"


def label_problem(value: Any) -> str | None:
    """A connection's label: one line of at most 40 printable characters."""
    text = str(value)
    if text.strip() == text and 0 < len(text) <= MAX_LABEL and text.isprintable():
        return None
    return f"must be 1 to {MAX_LABEL} printable characters"


@dataclass(frozen=True)
class Setting:
    """One setting: where it can be set, what it holds, and what it does."""

    #: The attribute it resolves to (``Flags.<name>``; for most, ``ConnectionSettings.<name>``).
    name: str
    #: How ``--show-config`` calls it.
    label: str
    kind: Kind
    #: One line for ``--help`` and the README.
    help: str
    scope: Scope = "connection"
    #: Command-line spellings (the first long one is the one shown).
    flags: tuple[str, ...] = ()
    metavar: str | None = None
    #: The flag may be given several times (each one names a connection).
    repeat: bool = False
    #: The flag's attribute (``Flags.<dest>``, argparse's ``dest``) when it is not :attr:`name`.
    flag_dest: str | None = None
    env: str | None = None
    #: The environment variable is read from ``./.env`` too (below the real environment).
    dotenv: bool = False
    #: Its key in a Medplum CLI profile's ``options``.
    profile_key: str | None = None
    #: Its key in the config file (at the top level, or in a ``[[connection]]`` table: see :attr:`where`).
    file_key: str | None = None
    default: str | float | bool | None = None
    #: How the default reads when it is not a plain value ("<base URL>oauth2/token").
    default_text: str | None = None
    secret: bool = False
    #: Beyond its kind: None if ``value`` is fine, else what is wrong ("must be between ...").
    check: Callable[[Any], str | None] | None = None
    #: Where the config file takes it: ``top`` (top level), ``table`` (``[[connection]]`` only), ``both``.
    where: Literal["top", "table", "both"] = "both"

    @property
    def dest(self) -> str:
        """The flag's attribute: ``Flags.<dest>``, and argparse's ``dest``."""
        return self.flag_dest or self.name

    @property
    def flag(self) -> str | None:
        """The spelling shown in messages: ``--base-url``."""
        return next((f for f in self.flags if f.startswith("--")), None)

    @property
    def shown_default(self) -> str | None:
        if self.default_text is not None:
            return self.default_text
        if self.default is None:
            return None
        if isinstance(self.default, bool):
            return "on" if self.default else "off"
        if isinstance(self.default, float):
            return f"{self.default:g}"
        return str(self.default)

    @property
    def in_table(self) -> bool:
        """Whether a ``[[connection]]`` table of the config file takes it."""
        return self.file_key is not None and self.where != "top"

    @property
    def at_top(self) -> bool:
        """Whether the config file takes it at the top level."""
        return self.file_key is not None and self.where != "table"

    def help_line(self, text: str | None = None) -> str:
        """``--help``'s text for the flag: what it does, its default and its other names."""
        # A switch's flag says what it does; the setting's default is what happens without it.
        notes = [f"default {self.shown_default}"] if self.shown_default and self.kind != "switch" else []
        if self.env:
            notes.append(self.env)
        if self.at_top:
            notes.append(f"config: {self.file_key}")
        if self.repeat:
            notes.append("repeat for several")
        return f"{text or self.help} ({'; '.join(notes)})" if notes else (text or self.help)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "profile",
        "profile",
        "name",
        "a [[connection]] label, else a Medplum CLI profile (~/.medplum/NAME.json)",
        flags=("-p", "--profile"),
        metavar="NAME",
        repeat=True,
        env="BOTMON_PROFILE",
        file_key="profile",
        default_text="'default' if no credential is set elsewhere",
        check=profile_name_problem,
    ),
    Setting(
        "base_url",
        "base URL",
        "url",
        "Medplum server base URL",
        flags=("--base-url",),
        metavar="URL",
        env="MEDPLUM_BASE_URL",
        dotenv=True,
        profile_key="baseUrl",
        file_key="base_url",
        default=DEFAULT_BASE_URL,
    ),
    Setting(
        "fhir_url_path",
        "FHIR path",
        "url-or-path",
        "FHIR path under the base URL, or a URL",
        flags=("--fhir-url-path", "--fhir-url"),
        metavar="PATH",
        env="MEDPLUM_FHIR_URL_PATH",
        dotenv=True,
        profile_key="fhirUrlPath",
        file_key="fhir_url_path",
        default=DEFAULT_FHIR_URL_PATH,
    ),
    Setting(
        "token_url",
        "token URL",
        "url-or-path",
        "OAuth2 token URL, or a path under the base URL",
        flags=("--token-url",),
        metavar="URL",
        env="MEDPLUM_TOKEN_URL",
        dotenv=True,
        profile_key="tokenUrl",
        file_key="token_url",
        default_text="<base URL>oauth2/token",
    ),
    Setting(
        "client_id",
        "client id",
        "text",
        "ClientApplication id",
        flags=("--client-id",),
        metavar="ID",
        env="MEDPLUM_CLIENT_ID",
        dotenv=True,
        profile_key="clientId",
        file_key="client_id",
    ),
    Setting(
        "client_secret",
        "client secret",
        "secret",
        "ClientApplication secret (its flag and config key name a file holding it; '-' reads stdin)",
        flags=("--client-secret-file",),
        metavar="PATH",
        flag_dest="client_secret_file",
        env="MEDPLUM_CLIENT_SECRET",
        dotenv=True,
        profile_key="clientSecret",
        file_key="client_secret_file",
        secret=True,
    ),
    Setting(
        "access_token",
        "access token",
        "secret",
        "a ready access token (used as is; not renewed)",
        env="MEDPLUM_CLIENT_ACCESS_TOKEN",
        dotenv=True,
        profile_key="accessToken",
        secret=True,
    ),
    Setting(
        "app_url",
        "web app URL",
        "web-url",
        "the Medplum web app, for links",
        flags=("--app-url",),
        metavar="URL",
        env="MEDPLUM_APP_BASE_URL",
        dotenv=True,
        file_key="app_url",
        default_text="guessed from the base URL: api.<host> gives app.<host>",
    ),
    Setting(
        "label",
        "label",
        "text",
        "a [[connection]]'s name on screen and in --json",
        file_key="label",
        default_text="its profile, else its host",
        check=label_problem,
        where="table",
    ),
    Setting(
        "ca_file",
        "CA file",
        "path",
        "extra CA bundle (TLS is always verified)",
        scope="shared",
        flags=("--ca-file",),
        metavar="PATH",
        file_key="ca_file",
    ),
    Setting(
        "insecure_http",
        "insecure http",
        "switch",
        "allow plain http:// to a host that is not loopback (credentials travel in clear)",
        scope="shared",
        flags=("--insecure-http",),
        file_key="insecure_http",
        default=False,
    ),
    Setting(
        "timeout",
        "timeout",
        "seconds",
        "HTTP timeout in seconds",
        scope="shared",
        flags=("--timeout",),
        metavar="SECONDS",
        file_key="timeout",
        default=DEFAULT_TIMEOUT,
        check=_seconds(0, MAX_TIMEOUT, low_included=False),
    ),
    Setting(
        "interval",
        "interval",
        "seconds",
        "poll interval in seconds (the TUI, events --follow)",
        scope="global",
        flags=("--interval",),
        metavar="SECONDS",
        env="BOTMON_INTERVAL",
        file_key="interval",
        default=DEFAULT_INTERVAL,
        check=_seconds(MIN_INTERVAL, MAX_INTERVAL),
        where="top",
    ),
    Setting(
        "bell",
        "bell",
        "switch",
        "ring the terminal bell when an incident is announced (a bot starts failing, or fails with a new "
        "error)",
        scope="global",
        flags=("--no-bell",),
        file_key="bell",
        default=True,
        where="top",
    ),
    Setting(
        "realert",
        "re-alert",
        "seconds",
        "tell a failing bot's incident again at most this often while it fails on (TUI, watch)",
        scope="global",
        flags=("--realert",),
        metavar="SECONDS",
        env="BOTMON_REALERT",
        file_key="realert",
        default=DEFAULT_REALERT,
        check=_seconds(MIN_REALERT, MAX_REALERT),
        where="top",
    ),
    Setting(
        "on_alert",
        "on-alert command",
        "text",
        "run this command for each alert and recovery (TUI, watch): split like a shell line but run "
        "without one, the facts in its environment (BOTMON_EVENT, BOTMON_BOT, ...)",
        scope="global",
        flags=("--on-alert",),
        metavar="CMD",
        file_key="on_alert",
        where="top",
    ),
    Setting(
        "theme",
        "theme",
        "text",
        "colour theme: a Textual theme (ctrl+p → Theme picks one and saves it in the config file)",
        scope="global",
        env="TEXTUAL_THEME",
        file_key="theme",
        default_text="textual-dark",
        where="top",
    ),
    Setting(
        "watch",
        "watch",
        "names",
        "the connections to watch: [[connection]] labels or Medplum CLI profiles",
        scope="global",
        file_key="watch",
        default_text="every [[connection]]",
        where="top",
    ),
    Setting(
        "keymap",
        "keymap",
        "keymap",
        'the TUI\'s keys: a [keymap] table of binding id = key(s), like "events.times" = "T"',
        scope="global",
        file_key="keymap",
        where="top",
    ),
    Setting(
        "grace",
        "grace",
        "grace",
        "how long a scheduled bot's run may be overdue before the bot is late: a [grace] table of bot "
        'name or id = duration, like "fax-inbox-poller" = "10m"',
        scope="global",
        file_key="grace",
        default_text="the larger of 2 min and 20 % of the bot's period",
        where="top",
    ),
)

#: The settings by name.
SETTING: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}

#: Read from the environment, though not settings of botmon-tui's own: (name, what it does).
_OTHER_ENVIRONMENT = (
    ("BOTMON_CONFIG_DIR", "directory of config.toml (default: the user config dir)"),
    ("SSL_CERT_FILE", "CA bundle for TLS verification (honoured by httpx)"),
    ("NO_COLOR", "turn colour off in tables"),
)

#: Documented in ``--help``: (name, what it does).
ENVIRONMENT_VARIABLES: tuple[tuple[str, str], ...] = (
    *(
        (s.env, f"{s.help} (default {s.shown_default})" if s.shown_default else s.help)
        for s in SETTINGS
        if s.env
    ),
    *_OTHER_ENVIRONMENT,
)

#: The variables read from a ``.env`` file in the working directory (below the real environment).
DOTENV_VARIABLES: tuple[str, ...] = tuple(s.env for s in SETTINGS if s.env and s.dotenv)


def _code(text: str | None) -> str:
    return f"`{text}`" if text else ""


def _prose(text: str) -> str:
    """Help text as Markdown: table names in code, no raw ``<`` or ``|``."""
    text = text.replace("|", "\\|").replace("<", "&lt;")
    for name in ("[[connection]]", "[keymap]", "[grace]"):
        text = text.replace(name, f"`{name}`")
    return text


def markdown_table() -> str:
    """The README's settings table (``tests/test_docs.py`` keeps the README in step with it)."""
    lines = [
        "| Setting | Flag | Environment | Config file | Profile | Default | Meaning |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in SETTINGS:
        flags = ", ".join(_code(f"{f} {s.metavar}" if s.metavar else f) for f in s.flags)
        env = _code(s.env) + (" (and `.env`)" if s.dotenv else "")
        file_key = _code(s.file_key)
        if s.file_key is not None and s.where == "table":
            file_key += " in `[[connection]]`"
        elif s.in_table:
            file_key += ", also in `[[connection]]`"
        default = _code(s.shown_default) if s.default_text is None else _prose(s.default_text)
        cells = (s.label, flags, env, file_key, _code(s.profile_key), default, _prose(s.help))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
