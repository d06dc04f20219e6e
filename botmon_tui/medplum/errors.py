"""Typed errors of the Medplum client.

Every message is meant to be shown to a person as one line: it is sanitized, holds no secret
and no traceback. ``str(err)`` is that line.
"""

from __future__ import annotations

from botmon_tui.textsafe import sanitize

__all__ = [
    "AuthError",
    "BadRequestError",
    "BadResponseError",
    "ConnectionDroppedError",
    "ForbiddenError",
    "GoneError",
    "MedplumError",
    "NetworkError",
    "NotFoundError",
    "RateLimitedError",
    "RequestTimeout",
    "ServerError",
    "TooLargeError",
]

_MAX_MESSAGE = 300


def _clean(message: str) -> str:
    text = " ".join(sanitize(message).split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


class MedplumError(Exception):
    """Base of every error the client raises. ``retryable`` says whether polling should retry."""

    retryable: bool = True
    #: A short label for status lines ("server error", "rate limited", ...).
    kind: str = "error"

    def __init__(self, message: str, *, status: int | None = None, diagnostics: str = "") -> None:
        self.message = _clean(message)
        self.status = status
        #: The OperationOutcome's ``diagnostics`` (sanitized, one line), for code that must tell
        #: one server error from another; not shown (it may be a stack trace).
        self.diagnostics = _clean(diagnostics)
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class AuthError(MedplumError):
    """Bad credentials, a refused token request, or a 401 that a fresh token did not fix."""

    retryable = False
    kind = "authentication failed"


class ForbiddenError(MedplumError):
    retryable = False
    kind = "forbidden"


class NotFoundError(MedplumError):
    retryable = False
    kind = "not found"


class GoneError(NotFoundError):
    """410: the resource was deleted (Medplum answers a read of a deleted resource so)."""

    kind = "deleted"


class BadRequestError(MedplumError):
    """A 400 OperationOutcome: the request was wrong (unknown parameter, bad date...)."""

    retryable = False
    kind = "bad request"


class RateLimitedError(MedplumError):
    """429: wait ``retry_after`` seconds (from ``RateLimit`` ``t=`` or ``msBeforeNext``)."""

    kind = "rate limited"

    def __init__(self, message: str, *, retry_after: float, status: int | None = 429) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class ServerError(MedplumError):
    """5xx from the server or a proxy in front of it."""

    kind = "server error"


class BadResponseError(MedplumError):
    """The body was not JSON, or not the shape FHIR promises."""

    kind = "bad response"


class TooLargeError(BadResponseError):
    """The answer was larger than the request allowed: not read."""

    kind = "too large"


class NetworkError(MedplumError):
    """Connection refused, DNS failure, TLS failure, connection dropped."""

    kind = "network error"


class ConnectionDroppedError(NetworkError):
    """The connection closed before the whole answer came (a proxy's idle timeout, a restart, a
    reused connection the server had already closed): asking again usually works."""


class RequestTimeout(MedplumError):
    kind = "timeout"
