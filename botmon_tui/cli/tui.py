"""The TUI's ``--bot NAME_OR_ID``: which bot it means, asked before the TUI takes the screen."""

from __future__ import annotations

from collections.abc import Sequence

from botmon_tui.cli.args import UsageError
from botmon_tui.cli.output import Output
from botmon_tui.cli.session import as_id, connected, find_bot, run_async
from botmon_tui.medplum.auth import ConnectionSettings
from botmon_tui.medplum.errors import AuthError, MedplumError

__all__ = ["bot_for_tui"]


def bot_for_tui(connections: Sequence[ConnectionSettings], io: Output, text: str) -> tuple[int, str]:
    """Which connection lists the bot ``text`` names, and its id (an unknown or ambiguous name is
    exit 2, before the TUI). Several connections are asked in turn; the first that knows it wins.

    When a server cannot be asked (down, unreachable), an id is handed to the TUI as it is (in the
    first connection): the TUI waits for the server with its usual backoff. A name cannot be, so
    that is an error.
    """

    async def lookup(settings: ConnectionSettings) -> str:
        async with connected(settings, io) as client:
            return (await find_bot(client, io, text)).id

    first: Exception | None = None
    for index, settings in enumerate(connections):
        try:
            return index, run_async(lookup(settings))
        except (MedplumError, UsageError) as exc:
            first = first or exc
    assert first is not None
    bot_id = as_id(text)
    if bot_id is None or isinstance(first, AuthError | UsageError):
        raise first
    return 0, bot_id
