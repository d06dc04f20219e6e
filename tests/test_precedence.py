"""The precedence table: which server each mix of flags, profile, environment and config file
reaches, or the one-line refusal, for the base URL and the credentials (client id + secret).

Each row names the layer that wins the base URL and the layer that wins the credentials (the
highest layer setting them: flags > profile > environment > config file). Every combination of the
layers below the winners setting or not setting each field is resolved too: they must never change
the answer. The rows that reach a server are then run over HTTP against two demo servers, the
winner's and a decoy named by every other layer, checking which one received the token request.
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
from botmon_tui.medplum.auth import DEFAULT_BASE_URL
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
