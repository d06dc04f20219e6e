"""``botmon-tui watch``: the TUI's alerts, headless: one line per incident change, until Ctrl-C.

Each project is a :class:`~botmon_tui.monitor.session.ProjectSession` polled as the TUI polls it
(two requests a poll whatever the number of bots, the failure watch's one only when a failure it
does not know came, a lookup once per long streak), each on its own schedule (backoff after errors,
429s waited out). At the end of each poll the session's
:class:`~botmon_tui.monitor.tracker.IncidentTracker` says what changed: ``failing``,
``new-signature``, ``still-failing`` (at most every ``--realert``), ``recovered``. Incidents already
there at start are told only with ``--initial``.

Each change is one line on stdout (``--json``: one object per line, NDJSON, flushed), and runs
``--on-alert CMD`` (:mod:`botmon_tui.onalert`) when given; the command's failures and the server's
errors are told on stderr and never stop the watch. It ends with status 130 on Ctrl-C, 0 when the
reader of its pipe goes away (``| head -3``) and 1 when its terminal does, at once
(``botmon_tui.hangup``), as ``events --follow`` does.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping, Sequence
from datetime import timedelta

from botmon_tui.cli.events import ended_status
from botmon_tui.cli.output import Output
from botmon_tui.cli.session import run_async
from botmon_tui.hangup import Gone, until_gone, watch_output
from botmon_tui.medplum.auth import ConnectionSettings
from botmon_tui.medplum.client import MedplumClient
from botmon_tui.medplum.errors import MedplumError
from botmon_tui.medplum.models import format_instant
from botmon_tui.monitor.session import Connection, ProjectSession
from botmon_tui.monitor.tracker import LOUD_EVENTS, RECOVERED, RESUMED, IncidentEvent, event_text
from botmon_tui.onalert import AlertCommand, AlertResult, AlertRunner

__all__ = ["run"]

#: The mark and colour of each event in the text output.
_MARKS = {
    RECOVERED: ("✓", "success"),
    RESUMED: ("✓", "success"),
    "late": ("!", "warning"),
    "quiet": ("!", "warning"),
}
_EVENT_WIDTH = len("new-signature")


def run(
    connections: Sequence[tuple[str, ConnectionSettings]],
    args: argparse.Namespace,
    io: Output,
    *,
    interval: float,
    realert: float,
    on_alert: AlertCommand | None,
) -> int:
    return run_async(_main(connections, args, io, interval, timedelta(seconds=realert), on_alert))


def _sessions(
    connections: Sequence[tuple[str, ConnectionSettings]],
    interval: float,
    realert: timedelta,
    initial: bool,
    grace: Mapping[str, float] | None = None,
) -> list[ProjectSession]:
    sessions: list[ProjectSession] = []
    for index, (label, settings) in enumerate(connections):
        client = MedplumClient(settings)
        sessions.append(
            ProjectSession(
                Connection(client, label, grace=grace or {}),
                interval=interval,
                clock=client.now,
                index=index,
                realert=realert,
                announce_initial=initial,
            )
        )
    return sessions


async def _main(
    connections: Sequence[tuple[str, ConnectionSettings]],
    args: argparse.Namespace,
    io: Output,
    interval: float,
    realert: timedelta,
    command: AlertCommand | None,
) -> int:
    """Watch until ctrl+c (KeyboardInterrupt), the reader of stdout goes away (0) or the terminal
    does (1): ``botmon_tui.hangup`` watches for both, between polls and during them."""
    sessions = _sessions(connections, interval, realert, args.initial, getattr(args, "grace", None))
    several = len(sessions) > 1

    def report(result: AlertResult) -> None:
        if not result.ok:
            io.warning(f"--on-alert: {result.message}")

    runner = AlertRunner(command, report=report, secrets=lambda: io.secrets) if command else None
    try:
        with watch_output(io.out) as gone:
            labels = ", ".join(session.label for session in sessions)
            io.note(f"watching {labels} every {interval:g} s for incidents (Ctrl-C to stop)")
            first = await until_gone(_first_polls(sessions, io, runner, several, args), gone)
            if isinstance(first, Gone):
                return ended_status(io, first)
            ends = await asyncio.gather(
                *(
                    _loop(session, delay, io, gone, runner, several, args)
                    for session, delay in zip(sessions, first, strict=True)
                )
            )
        if runner is not None:  # the reader went away: the alerts told so far still run
            await runner.drain()
        return ended_status(io, next((end for end in ends if end is not None), None))
    finally:
        if runner is not None:
            await runner.aclose()
        for session in sessions:
            io.remember_secrets(session.secrets())
            await session.aclose()


async def _first_polls(
    sessions: Sequence[ProjectSession],
    io: Output,
    runner: AlertRunner | None,
    several: bool,
    args: argparse.Namespace,
) -> list[float]:
    """Every project's first poll, side by side; the delay before each one's next. When none of
    them could be read for a reason that waiting will not fix (bad credentials, no permission),
    the watch ends there (exit 3)."""
    polls = await asyncio.gather(*(_poll(session, io, runner, several, args) for session in sessions))
    errors = [error for error, _ in polls]
    if all(error is not None and not error.retryable for error in errors):
        first = errors[0]
        assert first is not None
        if several:
            for session, error in zip(sessions, errors, strict=True):
                io.error(f"{session.label}: {error}")
            raise MedplumError(f"none of the {len(sessions)} projects could be read")
        raise first
    return [delay for _, delay in polls]


async def _loop(
    session: ProjectSession,
    delay: float,
    io: Output,
    gone: asyncio.Future[Gone] | None,
    runner: AlertRunner | None,
    several: bool,
    args: argparse.Namespace,
) -> Gone | None:
    """One project's polls, each after its schedule's delay, until the output goes away."""
    while not io.closed:
        waited = await until_gone(asyncio.sleep(delay), gone)
        if isinstance(waited, Gone) or io.closed:
            return waited if isinstance(waited, Gone) else None
        polled = await until_gone(_poll(session, io, runner, several, args), gone)
        if isinstance(polled, Gone):
            return polled
        _, delay = polled
    return None


async def _poll(
    session: ProjectSession,
    io: Output,
    runner: AlertRunner | None,
    several: bool,
    args: argparse.Namespace,
) -> tuple[MedplumError | None, float]:
    """One poll of a project, and its incident events told: the error, if it failed, and how long
    to wait before the next (its schedule's: the interval, a backoff, a 429's wait)."""
    named = f"{session.label}: " if several else ""
    schedule = session.schedule
    try:
        await session.poll()
        if session.needs_backfill():
            await session.backfill()
        if session.wants_failures():
            await session.poll_failures()
    except MedplumError as exc:
        delay = schedule.failure(exc)
        io.note(f"{named}{exc}; trying again in {delay:.0f} s")
        return exc, delay
    delay = 0.0 if session.failure_watch.behind else schedule.success()
    if schedule.take_recovered():
        io.note(f"{named}the server answers again; watching")
    events = session.incident_events()
    for event in events:
        _tell(session, event, io, runner, several, args)
    if events:
        io.flush()
    return None, delay


def _tell(
    session: ProjectSession,
    event: IncidentEvent,
    io: Output,
    runner: AlertRunner | None,
    several: bool,
    args: argparse.Namespace,
) -> None:
    record = session.event_record(event)
    if args.json:
        io.json(record, indent=None)
    else:
        io.line(_line(session, event, several, io))
    if runner is not None:
        runner.submit(record)


def _line(session: ProjectSession, event: IncidentEvent, several: bool, io: Output) -> str:
    """``2025-03-14T12:00:05.000Z  ✗ failing        lab-results-router: 3 failed runs since …``
    (with several projects the bot is ``label/name``)."""
    mark, level = _MARKS.get(event.event, ("✗" if event.event in LOUD_EVENTS else "·", "error"))
    when = format_instant(event.at) if event.at else "—"
    where = f"{session.label}/" if several else ""
    facts = event_text(event, session.project.clock())
    head = io.paint(f"{mark} {event.event:<{_EVENT_WIDTH}}", level)
    return f"{when}  {head}  {where}{event.bot}: {facts}"
