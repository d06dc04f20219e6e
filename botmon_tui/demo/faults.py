"""Fault injection for tests: failing, slow, garbled or vanishing responses.

``srv.faults.add(...)`` queues a fault; the next request whose path contains ``path_contains`` (any request
when None) gets it, ``count`` times (None = until cleared). Kinds:

========== =====================================================================================
status     answer ``status`` (default 500) with Medplum's OperationOutcome for it (or ``body``)
malformed  answer ``status`` (default 200) with a JSON body cut off in the middle (or ``body``)
truncated  process the request, send the full ``Content-Length`` but only half the body, close
html       answer ``status`` (default 200: a proxy's login page) with an HTML page (or ``body``)
empty      answer ``status`` (default 200) with an empty body
drop       close the connection without answering
hang       process the request, send the headers and half the body, then stall until the client gives
           up, the server stops, or 30 s pass
delay      answer normally after ``latency`` seconds
expire_tokens  invalidate every issued token at once (applied when added; the next call gets 401
           ``Token expired``)
restart    a server restart hitting this request: every issued token is forgotten (the next call with
           one gets 401 ``Unauthorized``, as after a key rotation) and the connection is closed unanswered
========== =====================================================================================

A ``status`` fault's ``body`` may hold ``{authorization}``: it becomes the request's
``Authorization`` header (a server that echoes credentials in its errors).
``reason`` sets the status line's reason phrase (e.g. a proxy's own text), ``content_type`` the
``Content-Type`` header and ``headers`` adds headers (a ``Date`` given here replaces the server's)
to the responses of status, malformed, html and empty faults.

``latency`` (seconds) delays any fault; ``faults.latency`` delays every request.
Fault responses from "the server itself" (status, malformed, truncated, hang, delay) carry the
``RateLimit`` header; the proxy-style ones (html, empty, drop) do not.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["KINDS", "Fault", "Faults"]

KINDS = (
    "status",
    "malformed",
    "truncated",
    "html",
    "empty",
    "drop",
    "hang",
    "delay",
    "expire_tokens",
    "restart",
)
_DEFAULT_STATUS = {"status": 500}
HANG_CAP_SECONDS = 30.0


@dataclass
class Fault:
    kind: str
    status: int
    body: bytes | None
    content_type: str | None
    remaining: int | None
    path_contains: str | None
    latency: float
    #: Requests this fault has answered so far.
    hits: int = 0
    #: For ``rate_limited``: the ``msBeforeNext`` to report.
    ms_before_next: int | None = None
    #: The status line's reason phrase (None: the standard one).
    reason: str | None = None
    #: Extra response headers.
    headers: tuple[tuple[str, str], ...] = ()

    def matches(self, path: str) -> bool:
        return self.path_contains is None or self.path_contains in path


class Faults:
    """Thread-safe queue of faults (first added, first served)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        #: Seconds added before every response.
        self.latency: float = 0.0
        self._expire_tokens: Callable[[], object] | None = None

    def _bind(self, expire_tokens: Callable[[], object]) -> None:
        self._expire_tokens = expire_tokens

    def add(
        self,
        status: int | None = None,
        body: str | bytes | None = None,
        content_type: str | None = None,
        count: int | None = 1,
        path_contains: str | None = None,
        latency: float = 0.0,
        kind: str = "status",
        reason: str | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> Fault:
        """Queue a fault (see the module docstring). Returns it, so tests can read ``hits``."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
        if count is not None and count < 1:
            raise ValueError("count must be >= 1 (or None for forever)")
        if latency < 0:
            raise ValueError("latency must not be negative")
        data = body.encode("utf-8") if isinstance(body, str) else body
        fault = Fault(
            kind,
            status if status is not None else _DEFAULT_STATUS.get(kind, 200),
            data,
            content_type,
            count,
            path_contains,
            latency,
            reason=reason,
            headers=tuple(headers),
        )
        if kind == "expire_tokens":
            if self._expire_tokens is not None:
                self._expire_tokens()
            fault.hits = 1
            return fault
        with self._lock:
            self._faults.append(fault)
        return fault

    def rate_limited(
        self, ms_before_next: int = 1500, count: int | None = 1, path_contains: str | None = None
    ) -> Fault:
        """Queue Medplum's exact 429 (``too-many-requests`` OperationOutcome, ``RateLimit`` header, no
        ``Retry-After``) saying the quota resets in ``ms_before_next`` ms."""
        fault = self.add(status=429, count=count, path_contains=path_contains)
        fault.ms_before_next = int(ms_before_next)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
        self.latency = 0.0

    @property
    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, path: str) -> Fault | None:
        """The fault for a request to ``path`` (used up by one), or None."""
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.matches(path):
                    fault.hits += 1
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            del self._faults[i]
                    return fault
        return None
