"""Every Medplum CLI authType end to end against the demo backend over HTTP, the token ``iss`` check,
links from a server behind a port-forward, URL joining and web-app links."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import write_profile

from botmon_tui.cli import main
from botmon_tui.config import ConfigError, Flags, Resolver, Sources
from botmon_tui.demo import DemoConfig, DemoServer
from botmon_tui.medplum.auth import (
    ConnectionSettings,
    Secret,
    client_assertion,
    concat_urls,
    jwt_bearer_assertion,
    token_claims,
)
from botmon_tui.medplum.client import MedplumClient
from botmon_tui.medplum.errors import AuthError, BadResponseError
from botmon_tui.medplum.models import Bot, SearchPage


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoServer]:
    with DemoServer(DemoConfig(live=False, history_days=0.1, seed=9)) as server:
        yield server


def resolve(home: Path, flags: Flags | None = None, env: dict[str, str] | None = None) -> ConnectionSettings:
    sources = Sources(environ=env or {}, home=home, config_dir=home / "config", cwd=home)
    return Resolver(flags or Flags(), sources).connection()


def token_posts(demo: DemoServer) -> list[int]:
    return [r.status for r in demo.requests if r.method == "POST" and r.path == "/oauth2/token"]


# ------------------------------------------------------------------------------------------------
# authorization-code / token-exchange: the stored login, renewed with its refresh token
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("auth_type", ["authorization-code", "token-exchange"])
async def test_a_stored_login_is_renewed_and_written_back(
    tmp_path: Path, demo: DemoServer, auth_type: str
) -> None:
    access, refresh = demo.login()
    path = write_profile(
        tmp_path,
        "dev",
        {"authType": auth_type, "baseUrl": demo.base_url},
        {"accessToken": access, "refreshToken": refresh, "project": {"reference": "Project/1"}},
    )
    settings = resolve(tmp_path, Flags(profile="dev"))
    assert settings.auth_method == "login"
    demo.reset_requests()
    async with MedplumClient(settings) as client:
        await client.list_bots()
        assert token_posts(demo) == []  # the stored token is used as it is
        demo.expire_tokens()  # 401 Token expired on the next call
        await client.list_bots()
        assert token_posts(demo) == [200]  # one refresh_token grant, one retry
    stored = json.loads(json.loads(path.read_text())["activeLogin"])
    assert stored["refreshToken"] != refresh and stored["accessToken"] != access
    assert stored["project"] == {"reference": "Project/1"}  # the rest of the login is kept
    assert os.stat(path).st_mode & 0o077 == 0
    # The old refresh token was rotated away; the one written back works on the next run.
    again = resolve(tmp_path, Flags(profile="dev"))
    demo.expire_tokens()
    async with MedplumClient(again) as client:
        await client.list_bots()


async def test_a_login_past_its_exp_is_renewed_before_the_first_request(
    tmp_path: Path, demo: DemoServer
) -> None:
    access, refresh = demo.login(ttl=-10)  # expired already: its JWT exp has passed
    write_profile(
        tmp_path, "dev", {"baseUrl": demo.base_url}, {"accessToken": access, "refreshToken": refresh}
    )
    demo.reset_requests()
    async with MedplumClient(resolve(tmp_path, Flags(profile="dev"))) as client:
        await client.list_bots()
    assert token_posts(demo) == [200]
    assert [r.status for r in demo.requests if r.method == "GET"] == [200]  # no 401 first


async def test_a_login_that_cannot_be_renewed_says_to_log_in_again(tmp_path: Path, demo: DemoServer) -> None:
    access, refresh = demo.login(ttl=-10)
    write_profile(
        tmp_path, "prod", {"baseUrl": demo.base_url}, {"accessToken": access, "refreshToken": refresh}
    )
    demo.tokens.revoke_logins()
    settings = resolve(tmp_path, Flags(profile="prod"))
    async with MedplumClient(settings) as client:
        with pytest.raises(AuthError) as info:
            await client.list_bots()
    message = str(info.value)
    assert "profile 'prod'" in message and "Token revoked" in message
    assert message.endswith("run 'medplum login -p prod'")
    assert refresh not in message and access not in message


def test_a_profile_with_only_an_active_login_is_not_sent_to_the_default_server(
    tmp_path: Path, demo: DemoServer
) -> None:
    """``medplum login`` used with environment variables leaves a default.json with only a login:
    its token names the server that issued it."""
    access, refresh = demo.login()
    write_profile(tmp_path, "default", None, {"accessToken": access, "refreshToken": refresh})
    with pytest.raises(ConfigError) as info:
        resolve(tmp_path)
    message = str(info.value)
    assert f"was issued by {demo.base_url}, not https://api.medplum.com/" in message
    assert f"--base-url {demo.base_url}" in message
    # Naming the server that issued it, as when the login was made, works (even from the environment:
    # the token itself says where it belongs).
    settings = resolve(tmp_path, env={"MEDPLUM_BASE_URL": demo.base_url})
    assert settings.auth_method == "login" and settings.base_url == demo.base_url


def test_a_token_issued_by_another_server_is_never_sent(tmp_path: Path, demo: DemoServer) -> None:
    token = demo.issue_token()
    env = {"MEDPLUM_BASE_URL": "https://medplum.example.org/", "MEDPLUM_CLIENT_ACCESS_TOKEN": token}
    with pytest.raises(ConfigError, match=f"issued by {demo.base_url}, not https://medplum.example.org/"):
        resolve(tmp_path, env=env)
    assert resolve(tmp_path, env={**env, "MEDPLUM_BASE_URL": demo.base_url}).auth_method == "token"


def test_an_expired_static_token_is_one_line(tmp_path: Path, demo: DemoServer) -> None:
    env = {"MEDPLUM_BASE_URL": demo.base_url, "MEDPLUM_CLIENT_ACCESS_TOKEN": demo.issue_token(ttl=-5)}
    with pytest.raises(ConfigError, match=r"MEDPLUM_CLIENT_ACCESS_TOKEN expired at .* \(it is not renewed\)"):
        resolve(tmp_path, env=env)


# ------------------------------------------------------------------------------------------------
# jwt-bearer and jwt-assertion
# ------------------------------------------------------------------------------------------------


def test_the_jwt_bearer_assertion_is_built_as_the_cli_builds_it() -> None:
    assertion = jwt_bearer_assertion(
        client_secret="s3cret",
        audience="https://x.example/oauth2/token",
        issuer="me",
        subject="bot",
        now=1_700_000_000,
    )
    header, payload, signature = assertion.split(".")
    # encodeBase64 (standard, padded) for header and payload, as @medplum/cli's jwtBearerLogin.
    assert base64.b64decode(header) == b'{"typ":"JWT","alg":"HS256"}'
    assert json.loads(base64.b64decode(payload)) == {
        "aud": "https://x.example/oauth2/token",
        "iss": "me",
        "sub": "bot",
        "nbf": 1_700_000_000,
        "iat": 1_700_000_000,
        "exp": 1_700_000_000 + 7 * 86400,
    }
    assert list(json.loads(base64.b64decode(payload))) == ["aud", "iss", "sub", "nbf", "iat", "exp"]
    assert "=" not in signature and "+" not in signature  # base64url
    # Undefined claims are left out, as JSON.stringify does.
    bare = jwt_bearer_assertion(client_secret="s", audience="a", issuer=None, subject=None, now=1)
    assert set(json.loads(base64.b64decode(bare.split(".")[1]))) == {"aud", "nbf", "iat", "exp"}


async def test_jwt_bearer_profile_gets_its_token_with_the_jwt_bearer_grant(
    tmp_path: Path, demo: DemoServer
) -> None:
    write_profile(
        tmp_path,
        "jb",
        {
            "authType": "jwt-bearer",
            "baseUrl": demo.base_url,
            "clientId": demo.client_id,
            "clientSecret": demo.client_secret,
            "audience": "oauth2/token",
            "issuer": "https://idp.example/",
            "subject": "ops@example.org",
            "scope": "openid",
        },
    )
    settings = resolve(tmp_path, Flags(profile="jb"))
    assert settings.auth_method == "jwt-bearer"
    demo.reset_requests()
    async with MedplumClient(settings) as client:
        assert (await client.list_bots()).resources
        demo.expire_tokens()
        await client.list_bots()  # a new assertion, a new token
    assert token_posts(demo) == [200, 200]
    # A wrong secret signs an assertion the server refuses: the server's words, no secret.
    write_profile(
        tmp_path,
        "bad",
        {
            "authType": "jwt-bearer",
            "baseUrl": demo.base_url,
            "clientId": demo.client_id,
            "clientSecret": "nope",
            "audience": "oauth2/token",
        },
    )
    async with MedplumClient(resolve(tmp_path, Flags(profile="bad"))) as client:
        with pytest.raises(
            AuthError, match=r"Token request refused \(HTTP 400\): Invalid assertion signature"
        ):
            await client.list_bots()


def rsa_key(directory: Path) -> tuple[Path, dict[str, str]]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = directory / "client.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)
    numbers = key.public_key().public_numbers()

    def b64(value: int) -> str:
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return path, {"kty": "RSA", "n": b64(numbers.n), "e": b64(numbers.e)}


async def test_jwt_assertion_profile_signs_an_rs384_client_assertion(tmp_path: Path) -> None:
    key_path, jwk = rsa_key(tmp_path)
    with DemoServer(DemoConfig(live=False, history_days=0.05, client_jwk=jwk)) as server:
        options = {
            "authType": "jwt-assertion",
            "baseUrl": server.base_url,
            "clientId": server.client_id,
            "audience": "oauth2/token",
            "privateKeyPath": str(key_path),
        }
        write_profile(tmp_path, "ja", options)
        settings = resolve(tmp_path, Flags(profile="ja"))
        assert settings.auth_method == "jwt-assertion"
        async with MedplumClient(settings) as client:
            assert (await client.list_bots()).resources
        assert token_posts(server) == [200]
        pem = key_path.read_bytes()
        assertion = client_assertion(client_id="c", audience="a", private_key_pem=pem, now=1_700_000_000)
        header = json.loads(base64.urlsafe_b64decode(assertion.split(".")[0] + "=="))
        assert header == {"alg": "RS384", "typ": "JWT"}
        claims = token_claims(assertion)
        assert claims is not None and claims["iss"] == claims["sub"] == "c" and claims["exp"] == 1_700_000_300
        # Another key: the server cannot verify the signature.
        (tmp_path / "other").mkdir()
        other, _ = rsa_key(tmp_path / "other")
        write_profile(tmp_path, "ja", {**options, "privateKeyPath": str(other)})
        async with MedplumClient(resolve(tmp_path, Flags(profile="ja"))) as client:
            with pytest.raises(AuthError, match="Invalid client assertion signature"):
                await client.list_bots()


def test_jwt_assertion_without_cryptography_names_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    key_path, _ = rsa_key(tmp_path)
    write_profile(
        tmp_path,
        "ja",
        {
            "authType": "jwt-assertion",
            "baseUrl": "https://x.example/",
            "clientId": "c",
            "privateKeyPath": str(key_path),
        },
    )
    real_import = builtins.__import__

    def no_cryptography(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("cryptography"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cryptography)
    with pytest.raises(ConfigError) as info:
        resolve(tmp_path, Flags(profile="ja"))
    assert str(info.value) == (
        "authType jwt-assertion needs the 'cryptography' package: pip install 'botmon-tui[jwt-assertion]'"
    )


def test_unknown_auth_type_is_one_line(tmp_path: Path) -> None:
    write_profile(tmp_path, "odd", {"authType": "saml", "baseUrl": "https://x.example/"})
    with pytest.raises(
        ConfigError, match="unknown authType 'saml'; botmon-tui knows authorization-code, basic"
    ):
        resolve(tmp_path, Flags(profile="odd"))


async def test_basic_and_client_credentials_profiles(tmp_path: Path, demo: DemoServer) -> None:
    for auth_type, posts in (("basic", []), ("client-credentials", [200])):
        write_profile(
            tmp_path,
            auth_type,
            {
                "authType": auth_type,
                "baseUrl": demo.base_url,
                "clientId": demo.client_id,
                "clientSecret": demo.client_secret,
            },
        )
        demo.reset_requests()
        async with MedplumClient(resolve(tmp_path, Flags(profile=auth_type))) as client:
            assert (await client.list_bots()).resources
        assert token_posts(demo) == posts


# ------------------------------------------------------------------------------------------------
# Links from a server behind a port-forward or proxy
# ------------------------------------------------------------------------------------------------


def test_bots_pages_through_a_server_whose_links_name_its_public_base_url(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    public = "https://medplum.example.org/"
    cfg = DemoConfig(live=False, history_days=0.05, extra_bots=1500, public_base_url=public)
    with DemoServer(cfg) as server:
        monkeypatch.setenv("MEDPLUM_BASE_URL", server.base_url)
        monkeypatch.setenv("MEDPLUM_CLIENT_ID", server.client_id)
        monkeypatch.setenv("MEDPLUM_CLIENT_SECRET", server.client_secret)
        assert main(["bots", "--json"]) == 0
        bots = json.loads(capsys.readouterr().out)
        searches = [r.path for r in server.requests if r.path.startswith("/fhir/R4/Bot")]
    assert len(bots) == len(server.store.bots) > 1000
    assert len({bot["id"] for bot in bots}) == len(bots)
    assert len(searches) == 2 and "_offset=1000" in searches[1]  # the link's query, sent here


async def test_a_link_that_is_not_a_search_of_the_same_type_is_refused(demo: DemoServer) -> None:
    settings = ConnectionSettings(
        base_url=demo.base_url, client_id=demo.client_id, client_secret=Secret(demo.client_secret)
    )
    async with MedplumClient(settings) as client:
        for link in (
            "https://evil.example/fhir/R4/Patient?_count=5",
            "https://evil.example/fhir/R4/Bot/x/$execute",
        ):
            page: SearchPage[Bot] = SearchPage(resources=[], next_url=link)
            with pytest.raises(BadResponseError, match="not a Bot search"):
                await client.next_page(page, Bot)
        path = MedplumClient.page_path("https://public.example/medplum/fhir/R4/Bot?_count=2&_offset=2", "Bot")
        assert path == "Bot?_count=2&_offset=2"
        assert client._resolve(path) == f"{demo.base_url}fhir/R4/Bot?_count=2&_offset=2"


# ------------------------------------------------------------------------------------------------
# URL joining (Medplum's concatUrls) and web-app links
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "path", "joined"),
    [
        ("https://h.example/", "fhir/R4", "https://h.example/fhir/R4"),
        ("https://h.example", "fhir/R4/", "https://h.example/fhir/R4/"),
        ("https://h.example/", "/fhir/R4", "https://h.example/fhir/R4"),
        ("https://h.example/medplum/", "/fhir/R4", "https://h.example/medplum/fhir/R4"),
        ("https://h.example/medplum", "fhir/R4", "https://h.example/medplum/fhir/R4"),
        ("https://h.example/medplum/", "oauth2/token", "https://h.example/medplum/oauth2/token"),
        ("https://h.example/medplum/", "https://auth.example/token", "https://auth.example/token"),
        ("https://h.example/medplum/", "//evil.example/x", "https://h.example/evil.example/x"),
    ],
)
def test_urls_are_joined_like_concat_urls(base: str, path: str, joined: str) -> None:
    assert concat_urls(base, path) == joined


@pytest.mark.parametrize(
    ("base", "fhir", "token", "fhir_base", "token_endpoint"),
    [
        (
            "https://h.example/medplum/",
            "/fhir/R4",
            None,
            "https://h.example/medplum/fhir/R4/",
            "https://h.example/medplum/oauth2/token",
        ),
        (
            "https://h.example/medplum",
            "fhir/R4",
            "/oauth2/token",
            "https://h.example/medplum/fhir/R4/",
            "https://h.example/medplum/oauth2/token",
        ),
        (
            "https://h.example/",
            "fhir/R4/",
            "https://auth.example/t",
            "https://h.example/fhir/R4/",
            "https://auth.example/t",
        ),
        (
            "https://h.example",
            "https://fhir.example/r4",
            None,
            "https://fhir.example/r4/",
            "https://h.example/oauth2/token",
        ),
    ],
)
def test_fhir_base_and_token_endpoint_of_each_shape(
    base: str, fhir: str, token: str | None, fhir_base: str, token_endpoint: str
) -> None:
    settings = ConnectionSettings(base_url=base, fhir_url_path=fhir, token_url=token)
    assert settings.fhir_base == fhir_base
    assert settings.token_endpoint == token_endpoint


def test_web_app_url_from_flag_environment_or_config(tmp_path: Path) -> None:
    env = {
        "MEDPLUM_BASE_URL": "https://api.example.org/",
        "MEDPLUM_CLIENT_ID": "i",
        "MEDPLUM_CLIENT_SECRET": "s",
    }
    assert resolve(tmp_path, env=env).app_base == "https://app.example.org/"  # the guess
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text('app_url = "https://ehr.example.org/app"\n')
    assert resolve(tmp_path, env=env).app_base == "https://ehr.example.org/app/"
    env["MEDPLUM_APP_BASE_URL"] = "https://env-app.example.org/"
    assert resolve(tmp_path, env=env).app_base == "https://env-app.example.org/"
    assert (
        resolve(tmp_path, Flags(app_url="http://localhost:3000/"), env).app_base == "http://localhost:3000/"
    )
    assert ConnectionSettings(base_url="https://api.medplum.com/").app_base == "https://app.medplum.com/"
