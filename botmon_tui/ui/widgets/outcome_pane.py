"""The Outcome Desc pane: the selected run's whole console output and its details.

The output is untrusted (bot code writes it): it is shown through ``textsafe.ansi_text`` (SGR
colours only, every other control made visible), never through markup. Very large outputs
show their head and tail (the end of a log is where errors are) with a note in between.

A search (the Event tab's ``/`` text) highlights every match in the output; ``n`` / ``N`` move
between them, scrolling the pane so that the current one is a third of the way down (the border
says which one it is). Moving to another match only scrolls: the text is not built or wrapped
again (wrapping a 64 KiB output is what makes a long log slow to show). In an output too large
to show whole, the part around the current match is shown instead of the head and tail, so that
every match can be reached while the pane never holds more than ``MAX_PANE_CHARS``.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from itertools import islice
from typing import NamedTuple

from rich.text import Text
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from botmon_tui.formatting import absolute_time, duration_text, relative_age, seconds_between
from botmon_tui.medplum.auth import app_link
from botmon_tui.medplum.models import AuditEvent
from botmon_tui.monitor.feed import FeedEvent
from botmon_tui.textsafe import ansi_text, clip
from botmon_tui.ui.formatting import BOLD, DIM, Palette, app_palette, entity_lines, outcome_text

__all__ = [
    "MAX_MATCHES",
    "MAX_PANE_CHARS",
    "OutcomePane",
    "OutputView",
    "PaneText",
    "find_matches",
    "output_view",
    "pane_text",
    "shown_parts",
]

#: Longest output shown whole; past this, a window of it: the first and last halves with a note
#: between, or (searching) the part around the current match. Above Medplum's 10,240-character cap
#: (a stored log is shown whole), and small enough to wrap quickly: Textual wraps the whole text
#: of the pane on every layout, ~9 ms for 16 KiB and ~60 ms for 64 KiB at 120 columns.
MAX_PANE_CHARS = 16 * 1024
TITLE = "Outcome Desc"
#: Most matches of a search found in one output (bounded work per key press).
MAX_MATCHES = 5_000

Span = tuple[int, int]


def find_matches(plain: str, needle: str, start: int = 0, limit: int | None = MAX_MATCHES) -> list[Span]:
    """Where ``needle`` occurs in ``plain`` from ``start`` (case-insensitive), at most ``limit``
    (``None``: every one)."""
    if not needle:
        return []
    pattern = re.compile(re.escape(needle), re.IGNORECASE)
    return [match.span() for match in islice(pattern.finditer(plain, start), limit)]


@dataclass
class OutputView:
    """The console output as the pane shows it, and where each match shown starts in it."""

    text: Text
    #: Match index → offset in ``text`` (matches in a part not shown are absent).
    starts: dict[int, int] = field(default_factory=dict)


def _not_shown(text: Text, hidden: int, length: int) -> None:
    text.append(f"\n\n… {hidden:,} characters not shown (the output is {length:,} characters) …\n\n", DIM)


def shown_parts(
    length: int, target: int | None = None, before: list[Span] | None = None, *, forward: bool = True
) -> list[Span]:
    """The parts of an output of ``length`` characters the pane shows: all of it, or its head and
    tail, or (``target``: the offset of the current match, when neither holds it) the part from
    just before it (``forward``; else up to just after it). Parts shown ``before`` that hold the
    target well inside stay: moving between the matches they hold only scrolls."""
    half = MAX_PANE_CHARS // 2
    if length <= MAX_PANE_CHARS:
        return [(0, length)]
    margin = MAX_PANE_CHARS // 16
    if target is not None and before and any(a + margin <= target < b - margin for a, b in before):
        return before
    if target is None or target < half or target >= length - half:
        return [(0, half), (length - half, length)]
    begin = target - 2 * margin if forward else target + 2 * margin - MAX_PANE_CHARS
    begin = max(0, min(begin, length - MAX_PANE_CHARS))
    return [(begin, begin + MAX_PANE_CHARS)]


def output_view(
    full: Text, palette: Palette, matches: list[Span] | None = None, target: int | None = None
) -> OutputView:
    """``full`` (the whole output) as shown (see :func:`shown_parts`), every match highlighted."""
    matches = matches or []
    length = len(full.plain)
    parts = shown_parts(length, target)
    view = OutputView(Text(end=""))
    text = view.text
    done = 0
    for begin, end in parts:
        if begin > done:
            _not_shown(text, begin - done, length)
        base = len(text.plain)
        piece = full[begin:end]
        for index, (start, stop) in enumerate(matches):
            if begin <= start and stop <= end:
                piece.stylize(palette.match, start - begin, stop - begin)
                view.starts[index] = base + start - begin
        text.append_text(piece)
        done = end
    if done < length:
        _not_shown(text, length - done, length)
    return view


class PaneText(NamedTuple):
    text: Text
    #: Where the console output starts in ``text``.
    output_start: int


def pane_text(
    event: AuditEvent | FeedEvent,
    *,
    now: datetime,
    tz: tzinfo | None,
    palette: Palette,
    app_base: str | None = None,
    colour: bool = True,
    output: OutputView | None = None,
) -> PaneText:
    """The pane's content for ``event``: a two-line summary, the output (``output``: as given by
    :func:`output_view`, else all of it or its head and tail), then the details.

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
    start = len(text.plain)
    if raw.strip():
        text.append_text((output or output_view(ansi_text(raw, colour=colour), palette)).text)
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
    return PaneText(text, start)


class OutcomePane(VerticalScroll, can_focus=True):
    """Scrollable (``tab`` to focus, then arrows / page keys) view of one event, with a search."""

    DEFAULT_CSS = """
    OutcomePane { height: 1fr; }
    OutcomePane > #pane-body { width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.event_id: str | None = None
        #: What the text last shown was made from (to skip an update that would change nothing).
        self._shown: tuple[object, ...] | None = None
        self._event: AuditEvent | FeedEvent | None = None
        self._where: tuple[datetime, tzinfo | None, str | None] | None = None
        #: The search (case-insensitive; ``""``: none), its matches in the output, the current one.
        self.needle = ""
        self._stale = False
        self.matches: list[Span] = []
        #: Every match of the output is in ``matches`` (a search stops at ``MAX_MATCHES`` at first;
        #: ``n`` past the last one found, or ``N`` before the first, looks further).
        self.complete = True
        self.current: int | None = None
        #: The whole output of the event shown (ANSI parsed), and what it was made from.
        self._full: tuple[object, Text] | None = None
        #: Where each match shown starts in the pane's text.
        self._starts: dict[int, int] = {}
        #: The parts of the output shown (see ``shown_parts``).
        self._parts: list[Span] | None = None
        self._search_forward = True
        #: The pane's text by source line: char offset of each line, visual line of each (at a width).
        self._lines: tuple[object, list[int], list[int]] | None = None
        self.border_title = TITLE

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
            self._event = None
            self._shown = None
            self.matches, self.current = [], None
            self._subtitle()
            self.body.update(Text("No event selected.", style=DIM))
            return
        changed = event.id != self.event_id
        self._event = event
        self._where = (now, tz, app_base)
        # Another run, or another search: from its first match (or the top). The same run again
        # (a poll brought a new version of it): where the reader was.
        moved = changed or self._stale
        if moved or self._full is None or self._full[0] != (event, not self.app.no_color):
            keep = None if moved else self.current
            if changed:
                self._parts = None
            self.event_id = event.id
            self._stale = False
            self._find()
            if keep is not None and keep < len(self.matches):
                self.current = keep
        self._paint(scroll=moved)

    # ------------------------------------------------------------------ search

    def search(self, needle: str) -> None:
        """Highlight ``needle`` in the output (``""``: no search) from the next :meth:`show`, at
        its first match."""
        if needle != self.needle:
            self.needle = needle
            self._stale = True

    def step(self, delta: int) -> str | None:
        """Go to the next (``delta=1``) or previous (``-1``) match; a message when there is none."""
        if not self.needle:
            return "No search: / searches the output (and filters the runs)"
        if not self.matches:
            return "No match for the search in this run's output"
        current = -1 if self.current is None else self.current
        if not self.complete and (current + delta >= len(self.matches) or current + delta < 0):
            self._find_more(everything=current + delta < 0)
        self.current = (current + delta) % len(self.matches)
        self._search_forward = delta > 0
        self._paint(scroll=True)
        return None

    def _output(self) -> Text:
        """The whole output of the event shown, ANSI parsed (kept while the event is the same)."""
        event = self._event
        assert event is not None
        colour = not self.app.no_color
        key = (event, colour)
        if self._full is None or self._full[0] != key:
            self._full = (key, ansi_text(event.outcomeDesc or "", colour=colour))
        return self._full[1]

    def _find(self) -> None:
        found = (
            find_matches(self._output().plain, self.needle, limit=MAX_MATCHES + 1)
            if self._event is not None
            else []
        )
        self.complete = len(found) <= MAX_MATCHES
        self.matches = found[:MAX_MATCHES]
        self.current = 0 if self.matches else None

    def _find_more(self, *, everything: bool) -> None:
        """The matches after the last one found: the next ``MAX_MATCHES``, or (``everything``, to
        go back from the first to the last) all of them; a search covers the whole output."""
        limit = None if everything else MAX_MATCHES + 1
        more = find_matches(self._output().plain, self.needle, self.matches[-1][1], limit)
        self.complete = everything or len(more) <= MAX_MATCHES
        self.matches.extend(more if everything else more[:MAX_MATCHES])

    def _subtitle(self) -> None:
        """The border's title says the search and where the current match is (the pane has
        only a top, or a left, border: a subtitle would not show)."""
        if not self.needle:
            self.border_title = TITLE
            return
        if not self.matches:
            label = f"{TITLE} · /{clip(self.needle)}: no match in this output"
        else:
            count = f"{len(self.matches):,}{'' if self.complete else '+'}"
            label = f"{TITLE} · /{clip(self.needle)}: {(self.current or 0) + 1:,} of {count} · n/N"
        self.border_title = Text(label)  # (a str would be read as markup)

    # ------------------------------------------------------------------ painting

    def _paint(self, *, scroll: bool) -> None:
        event, where = self._event, self._where
        assert event is not None and where is not None
        now, tz, app_base = where
        colour = not self.app.no_color
        palette = app_palette(self.app)
        target = self.matches[self.current][0] if self.current is not None else None
        parts = shown_parts(len(self._output().plain), target, self._parts, forward=self._search_forward)
        self._parts = parts
        # Everything the text is made of (``now`` only through the age and the zone name): when a
        # poll or a page of older rows changed none of it, the text is neither built again (a
        # coloured 10 KiB log is the slowest part of a repaint) nor re-wrapped.
        shown = (
            event,
            relative_age(event.when, now),
            now.astimezone(tz).tzname(),
            tz,
            app_base,
            palette,
            self.needle,
            parts,
        )
        self._subtitle()
        if shown != self._shown:
            self._shown = shown
            view = output_view(self._output(), palette, self.matches, target)
            text, start = pane_text(
                event, now=now, tz=tz, palette=palette, app_base=app_base, colour=colour, output=view
            )
            self._starts = {index: start + offset for index, offset in view.starts.items()}
            self._lines = None
            self.body.update(text)
        if scroll:
            if self.current is not None:
                # Once the new text is laid out (the scroll range depends on it).
                self.call_after_refresh(self._scroll_to_current)
            else:
                self.scroll_home(animate=False, immediate=True)

    def _scroll_to_current(self) -> None:
        if self.current is None or self.current not in self._starts:
            return
        y = self.visual_line(self._starts[self.current])
        # A third of the way down: the lines before the match read as its context.
        top = max(0, y - self.scrollable_content_region.height // 3)
        self.scroll_to(y=top, animate=False, immediate=True)

    def visual_line(self, offset: int) -> int:
        """The line of the pane (as wrapped now) that shows the character at ``offset`` of its text."""
        content = self.body.content
        plain = content.plain if isinstance(content, Text) else str(content)
        width = max(1, self.body.size.width)
        key = (id(content), width)
        if self._lines is None or self._lines[0] != key:
            starts: list[int] = []
            firsts: list[int] = []
            position = visual = 0
            for line in plain.split("\n"):
                starts.append(position)
                firsts.append(visual)
                position += len(line) + 1
                visual += len(Content(line).wrap(width)) if self._may_wrap(line, width) else 1
            self._lines = (key, starts, firsts)
        _, starts, firsts = self._lines
        index = max(0, bisect_right(starts, offset) - 1)
        line = plain[starts[index] : starts[index + 1] - 1 if index + 1 < len(starts) else len(plain)]
        column = offset - starts[index]
        # Within a line wrapped over several: the piece that holds the column.
        below = 0
        if self._may_wrap(line, width):
            found = 0
            for number, piece in enumerate(Content(line).wrap(width)):
                found = line.find(piece.plain, found) if piece.plain else found
                if found > column:
                    break
                below = number
                found += len(piece.plain)
        return firsts[index] + below

    @staticmethod
    def _may_wrap(line: str, width: int) -> bool:
        # A line of at most width/2 characters fits (a character is at most 2 cells wide).
        return len(line) > width // 2 or "\t" in line

    @property
    def plain(self) -> str:
        """What the pane shows, as plain text (for tests)."""
        content = self.body.content
        return content.plain if isinstance(content, Text) else str(content)
