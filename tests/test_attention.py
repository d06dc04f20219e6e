"""What needs attention first: the bot list's order, its "failing now" and its history strip
(the monitor layer, no UI)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from botmon_tui.medplum.models import AuditEvent, Bot, format_instant
from botmon_tui.monitor.incidents import Incident
from botmon_tui.monitor.summary import HISTORY_RUNS, BotStatus, attention_key

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


def bot(name: str, **fields: Any) -> Bot:
    return Bot.model_validate({"resourceType": "Bot", "id": f"id-{name}", "name": name, **fields})


def run(bot_id: str, outcome: str, minutes_ago: float, event_id: str | None = None) -> AuditEvent:
    when = format_instant(NOW - timedelta(minutes=minutes_ago))
    return AuditEvent.model_validate(
        {
            "resourceType": "AuditEvent",
            "id": event_id or f"{bot_id}-{outcome}-{minutes_ago}",
            "meta": {"lastUpdated": when},
            "outcome": outcome,
            "entity": [{"what": {"reference": f"Bot/{bot_id}"}}],
        }
    )


def status(name: str, *runs: tuple[str, float], failures: int = 0, **fields: Any) -> BotStatus:
    """A bot with ``runs`` (outcome, minutes ago) seen, and ``failures`` in the last 24 h."""
    state = BotStatus(bot=bot(name, **fields))
    for outcome, minutes in runs:
        event = run(state.bot.id, outcome, minutes)
        state.note_history(event)
        if state.last_run is None or (event.when and event.when >= state.last_run):
            state.last_event = event
    for number in range(failures):
        state.failed_runs.append((NOW - timedelta(minutes=number), f"f{number}"))
    return state


def order(*statuses: BotStatus) -> list[str]:
    return [s.bot.display_name for s in sorted(statuses, key=attention_key)]


def test_attention_order_failing_then_failures_then_recent_then_silent_then_the_rest() -> None:
    bots = [
        status("quiet", ("0", 600)),
        status("busy", ("0", 1)),
        status("never-ran"),
        status("log-only", auditEventDestination=["log"]),
        status("never-trigger", auditEventTrigger="never"),
        status("recovered-many", ("8", 10), ("0", 5), failures=7),
        status("recovered-few", ("8", 10), ("0", 2), failures=1),
        status("failing-old", ("4", 300), failures=1),
        status("failing-new", ("12", 3), failures=1),
        status("failing-many", ("8", 400), failures=30),
    ]
    assert order(*bots) == [
        # Last run failed: the most failures first, then the most recent run.
        "failing-many",
        "failing-new",
        "failing-old",
        # Failures in the last 24 h, last run fine: the most failures first.
        "recovered-many",
        "recovered-few",
        # Settings that write no AuditEvents (cannot be watched).
        "log-only",
        "never-trigger",
        # The rest, the most recent run first.
        "busy",
        "quiet",
        "never-ran",
    ]


def test_a_bot_recording_only_failures_is_not_failing_now() -> None:
    # auditEventTrigger "on-error": its successes leave no trace, so its last recorded run is
    # always a failure; it still comes first for its failures, but is not "failing now".
    on_error = status("on-error", ("4", 30), failures=3, auditEventTrigger="on-error")
    failing = status("failing", ("4", 60), failures=1)
    assert not on_error.failing_now and failing.failing_now
    assert order(on_error, failing, status("fine", ("0", 1))) == ["failing", "on-error", "fine"]
    # Once its state is evaluated, that decides: failing for an hour after its newest failure, as
    # the State column, the summary and `status` say (so the mark, the order and the heading agree).
    on_error.incident = Incident("failing")
    fine_now = status("fine-now", ("4", 2))
    fine_now.incident = Incident("recovered")
    assert on_error.failing_now and not fine_now.failing_now
    assert order(fine_now, failing, on_error)[0] == "on-error"  # (the most failures among failing)
    # Unknown codes and a missing outcome are not failures here (alerts use 4, 8 and 12).
    assert not status("odd", ("7", 1)).failing_now
    assert not BotStatus(bot=bot("none")).failing_now


def test_history_keeps_the_newest_runs_in_time_order_once_each() -> None:
    state = BotStatus(bot=bot("b"))
    events = [run("id-b", "0" if n % 3 else "8", minutes_ago=100 - n, event_id=f"e{n}") for n in range(30)]
    # Out of order and with repeats: what a `ge` poll window and a late commit can deliver.
    for event in [*events[20:], *events[:20], events[29], events[25]]:
        state.note_history(event)
    assert len(state.history) == HISTORY_RUNS
    assert [key[1] for key, _ in state.history] == [f"e{n}" for n in range(30 - HISTORY_RUNS, 30)]
    assert "".join(info.symbol for info in state.history_outcomes) == "".join(
        "✓" if n % 3 else "✗" for n in range(30 - HISTORY_RUNS, 30)
    )
