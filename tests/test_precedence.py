"""The precedence table: which server each mix of flags, profile, environment and config file
reaches, or the one-line refusal, for the base URL and the credentials (client id + secret).

Each row names the layer that wins the base URL and the layer that wins the credentials (the
highest layer setting them: flags > profile > environment > config file). Every combination of the
layers below the winners setting or not setting each field is resolved too: they must never change
the answer. The rows that reach a server are then run over HTTP against two demo servers, the
winner's and a decoy named by every other layer, checking which one received the token request.

Then two connections (``-p prod -p staging``) among stray ``MEDPLUM_*`` variables, a ``.env`` and a
config file: each resolves as it would alone, never with another owner's server or credentials,
and over HTTP each token request reaches only its own connection's server.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from botmon_tui.config import ConfigError, Flags, Resolver, Sources
from botmon_tui.demo import DemoConfig, DemoServer
from botmon_tui.medplum.auth import DEFAULT_BASE_URL, ConnectionSettings
from botmon_tui.medplum.client import MedplumClient

LAYERS = ("F", "P", "E", "C")  # flags, profile, environment, config file: highest first
NAMES = {"F": "flags", "P": "profile", "E": "env", "C": "file"}
#: How each layer names the server in a refusal.
SERVER_WORDS = {
    "F": "--base-url",
    "P": "--profile prod",
    "E": "MEDPLUM_BASE_URL",
    "C": "base_url in the config",
}
#: How each layer names the credentials in a refusal.
CREDENTIAL_WORDS = {
    "F": "--client-id/--client-secret-file come from the command line",
    "P": "the credentials come from --profile prod",
    "E": "MEDPLUM_CLIENT_ID/MEDPLUM_CLIENT_SECRET come from the environment",
    "C": "client_id/client_secret_file come from the config file",
}

# (credentials won by, base URL won by) -> the server reached ("F", "P", "E", "C", "default"), or
# "refused", or "no credentials". "-" = no layer sets it. The profile is chosen with -p.
TABLE: dict[tuple[str, str], str] = {
    # credentials from the command line: any server named on the command line, or the default
    ("F", "F"): "F",
    ("F", "P"): "P",  # --client-id/--client-secret-file with -p prod: both on the command line
    ("F", "E"): "refused",
    ("F", "C"): "refused",
    ("F", "-"): "default",
    # credentials from the profile
    ("P", "F"): "F",  # -p prod --base-url URL: both on the command line
    ("P", "P"): "P",
    ("P", "E"): "refused",  # the profile names no server; MEDPLUM_BASE_URL is stray
    ("P", "C"): "refused",
    ("P", "-"): "default",
    # credentials from the environment
    ("E", "F"): "refused",
    ("E", "P"): "refused",  # the case: -p prod with MEDPLUM_CLIENT_ID/SECRET exported
    ("E", "E"): "E",
    ("E", "C"): "refused",
    ("E", "-"): "default",
    # credentials from the config file
    ("C", "F"): "refused",
    ("C", "P"): "refused",
    ("C", "E"): "refused",
    ("C", "C"): "C",
    ("C", "-"): "default",
    # no credentials anywhere
    ("-", "F"): "no credentials",
    ("-", "P"): "no credentials",
    ("-", "E"): "no credentials",
    ("-", "C"): "no credentials",
    ("-", "-"): "no credentials",
}

#: With the profile chosen by BOTMON_PROFILE or the config file instead of -p, the two command-line
#: mixes are refused too (the profile was not named on the command line); all else is the same.
NOT_ON_THE_COMMAND_LINE = {("F", "P"): "refused", ("P", "F"): "refused"}


@dataclass
class Mix:
    """Which layers set the base URL and which set the credentials."""

    base: set[str] = field(default_factory=set)
    creds: set[str] = field(default_factory=set)
    chooser: str = "-p"  # how the profile is chosen: -p, BOTMON_PROFILE or config

    def label(self) -> str:
        return f"base={''.join(sorted(self.base)) or '-'} creds={''.join(sorted(self.creds)) or '-'}"


def winner(layers: set[str]) -> str:
    return next((layer for layer in LAYERS if layer in layers), "-")


def expansions(cred_winner: str, base_winner: str) -> Iterator[Mix]:
    """Every mix whose winners are these: each layer below a winner sets the field or not."""

    def options(win: str) -> list[set[str]]:
        below = [layer for layer in LAYERS if win != "-" and LAYERS.index(layer) > LAYERS.index(win)]
        base = {win} if win != "-" else set()
        return [
            base | {layer for layer, on in zip(below, flags, strict=True) if on}
            for flags in itertools.product((False, True), repeat=len(below))
        ]

    for creds in options(cred_winner):
        for base in options(base_winner):
            yield Mix(base=base, creds=creds)


def url_of(layer: str) -> str:
    return f"https://{NAMES[layer]}.example/"


def build(
    root: Path, mix: Mix, urls: dict[str, str] | None = None, creds: dict[str, tuple[str, str]] | None = None
) -> Resolver:
    """A machine where the layers of ``mix`` set the base URL (``urls``, default
    ``https://<layer>.example/``) and the client id + secret (``creds``, default ``<layer>-id``)."""
    home, config_dir = root / "home", root / "config"
    (home / ".medplum").mkdir(parents=True, exist_ok=True)
    config_dir.mkdir(exist_ok=True)

    def url(layer: str) -> str:
        return (urls or {}).get(layer, url_of(layer))

    def cred(layer: str) -> tuple[str, str]:
        return (creds or {}).get(layer, (f"{NAMES[layer]}-id", f"{NAMES[layer]}-secret"))

    flags = Flags(insecure_http=True)
    if "F" in mix.base:
        flags = Flags(base_url=url("F"), insecure_http=True)
    if "F" in mix.creds:
        secret = root / "flags.secret"
        secret.write_text(cred("F")[1])
        secret.chmod(0o600)
        flags = Flags(
            base_url=flags.base_url,
            client_id=cred("F")[0],
            client_secret_file=str(secret),
            insecure_http=True,
        )
    env: dict[str, str] = {}
    lines: list[str] = []
    if "P" in mix.base or "P" in mix.creds:
        options = {"authType": "client-credentials"}
        if "P" in mix.base:
            options["baseUrl"] = url("P")
        if "P" in mix.creds:
            options["clientId"], options["clientSecret"] = cred("P")
        path = home / ".medplum" / "prod.json"
        path.write_text(json.dumps({"options": json.dumps(options)}))
        path.chmod(0o600)
        if mix.chooser == "-p":
            flags = Flags(**{**flags.__dict__, "profile": "prod"})
        elif mix.chooser == "BOTMON_PROFILE":
            env["BOTMON_PROFILE"] = "prod"
        else:
            lines.append('profile = "prod"')
    if "E" in mix.base:
        env["MEDPLUM_BASE_URL"] = url("E")
    if "E" in mix.creds:
        env["MEDPLUM_CLIENT_ID"], env["MEDPLUM_CLIENT_SECRET"] = cred("E")
    if "C" in mix.base:
        lines.append(f'base_url = "{url("C")}"')
    if "C" in mix.creds:
        secret = config_dir / "file.secret"
        secret.write_text(cred("C")[1])
        secret.chmod(0o600)
        lines += [f'client_id = "{cred("C")[0]}"', 'client_secret_file = "file.secret"']
    (config_dir / "config.toml").write_text("\n".join(lines) + "\n")
    return Resolver(flags, Sources(environ=env, home=home, config_dir=config_dir, cwd=root))


def expected_for(cred_winner: str, base_winner: str, chooser: str) -> str:
    if chooser != "-p" and (cred_winner, base_winner) in NOT_ON_THE_COMMAND_LINE:
        return NOT_ON_THE_COMMAND_LINE[(cred_winner, base_winner)]
    return TABLE[(cred_winner, base_winner)]


def check(resolver: Resolver, cred_winner: str, base_winner: str, expected: str, label: str) -> None:
    if expected in ("refused", "no credentials"):
        with pytest.raises(ConfigError) as info:
            resolver.connection()
        message = str(info.value)
        assert "\n" not in message
        if expected == "no credentials":
            assert message.startswith("no credentials"), (label, message)
        else:
            assert SERVER_WORDS[base_winner] in message or "profile 'prod'" in message, (label, message)
            assert CREDENTIAL_WORDS[cred_winner].split(" come")[0] in message, (label, message)
            assert "give both on the command line" in message, (label, message)
            assert not any(f"{name}-secret" in message for name in NAMES.values()), label  # no secret
        return
    settings = resolver.connection()
    server = DEFAULT_BASE_URL if expected == "default" else url_of(expected)
    assert settings.base_url == server, label
    assert settings.client_id == f"{NAMES[cred_winner]}-id", label
    assert settings.client_secret is not None
    assert settings.client_secret.reveal() == f"{NAMES[cred_winner]}-secret", label


CHOOSERS = ("-p", "BOTMON_PROFILE", "config")


@pytest.mark.parametrize("chooser", CHOOSERS)
@pytest.mark.parametrize(("cred_winner", "base_winner"), sorted(TABLE), ids=lambda v: str(v))
def test_every_mix_resolves_as_the_table_says(
    tmp_path: Path, cred_winner: str, base_winner: str, chooser: str
) -> None:
    expected = expected_for(cred_winner, base_winner, chooser)
    count = 0
    for number, mix in enumerate(expansions(cred_winner, base_winner)):
        mix.chooser = chooser
        resolver = build(tmp_path / str(number), mix)
        check(resolver, cred_winner, base_winner, expected, f"{mix.label()} chooser={chooser}")
        count += 1
    assert count >= 1


def test_the_table_covers_every_combination() -> None:
    """4 layers, each setting the base URL or not and the credentials or not: 256 mixes, each
    reached from exactly one row."""
    seen = set()
    for cred_winner, base_winner in TABLE:
        for mix in expansions(cred_winner, base_winner):
            key = (frozenset(mix.base), frozenset(mix.creds))
            assert key not in seen
            seen.add(key)
    assert len(seen) == 2**8


# ------------------------------------------------------------------------------------------------
# Over HTTP: the winner's server gets the token request, the decoy nothing
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def decoy() -> Iterator[DemoServer]:
    with DemoServer(DemoConfig(live=False, history_days=0.05, seed=3)) as server:
        yield server


HTTP_ROWS = [(c, b, ch) for (c, b) in sorted(TABLE) for ch in CHOOSERS if b != "-" and c != "-"]


@pytest.mark.parametrize(("cred_winner", "base_winner", "chooser"), HTTP_ROWS, ids=lambda v: str(v))
async def test_the_token_request_reaches_only_the_winners_server(
    tmp_path: Path, decoy: DemoServer, cred_winner: str, base_winner: str, chooser: str
) -> None:
    """Every layer sets everything; the base URL winner names the target server, every other layer
    names the decoy, whose own credentials every other layer holds."""
    expected = expected_for(cred_winner, base_winner, chooser)
    winner_creds = (f"{NAMES[cred_winner]}-id", f"{NAMES[cred_winner]}-secret")
    cfg = DemoConfig(
        live=False, history_days=0.05, seed=4, client_id=winner_creds[0], client_secret=winner_creds[1]
    )
    with DemoServer(cfg) as target:
        below_base = {layer for layer in LAYERS if LAYERS.index(layer) > LAYERS.index(base_winner)}
        below_creds = {layer for layer in LAYERS if LAYERS.index(layer) > LAYERS.index(cred_winner)}
        mix = Mix(base={base_winner} | below_base, creds={cred_winner} | below_creds, chooser=chooser)
        urls = {layer: (target.base_url if layer == base_winner else decoy.base_url) for layer in LAYERS}
        creds = {
            layer: (winner_creds if layer == cred_winner else (decoy.client_id, decoy.client_secret))
            for layer in LAYERS
        }
        resolver = build(tmp_path, mix, urls, creds)
        decoy.reset_requests()
        if expected == "refused":
            with pytest.raises(ConfigError):
                resolver.connection()
            assert target.requests == [] and decoy.requests == []
            return
        settings = resolver.connection()
        async with MedplumClient(settings) as client:
            bots = await client.list_bots()
        assert bots.resources
        assert [r.path for r in target.requests if r.method == "POST"] == ["/oauth2/token"]
        assert decoy.requests == []


# ------------------------------------------------------------------------------------------------
# Two connections: -p prod -p staging, with stray MEDPLUM_* variables, a .env and a config file
# ------------------------------------------------------------------------------------------------

#: What a profile holds: its server and credentials, its credentials, its server, or neither.
HOLDS = ("full", "creds", "server", "none")
#: What a stray layer (the environment, .env, the config file) sets.
STRAYS = ("-", "server", "creds", "both")
#: The owners of servers and credentials: each names its own (https://<owner>.example/, <owner>-id).
OWNERS = ("prod", "staging", "env", "dotenv", "file")

# (prod holds, staging holds, environment, .env, config file) -> (prod's outcome, staging's outcome).
# An outcome is (whose server, whose credentials) -- "default" for https://api.medplum.com/ -- or
# "refused" or "no credentials". Each connection resolves as it would alone (-p NAME), whatever
# the other holds: test_two_connections_resolve_as_each_alone checks every combination.
TABLE2: dict[tuple[str, str, str, str, str], tuple[object, object]] = {
    # Both profiles complete: every stray layer is beaten, field by field.
    ("full", "full", "both", "both", "both"): (("prod", "prod"), ("staging", "staging")),
    ("full", "full", "-", "-", "-"): (("prod", "prod"), ("staging", "staging")),
    # A stray server never gets staging's credentials, nor staging's server the stray credentials;
    # prod is not affected.
    ("full", "creds", "server", "-", "-"): (("prod", "prod"), "refused"),
    ("full", "creds", "-", "server", "-"): (("prod", "prod"), "refused"),
    ("full", "creds", "-", "-", "server"): (("prod", "prod"), "refused"),
    ("full", "server", "creds", "-", "-"): (("prod", "prod"), "refused"),
    ("full", "server", "-", "creds", "-"): (("prod", "prod"), "refused"),
    ("full", "server", "-", "-", "creds"): (("prod", "prod"), "refused"),
    # Credentials without a server anywhere: Medplum's default server, as the Medplum CLI does.
    ("creds", "creds", "-", "-", "-"): (("default", "prod"), ("default", "staging")),
    # A profile that holds neither: the stray layer's own server and credentials (as -p staging
    # alone), or nothing to log in with.
    ("full", "none", "both", "-", "-"): (("prod", "prod"), ("env", "env")),
    ("full", "none", "-", "-", "both"): (("prod", "prod"), ("file", "file")),
    ("full", "none", "-", "-", "-"): (("prod", "prod"), "no credentials"),
    # The environment's server with .env's credentials: refused for whoever would use them.
    ("none", "none", "server", "creds", "-"): ("refused", "refused"),
}


def owner_url(owner: str) -> str:
    return f"https://{owner}.example/"


def build_two(
    root: Path,
    holds: tuple[str, ...],
    strays: tuple[str, ...],
    urls: dict[str, str] | None = None,
    creds: dict[str, tuple[str, str]] | None = None,
) -> Sources:
    """A machine with the profiles prod and staging holding ``holds``, and the environment, .env and
    config file setting ``strays`` (each its owner's server and credentials unless ``urls``/``creds``).
    Its directories are named by what they hold, so that machines can share them."""

    def url(owner: str) -> str:
        return (urls or {}).get(owner, owner_url(owner))

    def cred(owner: str) -> tuple[str, str]:
        return (creds or {}).get(owner, (f"{owner}-id", f"{owner}-secret"))

    def sets(what: str, server: str, credentials: list[str]) -> list[str]:
        return ([server] if what in ("server", "both") else []) + (
            credentials if what in ("creds", "both") else []
        )

    home = root / f"home-{'-'.join(holds)}"
    if not home.exists():
        (home / ".medplum").mkdir(parents=True)
        for name, held in zip(("prod", "staging"), holds, strict=True):
            options = {"authType": "client-credentials"}
            if held in ("full", "server"):
                options["baseUrl"] = url(name)
            if held in ("full", "creds"):
                options["clientId"], options["clientSecret"] = cred(name)
            path = home / ".medplum" / f"{name}.json"
            path.write_text(json.dumps({"options": json.dumps(options)}))
            path.chmod(0o600)
    env_sets, dotenv_sets, file_sets = strays
    environ: dict[str, str] = {}
    if env_sets in ("server", "both"):
        environ["MEDPLUM_BASE_URL"] = url("env")
    if env_sets in ("creds", "both"):
        environ["MEDPLUM_CLIENT_ID"], environ["MEDPLUM_CLIENT_SECRET"] = cred("env")
    cwd = root / f"dotenv-{dotenv_sets}"
    if not cwd.exists():
        cwd.mkdir()
        dotenv = sets(
            dotenv_sets,
            f"MEDPLUM_BASE_URL={url('dotenv')}",
            [f"MEDPLUM_CLIENT_ID={cred('dotenv')[0]}", f"MEDPLUM_CLIENT_SECRET={cred('dotenv')[1]}"],
        )
        (cwd / ".env").write_text("\n".join(dotenv) + "\n")
        (cwd / ".env").chmod(0o600)
    config_dir = root / f"config-{file_sets}"
    if not config_dir.exists():
        config_dir.mkdir()
        (config_dir / "file.secret").write_text(cred("file")[1])
        (config_dir / "file.secret").chmod(0o600)
        lines = sets(
            file_sets,
            f'base_url = "{url("file")}"',
            [f'client_id = "{cred("file")[0]}"', 'client_secret_file = "file.secret"'],
        )
        (config_dir / "config.toml").write_text("\n".join(lines) + "\n")
    return Sources(environ=environ, home=home, config_dir=config_dir, cwd=cwd)


def outcome_of(settings: ConnectionSettings) -> tuple[str, str]:
    """(whose server, whose credentials) of resolved settings."""
    server = next((o for o in OWNERS if settings.base_url == owner_url(o)), None)
    if settings.base_url == DEFAULT_BASE_URL:
        server = "default"
    credentials = (settings.client_id or "").removesuffix("-id")
    assert settings.client_secret is not None
    assert settings.client_secret.reveal() == f"{credentials}-secret"
    assert server is not None, settings.base_url
    return server, credentials


def alone(sources: Sources, name: str) -> object:
    """The outcome of ``-p NAME`` alone: (server, credentials), or the refusal's first words."""
    try:
        return outcome_of(Resolver(Flags(profile=name, insecure_http=True), sources).connection())
    except ConfigError as exc:
        return "no credentials" if str(exc).startswith("no credentials") else "refused"


@pytest.mark.parametrize(("key", "expected"), sorted(TABLE2.items()), ids=lambda v: str(v))
def test_two_connections_resolve_as_the_table_says(
    tmp_path: Path, key: tuple[str, str, str, str, str], expected: tuple[object, object]
) -> None:
    sources = build_two(tmp_path, key[:2], key[2:])
    assert (alone(sources, "prod"), alone(sources, "staging")) == expected
    resolver = Resolver(Flags(profile=("prod", "staging"), insecure_http=True), sources)
    if all(isinstance(e, tuple) for e in expected):
        connections = resolver.connections()
        assert [c.label for c in connections] == ["prod", "staging"]
        assert [outcome_of(c.settings) for c in connections] == list(expected)
        return
    with pytest.raises(ConfigError) as info:
        resolver.connections()
    # The first connection that cannot be resolved is named by its label; no secret is shown.
    first = "prod" if not isinstance(expected[0], tuple) else "staging"
    assert str(info.value).startswith(f"{first}: "), str(info.value)
    assert "secret" not in str(info.value).replace("client_secret", "").replace("CLIENT_SECRET", "")


def test_two_connections_resolve_as_each_alone(tmp_path: Path) -> None:
    """Every combination (4 x 4 profiles, 4 x 4 x 4 stray layers: 1,024): -p prod -p staging
    resolves each connection exactly as -p NAME alone does, and never with a server and
    credentials of two different owners (Medplum's default server aside)."""
    checked = 0
    single: dict[tuple[str, str, tuple[str, ...]], object] = {}  # -p NAME alone, by what matters
    for holds, strays in itertools.product(
        itertools.product(HOLDS, repeat=2), itertools.product(STRAYS, repeat=3)
    ):
        sources = build_two(tmp_path, holds, strays)
        each: list[object] = []
        for name, held in zip(("prod", "staging"), holds, strict=True):
            if (name, held, strays) not in single:
                single[(name, held, strays)] = alone(sources, name)
            each.append(single[(name, held, strays)])
        resolver = Resolver(Flags(profile=("prod", "staging"), insecure_http=True), sources)
        label = f"{holds} {strays}"
        if all(isinstance(e, tuple) for e in each):
            got = [outcome_of(c.settings) for c in resolver.connections()]
            assert got == each, label
            for server, credentials in got:
                assert server in (credentials, "default"), label
        else:
            with pytest.raises(ConfigError):
                resolver.connections()
        checked += 1
    assert checked == 4**5


# Over HTTP: each connection's token request reaches its own server only


@pytest.fixture(scope="module")
def staging() -> Iterator[DemoServer]:
    cfg = DemoConfig(
        live=False, history_days=0.05, seed=5, client_id="staging-id", client_secret="staging-secret"
    )
    with DemoServer(cfg) as server:
        yield server


async def test_each_of_two_connections_reaches_only_its_own_server(
    tmp_path: Path, decoy: DemoServer, staging: DemoServer
) -> None:
    """-p prod -p staging, with the environment, .env and the config file all naming the decoy and
    holding the decoy's own credentials: prod's token request goes to prod, staging's to staging."""
    cfg = DemoConfig(live=False, history_days=0.05, seed=4, client_id="prod-id", client_secret="prod-secret")
    with DemoServer(cfg) as prod:
        urls = {"prod": prod.base_url, "staging": staging.base_url}
        urls |= dict.fromkeys(("env", "dotenv", "file"), decoy.base_url)
        creds = dict.fromkeys(("env", "dotenv", "file"), (decoy.client_id, decoy.client_secret))
        sources = build_two(tmp_path, ("full", "full"), ("both", "both", "both"), urls, creds)
        decoy.reset_requests()
        staging.reset_requests()
        connections = Resolver(Flags(profile=("prod", "staging")), sources).connections()
        assert [c.label for c in connections] == ["prod", "staging"]
        for connection in connections:
            async with MedplumClient(connection.settings) as client:
                assert (await client.list_bots()).resources
        for server in (prod, staging):
            assert [(r.path, r.status) for r in server.requests if r.method == "POST"] == [
                ("/oauth2/token", 200)
            ]
        assert decoy.requests == []
