"""Request handling of the demo server: one :class:`Request` in, one :class:`Response` out.

Kept apart from the socket code so the Medplum behaviour reads in one place. Routes:

* ``POST /oauth2/token`` (form-encoded only): client credentials (secret in the form or HTTP Basic, or
  a client assertion checked against ``DemoConfig.client_jwk``), ``refresh_token`` (with rotation),
  and the jwt-bearer grant (an HS256 assertion signed with the client secret, as ``medplum login``
  builds it for ``authType: jwt-bearer``; the Medplum server source read for the notes has no handler
  for this grant, so its checks follow RFC 7523: signature, ``aud`` = the token URL, ``exp``/``nbf``)
* ``GET /healthcheck``, ``GET /fhir/R4/metadata`` (no authentication)
* ``GET /auth/me``
* ``GET /fhir/R4/Bot``, ``/fhir/R4/Bot/<id>``, ``/fhir/R4/AuditEvent``, ``/fhir/R4/AuditEvent/<id>``
  (also ``POST <type>/_search`` with a form body), ``POST /fhir/R4/Bot/<id>/$execute``
* ``GET /fhir/R4/<Type>/<id>/_history`` (a history Bundle, newest first; ``versions.py``) and
  ``GET /fhir/R4/<Type>/<id>/_history/<versionId>``, for Bots and the resources runs reference
* ``GET /fhir/R4/<Type>/<id>`` of the resources runs reference (``resources.py``): inputs, Subscriptions;
  403 for a type the demo client's access policy does not grant, 404, 410 for a deleted one
* ``POST /demo/run?bot=NAME_OR_ID&outcome=4``: **demo only**, not Medplum's API: a run of a bot now
  (a failure on cue, to try ``botmon-tui status``)
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import json
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from botmon_tui.demo import outcomes
from botmon_tui.demo.auth import (
    RateLimiter,
    RateResult,
    TokenRefused,
    TokenStore,
    jwt_parts,
    verify_hs256,
    verify_rsa,
)
from botmon_tui.demo.faults import Fault, Faults
from botmon_tui.demo.fhirtime import format_ms, from_ms, now_ms, parse_search_instant_us
from botmon_tui.demo.resources import FORBIDDEN_TYPES, READABLE_TYPES
from botmon_tui.demo.search import (
    AUDIT_EVENT_PARAMS,
    BOT_PARAMS,
    MANDATORY_PROPERTIES,
    ParamDef,
    SearchError,
    SearchRequest,
    SearchResult,
    build_links,
    execute,
    js_parse_int,
    parse_search,
    split_on_comma,
    subset,
)
from botmon_tui.demo.store import DemoStore, Index, writes_audit_event
from botmon_tui.demo.versions import DEFAULT_HISTORY_COUNT, Version, history_bundle

if TYPE_CHECKING:
    from botmon_tui.demo.config import DemoConfig

__all__ = ["DemoApp", "Request", "Response"]

JsonDict = dict[str, Any]

FHIR_JSON = "application/fhir+json; charset=utf-8"
JSON = "application/json; charset=utf-8"
FHIR_PREFIX = "/fhir/R4/"
#: Demo only (not Medplum's API): store a run of a bot now, e.g. a failure (see ``DemoApp._demo_run``).
DEMO_RUN_PATH = "/demo/run"
TOKEN_PATH = "/oauth2/token"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: FHIR interaction costs (Medplum's ``FhirQuotaCost``).
COST_READ, COST_HISTORY, COST_SEARCH, COST_WRITE = 1, 10, 20, 100

#: Resource types the demo answers for besides Bot and AuditEvent: reads of the resources runs
#: reference (``resources.py``), 403 for the types the demo client may not read; searches are empty.
OTHER_TYPES = READABLE_TYPES | FORBIDDEN_TYPES


@dataclass(slots=True)
class Request:
    method: str
    #: Path and query exactly as received.
    target: str
    headers: Mapping[str, str]
    body: bytes
    client: str


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    #: How the socket layer sends it: "normal", "drop", "truncate" or "hang".
    mode: str = "normal"
    #: The status line's reason phrase (None: the standard one).
    reason: str | None = None


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _json(status: int, obj: Any, headers: list[tuple[str, str]], content_type: str = FHIR_JSON) -> Response:
    return Response(status, _dumps(obj), [("Content-Type", content_type), *headers])


def _form_fields(req: Request) -> list[tuple[str, str]] | None:
    """The body's fields when it is form-encoded (``application/x-www-form-urlencoded``), else None."""
    content_type = (req.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return None
    return parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True)


def _html_page(status: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return (
        f"<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {phrase}</h1></center>\r\n<hr><center>awselb/2.0</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


class DemoApp:
    """The Medplum-compatible behaviour, shared by every connection thread."""

    def __init__(
        self,
        cfg: DemoConfig,
        store: DemoStore,
        faults: Faults,
        tokens: TokenStore,
        stop: threading.Event,
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.faults = faults
        self.tokens = tokens
        self.stop = stop
        #: The bound port (set by the server once listening), for links when a request has no Host.
        self.port: int | None = cfg.port
        #: "https" when the server speaks TLS (for the links it writes).
        self.scheme = "http"
        self.requests_limiter = RateLimiter()
        self.fhir_limiter = RateLimiter()
        self.errors: list[str] = []

    # ------------------------------------------------------------------ entry point

    def handle(self, req: Request) -> Response:
        if self.faults.latency > 0:
            self.stop.wait(self.faults.latency)
        fault = self.faults.take(req.target)
        if fault is not None:
            if fault.latency > 0:
                self.stop.wait(fault.latency)
            if fault.kind == "restart":
                self.tokens.revoke_all()
                return Response(0, mode="drop")
            if fault.kind in ("status", "malformed", "html", "empty", "drop"):
                resp = self._fault_response(fault, req)
                resp.reason = fault.reason
                resp.headers.extend(fault.headers)
                return resp
        resp = self._handle(req)
        if fault is not None and fault.kind == "truncated":
            resp.mode = "truncate"
        elif fault is not None and fault.kind == "hang":
            resp.mode = "hang"
        return resp

    def _handle(self, req: Request) -> Response:
        try:
            return self._route(req)
        except Exception as exc:  # a bug in the demo: answer like Medplum's error handler
            self.errors.append(traceback.format_exc())
            return _json(500, outcomes.server_error(f"Error: {exc}"), [])

    # ------------------------------------------------------------------ rate limits

    def _requests_limit(self, req: Request, path: str) -> tuple[RateResult, tuple[str, str]]:
        is_auth = path != "/auth/me" and (path.startswith("/auth/") or path.startswith("/oauth2/"))
        limit = self.cfg.auth_rate_limit if is_auth else self.cfg.requests_rate_limit
        result = self.requests_limiter.consume(req.client + (":auth" if is_auth else ""), 1, limit)
        return result, ("RateLimit", f'"requests";r={result.remaining};t={result.reset_seconds}')

    @staticmethod
    def _fhir_header(result: RateResult) -> tuple[str, str]:
        return ("RateLimit", f'"fhirInteractions";r={result.remaining};t={result.reset_seconds}')

    # ------------------------------------------------------------------ faults

    def _fault_response(self, fault: Fault, req: Request) -> Response:
        path = req.target.split("?", 1)[0]
        if fault.kind == "drop":
            return Response(0, mode="drop")
        if fault.kind == "html":
            body = fault.body if fault.body is not None else _html_page(fault.status)
            return Response(fault.status, body, [("Content-Type", fault.content_type or "text/html")])
        if fault.kind == "empty":
            headers = [("Content-Type", fault.content_type)] if fault.content_type else []
            return Response(fault.status, fault.body or b"", headers)
        _, requests_header = self._requests_limit(req, path)
        headers = [requests_header]
        if fault.kind == "malformed":
            body = (
                fault.body
                if fault.body is not None
                else b'{"resourceType":"Bundle","type":"searchset","entry":[{"fullUrl":'
            )
            return Response(fault.status, body, [("Content-Type", fault.content_type or FHIR_JSON), *headers])
        if fault.status == 429:
            ms = fault.ms_before_next if fault.ms_before_next is not None else 1500
            limit = self.cfg.rate_limit
            if path.startswith(FHIR_PREFIX):
                headers.append(("RateLimit", f'"fhirInteractions";r=0;t={-(-ms // 1000)}'))
            outcome: Any = outcomes.too_many_requests(ms, limit + COST_SEARCH, limit)
        else:
            outcome = outcomes.for_status(fault.status)
        if fault.body is not None:
            # A server that echoes what it was sent: "{authorization}" becomes the request's header.
            echoed = (req.headers.get("Authorization") or "").encode("latin-1", "replace")
            body = fault.body.replace(b"{authorization}", echoed)
            return Response(fault.status, body, [("Content-Type", fault.content_type or FHIR_JSON), *headers])
        return _json(fault.status, outcome, headers, fault.content_type or FHIR_JSON)

    # ------------------------------------------------------------------ routing

    def _route(self, req: Request) -> Response:
        path, _, query = req.target.partition("?")
        limit, limit_header = self._requests_limit(req, path)
        headers = [limit_header]
        if not limit.allowed:
            return _json(
                429, outcomes.too_many_requests(limit.ms_before_next, limit.consumed, limit.limit), headers
            )
        method = "GET" if req.method == "HEAD" else req.method
        if path == "/oauth2/token":
            if method != "POST":
                return _json(404, outcomes.NOT_FOUND, headers, JSON)
            return self._token(req, headers)
        if path == "/healthcheck" and method == "GET":
            return _json(200, {"ok": True, "version": "demo", "postgres": True, "redis": True}, headers, JSON)
        if path == "/fhir/R4/metadata" and method == "GET":
            return _json(200, self._capabilities(), headers)
        if path == "/auth/me" and method == "GET":
            client, denied = self._authenticate(req, headers)
            if denied is not None:
                return denied
            return _json(200, self._me(client or ""), headers, JSON)
        if path.startswith(FHIR_PREFIX):
            return self._fhir(req, method, path[len(FHIR_PREFIX) :], query, headers)
        if path == DEMO_RUN_PATH:
            return self._demo_run(req, method, query, headers)
        return _json(404, outcomes.NOT_FOUND, headers, JSON)

    # ------------------------------------------------------------------ demo only

    def _demo_run(self, req: Request, method: str, query: str, headers: list[tuple[str, str]]) -> Response:
        """``POST /demo/run?bot=NAME_OR_ID[&outcome=4][&desc=TEXT]``: one run of a bot, now.

        **Demo only: no Medplum server has this route** (it is outside ``/fhir/R4/`` on purpose). It
        lets a person or a script make a bot fail on cue, e.g. to try ``botmon-tui status`` or
        ``events --follow``. The same credentials as the FHIR API; the bot's audit settings decide
        whether an AuditEvent is written, as after a real run. Answers 201 with the AuditEvent, or
        200 ``{"auditEvent": null, ...}`` when the settings write none.
        """
        if method != "POST":
            return _json(405, outcomes.for_status(405), headers)
        _client, denied = self._authenticate(req, headers)
        if denied is not None:
            return denied
        form = dict(parse_qsl(query, keep_blank_values=True))
        form.update(_form_fields(req) or [])
        ref, outcome = form.get("bot", ""), form.get("outcome", "4")
        bot = self.store.bot(ref) or self.store.bot(self.store.bot_id(ref) or "")
        if bot is None:
            missing = outcomes.bad_request(f"No bot with the id or name {ref[:100]!r}")
            return _json(404, missing, headers, JSON)
        if outcome not in ("0", "4", "8", "12"):
            return _json(400, outcomes.bad_request("outcome is one of 0, 4, 8, 12"), headers, JSON)
        desc = form.get("desc") or (
            "demo run (POST /demo/run)"
            if outcome == "0"
            else "Error: a failure asked for with POST /demo/run\n    at handler (index.ts:12:11)"
        )
        if not writes_audit_event(bot, outcome, desc):
            body = {"auditEvent": None, "reason": "the bot's auditEventTrigger/auditEventDestination"}
            return _json(200, body, headers, JSON)
        return _json(201, self.store.add_event(bot["id"], outcome=outcome, desc=desc), headers)

    # ------------------------------------------------------------------ OAuth

    def _token(self, req: Request, headers: list[tuple[str, str]]) -> Response:
        fields = _form_fields(req)
        if fields is None or not req.body:
            return Response(
                400, b"Unsupported content type", [("Content-Type", "text/html; charset=utf-8"), *headers]
            )
        form: dict[str, str] = {}
        for key, value in fields:
            form.setdefault(key, value)

        def error(description: str, code: str = "invalid_request") -> Response:
            return _json(400, outcomes.oauth_error(code, description), headers, JSON)

        grant = form.get("grant_type", "")
        if not grant:
            return error("Missing grant_type")
        if grant == "authorization_code":
            return error("Missing code" if not form.get("code") else "Invalid code")
        if grant == "refresh_token":
            if not form.get("refresh_token"):
                return error("Invalid refresh token")
            try:
                access, refresh = self.tokens.refresh(
                    form["refresh_token"], self.cfg.token_ttl, "openid offline"
                )
            except TokenRefused as refused:
                return error(refused.description, refused.error)
            return self._token_response(self.cfg.client_id, "openid offline", access, headers, refresh)
        if grant == JWT_BEARER_GRANT:
            client_id, problem = self._jwt_bearer(req, form)
        elif grant == "client_credentials":
            client_id, problem = self._client_credentials(req, form)
        else:
            return error("Unsupported grant_type")
        if problem:
            return error(problem)
        scope = form.get("scope") or "openid"
        token = self.tokens.issue(client_id, self.cfg.token_ttl, scope)
        return self._token_response(client_id, scope, token, headers)

    def _token_response(
        self,
        client_id: str,
        scope: str,
        token: str,
        headers: list[tuple[str, str]],
        refresh_token: str | None = None,
    ) -> Response:
        body = {
            "token_type": "Bearer",
            "expires_in": self.cfg.token_ttl,
            "scope": scope,
            "access_token": token,
            "refresh_token": refresh_token,
            "project": {"reference": f"Project/{self.store.project_id}"},
            "profile": {"reference": f"ClientApplication/{client_id}", "display": "botmon-tui demo client"},
            "need_patient_banner": False,
        }
        if refresh_token is None:
            del body["refresh_token"]
        return _json(200, body, [*headers, ("Cache-Control", "no-store"), ("Pragma", "no-cache")], JSON)

    def token_url(self, req: Request) -> str:
        """The token URL as the server knows it (Medplum's ``config.tokenUrl``)."""
        return self._public_base(req) + TOKEN_PATH[1:]

    def _client_credentials(self, req: Request, form: dict[str, str]) -> tuple[str, str]:
        """Medplum's ``getClientIdAndSecret`` + secret check: ``(client id, "")`` or ``("", error)``."""
        if form.get("client_assertion_type"):
            return self._client_assertion(req, form)
        auth = req.headers.get("Authorization")
        if auth:
            if not auth.startswith("Basic "):
                return "", "Invalid authorization header"
            client_id, client_secret = _basic_credentials(auth.split(" ", 2)[1] if " " in auth else "")
        else:
            client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        if not client_id:
            return "", "Missing client_id"
        if not client_secret:
            return "", "Missing client_secret"
        if client_id != self.cfg.client_id:
            return "", "Invalid client"
        if client_secret != self.cfg.client_secret:
            return "", "Invalid secret"
        return client_id, ""

    def _client_assertion(self, req: Request, form: dict[str, str]) -> tuple[str, str]:
        """Medplum's ``parseClientAssertion`` (private_key_jwt), with the key of ``cfg.client_jwk``."""
        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
            return "", "Unsupported client assertion type"
        parts = jwt_parts(form.get("client_assertion", ""))
        if parts is None:
            return "", "Invalid client assertion"
        header, claims, signing_input, signature = parts
        if claims.get("aud") != self.token_url(req):
            return "", "Invalid client assertion audience"
        if claims.get("iss") != claims.get("sub"):
            return "", "Invalid client assertion issuer"
        if claims.get("iss") != self.cfg.client_id:
            return "", "Client not found"
        if self.cfg.client_jwk is None:
            return "", "Client must have a JWK Set URL"
        exp = claims.get("exp")
        if not verify_rsa(str(header.get("alg")), signing_input, signature, self.cfg.client_jwk) or (
            isinstance(exp, int) and exp <= now_ms() // 1000
        ):
            return "", "Invalid client assertion signature"
        return self.cfg.client_id, ""

    def _jwt_bearer(self, req: Request, form: dict[str, str]) -> tuple[str, str]:
        """The jwt-bearer grant (RFC 7523 section 2.1) with the CLI's HS256 assertion."""
        client_id = form.get("client_id", "")
        assertion = form.get("assertion", "")
        if not client_id:
            return "", "Missing client_id"
        if not assertion:
            return "", "Missing assertion"
        if client_id != self.cfg.client_id:
            return "", "Invalid client"
        parts = jwt_parts(assertion)
        if parts is None:
            return "", "Invalid assertion"
        header, claims, signing_input, signature = parts
        if header.get("alg") != "HS256" or not verify_hs256(signing_input, signature, self.cfg.client_secret):
            return "", "Invalid assertion signature"
        if claims.get("aud") != self.token_url(req):
            return "", "Invalid assertion audience"
        now = now_ms() // 1000
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, int) or exp <= now or (isinstance(nbf, int) and nbf > now + 60):
            return "", "Assertion expired"
        return client_id, ""

    def _authenticate(
        self, req: Request, headers: list[tuple[str, str]]
    ) -> tuple[str | None, Response | None]:
        """The client id of a valid Bearer token or Basic credentials, or the 401 to send."""
        auth = req.headers.get("Authorization") or ""
        kind, _, credential = auth.partition(" ")
        if kind == "Bearer" and credential:
            state, client = self.tokens.check(credential.split(" ", 1)[0])
            if state == "ok":
                return client, None
            if state == "expired":
                return None, _json(401, outcomes.TOKEN_EXPIRED, headers)
        elif kind == "Basic" and credential:
            client_id, secret = _basic_credentials(credential.split(" ", 1)[0])
            if client_id and secret and client_id == self.cfg.client_id and secret == self.cfg.client_secret:
                return client_id, None
        return None, _json(401, outcomes.UNAUTHORIZED, headers)

    def _me(self, client_id: str) -> JsonDict:
        project = {"resourceType": "Project", "id": self.store.project_id, "name": "Demo Clinic"}
        return {
            "user": {"resourceType": "ClientApplication", "id": client_id, "name": "botmon-tui demo client"},
            "project": project,
            "membership": {
                "resourceType": "ProjectMembership",
                "project": {"reference": f"Project/{self.store.project_id}", "display": "Demo Clinic"},
                "profile": {"reference": f"ClientApplication/{client_id}"},
                # Why some reads are 403: the policy grants no billing types (resources.FORBIDDEN_TYPES).
                "accessPolicy": {"reference": self.store.access_policy, "display": "botmon read-only"},
            },
            "profile": {
                "resourceType": "ClientApplication",
                "id": client_id,
                "name": "botmon-tui demo client",
            },
        }

    # ------------------------------------------------------------------ FHIR

    def _fhir(
        self, req: Request, method: str, rest: str, query: str, headers: list[tuple[str, str]]
    ) -> Response:
        client, denied = self._authenticate(req, headers)
        if denied is not None:
            return denied
        parts = [unquote(p) for p in rest.split("/") if p]
        if not parts:
            return _json(404, outcomes.NOT_FOUND, headers)
        rtype = parts[0]
        is_search = len(parts) == 1 or (len(parts) == 2 and parts[1] == "_search" and method == "POST")
        is_history = len(parts) == 3 and parts[2] == "_history"
        if is_search:
            cost = COST_SEARCH
        elif method != "GET":
            cost = COST_WRITE
        else:
            cost = COST_HISTORY if is_history else COST_READ
        quota = self.fhir_limiter.consume(client or "", cost, self.cfg.rate_limit)
        headers = [*headers, self._fhir_header(quota)]
        if not quota.allowed:
            return _json(
                429, outcomes.too_many_requests(quota.ms_before_next, quota.consumed, quota.limit), headers
            )
        if rtype not in ("Bot", "AuditEvent") and rtype not in OTHER_TYPES:
            return _json(400, outcomes.bad_request(f"Unsupported resource type: {rtype}"), headers)
        base = self._fhir_base(req)
        if is_search:
            pairs = parse_qsl(query, keep_blank_values=True)
            if method == "POST":
                pairs += _form_fields(req) or []
            elif method != "GET":
                return _json(405, outcomes.for_status(405), headers)
            if rtype in FORBIDDEN_TYPES:
                return _json(403, outcomes.FORBIDDEN, headers)
            return self._search(rtype, pairs, base, headers)
        if len(parts) == 2:
            if method != "GET":
                return _json(405, outcomes.for_status(405), headers)
            return self._read(rtype, parts[1], headers)
        if is_history or (len(parts) == 4 and parts[2] == "_history"):
            if method != "GET":
                return _json(405, outcomes.for_status(405), headers)
            pairs = parse_qsl(query, keep_blank_values=True)
            return self._history(rtype, parts[1], parts[3] if len(parts) == 4 else None, pairs, base, headers)
        if len(parts) == 3 and rtype == "Bot" and parts[2] == "$execute":
            if method != "POST":
                return _json(405, outcomes.for_status(405), headers)
            return self._execute(parts[1], headers)
        return _json(404, outcomes.NOT_FOUND, headers)

    def _public_base(self, req: Request) -> str:
        """The base URL the server writes into links and tokens: ``cfg.public_base_url`` (a server
        behind a port-forward or proxy), else the address the client connected to."""
        if self.cfg.public_base_url:
            return self.cfg.public_base_url
        host = req.headers.get("Host") or f"127.0.0.1:{self.port or 80}"
        return f"{self.scheme}://{host}/"

    def _fhir_base(self, req: Request) -> str:
        return self._public_base(req) + FHIR_PREFIX[1:]

    def _read(self, rtype: str, resource_id: str, headers: list[tuple[str, str]]) -> Response:
        resource: JsonDict | None = None
        if rtype == "Bot":
            resource = self.store.bot(resource_id)
            if resource is None and self.store.bot_state(resource_id) == "deleted":
                return _json(410, outcomes.GONE, headers)
        elif rtype == "AuditEvent":
            resource = self.store.event(resource_id)
        else:
            status, body = self.store.read_resource(rtype, resource_id)
            if status != 200:
                return _json(status, body, headers)
            resource = body
        if resource is None:
            return _json(404, outcomes.NOT_FOUND, headers)
        return self._resource_response(resource, headers)

    def _resource_response(self, resource: JsonDict, headers: list[tuple[str, str]]) -> Response:
        """200 with ``resource``, its ``ETag`` (``W/"<versionId>"``) and ``Last-Modified``."""
        meta = resource.get("meta") or {}
        extra = list(headers)
        if isinstance(meta.get("versionId"), str):
            extra.append(("ETag", f'W/"{meta["versionId"]}"'))
        last = meta.get("lastUpdated")
        if isinstance(last, str):
            try:
                when = from_ms(parse_search_instant_us(last) // 1000)
                extra.append(("Last-Modified", email.utils.format_datetime(when, usegmt=True)))
            except ValueError:
                pass
        return _json(200, resource, extra)

    def _history(
        self,
        rtype: str,
        resource_id: str,
        version_id: str | None,
        pairs: list[tuple[str, str]],
        base: str,
        headers: list[tuple[str, str]],
    ) -> Response:
        """``<Type>/<id>/_history`` (a page of versions, newest first) or ``/_history/<vid>``."""
        versions: list[Version]
        if rtype == "Bot":
            found = self.store.bot_history(resource_id)
            if found is None:
                return _json(404, outcomes.NOT_FOUND, headers)
            versions = found
        elif rtype == "AuditEvent":
            record = self.store.event_record(resource_id)
            event = self.store.event(resource_id)
            if record is None or event is None:
                return _json(404, outcomes.NOT_FOUND, headers)
            version_id = (event.get("meta") or {}).get("versionId") or resource_id
            versions = [Version(str(version_id), record.lu_ms, event)]
        else:
            status, answer = self.store.resource_history(rtype, resource_id)
            if isinstance(answer, dict):
                return _json(status, answer, headers)
            versions = answer
        if version_id is not None:  # vread
            for version in versions:
                if version.version_id == version_id and version.resource is not None:
                    return self._resource_response(version.resource, headers)
            return _json(404, outcomes.NOT_FOUND, headers)
        query = dict(pairs)
        count = js_parse_int(query["_count"]) if "_count" in query else None
        offset = js_parse_int(query.get("_offset", "0")) or 0
        if offset > self.cfg.max_offset:
            message = f"Search offset exceeds maximum (got {offset}, max {self.cfg.max_offset})"
            return _json(400, outcomes.bad_request(message), headers)
        bundle = history_bundle(
            rtype,
            resource_id,
            versions,
            base,
            count=DEFAULT_HISTORY_COUNT if count is None else count,
            offset=offset,
        )
        return _json(200, bundle, headers)

    def _search(
        self, rtype: str, pairs: list[tuple[str, str]], base: str, headers: list[tuple[str, str]]
    ) -> Response:
        params: dict[str, ParamDef] = AUDIT_EVENT_PARAMS if rtype == "AuditEvent" else BOT_PARAMS
        try:
            if rtype in OTHER_TYPES:
                req = parse_search(rtype, [(k, v) for k, v in pairs if k.startswith("_")], {})
                result = SearchResult([], None, 0 if req.total in ("accurate", "estimate") else None)
            else:
                req = parse_search(rtype, pairs, params, max_offset=self.cfg.max_offset)
                result = self._run_search(rtype, req, params)
            links = build_links(req, result, base)
        except SearchError as exc:
            return _json(exc.status, exc.outcome, headers)
        project = self.store.project_id
        mandatory = MANDATORY_PROPERTIES.get(rtype, ())
        entries: list[JsonDict] = []
        # A compact AuditEvent's log is computed: not when ``_elements`` would drop it anyway.
        log = rtype != "AuditEvent" or not req.fields or "outcomeDesc" in req.fields
        for rec in result.records:
            resource = rec.view(project) if log else rec.view(project, log=False)
            if req.fields:
                resource = subset(resource, req.fields, mandatory)
            entries.append(
                {"fullUrl": f"{base}{rtype}/{rec.id}", "search": {"mode": "match"}, "resource": resource}
            )
        bundle: JsonDict = {"resourceType": "Bundle", "type": "searchset"}
        if entries:
            bundle["entry"] = entries
        if result.total is not None:
            bundle["total"] = result.total
        bundle["link"] = links
        return _json(200, bundle, headers)

    def _run_search(self, rtype: str, req: SearchRequest, params: dict[str, ParamDef]) -> SearchResult:
        now_us = now_ms() * 1000
        with self.store.lock:
            if rtype == "Bot":
                return execute(req, Index(self.store.bot_records()), req.filters, params, now_us=now_us)
            index, rest = self._plan_events(req)
            return execute(req, index, rest, params, now_us=now_us)

    def _plan_events(self, req: SearchRequest) -> tuple[Index, list[Any]]:
        """Pick the narrowest index: one Bot's events when ``entity`` or ``source`` names a single Bot."""
        for f in req.filters:
            if f.code not in ("entity", "source") or f.op != "eq" or f.param is None:
                continue
            values = split_on_comma(f.value)
            if len(values) != 1 or not values[0].startswith("Bot/") or "/" in values[0][4:]:
                continue
            bot_id = values[0][4:]
            lookup: Callable[[str], Index | None] = (
                self.store.entity_index if f.code == "entity" else self.store.source_index
            )
            index = lookup(bot_id) or Index()
            return index, [g for g in req.filters if g is not f]
        return self.store.all_events, list(req.filters)

    def _execute(self, bot_id: str, headers: list[tuple[str, str]]) -> Response:
        try:
            run, _event = self.store.execute_bot(bot_id)
        except KeyError:
            return _json(404, outcomes.NOT_FOUND, headers)
        if run.outcome == "0":
            return _json(200, {"ok": True, "log": run.log}, headers, JSON)
        return _json(400, outcomes.bad_request(run.log or "Bot failed"), headers)

    def _capabilities(self) -> JsonDict:
        def resource(rtype: str, params: dict[str, ParamDef]) -> JsonDict:
            return {
                "type": rtype,
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "searchParam": [
                    {"name": p.code, "type": "token" if p.type == "id" else p.type} for p in params.values()
                ],
            }

        return {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": format_ms(self.store.present_ms),
            "kind": "instance",
            "software": {"name": "botmon-tui demo server (Medplum-compatible)", "version": "demo"},
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "rest": [
                {
                    "mode": "server",
                    "resource": [resource("Bot", BOT_PARAMS), resource("AuditEvent", AUDIT_EVENT_PARAMS)],
                }
            ],
        }


def _basic_credentials(encoded: str) -> tuple[str, str]:
    """``id:secret`` from a Basic credential (Node's lenient base64, ASCII, split on ``:``)."""
    try:
        text = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=False).decode(
            "ascii", "replace"
        )
    except (binascii.Error, ValueError):
        return "", ""
    parts = text.split(":")
    return parts[0], parts[1] if len(parts) > 1 else ""
