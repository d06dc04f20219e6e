"""OperationOutcomes and OAuth errors exactly as Medplum writes them (``@medplum/core`` outcomes.ts).

Medplum gives each well-known outcome an ``id`` that decides the HTTP status (``unauthorized`` → 401,
``forbidden`` → 403, ``not-found`` → 404, ``too-many-requests`` → 429); ``badRequest`` outcomes have no
id (400), and ``serverError`` uses issue code ``exception`` (500).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "ALL_OK",
    "FORBIDDEN",
    "GONE",
    "NOT_FOUND",
    "TOKEN_EXPIRED",
    "UNAUTHORIZED",
    "bad_request",
    "deleted_on",
    "for_status",
    "oauth_error",
    "server_error",
    "too_many_requests",
]

JsonDict = dict[str, Any]


def _issue(code: str, text: str, severity: str = "error", diagnostics: str | None = None) -> JsonDict:
    issue: JsonDict = {"severity": severity, "code": code, "details": {"text": text}}
    if diagnostics is not None:
        issue["diagnostics"] = diagnostics
    return issue


def _outcome(outcome_id: str | None, *issues: JsonDict) -> JsonDict:
    result: JsonDict = {"resourceType": "OperationOutcome"}
    if outcome_id is not None:
        result["id"] = outcome_id
    result["issue"] = list(issues)
    return result


UNAUTHORIZED: JsonDict = _outcome("unauthorized", _issue("login", "Unauthorized"))
#: ``unauthorizedTokenExpired``: the ``unauthorized`` outcome plus a second issue.
TOKEN_EXPIRED: JsonDict = _outcome(
    "unauthorized", _issue("login", "Unauthorized"), _issue("expired", "Token expired")
)
FORBIDDEN: JsonDict = _outcome("forbidden", _issue("forbidden", "Forbidden"))
NOT_FOUND: JsonDict = _outcome("not-found", _issue("not-found", "Not found"))
#: A read of a deleted resource (the repository's ``gone``): 410.
GONE: JsonDict = _outcome("gone", _issue("deleted", "Gone"))
#: ``allOk``: the outcome of each live version in a history Bundle.
ALL_OK: JsonDict = _outcome("allok", _issue("informational", "All OK", severity="information"))

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def deleted_on(when: datetime) -> JsonDict:
    """The outcome of a deleted version in a history Bundle: ``'Deleted on ' + row.lastUpdated``.

    The row's ``lastUpdated`` is a JavaScript ``Date`` there, so the text is its ``toString()``
    (in the server's time zone, UTC on Medplum's deployments):
    ``Deleted on Fri Mar 14 2025 11:25:00 GMT+0000 (Coordinated Universal Time)``.
    """
    at = when.astimezone(UTC)
    text = (
        f"Deleted on {_DAYS[at.weekday()]} {_MONTHS[at.month - 1]} {at.day:02d} {at.year} "
        f"{at:%H:%M:%S} GMT+0000 (Coordinated Universal Time)"
    )
    return _outcome("gone", _issue("deleted", text))


def bad_request(text: str) -> JsonDict:
    return _outcome(None, _issue("invalid", text))


def server_error(diagnostics: str = "Error: Internal server error") -> JsonDict:
    return _outcome(None, _issue("exception", "Internal server error", diagnostics=diagnostics))


def too_many_requests(ms_before_next: int, consumed: int, limit: int) -> JsonDict:
    """Medplum's 429: ``diagnostics`` is ``JSON.stringify({...rateLimiterRes, limit})``.

    ``rateLimiterRes`` is a ``RateLimiterRes`` whose values live in underscored fields (the public names are
    getters), and the object spread copies those own fields, so the real text reads
    ``{"_remainingPoints":0,"_msBeforeNext":1234,"_consumedPoints":50020,"_isFirstInDuration":false,"limit":50000}``.
    """
    diagnostics = json.dumps(
        {
            "_remainingPoints": 0,
            "_msBeforeNext": int(ms_before_next),
            "_consumedPoints": int(consumed),
            "_isFirstInDuration": False,
            "limit": int(limit),
        },
        separators=(",", ":"),
    )
    return _outcome("too-many-requests", _issue("throttled", "Too Many Requests", diagnostics=diagnostics))


_STATUS_OUTCOMES: dict[int, tuple[str | None, str, str]] = {
    400: (None, "invalid", "Bad Request"),
    401: ("unauthorized", "login", "Unauthorized"),
    403: ("forbidden", "forbidden", "Forbidden"),
    404: ("not-found", "not-found", "Not found"),
    405: (None, "not-supported", "Method not allowed"),
    409: ("conflict", "conflict", "Conflict"),
    410: ("gone", "deleted", "Gone"),
    412: ("precondition-failed", "processing", "Precondition Failed"),
    500: (None, "exception", "Internal server error"),
    502: (None, "exception", "Bad Gateway"),
    503: (None, "transient", "Service Unavailable"),
    504: ("server-timeout", "timeout", "Server timeout"),
}


def for_status(status: int) -> JsonDict:
    """The OperationOutcome Medplum (or the demo) sends with ``status``."""
    if status == 429:
        return too_many_requests(1500, 50_020, 50_000)
    outcome_id, code, text = _STATUS_OUTCOMES.get(
        status, (None, "exception" if status >= 500 else "invalid", f"HTTP {status}")
    )
    if status == 500:
        return server_error()
    return _outcome(outcome_id, _issue(code, text))


def oauth_error(error: str, description: str | None) -> JsonDict:
    """``sendTokenError``: ``{"error": ..., "error_description": ...}`` (the description may be absent)."""
    result: JsonDict = {"error": error}
    if description is not None:
        result["error_description"] = description
    return result
