"""The async Medplum client: one ``httpx.AsyncClient``, typed errors, paging, rate limits.

botmon-tui is read-only: this client sends GET requests to the FHIR API and POSTs only to the
token endpoint. Nothing else leaves the machine.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast
from urllib.parse import unquote, urlsplit

import httpx

from botmon_tui import __version__
from botmon_tui.medplum.auth import (
    CLIENT_ASSERTION_TYPE,
    JWT_BEARER_GRANT,
    ConnectionSettings,
    client_assertion,
    concat_urls,
    jwt_bearer_assertion,
    same_origin,
    token_expiry,
)
from botmon_tui.medplum.errors import (
    AuthError,
    BadRequestError,
    BadResponseError,
    ConnectionDroppedError,
    ForbiddenError,
    GoneError,
    MedplumError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    RequestTimeout,
    ServerError,
    TooLargeError,
)
from botmon_tui.medplum.models import (
    FAILURE_CODES,
    AuditEvent,
    Bot,
    BotVersion,
    OperationOutcome,
    Resource,
    SearchPage,
    format_instant,
    parse_history,
    parse_reference,
    parse_search_page,
)
from botmon_tui.medplum.ratelimit import RateLimitInfo, ms_before_next, parse_ratelimit
from botmon_tui.medplum.watermark import EventCursor
from botmon_tui.textsafe import mask_secrets, sanitize

__all__ = [
    "HISTORY_PAGE",
    "MAX_BODY_BYTES",
    "MAX_HISTORY_BYTES",
    "MAX_RESOURCE_BYTES",
    "MedplumClient",
    "RequestStats",
]

R = TypeVar("R", bound=Resource)

#: Largest response body read (a page of 1,000 events with 10 KiB logs is ~12 MB).
MAX_BODY_BYTES = 64 * 1024 * 1024
#: Largest body of one resource read when asked (a run's input, its subscription): more is not
#: read (a Binary's data, a Bundle of thousands); the screen says so.
MAX_RESOURCE_BYTES = 2 * 1024 * 1024
#: Versions in a history answer: Medplum's ``readHistory`` sends at most the newest 100.
HISTORY_PAGE = 100
#: Largest body of a bot's history (100 versions of a Bot; its code is a reference, not inline).
MAX_HISTORY_BYTES = 16 * 1024 * 1024
#: Renew a client-credentials token this long before it expires.
TOKEN_RENEW_MARGIN = 60.0
#: Renew a stored login this long before its JWT ``exp`` (by the wall clock).
LOGIN_RENEW_MARGIN = 30.0
#: The methods that fetch their own tokens with a grant (and can fetch a new one at any time).
GRANT_METHODS = ("client-credentials", "jwt-bearer", "jwt-assertion")
#: Wait this long after a 429 that says nothing about when to come back.
DEFAULT_RATE_LIMIT_WAIT = 10.0
#: Longest token lifetime believed (a day; an absurd ``expires_in`` must not break the arithmetic).
MAX_TOKEN_TTL = 86_400
#: Medplum clamps ``_count`` to this.
MAX_PAGE_SIZE = 1000
#: Medplum's answer when a cursor page holds only rows of one timestamp.
CURSOR_NO_PROGRESS = "Cursor fails to make progress"

Params = list[tuple[str, str]] | dict[str, str]


@dataclass
class RequestStats:
    """How many requests this client has sent, by method, and how many of them asked for a token
    (the tests count a client's requests with it)."""

    requests: int = 0
    token_requests: int = 0
    methods: dict[str, int] = field(default_factory=dict)

    def note(self, method: str) -> None:
        self.requests += 1
        self.methods[method] = self.methods.get(method, 0) + 1


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it, outermost first (a bounded walk of ``__cause__``/``__context__``)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 10 and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _size_text(size: int) -> str:
    """``2 MB``, ``512 KB`` (a body limit in a message)."""
    mb = 1024 * 1024
    return f"{size // mb} MB" if size >= mb and size % mb == 0 else f"{max(1, size // 1024):,} KB"


def _http2_available() -> bool:
    try:
        import h2  # noqa: F401
    except ImportError:
        return False
    return True


class MedplumClient:
    """An async client for the parts of the Medplum FHIR API that botmon-tui reads."""

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.settings = settings
        self._clock = clock
        #: The wall clock (JWT ``iat``/``exp`` are seconds since the epoch).
        self._wall = wall
        self._max_body = max_body_bytes
        verify: ssl.SSLContext | bool = True
        if settings.ca_file:
            # An extra CA: added to the ones httpx trusts by default (certifi, or SSL_CERT_FILE /
            # SSL_CERT_DIR), not instead of them. Verification is never turned off.
            verify = httpx.create_ssl_context()
            verify.load_verify_locations(cafile=settings.ca_file)
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.timeout, connect=min(10.0, settings.timeout)),
            verify=verify,
            transport=transport,
            # HTTP/2 only over TLS (httpx negotiates it with ALPN; plain http:// stays HTTP/1.1),
            # so h2 is not even imported for a server on http:// (a local dev server).
            http2=transport is None and settings.base.startswith("https:") and _http2_available(),
            follow_redirects=False,
            headers={"Accept": "application/fhir+json", "User-Agent": f"botmon-tui/{__version__}"},
            limits=httpx.Limits(max_connections=4, max_keepalive_connections=4, keepalive_expiry=120),
        )
        self._token: str | None = settings.access_token.reveal() if settings.access_token else None
        self._refresh: str | None = settings.refresh_token.reveal() if settings.refresh_token else None
        self._token_expires_at: float | None = None
        self._token_lock = asyncio.Lock()
        self.stats = RequestStats()
        #: The last ``RateLimit`` header seen.
        self.rate_limit: RateLimitInfo | None = None
        self._server_clock: tuple[datetime, float] | None = None

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> MedplumClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------ clocks

    def server_now(self) -> datetime | None:
        """The server's clock, from the last ``Date`` header plus the time since (None before any)."""
        if self._server_clock is None:
            return None
        at, mono = self._server_clock
        return at + timedelta(seconds=self._clock() - mono)

    def now(self) -> datetime:
        """:meth:`server_now`, else this machine's clock (before the first answer)."""
        return self.server_now() or datetime.now(UTC)

    # ------------------------------------------------------------------ authentication

    async def _authorization(self) -> str | None:
        method = self.settings.auth_method
        if method == "none":
            return None
        if method == "basic":
            return self.settings.basic_header()
        if method == "token":
            if not self._token:
                raise AuthError("No access token configured (MEDPLUM_CLIENT_ACCESS_TOKEN)")
            return f"Bearer {self._token}"
        async with self._token_lock:
            if method == "login":
                if self._token is None or self._login_expired():
                    await self._renew_login()
            else:
                now = self._clock()
                expired = self._token_expires_at is not None and now >= self._token_expires_at
                if self._token is None or expired:
                    await self._fetch_token()
        return f"Bearer {self._token}"

    def _login_expired(self) -> bool:
        expires = token_expiry(self._token or "")
        return expires is not None and self._wall() >= expires - LOGIN_RENEW_MARGIN

    def _grant(self) -> dict[str, str]:
        """The token request's form for the settings' method (the JWT grants build a new assertion
        each time, as ``medplum login`` does)."""
        settings = self.settings
        method = settings.auth_method
        if method == "jwt-assertion":
            if not settings.client_id or not settings.private_key:
                raise AuthError("jwt-assertion needs a client id and a private key")
            assertion = client_assertion(
                client_id=settings.client_id,
                audience=settings.audience_url,
                private_key_pem=settings.private_key.reveal().encode(),
                now=self._wall(),
            )
            return {
                "grant_type": "client_credentials",
                "client_assertion_type": CLIENT_ASSERTION_TYPE,
                "client_assertion": assertion,
            }
        if not settings.client_id or not settings.client_secret:
            raise AuthError("Client credentials are incomplete: set a client id and a client secret")
        if method == "jwt-bearer":
            assertion = jwt_bearer_assertion(
                client_secret=settings.client_secret.reveal(),
                audience=settings.audience_url,
                issuer=settings.issuer,
                subject=settings.subject,
                now=self._wall(),
            )
            return {
                "grant_type": JWT_BEARER_GRANT,
                "client_id": settings.client_id,
                "assertion": assertion,
                "scope": settings.scope or "",
            }
        return {
            "grant_type": "client_credentials",
            "client_id": settings.client_id,
            "client_secret": settings.client_secret.reveal(),
        }

    async def _fetch_token(self) -> None:
        started = self._clock()
        body = await self._token_request(self._grant())
        self._accept_token(body, started)

    async def _renew_login(self) -> None:
        """Renew a stored ``medplum login`` with its refresh token (``grant_type=refresh_token``), and
        write the new tokens back to the profile (Medplum rotates refresh tokens)."""
        settings = self.settings
        name = settings.profile or "default"
        if not self._refresh:
            raise AuthError(
                f"The login of Medplum profile {name!r} has expired and holds no refresh token: "
                f"run '{settings.login_hint}'"
            )
        form = {
            "grant_type": "refresh_token",
            "client_id": settings.client_id or "",
            "refresh_token": self._refresh,
        }
        started = self._clock()
        try:
            body = await self._token_request(form)
        except AuthError as exc:
            raise AuthError(
                f"The login of Medplum profile {name!r} has expired and could not be renewed "
                f"({exc.message}): run '{settings.login_hint}'",
                status=exc.status,
            ) from None
        self._accept_token(body, started)
        refresh = body.get("refresh_token")
        if isinstance(refresh, str) and refresh:
            self._refresh = refresh
        if settings.token_sink is not None and self._token:
            settings.token_sink(self._token, self._refresh)

    async def _token_request(self, form: dict[str, str]) -> dict[str, Any]:
        """POST ``form`` (form-encoded, as Medplum's token endpoint requires) to the token URL."""
        endpoint = self.settings.token_endpoint
        try:
            response = await self._http.post(endpoint, data=form, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, endpoint) from None
        self.stats.token_requests += 1
        self.stats.note("POST")
        self._note_headers(response)
        body = self._json_or_none(response.content)
        if response.status_code in (400, 401, 403):
            detail = ""
            if isinstance(body, dict):
                detail = str(body.get("error_description") or body.get("error") or "")
                if not detail and body.get("resourceType") == "OperationOutcome":
                    detail = self._outcome_text(body)
            detail = self._scrub(detail)  # a server may echo what it was sent
            raise AuthError(
                f"Token request refused (HTTP {response.status_code}): "
                f"{detail or 'invalid client credentials'}",
                status=response.status_code,
            )
        if response.status_code == 429:
            raise self._rate_limited(response, body)
        if response.status_code >= 500:
            status = response.status_code
            raise ServerError(f"Token endpoint failed (HTTP {status})", status=status)
        if response.status_code >= 300 or not isinstance(body, dict):
            raise BadResponseError(
                f"Token endpoint gave an unexpected answer (HTTP {response.status_code})",
                status=response.status_code,
            )
        return body

    def _accept_token(self, body: dict[str, Any], started: float) -> None:
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise BadResponseError("Token endpoint answered without an access_token")
        expires_in = body.get("expires_in")
        ttl = 3600.0
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and expires_in > 0:
            ttl = float(min(expires_in, MAX_TOKEN_TTL))
        margin = min(TOKEN_RENEW_MARGIN, ttl / 10)
        self._token = token
        self._token_expires_at = started + ttl - margin

    def _forget_token(self, token: str | None) -> bool:
        """Drop ``token`` so the next request gets a new one; False if that cannot help."""
        if self.settings.auth_method not in (*GRANT_METHODS, "login"):
            return False
        if self._token == token:
            self._token = None
        return True

    # ------------------------------------------------------------------ HTTP

    def _resolve(self, path: str) -> str:
        url = concat_urls(self.settings.fhir_base, path)
        if not same_origin(url, self.settings.fhir_base):
            # Never send our credentials to another origin.
            raise BadResponseError(
                f"Refusing to send a request to another server ({urlsplit(url).netloc or '?'})"
            )
        return url

    @staticmethod
    def page_path(link: str, resource_type: str) -> str:
        """Where to ask for a Bundle's ``next``/``previous`` page, as Medplum's own client does it
        (``searchResourcePages``): the link's query string, sent to our own FHIR base URL and the
        same resource type. A server behind a port-forward or proxy writes its public base URL into
        links; that host never sees our credentials. A link that is not a search of
        ``resource_type`` is refused."""
        parts = urlsplit(link)
        segments = [unquote(segment) for segment in parts.path.split("/") if segment]
        if not segments or segments[-1] != resource_type:
            raise BadResponseError(
                f"Refusing to follow a link that is not a {resource_type} search: {sanitize(link)[:120]}"
            )
        return f"{resource_type}?{parts.query}" if parts.query else resource_type

    async def get_json(
        self, path: str, params: Params | None = None, *, max_bytes: int | None = None
    ) -> tuple[Any, int]:
        """GET a FHIR path (relative to the FHIR base URL); return (JSON, body bytes).

        ``max_bytes``: a smaller bound than the client's for this answer (``TooLargeError``)."""
        url = self._resolve(path)
        for attempt in range(2):
            authorization = await self._authorization()
            headers = {"Authorization": authorization} if authorization else {}
            status, content, response = await self._get(url, params, headers, max_bytes)
            if (
                status == 401
                and attempt == 0
                and self._forget_token(
                    authorization[7:] if authorization and authorization.startswith("Bearer ") else None
                )
            ):
                continue  # expired or revoked: one new token, one retry
            return self._check(status, content, response), len(content)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _get(
        self, url: str, params: Params | None, headers: dict[str, str], max_bytes: int | None = None
    ) -> tuple[int, bytes, httpx.Response]:
        limit = self._max_body if max_bytes is None else min(max_bytes, self._max_body)
        try:
            async with self._http.stream(
                "GET", url, params=httpx.QueryParams(cast(Any, params)) if params else None, headers=headers
            ) as response:
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise TooLargeError(f"Response larger than {_size_text(limit)}; not read")
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, url) from None
        content = b"".join(chunks)
        self.stats.note("GET")
        self._note_headers(response)
        return response.status_code, content, response

    def _note_headers(self, response: httpx.Response) -> None:
        info = parse_ratelimit(response.headers.get("ratelimit"))
        if info is not None:
            self.rate_limit = info
        date = response.headers.get("date")
        if date:
            try:
                parsed = email.utils.parsedate_to_datetime(date)
                if parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=UTC)
                parsed = parsed.astimezone(UTC)
            except (TypeError, ValueError, OverflowError):
                return
            # A date near the end of the calendar would overflow once time is added to it.
            if 1970 <= parsed.year <= 9000:
                self._server_clock = (parsed, self._clock())

    @staticmethod
    def _json_or_none(content: bytes) -> Any:
        if not content:
            return None
        try:
            # strict=False: a raw control character inside a string (a buggy server or proxy) is
            # read and sanitized on display, rather than failing every poll that returns it.
            return json.loads(content.decode("utf-8", errors="replace"), strict=False)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            return None

    @staticmethod
    def _outcome_text(body: Any) -> str:
        try:
            return OperationOutcome.model_validate(body).message()
        except ValueError:
            return ""

    @staticmethod
    def _diagnostics(body: Any) -> str:
        try:
            outcome = OperationOutcome.model_validate(body)
        except ValueError:
            return ""
        return "; ".join(issue.diagnostics for issue in outcome.issue or [] if issue.diagnostics)

    def secrets(self) -> list[str]:
        """Every secret this client holds (the configured ones and the access token it fetched),
        so that messages and crash logs can be scrubbed of them."""
        values = self.settings.secrets()
        for value in (self._token, self._refresh):
            if value and value not in values:
                values.append(value)
        return values

    def _scrub(self, text: str) -> str:
        return mask_secrets(text, self.secrets())

    def _describe_body(self, response: httpx.Response, content: bytes, body: Any) -> str:
        if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
            return self._outcome_text(body)
        if not content:
            return "empty response body"
        ctype = response.headers.get("content-type", "").split(";")[0].strip() or "unknown type"
        if body is None:
            return f"the answer was not JSON ({ctype}; maybe a proxy or load balancer)"
        return "unexpected JSON body"

    def _rate_limited(self, response: httpx.Response, body: Any) -> RateLimitedError:
        wait = ms_before_next(body)
        info = parse_ratelimit(response.headers.get("ratelimit"))
        if wait is None and info is not None:
            wait = info.wait_seconds or max((t for _, t in info.policies.values()), default=None)
        if wait is None:
            wait = DEFAULT_RATE_LIMIT_WAIT
        return RateLimitedError(
            f"Rate limited by the server (HTTP 429): waiting {wait:.1f} s before the next request",
            retry_after=max(0.0, wait),
        )

    def _check(self, status: int, content: bytes, response: httpx.Response) -> Any:
        body = self._json_or_none(content)
        if 200 <= status < 300:
            if body is None:
                raise BadResponseError(
                    f"HTTP {status}: {self._describe_body(response, content, body)}", status=status
                )
            return body
        detail = self._scrub(self._describe_body(response, content, body))
        if status == 401:
            raise AuthError(f"Not authorized (HTTP 401): {detail}", status=status)
        if status == 403:
            raise ForbiddenError(f"Forbidden (HTTP 403): {detail}", status=status)
        if status == 404:
            raise NotFoundError(f"Not found (HTTP 404): {detail}", status=status)
        if status == 410:
            raise GoneError(f"Deleted (HTTP 410): {detail}", status=status)
        if status == 429:
            raise self._rate_limited(response, body)
        if status >= 500:
            reason = response.reason_phrase or "server error"
            raise ServerError(
                f"Server error (HTTP {status} {reason}): {detail}",
                status=status,
                diagnostics=self._scrub(self._diagnostics(body)),
            )
        if status in (400, 422):
            raise BadRequestError(f"Bad request (HTTP {status}): {detail}", status=status)
        raise MedplumError(f"Unexpected HTTP {status}: {detail}", status=status)

    def _transport_error(self, exc: httpx.HTTPError, url: str) -> MedplumError:
        host = urlsplit(url).netloc or url
        text = self._scrub(str(exc) or type(exc).__name__)
        if isinstance(exc, httpx.TimeoutException):
            return RequestTimeout(f"Timed out talking to {host} ({type(exc).__name__})")
        if isinstance(exc, httpx.ConnectError):
            # httpx says "All connection attempts failed"; the reason is further down the chain.
            causes = _causes(exc)
            lowered = text.lower()
            tls = next((c for c in causes if isinstance(c, ssl.SSLError)), None)
            if tls is not None or "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
                detail = self._scrub(str(tls)) if tls is not None else text
                return NetworkError(f"TLS error connecting to {host}: {detail}")
            dns = next((c for c in causes if isinstance(c, socket.gaierror)), None)
            if dns is not None or "name or service not known" in lowered or "nodename" in lowered:
                detail = (dns.strerror or str(dns)) if dns is not None else text
                return NetworkError(f"Cannot resolve {host} (DNS): {detail}")
            if any(isinstance(c, ConnectionRefusedError) for c in causes) or "refused" in lowered:
                return NetworkError(f"Connection refused by {host}")
            return NetworkError(f"Cannot connect to {host}: {text}")
        if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
            return ConnectionDroppedError(f"Connection to {host} dropped: {text}")
        if isinstance(exc, httpx.DecodingError):
            return BadResponseError(f"Could not decode the answer from {host}: {text}")
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
            return NetworkError(f"Invalid server URL: {text}")
        return NetworkError(f"HTTP error talking to {host}: {text}")

    # ------------------------------------------------------------------ search

    async def search(self, resource_type: str, params: Params, model: type[R]) -> SearchPage[R]:
        data, nbytes = await self.get_json(resource_type, params)
        return self._page(data, nbytes, model)

    async def next_page(self, page: SearchPage[R], model: type[R]) -> SearchPage[R] | None:
        """Follow ``page``'s ``next`` link (see :meth:`page_path`); ``None`` at the end."""
        if not page.next_url:
            return None
        resource_type = str(model.model_fields["resourceType"].default)
        data, nbytes = await self.get_json(self.page_path(page.next_url, resource_type))
        return self._page(data, nbytes, model)

    @staticmethod
    def _page(data: Any, nbytes: int, model: type[R]) -> SearchPage[R]:
        try:
            page = parse_search_page(data, model)
        except ValueError as exc:
            raise BadResponseError(f"Unexpected search result: {exc}") from None
        page.nbytes = nbytes
        return page

    async def iter_pages(
        self, resource_type: str, params: Params, model: type[R], *, max_pages: int = 1000
    ) -> AsyncIterator[SearchPage[R]]:
        page: SearchPage[R] | None = await self.search(resource_type, params, model)
        seen_urls: set[str] = set()
        pages = 0
        while page is not None:
            yield page
            pages += 1
            if pages >= max_pages or not page.next_url or page.next_url in seen_urls:
                return
            seen_urls.add(page.next_url)
            page = await self.next_page(page, model)

    # ------------------------------------------------------------------ bots

    async def list_bots(self, *, page_size: int = MAX_PAGE_SIZE, name: str | None = None) -> SearchPage[Bot]:
        """Every bot of the project (all pages, merged into one SearchPage), sorted by name."""
        params: list[tuple[str, str]] = [("_count", str(page_size)), ("_sort", "name")]
        if name:
            params.append(("name:contains", name))
        merged: SearchPage[Bot] = SearchPage(resources=[])
        seen: set[str] = set()
        async for page in self.iter_pages("Bot", params, Bot):
            for bot, raw in zip(page.resources, page.raw, strict=True):
                if bot.id not in seen:
                    seen.add(bot.id)
                    merged.resources.append(bot)
                    merged.raw.append(raw)
            merged.invalid += page.invalid
            merged.nbytes += page.nbytes
        return merged

    async def bots_named(self, name: str, *, page_size: int = MAX_PAGE_SIZE) -> SearchPage[Bot]:
        """Bots whose name starts with ``name``, sorted by name: one page (Medplum's ``name`` search is
        a case-insensitive prefix match, so callers filter for the exact name themselves)."""
        params = [("name", name), ("_sort", "name"), ("_count", str(page_size))]
        return await self.search("Bot", params, Bot)

    async def get_bot(self, bot_id: str) -> Bot:
        if not bot_id or "/" in bot_id or "?" in bot_id or "#" in bot_id:
            raise BadRequestError(f"Not a valid bot id: {bot_id!r}")
        data, _ = await self.get_json(f"Bot/{bot_id}")
        if not isinstance(data, dict) or data.get("resourceType") != "Bot":
            got = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
            raise BadResponseError(f"Expected a Bot resource, got {str(got)[:40]}")
        try:
            return Bot.model_validate(data)
        except ValueError:
            raise BadResponseError("The Bot resource could not be read") from None

    async def bot_history(self, bot_id: str) -> list[BotVersion]:
        """The Bot's versions, newest first (``Bot/<id>/_history``: one request, but it costs Medplum
        10 quota units where a read costs 1; the server sends at most its newest 100)."""
        if not bot_id or "/" in bot_id or "?" in bot_id or "#" in bot_id:
            raise BadRequestError(f"Not a valid bot id: {bot_id!r}")
        data, _ = await self.get_json(f"Bot/{bot_id}/_history", max_bytes=MAX_HISTORY_BYTES)
        try:
            return parse_history(data)
        except ValueError as exc:
            raise BadResponseError(f"Unexpected history of Bot/{bot_id}: {exc}") from None

    async def read_reference(self, reference: str, *, max_bytes: int = MAX_RESOURCE_BYTES) -> dict[str, Any]:
        """GET the one resource ``reference`` names (``Type/id``, or ``Type/id/_history/vid``) and
        return its JSON as sent, at most ``max_bytes``.

        The reference comes from a server's answer (a run's entities): anything but a plain
        relative reference is refused before a URL is built (``BadRequestError``). Errors are typed:
        ``ForbiddenError`` (403), ``NotFoundError`` (404), ``GoneError`` (410: deleted),
        ``TooLargeError``; an answer that is not that resource is a ``BadResponseError``."""
        try:
            resource_type, resource_id, version = parse_reference(reference)
        except ValueError:
            raise BadRequestError(f"Not a reference to one resource: {sanitize(reference)[:120]!r}") from None
        path = f"{resource_type}/{resource_id}" + (f"/_history/{version}" if version else "")
        data, _ = await self.get_json(path, max_bytes=max_bytes)
        if not isinstance(data, dict) or data.get("resourceType") != resource_type:
            got = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
            raise BadResponseError(f"Expected {resource_type}/{resource_id}, got {sanitize(got)[:40]}")
        if data.get("id") != resource_id:
            raise BadResponseError(f"Expected {resource_type}/{resource_id}, got another {resource_type}")
        return data

    async def bots_changed_since(self, since: datetime, *, page_size: int = MAX_PAGE_SIZE) -> SearchPage[Bot]:
        """Bots created or edited after ``since`` (one request unless more than a page changed)."""
        params = [
            ("_lastUpdated", "gt" + format_instant(since)),
            ("_sort", "_lastUpdated"),
            ("_count", str(page_size)),
        ]
        merged: SearchPage[Bot] = SearchPage(resources=[])
        async for page in self.iter_pages("Bot", params, Bot, max_pages=10):
            merged.resources.extend(page.resources)
            merged.raw.extend(page.raw)
            merged.invalid += page.invalid
            merged.nbytes += page.nbytes
        return merged

    # ------------------------------------------------------------------ audit events

    @staticmethod
    def event_params(
        bot_id: str | None = None,
        *,
        count: int = 20,
        outcomes: Iterable[str] | None = None,
        since: datetime | None = None,
        newest_first: bool = True,
        execute_only: bool = False,
        total: bool = False,
        elements: Iterable[str] | None = None,
    ) -> list[tuple[str, str]]:
        """Search parameters for AuditEvents; ``elements`` asks for only those properties (``_elements``;
        a server that ignores it sends whole resources, which parse the same)."""
        params: list[tuple[str, str]] = []
        if bot_id is not None:
            params.append(("entity", f"Bot/{bot_id}"))
        if execute_only:
            params.append(("type", "execute"))
        codes = list(outcomes or [])
        if codes:
            params.append(("outcome", ",".join(codes)))
        if since is not None:
            params.append(("_lastUpdated", "ge" + format_instant(since)))
        params.append(("_sort", "-_lastUpdated" if newest_first else "_lastUpdated"))
        params.append(("_count", str(max(0, min(count, MAX_PAGE_SIZE)))))
        if total:
            params.append(("_total", "accurate"))
        fields = list(elements or [])
        if fields:
            params.append(("_elements", ",".join(fields)))
        return params

    async def bot_events(
        self,
        bot_id: str | None,
        *,
        count: int = 20,
        outcomes: Iterable[str] | None = None,
        failed_only: bool = False,
        since: datetime | None = None,
        execute_only: bool = False,
        elements: Iterable[str] | None = None,
    ) -> SearchPage[AuditEvent]:
        """One page of a bot's AuditEvents, newest first (``bot_id=None``: the whole project)."""
        codes = list(FAILURE_CODES) if failed_only else list(outcomes or [])
        params = self.event_params(
            bot_id, count=count, outcomes=codes, since=since, execute_only=execute_only, elements=elements
        )
        return await self.search("AuditEvent", params, AuditEvent)

    async def events_since(
        self,
        cursor: EventCursor,
        *,
        count: int = 100,
        max_pages: int = 10,
        raw: list[dict[str, Any]] | None = None,
    ) -> tuple[list[AuditEvent], bool]:
        """New events after ``cursor`` (oldest first), and whether more remain (``max_pages`` hit).

        ``raw``: a list that gets the JSON of each new event, as the server sent it, in the same order.

        One request when little happened; follows ``next`` (cursor paging) for bursts. Medplum's
        cursor paging refuses a page whose rows all share one timestamp (HTTP 500 "Cursor fails to
        make progress"); the query is then asked again from the watermark with the widest page
        (1,000), which the events already accepted make safe (they are de-duplicated by id).
        """
        new: list[AuditEvent] = []
        pages = 0
        widened = count >= MAX_PAGE_SIZE
        page: SearchPage[AuditEvent] | None = None
        while True:
            try:
                if page is None:
                    params = cursor.params(self.server_now(), count)
                    page = await self.search("AuditEvent", params, AuditEvent)
                else:
                    page = await self.next_page(page, AuditEvent)
            except ServerError as exc:
                if widened or CURSOR_NO_PROGRESS not in exc.diagnostics:
                    raise
                widened, count, page = True, MAX_PAGE_SIZE, None
                continue
            if page is None:
                return new, False
            accepted = cursor.accept(page.resources)
            new.extend(accepted)
            if raw is not None and accepted:
                wanted = {id(event) for event in accepted}
                raw.extend(r for e, r in zip(page.resources, page.raw, strict=True) if id(e) in wanted)
            cursor.unreadable += page.invalid
            pages += 1
            if not page.next_url:
                return new, False
            if pages >= max_pages:
                return new, True
