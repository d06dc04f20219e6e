"""``botmon-tui status``: did any bot fail in the window? Exit 1 if so (for cron and CI).

A bot failed in the window when at least one AuditEvent of its runs (``type=execute``) with
outcome 4, 8 or 12 was stored (``meta.lastUpdated``) within the window, by the server's clock:
the project-wide failures query of :class:`~botmon_tui.monitor.summary.ProjectMonitor`, so the
answer is exact (up to its page limit, 10,000 failed runs) and costs the same few requests
whatever the number of bots.
"""

from __future__ import annotations

import argparse

from botmon_tui.cli.args import EXIT_FAILED, EXIT_OK, MAX_DEPLOY_READS
from botmon_tui.cli.output import Output
from botmon_tui.cli.project import (
    NARROW,
    RECORD_FIELDS,
    Project,
    by_failure,
    last_deploys,
    load_project,
)
from botmon_tui.cli.session import connected, match_bot, run_async
from botmon_tui.cli.table import Column, Shrink, render
from botmon_tui.formatting import plural, span_text
from botmon_tui.medplum.auth import ConnectionSettings
from botmon_tui.medplum.models import format_instant
from botmon_tui.monitor.summary import BotStatus
from botmon_tui.textsafe import first_line

__all__ = ["run"]

COLUMNS = (
    Column("name", "BOT"),
    Column("last", "LAST RUN"),
    Column("outcome", "LAST OUTCOME"),
    Column("failed", "FAILS", right=True),
    Column("audit", "AUDIT"),
    Column("id", "ID"),
)
#: Narrow terminals: the id gives way first, then long names; the outcome, the age, the count and
#: the ⚠ warning stay whole (the outcome and the warning switch to their short forms).
PLAN = (Shrink("name", 30), Shrink("id", 9), *NARROW)
#: Who gets the room left after the plan: names first.
GROW = ("name", "id")


def run(settings: ConnectionSettings, args: argparse.Namespace, io: Output) -> int:
    project = run_async(_load(settings, args, io))
    statuses = by_failure(project.statuses)
    failed = [s for s in statuses if s.failures]
    if args.json:
        io.json(
            {
                "window": span_text(project.window),
                "since": format_instant(project.since),
                "now": format_instant(project.now),
                "failed": bool(failed),
                "failedBots": len(failed),
                "failedRuns": sum(s.recent_failures for s in failed),
                "horizon": format_instant(project.horizon) if project.horizon else None,
                # Whose history was read for lastDeploy: the failed bots, or (--deploys) all.
                "deploysRead": project.deploys_for,
                "bots": [project.record(s) for s in statuses],
            }
        )
    elif args.csv:
        writer = io.csv_writer()
        writer.row(RECORD_FIELDS)
        for status in statuses:
            record = project.record(status)
            writer.row(_csv_value(record[name]) for name in RECORD_FIELDS)
    else:
        _table(project, statuses, failed, io)
    return EXIT_FAILED if failed else EXIT_OK


async def _load(settings: ConnectionSettings, args: argparse.Namespace, io: Output) -> Project:
    """The project (narrowed to ``--bot``), and the last deploy of the bots that failed (at most
    ``MAX_DEPLOY_READS``), or of every bot with ``--deploys``: a history read is one request but
    10 quota units, and a failed bot is where "what changed?" is asked."""
    async with connected(settings, io) as client:
        project = await load_project(client, io, args.since)
        wanted = [match_bot(text, [s.bot for s in project.statuses]).id for text in args.bots or ()]
        if wanted:
            by_id = {s.bot.id: s for s in project.statuses}
            project.statuses = [by_id[bot_id] for bot_id in dict.fromkeys(wanted)]
        if args.deploys:
            ids, project.deploys_for = [s.bot.id for s in project.statuses], "all"
        else:
            failed = [s for s in by_failure(project.statuses) if s.failures]
            ids, project.deploys_for = [s.bot.id for s in failed[:MAX_DEPLOY_READS]], "failed"
        project.deploys = await last_deploys(client, io, ids)
        return project


def _csv_value(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def verdict(project: Project, statuses: list[BotStatus], failed: list[BotStatus]) -> tuple[str, str]:
    """The first line (what a cron mail's reader sees first) and its colour level."""
    window = span_text(project.window)
    if failed:
        runs = sum(s.recent_failures for s in failed)
        of = f"{len(failed):,} of {plural(len(statuses), 'bot')}"
        text = f"✗ {of} failed in the last {window} ({plural(runs, 'failed run')})"
        return text, "error"
    return f"✓ No bot failed in the last {window} ({plural(len(statuses), 'bot')})", "success"


def _table(project: Project, statuses: list[BotStatus], failed: list[BotStatus], io: Output) -> None:
    line, level = verdict(project, statuses, failed)
    io.line(io.paint(line, level))
    if not statuses:
        io.line("No bots in this project.")
        return
    rows = [
        (
            project.name(s),
            project.last_run(s),
            project.outcome(s),
            project.failures(s),
            project.audit(s, short=True),
            first_line(s.bot.id, 200),
        )
        for s in statuses
    ]
    io.lines(render(COLUMNS, rows, width=io.width, plan=PLAN, grow=GROW, paint=io.paint))
    for note in project.notes():
        io.prose(note)
