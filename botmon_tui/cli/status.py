"""``botmon-tui status``: did any bot fail in the window? Exit 1 if so (for cron and CI).

A bot failed in the window when at least one AuditEvent of its runs (``type=execute``) with
outcome 4, 8 or 12 was stored (``meta.lastUpdated``) within the window, by the server's clock:
the project-wide failures query of :class:`~botmon_tui.monitor.summary.ProjectMonitor`, so the
answer is exact (up to its page limit, 10,000 failed runs) and costs the same few requests
whatever the number of bots.

Each bot also has its incident state (``monitor/incidents.py``: failing since when, how many in a
row, what kind, its error signature; recovered; flaky), and the headline tells the bots failing
now from those that failed and recovered. Several projects (``-p prod -p staging``) are read side
by side and answered as one: exit 1 if any failed; a project that cannot be read is told with its
label, and is exit 3 only when none could be read.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from typing import Any

from botmon_tui.cli.args import EXIT_FAILED, EXIT_OK, MAX_DEPLOY_READS
from botmon_tui.cli.output import Output
from botmon_tui.cli.project import (
    NARROW,
    RECORD_FIELDS,
    Outcome,
    Project,
    by_failure,
    last_deploys,
    load_projects,
    print_notes,
    print_unread,
    reached,
    unreachable,
)
from botmon_tui.cli.session import UnknownBot, match_bot, run_async
from botmon_tui.cli.table import Cell, Column, Compact, Drop, Shrink, render
from botmon_tui.formatting import plural, span_text
from botmon_tui.medplum.auth import ConnectionSettings
from botmon_tui.medplum.client import MedplumClient
from botmon_tui.medplum.models import format_instant
from botmon_tui.monitor.summary import BotStatus, attention_key
from botmon_tui.textsafe import clip, first_line

__all__ = ["run", "verdict"]

COLUMNS = (
    Column("name", "BOT"),
    Column("project", "PROJECT"),
    Column("state", "STATE"),
    Column("last", "LAST RUN"),
    Column("outcome", "LAST OUTCOME"),
    Column("failed", "FAILS", right=True),
    Column("durations", "P50/P95", short_header="P95"),
    Column("audit", "AUDIT"),
    Column("id", "ID"),
)
#: Narrow terminals: the id gives way first, then long names and project labels, the state's
#: streak and kind (``failing 23m`` stays); the outcome, the age, the count and the ⚠ warning stay
#: whole (the outcome and the warning switch to their short forms). Below about 70 columns the
#: state goes too (the first line still tells failing now from recovered).
PLAN = (
    Shrink("name", 30),
    Shrink("id", 9),
    Compact("durations"),
    Shrink("project", 12),
    Compact("state"),
    Drop("durations"),
    *NARROW,
    Shrink("project", 6),
    Drop("state"),
)
#: Who gets the room left after the plan: names first.
GROW = ("name", "state", "project", "id")

Row = tuple[Project, BotStatus]


#: States that fail the run unless ``--ignore-late`` (silence is a failure too, issue #17).
SILENT_STATES = ("late", "quiet")


def silent_now(rows: Sequence[Row]) -> list[Row]:
    """The bots late or quiet now."""
    return [row for row in rows if row[1].incident.state in SILENT_STATES]


def run(connections: Sequence[tuple[str, ConnectionSettings]], args: argparse.Namespace, io: Output) -> int:
    then = partial(_deploys, args=args, io=io)
    grace = getattr(args, "grace", None)
    outcomes = run_async(load_projects(connections, io, args.since, incidents=True, then=then, grace=grace))
    read = reached(outcomes, io)
    rows = _chosen(read, args.bots or ())
    # What needs attention first: bots that failed in the window, or are failing, late or quiet now.
    rows.sort(
        key=lambda row: (
            not (row[1].failed_runs or row[1].incident.active),
            attention_key(row[1]),
            row[0].label,
        )
    )
    failed = [row for row in rows if row[1].failed_runs]
    silent = silent_now(rows)
    ignore_late = bool(getattr(args, "ignore_late", False))
    several = len(connections) > 1
    first = read[0].project
    assert first is not None
    if args.json:
        io.json(_json(first, read, outcomes, rows, failed, ignore_late=ignore_late))
    elif args.csv:
        writer = io.csv_writer()
        writer.row(RECORD_FIELDS)
        for project, status in rows:
            record = project.record(status)
            writer.row(_csv_value(record[name]) for name in RECORD_FIELDS)
    else:
        down = [o for o in outcomes if o.error is not None]
        _table(first, rows, failed, io, several=several, down=down, ignore_late=ignore_late)
    return EXIT_FAILED if failed or (silent and not ignore_late) else EXIT_OK


async def _deploys(client: MedplumClient, project: Project, *, args: argparse.Namespace, io: Output) -> None:
    """The last deploy of the bots that failed (at most ``MAX_DEPLOY_READS`` a project, those
    ``--bot`` names only), or of every bot with ``--deploys``: a history read is one request but 10
    quota units, and a failed bot is where "what changed?" is asked."""
    statuses = project.statuses
    if args.bots:
        wanted: set[str] = set()
        for text in args.bots:
            try:
                wanted.add(match_bot(text, [s.bot for s in statuses]).id)
            except UnknownBot:
                continue  # another project may know it (and an unknown name is told later)
        statuses = [s for s in statuses if s.bot.id in wanted]
    if args.deploys:
        ids, project.deploys_for = [s.bot.id for s in statuses], "all"
    else:
        failed = [s for s in by_failure(statuses) if s.failed_runs]
        ids, project.deploys_for = [s.bot.id for s in failed[:MAX_DEPLOY_READS]], "failed"
    project.deploys = await last_deploys(client, io, ids)


def _chosen(read: Sequence[Outcome], wanted: Sequence[str]) -> list[Row]:
    """Every bot of every project read, or those ``--bot`` names (in any of them: a name no
    project knows is an error; so is one several bots of a project share)."""
    projects = [outcome.project for outcome in read if outcome.project is not None]
    if not wanted:
        return [(project, status) for project in projects for status in project.statuses]
    rows: dict[tuple[str, str], tuple[Project, BotStatus]] = {}
    for text in wanted:
        found: UnknownBot | None = None
        hits = 0
        for project in projects:
            try:
                bot = match_bot(text, [s.bot for s in project.statuses])
            except UnknownBot as exc:
                if "give the id instead" in str(exc):  # ambiguous: several bots of one project
                    raise
                found = found or exc
                continue
            hits += 1
            status = next(s for s in project.statuses if s.bot.id == bot.id)
            rows.setdefault((project.label, bot.id), (project, status))
        if not hits:
            assert found is not None
            raise found
    # Each project as far as the bots named (its notes speak of those only).
    shown: dict[str, Project] = {}
    for project, status in rows.values():
        if project.label not in shown:
            shown[project.label] = replace(project, statuses=[])
        shown[project.label].statuses.append(status)
    return [(shown[project.label], status) for project, status in rows.values()]


def _json(
    first: Project,
    read: Sequence[Outcome],
    outcomes: Sequence[Outcome],
    rows: list[Row],
    failed: list[Row],
    *,
    ignore_late: bool = False,
) -> dict[str, Any]:
    statuses = [status for _, status in rows]
    failing = [s for s in statuses if s.incident.state == "failing"]
    return {
        "window": span_text(first.window),
        "since": format_instant(first.since),
        "now": format_instant(first.now),
        "failed": bool(failed),
        # Bots late or quiet now (they fail the exit status unless --ignore-late).
        "lateNow": sum(1 for s in statuses if s.incident.state == "late"),
        "quietNow": sum(1 for s in statuses if s.incident.state == "quiet"),
        "ignoreLate": ignore_late,
        "failedBots": len(failed),
        "failedRuns": sum(status.recent_failures for _, status in failed),
        # The headline's two halves: failing now, and failed in the window but fine now.
        "failingNow": len(failing),
        "failedRecovered": sum(1 for _, status in failed if status.incident.state != "failing"),
        "horizon": format_instant(first.horizon) if first.horizon else None,
        # Whose history was read for lastDeploy: the failed bots, or (--deploys) all.
        "deploysRead": first.deploys_for,
        "projects": [
            *(
                {
                    "profile": outcome.project.label,
                    "now": format_instant(outcome.project.now),
                    "horizon": format_instant(outcome.project.horizon) if outcome.project.horizon else None,
                    "error": None,
                }
                for outcome in read
                if outcome.project is not None
            ),
            *({**entry, "now": None, "horizon": None} for entry in unreachable(outcomes)),
        ],
        "bots": [project.record(status) for project, status in rows],
    }


def _csv_value(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _silence_words(rows: Sequence[Row]) -> str:
    """``2 late``, ``1 late and 1 quiet`` (the bots late or quiet now), or ``""``."""
    late = sum(1 for _, s in rows if s.incident.state == "late")
    quiet = sum(1 for _, s in rows if s.incident.state == "quiet")
    return " and ".join(f"{count:,} {word}" for count, word in ((late, "late"), (quiet, "quiet")) if count)


def verdict(
    project: Project,
    rows: Sequence[Row],
    failed: Sequence[Row],
    *,
    projects: int = 1,
    ignore_late: bool = False,
) -> tuple[str, str]:
    """The first line (what a cron mail's reader sees first) and its colour level: how many bots
    failed in the window (and how many runs), those failing now apart from those that failed and
    recovered, the bots still failing from before the window (no failed run in it), and the bots
    late or quiet now (silence is a failure too; a warning only with ``--ignore-late``)."""
    text, level = _failure_verdict(project, rows, failed, projects=projects)
    silent = _silence_words(rows)
    if not silent:
        return text, level
    note = f"{silent} now{' (ignored: --ignore-late)' if ignore_late else ''}"
    if failed:
        return f"{text}; ! {note}", level
    if ignore_late:
        return f"{text}; ! {note}", "warning"
    return f"✗ {note}: {text.removeprefix('✓ ')}", "error"


def _failure_verdict(
    project: Project, rows: Sequence[Row], failed: Sequence[Row], *, projects: int = 1
) -> tuple[str, str]:
    window = span_text(project.window)
    where = f" in {projects} projects" if projects > 1 else ""
    failing_now = [s for _, s in rows if s.incident.state == "failing"]
    before = sum(1 for s in failing_now if not s.failed_runs)
    if failed:
        runs = sum(status.recent_failures for _, status in failed)
        now = sum(1 for _, s in failed if s.incident.state == "failing")
        parts = [f"{now:,} failing now"] if now else []
        if len(failed) - now:
            parts.append(f"{len(failed) - now:,} recovered")
        if before:
            parts.append(f"{before:,} more failing from before")
        of = f"{len(failed):,} of {plural(len(rows), 'bot')}{where}"
        text = f"✗ {of} failed in the last {window} ({plural(runs, 'run')}): {', '.join(parts)}"
        return text, "error"
    text = f"✓ No bot failed in the last {window} ({plural(len(rows), 'bot')}{where})"
    if before:
        return f"{text}; ! {before:,} still failing from before", "warning"
    return text, "success"


def _table(
    first: Project,
    rows: list[Row],
    failed: list[Row],
    io: Output,
    *,
    several: bool,
    down: Sequence[Outcome],
    ignore_late: bool = False,
) -> None:
    projects = len({p.label for p, _ in rows}) + len(down)
    line, level = verdict(first, rows, failed, projects=projects, ignore_late=ignore_late)
    for part in textwrap.wrap(line, width=max(20, io.width), subsequent_indent="  "):
        io.line(io.paint(part, level))
    print_unread(io, down)
    if not rows:
        io.line("No bots in this project." if not several else "No bots in these projects.")
        return
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
            project.audit(s, short=True),
            first_line(s.bot.id, 200),
        )
        for project, s in rows
    ]
    if not several:
        cells = [(name, *rest) for name, _, *rest in cells]
    io.lines(render(columns, cells, width=io.width, plan=PLAN, grow=GROW, paint=io.paint))
    print_notes(io, (project for project, _ in rows), several=several)
