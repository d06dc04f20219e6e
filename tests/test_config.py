"""Settings resolution: flags > Medplum CLI profile > environment > .env > config file > defaults.

The table of every mix of layers for the base URL and the credentials is in test_precedence.py.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import certifi
import pytest
from cli_support import write_profile

from botmon_tui.cli.args import build_parser
from botmon_tui.config import (
    DEFAULT_INTERVAL,
    DEFAULT_TIMEOUT,
    ConfigError,
    Flags,
    Resolver,
    Sources,
    config_dir_from,
    read_config_file,
)
from botmon_tui.medplum.auth import (
    DEFAULT_BASE_URL,
    DEFAULT_FHIR_URL_PATH,
    ConnectionSettings,
    Secret,
    app_link,
)
from botmon_tui.settings import SETTINGS


@dataclass
class Layout:
    """A fake machine: a HOME with ~/.medplum, a config dir, an environment."""

    root: Path

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    def sources(self, env: dict[str, str] | None = None, stdin: io.StringIO | None = None) -> Sources:
        return Sources(environ=env or {}, home=self.home, config_dir=self.config_dir, stdin=stdin)

    def resolver(self, flags: Flags | None = None, env: dict[str, str] | None = None, **kw: Any) -> Resolver:
        return Resolver(flags or Flags(), self.sources(env, **kw))

    def connection(self, flags: Flags | None = None, env: dict[str, str] | None = None) -> ConnectionSettings:
        return self.resolver(flags, env).connection()

    def profile(
        self,
        name: str,
        options: dict[str, Any] | None,
        *,
        active_login: dict[str, Any] | None = None,
        mode: int = 0o600,
    ) -> Path:
        """Write a profile the way the Medplum CLI does: a flat object of strings."""
        return write_profile(self.home, name, options, active_login, mode=mode)

    def config(self, text: str) -> Path:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        path = self.config_dir / "config.toml"
        path.write_text(text)
        return path

    def secret_file(self, name: str, value: str, mode: int = 0o600) -> Path:
        path = self.root / name
        path.write_text(value)
        path.chmod(mode)
        return path

    def ca_file(self, name: str) -> Path:
        path = self.root / name
        shutil.copyfile(certifi.where(), path)
        return path


@pytest.fixture
def fs(tmp_path: Path) -> Layout:
    layout = Layout(tmp_path)
    layout.home.mkdir()
    return layout


CC = {"authType": "client-credentials"}


# ------------------------------------------------------------------------------------------------
# Precedence, field by field
# ------------------------------------------------------------------------------------------------


def _layered(fs: Layout, layers: set[str]) -> Resolver:
    """Every field set in each of ``layers`` (``flags``, ``env``, ``profile``, ``file``)."""
    flags = Flags()
    if "flags" in layers:
        flags = Flags(
            base_url="https://flags.example/",
            fhir_url_path="flags/R4/",
            token_url="https://flags.example/token",
            client_id="flags-id",
            client_secret_file=str(fs.secret_file("flags.secret", "flags-secret\n")),
            ca_file=str(fs.ca_file("flags-ca.pem")),
            timeout=11,
            interval=21,
        )
    env: dict[str, str] = {}
    if "env" in layers:
        env = {
            "MEDPLUM_BASE_URL": "https://env.example/",
            "MEDPLUM_FHIR_URL_PATH": "env/R4/",
            "MEDPLUM_TOKEN_URL": "https://env.example/token",
            "MEDPLUM_CLIENT_ID": "env-id",
            "MEDPLUM_CLIENT_SECRET": "env-secret",
            "BOTMON_INTERVAL": "22",
        }
    lines: list[str] = []
    if "profile" in layers:
        fs.profile(
            "prof",
            {
                **CC,
                "baseUrl": "https://profile.example/",
                "fhirUrlPath": "profile/R4/",
                "tokenUrl": "https://profile.example/token",
                "clientId": "profile-id",
                "clientSecret": "profile-secret",
            },
        )
        lines.append('profile = "prof"')
    if "file" in layers:
        fs.secret_file("file.secret", "file-secret")
        fs.ca_file("file-ca.pem")
        lines += [
            'base_url = "https://file.example/"',
            'fhir_url_path = "file/R4/"',
            'token_url = "https://file.example/token"',
            'client_id = "file-id"',
            'client_secret_file = "../file.secret"',  # relative to the config dir
            'ca_file = "../file-ca.pem"',
            "timeout = 14",
            "interval = 24",
        ]
    if lines:
        fs.config("\n".join(lines) + "\n")
    return fs.resolver(flags, env)


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        (
            {"flags", "env", "profile", "file"},
            {"url": "flags", "id": "flags", "secret": "flags", "interval": 21, "timeout": 11, "ca": "flags"},
        ),
        (
            {"env", "profile", "file"},
            {
                "url": "profile",
                "id": "profile",
                "secret": "profile",
                "interval": 22,
                "timeout": 14,
                "ca": "file",
            },
        ),
        (
            {"env", "file"},
            {"url": "env", "id": "env", "secret": "env", "interval": 22, "timeout": 14, "ca": "file"},
        ),
        (
            {"profile", "file"},
            {
                "url": "profile",
                "id": "profile",
                "secret": "profile",
                "interval": 24,
                "timeout": 14,
                "ca": "file",
            },
        ),
        (
            {"file"},
            {"url": "file", "id": "file", "secret": "file", "interval": 24, "timeout": 14, "ca": "file"},
        ),
    ],
    ids=["flags", "profile-over-env", "env", "profile", "file"],
)
def test_each_field_comes_from_the_highest_layer_that_sets_it(
    fs: Layout, layers: set[str], expected: dict[str, Any]
) -> None:
    resolver = _layered(fs, layers)
    settings = resolver.connection()
    layer = expected["url"]
    assert settings.base_url == f"https://{layer}.example/"
    assert settings.fhir_url_path == f"{layer}/R4/"
    assert settings.token_url == f"https://{layer}.example/token"
    assert settings.client_id == f"{expected['id']}-id"
    assert settings.client_secret == Secret(f"{expected['secret']}-secret")
    assert settings.auth_method == "client-credentials"
    assert settings.timeout == expected["timeout"]
    assert settings.ca_file is not None and Path(settings.ca_file).name == f"{expected['ca']}-ca.pem"
    assert resolver.interval() == expected["interval"]
    assert resolver.warnings == []


def test_fields_mix_across_layers_but_credentials_stay_with_their_server(fs: Layout) -> None:
    fs.profile(
        "prod", {**CC, "baseUrl": "https://medplum.example.org/", "clientId": "p-id", "clientSecret": "p-s"}
    )
    fs.config('profile = "prod"\nfhir_url_path = "fhir/R5/"\n')
    settings = fs.connection(env={"MEDPLUM_BASE_URL": "https://stray.example/", "MEDPLUM_CLIENT_SECRET": "e"})
    assert settings.base_url == "https://medplum.example.org/"  # the profile beats the environment
    assert settings.fhir_url_path == "fhir/R5/"  # a relative path from the config file is harmless
    assert settings.client_id == "p-id" and settings.client_secret == Secret("p-s")
    assert settings.source == "profile 'prod'"
    # A client id on the command line with the profile's secret, the profile chosen in the config
    # file: the secret would go with an id it was not set up with, to... the profile's server.
    with pytest.raises(ConfigError, match="--client-id comes from the command line") as info:
        fs.connection(Flags(client_id="flag-id"))
    assert "p-s" not in str(info.value)


def test_defaults(fs: Layout) -> None:
    resolver = fs.resolver(env={"MEDPLUM_CLIENT_ID": "id", "MEDPLUM_CLIENT_SECRET": "s"})
    settings = resolver.connection()
    assert settings.base_url == DEFAULT_BASE_URL
    assert settings.fhir_url_path == DEFAULT_FHIR_URL_PATH
    assert settings.token_url is None and settings.ca_file is None
    assert settings.timeout == DEFAULT_TIMEOUT
    assert resolver.interval() == DEFAULT_INTERVAL
    assert settings.source == "environment"


def test_empty_environment_values_count_as_unset(fs: Layout) -> None:
    env = {
        "MEDPLUM_BASE_URL": "",
        "MEDPLUM_CLIENT_ID": "id",
        "MEDPLUM_CLIENT_SECRET": "s",
        "BOTMON_INTERVAL": " ",
    }
    resolver = fs.resolver(env=env)
    assert resolver.connection().base_url == DEFAULT_BASE_URL
    assert resolver.interval() == DEFAULT_INTERVAL


def test_profile_chosen_by_flag_beats_environment_and_config(fs: Layout) -> None:
    for name in ("a", "b", "c"):
        fs.profile(
            name, {**CC, "baseUrl": f"https://{name}.example/", "clientId": name, "clientSecret": name}
        )
    fs.config('profile = "c"\n')
    assert fs.connection(Flags(profile="a"), {"BOTMON_PROFILE": "b"}).base_url == "https://a.example/"
    assert fs.connection(env={"BOTMON_PROFILE": "b"}).base_url == "https://b.example/"
    assert fs.connection().base_url == "https://c.example/"


# ------------------------------------------------------------------------------------------------
# Medplum CLI profiles, in their real file format
# ------------------------------------------------------------------------------------------------


def test_profile_in_the_medplum_cli_format(fs: Layout) -> None:
    path = fs.profile(
        "prod",
        {
            "name": "prod",
            "authType": "client-credentials",
            "baseUrl": "https://api.example.org/",
            "fhirUrlPath": "fhir/R4",
            "tokenUrl": "oauth2/token",
            "authorizeUrl": "oauth2/authorize",
            "clientId": "1b2c-client",
            "clientSecret": "a-very-secret-value",
            "scope": "openid",
        },
    )
    raw = json.loads(path.read_text())
    assert isinstance(raw["options"], str)  # JSON-encoded string, as the Medplum CLI writes it
    settings = fs.connection(Flags(profile="prod"))
    assert settings.base_url == "https://api.example.org/"
    assert settings.fhir_base == "https://api.example.org/fhir/R4/"
    assert settings.token_endpoint == "https://api.example.org/oauth2/token"
    assert settings.client_id == "1b2c-client"
    assert settings.client_secret is not None and settings.client_secret.reveal() == "a-very-secret-value"
    assert settings.auth_method == "client-credentials"
    assert settings.source == "profile 'prod'"


def test_basic_profile_uses_basic_auth(fs: Layout) -> None:
    fs.profile(
        "b", {"authType": "basic", "baseUrl": "https://x.example/", "clientId": "i", "clientSecret": "s"}
    )
    settings = fs.connection(Flags(profile="b"))
    assert settings.auth_method == "basic"
    assert settings.basic_header().startswith("Basic ")


def test_authorization_code_profile_uses_the_active_login_token(fs: Layout) -> None:
    fs.profile(
        "dev",
        {"authType": "authorization-code", "baseUrl": "http://localhost:8103/"},
        active_login={
            "accessToken": "eyJ.login.token",
            "refreshToken": "r",
            "profile": {"reference": "Practitioner/1"},
        },
    )
    settings = fs.connection(Flags(profile="dev"))
    assert settings.auth_method == "login"
    assert settings.access_token == Secret("eyJ.login.token")
    assert settings.refresh_token == Secret("r")
    assert settings.client_secret is None and settings.profile == "dev"
    assert settings.login_hint == "medplum login -p dev"


def test_authorization_code_profile_without_a_login_says_to_log_in(fs: Layout) -> None:
    fs.profile("dev", {"authType": "authorization-code", "baseUrl": "https://x.example/"})
    with pytest.raises(ConfigError, match="run 'medplum login -p dev' first") as info:
        fs.connection(Flags(profile="dev"))
    assert "\n" not in str(info.value)
    assert "authorization-code" in str(info.value)


def test_credentials_from_the_environment_never_go_to_the_profiles_server(fs: Layout) -> None:
    """The Medplum CLI would log in with the environment's id and secret at the profile's server."""
    fs.profile(
        "dev",
        {"authType": "authorization-code", "baseUrl": "https://x.example/"},
        active_login={"accessToken": "t"},
    )
    with pytest.raises(ConfigError) as info:
        fs.connection(Flags(profile="dev"), {"MEDPLUM_CLIENT_ID": "i", "MEDPLUM_CLIENT_SECRET": "s3"})
    assert str(info.value).startswith(
        "--profile dev sets the server (https://x.example/) but MEDPLUM_CLIENT_ID/MEDPLUM_CLIENT_SECRET "
        "come from the environment"
    )
    assert "unset MEDPLUM_CLIENT_ID/MEDPLUM_CLIENT_SECRET" in str(info.value)


def test_environment_token_beats_profile_client_credentials(fs: Layout) -> None:
    fs.profile("p", {**CC, "clientId": "i", "clientSecret": "s"})
    settings = fs.connection(Flags(profile="p"), {"MEDPLUM_CLIENT_ACCESS_TOKEN": "tok"})
    assert settings.auth_method == "token" and settings.access_token == Secret("tok")
    assert settings.client_secret is None


def test_a_token_wins_over_client_credentials_as_in_the_medplum_cli(fs: Layout) -> None:
    env = {"MEDPLUM_CLIENT_ID": "i", "MEDPLUM_CLIENT_SECRET": "s", "MEDPLUM_CLIENT_ACCESS_TOKEN": "t"}
    settings = fs.connection(env=env)
    assert settings.auth_method == "token" and settings.client_secret is None


def test_client_credentials_profile_ignores_its_active_login(fs: Layout) -> None:
    fs.profile("p", {**CC, "clientId": "i"}, active_login={"accessToken": "t"})
    with pytest.raises(ConfigError, match="no client secret for client id 'i'"):
        fs.connection(Flags(profile="p"))


def test_the_default_profile_is_read_only_when_no_credential_is_set_elsewhere(fs: Layout) -> None:
    fs.profile(
        "default", {**CC, "baseUrl": "https://default.example/", "clientId": "d", "clientSecret": "ds"}
    )
    assert fs.connection().base_url == "https://default.example/"
    # As in the Medplum CLI, the profile beats the environment for the server...
    settings = fs.connection(env={"MEDPLUM_BASE_URL": "https://other.example/"})
    assert settings.base_url == "https://default.example/" and settings.client_id == "d"
    # ...but credentials named elsewhere mean the default profile is not read at all.
    env = {"MEDPLUM_BASE_URL": "https://other.example/", "MEDPLUM_CLIENT_ACCESS_TOKEN": "t"}
    settings = fs.connection(env=env)
    assert settings.base_url == "https://other.example/" and settings.client_secret is None
    # A server on the command line is not the one the default profile's secret was set up with.
    with pytest.raises(ConfigError, match="default profile"):
        fs.connection(Flags(base_url="https://other.example/"))


def test_missing_profiles(fs: Layout) -> None:
    with pytest.raises(ConfigError, match="profile 'nope' not found"):
        fs.connection(Flags(profile="nope"))
    with pytest.raises(ConfigError, match="no credentials"):
        fs.connection()  # no default profile: fine, but nothing to log in with


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", ".hidden", "", "x" * 80])
def test_profile_names_cannot_escape_the_profile_dir(fs: Layout, name: str) -> None:
    with pytest.raises(ConfigError, match="invalid profile name"):
        fs.connection(Flags(profile=name) if name else None, {"BOTMON_PROFILE": "../x"} if not name else None)


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '["a list"]',
        '{"options": "{broken"}',
        '{"options": "[1]"}',
        '{"options": 5}',
        '{"activeLogin": "x"}',
    ],
)
def test_broken_profiles_are_config_errors(fs: Layout, content: str) -> None:
    path = fs.home / ".medplum" / "bad.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        fs.connection(Flags(profile="bad"))
    assert "bad.json" in str(info.value) and "\n" not in str(info.value)


def test_profile_options_as_an_object_are_accepted(fs: Layout) -> None:
    path = fs.home / ".medplum" / "obj.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"options": {**CC, "clientId": "i", "clientSecret": "s"}}))
    path.chmod(0o600)
    assert fs.connection(Flags(profile="obj")).client_id == "i"


# ------------------------------------------------------------------------------------------------
# Plain HTTP, URLs, TLS
# ------------------------------------------------------------------------------------------------

CREDS = {"MEDPLUM_CLIENT_ID": "id", "MEDPLUM_CLIENT_SECRET": "sekrit"}


@pytest.mark.parametrize(
    "url",
    ["http://example.com/", "http://10.0.0.5:8103/", "http://127.evil.example/", "http://localhost.example/"],
)
def test_plain_http_to_a_remote_host_is_refused(fs: Layout, url: str) -> None:
    env = {**CREDS, "MEDPLUM_BASE_URL": url}
    with pytest.raises(ConfigError, match="refusing plain http://") as info:
        fs.connection(env=env)
    assert "--insecure-http" in str(info.value)
    assert fs.connection(Flags(insecure_http=True), env).base_url == url


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8103/", "http://localhost:8103/", "http://[::1]:8103/", "http://127.0.0.2/"]
)
def test_plain_http_to_loopback_is_allowed(fs: Layout, url: str) -> None:
    assert fs.connection(env={**CREDS, "MEDPLUM_BASE_URL": url}).base_url == url


def test_plain_http_token_url_is_refused_too(fs: Layout) -> None:
    with pytest.raises(ConfigError, match="token URL"):
        fs.connection(Flags(token_url="http://auth.example/token"), CREDS)
    assert fs.connection(Flags(token_url="oauth2/token"), CREDS).token_url == "oauth2/token"


@pytest.mark.parametrize("url", ["ftp://x.example/", "api.medplum.com", "https://", "https://x.example/?a=1"])
def test_malformed_base_urls(fs: Layout, url: str) -> None:
    with pytest.raises(ConfigError):
        fs.connection(Flags(base_url=url), CREDS)


def test_a_url_with_a_password_is_refused_without_echoing_it(fs: Layout) -> None:
    with pytest.raises(ConfigError) as info:
        fs.connection(Flags(base_url="https://user:hunter2@x.example/"), CREDS)
    assert "hunter2" not in str(info.value)


def test_ca_file_must_exist_and_be_a_ca_bundle(fs: Layout) -> None:
    with pytest.raises(ConfigError, match="not found"):
        fs.connection(Flags(ca_file=str(fs.root / "missing.pem")), CREDS)
    junk = fs.secret_file("junk.pem", "not a certificate")
    with pytest.raises(ConfigError, match="cannot load CA file"):
        fs.connection(Flags(ca_file=str(junk)), CREDS)


# ------------------------------------------------------------------------------------------------
# Secrets: files, stdin, permissions, never shown
# ------------------------------------------------------------------------------------------------


def test_secret_file_readable_by_others_warns(fs: Layout) -> None:
    loose = fs.secret_file("loose.secret", "s1\n", mode=0o644)
    resolver = fs.resolver(Flags(client_id="i", client_secret_file=str(loose)))
    assert resolver.connection().client_secret == Secret("s1")
    assert len(resolver.warnings) == 1
    assert "loose.secret" in resolver.warnings[0] and "chmod 600" in resolver.warnings[0]
    assert "s1" not in resolver.warnings[0]
    tight = fs.secret_file("tight.secret", "s2", mode=0o600)
    resolver = fs.resolver(Flags(client_id="i", client_secret_file=str(tight)))
    resolver.connection()
    assert resolver.warnings == []


def test_profile_holding_a_secret_readable_by_others_warns(fs: Layout) -> None:
    fs.profile("p", {**CC, "clientId": "i", "clientSecret": "s"}, mode=0o644)
    resolver = fs.resolver(Flags(profile="p"))
    resolver.connection()
    assert len(resolver.warnings) == 1 and "p.json" in resolver.warnings[0]
    fs.profile("nosecret", {"authType": "authorization-code"}, mode=0o644)
    resolver = fs.resolver(Flags(profile="nosecret"), CREDS)
    resolver.connection()
    assert resolver.warnings == []


def test_secret_from_stdin(fs: Layout) -> None:
    resolver = fs.resolver(Flags(client_id="i", client_secret_file="-"), stdin=io.StringIO("from-stdin\n"))
    assert resolver.connection().client_secret == Secret("from-stdin")


@pytest.mark.parametrize("content", ["", "\n  \n", "two\nlines"])
def test_unusable_secret_files(fs: Layout, content: str) -> None:
    path = fs.secret_file("bad.secret", content)
    with pytest.raises(ConfigError):
        fs.connection(Flags(client_id="i", client_secret_file=str(path)))


def test_missing_secret_file(fs: Layout) -> None:
    with pytest.raises(ConfigError, match="client secret file not found"):
        fs.connection(Flags(client_id="i", client_secret_file=str(fs.root / "nope")))


def test_secrets_never_show_in_repr_or_errors(fs: Layout) -> None:
    env = {"MEDPLUM_CLIENT_ID": "the-id", "MEDPLUM_CLIENT_SECRET": "S3CRET-value"}
    settings = fs.connection(env=env)
    for text in (repr(settings), str(settings), repr(settings.client_secret), f"{settings.client_secret}"):
        assert "S3CRET-value" not in text
    token = fs.connection(env={"MEDPLUM_CLIENT_ACCESS_TOKEN": "TOKEN-value"})
    assert "TOKEN-value" not in repr(token)
    with pytest.raises(ConfigError) as info:
        fs.connection(env={"MEDPLUM_CLIENT_SECRET": "S3CRET-value"})  # no client id
    assert "S3CRET-value" not in str(info.value)
    assert "client id" in str(info.value)


def test_no_credentials_at_all(fs: Layout) -> None:
    with pytest.raises(ConfigError, match="--demo"):
        fs.connection()


# ------------------------------------------------------------------------------------------------
# The config file, interval and timeout
# ------------------------------------------------------------------------------------------------


def test_config_dir_comes_from_botmon_config_dir(tmp_path: Path) -> None:
    assert config_dir_from({"BOTMON_CONFIG_DIR": str(tmp_path)}) == tmp_path
    assert config_dir_from({}).name == "botmon-tui"
    assert Sources.from_os().config_dir == Path(os.environ["BOTMON_CONFIG_DIR"])  # conftest isolation


def test_config_file_is_optional(fs: Layout) -> None:
    config = read_config_file(fs.config_dir)
    assert not config.exists and config.values == {}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("interval = ", "not valid TOML"),
        ('interval = "fast"', "interval must be a number"),
        ("interval = true", "interval must be a number"),
        ("base_url = 5", "base_url must be a string"),
        # The TUI's keymap
        ('keymap = "T"\n', "must be a table of binding id"),
        ('[keymap]\n"events times" = "T"\n', "'events times' is not a binding id"),
        ('[keymap]\n"events.times" = "two words"\n', "'two words' is not a key"),
        ('[keymap]\n"events.times" = ""\n', "'' is not a key"),
        ('[keymap]\n"events.times" = "F5"\n', "'F5' is not a key"),
        ('[keymap]\n"events.times" = 5\n', "must be a key or a list of keys"),
        ('[keymap]\n"events.times" = "\\u001b[2J"\n', "is not a key"),
        # Connections
        ("connection = 5\n", "connection must be tables"),
        ('[[connection]]\ntimeout = "soon"\n', r"\[\[connection\]\] 1: timeout must be a number"),
        ('[[connection]]\nlabel = "a\\u001b[2Jb"\n', "label must be 1 to 40 printable characters"),
        ('[[connection]]\nlabel = "' + "x" * 41 + '"\n', "label must be 1 to 40"),
        ('watch = "prod"\n', "watch must be a list of names"),
    ],
)
def test_bad_config_files(fs: Layout, text: str, match: str) -> None:
    fs.config(text)
    with pytest.raises(ConfigError, match=match) as info:
        fs.resolver(env=CREDS).connections()
    assert "config.toml" in str(info.value) and "\x1b" not in str(info.value)


def test_unknown_config_keys_warn(fs: Layout) -> None:
    fs.config('client_secret = "inline"\ncolour = "blue"\n')
    resolver = fs.resolver(env=CREDS)
    resolver.connection()
    assert len(resolver.warnings) == 2
    assert "client_secret_file" in resolver.warnings[0]
    assert all("inline" not in w for w in resolver.warnings)


@pytest.mark.parametrize(
    ("flags", "env", "match"),
    [
        (Flags(interval=0.2), {}, "--interval"),
        (Flags(interval=float("nan")), {}, "--interval"),
        (Flags(), {"BOTMON_INTERVAL": "soon"}, "BOTMON_INTERVAL"),
        (Flags(), {"BOTMON_INTERVAL": "99999"}, "BOTMON_INTERVAL"),
    ],
)
def test_bad_intervals(fs: Layout, flags: Flags, env: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        fs.resolver(flags, env).interval()


@pytest.mark.parametrize(
    ("flags", "text", "expected"),
    [
        (Flags(), None, True),
        (Flags(), "bell = false\n", False),
        (Flags(), "bell = true\n", True),
        (Flags(bell=False), "bell = true\n", False),
        (Flags(bell=False), None, False),
    ],
)
def test_bell_from_the_flag_then_the_config_file(
    fs: Layout, flags: Flags, text: str | None, expected: bool
) -> None:
    if text is not None:
        fs.config(text)
    assert fs.resolver(flags).bell() is expected


def test_bell_must_be_a_boolean(fs: Layout) -> None:
    fs.config('bell = "no"\n')
    with pytest.raises(ConfigError, match="bell must be true or false"):
        fs.resolver().bell()


def test_bad_timeout(fs: Layout) -> None:
    with pytest.raises(ConfigError, match="timeout"):
        fs.resolver(Flags(timeout=-1)).timeout()
    fs.config("timeout = 0\n")
    with pytest.raises(ConfigError, match="timeout"):
        fs.resolver().timeout()


def test_config_error_is_one_line() -> None:
    assert str(ConfigError("a\nb\x1b[2J  c")) == "a b␛[2J c"


def test_a_secret_pasted_as_the_file_name_is_not_echoed(fs: Layout) -> None:
    with pytest.raises(ConfigError, match="not shown") as info:
        fs.connection(Flags(client_id="i", client_secret_file="d41d8cd98f00b204e9800998ecf8427e"))
    assert "d41d8cd98f00b204e9800998ecf8427e" not in str(info.value)


def test_web_app_links_follow_the_api_host() -> None:
    hosted = ConnectionSettings(base_url="https://api.medplum.com/")
    assert hosted.app_base == "https://app.medplum.com/"
    assert app_link(hosted.app_base, "Bot", "b-1", "event") == "https://app.medplum.com/Bot/b-1/event"
    own = ConnectionSettings(base_url="https://api.example.org/")
    assert app_link(own.app_base, "AuditEvent", "e-1") == "https://app.example.org/AuditEvent/e-1"
    assert ConnectionSettings(base_url="http://localhost:8103/").app_base == "http://localhost:8103/"


# ------------------------------------------------------------------------------------------------
# .env in the working directory (below the real environment, a source of its own)
# ------------------------------------------------------------------------------------------------


def test_dotenv_is_read_below_the_environment(fs: Layout) -> None:
    dotenv = fs.root / ".env"
    dotenv.write_text(
        "# a project's .env\n"
        "export MEDPLUM_BASE_URL='https://dotenv.example/'\n"
        'MEDPLUM_CLIENT_ID="dotenv-id"  \n'
        "MEDPLUM_CLIENT_SECRET=dotenv-secret # trailing comment\n"
        "OTHER=ignored\n"
    )
    dotenv.chmod(0o644)
    sources = Sources(environ={}, home=fs.home, config_dir=fs.config_dir, cwd=fs.root)
    resolver = Resolver(Flags(), sources)
    settings = resolver.connection()
    assert (settings.base_url, settings.client_id) == ("https://dotenv.example/", "dotenv-id")
    assert settings.client_secret == Secret("dotenv-secret")
    assert settings.source == ".env"
    assert len(resolver.warnings) == 1 and "chmod 600" in resolver.warnings[0]  # it holds a secret
    # The real environment wins per field, and a secret from the real environment never goes to
    # the server a .env names (a cloned project's .env cannot redirect a secret you exported).
    env = {"MEDPLUM_CLIENT_ID": "env-id", "MEDPLUM_CLIENT_SECRET": "env-secret"}
    with pytest.raises(ConfigError, match=r"MEDPLUM_BASE_URL in .*\.env sets the server"):
        Resolver(
            Flags(), Sources(environ=env, home=fs.home, config_dir=fs.config_dir, cwd=fs.root)
        ).connection()


def test_show_config_names_each_source_and_masks_secrets(fs: Layout) -> None:
    fs.profile(
        "prod", {**CC, "baseUrl": "https://prod.example/", "clientId": "p-id", "clientSecret": "p-secret"}
    )
    resolver = fs.resolver(Flags(profile="prod"), {"MEDPLUM_BASE_URL": "https://stray.example/"})
    report = resolver.describe()
    assert report.problems == []
    (connection,) = report.connections
    assert connection.label == "prod" and connection.origin == "--profile"
    table = {row.label: (row.value, row.source) for row in connection.rows}
    assert table["base URL"] == ("https://prod.example/", "--profile prod (beats MEDPLUM_BASE_URL)")
    assert table["client secret"][0].startswith("********") and "p-secret" not in str(connection.rows)
    assert table["token endpoint"][0] == "https://prod.example/oauth2/token"
    resolver = fs.resolver(Flags(profile="prod"), {"MEDPLUM_CLIENT_ACCESS_TOKEN": "tok-value"})
    report = resolver.describe()
    (problem,) = report.problems
    assert "MEDPLUM_CLIENT_ACCESS_TOKEN comes from the environment" in problem
    assert "tok-value" not in str(report)


def test_profiles_written_with_mode_0644_warn_once_per_run(fs: Layout) -> None:
    fs.profile(
        "prod", {**CC, "baseUrl": "https://prod.example/", "clientId": "i", "clientSecret": "s"}, mode=0o644
    )
    resolver = fs.resolver(Flags(profile="prod"))
    resolver.connection()
    resolver.connection()
    resolver.describe()
    assert len(resolver.warnings) == 1
    assert resolver.warnings[0].endswith(f"(chmod 600 {fs.home / '.medplum' / 'prod.json'})")


def test_show_config_on_the_command_line_exits_0_without_network(
    isolated_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from botmon_tui.cli import main

    profiles = isolated_home / ".medplum"
    profiles.mkdir()
    options = {**CC, "baseUrl": "https://prod.example/", "clientId": "p-id", "clientSecret": "p-secret-value"}
    (profiles / "prod.json").write_text(json.dumps({"options": json.dumps(options)}))
    (profiles / "prod.json").chmod(0o600)
    monkeypatch.setenv("MEDPLUM_CLIENT_SECRET", "stray-secret-value")
    # -p and --fhir-url are the Medplum CLI's spellings; nothing is contacted (the host does not exist).
    assert main(["-p", "prod", "--fhir-url", "/medplum/fhir/R4", "--show-config"]) == 0
    out, err = capsys.readouterr()
    assert "https://prod.example/medplum/fhir/R4/" in out and "[--profile prod" in out
    assert "p-secret-value" not in out + err and "stray-secret-value" not in out + err
    assert err == ""
    assert main(["bots", "--show-config", "--base-url", "https://other.example/"]) == 2
    out, err = capsys.readouterr()
    assert "https://other.example/  [--base-url]" in out
    assert err.count("\n") == 1 and "a client secret is set (MEDPLUM_CLIENT_SECRET) but no client id" in err


# ------------------------------------------------------------------------------------------------
# The settings table: each setting declared once
# ------------------------------------------------------------------------------------------------


def test_flags_have_one_field_per_setting_with_a_flag() -> None:
    assert {f.name for f in fields(Flags)} == {s.dest for s in SETTINGS if s.flags}


def _argv_setting_every_flag() -> tuple[list[str], dict[str, Any]]:
    """A command line giving every setting's flag, and the Flags it must make."""
    argv: list[str] = []
    expected: dict[str, Any] = {}
    for setting in SETTINGS:
        if not setting.flags:
            continue
        flag = setting.flag or setting.flags[0]
        if setting.kind == "switch":
            argv.append(flag)
            expected[setting.dest] = not setting.default
        elif setting.kind == "seconds":
            argv += [flag, "7"]
            expected[setting.dest] = 7.0
        elif setting.repeat:
            argv += [flag, "a", setting.flags[0], "b"]
            expected[setting.dest] = ("a", "b")
        else:
            argv += [flag, f"v-{setting.name}"]
            expected[setting.dest] = f"v-{setting.name}"
    return argv, expected


def test_the_parser_takes_every_flag_the_table_declares() -> None:
    argv, expected = _argv_setting_every_flag()
    flags = Flags.from_args(build_parser().parse_args(argv))
    assert {name: getattr(flags, name) for name in expected} == expected
    # Not given: Flags' own defaults (None, or False for --insecure-http).
    assert Flags.from_args(build_parser().parse_args([])) == Flags()


def test_repeated_profiles_before_and_after_the_command_add_up() -> None:
    args = build_parser().parse_args(["-p", "prod", "status", "-p", "staging", "--profile", "qa"])
    assert Flags.from_args(args).profiles == ("prod", "staging", "qa")
    assert Flags.from_args(build_parser().parse_args(["bots", "-p", "x"])).profiles == ("x",)
    assert Flags(profile="one").profiles == ("one",) and Flags().profiles == ()


def test_every_config_key_of_the_table_is_read(fs: Layout) -> None:
    """Each key the table gives the config file is taken (no warning), at the top level and in a
    [[connection]] table, with a value of its kind."""
    sample = {
        "url": '"https://x.example/"',
        "url-or-path": '"fhir/R4/"',
        "web-url": '"https://app.x.example/"',
        "path": '"ca.pem"',
        "secret": '"x.secret"',
        "text": '"x"',
        "name": '"x"',
        "names": '["x", "y"]',
        "seconds": "7",
        "switch": "true",
    }
    tables = ("keymap", "grace")
    top = [f"{s.file_key} = {sample[s.kind]}" for s in SETTINGS if s.at_top and s.kind not in tables]
    table = [f"{s.file_key} = {sample[s.kind]}" for s in SETTINGS if s.in_table]
    tail = ["[keymap]", '"a.b" = "c"', "[grace]", '"x" = "10m"']
    fs.config("\n".join([*top, "[[connection]]", *table, *tail]) + "\n")
    config = read_config_file(fs.config_dir)
    assert config.warnings == ()
    assert set(config.values) == {s.file_key for s in SETTINGS if s.at_top}
    assert set(config.connections[0]) == {s.file_key for s in SETTINGS if s.in_table}


def test_show_config_shows_interval_and_timeout_with_their_sources(
    isolated_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's case: BOTMON_INTERVAL=5 --timeout 12 --show-config showed neither."""
    from botmon_tui.cli import main

    monkeypatch.setenv("BOTMON_INTERVAL", "5")
    monkeypatch.setenv("MEDPLUM_CLIENT_ID", "the-id")
    monkeypatch.setenv("MEDPLUM_CLIENT_SECRET", "the-secret-value")
    assert main(["--timeout", "12", "--show-config"]) == 0
    out, err = capsys.readouterr()
    rows = show_config_rows(out)
    assert rows["interval"] == ("5", "BOTMON_INTERVAL")
    assert rows["timeout"] == ("12", "--timeout")
    assert rows["client id"] == ("the-id", "MEDPLUM_CLIENT_ID")
    assert rows["insecure http"] == ("off", "default")
    assert "the-secret-value" not in out + err and err == ""
    # Every setting has its line, whether it is set or not.
    assert {s.label for s in SETTINGS if s.name not in ("profile", "label")} <= set(rows)


def show_config_rows(out: str) -> dict[str, tuple[str, str]]:
    """``--show-config``'s lines: label -> (value, source), the last of each label."""
    rows: dict[str, tuple[str, str]] = {}
    for line in out.splitlines():
        label, _, rest = line.strip().partition("  ")
        value, _, source = rest.strip().rpartition("  [")
        if source.endswith("]") and value:
            rows[label] = (value, source[:-1])
    return rows


def test_show_config_names_every_kind_of_source(fs: Layout) -> None:
    """flag, environment, .env, profile, config file and default, each on its own setting."""
    fs.profile("prod", {**CC, "baseUrl": "https://prod.example/", "clientId": "p-id", "clientSecret": "p-s"})
    (fs.root / ".env").write_text("MEDPLUM_TOKEN_URL=oauth2/token\n")
    fs.config('app_url = "https://app.prod.example/"\n')
    env = {"MEDPLUM_FHIR_URL_PATH": "fhir/R4/"}
    sources = Sources(environ=env, home=fs.home, config_dir=fs.config_dir, cwd=fs.root)
    report = Resolver(Flags(profile="prod", timeout=12), sources).describe()
    assert report.problems == []
    rows = {row.label: (row.value, row.source) for row in report.connections[0].rows}
    assert rows["timeout"] == ("12", "--timeout")
    assert rows["FHIR path"] == ("fhir/R4/", "MEDPLUM_FHIR_URL_PATH")
    assert rows["token URL"] == ("oauth2/token", f"MEDPLUM_TOKEN_URL in {fs.root / '.env'}")
    assert rows["base URL"] == ("https://prod.example/", "--profile prod")
    assert rows["web app URL"] == (
        "https://app.prod.example/",
        f"app_url in the config file {fs.config_dir / 'config.toml'}",
    )
    assert rows["insecure http"] == ("off", "default")
    assert rows["client secret"] == ("******** (3 characters)", "--profile prod")
    settings = {row.label: row for row in report.settings}
    assert settings["interval"].value == "10" and settings["interval"].source == "default"
    assert settings["config file"].source == "found"


# ------------------------------------------------------------------------------------------------
# The TUI's keymap
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ('[keymap]\n"events.times" = "T"\n', {"events.times": "T"}),
        # TOML's dotted keys and nested tables name the same ids; a list or commas give several keys.
        (
            '[keymap]\nevents.times = "T"\npoll.pause = ["space", "p"]\n',
            {"events.times": "T", "poll.pause": "space,p"},
        ),
        ('[keymap.events]\ntimes = "ctrl+t, f5"\n', {"events.times": "ctrl+t,f5"}),
        ('[keymap]\n"app.help" = "?"\n', {"app.help": "?"}),
    ],
)
def test_keymap_from_the_config_file(fs: Layout, text: str, expected: dict[str, str]) -> None:
    fs.config(text)
    assert fs.resolver().keymap() == expected


# ------------------------------------------------------------------------------------------------
# Several connections (the two-connection precedence table is in test_precedence.py)
# ------------------------------------------------------------------------------------------------


def _profiles(fs: Layout, *names: str) -> None:
    for name in names:
        fs.profile(
            name,
            {
                **CC,
                "baseUrl": f"https://{name}.example/",
                "clientId": f"{name}-id",
                "clientSecret": f"{name}-s",
            },
        )


def _connection_table(label: str | None, host: str, secret: str, **more: str) -> str:
    lines = ["[[connection]]"] + ([f'label = "{label}"'] if label else [])
    lines += [
        f'base_url = "https://{host}/"',
        f'client_id = "{secret}-id"',
        f'client_secret_file = "{secret}.secret"',
    ]
    lines += [f'{key} = "{value}"' for key, value in more.items()]
    return "\n".join(lines) + "\n"


def _secret_in_config_dir(fs: Layout, name: str) -> None:
    fs.config_dir.mkdir(parents=True, exist_ok=True)
    (fs.config_dir / f"{name}.secret").write_text(f"{name}-secret\n")
    (fs.config_dir / f"{name}.secret").chmod(0o600)


def test_repeated_profiles_are_connections_of_their_own(fs: Layout) -> None:
    _profiles(fs, "prod", "staging")
    stray = {"MEDPLUM_BASE_URL": "https://stray.example/", "MEDPLUM_CLIENT_SECRET": "stray"}
    resolver = fs.resolver(Flags(profile=("prod", "staging")), stray)
    connections = resolver.connections()
    assert [(c.label, c.settings.base_url, c.settings.client_id) for c in connections] == [
        ("prod", "https://prod.example/", "prod-id"),
        ("staging", "https://staging.example/", "staging-id"),
    ]
    assert [c.settings.client_secret for c in connections] == [Secret("prod-s"), Secret("staging-s")]
    assert [c.origin for c in connections] == ["--profile", "--profile"]
    assert {row.label for row in connections[0].rows} >= {"base URL", "client secret", "timeout"}
    with pytest.raises(ConfigError, match=r"2 are watched \(prod, staging\): choose one with -p NAME"):
        resolver.connection()


def test_watch_names_profiles_and_connection_tables(fs: Layout) -> None:
    _profiles(fs, "prod")
    _secret_in_config_dir(fs, "a")
    _secret_in_config_dir(fs, "b")
    tables = _connection_table("customer-a", "a.example", "a") + _connection_table(
        "customer-b", "b.example", "b"
    )
    fs.config('watch = ["prod", "customer-b"]\n' + tables)
    connections = fs.resolver().connections()
    assert [(c.label, c.settings.base_url) for c in connections] == [
        ("prod", "https://prod.example/"),
        ("customer-b", "https://b.example/"),
    ]
    assert connections[1].settings.client_secret == Secret("b-secret")  # relative to the config dir
    assert connections[1].origin == "watch in the config file; [[connection]] 2 of the config file"
    assert connections[1].settings.source == "[[connection]] 'customer-b'"
    # Without watch, every [[connection]] is watched.
    fs.config(tables)
    assert [c.label for c in fs.resolver().connections()] == ["customer-a", "customer-b"]
    # -p names a [[connection]] by its label before a profile of that name; BOTMON_PROFILE too.
    assert [c.label for c in fs.resolver(Flags(profile="customer-a")).connections()] == ["customer-a"]
    assert fs.connection(env={"BOTMON_PROFILE": "customer-b"}).base_url == "https://b.example/"
    assert fs.connection(Flags(profile="prod")).base_url == "https://prod.example/"


def test_a_connection_without_label_or_profile_is_labelled_by_its_host(fs: Layout) -> None:
    _secret_in_config_dir(fs, "a")
    _secret_in_config_dir(fs, "b")
    fs.config(
        _connection_table(None, "medplum.example.org:8443", "a")
        + _connection_table(None, "api.medplum.com", "b")
    )
    assert [c.label for c in fs.resolver().connections()] == ["medplum.example.org:8443", "api.medplum.com"]
    # One connection made by the flags and the environment: its host too.
    env = {
        "MEDPLUM_BASE_URL": "http://127.0.0.1:8103/",
        "MEDPLUM_CLIENT_ID": "i",
        "MEDPLUM_CLIENT_SECRET": "s",
    }
    (connection,) = Resolver(Flags(), Sources(environ=env, home=fs.home, config_dir=fs.root)).connections()
    assert connection.label == "127.0.0.1:8103"
    assert connection.origin == "flags, environment, .env and config file"


def test_two_connections_with_one_label_are_refused(fs: Layout) -> None:
    _secret_in_config_dir(fs, "a")
    _secret_in_config_dir(fs, "b")
    # Two projects on the hosted service: the same host, so they need labels.
    fs.config(
        _connection_table(None, "api.medplum.com", "a") + _connection_table(None, "api.medplum.com", "b")
    )
    with pytest.raises(ConfigError, match=r"two connections are labelled 'api\.medplum\.com'") as info:
        fs.resolver().connections()
    assert "[[connection]] 1 of the config file; [[connection]] 2 of the config file" in str(info.value)
    assert fs.resolver().describe().problems == [str(info.value)]
    _profiles(fs, "prod")
    with pytest.raises(ConfigError, match=r"labelled 'prod' \(both from --profile\)"):
        fs.resolver(Flags(profile=("prod", "prod"))).connections()
    fs.config(_connection_table("PROD", "a.example", "a"))  # letter case aside
    with pytest.raises(ConfigError, match="two connections are labelled 'prod'"):
        fs.resolver(Flags(profile=("PROD", "prod"))).connections()


def test_a_connection_table_may_name_a_profile_and_set_what_it_lacks(fs: Layout) -> None:
    _profiles(fs, "prod")
    fs.config('[[connection]]\nlabel = "Production"\nprofile = "prod"\napp_url = "https://ehr.example/"\n')
    (connection,) = fs.resolver().connections()
    assert connection.label == "Production"
    assert (connection.settings.base_url, connection.settings.client_id) == (
        "https://prod.example/",
        "prod-id",
    )
    assert connection.settings.app_base == "https://ehr.example/"
    # Its own server with the profile's credentials: set together, as -p NAME --base-url URL is.
    fs.config('[[connection]]\nprofile = "prod"\nbase_url = "https://tunnel.example/"\n')
    (connection,) = fs.resolver().connections()
    assert (connection.label, connection.settings.base_url) == ("prod", "https://tunnel.example/")
    # ...but not with a server from the command line.
    with pytest.raises(ConfigError, match="--base-url sets the server") as info:
        fs.resolver(Flags(profile="prod", base_url="https://other.example/")).connections()
    assert "profile 'prod' (from [[connection]] 1 of the config file" in str(info.value)
    fs.config('[[connection]]\nprofile = "../x"\n')
    with pytest.raises(ConfigError, match=r"invalid profile name '\.\./x'"):
        fs.resolver().connections()
    # A label is any short line of text, and -p takes it.
    fs.config('[[connection]]\nlabel = "Production EU"\nprofile = "prod"\n')
    (connection,) = fs.resolver(Flags(profile="Production EU")).connections()
    assert (connection.label, connection.origin) == (
        "Production EU",
        "--profile; [[connection]] 1 of the config file",
    )


def test_a_flag_for_one_connection_needs_exactly_one(fs: Layout) -> None:
    _profiles(fs, "prod", "staging")
    for flags in (
        Flags(profile=("prod", "staging"), base_url="https://x.example/"),
        Flags(profile=("prod", "staging"), app_url="https://app.example/"),
        Flags(profile=("prod", "staging"), client_id="i"),
    ):
        with pytest.raises(ConfigError, match=r"sets one connection's .*, and -p is given 2 times"):
            fs.resolver(flags).connections()
    fs.config('watch = ["prod", "staging"]\n')
    with pytest.raises(ConfigError, match=r"2 connections are watched \(watch in the config file\)"):
        fs.resolver(Flags(app_url="https://app.example/")).connections()
    # --timeout, --ca-file and --insecure-http apply to each; a [[connection]] may set its own timeout.
    ca = fs.ca_file("ca.pem")
    flags = Flags(profile=("prod", "staging"), timeout=7, ca_file=str(ca), insecure_http=True)
    assert [(c.settings.timeout, c.settings.ca_file) for c in fs.resolver(flags).connections()] == [
        (7, str(ca)),
        (7, str(ca)),
    ]
    fs.config(
        'timeout = 20\n[[connection]]\nprofile = "prod"\ntimeout = 5\n[[connection]]\nprofile = "staging"\n'
    )
    assert [c.settings.timeout for c in fs.resolver().connections()] == [5, 20]


def test_server_flags_beside_a_watch_list_make_one_connection(fs: Layout) -> None:
    _profiles(fs, "prod", "staging")
    fs.config('watch = ["prod", "staging"]\n')
    secret = fs.secret_file("flag.secret", "flag-secret")
    flags = Flags(base_url="https://own.example/", client_id="own", client_secret_file=str(secret))
    report = fs.resolver(flags).describe()
    assert [c.label for c in report.connections] == ["own.example"]
    watch = next(row for row in report.settings if row.label == "watch")
    assert watch.source.endswith("(not used: the server or credential flags make one connection)")
    # BOTMON_PROFILE beats the config file's watch list, as it beats its profile.
    assert [c.label for c in fs.resolver(env={"BOTMON_PROFILE": "staging"}).connections()] == ["staging"]
    fs.config('watch = ["prod"]\nprofile = "staging"\n')
    with pytest.raises(ConfigError, match="sets both profile and watch"):
        fs.resolver().connections()


def test_a_connection_that_cannot_be_resolved_is_named_by_its_label(fs: Layout) -> None:
    _profiles(fs, "prod")
    resolver = fs.resolver(Flags(profile=("prod", "nope")))
    with pytest.raises(ConfigError, match=r"^nope: Medplum profile 'nope' not found"):
        resolver.connections()
    report = resolver.describe()
    assert [c.problem is None for c in report.connections] == [True, False]
    assert report.problems[0].startswith("nope: Medplum profile 'nope' not found")


def test_unknown_keys_of_a_connection_table_warn(fs: Layout) -> None:
    _secret_in_config_dir(fs, "a")
    fs.config(_connection_table("a", "a.example", "a", client_secret="inline", interval="5"))
    resolver = fs.resolver()
    resolver.connections()
    assert resolver.warnings == [
        f"config file {fs.config_dir / 'config.toml'}: [[connection]] 1: unknown key 'client_secret' "
        "ignored (use client_secret_file)",
        f"config file {fs.config_dir / 'config.toml'}: [[connection]] 1: unknown key 'interval' ignored",
    ]


def test_show_config_with_two_connections_shows_each_under_its_label(
    isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from botmon_tui.cli import main

    for name in ("prod", "staging"):
        options = {
            **CC,
            "baseUrl": f"https://{name}.example/",
            "clientId": f"{name}-id",
            "clientSecret": f"{name}-secret-value",
        }
        write_profile(isolated_home, name, options)
    assert main(["-p", "prod", "status", "-p", "staging", "--show-config"]) == 0
    out, err = capsys.readouterr()
    assert "secret-value" not in out + err and err == ""
    blocks = out.split("\n\n")
    assert [block.splitlines()[0] for block in blocks[1:]] == ["prod  [--profile]", "staging  [--profile]"]
    assert "  base URL" in blocks[2] and "https://staging.example/  [--profile staging]" in blocks[2]
    # A problem in one: the other is still shown, the problem is named by its label, exit 2.
    assert main(["-p", "prod", "-p", "nope", "--show-config"]) == 2
    out, err = capsys.readouterr()
    assert "https://prod.example/  [--profile prod]" in out
    assert err.startswith("botmon-tui: error: nope: Medplum profile 'nope' not found")


def test_the_grace_table_takes_durations_by_bot_name_or_id(fs: Layout) -> None:
    """``[grace]``: a scheduled bot's grace period before it is late (issue #17), by name or id."""
    fs.config('[grace]\n"fax-inbox-poller" = "10m"\n"abc-123" = 90\nnightly = "1.5h"\n')
    config = read_config_file(fs.config_dir)
    assert config.values["grace"] == {"fax-inbox-poller": 600.0, "abc-123": 90.0, "nightly": 5400.0}
    for wrong in ('"soon"', '"-5m"', '"31d"', "true"):
        fs.config(f"[grace]\nx = {wrong}\n")
        with pytest.raises(ConfigError, match="is not a duration"):
            read_config_file(fs.config_dir)
    fs.config('grace = "10m"\n')
    with pytest.raises(ConfigError, match="must be a table of bot name or id = duration"):
        read_config_file(fs.config_dir)


def test_show_config_shows_the_grace_table(
    isolated_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from botmon_tui.cli.main import main

    config_dir = isolated_home / "cfg"
    config_dir.mkdir()
    (config_dir / "config.toml").write_text('[grace]\n"fax-inbox-poller" = "10m"\n')
    monkeypatch.setenv("BOTMON_CONFIG_DIR", str(config_dir))
    main(["--base-url", "https://api.example.org/", "--show-config"])
    out = capsys.readouterr().out
    grace = next(line for line in out.splitlines() if line.strip().startswith("grace"))
    assert "fax-inbox-poller=600s" in grace and "config file" in grace
