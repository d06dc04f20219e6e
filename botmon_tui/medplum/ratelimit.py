"""Medplum's ``RateLimit`` header and 429 bodies."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_WAIT_SECONDS", "RateLimitInfo", "ms_before_next", "parse_ratelimit"]

#: Longest wait taken from a server (Medplum's windows are one minute; anything past an hour is
#: a broken or hostile answer, and ``inf`` would stop polling for good).
MAX_WAIT_SECONDS = 3600.0

_ITEM_RE = re.compile(r'"?([A-Za-z0-9_-]+)"?\s*;\s*r\s*=\s*(-?\d+)\s*;\s*t\s*=\s*(\d+(?:\.\d+)?)')


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """``policy name -> (remaining, seconds to reset)`` as the server last reported it."""

    policies: dict[str, tuple[int, float]]

    @property
    def wait_seconds(self) -> float:
        """Seconds until every exhausted policy resets (0 when none is exhausted)."""
        waits = [reset for remaining, reset in self.policies.values() if remaining <= 0]
        return max(waits, default=0.0)


def parse_ratelimit(value: str | None) -> RateLimitInfo | None:
    """Parse ``"requests";r=59;t=12, "fhirInteractions";r=49980;t=12``; ``None`` if absent/unreadable."""
    if not value:
        return None
    policies = {
        m.group(1): (int(m.group(2)), min(float(m.group(3)), MAX_WAIT_SECONDS))
        for m in _ITEM_RE.finditer(value[:1000])
    }
    return RateLimitInfo(policies) if policies else None


def ms_before_next(outcome: Any) -> float | None:
    """``msBeforeNext`` from a 429 OperationOutcome's ``diagnostics`` JSON string, in seconds.

    Medplum writes ``{"_remainingPoints":0,"_msBeforeNext":1500,...}``; ``msBeforeNext`` is accepted too.
    """
    if not isinstance(outcome, dict):
        return None
    issues = outcome.get("issue")
    if not isinstance(issues, list):
        return None
    for issue in issues:
        diagnostics = issue.get("diagnostics") if isinstance(issue, dict) else None
        if not isinstance(diagnostics, str):
            continue
        try:
            data = json.loads(diagnostics)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        # Medplum serializes rate-limiter-flexible's RateLimiterRes: its fields have a leading "_".
        value = data.get("_msBeforeNext", data.get("msBeforeNext"))
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return min(float(value) / 1000.0, MAX_WAIT_SECONDS)  # also turns inf into the cap
    return None
