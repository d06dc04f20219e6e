"""``botmon-tui events BOT``: a bot's runs, newest first; ``--follow`` then prints new ones.

One-shot: the newest ``--limit`` AuditEvents (``entity=Bot/<id>``, newest first, ``_offset``
paging), asking for one more than shown so that "more exist" is known without a COUNT query.

Follow: the newest ``--limit`` oldest first, then every ``--interval`` the runs stored since the
newest seen, exactly as the Event tab polls (an
:class:`~botmon_tui.medplum.watermark.EventCursor` seeded with what was printed: one request when
idle, ties and late commits handled, nothing printed twice). Errors are retried with the TUI's
backoff (:class:`~botmon_tui.monitor.schedule.PollSchedule`) and told on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from rich.cells import cell_len

from botmon_tui.cli.args import EXIT_OK, MAX_LIMIT
from botmon_tui.cli.output import CsvWriter, Output
from botmon_tui.cli.session import connected, find_bot, patiently, run_async, warn_unreadable
from botmon_tui.cli.table import Cell, Column, Compact, Drop, Layout, Shrink, cut, fit, render
from botmon_tui.formatting import (
    absolute_time,
    duration_text,
    explain_no_events,
    outcome_label,
    plural,
    relative_age,
    span_text,
    summary_line,
)
from botmon_tui.hangup import EXIT_TERMINAL_GONE, Gone, park_standard_fds, until_gone, watch_output
from botmon_tui.medplum.auth import ConnectionSettings
from botmon_tui.medplum.client import MAX_PAGE_SIZE, MedplumClient
from botmon_tui.medplum.errors import MedplumError
from botmon_tui.medplum.models import FAILURE_CODES, OUTCOMES, AuditEvent, Bot, format_instant
from botmon_tui.medplum.watermark import EventCursor
from botmon_tui.monitor.deploys import Deploy, DeployHistory, first_runs_after
from botmon_tui.monitor.durations import NEAR_TIMEOUT_MARK, run_timing
from botmon_tui.monitor.schedule import PollSchedule
from botmon_tui.textsafe import clip, first_line

__all__ = ["SLEEP", "run"]

#: How ``--follow`` waits between polls (tests put a function here that drives the demo instead).
SLEEP: Callable[[float], Awaitable[None]] = asyncio.sleep
#: One poll of ``--follow`` reads at most this many pages of this size; more is read at once by
#: the next poll (a burst never holds up the output for long).
FOLLOW_PAGE = 100
FOLLOW_MAX_PAGES = 10

COLUMNS = (
    Column("id", "ID"),
    Column("outcome", "OUTCOME"),
    Column("updated", "LAST UPDATED (UTC)", short_header="UPDATED (UTC)"),
    Column("age", "AGE"),
    Column("duration", "DURATION", right=True),
    Column("summary", "SUMMARY"),
)
#: Narrow terminals: the summary gives way first, then the id (its first 8 characters stay), the
#: absolute time (the age stays), the outcome's code; the outcome and the age are never cut.
PLAN = (
    Shrink("summary", 40),
    Shrink("id", 9),
    Drop("updated"),
    Shrink("summary", 20),
    Compact("outcome"),
    Drop("duration"),
    Shrink("summary", 10),
)
#: ``--follow`` shows times (an age goes stale as the output scrolls) on fixed columns; narrow, the
#: time of day (UTC) and date stay instead of the whole instant.
FOLLOW_COLUMNS = tuple(c for c in COLUMNS if c.key != "age")
FOLLOW_PLAN = tuple(Compact("updated") if step == Drop("updated") else step for step in PLAN)
#: The widest row ``--follow`` plans for (later rows must fit the columns of the first ones).
_WIDEST = (
    "0" * 36,
    Cell(
        max((outcome_label(i) for i in OUTCOMES.values()), key=len),
        max((outcome_label(i, code=False) for i in OUTCOMES.values()), key=len),
    ),
    Cell("2025-01-01T00:00:00.000Z", "01-01 00:00:00"),
    "59m 59s",
    "x" * 500,
)
CSV_FIELDS = ("id", "outcome", "outcomeText", "lastUpdated", "durationSeconds", "summary", "outcomeDesc")


@dataclass
class Listing:
    bot: Bot
    events: list[AuditEvent] = field(default_factory=list)
    raw: list[dict[str, Any]] = field(default_factory=list)
    #: More events match than were read (``--limit``).
    more: bool = False
    invalid: int = 0
    #: The server's time when the list was asked for.
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: The bot's deploys, newest first (read for the table only).
    deploys: list[Deploy] = field(default_factory=list)


def run(settings: ConnectionSettings, args: argparse.Namespace, io: Output, interval: float) -> int:
    return run_async(_main(settings, args, io, interval))


async def _main(settings: ConnectionSettings, args: argparse.Namespace, io: Output, interval: float) -> int:
    async with connected(settings, io) as client:
        bot = await find_bot(client, io, args.bot_ref)
        listing = await read_events(
            client, io, bot, limit=args.limit, failures=args.failures, window=args.since
        )
        _warn(listing, io)
        if args.follow:
            return await _follow(client, listing, args, io, interval)
        if not args.json and not args.csv and listing.events:
            listing.deploys = await _deploys(client, io, bot)
        _print(listing, args, io)
        return EXIT_OK


async def _deploys(client: MedplumClient, io: Output, bot: Bot) -> list[Deploy]:
    """The bot's deploys, for the table's boundary lines: its history, one request (10 quota
    units); when it cannot be read, a warning and no boundaries."""
    history = DeployHistory(client, bot.id)
    try:
        await patiently(io, history.load)
    except MedplumError as error:
        io.warning(f"the bot's history could not be read, so deploys are not marked ({error})")
    return history.deploys


async def read_events(
    client: MedplumClient,
    io: Output,
    bot: Bot,
    *,
    limit: int,
    failures: bool,
    window: timedelta | None,
) -> Listing:
    """The newest ``limit`` events of ``bot`` (newest first), and whether more match."""
    now = client.now()
    since = now - window if window is not None else None
    listing = Listing(bot=bot, now=now)
    seen: set[str] = set()
    page = await patiently(
        io,
        lambda: client.bot_events(
            bot.id, count=min(limit + 1, MAX_PAGE_SIZE), failed_only=failures, since=since
        ),
    )
    for _ in range(MAX_LIMIT):
        listing.invalid += page.invalid
        for event, resource in zip(page.resources, page.raw, strict=True):
            # Offset paging shifts when new runs land meanwhile: never show one twice.
            if event.id not in seen:
                seen.add(event.id)
                listing.events.append(event)
                listing.raw.append(resource)
        if len(listing.events) > limit or not page.next_url:
            break
        next_page = await patiently(io, partial(client.next_page, page, AuditEvent))
        if next_page is None:
            break
        page = next_page
    listing.more = len(listing.events) > limit or (len(listing.events) == limit and page.next_url is not None)
    del listing.events[limit:], listing.raw[limit:]
    return listing


# ------------------------------------------------------------------------------------------------
# One-shot
# ------------------------------------------------------------------------------------------------


def _warn(listing: Listing, io: Output) -> None:
    warn_unreadable(io, listing.invalid, "AuditEvent")
    bot = listing.bot
    if not bot.writes_audit_events:
        io.warning(f"bot {first_line(bot.display_name, 60)!r}: {explain_no_events(bot).title}")


def _noun(args: argparse.Namespace, count: int) -> str:
    """``1 event``, ``20 failed runs in the last 2d``."""
    text = plural(count, "failed run") if args.failures else plural(count, "event")
    return text + (f" in the last {span_text(args.since)}" if args.since is not None else "")


def _more(listing: Listing, args: argparse.Namespace) -> str:
    shown = len(listing.events)
    where = f" in the last {span_text(args.since)}" if args.since is not None else ""
    more = f"--limit {min(shown * 10, MAX_LIMIT):,} shows more" if shown < MAX_LIMIT else "--since narrows it"
    return f"More match{where}: these are the newest {shown:,} ({more})"


def _print(listing: Listing, args: argparse.Namespace, io: Output) -> None:
    if args.json:
        io.json(listing.raw)
    elif args.csv:
        writer = io.csv_writer()
        writer.row(CSV_FIELDS)
        _csv_rows(writer, listing.events)
    else:
        _table(listing, args, io)
        return
    if listing.more:
        io.warning(_more(listing, args))


def _heading(bot: Bot, text: str, width: int) -> str:
    """``name (id): text``; without the id, and the name cut, when that is too wide."""
    full = f"{first_line(bot.display_name, 60)} ({clip(bot.id, 64)}): {text}"
    if cell_len(full) <= width:
        return full
    room = max(10, width - cell_len(text) - 2)
    return f"{cut(first_line(bot.display_name, 200), room)}: {text}"


def _table(listing: Listing, args: argparse.Namespace, io: Output) -> None:
    bot, events = listing.bot, listing.events
    if not events:
        if args.failures or args.since is not None:
            io.line(_heading(bot, _noun(args, 0).replace("0 ", "no ", 1), io.width))
        else:
            reason = explain_no_events(bot)
            io.line(_heading(bot, reason.title, io.width))
            for line in reason.lines:
                io.prose(line)
        return
    count = f"the newest {_noun(args, len(events))}" if listing.more else _noun(args, len(events))
    io.line(_heading(bot, f"{count}, newest first", io.width))
    rows = [_cells(event, listing.now, bot) for event in events]
    lines = render(COLUMNS, rows, width=io.width, plan=PLAN, paint=io.paint)
    io.lines(_with_deploys(lines, events, listing.deploys, io))
    if listing.more:
        io.prose(_more(listing, args))


def _with_deploys(
    lines: list[str], events: Sequence[AuditEvent], deploys: Sequence[Deploy], io: Output
) -> list[str]:
    """The table's lines (its header, then a line per event, newest first) with a line for each
    deploy where it falls: under the first run that started after it (above the first row when no
    run did; see :func:`~botmon_tui.monitor.deploys.first_runs_after`)."""
    after, newer = first_runs_after(deploys, events)
    if not after and not newer:
        return lines
    width = min(io.width, max(40, cell_len(lines[0])))
    out = [lines[0], *(_deploy_line(deploy, width, io) for deploy in newer)]
    for line, event in zip(lines[1:], events, strict=True):
        out.append(line)
        if event.id in after:
            out.append(_deploy_line(after[event.id], width, io))
    return out


def _deploy_line(deploy: Deploy, width: int, io: Output) -> str:
    """``── deployed 2025-03-14T11:50:00.000Z (2 versions, by ci-deploy) ──────``"""
    who = f", by {first_line(deploy.author, 40)}" if deploy.author else ""
    versions = plural(len(deploy.versions), "version")
    text = f"── deployed {format_instant(deploy.at)} ({versions}{who}) "
    return io.paint(cut(text + "─" * max(0, width - cell_len(text)), width), "bold")


def _duration(event: AuditEvent, bot: Bot | None) -> str | Cell:
    """``12.4 s``; ``⏱ 53.9 s`` when the run used 80 % of ``bot``'s timeout or more (an error when
    it timed out: a failed run at 95 %)."""
    text = duration_text(event.duration)
    if bot is None:
        return text
    timing = run_timing(event, bot)
    if not (timing.near_timeout or timing.timed_out):
        return text
    return Cell(f"{NEAR_TIMEOUT_MARK} {text}", text, "error" if timing.timed_out else "warning")


def _cells(event: AuditEvent, now: datetime | None, bot: Bot | None = None) -> tuple[str | Cell, ...]:
    """A row of :data:`COLUMNS`; without the age when ``now`` is None (:data:`FOLLOW_COLUMNS`);
    ``bot``: its runs near the bot's timeout are marked."""
    info = event.outcome_info
    when = event.when
    cells: tuple[str | Cell, ...] = (
        first_line(event.id, 200),
        Cell(outcome_label(info), outcome_label(info, code=False), info.level),
        Cell(format_instant(when), absolute_time(when, UTC, short=True))
        if when is not None
        else clip(event.when_raw, 40) or "—",
    )
    if now is not None:
        cells += (relative_age(when, now),)
    return (*cells, _duration(event, bot), summary_line(event.outcomeDesc))


def _csv_rows(writer: CsvWriter, events: Sequence[AuditEvent]) -> None:
    for event in events:
        info = event.outcome_info
        when = event.when
        duration = event.duration
        writer.row(
            (
                event.id,
                event.outcome,
                info.display if event.outcome is not None else "",
                format_instant(when) if when is not None else event.when_raw,
                f"{duration.total_seconds():.3f}" if duration is not None else "",
                summary_line(event.outcomeDesc, limit=1000),
                event.outcomeDesc,
            )
        )


# ------------------------------------------------------------------------------------------------
# Follow
# ------------------------------------------------------------------------------------------------


class _Printer:
    """Prints batches of runs in one format, on columns fixed by the first batch (which it prints)."""

    def __init__(
        self,
        args: argparse.Namespace,
        io: Output,
        first: Sequence[AuditEvent],
        raw: Sequence[dict[str, Any]],
    ) -> None:
        self.args, self.io = args, io
        self.csv: CsvWriter | None = None
        self.layout: Layout | None = None
        if args.csv:
            self.csv = io.csv_writer()
            self.csv.row(CSV_FIELDS)
        elif not args.json:
            # The first rows are made once: they fix the columns and are printed under the header.
            rows = [_cells(e, None) for e in first]
            self.layout = fit(FOLLOW_COLUMNS, [*rows, _WIDEST], io.width, FOLLOW_PLAN)
            io.lines(self.layout.lines(rows, paint=io.paint))
            io.flush()
            return
        self.batch(first, raw)

    def batch(self, events: Sequence[AuditEvent], raw: Sequence[dict[str, Any]]) -> None:
        io = self.io
        if self.args.json:
            for resource in raw:
                io.json(resource, indent=None)
        elif self.csv is not None:
            _csv_rows(self.csv, events)
        elif self.layout is not None:
            rows = [_cells(e, None) for e in events]
            io.lines(self.layout.lines(rows, header=False, paint=io.paint))
        io.flush()


async def _follow(
    client: MedplumClient, listing: Listing, args: argparse.Namespace, io: Output, interval: float
) -> int:
    """Print new runs until ctrl+c (KeyboardInterrupt), the reader of stdout goes away (0) or the
    terminal does (1): ``botmon_tui.hangup`` watches for both, between polls and during them."""
    bot = listing.bot
    first = list(reversed(listing.events))
    if not args.json and not args.csv:
        what = "failed runs" if args.failures else "runs"
        io.line(_heading(bot, f"following new {what} every {interval:g} s (Ctrl-C to stop)", io.width))
    printer = _Printer(args, io, first, list(reversed(listing.raw)))

    cursor = EventCursor.for_bot(bot.id, FAILURE_CODES if args.failures else ())
    cursor.seed(listing.events, listing.now)
    if cursor.newest is None:
        # Nothing matched: start from now (or the window's start), not from the oldest run ever.
        cursor.newest = listing.now - args.since if args.since is not None else listing.now
    schedule = PollSchedule(interval)
    delay = interval
    with watch_output(io.out) as gone:
        while not io.closed:
            waited = await until_gone(SLEEP(delay), gone)
            if isinstance(waited, Gone) or io.closed:
                return ended_status(io, waited)
            polled = await until_gone(_poll_once(client, cursor, schedule, printer, io), gone)
            if isinstance(polled, Gone):
                return ended_status(io, polled)
            delay = polled
    return ended_status(io, None)


def ended_status(io: Output, gone: Gone | None) -> int:
    """The reader of stdout went away (``| head`` has its lines): status 0, as ``tail -f`` ends; or
    the terminal did (an SSH connection dropped, seen by the watch or by a write failing with
    EIO): status 1, as the TUI. Nothing more is written either way. (``watch`` ends the same way.)"""
    io.reader_gone()
    if not io.terminal_gone and (gone is None or gone.kind == "reader"):
        return EXIT_OK
    park_standard_fds((1, 2))
    return EXIT_TERMINAL_GONE


async def _poll_once(
    client: MedplumClient, cursor: EventCursor, schedule: PollSchedule, printer: _Printer, io: Output
) -> float:
    """One poll of ``--follow``: print what is new; return how long to wait before the next."""
    raw: list[dict[str, Any]] = []
    try:
        new, behind = await client.events_since(
            cursor, count=FOLLOW_PAGE, max_pages=FOLLOW_MAX_PAGES, raw=raw
        )
    except MedplumError as exc:
        delay = schedule.failure(exc)
        io.note(f"{exc}; trying again in {delay:.0f} s")
        return delay
    delay = 0.0 if behind else schedule.success()
    if schedule.take_recovered():
        io.note("the server answers again; following")
    warn_unreadable(io, cursor.take_unreadable(), "AuditEvent")
    if new:
        printer.batch(new, raw)
    return delay
