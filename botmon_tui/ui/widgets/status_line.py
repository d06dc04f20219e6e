"""The one-line status under every screen: live/paused, data age, interval, errors, retries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from botmon_tui.formatting import duration_text, relative_age, retry_text
from botmon_tui.textsafe import sanitize
from botmon_tui.ui.formatting import BOLD, DIM, Palette

__all__ = ["StatusInfo", "StatusLine", "retry_info_text", "status_text"]


@dataclass
class StatusInfo:
    interval: float
    detail: str = ""
    paused: bool = False
    auto: bool = True
    polling: bool = False
    last_success: datetime | None = None
    error: str | None = None
    errors_in_a_row: int = 0
    retry_in: float | None = None
    note: str | None = None
    note_style: str = "ok"
    #: Said first, in bold: the selected bot's whole name when its cell cuts it (the bot list).
    lead: str | None = None


def _every(seconds: float) -> str:
    return f"every {seconds:g}s" if seconds < 120 else f"every {duration_text(seconds)}"


def retry_info_text(info: StatusInfo) -> str:
    """The status line's retry words (``formatting.retry_text``), also the error panel's."""
    retry_in = info.retry_in if info.auto else None
    return retry_text(retry_in, polling=info.polling, paused=info.paused)


def status_text(info: StatusInfo, now: datetime, palette: Palette) -> Text:
    """The status line as Text (no markup: error messages come from servers)."""
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    sep = (" · ", DIM)
    ok, warn, err = palette.ok, palette.warn, palette.error
    if info.lead and info.error is None:  # (an error comes first: the name waits)
        text.append(sanitize(info.lead), BOLD)
        text.append(*sep)
    if info.error is not None:
        # One line whatever the width (a second one would take a row from the table): the retry,
        # then the error (whole in the panel when the screen has one), then the data's age.
        text.append("✗ ", err)
        text.append(retry_info_text(info), warn if info.paused else err)
        text.append(*sep)
        text.append(sanitize(info.error), err)
        text.append(*sep)
        if info.last_success is not None:
            text.append(f"showing data from {relative_age(info.last_success, now)}")
        else:
            text.append("no data yet")
        if info.detail:
            text.append(*sep)
            text.append(info.detail)
        return text
    if info.paused:
        text.append("‖ paused", warn)
        text.append(" (p resumes)", DIM)
    elif info.last_success is None:
        text.append("… loading", warn)
    elif info.polling:
        text.append("● updating…", ok)
    else:
        text.append("● live", ok)
    if info.last_success is not None:
        text.append(*sep)
        text.append(f"updated {relative_age(info.last_success, now)}")
    if info.auto:
        text.append(*sep)
        text.append(_every(info.interval))
    else:
        text.append(*sep)
        text.append("manual refresh (r)")
    if info.detail:
        text.append(*sep)
        text.append(info.detail)
    if info.note:
        text.append(*sep)
        text.append(sanitize(info.note), ok if info.note_style == "ok" else warn)
    return text


class StatusLine(Static):
    """Shows :func:`status_text`; the owning screen calls :meth:`show` once a second and after polls."""

    DEFAULT_CSS = """
    StatusLine { height: 1; width: 1fr; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", markup=False, id=id)
        self.plain = ""
        self._palette: Palette | None = None

    def show(self, info: StatusInfo, now: datetime, palette: Palette) -> None:
        text = status_text(info, now, palette)
        if text.plain != self.plain or palette is not self._palette:
            self.plain = text.plain
            self._palette = palette
            # One line that stays one line: repaint it, no layout of the whole screen (the age
            # ticks once a second; a layout each time was most of the idle CPU).
            self.update(text, layout=False)
