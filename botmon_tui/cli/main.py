"""``main()``: parse, resolve the connection, run one command, map what went wrong to an exit status.

Each command lives in its own module and is imported only when it runs, so ``--version`` and
``--help`` load no HTTP, pydantic or Textual code, and ``bots`` / ``events`` / ``status`` load no
Textual code.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from botmon_tui import __version__
from botmon_tui.cli.args import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_SERVER,
    EXIT_USAGE,
    PROG,
    UsageError,
    build_parser,
)
from botmon_tui.cli.output import Output, OutputError, silence_stdout

if TYPE_CHECKING:
    from botmon_tui.config import Flags, Resolver
    from botmon_tui.medplum.auth import ConnectionSettings
    from botmon_tui.onalert import AlertCommand
    from botmon_tui.ui.app import AppOptions

__all__ = ["main"]

#: The commands that watch or read several projects (``-p prod -p staging``); the others read one.
SEVERAL = (None, "tui", "status", "bots", "failures", "watch")


def _flags(args: argparse.Namespace) -> Flags:
    from botmon_tui.config import Flags

    return Flags.from_args(args)


@contextmanager
def _demo_server(enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    from botmon_tui.demo import DemoConfig, DemoServer

    server = DemoServer(DemoConfig(live=True))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _cmd_demo_server(args: argparse.Namespace, io: Output) -> int:
    """Run the demo backend in the foreground; it prints its URL, credentials and examples."""
    from botmon_tui.demo import DemoConfig, serve_forever

    # Ctrl-C is how this command is meant to end, whenever it lands: exit 0.
    with suppress(KeyboardInterrupt):
        serve_forever(args.port or None, DemoConfig(seed=args.seed, verbose=args.verbose), out=io.out)
    return EXIT_OK


def _terminal_problem() -> str | None:
    """Why the TUI cannot run here (``None``: it can): its screen needs a terminal on both stdin
    (keys) and stdout (the screen). Without one (``</dev/null``, cron, ``ssh -T``, a pipe) Textual
    would spin on input at end-of-file and write escape codes into a file."""
    for name, stream in (("stdin", sys.stdin), ("stdout", sys.stdout)):
        try:
            tty = stream is not None and stream.isatty()
        except (AttributeError, ValueError, OSError):
            tty = False
        if not tty:
            return (
                f"the TUI needs a terminal, and {name} is not one (a file, a pipe, cron or ssh -T): "
                f"for scripts use '{PROG} status', '{PROG} watch' or '{PROG} events NAME --follow'"
            )
    return None


def _cmd_tui(
    connections: Sequence[tuple[str, ConnectionSettings]],
    args: argparse.Namespace,
    io: Output,
    options: AppOptions,
    *,
    demo: bool,
) -> int:
    """The TUI on every connection (``(label, settings)``): one ``ProjectSession`` each."""
    from botmon_tui.cli.tui import bot_for_tui
    from botmon_tui.medplum.client import MedplumClient
    from botmon_tui.monitor.session import Connection
    from botmon_tui.ui.app import run_tui

    if args.bot:
        index, bot_id = bot_for_tui([settings for _, settings in connections], io, args.bot)
        # The bot's project first: --bot opens in the first session.
        connections = [connections[index], *connections[:index], *connections[index + 1 :]]
        options = replace(options, bot_id=bot_id)
    return run_tui(
        [
            Connection(MedplumClient(settings), "demo" if demo else label, demo=demo, grace=args.grace)
            for label, settings in connections
        ],
        options,
    )


def _run(argv: Sequence[str] | None, io: Output) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    command = args.command
    if command == "demo-server":
        return _cmd_demo_server(args, io)
    if args.bot and command in ("bots", "events", "watch"):
        raise UsageError(f"--bot is for the TUI, 'status' and 'failures'; '{command}' does not take it")
    if command is None and not getattr(args, "show_config", False):
        problem = _terminal_problem()
        if problem is not None:
            raise UsageError(problem)

    from botmon_tui.config import Resolver, Sources, demo_settings, save_theme

    flags = _flags(args)
    use_demo = bool(getattr(args, "demo", False))
    if use_demo and (flags.base_url or flags.profile or flags.client_id or flags.client_secret_file):
        raise UsageError(
            "--demo cannot be combined with --base-url, --profile, --client-id or --client-secret-file"
        )
    sources = Sources.from_os()
    resolver = Resolver(flags, sources)
    if getattr(args, "show_config", False):
        if use_demo:
            raise UsageError("--show-config shows the configured connection; drop --demo")
        return _show_config(resolver, io)
    interval = resolver.interval()
    args.grace = resolver.grace()  # [grace]: status, bots, watch and the TUI
    with _demo_server(use_demo) as demo:
        connections: list[tuple[str, ConnectionSettings]]
        if demo is not None:
            settings = demo_settings(
                demo.base_url, demo.client_id, demo.client_secret, timeout=resolver.timeout()
            )
            connections = [("demo", settings)]
        elif command in SEVERAL:
            connections = [(c.label, c.settings) for c in resolver.connections()]
            settings = connections[0][1]
        else:
            settings = resolver.connection()
            connections = [("", settings)]
        for _, each in connections:
            io.secrets.extend(each.secrets())
        for message in resolver.warnings:
            io.warning(message)
        try:
            if command in ("status", "bots", "failures", "events") and not getattr(args, "follow", False):
                from botmon_tui.ui.gcpolicy import full_collections_off

                with full_collections_off():
                    return _one_shot(command, connections, args, io, interval)
            if command == "events":
                from botmon_tui.cli import events

                return events.run(settings, args, io, interval)
            if command == "watch":
                from botmon_tui.cli import watch

                return watch.run(
                    connections,
                    args,
                    io,
                    interval=interval,
                    realert=resolver.realert(),
                    on_alert=_alert_command(resolver.on_alert()),
                )
            from botmon_tui.ui.app import AppOptions

            options = AppOptions(
                interval=interval,
                realert=resolver.realert(),
                on_alert=_alert_command(resolver.on_alert()),
                bell=resolver.bell(),
                theme=resolver.theme(),
                keymap=resolver.keymap(),
                warnings=tuple(io.scrub(w) for w in resolver.warnings),
                remember_theme=partial(save_theme, sources.config_dir),
            )
            return _cmd_tui(connections, args, io, options, demo=demo is not None)
        except Exception as exc:
            from botmon_tui.medplum.errors import AuthError

            if isinstance(exc, AuthError):
                # Say where the credentials came from (never what they are).
                raise AuthError(
                    f"{exc.message} (credentials from {settings.source})", status=exc.status
                ) from None
            raise


def _alert_command(text: str | None) -> AlertCommand | None:
    """The ``on_alert`` setting parsed (TUI and ``watch``); a usage error when it cannot be run."""
    from botmon_tui.onalert import AlertCommand, AlertCommandError

    try:
        return AlertCommand.parse(text) if text else None
    except AlertCommandError as exc:
        raise UsageError(str(exc)) from None


def _one_shot(
    command: str,
    connections: Sequence[tuple[str, ConnectionSettings]],
    args: argparse.Namespace,
    io: Output,
    interval: float,
) -> int:
    if command in ("status", "failures") and args.bot:  # given before the command: --bot x status
        args.bots = [args.bot, *(args.bots or ())]
    if command == "status":
        from botmon_tui.cli import status

        return status.run(connections, args, io)
    if command == "bots":
        from botmon_tui.cli import bots

        return bots.run(connections, args, io)
    if command == "failures":
        from botmon_tui.cli import failures

        return failures.run(connections, args, io)
    from botmon_tui.cli import events

    return events.run(connections[0][1], args, io, interval)


def _show_config(resolver: Resolver, io: Output) -> int:
    """``--show-config``: every setting of the run, then each connection's under its label, with
    its value and source (secrets masked); no network. Exit 2 when something stops a connection."""
    report = resolver.describe()
    rows = [*report.settings, *(row for c in report.connections for row in c.rows)]
    width = max(len(row.label) for row in rows)
    for row in report.settings:
        io.line(f"{row.label.ljust(width + 2)}  {row.value}  [{row.source}]")
    for connection in report.connections:
        io.line("")
        io.line(f"{connection.label}  [{connection.origin}]")
        for row in connection.rows:
            io.line(f"  {row.label.ljust(width)}  {row.value}  [{row.source}]")
    for message in resolver.warnings:
        io.warning(message)
    for problem in report.problems:
        io.error(problem)
    return EXIT_USAGE if report.problems else EXIT_OK


def _crash_log(error: BaseException, secrets: Sequence[str]) -> str:
    """Write the traceback (secrets masked) to the crash log; return where it went."""
    from botmon_tui.crashlog import CrashLog

    log = CrashLog(secrets=lambda: secrets)
    if log.write(error, f"{PROG} {__version__} (command line)"):
        return f"traceback in {log.path}"
    return "could not write the log file"


def _status_of(exc: Exception, io: Output) -> int:
    """The exit status of an error a command raised (and its one line on stderr)."""
    # Only modules already loaded can have raised these: importing them here costs nothing.
    config = sys.modules.get("botmon_tui.config")
    errors = sys.modules.get("botmon_tui.medplum.errors")
    if isinstance(exc, UsageError) or (config is not None and isinstance(exc, config.ConfigError)):
        io.error(str(exc))
        return EXIT_USAGE
    if errors is not None and isinstance(exc, errors.MedplumError):
        io.error(str(exc))
        return EXIT_SERVER
    if isinstance(exc, BrokenPipeError):  # help or the demo server's banner into `| head`
        silence_stdout(io.out)
        return EXIT_OK
    if isinstance(exc, OutputError):
        io.error(str(exc))
        silence_stdout(io.out)
        return EXIT_OUTPUT
    where = _crash_log(exc, io.secrets)
    io.error(f"internal error ({type(exc).__name__}); {where}")
    return EXIT_INTERNAL


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``botmon-tui``; return the exit status (never raises, never prints a traceback)."""
    for stream in (sys.stdout, sys.stderr):
        with suppress(AttributeError, ValueError, OSError):
            stream.reconfigure(errors="replace")  # type: ignore[union-attr]
    io = Output.for_streams(sys.stdout, sys.stderr, os.environ)
    try:
        code = _run(argv, io)
        io.flush()
        return code
    except KeyboardInterrupt:
        with suppress(Exception):
            io.flush()
        return EXIT_INTERRUPTED
    except Exception as exc:
        return _status_of(exc, io)
