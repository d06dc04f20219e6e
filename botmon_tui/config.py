"""Settings, resolved per field the way the Medplum CLI does it.

**flags > Medplum CLI profile > environment (``MEDPLUM_*``) > ``.env`` > config file > default**,
each field on its own (the Medplum CLI's ``getClientValues``). The result is a
:class:`~botmon_tui.medplum.auth.ConnectionSettings` whose secrets are
:class:`~botmon_tui.medplum.auth.Secret` (they never show in a ``repr``).

* The profile is ``--profile``/``-p``, ``BOTMON_PROFILE`` or ``profile`` in the config file. With
  none of them, the Medplum CLI's ``default`` profile (``~/.medplum/default.json``) is read as the
  CLI does, but only when no credential (client id, client secret, access token) is set anywhere
  else: credentials named in the environment are never mixed with the default profile's.
* **A credential goes only to the server it was set up with.** A client id, secret or token from
  one source is used with a server (base URL, or an absolute token or FHIR URL on another host)
  from another source only when both were given on the command line (``--base-url`` with ``-p``
  or ``--client-id``/``--client-secret-file``), or when a token's own ``iss`` names that server.
  Every other mix is refused with one line naming both sources.
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
import math
import os
import re
import ssl
import stat
import sys
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import platformdirs

from botmon_tui.medplum.auth import (
    AUTH_TYPES,
    DEFAULT_BASE_URL,
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
from botmon_tui.textsafe import sanitize

__all__ = [
    "DEFAULT_INTERVAL",
    "DEFAULT_PROFILE",
    "DEFAULT_TIMEOUT",
    "ENVIRONMENT_VARIABLES",
    "ConfigError",
    "FileConfig",
    "Flags",
    "Profile",
    "Resolver",
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
DEFAULT_INTERVAL = 10.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_PROFILE = "default"
MIN_INTERVAL = 1.0
MAX_INTERVAL = 3600.0
MAX_TIMEOUT = 600.0
#: Largest secret or profile file read (a secret is a few dozen bytes; a profile a few KiB).
MAX_FILE_BYTES = 256 * 1024

#: Documented in ``--help``: (name, what it does).
ENVIRONMENT_VARIABLES: tuple[tuple[str, str], ...] = (
    ("MEDPLUM_BASE_URL", "server base URL (default https://api.medplum.com/)"),
    ("MEDPLUM_FHIR_URL_PATH", "FHIR path under the base URL (default fhir/R4/)"),
    ("MEDPLUM_TOKEN_URL", "OAuth2 token URL (default <base>oauth2/token)"),
    ("MEDPLUM_CLIENT_ID", "ClientApplication id (client credentials)"),
    ("MEDPLUM_CLIENT_SECRET", "ClientApplication secret"),
    ("MEDPLUM_CLIENT_ACCESS_TOKEN", "a ready access token (used as is; not renewed)"),
    ("MEDPLUM_APP_BASE_URL", "the Medplum web app, for links (default: guessed from the base URL)"),
    ("BOTMON_PROFILE", "Medplum CLI profile name (~/.medplum/<name>.json)"),
    ("BOTMON_INTERVAL", "TUI poll interval in seconds (default 10)"),
    ("BOTMON_CONFIG_DIR", "directory of config.toml (default: the user config dir)"),
    ("SSL_CERT_FILE", "CA bundle for TLS verification (honoured by httpx)"),
    ("NO_COLOR", "turn colour off in tables"),
    ("TEXTUAL_THEME", "colour theme (default: the config file's theme, else textual-dark)"),
)

#: The variables read from a ``.env`` file in the working directory (below the real environment).
DOTENV_VARIABLES = (
    "MEDPLUM_BASE_URL",
    "MEDPLUM_FHIR_URL_PATH",
    "MEDPLUM_TOKEN_URL",
    "MEDPLUM_CLIENT_ID",
    "MEDPLUM_CLIENT_SECRET",
    "MEDPLUM_CLIENT_ACCESS_TOKEN",
    "MEDPLUM_APP_BASE_URL",
)

_PROFILE_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")
_DOTENV_LINE_RE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")

#: The keys the config file knows, with their type.
_FILE_KEYS: dict[str, type] = {
    "interval": float,
    "timeout": float,
    "profile": str,
    "base_url": str,
    "fhir_url_path": str,
    "token_url": str,
    "client_id": str,
    "client_secret_file": str,
    "ca_file": str,
    "bell": bool,
    "theme": str,
    "app_url": str,
}

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
    """What the command line said; ``None`` means "not given"."""

    base_url: str | None = None
    profile: str | None = None
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
    app_url: str | None = None


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
    values: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def path_value(self, key: str) -> Path | None:
        """A path setting; relative paths are relative to the config file's directory."""
        value = self.values.get(key)
        if not value:
            return None
        path = Path(str(value)).expanduser()
        return path if path.is_absolute() else self.path.parent / path


def read_config_file(config_dir: Path) -> FileConfig:
    path = config_dir / "config.toml"
    if not path.exists():
        return FileConfig(path=path)
    text = _read_text(path, "config file")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {_shown(path)} is not valid TOML: {exc}") from None
    values: dict[str, Any] = {}
    warnings: list[str] = []
    for key, value in data.items():
        expected = _FILE_KEYS.get(key)
        if expected is None:
            hint = " (use client_secret_file)" if key in ("client_secret", "access_token") else ""
            warnings.append(f"config file {_shown(path)}: unknown key {sanitize(key)!r} ignored{hint}")
            continue
        if expected is bool:
            if not isinstance(value, bool):
                raise ConfigError(f"config file {_shown(path)}: {key} must be true or false")
            values[key] = value
        elif expected is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"config file {_shown(path)}: {key} must be a number of seconds")
            values[key] = float(value)
        else:
            if not isinstance(value, str):
                raise ConfigError(f"config file {_shown(path)}: {key} must be a string")
            if value.strip():
                values[key] = value.strip()
    return FileConfig(path=path, exists=True, values=values, warnings=tuple(warnings))


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
    if not _PROFILE_NAME_RE.match(name):
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
    profile = Profile(
        name=name,
        path=path,
        auth_type=_text(options.get("authType")),
        base_url=_text(options.get("baseUrl")),
        fhir_url_path=_text(options.get("fhirUrlPath")),
        token_url=_text(options.get("tokenUrl")),
        client_id=_text(options.get("clientId")),
        client_secret=_secret(options.get("clientSecret")),
        access_token=_secret(options.get("accessToken")),
        login_token=_secret(login.get("accessToken")),
        refresh_token=_secret(login.get("refreshToken")),
        audience=_text(options.get("audience")),
        issuer=_text(options.get("issuer")),
        subject=_text(options.get("subject")),
        scope=_text(options.get("scope")),
        private_key_path=_text(options.get("privateKeyPath")),
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


def check_interval(value: float, where: str) -> float:
    if not math.isfinite(value) or not MIN_INTERVAL <= value <= MAX_INTERVAL:
        raise ConfigError(
            f"{where}: interval must be between {MIN_INTERVAL:g} and {MAX_INTERVAL:g} seconds, got {value:g}"
        )
    return value


def check_timeout(value: float, where: str) -> float:
    if not math.isfinite(value) or not 0 < value <= MAX_TIMEOUT:
        raise ConfigError(f"{where}: timeout must be more than 0 and at most {MAX_TIMEOUT:g} seconds")
    return value


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

#: The layers, highest first.
_FLAGS, _PROFILE, _ENV, _DOTENV, _FILE, _DEFAULT = (
    "flags",
    "profile",
    "environment",
    ".env",
    "config file",
    "default",
)
_RANK = {layer: rank for rank, layer in enumerate((_FLAGS, _PROFILE, _ENV, _DOTENV, _FILE, _DEFAULT))}

#: field -> (flag attribute, flag, profile attribute, profile key, environment variable, config key)
_FIELDS: dict[str, tuple[str | None, str | None, str | None, str | None, str | None, str | None]] = {
    "base_url": ("base_url", "--base-url", "base_url", "baseUrl", "MEDPLUM_BASE_URL", "base_url"),
    "fhir_url_path": (
        "fhir_url_path",
        "--fhir-url-path",
        "fhir_url_path",
        "fhirUrlPath",
        "MEDPLUM_FHIR_URL_PATH",
        "fhir_url_path",
    ),
    "token_url": ("token_url", "--token-url", "token_url", "tokenUrl", "MEDPLUM_TOKEN_URL", "token_url"),
    "client_id": ("client_id", "--client-id", "client_id", "clientId", "MEDPLUM_CLIENT_ID", "client_id"),
    "client_secret": (
        "client_secret_file",
        "--client-secret-file",
        "client_secret",
        "clientSecret",
        "MEDPLUM_CLIENT_SECRET",
        "client_secret_file",
    ),
    "access_token": (None, None, "access_token", "accessToken", "MEDPLUM_CLIENT_ACCESS_TOKEN", None),
    "app_url": ("app_url", "--app-url", None, None, "MEDPLUM_APP_BASE_URL", "app_url"),
}
_CREDENTIAL_FIELDS = ("client_id", "client_secret", "access_token")


@dataclass(frozen=True)
class Setting:
    """One value and where it came from: its layer and the name it was given there."""

    value: Any
    layer: str
    name: str
    #: A secret still to be read from this file (flags and config file: ``client_secret_file``).
    path: Path | None = None


class Resolver:
    """Resolves each setting: flags > profile > environment > ``.env`` > config file > default.

    ``warnings`` collects one-line warnings (files holding secrets that others can read,
    unknown config keys) for the caller to print; each appears once.
    """

    def __init__(self, flags: Flags, sources: Sources) -> None:
        self.flags = flags
        self.sources = sources
        self.warnings: list[str] = []
        self._file: FileConfig | None = None
        self._dotenv: tuple[Path, dict[str, str]] | None = None
        self._profile: Profile | None = None
        self._profile_read = False
        #: What :meth:`connection` chose, field by field (for :meth:`describe`).
        self.chosen: dict[str, Setting] = {}

    def _warn(self, *messages: str) -> None:
        for message in messages:
            if message not in self.warnings:
                self.warnings.append(message)

    # -- the layers

    @property
    def file(self) -> FileConfig:
        if self._file is None:
            self._file = read_config_file(self.sources.config_dir)
            self._warn(*self._file.warnings)
        return self._file

    @property
    def dotenv(self) -> tuple[Path, dict[str, str]]:
        if self._dotenv is None:
            cwd = self.sources.cwd
            self._dotenv = read_dotenv(cwd) if cwd is not None else (Path(".env"), {})
        return self._dotenv

    def _credential_elsewhere(self) -> bool:
        """Whether flags, the environment, ``.env`` or the config file set any credential."""
        return any(self._layer_values(name, with_profile=False) for name in _CREDENTIAL_FIELDS)

    def profile_choice(self) -> tuple[str | None, str]:
        """The profile to read and what chose it: ``-p``, ``BOTMON_PROFILE``, ``config file``, or
        ``implicit`` (the Medplum CLI's ``default``, read only when no credential is set elsewhere)."""
        if self.flags.profile:
            return self.flags.profile, "-p"
        if self.sources.env("BOTMON_PROFILE"):
            return self.sources.env("BOTMON_PROFILE"), "BOTMON_PROFILE"
        if self.file.get("profile"):
            return str(self.file.get("profile")), "config file"
        if self._credential_elsewhere():
            return None, ""
        return DEFAULT_PROFILE, "implicit"

    @property
    def profile(self) -> Profile | None:
        if not self._profile_read:
            name, chooser = self.profile_choice()
            if name is not None:
                self._profile = read_profile(name, self.sources.profile_dir, required=chooser != "implicit")
                if self._profile is not None:
                    self._warn(*self._profile.warnings)
            self._profile_read = True
        return self._profile

    def _layer_values(self, name: str, *, with_profile: bool = True) -> list[Setting]:
        """Every layer's value of field ``name``, highest first."""
        flag_attr, flag, profile_attr, profile_key, env_name, file_key = _FIELDS[name]
        found: list[Setting] = []
        if flag_attr and flag and getattr(self.flags, flag_attr):
            value = getattr(self.flags, flag_attr)
            path = Path(value).expanduser() if name == "client_secret" else None
            found.append(Setting(value, _FLAGS, flag, path))
        profile = self.profile if with_profile else None
        if profile is not None and profile_attr and profile_key and profile.get(profile_attr):
            found.append(Setting(profile.get(profile_attr), _PROFILE, profile_key))
        if env_name and self.sources.env(env_name):
            found.append(Setting(self.sources.env(env_name), _ENV, env_name))
        if env_name and self.dotenv[1].get(env_name):
            found.append(Setting(self.dotenv[1][env_name], _DOTENV, env_name))
        if file_key and self.file.get(file_key):
            path = self.file.path_value(file_key) if name == "client_secret" else None
            found.append(Setting(self.file.get(file_key), _FILE, file_key, path))
        return found

    def _pick(self, name: str) -> Setting | None:
        found = self._layer_values(name)
        if found:
            self.chosen[name] = found[0]
            return found[0]
        return None

    # -- describing where things came from (for messages and --show-config)

    def where(self, setting: Setting) -> str:
        """How the user set ``setting``: ``--base-url``, ``MEDPLUM_BASE_URL``, ``profile 'prod'``..."""
        if setting.layer == _PROFILE:
            return self._profile_text()
        if setting.layer == _DOTENV:
            return f"{setting.name} in {_shown(self.dotenv[0])}"
        if setting.layer == _FILE:
            return f"{setting.name} in the config file {_shown(self.file.path)}"
        if setting.layer == _DEFAULT:
            return "the default"
        return setting.name

    def _profile_text(self) -> str:
        profile = self.profile
        name = profile.name if profile is not None else "?"
        _, chooser = self.profile_choice()
        if chooser == "-p":
            return f"--profile {name}"
        if chooser == "implicit":
            return f"the Medplum CLI's default profile ({_shown(profile.path) if profile else name})"
        return f"profile {name!r} (from {chooser})"

    def _drop(self, settings: list[Setting]) -> str:
        """How to stop using ``settings`` (all of one layer)."""
        layer = settings[0].layer
        names = "/".join(dict.fromkeys(s.name for s in settings))
        if layer == _FLAGS:
            return f"drop {names}"
        if layer == _ENV:
            return f"unset {names}"
        if layer == _DOTENV:
            return f"remove {names} from {_shown(self.dotenv[0])}"
        if layer == _FILE:
            return f"remove {names} from the config file"
        _, chooser = self.profile_choice()
        return {
            "-p": "drop --profile",
            "BOTMON_PROFILE": "unset BOTMON_PROFILE",
            "config file": "remove profile from the config file",
        }.get(chooser, "use --profile NAME")

    def _on_command_line(self, setting: Setting) -> bool:
        return setting.layer == _FLAGS or (setting.layer == _PROFILE and self.profile_choice()[1] == "-p")

    # -- the settings

    def interval(self) -> float:
        if self.flags.interval is not None:
            return check_interval(self.flags.interval, "--interval")
        raw = self.sources.env("BOTMON_INTERVAL")
        if raw is not None:
            try:
                value = float(raw)
            except ValueError:
                raise ConfigError(
                    f"BOTMON_INTERVAL must be a number of seconds, not {sanitize(raw)!r}"
                ) from None
            return check_interval(value, "BOTMON_INTERVAL")
        from_file = self.file.get("interval")
        if from_file is not None:
            return check_interval(float(from_file), f"config file {_shown(self.file.path)}")
        return DEFAULT_INTERVAL

    def bell(self) -> bool:
        """Ring the terminal bell on a new failure: ``--no-bell`` > ``bell`` in the config file > on."""
        if self.flags.bell is not None:
            return self.flags.bell
        from_file = self.file.get("bell")
        return True if from_file is None else bool(from_file)

    def theme(self) -> str | None:
        """The colour theme: ``TEXTUAL_THEME``, else the config file's ``theme`` (None: Textual's)."""
        return self.sources.env("TEXTUAL_THEME") or self.file.get("theme")

    def timeout(self) -> float:
        if self.flags.timeout is not None:
            return check_timeout(self.flags.timeout, "--timeout")
        from_file = self.file.get("timeout")
        if from_file is not None:
            return check_timeout(float(from_file), f"config file {_shown(self.file.path)}")
        return DEFAULT_TIMEOUT

    def ca_file(self) -> str | None:
        if self.flags.ca_file:
            return _check_ca_file(Path(self.flags.ca_file).expanduser(), "--ca-file")
        from_file = self.file.path_value("ca_file")
        if from_file is not None:
            return _check_ca_file(from_file, f"config file {_shown(self.file.path)}")
        return None

    def _secret_value(self, setting: Setting) -> Secret:
        if setting.layer == _DOTENV and _readable_by_others(self.dotenv[0]):
            self._warn(_permission_warning(self.dotenv[0]))
        if setting.path is None:
            value = setting.value
            return value if isinstance(value, Secret) else Secret(str(value))
        raw = str(setting.value) if setting.layer == _FLAGS else str(setting.path)
        secret, warnings = read_secret_file(raw, stdin=self.sources.stdin)
        self._warn(*warnings)
        return secret

    def _check_mixing(self, parts: list[Setting], servers: list[tuple[str, Setting, str]]) -> None:
        """Refuse a credential with a server named by another source (see the module docstring)."""
        for what, server, url in servers:
            if server.layer == _DEFAULT:
                continue
            mixed = [
                part
                for part in parts
                if part.layer != server.layer
                and not (self._on_command_line(part) and self._on_command_line(server))
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
                    _ENV: "the environment",
                    _DOTENV: _shown(self.dotenv[0]),
                    _FILE: f"the config file {_shown(self.file.path)}",
                }[mixed[0].layer]
                verb = "come" if len(layer_parts) > 1 else "comes"
                credential = f"{names} {verb} from {origin}"
            else:
                credential = f"the credentials come from {names}"
            raise ConfigError(
                f"{self.where(server)} sets the {what} ({sanitize(url)}) but {credential}: a credential "
                f"is only sent to the server it was set up with; {self._drop(layer_parts)}, or "
                f"{self._drop([server])}, or give both on the command line"
            )

    @staticmethod
    def _token_names(part: Setting, url: str) -> bool:
        """Whether ``part`` is an access token whose own ``iss`` names the server at ``url``."""
        if part.name not in ("MEDPLUM_CLIENT_ACCESS_TOKEN", "accessToken", "activeLogin"):
            return False
        value = part.value.reveal() if isinstance(part.value, Secret) else str(part.value)
        issuer = token_issuer(value)
        return issuer is not None and same_origin(issuer, url) and same_server(issuer, url)

    def connection(self) -> ConnectionSettings:
        flags = self.flags
        self.chosen = {}
        base = self._pick("base_url") or Setting(DEFAULT_BASE_URL, _DEFAULT, "default")
        self.chosen["base_url"] = base
        base_url = check_url(str(base.value), "the base URL", insecure_http=flags.insecure_http)
        fhir = self._pick("fhir_url_path")
        if fhir and urlsplit(str(fhir.value)).scheme:
            check_url(str(fhir.value), "the FHIR URL path", insecure_http=flags.insecure_http)
        token_url = self._pick("token_url")
        if token_url and urlsplit(str(token_url.value)).scheme:
            check_url(str(token_url.value), "the token URL", insecure_http=flags.insecure_http)
        app = self._pick("app_url")
        if app:
            check_url(str(app.value), "the web app URL", insecure_http=True)
        profile = self.profile
        auth_type = profile.auth_type if profile is not None else None
        if auth_type is not None and auth_type not in _KNOWN_AUTH_TYPES:
            raise ConfigError(
                f"Medplum profile {profile.name!r} has an unknown authType {sanitize(auth_type)!r}; "  # type: ignore[union-attr]
                f"botmon-tui knows {', '.join(sorted(_KNOWN_AUTH_TYPES))}"
            )
        client_id = self._pick("client_id")
        secret = self._pick("client_secret")
        token = self._pick("access_token")
        method, parts = self._method(profile, auth_type, client_id, secret, token)
        draft = ConnectionSettings(
            base_url=base_url,
            fhir_url_path=str(fhir.value) if fhir else DEFAULT_FHIR_URL_PATH,
            token_url=str(token_url.value) if token_url else None,
        )
        servers: list[tuple[str, Setting, str]] = [("server", base, draft.base)]
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
        source = " + ".join(
            f"profile {profile.name!r}" if layer == _PROFILE and profile is not None else layer
            for layer in layers
        )
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

    def _method(
        self,
        profile: Profile | None,
        auth_type: str | None,
        client_id: Setting | None,
        secret: Setting | None,
        token: Setting | None,
    ) -> tuple[AuthMethod, list[Setting]]:
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
            return "jwt-assertion", [client_id, Setting(profile.private_key_path, _PROFILE, "privateKeyPath")]
        if client_id is not None and secret is not None:
            return ("basic" if auth_type == "basic" else "client-credentials"), [client_id, secret]
        if profile is not None and profile.login_token and auth_type not in ("client-credentials", "basic"):
            return "login", [Setting(profile.login_token, _PROFILE, "activeLogin")]
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

    def _check_issuer(self, token: Secret, carrier: Setting, base: str) -> None:
        issuer = token_issuer(token.reveal())
        if issuer is not None and not same_server(issuer, base):
            raise ConfigError(
                f"the access token from {self.where(carrier)} was issued by {sanitize(issuer[:200])}, not "
                f"{sanitize(base)}: it is not sent there; connect to the server that issued it "
                f"(--base-url {sanitize(issuer[:200])}) or use credentials for {sanitize(base)}"
            )

    def _check_expiry(self, token: Secret, carrier: Setting) -> None:
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
            path = (self.sources.cwd or Path.cwd()) / path
        pem = _read_text(path, "private key file")
        if _readable_by_others(path):
            self._warn(_permission_warning(path))
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

    def describe(self) -> tuple[list[tuple[str, str, str]], ConfigError | None]:
        """Each resolved field with its value (secrets masked) and where it came from, and the
        problem that stops the connection, if any. Reads files only; no network."""
        settings: ConnectionSettings | None = None
        problem: ConfigError | None = None
        try:
            settings = self.connection()
        except ConfigError as exc:
            problem = exc
        rows: list[tuple[str, str, str]] = []
        name, chooser = self.profile_choice()
        profile = self._profile
        if name is None:
            rows.append(("profile", "-", "not read: credentials are set elsewhere"))
        elif profile is None:
            rows.append(("profile", name, "not found (implicit default profile)"))
        else:
            how = {"-p": "--profile", "implicit": "implicit default (no credential set elsewhere)"}
            rows.append(("profile", f"{name} ({_shown(profile.path)})", how.get(chooser, chooser)))
        method = settings.auth_method if settings is not None else "-"
        auth_type = profile.auth_type if profile is not None and profile.auth_type else "-"
        rows.append(
            ("auth", method, f"profile authType {auth_type}" if profile is not None else "what is set")
        )
        labels = {
            "base_url": "base URL",
            "fhir_url_path": "FHIR path",
            "token_url": "token URL",
            "client_id": "client id",
            "client_secret": "client secret",
            "access_token": "access token",
            "app_url": "web app URL",
        }
        for key, label in labels.items():
            setting = self.chosen.get(key)
            if setting is None:
                continue
            value = setting.value
            if key in ("client_secret", "access_token"):
                shown = "******** (from a file)" if setting.path is not None else _mask(value)
            else:
                shown = sanitize(str(value))
            others = [s for s in self._layer_values(key) if s != setting]
            beats = f" (beats {', '.join(self.where(s) for s in others)})" if others else ""
            rows.append((label, shown, self.where(setting) + beats))
        if settings is not None:
            if settings.auth_method == "login" and settings.access_token is not None:
                rows.append(("access token", _mask(settings.access_token), "activeLogin of the profile"))
                rows.append(
                    (
                        "refresh token",
                        "********" if settings.refresh_token else "none",
                        "activeLogin of the profile",
                    )
                )
            rows.append(("FHIR base", settings.fhir_base, "base URL + FHIR path"))
            if settings.auth_method not in ("token", "basic", "none"):
                rows.append(("token endpoint", settings.token_endpoint, "base URL + token URL"))
            rows.append(
                (
                    "web app",
                    settings.app_base,
                    "--app-url etc." if settings.app_url else "guessed from the base URL",
                )
            )
        return rows, problem


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
