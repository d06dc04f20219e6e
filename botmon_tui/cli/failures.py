"""``botmon-tui failures``: the failed runs of the window, newest first, or one line per cause.

Each failed run is read with its output (its kind and error signature come from it: see
``botmon_tui/diagnosis.py``): ``AuditEvent?type=execute&outcome=4,8,12&_lastUpdated=ge<since>``,
newest first, 1,000 a page, at most :data:`MAX_FAILURES` (one query per ``--bot`` instead, when
bots are named). Next to it the bot list and the project's newest runs (two requests: which bots
are failing now, so a cause is *ongoing*). Pages are turned into rows as they come: a page's logs
are not kept.

``--group`` gives one entry per signature (``monitor/incidents.py``: ``group_failures``): its
runs, its bots, first and last seen, ongoing. Several projects are read side by side; a signature
met in two projects is one cause (its bots named with their project's label).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from botmon_tui.cli.args import EXIT_OK
from botmon_tui.cli.output import Output
from botmon_tui.cli.project import Outcome, Project, load_monitor, reached
from botmon_tui.cli.session import UnknownBot, connected, match_bot, patiently, run_async
from botmon_tui.cli.table import Cell, Column, Compact, Drop, Shrink, render
from botmon_tui.formatting import absolute_time, outcome_label, plural, relative_age, span_text
from botmon_tui.medplum.auth import ConnectionSettings
from botmon_tui.medplum.client import MedplumClient
from botmon_tui.medplum.errors import MedplumError
from botmon_tui.medplum.models import FAILURE_CODES, AuditEvent, SearchPage, format_instant
from botmon_tui.monitor.alerts import FailedRun
from botmon_tui.monitor.incidents import FailureGroup, group_failures
from botmon_tui.monitor.summary import ProjectMonitor
from botmon_tui.textsafe import clip, first_line

__all__ = ["FLAT_FIELDS", "GROUP_FIELDS", "MAX_FAILURES", "run"]

#: The most failed runs read (ten pages of 1,000); more are told, not read.
MAX_FAILURES = 10_000
_PAGE = 1000

#: ``--json`` / ``--csv`` fields of a failed run, and of a group.
FLAT_FIELDS = (
    "id",
    "bot",
    "botId",
    "lastUpdated",
    "outcome",
    "outcomeText",
    "kind",
    "signature",
    "signatureText",
    "summary",
    "profile",
)
GROUP_FIELDS = (
    "signature",
    "signatureText",
    "example",
    "kind",
    "runs",
    "bots",
    "botIds",
    "firstSeen",
    "lastSeen",
    "ongoing",
    "profiles",
)

FLAT_COLUMNS = (
    Column("when", "LAST UPDATED (UTC)", short_header="UPDATED (UTC)"),
    Column("age", "AGE"),
    Column("bot", "BOT"),
    Column("project", "PROJECT"),
    Column("kind", "KIND"),
    Column("outcome", "OUTCOME"),
    Column("summary", "SUMMARY"),
    Column("id", "ID"),
)
#: Narrow: the summary gives way first, then the id, the time (the age stays), long bot names; the
#: kind, the outcome and the age are never cut.
FLAT_PLAN = (
    Shrink("summary", 50),
    Shrink("id", 9),
    Drop("when"),
    Shrink("bot", 24),
    Compact("outcome"),
    Shrink("summary", 30),
    Drop("id"),
    Shrink("project", 8),
    Shrink("bot", 14),
    Shrink("summary", 12),
)
GROUP_COLUMNS = (
    Column("runs", "RUNS", right=True),
    Column("bots", "BOTS"),
    Column("kind", "KIND"),
    Column("last", "LAST SEEN"),
    Column("first", "FIRST SEEN"),
    Column("ongoing", "ONGOING"),
    Column("cause", "CAUSE"),
)
#: Narrow: the cause and the bots' names give way (the number of bots stays), then the first seen.
GROUP_PLAN = (
    Shrink("cause", 60),
    Shrink("bots", 24),
    Shrink("cause", 45),
    Drop("first"),
    Shrink("cause", 32),
    Shrink("bots", 14),
    Compact("bots"),
    Shrink("cause", 20),
)


@dataclass(frozen=True)
class Failure:
    """One failed run and where it was read."""

    run: FailedRun
    #: The connection's label.
    profile: str
    #: The bot's current name (else what the run wrote, else its id).
    bot: str
    #: It is the newest failed run of a bot failing now.
    ongoing: bool


def run(connections: Sequence[tuple[str, ConnectionSettings]], args: argparse.Namespace, io: Output) -> int:
    outcomes = run_async(_read(connections, args, io))
    read = reached(outcomes, io)
    failures = sorted(
        (failure for outcome in read for failure in outcome.extra),
        key=lambda f: (-(f.run.when or datetime.min.replace(tzinfo=UTC)).timestamp(), f.run.id),
    )
    several = len(connections) > 1
    now = max((o.project.now for o in read if o.project is not None), default=datetime.now(UTC))
    if args.group:
        groups = _groups(failures)
        if args.json:
            io.json([_group_record(group, names, several) for group, names in groups])
        elif args.csv:
            writer = io.csv_writer()
            writer.row(GROUP_FIELDS)
            for group, names in groups:
                record = _group_record(group, names, several)
                writer.row(_csv(record[name]) for name in GROUP_FIELDS)
        else:
            _group_table(groups, failures, args, io, now, several)
    elif args.json:
        io.json([_record(failure) for failure in failures])
    elif args.csv:
        writer = io.csv_writer()
        writer.row(FLAT_FIELDS)
        for failure in failures:
            record = _record(failure)
            writer.row(_csv(record[name]) for name in FLAT_FIELDS)
    else:
        _flat_table(failures, args, io, now, several)
    for outcome in read:
        if outcome.project is not None and len(outcome.extra) >= MAX_FAILURES:
            where = f"{outcome.label}: " if several else ""
            io.warning(
                f"{where}more failed runs match: these are the newest {MAX_FAILURES:,} (--since narrows it)"
            )
    return EXIT_OK


# ------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------


async def _read(
    connections: Sequence[tuple[str, ConnectionSettings]], args: argparse.Namespace, io: Output
) -> list[Outcome]:
    """Each connection's failed runs (side by side), and its project for the bots' states."""
    named: list[bool] = []

    async def one(label: str, settings: ConnectionSettings) -> Outcome:
        try:
            async with connected(settings, io) as client:
                monitor = await load_monitor(client, io, args.since, count_failures=False)
                bot_ids = _named(monitor, args.bots or ())
                named.append(bool(bot_ids))
                runs = (
                    await _failures(client, io, monitor, args.since, bot_ids)
                    if bot_ids or not args.bots
                    else []
                )
        except MedplumError as exc:
            return Outcome(label, settings, error=exc)
        monitor.note_failed_runs(runs)
        return Outcome(
            label,
            settings,
            Project.of(monitor, args.since, label),
            extra=[_failure(run, monitor, label) for run in runs],
        )

    outcomes = list(await asyncio.gather(*(one(label, settings) for label, settings in connections)))
    if args.bots and named and not any(named):
        # A --bot that no project read knows is an error (exit 2), as for status.
        where = "any of these projects" if len(connections) > 1 else "this project"
        raise UnknownBot(
            f"no bot is named {clip(args.bots[0], 80)!r} or has that id in {where} "
            "('botmon-tui bots' lists them)"
        )
    return outcomes


def _named(monitor: ProjectMonitor, texts: Sequence[str]) -> list[str]:
    """The ids of the bots ``--bot`` names in this project (a name it does not know: none; a name
    several of its bots share: an error)."""
    bots = [status.bot for status in monitor.statuses.values()]
    ids: list[str] = []
    for text in texts:
        try:
            ids.append(match_bot(text, bots).id)
        except UnknownBot as exc:
            if "give the id instead" in str(exc):
                raise
    return list(dict.fromkeys(ids))


async def _failures(
    client: MedplumClient, io: Output, monitor: ProjectMonitor, window: timedelta, bot_ids: Sequence[str]
) -> list[FailedRun]:
    """The failed runs of the window, newest first, with their output (the project's, or each named
    bot's), each page turned into rows as it comes: its logs are not kept."""
    since = monitor.clock() - window
    runs: list[FailedRun] = []
    wanted: Sequence[str | None] = bot_ids or [None]
    for bot_id in wanted:
        params = client.event_params(
            bot_id, count=_PAGE, outcomes=FAILURE_CODES, since=since, execute_only=True
        )
        page: SearchPage[AuditEvent] | None = await patiently(
            io, partial(client.search, "AuditEvent", params, AuditEvent)
        )
        seen: set[str] = set()
        while page is not None:
            monitor.invalid += page.invalid
            for event in page.resources:
                # Offset paging shifts when new failures land meanwhile: none is read twice.
                if event.outcome in FAILURE_CODES and event.id not in seen:
                    seen.add(event.id)
                    runs.append(FailedRun.of(event, monitor.timeout_of(event.bot_id or "")))
            if not page.next_url or len(runs) >= MAX_FAILURES:
                break
            page = await patiently(io, partial(client.next_page, page, AuditEvent))
    return runs[:MAX_FAILURES]


def _failure(run: FailedRun, monitor: ProjectMonitor, label: str) -> Failure:
    status = monitor.statuses.get(run.bot_id)
    name = status.bot.display_name if status is not None else run.bot_display or f"Bot/{run.bot_id}"
    streak = status.incident.streak if status is not None and status.incident.state == "failing" else None
    return Failure(run, label, first_line(name, 200), streak is not None and streak.last_id == run.id)


# ------------------------------------------------------------------------------------------------
# Machine-readable
# ------------------------------------------------------------------------------------------------


def _record(failure: Failure) -> dict[str, Any]:
    run = failure.run
    info = run.outcome_info
    return {
        "id": run.id,
        "bot": failure.bot,
        "botId": run.bot_id,
        "lastUpdated": format_instant(run.when) if run.when else None,
        "outcome": run.outcome,
        "outcomeText": info.display if run.outcome is not None else None,
        "kind": run.kind,
        "signature": run.signature.key,
        "signatureText": run.signature.text,
        "summary": run.summary,
        "profile": failure.profile,
    }


def _groups(failures: Sequence[Failure]) -> list[tuple[FailureGroup, dict[str, Failure]]]:
    """The runs grouped by signature (across projects), each with its runs' :class:`Failure` (by
    ``id()`` of the run: two projects' runs may share an id)."""
    owners = {str(id(f.run)): f for f in failures}
    groups = group_failures([f.run for f in failures], ongoing=lambda run: owners[str(id(run))].ongoing)
    return [(group, {str(id(run)): owners[str(id(run))] for run in group.runs}) for group in groups]


def _names(group: FailureGroup, owners: dict[str, Failure], several: bool) -> list[str]:
    """The group's bots' names, the most recently failed first (``label: name`` when several
    projects are read)."""
    names: dict[tuple[str, str], str] = {}
    for run in group.runs:
        failure = owners[str(id(run))]
        key = (failure.profile, run.bot_id)
        if key not in names:
            names[key] = f"{failure.profile}: {failure.bot}" if several else failure.bot
    return list(names.values())


def _group_record(group: FailureGroup, owners: dict[str, Failure], several: bool) -> dict[str, Any]:
    profiles = list(dict.fromkeys(owners[str(id(run))].profile for run in group.runs))
    return {
        "signature": group.signature.key,
        "signatureText": group.signature.text,
        "example": group.example,
        "kind": group.newest.kind,
        "runs": len(group.runs),
        "bots": _names(group, owners, several),
        "botIds": list(group.bot_ids),
        "firstSeen": format_instant(group.first_seen) if group.first_seen else None,
        "lastSeen": format_instant(group.last_seen) if group.last_seen else None,
        "ongoing": group.ongoing,
        "profiles": profiles,
    }


def _csv(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return value


# ------------------------------------------------------------------------------------------------
# Tables
# ------------------------------------------------------------------------------------------------


def _heading(failures: Sequence[Failure], args: argparse.Namespace, *, grouped: int | None = None) -> str:
    window = span_text(args.since)
    if not failures:
        return f"No failed runs in the last {window}"
    bots = len({(f.profile, f.run.bot_id) for f in failures})
    causes = grouped if grouped is not None else len({f.run.signature.key for f in failures})
    return (
        f"{plural(len(failures), 'failed run')} of {plural(bots, 'bot')} in the last {window}, "
        f"{plural(causes, 'cause')}" + ("" if grouped is not None else ", newest first")
    )


def _flat_table(
    failures: Sequence[Failure], args: argparse.Namespace, io: Output, now: datetime, several: bool
) -> None:
    io.line(_heading(failures, args))
    if not failures:
        return
    columns = [c for c in FLAT_COLUMNS if several or c.key != "project"]
    rows: list[tuple[Cell | str, ...]] = []
    for failure in failures:
        run = failure.run
        info = run.outcome_info
        when = run.when
        cells: list[Cell | str] = [
            Cell(format_instant(when), absolute_time(when, UTC, short=True)) if when else "—",
            relative_age(when, now),
            failure.bot,
        ]
        if several:
            cells.append(clip(failure.profile, 40))
        cells += [
            Cell(run.kind, level="error" if run.kind in ("crash", "platform") else "warning"),
            Cell(outcome_label(info), outcome_label(info, code=False), info.level),
            run.summary or "(no output)",
            first_line(run.id, 200),
        ]
        rows.append(tuple(cells))
    io.lines(render(columns, rows, width=io.width, plan=FLAT_PLAN, grow=("summary", "bot"), paint=io.paint))


def _group_table(
    groups: Sequence[tuple[FailureGroup, dict[str, Failure]]],
    failures: Sequence[Failure],
    args: argparse.Namespace,
    io: Output,
    now: datetime,
    several: bool,
) -> None:
    io.line(_heading(failures, args, grouped=len(groups)))
    if not groups:
        return
    rows: list[tuple[Cell | str, ...]] = []
    for group, owners in groups:
        names = _names(group, owners, several)
        count = len(names)
        rows.append(
            (
                f"{len(group.runs):,}",
                Cell(f"{count}: {', '.join(names)}", f"{count}"),
                Cell(
                    group.newest.kind,
                    level="error" if group.newest.kind in ("crash", "platform") else "warning",
                ),
                relative_age(group.last_seen, now),
                relative_age(group.first_seen, now),
                Cell("● ongoing", level="error") if group.ongoing else "",
                group.signature.text,
            )
        )
    io.lines(
        render(GROUP_COLUMNS, rows, width=io.width, plan=GROUP_PLAN, grow=("cause", "bots"), paint=io.paint)
    )
