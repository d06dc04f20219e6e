"""Messages shown in place of an empty table: the troubleshooting banner and the plain empty state."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from botmon_tui.formatting import NoEventsReason
from botmon_tui.ui.formatting import BOLD, DIM

__all__ = ["Banner", "banner_text", "empty_text"]


def banner_text(reason: NoEventsReason, bot_link: str | None = None) -> Text:
    mark = "⚠ " if reason.blocking else ""
    text = Text(end="")
    text.append(mark + reason.title + "\n", BOLD)
    for line in reason.lines:
        text.append("\n" + line)
    if bot_link and reason.blocking:
        text.append("\n\nThe bot in the Medplum app: ", DIM)
        text.append(bot_link)
        text.append("\nMedplum docs: ", DIM)
    else:
        text.append("\n\nMedplum docs: ", DIM)
    text.append(reason.docs_url)
    return text


def empty_text(message: str, hint: str) -> Text:
    text = Text(end="")
    text.append(message, BOLD)
    text.append("\n" + hint, DIM)
    return text


class Banner(Static):
    """A bordered message box; ``-warning`` for settings that block events, ``-info`` otherwise."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", markup=False, id=id)
        self.cause: str | None = None

    def show_reason(self, reason: NoEventsReason, bot_link: str | None = None) -> None:
        self.cause = reason.cause
        self.set_class(reason.blocking, "-warning")
        self.set_class(not reason.blocking, "-info")
        self.remove_class("-empty", "-error")
        self.border_title = "Why no events?"
        self.update(banner_text(reason, bot_link))

    def show_empty(self, message: str, hint: str) -> None:
        self.cause = "filtered"
        self.remove_class("-warning", "-info", "-error")
        self.add_class("-empty")
        self.border_title = None
        self.update(empty_text(message, hint))

    def show_error(self, message: Text, title: str = "Cannot show this bot") -> None:
        self.cause = "error"
        self.remove_class("-warning", "-info", "-empty")
        self.add_class("-error")
        self.border_title = title
        self.update(message)
