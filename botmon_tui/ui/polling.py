"""The poll loop of a screen: the next poll is scheduled only when the previous one ended.

``set_interval`` + an exclusive worker starves when a fetch outlasts the interval (each tick
cancels the fetch in flight; docs/architecture.md, "One poll"). Here one poll runs at a time; when it ends,
:class:`~botmon_tui.monitor.schedule.PollSchedule` says how long to wait (the interval, a
backoff, or what the rate limit asks) and a one-shot timer is armed for that.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from textual.dom import DOMNode
from textual.timer import Timer

from botmon_tui.crashlog import CrashLog
from botmon_tui.medplum.errors import MedplumError
from botmon_tui.monitor.schedule import PollSchedule

__all__ = ["Poller"]


class Poller:
    """Runs ``job`` now and then again after the delay the schedule gives, one at a time."""

    def __init__(
        self,
        node: DOMNode,
        job: Callable[[], Awaitable[object]],
        *,
        schedule: PollSchedule,
        crash_log: CrashLog,
        on_done: Callable[[], None],
        auto: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
        what: str = "polling",
    ) -> None:
        self.node = node
        self.job = job
        self.schedule = schedule
        self.crash_log = crash_log
        self.on_done = on_done
        self.auto = auto
        self.monotonic = monotonic
        self.what = what
        self.in_flight = False
        #: When the next poll is due (monotonic), ``None`` when none is scheduled.
        self.due: float | None = None
        #: False while the screen is not shown: no timer is armed.
        self.active = False
        self._again = False
        self._timer: Timer | None = None
        #: A one-line message for a bug caught at the boundary (not a server error).
        self.internal_error: str | None = None

    # ------------------------------------------------------------------ control

    def start(self) -> None:
        """Make active; poll now when the data is stale (or was never loaded)."""
        self.active = True
        if self.in_flight:
            return
        if self.schedule.paused and self.schedule.status.polls > 0:
            return
        due = self.due
        if due is None or due <= self.monotonic():
            self.poll_now()
        else:
            self._arm(due - self.monotonic())

    def stop(self) -> None:
        """The screen is hidden: keep the data, arm no timer (a poll in flight finishes)."""
        self.active = False
        self._cancel_timer()

    def poll_now(self) -> None:
        """Poll at once (``r``); when a poll is in flight, poll again right after it."""
        self._cancel_timer()
        if self.in_flight:
            self._again = True
            return
        self.in_flight = True
        self.node.run_worker(self._run(), group="poll", exit_on_error=False, name=self.what)

    def toggle_pause(self) -> bool:
        paused = self.schedule.toggle_pause()
        if paused:
            self._cancel_timer()
        elif self.active and not self.in_flight:
            if self.due is None or self.due <= self.monotonic():
                self.poll_now()
            else:
                self._arm(self.due - self.monotonic())
        return paused

    def seconds_to_next(self) -> float | None:
        if self.due is None or self.in_flight:
            return None
        return max(0.0, self.due - self.monotonic())

    # ------------------------------------------------------------------ internals

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _arm(self, delay: float) -> None:
        self._cancel_timer()
        if self.active and self.auto and not self.schedule.paused:
            self._timer = self.node.set_timer(max(0.0, delay), self._fire, name=f"{self.what}-next")

    def _fire(self) -> None:
        self._timer = None
        if self.active and not self.schedule.paused:
            self.poll_now()

    async def _run(self) -> None:
        try:
            delay = await self._attempt()
        finally:
            self.in_flight = False
        self.due = self.monotonic() + delay
        try:
            self.on_done()
        except Exception as error:  # a bug in the view update: log it, keep the loop alive
            self.internal_error = self.crash_log.record(error, f"updating the screen after {self.what}")
        if self._again:
            self._again = False
            self.poll_now()
        else:
            self._arm(delay)

    async def _attempt(self) -> float:
        try:
            await self.job()
        except asyncio.CancelledError:
            raise
        except MedplumError as error:
            return self.schedule.failure(error)
        except Exception as error:
            self.internal_error = self.crash_log.record(error, self.what)
            return self.schedule.failure(error)
        self.internal_error = None
        return self.schedule.success()
