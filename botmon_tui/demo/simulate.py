"""When the demo's bots run and how each run must end: trigger times and the plan of a history.

Pure functions of a :class:`~botmon_tui.demo.catalog.BotSpec`, a ``random.Random`` and the demo's
"now"; the store turns each :class:`Planned` run into a :class:`Run` (its input, log and timing).

A bot runs on its schedule (``cronTiming`` converted the server's way, or ``cronString``, or a
``Cron`` resource's), at a steady rhythm, in bursts, or at random at a rate that follows a clinic's
day. Its recent history follows its story: the :class:`~botmon_tui.demo.catalog.Episode` stretches,
a calm last hour otherwise (each bot is in the state its story says, not in one a random failure
made), the scripted outcomes and durations of its last runs, and the runs the server itself failed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

from botmon_tui.demo.catalog import BotSpec, Episode
from botmon_tui.demo.consoles import RunLog
from botmon_tui.demo.cron import CronSchedule
from botmon_tui.demo.fhirtime import from_ms, to_ms
from botmon_tui.demo.runtime import Thrown

__all__ = ["BotState", "Planned", "Run", "intensity", "plan_history", "trigger_times"]

T = TypeVar("T")
_MINUTE_MS = 60_000
_HOUR_MS = 3_600_000
_DAY_MS = 86_400_000


@dataclass(slots=True)
class Run:
    """One simulated bot execution (whether or not it leaves an AuditEvent)."""

    outcome: str
    log: str
    start_ms: int
    rec_ms: int
    lu_ms: int
    input_ref: str | None
    sub_ref: str | None
    requestor: str | None
    input_display: str | None = None
    sub_display: str | None = None
    who_display: str | None = None
    trace: tuple[str, str] | None = None
    #: The recipe of a log not written yet (``log`` is then "").
    recipe: RunLog | None = None


@dataclass(slots=True)
class Planned:
    """One run of a generated history, and what its end must be (None: decided at random)."""

    t_ms: int
    #: "ok", "crash" or "timeout"; None: at random, by the bot's ``fail_rate``.
    failure: str | None = None
    thrown: Thrown | None = None
    #: An outcome code the script decided ("8" and "12" on the older server).
    outcome: str | None = None
    #: The execution time (ms) the script decided.
    exec_ms: int | None = None
    special: str | None = None
    server_failure: str | None = None


@dataclass(slots=True)
class BotState:
    """A bot's simulation state: its spec, random stream, Subscription and live story."""

    spec: BotSpec
    rng: random.Random
    subscription: str | None
    #: The Subscription's display (its criteria), as the AuditEvent's entity writes it.
    sub_display: str | None = None
    #: The ``Cron`` resource that runs the bot (its runs' input).
    cron_ref: str | None = None
    runs: int = 0
    #: The story still going on when live mode starts (``Episode.live_s``) and when it ends.
    live_episode: Episode | None = None
    live_until_ms: int = 0
    #: The fix deploy of a ``fixed_by_deploy`` episode is still to come.
    fix_pending: bool = False


def intensity(t_ms: int) -> float:
    """Share of the peak trigger rate at this time of day (a US-Eastern clinic's day)."""
    hour = (t_ms // _HOUR_MS - 5) % 24
    if 8 <= hour < 18:
        return 1.0
    if 18 <= hour < 23:
        return 0.45
    if 6 <= hour < 8:
        return 0.6
    return 0.15


def trigger_times(spec: BotSpec, rng: random.Random, start: int, end: int) -> Iterator[int]:
    """When the bot is asked to run in ``[start, end)`` (epoch ms), in order."""
    schedule = spec.schedule
    if schedule:
        for at in CronSchedule.parse(schedule).between(from_ms(start), from_ms(end)):
            yield to_ms(at) + rng.randint(150, 1500)  # a scheduled job starts a little late
        return
    if spec.every_s:
        period = int(spec.every_s * 1000)
        t = (start // period + 1) * period + rng.randint(0, period - 1)
        while t < end:
            yield t
            t += period + int(rng.uniform(-0.07, 0.07) * period)
        return
    if spec.bursty:
        yield from _bursts(rng, start, end)
        return
    if spec.rate_per_hour <= 0:
        return
    mean_gap = _HOUR_MS / spec.rate_per_hour
    t = start
    while True:
        t += int(rng.expovariate(1.0) * mean_gap) + 1
        if t >= end:
            return
        if rng.random() <= intensity(t):
            yield t


def _bursts(rng: random.Random, start: int, end: int) -> Iterator[int]:
    """Clinic sessions: 2-6 runs a minute or two apart, then a pause of a quarter of an hour to
    hours (longer out of hours)."""
    t = start + rng.randint(0, 30 * _MINUTE_MS)
    while t < end:
        for _ in range(rng.randint(2, 6)):
            if t >= end:
                return
            yield t
            t += rng.randint(20_000, 150_000)
        busy = intensity(t)
        mean = 50 * _MINUTE_MS if busy >= 1.0 else 160 * _MINUTE_MS
        t += max(15 * _MINUTE_MS, min(int(rng.expovariate(1.0) * mean), 6 * _HOUR_MS))


def plan_history(spec: BotSpec, rng: random.Random, begin: int, now: int) -> list[Planned]:
    """The runs of ``spec`` from ``begin`` to ``now`` and how each must end."""
    stop = now - int(spec.stopped_min * _MINUTE_MS) if spec.stopped_min is not None else now
    times = list(trigger_times(spec, rng, begin, min(stop, now)))
    counted = [ep for ep in spec.episodes if ep.count]
    if counted:
        windows = [_window(ep, now) for ep in counted]
        times = [t for t in times if not any(lo <= t < hi for lo, hi in windows)]
        for ep, (lo, hi) in zip(counted, windows, strict=True):
            assert ep.count is not None
            step = (hi - lo) / ep.count
            for i in range(ep.count):
                t = int(lo + (i + 0.5) * step + rng.uniform(-0.15, 0.15) * step)
                if begin <= t < min(stop, now):
                    times.append(t)
        times.sort()
    plans = [Planned(t) for t in times]
    calm_from = now - int(spec.calm_min * _MINUTE_MS)
    for plan in plans:
        episode = next((ep for ep in spec.episodes if _inside(plan.t_ms, ep, now)), None)
        if episode is not None:
            plan.failure, plan.thrown = episode.outcome, episode.thrown
        elif plan.t_ms >= calm_from:
            plan.failure = "ok"
    if spec.logs == "legacy" and len(plans) > 12:
        # One bridge run echoes a hostile frame (OSC 52, a title change, text that looks like markup).
        plans[-12].special, plans[-12].outcome = "hostile", "8"
    for plan, outcome in _last(plans, spec.last_outcomes):
        plan.outcome, plan.failure = outcome, None
    for plan, seconds in _last(plans, spec.last_durations_s):
        plan.exec_ms = int(seconds * 1000)
    for days_ago, message in spec.server_failures:
        at = now - int(days_ago * _DAY_MS)
        nearest = min(plans, key=lambda p: abs(p.t_ms - at), default=None)
        if nearest is not None and abs(nearest.t_ms - at) < _HOUR_MS:
            nearest.server_failure, nearest.failure = message, None
    return plans


def _last(plans: list[Planned], script: tuple[T, ...]) -> list[tuple[Planned, T]]:
    """The last runs paired with the end of ``script`` (oldest first)."""
    k = min(len(plans), len(script))
    return list(zip(plans[len(plans) - k :], script[len(script) - k :], strict=True))


def _window(ep: Episode, now: int) -> tuple[int, int]:
    return now - int(ep.start_min * _MINUTE_MS), now - int(ep.end_min * _MINUTE_MS)


def _inside(t_ms: int, ep: Episode, now: int) -> bool:
    lo, hi = _window(ep, now)
    return lo <= t_ms < hi or (ep.end_min <= 1 and t_ms >= lo)
