"""The Event tab's table: the web app's columns ID, Outcome, Outcome Desc, Last Updated, and Duration.

Two marks from the bot (set by the Event tab): a Duration that used 80 % of its timeout or more
(``⏱``, issue #17), and the first run after each deploy (``↻ deploy 12:02`` at the start of its
Outcome Desc, issue #18; the rule of ``monitor/deploys.first_runs_after``, as ``events`` draws it)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, tzinfo
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message

from botmon_tui.formatting import absolute_time, clock_time, duration_text, relative_age
from botmon_tui.medplum.models import FAILURE_CODES
from botmon_tui.monitor.deploys import Deploy, first_runs_after
from botmon_tui.monitor.durations import DEFAULT_TIMEOUT, NEAR_TIMEOUT, NEAR_TIMEOUT_MARK, TIMED_OUT
from botmon_tui.monitor.feed import FeedEvent
from botmon_tui.textsafe import clip
from botmon_tui.ui.formatting import DIM, app_palette, outcome_text
from botmon_tui.ui.widgets.cells import AgeCell, TextCell
from botmon_tui.ui.widgets.keyed_table import EPOCH, Column, KeyedTable, age_column, by_id

__all__ = ["DEPLOY_ROW_MARK", "EventTable"]

#: The Outcome column's width for "✖ Major failure (12)"; narrower, it shows "✖ Major".
FULL_OUTCOME = 21
#: The Outcome Desc of a run that printed nothing.
NO_OUTPUT = TextCell("(no output)", DIM, fit=False)
#: At the start of the Outcome Desc of the first run after a deploy (issue #18).
DEPLOY_ROW_MARK = "↻"


class EventTable(KeyedTable):
    """One row per run, from the ``FeedEvent`` the table holds for it (cells built when painted)."""

    COLUMNS: ClassVar[tuple[Column[EventTable, FeedEvent], ...]] = (
        Column(
            "id",
            "ID",
            cell=lambda table, event: TextCell(clip(event.id)),
            sort=by_id,
            tooltip="the run's AuditEvent id (y copies it; all of it from 130 columns).",
            # At least the first 8 characters of the id, whatever the width.
            widths=((0, 9), (130, 36)),
        ),
        Column(
            "outcome",
            "Outcome",
            cell=lambda table, event: table.outcome_cell(event),
            sort=lambda table, event: (event.outcome_info.severity, event.when or EPOCH, event.id),
            descending_first=True,
            tooltip="how the run ended: 0 success, 4 minor, 8 serious, 12 major failure, and a failure's "
            "kind: timeout, crash, platform, error (▲ timeout when narrow; worst first).",
            widths=((0, 10), (100, FULL_OUTCOME)),
        ),
        Column(
            "desc",
            "Outcome Desc",
            cell=lambda table, event: table.desc_cell(event),
            sort=lambda table, event: (event.headline.casefold(), event.when or EPOCH, event.id),
            tooltip="the line of the run's output that says what happened (its first error or warning);"
            f" the pane shows all of it. {DEPLOY_ROW_MARK} the first run after a deploy.",
            flex=True,
            least=12,
        ),
        age_column(
            "updated",
            "Last Updated",
            lambda event: event.when,
            tooltip="when the AuditEvent was last written: an age; the time on the selected row (t: all).",
            widths=((0, 14), (110, 19)),
        ),
        Column(
            "duration",
            "Duration",
            cell=lambda table, event: table.duration_cell(event),
            sort=lambda table, event: (event.duration, event.when or EPOCH, event.id),
            blanks_last=True,
            descending_first=True,
            tooltip="how long the run took, period.start to period.end (— the AuditEvent has no period);"
            f" {NEAR_TIMEOUT_MARK} it used 80 % of the bot's timeout or more.",
            widths=((0, 9), (110, 10)),
        ),
    )
    DEFAULT_SORT = ("updated", True)
    FOLLOWS_NEWEST = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "select_cursor",
            "Read output",
            show=False,
            id="events.read_output",
            tooltip="Focus the Outcome Desc pane to scroll the output",
        ),
    ]

    def __init__(
        self,
        *,
        clock: Callable[[], datetime],
        tz: tzinfo | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(clock=clock, id=id)
        self.tz = tz
        self.show_absolute = False
        #: One outcome cell per code, kind and width, shared by every row (cells are never changed
        #: in place).
        self._outcome_cells: dict[tuple[str | None, str | None, int], Text] = {}
        #: The bot's timeout in seconds (``durations.bot_timeout``; None: not known yet): runs that
        #: came near it are marked in the Duration column, and the failed runs' kinds read it.
        self.timeout: float | None = None
        #: The bot's deploys, newest first, and the first run after each (by run id).
        self._deploys: Sequence[Deploy] = ()
        self.deploy_marks: dict[str, Deploy] = {}

    def row_id(self, row: FeedEvent) -> str:
        return row.id

    class WentToBottom(Message):
        """``end`` or ``G`` moved the cursor to the last row: the screen brings it to the last row
        of the bot's runs when older ones are still to load."""

    def action_scroll_bottom(self) -> None:
        super().action_scroll_bottom()
        self.post_message(self.WentToBottom())

    def set_timeout(self, timeout: float | None) -> None:
        """The bot's timeout (its Duration cells are marked against it, and a failed run that used
        95 % of it timed out: its Outcome's kind)."""
        if timeout != self.timeout:
            self.timeout = timeout
            self._outcome_cells.clear()
            self.rebuild_column("outcome")
            self.rebuild_column("duration")

    def set_deploys(self, deploys: Sequence[Deploy]) -> None:
        """The bot's deploys (newest first): the first run after each is marked."""
        self._deploys = tuple(deploys)
        self._mark_deploys()

    def _mark_deploys(self) -> None:
        marks: dict[str, Deploy] = {}
        if self._deploys:
            runs = sorted(self._rows.values(), key=_started, reverse=True)
            marks, _ = first_runs_after(self._deploys, runs)
        if marks != self.deploy_marks:
            changed = marks.keys() ^ self.deploy_marks.keys()
            changed |= {run_id for run_id, deploy in marks.items() if self.deploy_marks.get(run_id) != deploy}
            self.deploy_marks = marks
            self.rebuild_column("desc", changed)

    @property
    def oldest_at_bottom(self) -> bool:
        """Newest first by time (the default): the last row is the oldest, so older pages go there."""
        return self.sort_column == "updated" and self.sort_reverse

    # ------------------------------------------------------------------ cells

    def _age_label(self, cell: AgeCell) -> str:
        short = self.column_width("updated") < 19
        if self.show_absolute or cell.row_id == self.selected_id:
            return absolute_time(cell.when, self.tz, short=short)
        return relative_age(cell.when, self.clock())

    def desc_cell(self, event: FeedEvent) -> object:
        """The run's headline; the first run after a deploy starts with ``↻ deploy 12:02``."""
        deploy = self.deploy_marks.get(event.id)
        if deploy is None:
            return TextCell(event.headline) if event.headline else NO_OUTPUT
        text = Text(no_wrap=True, overflow="ellipsis")
        when = clock_time(deploy.at, self.tz, now=self.clock())
        text.append(f"{DEPLOY_ROW_MARK} deploy {when} ", app_palette(self.app).accent)
        text.append(event.headline or "(no output)", "" if event.headline else DIM)
        return text

    def duration_cell(self, event: FeedEvent) -> object:
        """``12.4 s``; ``⏱ 49.6 s`` when the run used 80 % of the bot's timeout or more (in the
        failure colour when it timed out: a failed run at 95 % or more)."""
        duration = event.duration
        if duration is None:
            return TextCell("—", DIM, justify="right")
        text = duration_text(duration)
        timeout = self.timeout
        seconds = duration.total_seconds()
        if not timeout or seconds < NEAR_TIMEOUT * timeout:
            return TextCell(text, justify="right")
        palette = app_palette(self.app)
        timed_out = seconds >= TIMED_OUT * timeout and event.outcome in FAILURE_CODES
        return TextCell(
            f"{NEAR_TIMEOUT_MARK} {text}", palette.fail if timed_out else palette.warn, justify="right"
        )

    def outcome_cell(self, event: FeedEvent) -> Text:
        """The outcome, and a failed run's kind next to it (``▲ Minor (4) · timeout``; ``▲ timeout``
        at 80 columns), from its output and duration (``FeedEvent.failure_kind``)."""
        width = self.column_width("outcome")
        full = width >= FULL_OUTCOME
        kind = event.failure_kind(self.kind_timeout)
        cell = self._outcome_cells.get((event.outcome, kind, width))
        if cell is None:
            cell = self._outcome_cells[event.outcome, kind, width] = outcome_text(
                event.outcome_info, app_palette(self.app), code=full, short=not full, kind=kind, width=width
            )
        return cell

    @property
    def kind_timeout(self) -> float:
        """The timeout a failed run's kind is read against (10 s until the bot's is known)."""
        return self.timeout if self.timeout is not None else DEFAULT_TIMEOUT

    def restyle(self) -> None:
        self._outcome_cells.clear()
        super().restyle()

    # ------------------------------------------------------------------ updates

    def event(self, event_id: str | None) -> FeedEvent | None:
        row: FeedEvent | None = self.row(event_id)
        return row

    @property
    def selected_event(self) -> FeedEvent | None:
        return self.event(self.selected_id)

    def merge(self, added: Iterable[FeedEvent] = (), removed: Iterable[str] = ()) -> None:
        """Add (or refresh) ``added`` and drop ``removed``, by id; cursor and view stay put."""
        self.apply_rows(added, removed)
        if self._deploys:
            self._mark_deploys()

    def show_only(self, events: Iterable[FeedEvent]) -> None:
        """Show exactly ``events`` (a filter changed): the others are hidden, not dropped, so that
        clearing the filter brings 10,000 rows back without building them again."""
        wanted: dict[str, FeedEvent] = {e.id: e for e in events}
        hide = [row_id for row_id in self.ids_in_order() if row_id not in wanted]
        show = [row_id for row_id in self.hidden_ids() if row_id in wanted]
        held = self._rows
        self.apply_rows([e for row_id, e in wanted.items() if row_id not in held], hide=hide, show=show)

    def toggle_absolute(self) -> bool:
        self.show_absolute = not self.show_absolute
        self._repaint_column("updated")
        return self.show_absolute


def _started(event: FeedEvent) -> datetime:
    """When the run started (its time when it has no period): the deploy marks' order."""
    return event.started or event.when or EPOCH
