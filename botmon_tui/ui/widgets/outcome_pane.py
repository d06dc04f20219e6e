"""The Outcome Desc pane: the selected run's context, its whole console output, its details.

Above the output, the run's context: the input resource it processed (``i`` opens it), the
Subscription that started it, its request and trace ids (``R`` / ``T`` copy them). The output is
read as Medplum writes it (:mod:`botmon_tui.runlog`): a Lambda log as columns (time, level in the
theme's colour, message; its request id once), an error with its stack frames as one block, a
mark when the server may have cut its start. The pane opens on the line the summary comes from
(the table's Outcome Desc), highlighted; ``z`` shows the pane full screen.

The output is untrusted (bot code writes it): every string is sanitized, colours come only from
SGR codes through ``textsafe.ansi_text``, never from markup. Very large outputs show a window of
``MAX_PANE_CHARS`` (around the summary line, or the current match) with a note for the rest.

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

from rich.style import Style
from rich.text import Span as RichSpan
from rich.text import Text
from textual.containers import VerticalScroll
from textual.content import Content
from textual.geometry import Size
from textual.widgets import Static

from botmon_tui.formatting import absolute_time, duration_text, relative_age, seconds_between, summarize
from botmon_tui.medplum.auth import app_link
from botmon_tui.medplum.models import AuditEntity, AuditEvent
from botmon_tui.monitor.deploys import Deploy
from botmon_tui.monitor.durations import QUEUE_WAIT_NOTE, QUEUE_WAIT_TEXT
from botmon_tui.monitor.feed import FeedEvent
from botmon_tui.runlog import ERROR, FRAME, MORE, ParsedLog, parse_log
from botmon_tui.textsafe import ansi_text, clip, sanitize, strip_sgr
from botmon_tui.ui.formatting import BOLD, DIM, Palette, app_palette, entity_lines, outcome_text

__all__ = [
    "MAX_MATCHES",
    "MAX_PANE_CHARS",
    "LogText",
    "OutcomePane",
    "OutputView",
    "PaneText",
    "copyable",
    "find_matches",
    "log_text",
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
TITLE_WITH_KEYS = f"{TITLE} · z: full screen"
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


# ------------------------------------------------------------------------------------------------
# The log as columns
# ------------------------------------------------------------------------------------------------

#: A Lambda row: ``23:57:51.720  ERROR  message`` (time, level, message).
TIME_WIDTH = 12
LEVEL_WIDTH = 5
MESSAGE_COLUMN = TIME_WIDTH + 2 + LEVEL_WIDTH + 2
#: Frames sit under their error's message.
FRAME_INDENT = 4


class LogText(NamedTuple):
    """A run's whole output as the pane shows it (before a window of it is taken), as its plain
    text and its styles: only the window shown becomes a ``rich.text.Text`` (building one cleans
    the whole string of control codes again: ~0.2 s for 200 kB on a busy machine)."""

    #: Sanitized.
    plain: str
    spans: list[RichSpan]
    #: The span of the row the summary line comes from (highlighted, and where the pane opens).
    spotlight: Span | None

    def piece(self, begin: int, end: int) -> Text:
        """The part ``begin``..``end`` as a ``Text`` (with the styles in it)."""
        spans = [
            RichSpan(max(span.start, begin) - begin, min(span.end, end) - begin, span.style)
            for span in self.spans
            if span.start < end and span.end > begin
        ]
        return Text(self.plain[begin:end], end="", spans=spans)


def level_style(level: str, palette: Palette) -> Style:
    """A Lambda level in the theme's colours: errors red, warnings yellow, info in the theme's
    primary, debug dim."""
    if level in ("ERROR", "FATAL", "CRITICAL"):
        return palette.fail
    if level in ("WARN", "WARNING"):
        return palette.warn
    if level in ("DEBUG", "TRACE"):
        return DIM
    return palette.note


def _clock(when: datetime, tz: tzinfo | None) -> str:
    local = when.astimezone(tz)
    return local.strftime("%H:%M:%S.") + f"{local.microsecond // 1000:03d}"


class _Builder:
    """A ``Text`` built from pieces: the strings joined once and the spans listed (Rich's
    ``Text.append`` cleans each piece of control codes, ~10 µs a call: 4,000 lines of a 200 kB log
    took ~50 ms that way). The pieces are sanitized already (``runlog``)."""

    __slots__ = ("parts", "pos", "spans")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[RichSpan] = []
        self.pos = 0

    def add(self, piece: str, style: Style | None = None) -> None:
        if style is not None and piece:
            self.spans.append(RichSpan(self.pos, self.pos + len(piece), style))
        self.parts.append(piece)
        self.pos += len(piece)

    def add_text(self, text: Text) -> None:
        self.spans.extend(RichSpan(s.start + self.pos, s.end + self.pos, s.style) for s in text.spans)
        self.add(text.plain)

    def text(self, spotlight: Span | None) -> LogText:
        return LogText("".join(self.parts), self.spans, spotlight)


def log_text(
    raw: str,
    palette: Palette,
    *,
    tz: tzinfo | None,
    colour: bool = True,
    parsed: ParsedLog | None = None,
    summary_line: int | None = None,
) -> LogText:
    """``raw`` (a run's ``outcomeDesc``) read as Medplum writes it (``parsed``: :func:`parse_log`'s
    reading, done here if not given), one row per entry; ``summary_line`` (the line the summary
    comes from, :func:`botmon_tui.formatting.summarize`) gives the spotlight."""
    parsed = parsed if parsed is not None else parse_log(raw)
    out = _Builder()
    if parsed.truncated:
        out.add(f"⚠ {parsed.truncated}\n", palette.warn)
    if parsed.request_id:
        out.add(f"Lambda request {parsed.request_id} (on every line)\n", DIM)
    if parsed.shape in ("raw", "empty"):
        start = out.pos
        if colour and "\x1b[" in raw:
            out.add_text(ansi_text(raw, colour=colour))
        else:
            out.add(sanitize(strip_sgr(raw)))  # (no Text: see LogText)
        plain = "".join(out.parts)
        return LogText(plain, out.spans, _raw_spotlight(plain, start, summary_line))
    lam = parsed.shape == "lambda"
    spotlight_entry = parsed.entry_at(summary_line)
    spotlight: Span | None = None
    indent = " " * MESSAGE_COLUMN if lam else ""
    fail, add = palette.fail, out.add
    for index, entry in enumerate(parsed.entries):
        if index:
            add("\n")
        row_start = out.pos
        kind = entry.kind
        if lam:
            if entry.when is not None:
                add(_clock(entry.when, tz), DIM)
                add("  ")
                add(f"{clip(entry.level, 8):<{LEVEL_WIDTH}}", level_style(entry.level, palette))
                add("  ")
            else:
                add(indent)
        if entry.request_id:
            add(f"[{clip(entry.request_id, 40)}] ", DIM)
        if kind == ERROR:
            first, *rest = entry.text.split("\n")
            add("✗ ", fail)
            add(first, fail)
            for line in rest:
                add(f"\n{indent}  {line}")
        elif kind in (FRAME, MORE):
            add(" " * FRAME_INDENT + entry.text, DIM)
        elif colour and entry.colour is not None:
            out.add_text(ansi_text(entry.colour))
        else:
            add(entry.text)
        if index == spotlight_entry:
            spotlight = (row_start, out.pos)
    return out.text(spotlight)


def _raw_spotlight(plain: str, start: int, line: int | None) -> Span | None:
    """The span of line ``line`` of an output shown as it is (from ``start`` in ``plain``)."""
    if line is None:
        return None
    at = start
    for _ in range(line):
        at = plain.find("\n", at) + 1
        if at <= 0:
            return None
    end = plain.find("\n", at)
    return (at, end if end >= 0 else len(plain))


# ------------------------------------------------------------------------------------------------
# The window shown, and the whole pane
# ------------------------------------------------------------------------------------------------


@dataclass
class OutputView:
    """The console output as the pane shows it, and where each match shown starts in it."""

    text: Text
    #: Match index → offset in ``text`` (matches in a part not shown are absent).
    starts: dict[int, int] = field(default_factory=dict)
    #: Where the spotlight row starts in ``text`` (None: not in a part shown).
    spotlight: int | None = None


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
    full: LogText,
    palette: Palette,
    matches: list[Span] | None = None,
    target: int | None = None,
    *,
    parts: list[Span] | None = None,
) -> OutputView:
    """``full`` (the whole output) as shown (``parts``, else :func:`shown_parts` for ``target``),
    the ``spotlight`` row highlighted, and every match on top of it."""
    matches = matches or []
    length = len(full.plain)
    spotlight = full.spotlight
    if parts is None:
        parts = shown_parts(length, target if target is not None else spotlight[0] if spotlight else None)
    view = OutputView(Text(end=""))
    text = view.text
    done = 0
    for begin, end in parts:
        if begin > done:
            _not_shown(text, begin - done, length)
        base = len(text.plain)
        piece = full.piece(begin, end)
        if spotlight is not None and spotlight[0] < end and spotlight[1] > begin:
            piece.stylize(palette.spotlight, max(0, spotlight[0] - begin), min(end, spotlight[1]) - begin)
            view.spotlight = base + max(0, spotlight[0] - begin)
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
    #: Where the row the summary comes from starts in ``text`` (None: not shown).
    spotlight: int | None = None


def summary_line_of(event: AuditEvent | FeedEvent) -> int | None:
    """The number of the output's line the run's summary comes from (kept on a ``FeedEvent``)."""
    if isinstance(event, FeedEvent):
        return event.headline_line
    return summarize(event.outcomeDesc).line


def _reference(entity: AuditEntity) -> tuple[str, str]:
    what = entity.what
    return (
        clip(what.reference) if what and what.reference else "",
        clip(what.display) if what and what.display else "",
    )


def context_rows(
    event: AuditEvent | FeedEvent,
    subscription: str | None = None,
    deploy: Deploy | None = None,
    *,
    tz: tzinfo | None = None,
) -> list[tuple[str, Text]]:
    """The run's context, a row each: the input it processed, the Subscription that started it
    (``subscription``: its one-line description, once read), the deploy just before it (``deploy``),
    its request and trace ids."""
    rows: list[tuple[str, Text]] = []
    found = event.input_entity
    if found is not None:
        ref, display = _reference(found)
        value = Text(ref, end="")
        if display:
            value.append(f" ({display})", DIM)
        if ref.startswith("Bot/"):
            value.append(" · a scheduled run: the bot itself", DIM)
        value.append("  i: open", DIM)
        rows.append(("Input", value))
    trigger = event.subscription_entity
    if trigger is not None:
        ref, display = _reference(trigger)
        value = Text(ref, end="")
        if subscription:
            value.append(f" · {clip(subscription)}")
        elif display:
            value.append(f" ({display})", DIM)
        rows.append(("Trigger", value))
    start = event.started or event.when
    if deploy is not None and start is not None:
        gap = duration_text(max(0.0, (start - deploy.at).total_seconds()))
        value = Text(f"{absolute_time(deploy.at, tz)}, {gap} before this run", end="")
        if deploy.author:
            value.append(f" (by {clip(deploy.author, 80)})", DIM)
        rows.append(("Deploy", value))
    request_id, trace_id = event.tracing
    if request_id:
        rows.append(("Request", Text.assemble(clip(request_id), ("  R: copy", DIM), end="")))
    if trace_id:
        rows.append(("Trace", Text.assemble(clip(trace_id), ("  T: copy", DIM), end="")))
    return rows


def copyable(event: AuditEvent | FeedEvent, what: str) -> tuple[str, str] | None:
    """What the screen copies for ``what`` (``request``, ``trace``, ``input``): the text (sanitized)
    and how to name it; None when the run has none."""
    request_id, trace_id = event.tracing
    if what == "request" and request_id:
        return sanitize(request_id), "the run's request id"
    if what == "trace" and trace_id:
        return sanitize(trace_id), "the run's trace id"
    found = event.input_entity
    if what == "input" and found is not None and found.what and found.what.reference:
        return sanitize(found.what.reference), "the run's input reference"
    return None


def pane_text(
    event: AuditEvent | FeedEvent,
    *,
    now: datetime,
    tz: tzinfo | None,
    palette: Palette,
    app_base: str | None = None,
    colour: bool = True,
    output: OutputView | None = None,
    subscription: str | None = None,
    deploy: Deploy | None = None,
    kind: str | None = None,
) -> PaneText:
    """The pane's content for ``event``: a two-line summary, the run's context, the output
    (``output``: as given by :func:`output_view`, else read by :func:`log_text`, all of it or a
    window around its summary line), then the details."""
    info = event.outcome_info
    zone = now.astimezone(tz).tzname() or ""
    text = Text(end="")
    outcome = outcome_text(info, palette, kind=kind)
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
            if event.subscription_entity is not None:  # period.start: the resource's change
                text.append(f" {QUEUE_WAIT_NOTE}", DIM)
    else:
        text.append(f"updated {absolute_time(event.when, tz)}")
    text.append(f"  ({relative_age(event.when, now)})", DIM)
    text.append("\n")

    def row(label: str, value: Text | str) -> None:
        text.append(f"{label:<9}", BOLD)
        if isinstance(value, Text):
            text.append_text(value)
        else:
            text.append(value)
        text.append("\n")

    for label, value in context_rows(event, subscription, deploy, tz=tz):
        row(label, value)
    raw = event.outcomeDesc or ""
    text.append(
        f"──── console output ({len(raw):,} chars) ────\n" if raw else "──── console output ────\n", DIM
    )
    start = len(text.plain)
    spotlight: int | None = None
    if raw.strip():
        if output is None:
            full = log_text(raw, palette, tz=tz, colour=colour, summary_line=summary_line_of(event))
            output = output_view(full, palette)
        text.append_text(output.text)
        spotlight = None if output.spotlight is None else start + output.spotlight
    else:
        text.append("(no output: the run logged nothing)", DIM)
    text.append("\n\n──── Details ────\n", DIM)
    row("Event", clip(event.id))
    row("Outcome", outcome)
    row("", Text(clip(info.description), style=DIM))
    row("Started", f"{absolute_time(started, tz, ms=True)} {zone}".rstrip())
    ended_text = f"{absolute_time(ended, tz, ms=True)} {zone}".rstrip()
    if duration is not None:
        ended_text += f"  (took {duration_text(duration)})"
    row("Ended", ended_text)
    if duration is not None and event.subscription_entity is not None:
        row("", Text(QUEUE_WAIT_TEXT, style=DIM))
    row("Updated", f"{absolute_time(event.when, tz, ms=True)} {zone}".rstrip())
    entities = entity_lines(event)
    for index, line in enumerate(entities or ["—"]):
        row("Entities" if index == 0 else "", line)
    if app_base:
        row("Link", app_link(clip(app_base), "AuditEvent", clip(event.id)))
    text.rstrip()
    return PaneText(text, start, spotlight)


class OutcomePane(VerticalScroll, can_focus=True):
    """Scrollable (``tab`` to focus, then arrows / page keys) view of one event, with a search;
    ``z`` on the Event tab shows it full screen (``Screen.maximize``)."""

    ALLOW_MAXIMIZE = True
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
        #: The one-line description of the run's Subscription, once read, and the deploy just
        #: before the run (see ``show``).
        self._subscription: str | None = None
        self._deploy: Deploy | None = None
        self._kind: str | None = None
        #: The search (case-insensitive; ``""``: none), its matches in the output, the current one.
        self.needle = ""
        self._stale = False
        self.matches: list[Span] = []
        #: Every match of the output is in ``matches`` (a search stops at ``MAX_MATCHES`` at first;
        #: ``n`` past the last one found, or ``N`` before the first, looks further).
        self.complete = True
        self.current: int | None = None
        #: The whole output of the event shown (read as Medplum writes it), and what it was made from.
        self._full: tuple[object, LogText] | None = None
        #: Where each match shown starts in the pane's text, and the summary's row.
        self._starts: dict[int, int] = {}
        self.spotlight: int | None = None
        #: The parts of the output shown (see ``shown_parts``).
        self._parts: list[Span] | None = None
        self._search_forward = True
        #: A scroll to the current match (or the summary line) waits for the text's layout.
        self._pending_scroll = False
        #: The pane's text by source line: char offset of each line, visual line of each (at a width).
        self._lines: tuple[object, list[int], list[int]] | None = None
        self.border_title = TITLE_WITH_KEYS

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static("", id="pane-body", markup=False)

    @property
    def body(self) -> Static:
        return self.query_one("#pane-body", Static)

    @property
    def event(self) -> AuditEvent | FeedEvent | None:
        """The run shown."""
        return self._event

    def show(
        self,
        event: AuditEvent | FeedEvent | None,
        *,
        now: datetime,
        tz: tzinfo | None,
        app_base: str | None,
        subscription: str | None = None,
        deploy: Deploy | None = None,
        kind: str | None = None,
    ) -> None:
        """Show ``event`` (``subscription``: the one-line description of its Subscription, when it
        was read; ``deploy``: the deploy just before it, if one was; ``kind``: a failed run's kind,
        shown next to its outcome; the pane never reads anything itself)."""
        if event is None:
            self.event_id = None
            self._event = None
            self._shown = None
            self.spotlight = None
            self.matches, self.current = [], None
            self._subtitle()
            self.body.update(Text("No event selected.", style=DIM))
            return
        changed = event.id != self.event_id
        self._event = event
        self._where = (now, tz, app_base)
        self._subscription = subscription
        self._deploy = deploy
        self._kind = kind
        # Another run, or another search: from its first match (or its summary line). The same run
        # again (a poll brought a new version of it): where the reader was.
        moved = changed or self._stale
        if moved or self._full is None or self._full[0] != self._output_key():
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

    def _output_key(self) -> tuple[object, ...]:
        assert self._where is not None
        return (self._event, not self.app.no_color, self._where[1], app_palette(self.app))

    def _output(self) -> LogText:
        """The whole output of the event shown, read as Medplum writes it (kept while the event,
        the colours and the time zone are the same)."""
        event = self._event
        assert event is not None and self._where is not None
        key = self._output_key()
        if self._full is None or self._full[0] != key:
            full = log_text(
                event.outcomeDesc or "",
                app_palette(self.app),
                tz=self._where[1],
                colour=not self.app.no_color,
                summary_line=summary_line_of(event),
            )
            self._full = (key, full)
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
            self.border_title = TITLE_WITH_KEYS
            return
        if not self.matches:
            label = f"{TITLE} · /{clip(self.needle)}: no match in this output (as shown)"
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
        full = self._output()
        target = self.matches[self.current][0] if self.current is not None else None
        if target is None and full.spotlight is not None:
            target = full.spotlight[0]
        parts = shown_parts(len(full.plain), target, self._parts, forward=self._search_forward)
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
            self._subscription,
            self._deploy,
            self._kind,
        )
        self._subtitle()
        if shown != self._shown:
            self._shown = shown
            view = output_view(full, palette, self.matches, parts=parts)
            pane = pane_text(
                event,
                now=now,
                tz=tz,
                palette=palette,
                app_base=app_base,
                colour=colour,
                output=view,
                subscription=self._subscription,
                deploy=self._deploy,
                kind=self._kind,
            )
            self.spotlight = pane.spotlight
            self._starts = {index: pane.output_start + offset for index, offset in view.starts.items()}
            self._lines = None
            self.body.update(pane.text)
        if scroll:
            # Once the new text is laid out (the scroll range depends on it): at the current match,
            # else at the line the summary comes from, else at the top.
            self._pending_scroll = True
            self.call_after_refresh(self._scroll_to_target)

    def _scroll_to_target(self) -> None:
        if self.current is not None and self.current in self._starts:
            offset: int | None = self._starts[self.current]
        elif self.current is None and self.spotlight is not None:
            offset = self.spotlight
        else:
            offset = None
        if offset is None:
            self.scroll_home(animate=False, immediate=True)
            self._pending_scroll = False
            return
        # Until the new text is laid out, the scroll range is the old text's: then the line is not
        # in sight yet, and the scroll is done again when the new height is known.
        self._pending_scroll = not self.scroll_to_offset(offset)

    def watch_virtual_size(self, size: Size) -> None:
        if self._pending_scroll:
            self.call_after_refresh(self._scroll_to_target)

    def scroll_to_offset(self, offset: int) -> bool:
        """Scroll so that the character at ``offset`` of the pane's text is a third of the way
        down (the lines before it read as its context), or to the top when it is in sight there
        (the run's summary and context stay on screen). True when that line is in sight now."""
        y = self.visual_line(offset)
        height = self.scrollable_content_region.height
        top = 0 if y < height - 1 else max(0, y - height // 3)
        self.scroll_to(y=top, animate=False, immediate=True)
        return self.scroll_y <= y < self.scroll_y + max(1, height)

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
