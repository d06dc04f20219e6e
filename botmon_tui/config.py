"""Settings: command-line flags > environment (``MEDPLUM_*``) > Medplum CLI profile > config file.

Every field is resolved on its own, in that order. The result is a
:class:`~botmon_tui.medplum.auth.ConnectionSettings` whose secrets are
:class:`~botmon_tui.medplum.auth.Secret` (they never show in a ``repr``).

Rules kept here, so that every entry point follows them:

* A secret is never a plain flag value: it comes from ``--client-secret-file PATH`` (``-`` reads
  stdin), ``MEDPLUM_CLIENT_SECRET`` / ``MEDPLUM_CLIENT_ACCESS_TOKEN``, a Medplum CLI profile, or
  the config file's ``client_secret_file``.
* Plain ``http://`` is refused for any host but loopback unless ``insecure_http`` is set.
  TLS is always verified (``--ca-file`` adds a CA bundle; httpx honours ``SSL_CERT_FILE``).
* A file holding a secret that group or others can read gives a one-line warning.
* Every problem is a :class:`ConfigError` with a one-line message that holds no secret.

Where files are read from is injectable (:class:`Sources`), so tests never read the
developer's own ``~/.medplum`` or config file.
"""

from __future__ import annotations

import getpass
import json
import math
import os
import re
import ssl
import stat
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import platformdirs

from botmon_tui.medplum.auth import (
    DEFAULT_BASE_URL,
    DEFAULT_FHIR_URL_PATH,
    AuthMethod,
    ConnectionSettings,
    Secret,
    is_loopback,
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
    ("BOTMON_PROFILE", "Medplum CLI profile name (~/.medplum/<name>.json)"),
    ("BOTMON_INTERVAL", "TUI poll interval in seconds (default 10)"),
    ("BOTMON_CONFIG_DIR", "directory of config.toml (default: the user config dir)"),
    ("SSL_CERT_FILE", "CA bundle for TLS verification (honoured by httpx)"),
    ("NO_COLOR", "turn colour off in tables"),
    ("TEXTUAL_THEME", "colour theme (default: the config file's theme, else textual-dark)"),
)

_PROFILE_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")

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
}


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


def config_dir_from(environ: Mapping[str, str]) -> Path:
    """``BOTMON_CONFIG_DIR``, else the platform's user config dir for botmon-tui."""
    override = environ.get("BOTMON_CONFIG_DIR")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME))


@dataclass(frozen=True)
class Sources:
    """Where settings are read from. Tests build one pointing at a temporary directory."""

    environ: Mapping[str, str]
    home: Path
    config_dir: Path
    stdin: TextIO | None = None

    @classmethod
    def from_os(cls) -> Sources:
        environ = dict(os.environ)
        return cls(environ=environ, home=Path.home(), config_dir=config_dir_from(environ), stdin=sys.stdin)

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


@dataclass(frozen=True)
class Profile:
    """A Medplum CLI profile (``~/.medplum/<name>.json``), reduced to what botmon-tui uses."""

    name: str
    path: Path
    auth_type: str = "authorization-code"
    base_url: str | None = None
    fhir_url_path: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret: Secret | None = field(default=None, repr=False)
    #: ``options.accessToken`` or ``activeLogin.accessToken`` (for authorization-code profiles).
    access_token: Secret | None = field(default=None, repr=False)
    warnings: tuple[str, ...] = ()


def _json_field(raw: Any, key: str, path: Path) -> dict[str, Any]:
    """A profile value that is a JSON-encoded string (or, leniently, an object already)."""
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str):
        raise ConfigError(f"profile {_shown(path)}: {key!r} is not a JSON string")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"profile {_shown(path)}: {key!r} is not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise ConfigError(f"profile {_shown(path)}: {key!r} is not a JSON object")
    return value


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def check_profile_name(name: str) -> str:
    if not _PROFILE_NAME_RE.match(name):
        raise ConfigError(f"invalid profile name {sanitize(name)!r}: use letters, digits, '.', '_' and '-'")
    return name


def read_profile(name: str, profile_dir: Path, *, required: bool = True) -> Profile | None:
    """Read ``<profile_dir>/<name>.json``; ``None`` if it is absent and not ``required``."""
    check_profile_name(name)
    path = profile_dir / f"{name}.json"
    if not path.exists():
        if required:
            raise ConfigError(f"Medplum profile {name!r} not found ({_shown(path)})")
        return None
    text = _read_text(path, "Medplum profile")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"Medplum profile {_shown(path)} is not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"Medplum profile {_shown(path)} is not a JSON object")
    options = _json_field(data.get("options"), "options", path)
    login = _json_field(data.get("activeLogin"), "activeLogin", path)
    auth_type = _text(options.get("authType")) or "authorization-code"
    secret = _text(options.get("clientSecret"))
    token = _text(options.get("accessToken")) or _text(login.get("accessToken"))
    warnings: tuple[str, ...] = ()
    if (secret or token) and _readable_by_others(path):
        warnings = (_permission_warning(path),)
    return Profile(
        name=name,
        path=path,
        auth_type=auth_type,
        base_url=_text(options.get("baseUrl")),
        fhir_url_path=_text(options.get("fhirUrlPath")),
        token_url=_text(options.get("tokenUrl")),
        client_id=_text(options.get("clientId")),
        client_secret=Secret(secret) if secret else None,
        access_token=Secret(token) if token else None,
        warnings=warnings,
    )


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

_FLAGS, _ENV, _PROFILE, _FILE = "flags", "environment", "profile", "config file"
_RANK = {_FLAGS: 0, _ENV: 1, _PROFILE: 2, _FILE: 3}


class Resolver:
    """Resolves each setting from flags > environment > profile > config file > defaults.

    ``warnings`` collects one-line warnings (files holding secrets that others can read,
    unknown config keys) for the caller to print.
    """

    def __init__(self, flags: Flags, sources: Sources) -> None:
        self.flags = flags
        self.sources = sources
        self.warnings: list[str] = []
        self._file: FileConfig | None = None
        self._profile: Profile | None = None
        self._profile_read = False

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

    def profile_name(self) -> tuple[str | None, bool]:
        """The profile to read and whether it was asked for (an absent implicit one is fine)."""
        explicit = self.flags.profile or self.sources.env("BOTMON_PROFILE") or self.file.get("profile")
        if explicit:
            return str(explicit), True
        # The Medplum CLI's "default" profile is used only when nothing else says where to connect
        # or how to log in, so its credentials are never sent to a server named elsewhere.
        env = self.sources.env
        configured = (
            self.flags.base_url
            or self.flags.client_id
            or self.flags.client_secret_file
            or any(
                env(name)
                for name in (
                    "MEDPLUM_BASE_URL",
                    "MEDPLUM_CLIENT_ID",
                    "MEDPLUM_CLIENT_SECRET",
                    "MEDPLUM_CLIENT_ACCESS_TOKEN",
                )
            )
            or any(self.file.get(k) for k in ("base_url", "client_id", "client_secret_file"))
        )
        return (None, False) if configured else (DEFAULT_PROFILE, False)

    @property
    def profile(self) -> Profile | None:
        if not self._profile_read:
            name, required = self.profile_name()
            if name is not None:
                self._profile = read_profile(name, self.sources.profile_dir, required=required)
                if self._profile is not None:
                    self._warn(*self._profile.warnings)
            self._profile_read = True
        return self._profile

    def _pick(
        self, flag: str | None, env: str | None, profile_attr: str | None, file_key: str | None
    ) -> tuple[str | None, str | None]:
        """The first value given, with the layer it came from."""
        profile = self.profile
        candidates: list[tuple[str, Any]] = [
            (_FLAGS, flag),
            (_ENV, self.sources.env(env) if env else None),
            (_PROFILE, getattr(profile, profile_attr) if profile is not None and profile_attr else None),
            (_FILE, self.file.get(file_key) if file_key else None),
        ]
        for layer, value in candidates:
            if value:
                return str(value), layer
        return None, None

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

    def _client_secret(self) -> tuple[Secret | None, str | None]:
        if self.flags.client_secret_file:
            secret, warnings = read_secret_file(self.flags.client_secret_file, stdin=self.sources.stdin)
            self._warn(*warnings)
            return secret, _FLAGS
        env = self.sources.env("MEDPLUM_CLIENT_SECRET")
        if env:
            return Secret(env), _ENV
        profile = self.profile
        if profile is not None and profile.client_secret:
            return profile.client_secret, _PROFILE
        from_file = self.file.path_value("client_secret_file")
        if from_file is not None:
            secret, warnings = read_secret_file(str(from_file), stdin=self.sources.stdin)
            self._warn(*warnings)
            return secret, _FILE
        return None, None

    def _access_token(self) -> tuple[Secret | None, str | None]:
        env = self.sources.env("MEDPLUM_CLIENT_ACCESS_TOKEN")
        if env:
            return Secret(env), _ENV
        profile = self.profile
        if (
            profile is not None
            and profile.access_token
            and profile.auth_type not in ("client-credentials", "basic")
        ):
            return profile.access_token, _PROFILE
        return None, None

    def connection(self) -> ConnectionSettings:
        flags = self.flags
        base_url, base_from = self._pick(flags.base_url, "MEDPLUM_BASE_URL", "base_url", "base_url")
        base_url = check_url(base_url or DEFAULT_BASE_URL, "the base URL", insecure_http=flags.insecure_http)
        fhir_path, _ = self._pick(
            flags.fhir_url_path, "MEDPLUM_FHIR_URL_PATH", "fhir_url_path", "fhir_url_path"
        )
        if fhir_path and urlsplit(fhir_path).scheme:
            check_url(fhir_path, "the FHIR URL path", insecure_http=flags.insecure_http)
        token_url, _ = self._pick(flags.token_url, "MEDPLUM_TOKEN_URL", "token_url", "token_url")
        if token_url and urlsplit(token_url).scheme:
            check_url(token_url, "the token URL", insecure_http=flags.insecure_http)
        client_id, id_from = self._pick(flags.client_id, "MEDPLUM_CLIENT_ID", "client_id", "client_id")
        secret, secret_from = self._client_secret()
        token, token_from = self._access_token()
        profile = self.profile

        method: AuthMethod
        use_secret = secret is not None and (
            token is None or _RANK[secret_from or _FILE] <= _RANK[token_from or _FILE]
        )
        if use_secret:
            if not client_id:
                raise ConfigError(
                    f"a client secret is set ({secret_from}) but no client id: "
                    "use --client-id or MEDPLUM_CLIENT_ID"
                )
            method = "basic" if profile is not None and profile.auth_type == "basic" else "client-credentials"
            token = None
        elif token is not None:
            method, secret = "token", None
        elif client_id:
            raise ConfigError(
                f"no client secret for client id {sanitize(client_id)!r}: "
                "use --client-secret-file PATH, MEDPLUM_CLIENT_SECRET or a Medplum profile"
            )
        elif profile is not None and profile.auth_type not in ("client-credentials", "basic"):
            raise ConfigError(
                f"Medplum profile {profile.name!r} uses authType {sanitize(profile.auth_type)!r} "
                "and holds no access token; botmon-tui needs client credentials: create a "
                "ClientApplication, then set MEDPLUM_CLIENT_ID and MEDPLUM_CLIENT_SECRET or use a profile "
                "with --auth-type client-credentials ('medplum profile set NAME --auth-type ...')"
            )
        else:
            raise ConfigError(
                "no credentials: use --demo, --profile NAME, or set MEDPLUM_CLIENT_ID and "
                "MEDPLUM_CLIENT_SECRET (see botmon-tui --help)"
            )

        used = {layer for layer in (base_from, id_from, secret_from, token_from) if layer}
        source = " + ".join(
            (f"profile {profile.name!r}" if layer == _PROFILE and profile else layer)
            for layer in sorted(used, key=_RANK.__getitem__)
        )
        return ConnectionSettings(
            base_url=base_url,
            fhir_url_path=fhir_path or DEFAULT_FHIR_URL_PATH,
            token_url=token_url,
            client_id=client_id,
            client_secret=secret,
            access_token=token,
            auth_method=method,
            ca_file=self.ca_file(),
            timeout=self.timeout(),
            source=source or "defaults",
        )


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
