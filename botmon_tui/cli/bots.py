"""``botmon-tui bots``: every bot with its last run, last outcome and failed runs in 24 h.

``--json`` prints the Bot resources as the server sent them (the bot list alone); the table and
``--csv`` add what the project-wide run queries say (see :mod:`botmon_tui.cli.project`).
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from botmon_tui.cli.args import EXIT_OK
from botmon_tui.cli.output import Output
from botmon_tui.cli.project import NARROW, RECORD_FIELDS, Project, last_deploys, load_project
from botmon_tui.cli.session import connected, patiently, run_async, warn_unreadable
from botmon_tui.cli.table import Column, Compact, Drop, Shrink, render
from botmon_tui.formatting import plural
from botmon_tui.medplum.auth import ConnectionSettings
from botmon_tui.medplum.models import format_instant
from botmon_tui.textsafe import clip, first_line

__all__ = ["run"]

#: What "recent failures" means in the bot list (the TUI's too).
FAILURE_WINDOW = timedelta(hours=24)

COLUMNS = (
    Column("name", "NAME"),
    Column("last", "LAST RUN"),
    Column("outcome", "LAST OUTCOME"),
    Column("failed", "FAILS 24H", right=True),
    Column("audit", "AUDIT"),
    Column("runtime", "RUNTIME"),
    Column("schedule", "SCHEDULE"),
    Column("id", "ID"),
)
#: Narrow terminals: settings give way first (schedule, runtime, the audit words around the ⚠),
#: then the id and long names; the age, the outcome, the count and the ⚠ stay.
PLAN = (
    Shrink("schedule", 16),
    Shrink("name", 30),
    Compact("audit"),
    Drop("schedule"),
    Shrink("id", 9),
    Drop("runtime"),
    *NARROW,
)
#: Who gets the room left after the plan: names first.
GROW = ("name", "schedule", "id")
#: ``status``'s fields, its failures named for their window, and the settings.
CSV_FIELDS = (
    *(f if f != "failures" else "failures24h" for f in RECORD_FIELDS),
    "auditEventDestination",
    "auditEventTrigger",
    "runtimeVersion",
    "schedule",
)


def run(settings: ConnectionSettings, args: argparse.Namespace, io: Output) -> int:
    if args.json:
        raw = run_async(_raw_bots(settings, io, deploys=args.deploys))
        io.json(raw)
        return EXIT_OK
    project = run_async(_load(settings, io, deploys=args.deploys))
    if args.csv:
        writer = io.csv_writer()
        writer.row(CSV_FIELDS)
        for status in project.statuses:
            record: dict[str, Any] = project.record(status)
            bot = status.bot
            record["failures24h"] = record.pop("failures")
            record["writesAuditEvents"] = "true" if bot.writes_audit_events else "false"
            record["auditEventDestination"] = " ".join(bot.audit_destination)
            record["auditEventTrigger"] = bot.audit_trigger
            record["runtimeVersion"] = bot.runtimeVersion
            record["schedule"] = bot.schedule
            writer.row(record[name] for name in CSV_FIELDS)
        return EXIT_OK
    if not project.statuses:
        io.line("No bots in this project.")
        return EXIT_OK
    rows = [
        (
            project.name(s),
            project.last_run(s),
            project.outcome(s),
            project.failures(s),
            project.audit(s),
            clip(s.bot.runtimeVersion, 20) or "—",
            clip(s.bot.schedule, 40) or "—",
            first_line(s.bot.id, 200),
        )
        for s in project.statuses
    ]
    io.lines(render(COLUMNS, rows, width=io.width, plan=PLAN, grow=GROW, paint=io.paint))
    io.line(plural(len(project.statuses), "bot"))
    for note in project.notes():
        io.prose(note)
    return EXIT_OK


async def _raw_bots(settings: ConnectionSettings, io: Output, *, deploys: bool) -> list[dict[str, Any]]:
    """The Bot resources as sent; ``deploys``: each with a ``lastDeploy`` key botmon-tui adds (not
    a field of the resource: the end of its newest deploy, from its history, or null)."""
    async with connected(settings, io) as client:
        page = await patiently(io, client.list_bots)
        found = await last_deploys(client, io, [bot.id for bot in page.resources]) if deploys else {}
    warn_unreadable(io, page.invalid, "Bot")
    if deploys:
        for bot, raw in zip(page.resources, page.raw, strict=True):
            deploy = found.get(bot.id)
            raw["lastDeploy"] = format_instant(deploy.at) if deploy is not None else None
    return page.raw


async def _load(settings: ConnectionSettings, io: Output, *, deploys: bool) -> Project:
    """The project; ``deploys``: with every bot's last deploy (a history read each, 10 quota units)."""
    async with connected(settings, io) as client:
        project = await load_project(client, io, FAILURE_WINDOW)
        if deploys:
            project.deploys = await last_deploys(client, io, [s.bot.id for s in project.statuses])
            project.deploys_for = "all"
        return project
