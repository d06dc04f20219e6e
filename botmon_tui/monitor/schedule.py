"""When to poll next: the interval after a success, backoff after a failure, rate limits honoured.

The caller schedules the next poll only after the previous one ended (never a fixed interval
timer that could start a poll while one is still in flight).

A monitor must notice that the server is back: after a failure the wait grows from
``FIRST_BACKOFF`` (or a quarter of the interval) by doubling, but never beyond the interval
itself nor beyond ``max_backoff`` (60 s): polling recovers within one interval of the server
coming back, and an outage never costs more requests than normal polling. Each wait is
shortened by up to ``JITTER`` at random (``jitter``, injected in tests), so that many clients
cut off together do not come back in step. An error that retrying will not fix (bad credentials,
forbidden, not found) is retried every ``max_backoff`` (and at once on ``r``). A rate limit is
waited out as long as the server asks, up to ``max_backoff``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from botmon_tui.medplum.errors import MedplumError, RateLimitedError

__all__ = ["MAX_BACKOFF", "PollSchedule", "PollStatus"]

#: Delay after the first failure; doubles up to the interval (and ``max_backoff``).
FIRST_BACKOFF = 2.0
#: The longest wait after any failure.
MAX_BACKOFF = 60.0
#: Each wait after a failure is shortened by up to this fraction, at random.
JITTER = 0.25


@dataclass
class PollStatus:
    last_success: datetime | None = None
    last_error: MedplumError | str | None = None
    errors_in_a_row: int = 0
    next_delay: float = 0.0
    recovered: bool = False
    polls: int = 0

    @property
    def ok(self) -> bool:
        return self.last_error is None

    @property
    def error_text(self) -> str | None:
        return None if self.last_error is None else str(self.last_error)


class PollSchedule:
    """Decides the delay before the next poll. Deterministic: inject the clocks in tests."""

    def __init__(
        self,
        interval: float = 10.0,
        *,
        max_backoff: float = MAX_BACKOFF,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        jitter: Callable[[], float] = random.random,
    ) -> None:
        """``jitter()``: a number in [0, 1) (``random.random``; a constant in tests)."""
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.interval = float(interval)
        self.max_backoff = max(float(max_backoff), FIRST_BACKOFF)
        self._jitter = jitter
        self.paused = False
        self._clock = clock
        self._wall = wall
        self.status = PollStatus()
        self._not_before = 0.0

    def success(self) -> float:
        """Record a good poll; return the delay until the next one (the interval)."""
        status = self.status
        if status.errors_in_a_row:
            status.recovered = True
        status.errors_in_a_row = 0
        status.last_error = None
        status.last_success = self._wall()
        status.polls += 1
        status.next_delay = self.interval
        return max(self.interval, self.wait_needed())

    def failure(self, err: BaseException) -> float:
        """Record a failed poll; return the delay before retrying."""
        status = self.status
        status.errors_in_a_row += 1
        status.polls += 1
        status.recovered = False
        status.last_error = (
            err if isinstance(err, MedplumError) else f"Unexpected error: {type(err).__name__}"
        )
        if isinstance(err, RateLimitedError):
            # As long as the server asks, but never longer than the longest backoff (a broken
            # answer must not stop polling): after that a new request gets a new answer.
            delay = min(max(err.retry_after, 0.5), self.max_backoff)
            self._not_before = self._clock() + delay
        elif isinstance(err, MedplumError) and not err.retryable:
            delay = self._jittered(self.max_backoff)
        else:
            ceiling = min(self.max_backoff, max(self.interval, FIRST_BACKOFF))
            delay = min(
                ceiling, max(FIRST_BACKOFF, self.interval / 4) * 2 ** min(status.errors_in_a_row - 1, 30)
            )
            delay = self._jittered(max(delay, min(self.interval, FIRST_BACKOFF)))
        status.next_delay = delay
        return delay

    def _jittered(self, delay: float) -> float:
        fraction = min(max(self._jitter(), 0.0), 1.0)
        return delay * (1.0 - JITTER * fraction)

    def wait_needed(self) -> float:
        """Seconds still to wait because the server asked us to (0 when free to go)."""
        return max(0.0, self._not_before - self._clock())

    def toggle_pause(self) -> bool:
        self.paused = not self.paused
        return self.paused

    def take_recovered(self) -> bool:
        recovered, self.status.recovered = self.status.recovered, False
        return recovered
