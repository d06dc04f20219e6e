"""Connection settings and credentials, the way Medplum's own client and CLI use them.

* URLs are joined like ``@medplum/core``'s ``concatUrls`` (:func:`concat_urls`).
* Every Medplum CLI ``authType`` maps to an :data:`AuthMethod`: client credentials, HTTP Basic, a
  static token, a stored login renewed with its refresh token, and the two JWT grants
  (:func:`jwt_bearer_assertion` builds the CLI's HS256 assertion, :func:`client_assertion` its
  RS384 client assertion).
* Access tokens are JWTs: :func:`token_claims` reads their payload without verifying it, which is
  enough to tell which server issued one (``iss``) and when it expires (``exp``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

# The defaults are the settings table's (botmon_tui.settings: standard library only).
from botmon_tui.settings import DEFAULT_BASE_URL, DEFAULT_FHIR_URL_PATH, DEFAULT_TIMEOUT

__all__ = [
    "AUTH_TYPES",
    "DEFAULT_BASE_URL",
    "DEFAULT_FHIR_URL_PATH",
    "DEFAULT_TOKEN_PATH",
    "AuthMethod",
    "ConnectionSettings",
    "MissingDependency",
    "Secret",
    "app_link",
    "client_assertion",
    "concat_urls",
    "jwt_bearer_assertion",
    "same_server",
    "token_claims",
]

DEFAULT_TOKEN_PATH = "oauth2/token"

#: How a request is authorized: ``login`` is a stored ``medplum login`` (access token renewed with its
#: refresh token), ``token`` a static access token, the others fetch tokens with their own grant.
AuthMethod = Literal["client-credentials", "basic", "token", "login", "jwt-bearer", "jwt-assertion", "none"]

#: The Medplum CLI's ``authType`` values and what botmon-tui does with each (for ``--help`` and README).
AUTH_TYPES: tuple[tuple[str, str], ...] = (
    ("client-credentials", "client id + secret, grant_type=client_credentials; renewed before expiry"),
    ("basic", "client id + secret as HTTP Basic on every request"),
    ("authorization-code", "the token of 'medplum login'; renewed with its refresh token"),
    ("token-exchange", "as authorization-code (the stored login and its refresh token)"),
    ("jwt-bearer", "HS256 assertion signed with the client secret, jwt-bearer grant"),
    ("jwt-assertion", "RS384 client assertion from privateKeyPath (needs the 'cryptography' package)"),
)

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: The CLI's jwt-bearer assertion lives 7 days, its client assertion 5 minutes.
JWT_BEARER_LIFETIME = 604_800
CLIENT_ASSERTION_LIFETIME = 300

_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


class MissingDependency(Exception):
    """An optional package is needed (``str(err)`` is one line naming what to install)."""


class Secret:
    """A string that never shows itself: ``repr``/``str`` print ``'********'``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host in _LOOPBACK_HOSTS:
        return True
    try:
        # "127.evil.example" is a DNS name, not a loopback address.
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def concat_urls(base: str, path: str) -> str:
    """Join like Medplum's ``concatUrls``: ``new URL(path without its leading slash, base + '/')``.

    ``concat_urls("https://h.example/medplum", "/fhir/R4")`` is ``https://h.example/medplum/fhir/R4``;
    an absolute URL stays as it is.
    """
    return urljoin(_with_slash(base), path[1:] if path.startswith("/") else path)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def same_origin(a: str, b: str) -> bool:
    return _origin(a) == _origin(b)


def same_server(a: str, b: str) -> bool:
    """Whether two base URLs name the same server: scheme, host, port and path (trailing slash and
    case of the host aside). Medplum's token ``iss`` is its configured base URL."""
    return same_origin(a, b) and _with_slash(urlsplit(a).path or "/") == _with_slash(urlsplit(b).path or "/")


def _b64decode(text: str) -> bytes:
    """Base64 or base64url, padded or not (as Node's ``Buffer.from(text, 'base64')`` reads it)."""
    text = text.replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=False)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _compact_json(value: dict[str, Any]) -> bytes:
    # JSON.stringify: no spaces, keys in insertion order, non-ASCII as is; undefined values left out.
    return json.dumps(
        {k: v for k, v in value.items() if v is not None}, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def token_claims(token: str) -> dict[str, Any] | None:
    """The payload of a JWT, **not verified** (only to read ``iss`` and ``exp``); None if not a JWT."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1]:
        return None
    try:
        payload = json.loads(_b64decode(parts[1]))
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None


def token_issuer(token: str) -> str | None:
    claims = token_claims(token)
    iss = claims.get("iss") if claims else None
    return iss if isinstance(iss, str) and iss else None


def token_expiry(token: str) -> float | None:
    """The JWT's ``exp`` (seconds since the epoch), or None."""
    claims = token_claims(token)
    exp = claims.get("exp") if claims else None
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        return float(exp)
    return None


def jwt_bearer_assertion(
    *, client_secret: str, audience: str, issuer: str | None, subject: str | None, now: float
) -> str:
    """The HS256 assertion that ``medplum login`` builds for ``authType: jwt-bearer``.

    As the CLI does it: header and payload in standard base64 (``encodeBase64``), the HMAC-SHA256
    signature (keyed with the client secret) in base64url; claims ``aud, iss, sub, nbf, iat, exp``
    with ``exp`` 7 days on.
    """
    stamp = int(now)
    header = base64.b64encode(_compact_json({"typ": "JWT", "alg": "HS256"})).decode("ascii")
    payload = base64.b64encode(
        _compact_json(
            {
                "aud": audience,
                "iss": issuer,
                "sub": subject,
                "nbf": stamp,
                "iat": stamp,
                "exp": stamp + JWT_BEARER_LIFETIME,
            }
        )
    ).decode("ascii")
    unsigned = f"{header}.{payload}"
    signature = hmac.new(client_secret.encode("utf-8"), unsigned.encode("ascii"), hashlib.sha256).digest()
    return f"{unsigned}.{_b64url(signature)}"


def client_assertion(*, client_id: str, audience: str, private_key_pem: bytes, now: float) -> str:
    """The RS384 client assertion that ``medplum login`` builds for ``authType: jwt-assertion``:
    ``iss = sub = client id``, ``aud``, a random ``jti``, ``iat`` and ``exp`` 5 minutes on.

    Needs the ``cryptography`` package (:class:`MissingDependency` without it).
    """
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
    except ImportError:
        raise MissingDependency(
            "authType jwt-assertion needs the 'cryptography' package: pip install 'botmon-tui[jwt-assertion]'"
        ) from None
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the private key is not an RSA key (RS384 needs one)")
    stamp = int(now)
    header = _b64url(_compact_json({"alg": "RS384", "typ": "JWT"}))
    payload = _b64url(
        _compact_json(
            {
                "iss": client_id,
                "sub": client_id,
                "aud": audience,
                "jti": secrets.token_hex(16),
                "iat": stamp,
                "exp": stamp + CLIENT_ASSERTION_LIFETIME,
            }
        )
    )
    unsigned = f"{header}.{payload}".encode("ascii")
    signature = key.sign(unsigned, padding.PKCS1v15(), hashes.SHA384())
    return f"{unsigned.decode('ascii')}.{_b64url(signature)}"


#: Called with ``(access_token, refresh_token)`` after a stored login was renewed, so that the
#: Medplum CLI profile keeps the rotated refresh token (the old one is no longer valid).
TokenSink = Callable[[str, str | None], None]


@dataclass(frozen=True)
class ConnectionSettings:
    """Where the server is and how to authenticate. Secrets are :class:`Secret`, never plain str."""

    base_url: str = DEFAULT_BASE_URL
    fhir_url_path: str = DEFAULT_FHIR_URL_PATH
    token_url: str | None = None
    client_id: str | None = None
    client_secret: Secret | None = field(default=None, repr=False)
    access_token: Secret | None = field(default=None, repr=False)
    #: The stored login's refresh token (``auth_method="login"``).
    refresh_token: Secret | None = field(default=None, repr=False)
    auth_method: AuthMethod = "client-credentials"
    #: TLS verification: ``True`` (system CAs / SSL_CERT_FILE) or the path of a CA bundle. Never off.
    ca_file: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    #: Where these settings came from, for error messages ("profile 'prod'", "environment", ...).
    source: str = "defaults"
    #: The Medplum web app for deep links (``--app-url``); None = guessed from the base URL.
    app_url: str | None = None
    #: The Medplum CLI profile the credentials come from (for "run medplum login -p NAME").
    profile: str | None = None
    #: jwt-bearer / jwt-assertion: the profile's ``audience``, ``issuer``, ``subject`` and ``scope``.
    audience: str | None = None
    issuer: str | None = None
    subject: str | None = None
    scope: str | None = None
    #: jwt-assertion: the PEM private key read from ``privateKeyPath``.
    private_key: Secret | None = field(default=None, repr=False)
    #: Where a renewed login is written back (see :data:`TokenSink`).
    token_sink: TokenSink | None = field(default=None, repr=False, compare=False)

    @property
    def base(self) -> str:
        return _with_slash(self.base_url)

    @property
    def fhir_base(self) -> str:
        return _with_slash(concat_urls(self.base, self.fhir_url_path or DEFAULT_FHIR_URL_PATH))

    @property
    def token_endpoint(self) -> str:
        return concat_urls(self.base, self.token_url or DEFAULT_TOKEN_PATH)

    @property
    def audience_url(self) -> str:
        """``aud`` of the JWT grants: ``baseUrl + audience``, concatenated as the CLI does."""
        return f"{self.base_url}{self.audience or ''}"

    @property
    def app_base(self) -> str:
        """The Medplum web app for deep links: ``--app-url`` when given; else ``https://app.medplum.com/``
        for the hosted service, ``app.`` for an ``api.`` host, or the base URL itself."""
        if self.app_url:
            return _with_slash(self.app_url)
        host = urlsplit(self.base).hostname or ""
        if host == "api.medplum.com":
            return "https://app.medplum.com/"
        if host.startswith("api."):
            return self.base.replace("//api.", "//app.", 1)
        return self.base

    @property
    def login_hint(self) -> str:
        """What renews a stored login: ``medplum login`` (with ``-p NAME`` for a named profile)."""
        if self.profile and self.profile != "default":
            return f"medplum login -p {self.profile}"
        return "medplum login"

    def basic_header(self) -> str:
        if not self.client_id or not self.client_secret:
            raise ValueError("basic auth needs a client id and secret")
        raw = f"{self.client_id}:{self.client_secret.reveal()}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def secrets(self) -> list[str]:
        """Every secret value held, so that messages can be scrubbed of them (with HTTP Basic, the
        base64 of ``id:secret`` that the header carries too: a server may echo it)."""
        values = [s.reveal() for s in (self.client_secret, self.access_token, self.refresh_token) if s]
        if self.auth_method == "basic" and self.client_id and self.client_secret:
            values.append(self.basic_header().removeprefix("Basic "))
        return values


def app_link(app_base: str, resource_type: str, resource_id: str, page: str = "") -> str:
    """A page of the Medplum web app (see :attr:`ConnectionSettings.app_base`): the resource, or one
    of its tabs (``app_link(base, "Bot", id, "event")`` is a bot's Event tab)."""
    link = f"{app_base}{resource_type}/{resource_id}"
    return f"{link}/{page}" if page else link
