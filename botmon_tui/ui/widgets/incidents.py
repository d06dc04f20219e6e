"""The failing-now summary on every screen: ``! 2 failing · 1 flaky · 1 acked``.

Counted by the app after every project's poll (``BotmonApp.update_incident_summary``, all projects
together; the wording is ``monitor.incidents.counts_text``, shared with the command line), shown at
the right end of each screen's status row (:class:`IncidentSummary`) and in the help screen's
title, so that what is failing stays in sight whatever is open, not only in toasts.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from botmon_tui.monitor.incidents import IncidentCounts, counts_text
from botmon_tui.ui.formatting import DIM, Palette

__all__ = ["IncidentSummary", "incident_summary"]


def incident_summary(counts: IncidentCounts, acked: int, palette: Palette, *, compact: bool = False) -> Text:
    """``! 2 failing · 1 flaky`` in the failure style (``✓ nothing failing`` in the success one);
    ``acked``: how many open incidents were acknowledged (``a``), said after them. ``compact``
    (80 columns): what is failing now only, not what recovered (it leaves the status line room)."""
    if compact:
        counts = IncidentCounts({state: n for state, n in counts.counts.items() if state != "recovered"})
    words = counts_text(counts)
    style = palette.fail if counts.active else palette.warn if counts["flaky"] else palette.ok
    text = Text(words, style=style, no_wrap=True, overflow="ellipsis", end="")
    if acked:
        text.append(" · ", DIM)
        text.append(f"{acked:,} acked", DIM)
    return text


class IncidentSummary(Static):
    """One line at the right of the status row; hidden until a project is loaded."""

    DEFAULT_CSS = """
    IncidentSummary { width: auto; height: 1; padding: 0 1; display: none; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", markup=False, id=id)
        self.summary: Text | None = None

    @property
    def plain(self) -> str:
        return self.summary.plain if self.summary is not None else ""

    def show(self, summary: Text | None) -> None:
        if summary == self.summary:
            return
        self.summary = summary
        self.display = summary is not None
        self.update(summary or "")
