"""The TUI's ``--bot NAME_OR_ID``: which bot it means, asked before the TUI takes the screen."""

from __future__ import annotations

from botmon_tui.cli.output import Output
from botmon_tui.cli.session import as_id, connected, find_bot, run_async
from botmon_tui.medplum.auth import ConnectionSettings
from botmon_tui.medplum.errors import AuthError, MedplumError

__all__ = ["bot_for_tui"]


def bot_for_tui(settings: ConnectionSettings, io: Output, text: str) -> str:
    """The id of the bot ``text`` names (an unknown or ambiguous name is exit 2, before the TUI).

    When the server cannot be asked (down, unreachable), an id is handed to the TUI as it is: the
    TUI waits for the server with its usual backoff. A name cannot be, so that is an error.
    """

    async def lookup() -> str:
        async with connected(settings, io) as client:
            return (await find_bot(client, io, text)).id

    try:
        return run_async(lookup())
    except MedplumError as exc:
        bot_id = as_id(text)
        if bot_id is None or isinstance(exc, AuthError):
            raise
        return bot_id
