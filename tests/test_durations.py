"""Durations against the bot's timeout (monitor/durations.py), and spans in a few characters."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from botmon_tui.medplum.models import AuditEvent, Bot
from botmon_tui.monitor.durations import (
    DEFAULT_TIMEOUT,
    MAX_DURATIONS,
    DurationStats,
    bot_timeout,
    compact_span,
    duration_seconds,
    duration_stats,
    includes_queue_wait,
    quantile,
    run_timing,
)


def bot(**fields: Any) -> Bot:
    return Bot.model_validate({"id": "b1", **fields})


def run(seconds: float | None, outcome: str = "0", *, subscription: bool = False) -> AuditEvent:
    entity: list[dict[str, Any]] = [
        {"what": {"reference": "Bot/b1"}, "role": {"code": "4", "display": "Domain"}},
        {"what": {"reference": "Patient/p1"}, "role": {"code": "1", "display": "Patient"}},
    ]
    if subscription:
        entity.append(
            {"what": {"reference": "Subscription/s1"}, "role": {"code": "9", "display": "Subscriber"}}
        )
    period = {"start": "2025-03-14T09:26:50.000Z"}
    if seconds is not None:
        end = 50 + seconds
        period["end"] = f"2025-03-14T09:{26 + int(end // 60):02d}:{end % 60:06.3f}Z"
    return AuditEvent.model_validate(
        {"resourceType": "AuditEvent", "id": "e1", "outcome": outcome, "period": period, "entity": entity}
    )


@pytest.mark.parametrize(
    ("fields", "seconds"),
    [
        ({}, DEFAULT_TIMEOUT),  # unset: 10 s
        ({"runtimeVersion": "vmcontext"}, 10.0),  # vmcontext: 10,000 ms when unset
        ({"runtimeVersion": "awslambda"}, 10.0),
        ({"timeout": 30}, 30.0),
        ({"timeout": 2.5}, 2.5),
        ({"timeout": 0}, 10.0),  # not a timeout: the default
        ({"timeout": -4}, 10.0),
        ({"runtimeVersion": "awslambda", "timeout": 2000}, 900.0),  # Lambda's longest
        ({"runtimeVersion": "vmcontext", "timeout": 2000}, 2000.0),
    ],
)
def test_bot_timeout(fields: dict[str, Any], seconds: float) -> None:
    assert bot_timeout(bot(**fields)) == seconds


def test_duration_of_a_run() -> None:
    assert duration_seconds(run(4.25)) == pytest.approx(4.25)
    assert duration_seconds(run(None)) is None  # no period.end
    backwards = AuditEvent.model_validate(
        {
            "resourceType": "AuditEvent",
            "id": "e2",
            "period": {"start": "2025-03-14T09:26:54.000Z", "end": "2025-03-14T09:26:50.000Z"},
        }
    )
    assert duration_seconds(backwards) is None


@pytest.mark.parametrize(
    ("seconds", "outcome", "near", "timed_out"),
    [
        (7.9, "0", False, False),
        (8.0, "0", True, False),  # 80 %: near its timeout
        (9.6, "0", True, False),  # a success is never a timeout
        (9.4, "4", True, False),  # a failure under 95 %: near, not a timeout
        (9.5, "4", False, True),  # a failure at 95 %: kind "timeout" (how a Lambda timeout looks)
        (10.02, "4", False, True),
        (10.0, "8", False, True),
    ],
)
def test_near_timeout_and_timed_out(seconds: float, outcome: str, near: bool, timed_out: bool) -> None:
    timing = run_timing(run(seconds, outcome), bot())
    assert timing.timeout == 10.0
    assert timing.fraction == pytest.approx(seconds / 10.0)
    assert (timing.near_timeout, timing.timed_out) == (near, timed_out)
    assert not timing.queue_wait


def test_a_run_of_unknown_duration_is_neither() -> None:
    timing = run_timing(run(None, "4"), bot())
    assert (timing.duration, timing.fraction, timing.near_timeout, timing.timed_out) == (
        None,
        None,
        False,
        False,
    )


def test_a_subscription_run_includes_queue_wait() -> None:
    """period.start is when the triggering resource changed: the duration includes the queue."""
    queued = run(12.0, "0", subscription=True)
    assert includes_queue_wait(queued)
    timing = run_timing(queued, bot())
    assert timing.queue_wait and timing.fraction == pytest.approx(1.2)
    assert not includes_queue_wait(run(1.0))  # a cron or $execute run


def test_quantile_interpolates() -> None:
    assert quantile([1.0], 0.95) == 1.0
    assert quantile([1.0, 2.0], 0.5) == 1.5
    assert quantile([0.0, 10.0, 20.0, 30.0, 40.0], 0.95) == pytest.approx(38.0)
    with pytest.raises(ValueError):
        quantile([], 0.5)


def test_duration_stats() -> None:
    stats = duration_stats([0.5, 1.0, None, 2.0, -3.0, 4.0, float("nan"), 100.0])
    assert (stats.count, stats.p50) == (5, 2.0)
    assert stats.p95 == pytest.approx(80.8)
    assert duration_stats([]) == DurationStats(0, None, None)
    assert duration_stats([None, None]) == DurationStats(0, None, None)


def test_duration_stats_read_a_bounded_number() -> None:
    endless = (float(i % 10) for i in range(10**9))
    stats = duration_stats(endless)
    assert stats.count == MAX_DURATIONS
    first_two = duration_stats([5.0, 1.0, 9.0], limit=2)
    assert (first_two.count, first_two.p50) == (2, 3.0)
    assert first_two.p95 == pytest.approx(4.8)


def test_durations_of_runs() -> None:
    events = [run(1.0), run(None), run(3.0), run(2.0)]
    stats = duration_stats(duration_seconds(e) for e in events)
    assert stats.count == 3
    assert stats.p50 == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (float("inf"), "—"),
        (-5, "0s"),
        (0, "0s"),
        (45.9, "45s"),
        (60, "1m"),
        (90, "1m 30s"),
        (42 * 60 + 59, "42m"),  # cut down: late 42m, not 43m
        (2 * 3600, "2h"),
        (2 * 3600 + 5 * 60, "2h 05m"),
        (12 * 3600 + 5 * 60, "12h"),
        (3 * 86400, "3d"),
        (3 * 86400 + 4 * 3600, "3d 4h"),
        (29 * 86400 + 86399, "29d"),
        (timedelta(hours=1).total_seconds(), "1h"),
    ],
)
def test_compact_span(seconds: float | None, text: str) -> None:
    assert compact_span(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (59.6, "1m"),
        (89.4, "1m 29s"),
        (299.6, "5m"),
        (5400.0, "1h 30m"),
        (6 * 3600 + 125, "6h 02m"),
        (3 * 86400 + 4000, "3d 1h"),
    ],
)
def test_compact_span_about(seconds: float, text: str) -> None:
    assert compact_span(seconds, about=True) == text
