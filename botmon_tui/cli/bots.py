"""``botmon-tui bots``: every bot with its state, last run, last outcome, failed runs in 24 h and
run durations (p50 / p95).

``--json`` prints the Bot resources as the server sent them, each with the keys botmon-tui adds
(:data:`JSON_KEYS`: ``state``, ``missed``, ``lateBy``, ``nextExpected``, ``expectedEvery``,
``durationP50``, ``durationP95``, ``timeout``; with several projects ``profile``, its
connection's label); the table and ``--csv`` add what the project-wide run queries say (see
:mod:`botmon_tui.cli.project`).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import partial
from typing import Any

from botmon_tui.cli.args import EXIT_OK
from botmon_tui.cli.output import Output
from botmon_tui.cli.project import (
    NARROW,
    RECORD_FIELDS,
    SILENCE_FIELDS,
    Outcome,
    Project,
    last_deploys,
    load_project,
    load_projects,
    print_notes,
    print_unread,
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
    Column("state", "STATE"),
    Column("last", "LAST RUN"),
    Column("outcome", "LAST OUTCOME"),
    Column("failed", "FAILS 24H", right=True),
    Column("durations", "P50/P95", short_header="P95"),
    Column("audit", "AUDIT"),
    Column("runtime", "RUNTIME"),
    Column("schedule", "SCHEDULE"),
    Column("id", "ID"),
)
#: Narrow terminals: the schedule's words, the p50, the state's details and the audit words around
#: the ⚠ give way first, then the schedule, long names, the id, the runtime and the durations,
#: then the state; the age, the outcome, the count and the ⚠ stay.
PLAN = (
    Shrink("schedule", 16),
    Compact("durations"),
    Compact("state"),
    Compact("audit"),
    Drop("schedule"),
    Shrink("name", 30),
    Shrink("project", 12),
    Shrink("id", 9),
    Drop("runtime"),
    Drop("durations"),
    *NARROW[:3],
    Drop("state"),  # before names go below 20: `status` is the table of states
    *NARROW[3:],
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
    grace = getattr(args, "grace", None)
    if args.json:
        outcomes = run_async(_raw_bots(connections, io, deploys=args.deploys, grace=grace))
        raw: list[dict[str, Any]] = []
        for outcome in reached(outcomes, io):
            # One project: the resources exactly as sent. Several: each says which project it is.
            raw.extend({**bot, "profile": outcome.label} if several else bot for bot in outcome.extra)
        io.json(raw)
        return EXIT_OK
    then = partial(_deploys, io=io) if args.deploys else None
    outcomes = run_async(load_projects(connections, io, FAILURE_WINDOW, then=then, silence=True, grace=grace))
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
    print_unread(io, outcomes)
    if not rows:
        io.line("No bots in this project." if not several else "No bots in these projects.")
        return EXIT_OK
    columns = [c for c in COLUMNS if several or c.key != "project"]
    cells: list[tuple[Cell | str, ...]] = [
        (
            project.name(s),
            clip(project.label, 40),
            project.state(s),
            project.last_run(s),
            project.outcome(s),
            project.failures(s),
            project.durations(s),
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
    print_notes(io, (project for project, _ in rows), several=several)
    return EXIT_OK


#: The keys ``bots --json`` adds to each Bot resource (botmon-tui's, not fields of the resource):
#: its state and its silence and durations (issue #17), as ``status --json`` has them.
JSON_KEYS = ("state", *SILENCE_FIELDS)


async def _raw_bots(
    connections: Sequence[tuple[str, ConnectionSettings]],
    io: Output,
    *,
    deploys: bool,
    grace: Mapping[str, float] | None = None,
) -> list[Outcome]:
    """Each connection's Bot resources as sent (one request per 1,000 bots), side by side, each
    with the keys botmon-tui adds (:data:`JSON_KEYS`: from the project's runs, read as ``status``
    reads them); ``deploys``: and a ``lastDeploy`` key (the end of its newest deploy, from its
    history, or null)."""

    async def one(label: str, settings: ConnectionSettings) -> Outcome:
        try:
            async with connected(settings, io) as client:
                page = await patiently(io, client.list_bots)
                project = await load_project(client, io, FAILURE_WINDOW, silence=True, grace=grace, bots=page)
                found = await last_deploys(client, io, [bot.id for bot in page.resources]) if deploys else {}
        except MedplumError as exc:
            return Outcome(label, settings, error=exc)
        warn_unreadable(io, page.invalid, "Bot")
        records = {status.bot.id: project.record(status) for status in project.statuses}
        for bot, raw in zip(page.resources, page.raw, strict=True):
            record = records.get(bot.id, {})
            # Bot.timeout is the resource's own field: kept as sent; a bot without one gets the
            # server's default (10 s).
            raw.update({key: record.get(key) for key in JSON_KEYS if key != "timeout"})
            raw.setdefault("timeout", record.get("timeout"))
            if deploys:
                deploy = found.get(bot.id)
                raw["lastDeploy"] = format_instant(deploy.at) if deploy is not None else None
        return Outcome(label, settings, extra=list(page.raw))

    return list(await asyncio.gather(*(one(label, settings) for label, settings in connections)))


async def _deploys(client: MedplumClient, project: Project, *, io: Output) -> None:
    """``--deploys``: every bot's last deploy (a history read each, 10 quota units)."""
    project.deploys = await last_deploys(client, io, [s.bot.id for s in project.statuses])
    project.deploys_for = "all"
