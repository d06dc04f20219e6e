"""Why a bot shows no AuditEvents, explained from its own settings (no request needed)."""

from __future__ import annotations

from dataclasses import dataclass

from botmon_tui.medplum.models import Bot
from botmon_tui.textsafe import clip

__all__ = ["DOCS_URL", "NoEventsReason", "explain_no_events"]

#: Medplum's page on a bot's Event tab, its AuditEvents and what they record.
DOCS_URL = "https://www.medplum.com/docs/bots/monitoring-bots"


@dataclass(frozen=True)
class NoEventsReason:
    #: A short machine-readable cause: log-only | never | on-error | on-output | not-run.
    cause: str
    title: str
    lines: tuple[str, ...]
    #: True when the settings make events impossible (a warning), False when simply none yet.
    blocking: bool
    docs_url: str = DOCS_URL


def explain_no_events(bot: Bot) -> NoEventsReason:
    dest = bot.audit_destination
    trigger = clip(bot.audit_trigger)
    shown_dest = "[" + ", ".join(f'"{clip(d)}"' for d in dest) + "]"
    if "resource" not in dest:
        return NoEventsReason(
            "log-only",
            "This bot writes no AuditEvents: its runs go only to the server logs",
            (
                f"auditEventDestination is {shown_dest}: each run is logged by the Medplum server, "
                "where botmon-tui (and the web app's Event tab) cannot see it.",
                'Fix: set Bot.auditEventDestination to include "resource", '
                'for example ["resource", "log"], then the next run appears here.',
            ),
            True,
        )
    if trigger == "never":
        return NoEventsReason(
            "never",
            'This bot writes no AuditEvents: auditEventTrigger is "never"',
            (
                "No run of this bot creates an AuditEvent, whatever its outcome.",
                'Fix: set Bot.auditEventTrigger to "always" (or "on-error" to record failures only).',
            ),
            True,
        )
    if trigger == "on-error":
        return NoEventsReason(
            "on-error",
            'No failed runs yet: this bot records only failures (auditEventTrigger "on-error")',
            (
                "Successful runs write no AuditEvent, so a healthy bot shows nothing here.",
                'To see every run, set Bot.auditEventTrigger to "always".',
            ),
            False,
        )
    if trigger == "on-output":
        return NoEventsReason(
            "on-output",
            "No runs with output yet: this bot records only runs that log something",
            (
                'auditEventTrigger is "on-output": a run that prints nothing writes no AuditEvent.',
                'To see every run, set Bot.auditEventTrigger to "always".',
            ),
            False,
        )
    schedule = clip(bot.schedule) if bot.schedule else None
    how = (
        f"It is scheduled ({schedule}); its first run should appear within one period."
        if schedule
        else "It has no cron schedule: it runs when a Subscription fires or when someone calls $execute."
    )
    return NoEventsReason(
        "not-run",
        "No runs yet: this bot has no AuditEvents",
        (
            f'Its audit settings are fine (destination {shown_dest}, trigger "{trigger}"), '
            "so it has most likely never run.",
            how,
        ),
        False,
    )
