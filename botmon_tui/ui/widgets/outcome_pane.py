"""The Outcome Desc pane: the selected run's whole console output and its details.

The output is untrusted (bot code writes it): it is shown through ``textsafe.ansi_text`` (SGR
colours only, every other control made visible), never through markup. Very large outputs
show their head and tail (the end of a log is where errors are) with a note in between.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from botmon_tui.formatting import absolute_time, duration_text, relative_age, seconds_between
from botmon_tui.medplum.auth import app_link
from botmon_tui.medplum.models import AuditEvent
from botmon_tui.monitor.feed import FeedEvent
from botmon_tui.textsafe import ansi_text, clip
from botmon_tui.ui.formatting import BOLD, DIM, Palette, app_palette, entity_lines, outcome_text

__all__ = ["MAX_PANE_CHARS", "OutcomePane", "pane_text"]

#: Longest output shown whole; past this, the first and last halves with a note between.
MAX_PANE_CHARS = 64 * 1024


def _output(raw: str, *, colour: bool) -> Text:
    if len(raw) <= MAX_PANE_CHARS:
        return ansi_text(raw, colour=colour)
    half = MAX_PANE_CHARS // 2
    hidden = len(raw) - 2 * half
    text = ansi_text(raw[:half], colour=colour)
    text.append(f"\n\n… {hidden:,} characters not shown (the output is {len(raw):,} characters) …\n\n", DIM)
    text.append_text(ansi_text(raw[-half:], colour=colour))
    return text


def pane_text(
    event: AuditEvent | FeedEvent,
    *,
    now: datetime,
    tz: tzinfo | None,
    palette: Palette,
    app_base: str | None = None,
    colour: bool = True,
) -> Text:
    """The pane's content for ``event``: a two-line summary, the whole output, then the details.

    The output comes right after the summary so that at 80x24 it is on screen without scrolling.
    """
    info = event.outcome_info
    zone = now.astimezone(tz).tzname() or ""
    text = Text(end="")
    outcome = outcome_text(info, palette)
    text.append_text(outcome)
    text.append("  ")
    text.append(clip(event.id), BOLD)
    text.append("\n")
    started, ended = event.started, event.ended
    duration = seconds_between(started, ended)
    if started is not None or ended is not None:
        text.append(f"{absolute_time(started, tz)} → {absolute_time(ended, tz).split(' ')[-1]}")
        if duration is not None:
            text.append(f"  {duration_text(duration)}")
    else:
        text.append(f"updated {absolute_time(event.when, tz)}")
    text.append(f"  ({relative_age(event.when, now)})", DIM)
    text.append("\n")
    raw = event.outcomeDesc or ""
    text.append(
        f"──── console output ({len(raw):,} chars) ────\n" if raw else "──── console output ────\n", DIM
    )
    if raw.strip():
        text.append_text(_output(raw, colour=colour))
    else:
        text.append("(no output: the run logged nothing)", DIM)
    text.append("\n\n──── Details ────\n", DIM)

    def row(label: str, value: Text | str) -> None:
        text.append(f"{label:<9}", BOLD)
        if isinstance(value, Text):
            text.append_text(value)
        else:
            text.append(value)
        text.append("\n")

    row("Event", clip(event.id))
    row("Outcome", outcome)
    row("", Text(clip(info.description), style=DIM))
    row("Started", f"{absolute_time(started, tz, ms=True)} {zone}".rstrip())
    ended_text = f"{absolute_time(ended, tz, ms=True)} {zone}".rstrip()
    if duration is not None:
        ended_text += f"  (took {duration_text(duration)})"
    row("Ended", ended_text)
    row("Updated", f"{absolute_time(event.when, tz, ms=True)} {zone}".rstrip())
    entities = entity_lines(event)
    for index, line in enumerate(entities or ["—"]):
        row("Entities" if index == 0 else "", line)
    if app_base:
        row("Link", app_link(clip(app_base), "AuditEvent", clip(event.id)))
    text.rstrip()
    return text


class OutcomePane(VerticalScroll, can_focus=True):
    """Scrollable (``tab`` to focus, then arrows / page keys) view of one event."""

    DEFAULT_CSS = """
    OutcomePane { height: 1fr; }
    OutcomePane > #pane-body { width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.event_id: str | None = None
        #: What the text last shown was made from (to skip an update that would change nothing).
        self._shown: tuple[object, ...] | None = None
        self.border_title = "Outcome Desc"

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static("", id="pane-body", markup=False)

    @property
    def body(self) -> Static:
        return self.query_one("#pane-body", Static)

    def show(
        self, event: AuditEvent | FeedEvent | None, *, now: datetime, tz: tzinfo | None, app_base: str | None
    ) -> None:
        if event is None:
            self.event_id = None
            self._shown = None
            self.body.update(Text("No event selected.", style=DIM))
            return
        colour = not self.app.no_color
        palette = app_palette(self.app)
        # Everything ``pane_text`` reads (``now`` only through the age and the zone name): when a
        # poll or a page of older rows changed none of it, the text is neither built again (a
        # coloured 10 KiB log is the slowest part of a repaint) nor re-wrapped.
        shown = (event, relative_age(event.when, now), now.astimezone(tz).tzname(), tz, app_base, palette)
        if shown == self._shown:
            return
        self._shown = shown
        changed = event.id != self.event_id
        self.event_id = event.id
        self.body.update(pane_text(event, now=now, tz=tz, palette=palette, app_base=app_base, colour=colour))
        if changed:
            self.scroll_home(animate=False, immediate=True)

    @property
    def plain(self) -> str:
        """What the pane shows, as plain text (for tests)."""
        content = self.body.content
        return content.plain if isinstance(content, Text) else str(content)
