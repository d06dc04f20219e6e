"""Messages that cross screens (posted to the app), as in posting's ``messages.py``."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from botmon_tui.medplum.models import Bot
from botmon_tui.monitor.session import ProjectSession

__all__ = ["OpenBot"]


@dataclass
class OpenBot(Message):
    """Open the Event tab of a bot (from the bot list, the command palette or ``--bot``)."""

    bot_id: str
    bot: Bot | None = None
    #: A run to select once the Event tab has loaded (the Failures screen's ``enter``).
    event_id: str | None = None
    #: The project the bot belongs to (``None``: the one that lists it).
    session: ProjectSession | None = None
