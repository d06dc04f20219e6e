"""``botmon-tui bots``: every bot with its last run, last outcome and failed runs in 24 h.

``--json`` prints the Bot resources as the server sent them (the bot list alone; with several
projects each gains ``profile``, its connection's label); the table and ``--csv`` add what the
project-wide run queries say (see :mod:`botmon_tui.cli.project`).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from datetime import timedelta
from functools import partial
from typing import Any

from botmon_tui.cli.args import EXIT_OK
from botmon_tui.cli.output import Output
from botmon_tui.cli.project import (
    NARROW,
    RECORD_FIELDS,
    Outcome,
    Project,
    last_deploys,
    load_projects,
    reached,
)
from botmon_tui.cli.session import connected, patiently, run_async, warn_unreadable
from botmon_tui.cli.table import Cell, Column, Compact, Drop, Shrink, render
from botmon_tui.formatting import plural
from botmon_tui.medplum.auth import ConnectionSettings
from botmon_tui.medplum.client import MedplumClient
from botmon_tui.medplum.errors import MedplumError
from botmon_tui.medplum.models import format_instant
from botmon_tui.textsafe import clip, first_line

__all__ = ["run"]

#: What "recent failures" means in the bot list (the TUI's too).
FAILURE_WINDOW = timedelta(hours=24)

COLUMNS = (
    Column("name", "NAME"),
    Column("project", "PROJECT"),
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
    Shrink("project", 12),
    Compact("audit"),
    Drop("schedule"),
    Shrink("id", 9),
    Drop("runtime"),
    *NARROW,
    Shrink("project", 6),
)
#: Who gets the room left after the plan: names first.
GROW = ("name", "project", "schedule", "id")
#: ``status``'s fields, its failures named for their window, and the settings.
CSV_FIELDS = (
    *(f if f != "failures" else "failures24h" for f in RECORD_FIELDS),
    "auditEventDestination",
    "auditEventTrigger",
    "runtimeVersion",
    "schedule",
)


def run(connections: Sequence[tuple[str, ConnectionSettings]], args: argparse.Namespace, io: Output) -> int:
    several = len(connections) > 1
    if args.json:
        outcomes = run_async(_raw_bots(connections, io, deploys=args.deploys))
        raw: list[dict[str, Any]] = []
        for outcome in reached(outcomes, io):
            # One project: the resources exactly as sent. Several: each says which project it is.
            raw.extend({**bot, "profile": outcome.label} if several else bot for bot in outcome.extra)
        io.json(raw)
        return EXIT_OK
    then = partial(_deploys, io=io) if args.deploys else None
    outcomes = run_async(load_projects(connections, io, FAILURE_WINDOW, then=then))
    rows = [
        (outcome.project, status)
        for outcome in reached(outcomes, io)
        if outcome.project is not None
        for status in outcome.project.statuses
    ]
    if args.csv:
        writer = io.csv_writer()
        writer.row(CSV_FIELDS)
        for project, status in rows:
            record: dict[str, Any] = project.record(status)
            bot = status.bot
            record["failures24h"] = record.pop("failures")
            for name, value in record.items():
                if isinstance(value, bool):
                    record[name] = "true" if value else "false"
            record["auditEventDestination"] = " ".join(bot.audit_destination)
            record["auditEventTrigger"] = bot.audit_trigger
            record["runtimeVersion"] = bot.runtimeVersion
            record["schedule"] = bot.schedule
            writer.row(record[name] for name in CSV_FIELDS)
        return EXIT_OK
    for outcome in outcomes:
        if outcome.error is not None:
            io.line(io.paint(f"✗ {clip(outcome.label, 40)}: could not be read: {outcome.error}", "error"))
    if not rows:
        io.line("No bots in this project." if not several else "No bots in these projects.")
        return EXIT_OK
    columns = [c for c in COLUMNS if several or c.key != "project"]
    cells: list[tuple[Cell | str, ...]] = [
        (
            project.name(s),
            clip(project.label, 40),
            project.last_run(s),
            project.outcome(s),
            project.failures(s),
            project.audit(s),
            clip(s.bot.runtimeVersion, 20) or "—",
            clip(s.bot.schedule, 40) or "—",
            first_line(s.bot.id, 200),
        )
        for project, s in rows
    ]
    if not several:
        cells = [(name, *rest) for name, _, *rest in cells]
    io.lines(render(columns, cells, width=io.width, plan=PLAN, grow=GROW, paint=io.paint))
    projects = len({project.label for project, _ in rows})
    io.line(plural(len(rows), "bot") + (f" in {projects} projects" if several else ""))
    seen: set[str] = set()
    for project, _ in rows:
        if project.label not in seen:
            seen.add(project.label)
            for note in project.notes():
                io.prose(f"{project.label}: {note}" if several else note)
    return EXIT_OK


async def _raw_bots(
    connections: Sequence[tuple[str, ConnectionSettings]], io: Output, *, deploys: bool
) -> list[Outcome]:
    """Each connection's Bot resources as sent (one request per 1,000 bots), side by side;
    ``deploys``: each with a ``lastDeploy`` key botmon-tui adds (not a field of the resource: the
    end of its newest deploy, from its history, or null)."""

    async def one(label: str, settings: ConnectionSettings) -> Outcome:
        try:
            async with connected(settings, io) as client:
                page = await patiently(io, client.list_bots)
                found = await last_deploys(client, io, [bot.id for bot in page.resources]) if deploys else {}
        except MedplumError as exc:
            return Outcome(label, settings, error=exc)
        warn_unreadable(io, page.invalid, "Bot")
        if deploys:
            for bot, raw in zip(page.resources, page.raw, strict=True):
                deploy = found.get(bot.id)
                raw["lastDeploy"] = format_instant(deploy.at) if deploy is not None else None
        return Outcome(label, settings, extra=list(page.raw))

    return list(await asyncio.gather(*(one(label, settings) for label, settings in connections)))


async def _deploys(client: MedplumClient, project: Project, *, io: Output) -> None:
    """``--deploys``: every bot's last deploy (a history read each, 10 quota units)."""
    project.deploys = await last_deploys(client, io, [s.bot.id for s in project.statuses])
    project.deploys_for = "all"
