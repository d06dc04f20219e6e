"""Connection settings and credentials: client credentials, a static token, or HTTP Basic."""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urljoin, urlsplit

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_FHIR_URL_PATH",
    "AuthMethod",
    "ConnectionSettings",
    "Secret",
    "app_link",
]

DEFAULT_BASE_URL = "https://api.medplum.com/"
DEFAULT_FHIR_URL_PATH = "fhir/R4/"

AuthMethod = Literal["client-credentials", "basic", "token", "none"]

_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


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


@dataclass(frozen=True)
class ConnectionSettings:
    """Where the server is and how to authenticate. Secrets are :class:`Secret`, never plain str."""

    base_url: str = DEFAULT_BASE_URL
    fhir_url_path: str = DEFAULT_FHIR_URL_PATH
    token_url: str | None = None
    client_id: str | None = None
    client_secret: Secret | None = field(default=None, repr=False)
    access_token: Secret | None = field(default=None, repr=False)
    auth_method: AuthMethod = "client-credentials"
    #: TLS verification: ``True`` (system CAs / SSL_CERT_FILE) or the path of a CA bundle. Never off.
    ca_file: str | None = None
    timeout: float = 30.0
    #: Where these settings came from, for error messages ("profile 'prod'", "environment", ...).
    source: str = "defaults"

    @property
    def base(self) -> str:
        return _with_slash(self.base_url)

    @property
    def fhir_base(self) -> str:
        path = self.fhir_url_path or DEFAULT_FHIR_URL_PATH
        return _with_slash(urljoin(self.base, path))

    @property
    def token_endpoint(self) -> str:
        return urljoin(self.base, self.token_url) if self.token_url else urljoin(self.base, "oauth2/token")

    @property
    def app_base(self) -> str:
        """The Medplum web app for deep links (``https://app.medplum.com/`` for the hosted service)."""
        host = urlsplit(self.base).hostname or ""
        if host == "api.medplum.com":
            return "https://app.medplum.com/"
        if host.startswith("api."):
            return self.base.replace("//api.", "//app.", 1)
        return self.base

    def basic_header(self) -> str:
        if not self.client_id or not self.client_secret:
            raise ValueError("basic auth needs a client id and secret")
        raw = f"{self.client_id}:{self.client_secret.reveal()}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def secrets(self) -> list[str]:
        """Every secret value held, so that messages can be scrubbed of them (with HTTP Basic, the
        base64 of ``id:secret`` that the header carries too: a server may echo it)."""
        values = [s.reveal() for s in (self.client_secret, self.access_token) if s]
        if self.auth_method == "basic" and self.client_id and self.client_secret:
            values.append(self.basic_header().removeprefix("Basic "))
        return values


def app_link(app_base: str, resource_type: str, resource_id: str, page: str = "") -> str:
    """A page of the Medplum web app (see :attr:`ConnectionSettings.app_base`): the resource, or one
    of its tabs (``app_link(base, "Bot", id, "event")`` is a bot's Event tab)."""
    link = f"{app_base}{resource_type}/{resource_id}"
    return f"{link}/{page}" if page else link
