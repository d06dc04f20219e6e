"""Settings of the embedded demo backend."""

from __future__ import annotations

import hashlib
from dataclasses import InitVar, dataclass
from datetime import datetime

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "DemoConfig"]


class _Unset:
    """No value given (for an old keyword kept for callers of the time it had another name)."""


_UNSET = _Unset()

#: Fixed demo credentials. Medplum's ClientApplication ids are UUIDs and its secrets 64 hex digits.
DEFAULT_CLIENT_ID = "de300000-0000-4000-8000-000000000001"
DEFAULT_CLIENT_SECRET = hashlib.sha256(b"botmon-tui demo client secret").hexdigest()


@dataclass(frozen=True, slots=True)
class DemoConfig:
    """How the demo server behaves. Every field has a default: ``DemoConfig()`` is a lively demo."""

    #: Seed of everything generated: bots, ids, run times, outcomes, logs.
    seed: int = 42
    #: The present of the generated history (aware UTC); None = the real current time.
    now: datetime | None = None
    #: How far back the generated history goes.
    history_days: float = 5.0
    #: Keep running bots on their schedules in a background thread (a new event every few seconds).
    live: bool = True
    #: Live mode runs bots ``live_speed`` times as often.
    live_speed: float = 1.0
    #: Live runs fail this fraction as often as the generated history's (a bot's ``fail_rate``): the
    #: history shows plenty to triage, and a live failure (an alert) comes every minute or two
    #: across the project instead of every ~20 s.
    live_fail_scale: float = 0.3
    #: Add this many generated bots (e.g. 1000 for benchmarks).
    extra_bots: int = 0
    #: When > 0, add the bot ``bulk-importer`` with this many events (e.g. 100_000 for benchmarks).
    big_bot_events: int = 0
    #: Typical size (bytes) of the ``bulk-importer``'s logs, spread realistically up to the 10 KiB cap
    #: (see ``catalog.bulk_log``); 0 = one short line each.
    big_bot_log_bytes: int = 0
    #: Lifetime of issued access tokens (seconds); also the token response's ``expires_in``.
    token_ttl: int = 3600
    #: FHIR interaction units per minute per client (Medplum's ``defaultFhirQuota``; a search costs 20).
    rate_limit: int = 50_000
    #: Requests per minute per IP outside the auth endpoints (Medplum's default 60,000).
    requests_rate_limit: int = 60_000
    #: Requests per minute per IP to ``/oauth2/*`` and ``/auth/*`` (Medplum's default 160).
    auth_rate_limit: int = 160
    #: Port to bind on 127.0.0.1; None = a free port.
    port: int | None = None
    #: ``outcomeDesc`` keeps the last this many characters of a run's output (Medplum's
    #: ``maxBotLogLengthForResource``, 10 × 1,024); None = all of it.
    max_log_chars: int | None = 10 * 1024
    #: Largest ``_offset`` accepted (Medplum's ``maxSearchOffset``).
    max_offset: int = 10_000
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    #: The demo client's public key as a JWK (``{"kty": "RSA", "n": ..., "e": ...}``), for client
    #: assertions (Medplum fetches it from the ClientApplication's ``jwksUri``); None = not set up.
    client_jwk: dict[str, str] | None = None
    #: The server's configured public base URL (Medplum's ``baseUrl``/``issuer``), as behind a
    #: port-forward or reverse proxy: Bundle links and token ``iss`` name it instead of the address
    #: the client connected to. None = the address connected to.
    public_base_url: str | None = None
    #: Print one line per request to stderr (the ``demo-server`` command).
    verbose: bool = False
    #: The ``Date`` header tells :attr:`now` plus the time since the server was made, not the real
    #: time: a quiet demo (``live=False``) whose clock is its stories' present, for a process (the
    #: command line) that reads "now" from the server (late and quiet bots, issue #17).
    date_from_now: bool = False

    #: The old name of ``max_log_chars`` (it counted bytes): given, it sets ``max_log_chars``.
    max_log_bytes: InitVar[int | _Unset | None] = _UNSET

    def __post_init__(self, max_log_bytes: int | _Unset | None) -> None:
        if not isinstance(max_log_bytes, _Unset):
            object.__setattr__(self, "max_log_chars", max_log_bytes)
        if self.now is not None and self.now.tzinfo is None:
            raise ValueError("DemoConfig.now must be timezone-aware (UTC)")
        if min(self.history_days, self.extra_bots, self.big_bot_events, self.big_bot_log_bytes) < 0:
            raise ValueError(
                "history_days, extra_bots, big_bot_events and big_bot_log_bytes must not be negative"
            )
        if self.live_speed <= 0:
            raise ValueError("live_speed must be positive")
        if self.public_base_url is not None and not self.public_base_url.endswith("/"):
            raise ValueError("public_base_url must end with '/'")
