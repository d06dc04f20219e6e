"""Settings, resolved per field the way the Medplum CLI does it, for one or several connections.

Every setting is declared once, in :data:`botmon_tui.settings.SETTINGS` (its flag, environment
variable, profile key, config-file key, kind, default and check). Each is resolved on its own from
the highest layer that sets it: **flags > [[connection]] table > Medplum CLI profile > environment
(``MEDPLUM_*``) > ``.env`` > config file > default** (the Medplum CLI's ``getClientValues``). The
result is a :class:`~botmon_tui.medplum.auth.ConnectionSettings` per watched connection, whose
secrets are :class:`~botmon_tui.medplum.auth.Secret` (they never show in a ``repr``).

* **Which connections.** ``-p NAME`` (repeatable), else ``BOTMON_PROFILE``, else the config file's
  ``profile``: each NAME is the config file's ``[[connection]]`` with that label, else the Medplum CLI
  profile ``~/.medplum/NAME.json``. Else, unless a server or credential flag (``--base-url``,
  ``--client-id``, ``--client-secret-file``) describes one connection of its own: the config file's
  ``watch`` list (names as above), else its ``[[connection]]`` tables. Else one connection from the
  flags, the environment, ``.env`` and the config file, with the Medplum CLI's ``default`` profile
  read as the CLI does, but only when no credential (client id, secret, access token) is set anywhere
  else: credentials named in the environment are never mixed with the default profile's.
* Each connection is resolved on its own, by the same rules, and has a **label**: its
  ``[[connection]]``'s ``label``, else its profile's name, else its server's host. Two connections
  with the same label are refused. A flag that sets one connection's value (``--base-url``,
  ``--app-url``, ...) needs exactly one connection; ``--ca-file``, ``--timeout`` and
  ``--insecure-http`` apply to each.
* **A credential goes only to the server it was set up with.** A client id, secret or token from
  one source is used with a server (base URL, or an absolute token or FHIR URL on another host)
  from another source only when both were given on the command line (``--base-url`` with ``-p``
  or ``--client-id``/``--client-secret-file``), or both in one ``[[connection]]`` table (its keys
  and the profile it names), or when a token's own ``iss`` names that server. Every other mix is
  refused with one line naming both sources.
* An access token whose JWT ``iss`` names another server than the base URL is never sent.
* A secret is never a plain flag value: it comes from ``--client-secret-file PATH`` (``-`` reads
  stdin), ``MEDPLUM_CLIENT_SECRET`` / ``MEDPLUM_CLIENT_ACCESS_TOKEN``, a ``.env`` file in the working
  directory, a Medplum CLI profile, or the config file's ``client_secret_file``.
* Plain ``http://`` is refused for any host but loopback unless ``insecure_http`` is set.
  TLS is always verified (``--ca-file`` adds a CA bundle; httpx honours ``SSL_CERT_FILE``).
* A file holding a secret that group or others can read gives a one-line warning (once a run).
* Every problem is a :class:`ConfigError` with a one-line message that holds no secret.

Where files are read from is injectable (:class:`Sources`), so tests never read the
developer's own ``~/.medplum``, ``.env`` or config file.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import re
import ssl
import stat
import sys
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, TextIO
from urllib.parse import urlsplit

import platformdirs

from botmon_tui.medplum.auth import (
    AUTH_TYPES,
    DEFAULT_FHIR_URL_PATH,
    AuthMethod,
    ConnectionSettings,
    MissingDependency,
    Secret,
    client_assertion,
    is_loopback,
    same_origin,
    same_server,
    token_expiry,
    token_issuer,
)
from botmon_tui.settings import (
    DEFAULT_INTERVAL,
    DEFAULT_TIMEOUT,
    DOTENV_VARIABLES,
    LAYERS,
    SETTING,
    SETTINGS,
    Setting,
    profile_name_problem,
)
from botmon_tui.textsafe import sanitize

__all__ = [
    "DEFAULT_INTERVAL",
    "DEFAULT_PROFILE",
    "DEFAULT_TIMEOUT",
    "ConfigError",
    "ConfigReport",
    "ConnectionReport",
    "FileConfig",
    "Flags",
    "Profile",
    "ResolvedConnection",
    "Resolver",
    "Shown",
    "Sources",
    "check_url",
    "config_dir_from",
    "demo_settings",
    "read_config_file",
    "read_dotenv",
    "read_profile",
    "read_secret_file",
    "save_theme",
]

APP_NAME = "botmon-tui"
DEFAULT_PROFILE = "default"
#: Largest secret or profile file read (a secret is a few dozen bytes; a profile a few KiB).
MAX_FILE_BYTES = 256 * 1024

_DOTENV_LINE_RE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
#: A Textual binding id (``events.times``) and one key of a keymap (``T``, ``ctrl+t``, ``f5``, ``space``).
_BINDING_ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*){0,4}$")
_KEY_NAME_RE = re.compile(r"^(?:(?:ctrl|shift|alt|meta|super|hyper)\+)*(?:[a-z][a-z0-9_]{1,30}|[^\s,])$")

#: The config file's keys: at the top level, and in a ``[[connection]]`` table.
_TOP_KEYS: dict[str, Setting] = {s.file_key: s for s in SETTINGS if s.file_key and s.at_top}
_TABLE_KEYS: dict[str, Setting] = {s.file_key: s for s in SETTINGS if s.file_key and s.in_table}
#: Flags that describe one connection of their own (the config file's watch list is then not used).
_CONNECTION_FLAGS = ("base_url", "client_id", "client_secret")
_CREDENTIAL_FIELDS = ("client_id", "client_secret", "access_token")

_KNOWN_AUTH_TYPES = {name for name, _ in AUTH_TYPES}


class ConfigError(Exception):
    """A configuration problem; ``str(err)`` is one line meant for the user. Never holds a secret."""

    def __init__(self, message: str) -> None:
        self.message = " ".join(sanitize(message).split())
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


# ------------------------------------------------------------------------------------------------
# Inputs
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flags:
    """What the command line said; ``None`` means "not given". One field per setting with a flag
    (``tests/test_config.py`` checks them against :data:`~botmon_tui.settings.SETTINGS`)."""

    base_url: str | None = None
    #: ``-p NAME``, given once (a str) or several times (a tuple).
    profile: str | tuple[str, ...] | None = None
    client_id: str | None = None
    client_secret_file: str | None = None
    fhir_url_path: str | None = None
    token_url: str | None = None
    ca_file: str | None = None
    insecure_http: bool = False
    timeout: float | None = None
    interval: float | None = None
    #: ``--no-bell`` gives False; ``None``: not given.
    bell: bool | None = None
    realert: float | None = None
    on_alert: str | None = None
    app_url: str | None = None

    @property
    def profiles(self) -> tuple[str, ...]:
        """Every ``-p NAME``, in order."""
        names = (self.profile,) if isinstance(self.profile, str) else self.profile or ()
        return tuple(name for name in names if name)

    @classmethod
    def from_args(cls, args: object) -> Flags:
        """The flags of a parsed command line (:func:`botmon_tui.cli.args.build_parser`): each
        setting's ``dest`` is its name; a repeatable flag given after the command is
        ``<name>_after_command`` (argparse lets a subcommand's value replace the one before it)."""
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            if not setting.flags:
                continue
            value = getattr(args, setting.dest, None)
            if setting.repeat:
                value = (*(value or ()), *(getattr(args, f"{setting.dest}_after_command", None) or ()))
                value = value or None
            if value is not None:
                values[setting.dest] = value
        return cls(**values)

    def given(self, setting: Setting) -> Any:
        """The flag's value, or None when it was not given (a switch at its default was not)."""
        value = getattr(self, setting.dest, None)
        if setting.repeat or value is None or (setting.kind == "switch" and value == setting.default):
            return None
        return value


def config_dir_from(environ: Mapping[str, str]) -> Path:
    """``BOTMON_CONFIG_DIR``, else the platform's user config dir for botmon-tui."""
    override = environ.get("BOTMON_CONFIG_DIR")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME))


@dataclass(frozen=True)
class Sources:
    """Where settings are read from. Tests build one pointing at a temporary directory.

    ``cwd``: the directory whose ``.env`` is read (None: no ``.env``).
    """

    environ: Mapping[str, str]
    home: Path
    config_dir: Path
    stdin: TextIO | None = None
    cwd: Path | None = None

    @classmethod
    def from_os(cls) -> Sources:
        environ = dict(os.environ)
        return cls(
            environ=environ,
            home=Path.home(),
            config_dir=config_dir_from(environ),
            stdin=sys.stdin,
            cwd=Path.cwd(),
        )

    def env(self, name: str) -> str | None:
        """An environment variable, with empty values treated as unset."""
        value = self.environ.get(name)
        return value.strip() if value and value.strip() else None

    @property
    def profile_dir(self) -> Path:
        return self.home / ".medplum"


# ------------------------------------------------------------------------------------------------
# Files
# ------------------------------------------------------------------------------------------------


def _shown(path: Path) -> str:
    return sanitize(str(path))


def _readable_by_others(path: Path) -> bool:
    if os.name != "posix":
        return False
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode) and bool(mode & (stat.S_IRGRP | stat.S_IROTH))


def _permission_warning(path: Path) -> str:
    return f"{_shown(path)} holds a secret and can be read by group/others (chmod 600 {_shown(path)})"


def _read_text(path: Path, what: str) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {_shown(path)}") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} is a directory: {_shown(path)}") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read {what} {_shown(path)}: {exc.strerror or type(exc).__name__}"
        ) from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{what} {_shown(path)} is larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {_shown(path)} is not UTF-8 text") from None


def read_secret_file(path_text: str, *, stdin: TextIO | None) -> tuple[Secret, list[str]]:
    """Read a secret from a file (``-``: stdin, prompting without echo on a terminal).

    Surrounding whitespace (the trailing newline) is dropped. Returns the secret and warnings.
    """
    warnings: list[str] = []
    if path_text == "-":
        if stdin is None:
            raise ConfigError("cannot read the client secret from stdin: no stdin")
        if stdin.isatty():
            try:
                text = getpass.getpass("Client secret: ", stream=sys.stderr)
            except EOFError:
                text = ""
        else:
            text = stdin.read(MAX_FILE_BYTES + 1)
        where = "stdin"
    else:
        path = Path(path_text).expanduser()
        if "/" not in path_text and os.sep not in path_text and not path.exists():
            # A bare word that is not a file may be the secret itself, pasted in the wrong place.
            raise ConfigError(
                "client secret file not found in the current directory "
                "(the name given is not shown, in case it is the secret itself)"
            )
        text = _read_text(path, "client secret file")
        if _readable_by_others(path):
            warnings.append(_permission_warning(path))
        where = _shown(path)
    value = text.strip()
    if not value:
        raise ConfigError(f"the client secret from {where} is empty")
    if "\n" in value or "\r" in value:
        raise ConfigError(f"the client secret from {where} holds more than one line")
    return Secret(value), warnings


@dataclass(frozen=True)
class FileConfig:
    """The optional TOML config file (``config.toml`` in the config dir)."""

    path: Path
    exists: bool = False
    #: The top-level settings by config-file key (``watch`` a tuple of names, ``keymap`` a dict).
    values: dict[str, Any] = field(default_factory=dict)
    #: The ``[[connection]]`` tables, in the file's order, each by config-file key.
    connections: tuple[dict[str, Any], ...] = ()
    warnings: tuple[str, ...] = ()

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def path_value(self, key: str, table: Mapping[str, Any] | None = None) -> Path | None:
        """A path setting (of ``table``, else of the top level); relative paths are relative to the
        config file's directory."""
        value = (self.values if table is None else table).get(key)
        if not value:
            return None
        path = Path(str(value)).expanduser()
        return path if path.is_absolute() else self.path.parent / path


def _file_value(setting: Setting, key: str, value: Any, where: str) -> Any:
    """A config-file value of ``setting``'s kind (None: empty, as if unset), or a ConfigError."""
    if setting.kind == "switch":
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: {key} must be true or false")
        return value
    if setting.kind == "seconds":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: {key} must be a number of seconds")
        return float(value)
    if setting.kind == "names":
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise ConfigError(f'{where}: {key} must be a list of names, like {key} = ["prod", "staging"]')
        return tuple(v.strip() for v in value)
    if setting.kind == "keymap":
        return _keymap(value, f"{where}: [{key}]")
    if setting.kind == "grace":
        return _grace(value, f"{where}: [{key}]")
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {key} must be a string")
    text = value.strip()
    if text and setting.check is not None and setting.kind == "text":
        problem = setting.check(text)
        if problem:
            raise ConfigError(f"{where}: {key} {problem}")
    return text or None


def _keymap(value: Any, where: str) -> dict[str, str]:
    """A ``[keymap]`` table: binding id = key(s), as Textual's ``App.set_keymap`` takes it (keys
    joined by commas). Dotted ids may be written as TOML's nested keys (``events.times = "T"``)."""
    if not isinstance(value, dict):
        raise ConfigError(f'{where} must be a table of binding id = key(s), like "events.times" = "T"')
    keymap: dict[str, str] = {}

    def add(prefix: str, table: dict[str, Any]) -> None:
        for name, keys in table.items():
            binding = f"{prefix}.{name}" if prefix else name
            if isinstance(keys, dict):
                add(binding, keys)
                continue
            if not _BINDING_ID_RE.match(binding):
                raise ConfigError(f"{where}: {sanitize(binding)!r} is not a binding id (like events.times)")
            items = [keys] if isinstance(keys, str) else keys
            if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
                raise ConfigError(f"{where}: {binding} must be a key or a list of keys")
            parts = [part.strip() for item in items for part in item.split(",")]
            wrong = next((part for part in parts if not _KEY_NAME_RE.match(part)), None)
            if not parts or wrong is not None:
                raise ConfigError(
                    f"{where}: {binding}: {sanitize(wrong or '')!r} is not a key "
                    "(a character, or a name like f5, space or ctrl+t)"
                )
            keymap[binding] = ",".join(parts)

    add("", value)
    return keymap


_GRACE_RE = re.compile(r"^([0-9]{1,7}(?:\.[0-9]{1,3})?)\s*([smhd]?)$")
_GRACE_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
#: The longest grace period the ``[grace]`` table takes.
MAX_GRACE = 30 * 86400.0


def _grace(value: Any, where: str) -> dict[str, float]:
    """A ``[grace]`` table: bot name or id = a duration (``"10m"``, ``"90s"``, ``"2h"``, ``"1d"``, or
    a number of seconds), each scheduled bot's grace period before it is late."""
    example = '"fax-inbox-poller" = "10m"'
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a table of bot name or id = duration, like {example}")
    grace: dict[str, float] = {}
    for name, given in value.items():
        shown = sanitize(str(name))
        if not isinstance(name, str) or not name.strip() or isinstance(given, dict):
            raise ConfigError(f"{where}: {shown!r} must be a bot name or id = duration, like {example}")
        seconds: float | None = None
        if isinstance(given, int | float) and not isinstance(given, bool):
            seconds = float(given)
        elif isinstance(given, str):
            match = _GRACE_RE.match(given.strip().lower())
            if match is not None:
                seconds = float(match.group(1)) * _GRACE_UNITS[match.group(2)]
        if seconds is None or not 0 <= seconds <= MAX_GRACE:
            raise ConfigError(
                f"{where}: {shown}: {sanitize(str(given))!r} is not a duration "
                "(like 90s, 10m, 2h or 1d, at most 30d)"
            )
        grace[name.strip()] = seconds
    return grace


def _unknown_key(where: str, key: str) -> str:
    hint = " (use client_secret_file)" if key in ("client_secret", "access_token") else ""
    return f"{where}: unknown key {sanitize(key)!r} ignored{hint}"


def read_config_file(config_dir: Path) -> FileConfig:
    path = config_dir / "config.toml"
    if not path.exists():
        return FileConfig(path=path)
    text = _read_text(path, "config file")
    where = f"config file {_shown(path)}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where} is not valid TOML: {exc}") from None
    values: dict[str, Any] = {}
    connections: list[dict[str, Any]] = []
    warnings: list[str] = []
    for key, value in data.items():
        if key == "connection":
            if not isinstance(value, list) or not all(isinstance(table, dict) for table in value):
                raise ConfigError(f"{where}: connection must be tables: [[connection]]")
            for number, table in enumerate(value, 1):
                entry: dict[str, Any] = {}
                for table_key, table_value in table.items():
                    setting = _TABLE_KEYS.get(table_key)
                    if setting is None:
                        warnings.append(_unknown_key(f"{where}: [[connection]] {number}", table_key))
                        continue
                    checked = _file_value(
                        setting, table_key, table_value, f"{where}: [[connection]] {number}"
                    )
                    if checked is not None:
                        entry[table_key] = checked
                connections.append(entry)
            continue
        setting = _TOP_KEYS.get(key)
        if setting is None:
            warnings.append(_unknown_key(where, key))
            continue
        checked = _file_value(setting, key, value, where)
        if checked is not None:
            values[key] = checked
    return FileConfig(
        path=path, exists=True, values=values, connections=tuple(connections), warnings=tuple(warnings)
    )


_THEME_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_THEME_LINE_RE = re.compile(r"^[ \t]*theme[ \t]*=")


def save_theme(config_dir: Path, name: str) -> Path:
    """Remember ``name`` as the ``theme`` of the config file; every other line stays as it is.

    The file is created (mode 600) when there is none; it is replaced in one step, with its
    mode kept. A ``ConfigError`` says what went wrong (the file is then left untouched).
    """
    if not _THEME_NAME_RE.match(name):
        raise ConfigError(f"not a theme name: {sanitize(name)!r}")
    path = config_dir / "config.toml"
    text = _read_text(path, "config file") if path.exists() else ""
    lines = text.splitlines()
    # A top-level key: before the first [table], replacing a theme line already there.
    end = next((i for i, line in enumerate(lines) if line.lstrip().startswith("[")), len(lines))
    line = f'theme = "{name}"'
    found = next((i for i in range(end) if _THEME_LINE_RE.match(lines[i])), None)
    if found is not None:
        lines[found] = line
    else:
        lines.insert(end, line)
    new_text = "\n".join(lines) + "\n"
    try:
        if tomllib.loads(new_text).get("theme") != name:
            raise ConfigError(f"config file {_shown(path)}: could not set theme (edit it by hand)")
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {_shown(path)} is not valid TOML: {exc}") from None
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        config_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o600
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(new_text)
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise ConfigError(
            f"cannot write config file {_shown(path)}: {exc.strerror or type(exc).__name__}"
        ) from None
    return path


def read_dotenv(directory: Path) -> tuple[Path, dict[str, str]]:
    """The ``MEDPLUM_*`` settings of ``directory/.env`` (as the Medplum CLI's dotenv reads it:
    ``KEY=value`` lines, ``export`` allowed, quotes stripped, ``#`` comments). Missing: ``{}``."""
    path = directory / ".env"
    if not path.is_file():
        return path, {}
    values: dict[str, str] = {}
    for line in _read_text(path, ".env file").splitlines():
        match = _DOTENV_LINE_RE.match(line)
        if match is None or match.group(1) not in DOTENV_VARIABLES:
            continue
        value = match.group(2)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"`":
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].strip()
        if value.strip():
            values.setdefault(match.group(1), value.strip())
    return path, values


@dataclass(frozen=True)
class Profile:
    """A Medplum CLI profile (``~/.medplum/<name>.json``), reduced to what botmon-tui uses."""

    name: str
    path: Path
    #: ``options.authType`` (None when the profile has no options, or they name none).
    auth_type: str | None = None
    base_url: str | None = None
    fhir_url_path: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret: Secret | None = field(default=None, repr=False)
    #: ``options.accessToken``: a static token, as ``MEDPLUM_CLIENT_ACCESS_TOKEN``.
    access_token: Secret | None = field(default=None, repr=False)
    #: ``activeLogin``: what ``medplum login`` stored.
    login_token: Secret | None = field(default=None, repr=False)
    refresh_token: Secret | None = field(default=None, repr=False)
    audience: str | None = None
    issuer: str | None = None
    subject: str | None = None
    scope: str | None = None
    private_key_path: str | None = None
    warnings: tuple[str, ...] = ()

    def get(self, key: str) -> Any:
        return getattr(self, key, None)


def _json_field(raw: Any, key: str, path: Path) -> dict[str, Any]:
    """A profile value that is a JSON-encoded string (or, leniently, an object already)."""
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str):
        raise ConfigError(f"profile {_shown(path)}: {key!r} is not a JSON string")
    return _json_object(raw, f"profile {_shown(path)}: {key!r}")


def _json_object(text: str, what: str) -> dict[str, Any]:
    """``text`` parsed as a JSON object, or a ConfigError that names ``what``."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{what} is not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{what} is not a JSON object")
    return value


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _secret(value: Any) -> Secret | None:
    text = _text(value)
    return Secret(text) if text else None


def check_profile_name(name: str) -> str:
    if profile_name_problem(name):
        raise ConfigError(f"invalid profile name {sanitize(name)!r}: use letters, digits, '.', '_' and '-'")
    return name


def _load_profile_json(path: Path) -> dict[str, Any]:
    return _json_object(_read_text(path, "Medplum profile"), f"Medplum profile {_shown(path)}")


def read_profile(name: str, profile_dir: Path, *, required: bool = True) -> Profile | None:
    """Read ``<profile_dir>/<name>.json``; ``None`` if it is absent and not ``required``."""
    check_profile_name(name)
    path = profile_dir / f"{name}.json"
    if not path.exists():
        if required:
            raise ConfigError(f"Medplum profile {name!r} not found ({_shown(path)})")
        return None
    data = _load_profile_json(path)
    options = _json_field(data.get("options"), "options", path)
    login = _json_field(data.get("activeLogin"), "activeLogin", path)
    # The settings a profile holds, by the table's profile keys (baseUrl, clientSecret, ...).
    held: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.profile_key:
            held[setting.name] = (_secret if setting.secret else _text)(options.get(setting.profile_key))
    profile = Profile(
        name=name,
        path=path,
        auth_type=_text(options.get("authType")),
        login_token=_secret(login.get("accessToken")),
        refresh_token=_secret(login.get("refreshToken")),
        audience=_text(options.get("audience")),
        issuer=_text(options.get("issuer")),
        subject=_text(options.get("subject")),
        scope=_text(options.get("scope")),
        private_key_path=_text(options.get("privateKeyPath")),
        **held,
    )
    holds_secret = profile.client_secret or profile.access_token or profile.login_token
    if holds_secret and _readable_by_others(path):
        profile = replace(profile, warnings=(_permission_warning(path),))
    return profile


def save_login(path: Path, access_token: str, refresh_token: str | None) -> None:
    """Write a renewed login back into the profile's ``activeLogin``, as the Medplum CLI does after a
    refresh (Medplum rotates refresh tokens: the one stored before no longer works). The rest of the
    file is kept; it is replaced atomically and left readable by its owner only."""
    data = _load_profile_json(path)
    login = _json_field(data.get("activeLogin"), "activeLogin", path)
    login["accessToken"] = access_token
    if refresh_token:
        login["refreshToken"] = refresh_token
    data["activeLogin"] = json.dumps(login)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def _login_sink(path: Path) -> Any:
    def sink(access_token: str, refresh_token: str | None) -> None:
        # The renewed login works in memory either way; a profile that cannot be written keeps the
        # old refresh token, and the next 'medplum login' mends it.
        with contextlib.suppress(OSError, ConfigError):
            save_login(path, access_token, refresh_token)

    return sink


# ------------------------------------------------------------------------------------------------
# Values
# ------------------------------------------------------------------------------------------------


def check_url(url: str, what: str, *, insecure_http: bool) -> str:
    """Validate an absolute http(s) URL; refuse plain http to non-loopback hosts."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        raise ConfigError(f"{what} is not a valid URL") from None
    if parts.username is not None or parts.password is not None:
        # Never echo it: the user part may hold a password.
        raise ConfigError(f"{what} must not contain a user name or password")
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(
            f"{what} must be an http(s) URL like https://api.medplum.com/, not {sanitize(url)!r}"
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"{what} must not have a query or fragment: {sanitize(url)!r}")
    if parts.scheme == "http" and not is_loopback(url) and not insecure_http:
        raise ConfigError(
            f"refusing plain http:// to {sanitize(host)} for {what}: credentials would travel unencrypted; "
            "use https:// (or --insecure-http if you really mean it)"
        )
    return url


def _check_ca_file(path: Path, where: str) -> str:
    if not path.is_file():
        raise ConfigError(f"CA file from {where} not found: {_shown(path)}")
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise ConfigError(f"cannot load CA file {_shown(path)}: {reason}") from None
    return str(path)


# ------------------------------------------------------------------------------------------------
# Resolution
# ------------------------------------------------------------------------------------------------

#: The layers, highest first (see :data:`botmon_tui.settings.LAYERS`).
_FLAGS, _TABLE, _PROFILE, _ENV, _DOTENV, _FILE, _DEFAULT = LAYERS
_RANK = {layer: rank for rank, layer in enumerate(LAYERS)}


@dataclass(frozen=True)
class Found:
    """One value and where it came from: its layer and the name it was given there."""

    value: Any
    layer: str
    name: str
    #: A secret still to be read from this file, or a file setting's path.
    path: Path | None = None


class Shown(NamedTuple):
    """One line of ``--show-config``: a setting, its value (secrets masked) and where it came from."""

    label: str
    value: str
    source: str


@dataclass(frozen=True)
class ResolvedConnection:
    """One watched connection: its label, its settings, and what ``--show-config`` shows of it."""

    #: Its name on screen and in ``--json``: the ``[[connection]]``'s label, else the profile's
    #: name, else the server's host (with its port when not the scheme's own).
    label: str
    settings: ConnectionSettings
    #: What named it: ``--profile``, ``watch in the config file``, ``[[connection]] 2 of the config file``...
    origin: str
    #: Each of its settings, its value (secrets masked) and its source.
    rows: tuple[Shown, ...]


@dataclass(frozen=True)
class ConnectionReport:
    """``--show-config``'s block for one connection (``problem``: what stops it, if anything)."""

    label: str
    origin: str
    rows: tuple[Shown, ...]
    problem: ConfigError | None = None


@dataclass(frozen=True)
class ConfigReport:
    """What ``--show-config`` prints: the settings of the run, then each connection."""

    settings: tuple[Shown, ...]
    connections: tuple[ConnectionReport, ...]
    #: A problem of the whole (two connections with one label, a flag with several connections...).
    problem: ConfigError | None = None

    @property
    def problems(self) -> list[str]:
        """Every problem, one line each (a connection's named by its label when there are several)."""
        several = len(self.connections) > 1
        lines = [str(self.problem)] if self.problem is not None else []
        for report in self.connections:
            if report.problem is not None:
                lines.append(f"{report.label}: {report.problem}" if several else str(report.problem))
        return lines


@dataclass(frozen=True)
class _Spec:
    """How one watched connection was named."""

    #: The Medplum CLI profile to read (None: none).
    profile: str | None
    #: What chose the profile: ``-p``, ``BOTMON_PROFILE``, ``config file``, ``watch``, ``connection``
    #: (named in its [[connection]] table), ``implicit`` (the Medplum CLI's default) or "".
    chooser: str
    #: What named the connection (``-p``, ``BOTMON_PROFILE``, ``config file``, ``watch``, ``tables``
    #: or "" when the flags, environment and config file make it).
    selector: str
    #: Its ``[[connection]]`` table, and that table's number in the config file (from 1).
    table: Mapping[str, Any] | None = None
    number: int = 0


_SELECTED_BY = {
    "-p": "--profile",
    "BOTMON_PROFILE": "BOTMON_PROFILE",
    "config file": "profile in the config file",
    "watch": "watch in the config file",
}


def _host(url: str) -> str:
    """``api.medplum.com``, ``127.0.0.1:8103``: how a server without a name is labelled."""
    parts = urlsplit(url)
    host = (parts.hostname or url).lower()
    host = f"[{host}]" if ":" in host else host
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"https": 443, "http": 80}.get(parts.scheme)
    return host if port is None or port == default else f"{host}:{port}"


class _Connection:
    """Resolves one connection's settings from its spec, the flags and the shared sources."""

    def __init__(self, resolver: Resolver, spec: _Spec) -> None:
        self.resolver = resolver
        self.spec = spec
        self._profile: Profile | None = None
        self._profile_read = False

    # -- what it is

    @property
    def profile(self) -> Profile | None:
        if not self._profile_read:
            spec = self.spec
            if spec.profile is not None:
                self._profile = self.resolver.read_profile(spec.profile, required=spec.chooser != "implicit")
            self._profile_read = True
        return self._profile

    def profile_if_readable(self) -> Profile | None:
        """The profile, or None when it cannot be read (for labels and --show-config, which
        report that problem where it arises)."""
        try:
            return self.profile
        except ConfigError:
            return None

    @property
    def table_text(self) -> str:
        """``[[connection]] 'prod' of the config file /x/config.toml``."""
        table = self.spec.table or {}
        name = repr(sanitize(str(table["label"]))) if table.get("label") else str(self.spec.number)
        return f"[[connection]] {name} of the config file {_shown(self.resolver.file.path)}"

    @property
    def origin(self) -> str:
        selector = self.spec.selector
        if self.spec.table is not None:
            table = f"[[connection]] {self.spec.number} of the config file"
            return table if selector == "tables" else f"{_SELECTED_BY[selector]}; {table}"
        if selector:
            return _SELECTED_BY[selector]
        if self.spec.chooser == "implicit" and self.profile_if_readable() is not None:
            return "the Medplum CLI's default profile"
        return "flags, environment, .env and config file"

    def named(self) -> str | None:
        """The label it was given: its table's ``label``, else its profile's name (None: neither)."""
        table = self.spec.table
        if table is not None and table.get("label"):
            return str(table["label"])
        spec = self.spec
        if spec.profile is not None and (spec.chooser != "implicit" or self.profile_if_readable()):
            return spec.profile
        return None

    def label(self, settings: ConnectionSettings | None) -> str:
        named = self.named()
        if named is not None:
            return named
        if settings is not None:
            return _host(settings.base)
        with contextlib.suppress(ConfigError):
            found = self.values(SETTING["base_url"])
            if found:
                return _host(str(found[0].value))
        return _host(str(SETTING["base_url"].default))

    # -- the layers

    def values(self, setting: Setting) -> list[Found]:
        """Every layer's value of ``setting`` for this connection, highest first."""
        resolver = self.resolver
        found: list[Found] = []
        flag = resolver.flags.given(setting)
        if flag is not None:
            path = Path(flag).expanduser() if setting.kind in ("secret", "path") else None
            found.append(Found(flag, _FLAGS, setting.flag or "", path))
        table = self.spec.table
        key = setting.file_key
        if table is not None and key is not None and setting.in_table and key in table:
            path = resolver.file.path_value(key, table) if setting.kind in ("secret", "path") else None
            found.append(Found(table[key], _TABLE, key, path))
        profile = self.profile
        if profile is not None and setting.profile_key and profile.get(setting.name):
            found.append(Found(profile.get(setting.name), _PROFILE, setting.profile_key))
        found.extend(resolver.shared_values(setting))
        return found

    def pick(self, name: str) -> Found | None:
        found = self.values(SETTING[name])
        return found[0] if found else None

    # -- describing where things came from (for messages and --show-config)

    def where(self, found: Found) -> str:
        """How the user set it: ``--base-url``, ``MEDPLUM_BASE_URL``, ``profile 'prod'``..."""
        if found.layer == _PROFILE:
            return self._profile_text()
        if found.layer == _TABLE:
            return f"{found.name} in {self.table_text}"
        return self.resolver.where(found)

    def _profile_text(self) -> str:
        profile = self.profile
        name = profile.name if profile is not None else self.spec.profile or "?"
        chooser = self.spec.chooser
        if chooser == "-p":
            return f"--profile {name}"
        if chooser == "implicit":
            return f"the Medplum CLI's default profile ({_shown(profile.path) if profile else name})"
        if chooser == "connection":
            return f"profile {name!r} (from {self.table_text})"
        if chooser == "watch":
            return f"profile {name!r} (from watch in the config file)"
        return f"profile {name!r} (from {chooser})"

    def _drop(self, found: list[Found]) -> str:
        """How to stop using ``found`` (all of one layer)."""
        layer = found[0].layer
        names = "/".join(dict.fromkeys(f.name for f in found))
        if layer == _FLAGS:
            return f"drop {names}"
        if layer == _ENV:
            return f"unset {names}"
        if layer == _DOTENV:
            return f"remove {names} from {_shown(self.resolver.dotenv[0])}"
        if layer == _FILE:
            return f"remove {names} from the config file"
        if layer == _TABLE:
            return f"remove {names} from its [[connection]] table"
        return {
            "-p": "drop --profile",
            "BOTMON_PROFILE": "unset BOTMON_PROFILE",
            "config file": "remove profile from the config file",
            "watch": "remove the profile from watch in the config file",
            "connection": "remove profile from its [[connection]] table",
        }.get(self.spec.chooser, "use --profile NAME")

    def _given_with(self, found: Found) -> str | None:
        """What ``found`` was given together with: ``command line`` (a flag, or the profile of -p),
        ``table`` (its [[connection]] table's keys, or the profile that table names), else None."""
        if found.layer == _FLAGS or (found.layer == _PROFILE and self.spec.chooser == "-p"):
            return "command line"
        if found.layer == _TABLE or (found.layer == _PROFILE and self.spec.chooser == "connection"):
            return "table"
        return None

    def _together(self, one: Found, other: Found) -> bool:
        group = self._given_with(one)
        return group is not None and group == self._given_with(other)

    # -- the settings

    def _checked(self, name: str) -> Any:
        """The winning value of a setting checked by its own rule (its default when none)."""
        setting = SETTING[name]
        found = self.pick(name)
        return self.resolver.checked(setting, found, self.where(found) if found else "")

    def timeout(self) -> float:
        return float(self._checked("timeout"))

    def insecure_http(self) -> bool:
        return bool(self._checked("insecure_http"))

    def ca_file(self) -> str | None:
        found = self.pick("ca_file")
        if found is None or found.path is None:
            return None
        return _check_ca_file(found.path, self.where(found))

    def settings(self) -> ConnectionSettings:
        insecure_http = self.insecure_http()
        base = self.pick("base_url") or Found(SETTING["base_url"].default, _DEFAULT, "default")
        base_url = check_url(str(base.value), "the base URL", insecure_http=insecure_http)
        fhir = self.pick("fhir_url_path")
        if fhir and urlsplit(str(fhir.value)).scheme:
            check_url(str(fhir.value), "the FHIR URL path", insecure_http=insecure_http)
        token_url = self.pick("token_url")
        if token_url and urlsplit(str(token_url.value)).scheme:
            check_url(str(token_url.value), "the token URL", insecure_http=insecure_http)
        app = self.pick("app_url")
        if app:
            check_url(str(app.value), "the web app URL", insecure_http=True)
        profile = self.profile
        auth_type = profile.auth_type if profile is not None else None
        if auth_type is not None and auth_type not in _KNOWN_AUTH_TYPES:
            raise ConfigError(
                f"Medplum profile {profile.name!r} has an unknown authType {sanitize(auth_type)!r}; "  # type: ignore[union-attr]
                f"botmon-tui knows {', '.join(sorted(_KNOWN_AUTH_TYPES))}"
            )
        client_id = self.pick("client_id")
        secret = self.pick("client_secret")
        token = self.pick("access_token")
        method, parts = self._method(profile, auth_type, client_id, secret, token)
        draft = ConnectionSettings(
            base_url=base_url,
            fhir_url_path=str(fhir.value) if fhir else DEFAULT_FHIR_URL_PATH,
            token_url=str(token_url.value) if token_url else None,
        )
        servers: list[tuple[str, Found, str]] = [("server", base, draft.base)]
        if fhir and not same_origin(draft.fhir_base, draft.base):
            servers.append(("FHIR URL", fhir, draft.fhir_base))
        grants = method in ("client-credentials", "jwt-bearer", "jwt-assertion", "login")
        if grants and token_url and not same_origin(draft.token_endpoint, draft.base):
            servers.append(("token URL", token_url, draft.token_endpoint))
        self._check_mixing(parts, servers)

        access: Secret | None = None
        refresh: Secret | None = None
        if method in ("token", "login"):
            carrier = parts[0]  # the static token, or the profile's activeLogin
            access = self._secret_value(carrier)
            self._check_issuer(access, carrier, draft.base)
            if method == "token":
                self._check_expiry(access, carrier)
            elif profile is not None:
                refresh = profile.refresh_token
        client_secret = self._secret_value(secret) if secret and method != "token" else None
        if method == "token":
            client_id = None
        private_key: Secret | None = None
        if method == "jwt-assertion":
            private_key = self._private_key(profile, draft.base, str(client_id.value) if client_id else "")  # type: ignore[arg-type]
        # The profile's own settings (jwt claims, login hint) only when its server or credentials are used.
        used = profile if any(p.layer == _PROFILE for p in (*parts, base)) else None
        layers = sorted({p.layer for p in (*parts, base) if p.layer != _DEFAULT}, key=_RANK.__getitem__)
        source = " + ".join(self._layer_text(layer) for layer in layers)
        return ConnectionSettings(
            base_url=base_url,
            fhir_url_path=draft.fhir_url_path,
            token_url=draft.token_url,
            client_id=str(client_id.value) if client_id else None,
            client_secret=client_secret,
            access_token=access,
            refresh_token=refresh,
            auth_method=method,
            ca_file=self.ca_file(),
            timeout=self.timeout(),
            source=source or "defaults",
            app_url=str(app.value) if app else None,
            profile=used.name if used else None,
            audience=used.audience if used else None,
            issuer=used.issuer if used else None,
            subject=used.subject if used else None,
            scope=used.scope if used else None,
            private_key=private_key,
            token_sink=_login_sink(profile.path) if method == "login" and profile is not None else None,
        )

    def _layer_text(self, layer: str) -> str:
        """How ``ConnectionSettings.source`` names a layer ("profile 'prod'", "environment"...)."""
        if layer == _PROFILE and self.profile is not None:
            return f"profile {self.profile.name!r}"
        if layer == _TABLE:
            return self.table_text.split(" of the config file", 1)[0]
        return layer

    def _secret_value(self, found: Found) -> Secret:
        resolver = self.resolver
        if found.layer == _DOTENV and _readable_by_others(resolver.dotenv[0]):
            resolver.warn(_permission_warning(resolver.dotenv[0]))
        if found.path is None:
            value = found.value
            return value if isinstance(value, Secret) else Secret(str(value))
        raw = str(found.value) if found.layer == _FLAGS else str(found.path)
        secret, warnings = read_secret_file(raw, stdin=resolver.sources.stdin)
        resolver.warn(*warnings)
        return secret

    def _check_mixing(self, parts: list[Found], servers: list[tuple[str, Found, str]]) -> None:
        """Refuse a credential with a server named by another source (see the module docstring)."""
        for what, server, url in servers:
            if server.layer == _DEFAULT:
                continue
            mixed = [
                part
                for part in parts
                if part.layer != server.layer
                and not self._together(part, server)
                and not self._token_names(part, url)
            ]
            if not mixed:
                continue
            layer_parts = [p for p in mixed if p.layer == mixed[0].layer]
            names = self.where(layer_parts[0]) if mixed[0].layer == _PROFILE else None
            if names is None:
                names = "/".join(dict.fromkeys(p.name for p in layer_parts))
                origin = {
                    _FLAGS: "the command line",
                    _TABLE: self.table_text,
                    _ENV: "the environment",
                    _DOTENV: _shown(self.resolver.dotenv[0]),
                    _FILE: f"the config file {_shown(self.resolver.file.path)}",
                }[mixed[0].layer]
                verb = "come" if len(layer_parts) > 1 else "comes"
                credential = f"{names} {verb} from {origin}"
            else:
                credential = f"the credentials come from {names}"
            raise ConfigError(
                f"{self.where(server)} sets the {what} ({sanitize(url)}) but {credential}: a credential "
                f"is only sent to the server it was set up with; {self._drop(layer_parts)}, or "
                f"{self._drop([server])}, or give both on the command line (or in one [[connection]] table)"
            )

    @staticmethod
    def _token_names(part: Found, url: str) -> bool:
        """Whether ``part`` is an access token whose own ``iss`` names the server at ``url``."""
        if part.name not in ("MEDPLUM_CLIENT_ACCESS_TOKEN", "accessToken", "activeLogin"):
            return False
        value = part.value.reveal() if isinstance(part.value, Secret) else str(part.value)
        issuer = token_issuer(value)
        return issuer is not None and same_origin(issuer, url) and same_server(issuer, url)

    def _method(
        self,
        profile: Profile | None,
        auth_type: str | None,
        client_id: Found | None,
        secret: Found | None,
        token: Found | None,
    ) -> tuple[AuthMethod, list[Found]]:
        """How to log in, and the credential settings that will be used (as the Medplum CLI picks:
        an access token first, then the profile's authType, then a client id and secret)."""
        name = profile.name if profile is not None else ""
        if token is not None:
            return "token", [token]
        if auth_type == "jwt-bearer":
            if client_id is None or secret is None:
                raise ConfigError(
                    f"Medplum profile {name!r} uses authType jwt-bearer, which needs clientId and "
                    "clientSecret"
                )
            return "jwt-bearer", [client_id, secret]
        if auth_type == "jwt-assertion":
            if client_id is None or profile is None or not profile.private_key_path:
                raise ConfigError(
                    f"Medplum profile {name!r} uses authType jwt-assertion, which needs clientId and "
                    "privateKeyPath"
                )
            return "jwt-assertion", [client_id, Found(profile.private_key_path, _PROFILE, "privateKeyPath")]
        if client_id is not None and secret is not None:
            return ("basic" if auth_type == "basic" else "client-credentials"), [client_id, secret]
        if profile is not None and profile.login_token and auth_type not in ("client-credentials", "basic"):
            return "login", [Found(profile.login_token, _PROFILE, "activeLogin")]
        if client_id is not None:
            raise ConfigError(
                f"no client secret for client id {sanitize(str(client_id.value))!r} "
                f"({self.where(client_id)}): "
                "use --client-secret-file PATH, MEDPLUM_CLIENT_SECRET or a Medplum profile"
            )
        if secret is not None:
            raise ConfigError(
                f"a client secret is set ({self.where(secret)}) but no client id: "
                "use --client-id or MEDPLUM_CLIENT_ID"
            )
        if profile is not None and auth_type in (None, "authorization-code", "token-exchange"):
            hint = "medplum login" if name == DEFAULT_PROFILE else f"medplum login -p {name}"
            raise ConfigError(
                f"Medplum profile {name!r} (authType {auth_type or 'authorization-code'}) holds no login: "
                f"run '{hint}' first, or use a ClientApplication's client id and secret"
            )
        raise ConfigError(
            "no credentials: use --demo, --profile NAME, or set MEDPLUM_CLIENT_ID and "
            "MEDPLUM_CLIENT_SECRET (see botmon-tui --help)"
        )

    def _check_issuer(self, token: Secret, carrier: Found, base: str) -> None:
        issuer = token_issuer(token.reveal())
        if issuer is not None and not same_server(issuer, base):
            raise ConfigError(
                f"the access token from {self.where(carrier)} was issued by {sanitize(issuer[:200])}, not "
                f"{sanitize(base)}: it is not sent there; connect to the server that issued it "
                f"(--base-url {sanitize(issuer[:200])}) or use credentials for {sanitize(base)}"
            )

    def _check_expiry(self, token: Secret, carrier: Found) -> None:
        expires = token_expiry(token.reveal())
        if expires is not None and expires <= time.time():
            when = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
            raise ConfigError(
                f"the access token from {self.where(carrier)} expired at {when} (it is not renewed): "
                "get a new one, or use client credentials"
            )

    def _private_key(self, profile: Profile, base: str, client_id: str) -> Secret:
        assert profile.private_key_path is not None
        path = Path(profile.private_key_path).expanduser()
        if not path.is_absolute():
            # The Medplum CLI resolves it against the working directory.
            path = (self.resolver.sources.cwd or Path.cwd()) / path
        pem = _read_text(path, "private key file")
        if _readable_by_others(path):
            self.resolver.warn(_permission_warning(path))
        try:
            client_assertion(
                client_id=client_id, audience=base, private_key_pem=pem.encode(), now=time.time()
            )
        except MissingDependency as exc:
            raise ConfigError(str(exc)) from None
        except (ValueError, TypeError) as exc:
            reason = str(exc).split("\n", 1)[0][:120] or type(exc).__name__
            raise ConfigError(
                f"cannot use the private key {_shown(path)} "
                f"(RS384 needs an unencrypted RSA PEM key): {reason}"
            ) from None
        return Secret(pem)

    # -- --show-config

    def rows(self, settings: ConnectionSettings | None) -> list[Shown]:
        """Each of its settings with its value (secrets masked) and where it came from; reads
        files only (no network). ``settings``: what it resolved to (None: it could not be)."""
        rows: list[Shown] = []
        spec = self.spec
        profile = self.profile_if_readable()
        if spec.profile is None:
            why = (
                "not read: credentials are set elsewhere" if spec.chooser == "" and not spec.table else "none"
            )
            rows.append(Shown("profile", "-", why))
        elif profile is None:
            rows.append(Shown("profile", spec.profile, "not found (implicit default profile)"))
        else:
            rows.append(Shown("profile", f"{profile.name} ({_shown(profile.path)})", self._chooser_text()))
        method = settings.auth_method if settings is not None else "-"
        auth_type = profile.auth_type if profile is not None and profile.auth_type else "-"
        rows.append(
            Shown("auth", method, f"profile authType {auth_type}" if profile is not None else "what is set")
        )
        for setting in SETTINGS:
            if setting.scope == "global" or setting.name in ("profile", "label"):
                continue
            try:
                found = self.values(setting)
            except ConfigError:
                found = []
            rows.append(self.resolver.shown(setting, found, self.where))
        if settings is not None:
            if settings.auth_method == "login" and settings.access_token is not None:
                rows.append(Shown("access token", _mask(settings.access_token), "activeLogin of the profile"))
                refresh = "********" if settings.refresh_token else "none"
                rows.append(Shown("refresh token", refresh, "activeLogin of the profile"))
            rows.append(Shown("FHIR base", settings.fhir_base, "base URL + FHIR path"))
            if settings.auth_method not in ("token", "basic", "none"):
                rows.append(Shown("token endpoint", settings.token_endpoint, "base URL + token URL"))
            app = "--app-url etc." if settings.app_url else "guessed from the base URL"
            rows.append(Shown("web app", settings.app_base, app))
        return rows

    def _chooser_text(self) -> str:
        """What chose the profile, for --show-config."""
        chooser = self.spec.chooser
        if chooser == "implicit":
            return "implicit default (no credential set elsewhere)"
        if chooser == "connection":
            return f"profile in {self.table_text}"
        return _SELECTED_BY.get(chooser, chooser)


class Resolver:
    """Resolves the watched connections and the run's settings (see the module docstring).

    ``warnings`` collects one-line warnings (files holding secrets that others can read,
    unknown config keys) for the caller to print; each appears once.
    """

    def __init__(self, flags: Flags, sources: Sources) -> None:
        self.flags = flags
        self.sources = sources
        self.warnings: list[str] = []
        self._file: FileConfig | None = None
        self._dotenv: tuple[Path, dict[str, str]] | None = None
        self._profiles: dict[str, Profile | None] = {}

    def warn(self, *messages: str) -> None:
        for message in messages:
            if message not in self.warnings:
                self.warnings.append(message)

    # -- the sources every connection shares

    @property
    def file(self) -> FileConfig:
        if self._file is None:
            self._file = read_config_file(self.sources.config_dir)
            self.warn(*self._file.warnings)
        return self._file

    @property
    def dotenv(self) -> tuple[Path, dict[str, str]]:
        if self._dotenv is None:
            cwd = self.sources.cwd
            self._dotenv = read_dotenv(cwd) if cwd is not None else (Path(".env"), {})
        return self._dotenv

    def read_profile(self, name: str, *, required: bool) -> Profile | None:
        """A Medplum CLI profile, read once a run however many connections use it."""
        if name not in self._profiles:
            profile = read_profile(name, self.sources.profile_dir, required=required)
            if profile is not None:
                self.warn(*profile.warnings)
            self._profiles[name] = profile
        profile = self._profiles[name]
        if profile is None and required:
            read_profile(name, self.sources.profile_dir, required=True)  # raises: not found
        return profile

    def shared_values(self, setting: Setting) -> list[Found]:
        """The values of ``setting`` below the flags, tables and profiles: the environment,
        ``.env`` and the config file's top level, highest first."""
        found: list[Found] = []
        if setting.env and self.sources.env(setting.env):
            found.append(Found(self.sources.env(setting.env), _ENV, setting.env))
        if setting.env and setting.dotenv and self.dotenv[1].get(setting.env):
            found.append(Found(self.dotenv[1][setting.env], _DOTENV, setting.env))
        key = setting.file_key
        if key and setting.at_top and self.file.get(key) is not None:
            path = self.file.path_value(key) if setting.kind in ("secret", "path") else None
            found.append(Found(self.file.get(key), _FILE, key, path))
        return found

    def _values(self, setting: Setting) -> list[Found]:
        """Every layer's value of a setting of the run (flags, environment, config file)."""
        flag = self.flags.given(setting)
        found = [Found(flag, _FLAGS, setting.flag or "")] if flag is not None else []
        return found + self.shared_values(setting)

    def where(self, found: Found) -> str:
        """How the user set it, for the layers every connection shares."""
        if found.layer == _DOTENV:
            return f"{found.name} in {_shown(self.dotenv[0])}"
        if found.layer == _FILE:
            return f"{found.name} in the config file {_shown(self.file.path)}"
        if found.layer == _DEFAULT:
            return "the default"
        return found.name

    def checked(self, setting: Setting, found: Found | None, where: str) -> Any:
        """``found``'s value read as its kind and checked by its rule; the default when None."""
        if found is None:
            return setting.default
        value = found.value
        if setting.kind == "seconds" and isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(
                    f"{found.name} must be a number of seconds, not {sanitize(value)!r}"
                ) from None
        if setting.check is not None:
            problem = setting.check(value)
            if problem:
                raise ConfigError(f"{where}: {setting.name} {problem}")
        return value

    def _global(self, name: str) -> Any:
        setting = SETTING[name]
        found = self._values(setting)
        return self.checked(setting, found[0] if found else None, self.where(found[0]) if found else "")

    # -- which connections

    def _credential_elsewhere(self) -> bool:
        """Whether flags, the environment, ``.env`` or the config file set any credential."""
        return any(self._values(SETTING[name]) for name in _CREDENTIAL_FIELDS)

    def _named(self, name: str, selector: str) -> _Spec:
        """The connection NAME names: the config file's [[connection]] with that label (or, without
        a label, naming that profile), else the Medplum CLI profile NAME."""
        tables = [
            (number, table)
            for number, table in enumerate(self.file.connections, 1)
            if str(table.get("label") or table.get("profile") or "") == name
        ]
        if len(tables) > 1:
            raise ConfigError(
                f"the config file has {len(tables)} [[connection]] tables named {sanitize(name)!r}: "
                "give each a label of its own"
            )
        if tables:
            return self._table_spec(*tables[0], selector)
        return _Spec(profile=check_profile_name(name), chooser=selector, selector=selector)

    def _table_spec(self, number: int, table: Mapping[str, Any], selector: str) -> _Spec:
        profile = table.get("profile")
        if profile is not None:
            check_profile_name(str(profile))
        return _Spec(
            profile=str(profile) if profile else None,
            chooser="connection" if profile else "",
            selector=selector,
            table=table,
            number=number,
        )

    def _specs(self) -> list[_Spec]:
        """The watched connections, as they were named (see the module docstring)."""
        file = self.file
        watch, profile = file.get("watch"), file.get("profile")
        if watch and profile:
            raise ConfigError(
                f"the config file {_shown(file.path)} sets both profile and watch: "
                "list every connection to watch in watch"
            )
        names = self.flags.profiles
        if names:
            specs = [self._named(name, "-p") for name in names]
        elif self.sources.env("BOTMON_PROFILE"):
            specs = [self._named(str(self.sources.env("BOTMON_PROFILE")), "BOTMON_PROFILE")]
        elif profile:
            specs = [self._named(str(profile), "config file")]
        elif any(self.flags.given(SETTING[name]) for name in _CONNECTION_FLAGS):
            specs = [self._classic()]
        elif watch:
            specs = [self._named(name, "watch") for name in watch]
        elif file.connections:
            specs = [self._table_spec(n, table, "tables") for n, table in enumerate(file.connections, 1)]
        else:
            specs = [self._classic()]
        if len(specs) > 1:
            self._one_connection_flags(specs)
        return specs

    @staticmethod
    def _chose(spec: _Spec) -> str:
        """What chose the connections instead of the config file's watch list."""
        if spec.selector in _SELECTED_BY:
            return f"{_SELECTED_BY[spec.selector]} names the connection"
        return "the server or credential flags make one connection"

    def _classic(self) -> _Spec:
        """The one connection the flags, the environment, ``.env`` and the config file make, with
        the Medplum CLI's default profile when no credential is set anywhere else."""
        if self._credential_elsewhere():
            return _Spec(profile=None, chooser="", selector="")
        return _Spec(profile=DEFAULT_PROFILE, chooser="implicit", selector="")

    def _one_connection_flags(self, specs: list[_Spec]) -> None:
        """A flag that sets one connection's value is refused when there are several."""
        for setting in SETTINGS:
            if setting.scope == "connection" and self.flags.given(setting) is not None:
                if specs[0].selector == "-p":
                    why = f"-p is given {len(specs)} times"
                else:
                    named_by = _SELECTED_BY.get(specs[0].selector, "the config file's [[connection]] tables")
                    why = f"{len(specs)} connections are watched ({named_by})"
                raise ConfigError(
                    f"{setting.flag} sets one connection's {setting.label}, and {why}: set it in each "
                    "connection's profile or [[connection]] table, or watch one connection with -p NAME"
                )

    def connections(self) -> list[ResolvedConnection]:
        """Every watched connection, resolved on its own; a ConfigError for the first that cannot
        be (named by its label when there are several), or for two with one label."""
        specs = self._specs()
        resolved: list[ResolvedConnection] = []
        for spec in specs:
            connection = _Connection(self, spec)
            try:
                settings = connection.settings()
            except ConfigError as exc:
                if len(specs) == 1:
                    raise
                raise ConfigError(f"{connection.label(None)}: {exc}") from None
            label = connection.label(settings)
            resolved.append(
                ResolvedConnection(label, settings, connection.origin, tuple(connection.rows(settings)))
            )
        _check_labels([(c.label, c.origin) for c in resolved])
        return resolved

    def connection(self) -> ConnectionSettings:
        """The one connection (commands that read one); a ConfigError when several are watched."""
        connections = self.connections()
        if len(connections) > 1:
            labels = ", ".join(c.label for c in connections)
            raise ConfigError(
                f"this reads one connection, and {len(connections)} are watched ({labels}): "
                "choose one with -p NAME"
            )
        return connections[0].settings

    # -- the settings of the run

    def interval(self) -> float:
        return float(self._global("interval"))

    def bell(self) -> bool:
        """Ring the terminal bell on a new failure: ``--no-bell`` > ``bell`` in the config file > on."""
        return bool(self._global("bell"))

    def realert(self) -> float:
        """Seconds between two alerts of one incident that goes on: ``--realert`` >
        ``BOTMON_REALERT`` > ``realert`` in the config file > 30 min."""
        return float(self._global("realert"))

    def on_alert(self) -> str | None:
        """The command run for each alert and recovery: ``--on-alert`` > ``on_alert`` in the config
        file (None: none)."""
        value = self._global("on_alert")
        return str(value) if value else None

    def theme(self) -> str | None:
        """The colour theme: ``TEXTUAL_THEME``, else the config file's ``theme`` (None: Textual's)."""
        value = self._global("theme")
        return str(value) if value else None

    def keymap(self) -> dict[str, str]:
        """The config file's ``[keymap]``: binding id → key(s), for ``App.set_keymap`` (checked in
        form here; the TUI knows which binding ids exist)."""
        return dict(self._global("keymap") or {})

    def grace(self) -> dict[str, float]:
        """The config file's ``[grace]``: bot name or id → grace period in seconds (a scheduled
        bot not named has the default, ``monitor/cadence.default_grace``)."""
        return dict(self._global("grace") or {})

    def timeout(self) -> float:
        """The HTTP timeout of the flags and the config file's top level (``--demo``'s; each
        connection has its own, which a [[connection]] table may set)."""
        return float(self._global("timeout"))

    # -- --show-config

    def shown(self, setting: Setting, found: list[Found], where: Any) -> Shown:
        """A ``--show-config`` line: the winning value (masked if secret) and its source."""
        if not found:
            default = setting.shown_default
            return Shown(setting.label, default or "-", "default" if default else "not set")
        value = found[0].value
        if setting.secret:
            shown = "******** (from a file)" if found[0].path is not None else _mask(value)
        elif setting.kind == "switch":
            shown = "on" if value else "off"
        elif setting.kind == "seconds":
            shown = f"{value:g}" if isinstance(value, float) else sanitize(str(value))
        elif setting.kind == "names":
            shown = ", ".join(sanitize(v) for v in value)
        elif setting.kind == "keymap":
            shown = ", ".join(f"{sanitize(k)}={sanitize(v)}" for k, v in value.items()) or "-"
        elif setting.kind == "grace":
            shown = ", ".join(f"{sanitize(k)}={v:g}s" for k, v in value.items()) or "-"
        elif found[0].path is not None:
            shown = _shown(found[0].path)
        else:
            shown = sanitize(str(value))
        beats = f" (beats {', '.join(where(f) for f in found[1:])})" if found[1:] else ""
        return Shown(setting.label, shown, where(found[0]) + beats)

    def describe(self) -> ConfigReport:
        """Every setting of the run, then each connection's, with its value (secrets masked) and
        where it came from, and what stops each. Reads files only; no network."""
        rows: list[Shown] = []
        problem: ConfigError | None = None
        specs: list[_Spec] = []
        try:
            specs = self._specs()
            for setting in SETTINGS:
                if setting.scope != "global":
                    continue
                row = self.shown(setting, self._values(setting), self.where)
                if setting.name == "watch" and self.file.get("watch") and specs[0].selector != "watch":
                    row = row._replace(source=f"{row.source} (not used: {self._chose(specs[0])})")
                rows.append(row)
                try:
                    self._global(setting.name)
                except ConfigError as exc:
                    problem = problem or exc
            rows.append(
                Shown("config file", _shown(self.file.path), "found" if self.file.exists else "not found")
            )
        except ConfigError as exc:  # the config file cannot be read, or names the connections wrongly
            return ConfigReport(tuple(rows), (), exc)
        reports: list[ConnectionReport] = []
        for spec in specs:
            connection = _Connection(self, spec)
            settings: ConnectionSettings | None = None
            trouble: ConfigError | None = None
            try:
                settings = connection.settings()
            except ConfigError as exc:
                trouble = exc
            label = connection.label(settings)
            rows_of = tuple(connection.rows(settings))
            reports.append(ConnectionReport(label, connection.origin, rows_of, trouble))
        try:
            _check_labels([(r.label, r.origin) for r in reports])
        except ConfigError as exc:
            problem = problem or exc
        return ConfigReport(tuple(rows), tuple(reports), problem)


def _check_labels(labels: Sequence[tuple[str, str]]) -> None:
    """Two connections with one label (letter case aside) are refused."""
    seen: dict[str, str] = {}
    for label, origin in labels:
        key = label.casefold()
        if key in seen:
            both = f"both from {origin}" if seen[key] == origin else f"{seen[key]}; {origin}"
            raise ConfigError(
                f"two connections are labelled {sanitize(label)!r} ({both}): "
                'give each a label of its own (label = "..." in its [[connection]] table)'
            )
        seen[key] = origin


def _mask(value: Any) -> str:
    text = value.reveal() if isinstance(value, Secret) else str(value)
    shown = f"******** ({len(text)} character{'' if len(text) == 1 else 's'}"
    issuer = token_issuer(text)
    expires = token_expiry(text)
    if issuer is not None:
        shown += f", issued by {sanitize(issuer[:100])}"
    if expires is not None:
        shown += f", expires {datetime.fromtimestamp(expires, UTC).strftime('%Y-%m-%d %H:%M:%SZ')}"
    return shown + ")"


def demo_settings(base_url: str, client_id: str, client_secret: str, *, timeout: float) -> ConnectionSettings:
    """Settings for the embedded demo server (``--demo``): nothing is read from files."""
    return ConnectionSettings(
        base_url=base_url,
        client_id=client_id,
        client_secret=Secret(client_secret),
        auth_method="client-credentials",
        timeout=timeout,
        source="demo",
    )
