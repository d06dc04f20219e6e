"""Access tokens of the demo (JWT-shaped, unsigned for real) and the rate limiters."""

from __future__ import annotations

import base64
import json
import math
import secrets
import threading
import time
from dataclasses import dataclass

__all__ = ["RateLimiter", "RateResult", "TokenStore"]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TokenStore:
    """Issued access tokens. A token is ``ok``, ``expired`` (past its lifetime) or ``invalid`` (unknown)."""

    def __init__(self, issuer: str) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}
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
