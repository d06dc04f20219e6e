"""Access tokens of the demo (JWT-shaped, unsigned for real), logins with rotating refresh tokens,
the checks of the JWT grants (standard library only), and the rate limiters."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

__all__ = [
    "RateLimiter",
    "RateResult",
    "TokenRefused",
    "TokenStore",
    "jwt_parts",
    "verify_hs256",
    "verify_rsa",
]

#: Medplum's default refresh token lifetime (two weeks).
REFRESH_TTL = 14 * 86400

#: DER DigestInfo prefixes of EMSA-PKCS1-v1_5 (RFC 8017, section 9.2), by JWS algorithm.
_RSA_DIGESTS = {
    "RS256": (hashlib.sha256, bytes.fromhex("3031300d060960864801650304020105000420")),
    "RS384": (hashlib.sha384, bytes.fromhex("3041300d060960864801650304020205000430")),
    "RS512": (hashlib.sha512, bytes.fromhex("3051300d060960864801650304020305000440")),
}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    """Base64 or base64url, padded or not (Node's ``Buffer.from(text, 'base64')`` reads both)."""
    text = text.replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=False)


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes] | None:
    """``(header, payload, signing input, signature)`` of a compact JWT, or None when it is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header = json.loads(_b64decode(parts[0]))
        payload = json.loads(_b64decode(parts[1]))
        signature = _b64decode(parts[2])
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        return None
    return header, payload, f"{parts[0]}.{parts[1]}".encode("ascii", "replace"), signature


def verify_hs256(signing_input: bytes, signature: bytes, key: str) -> bool:
    expected = hmac.new(key.encode("utf-8"), signing_input, hashlib.sha256).digest()
    return hmac.compare_digest(expected, signature)


def verify_rsa(alg: str, signing_input: bytes, signature: bytes, jwk: dict[str, str]) -> bool:
    """RSASSA-PKCS1-v1_5 verification with a public JWK (``n``, ``e``), in plain integer arithmetic."""
    if alg not in _RSA_DIGESTS or jwk.get("kty") != "RSA":
        return False
    try:
        n = int.from_bytes(_b64decode(jwk["n"]), "big")
        e = int.from_bytes(_b64decode(jwk["e"]), "big")
    except (KeyError, ValueError, binascii.Error):
        return False
    size = (n.bit_length() + 7) // 8
    if n == 0 or len(signature) != size:
        return False
    decoded = pow(int.from_bytes(signature, "big"), e, n).to_bytes(size, "big")
    hash_function, prefix = _RSA_DIGESTS[alg]
    digest = prefix + hash_function(signing_input).digest()
    if size < len(digest) + 11:
        return False
    expected = b"\x00\x01" + b"\xff" * (size - len(digest) - 3) + b"\x00" + digest
    return hmac.compare_digest(decoded, expected)


class TokenRefused(Exception):
    """A token request refused, as Medplum answers it: ``{"error": error, "error_description": ...}``."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class TokenStore:
    """Issued access tokens. A token is ``ok``, ``expired`` (past its lifetime) or ``invalid`` (unknown)."""

    def __init__(self, issuer: str) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}
        #: login id -> [client id, current refresh secret, revoked]
        self._logins: dict[str, list[Any]] = {}
        self.issuer = issuer

    def issue(self, client_id: str, ttl: float, scope: str, now: float | None = None) -> str:
        now = time.time() if now is None else now
        header = {"alg": "RS256", "kid": "demo", "typ": "JWT"}
        payload = {
            "iss": self.issuer,
            "sub": client_id,
            "client_id": client_id,
            "login_id": secrets.token_hex(16),
            "profile": f"ClientApplication/{client_id}",
            "scope": scope,
            "iat": int(now),
            "exp": int(now + ttl),
        }
        token = ".".join(
            [
                _b64url(json.dumps(header, separators=(",", ":")).encode()),
                _b64url(json.dumps(payload, separators=(",", ":")).encode()),
                _b64url(secrets.token_bytes(64)),
            ]
        )
        with self._lock:
            self._tokens[token] = (client_id, now + ttl)
        return token

    def start_login(
        self, client_id: str, ttl: float, scope: str, now: float | None = None
    ) -> tuple[str, str]:
        """A login with a refresh token (what ``medplum login`` stores): ``(access, refresh)``."""
        login_id = secrets.token_hex(16)
        refresh_secret = secrets.token_hex(32)
        with self._lock:
            self._logins[login_id] = [client_id, refresh_secret, False]
        return self.issue(client_id, ttl, scope, now), self._refresh_token(login_id, refresh_secret, now)

    def _refresh_token(self, login_id: str, refresh_secret: str, now: float | None) -> str:
        now = time.time() if now is None else now
        payload = {
            "iss": self.issuer,
            "login_id": login_id,
            "refresh_secret": refresh_secret,
            "iat": int(now),
            "exp": int(now + REFRESH_TTL),
        }
        return ".".join(
            [
                _b64url(b'{"alg":"ES256","typ":"JWT"}'),
                _b64url(json.dumps(payload, separators=(",", ":")).encode()),
                _b64url(secrets.token_bytes(64)),
            ]
        )

    def refresh(
        self, refresh_token: str, ttl: float, scope: str, now: float | None = None
    ) -> tuple[str, str]:
        """Medplum's ``handleRefreshToken``: ``(access, refresh)`` with the refresh secret rotated (the
        token used is no longer valid); :class:`TokenRefused` as Medplum answers a bad one."""
        now = time.time() if now is None else now
        parts = jwt_parts(refresh_token)
        payload = parts[1] if parts is not None else {}
        login_id, secret = payload.get("login_id"), payload.get("refresh_secret")
        exp = payload.get("exp")
        with self._lock:
            entry = self._logins.get(login_id) if isinstance(login_id, str) else None
            if entry is None or not isinstance(exp, int) or exp <= now or not isinstance(secret, str):
                raise TokenRefused("invalid_request", "Invalid refresh token")
            if entry[2]:
                raise TokenRefused("invalid_grant", "Token revoked")
            if not hmac.compare_digest(entry[1], secret):
                raise TokenRefused("invalid_request", "Invalid token")
            entry[1] = secrets.token_hex(32)
            client_id, new_secret = entry[0], entry[1]
        return self.issue(client_id, ttl, scope, now), self._refresh_token(str(login_id), new_secret, now)

    def revoke_logins(self) -> int:
        """Revoke every login (``Token revoked`` on the next refresh). Returns how many."""
        with self._lock:
            for entry in self._logins.values():
                entry[2] = True
            return len(self._logins)

    def check(self, token: str, now: float | None = None) -> tuple[str, str | None]:
        """``("ok", client_id)``, ``("expired", client_id)`` or ``("invalid", None)``."""
        now = time.time() if now is None else now
        with self._lock:
            entry = self._tokens.get(token)
        if entry is None:
            return "invalid", None
        client_id, expires = entry
        return ("ok" if now < expires else "expired"), client_id

    def expire_all(self, now: float | None = None) -> int:
        """Make every issued token expired (as if its lifetime had passed). Returns how many."""
        now = time.time() if now is None else now
        with self._lock:
            for token, (client_id, expires) in list(self._tokens.items()):
                self._tokens[token] = (client_id, min(expires, now - 1))
            return len(self._tokens)

    def issued(self) -> list[str]:
        """Every token issued and not revoked (tests check that none is ever shown)."""
        with self._lock:
            return list(self._tokens)

    def revoke_all(self) -> int:
        """Forget every issued token (a restart with a new signing key): they become ``invalid``."""
        with self._lock:
            count = len(self._tokens)
            self._tokens.clear()
            return count


@dataclass(frozen=True, slots=True)
class RateResult:
    allowed: bool
    remaining: int
    ms_before_next: int
    consumed: int
    limit: int

    @property
    def reset_seconds(self) -> int:
        return math.ceil(self.ms_before_next / 1000)


class RateLimiter:
    """Fixed one-minute windows per key, like ``rate-limiter-flexible`` (points counted even when refused)."""

    def __init__(self, duration_s: float = 60.0) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, list[float]] = {}  # key -> [window start, consumed]
        self.duration = duration_s

    def consume(self, key: str, points: int, limit: int, now: float | None = None) -> RateResult:
        now = time.monotonic() if now is None else now
        with self._lock:
            window = self._windows.get(key)
            if window is None or now - window[0] >= self.duration:
                window = [now, 0.0]
                self._windows[key] = window
            window[1] += points
            consumed = int(window[1])
            ms = max(0, int((window[0] + self.duration - now) * 1000))
        return RateResult(consumed <= limit, max(0, limit - consumed), ms, consumed, limit)

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
