"""What every polling screen shares: the status line, ``r`` and ``p``, and its projects' news.

A screen is handed the sessions (projects) it shows. Their poll loops belong to the app (each
project is polled whatever screen is showing, so its alerts and states are current everywhere)
and reach the screen as :meth:`PollingScreen.on_session_polled`. A screen with a query of its own
(the Event tab's runs, ``OWN_POLL``) polls it with its own loop while it is shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input, Static

from botmon_tui.medplum.errors import MedplumError
from botmon_tui.monitor.schedule import PollSchedule
from botmon_tui.monitor.session import ProjectSession, SessionPoll
from botmon_tui.ui.formatting import Palette, app_palette
from botmon_tui.ui.polling import Poller
from botmon_tui.ui.textual_private import bindings_of
from botmon_tui.ui.widgets.banner import Banner
from botmon_tui.ui.widgets.filter_bar import FilterBar
from botmon_tui.ui.widgets.footer import KeyFooter
from botmon_tui.ui.widgets.incidents import IncidentSummary
from botmon_tui.ui.widgets.keyed_table import Column, KeyedTable
from botmon_tui.ui.widgets.status_line import StatusInfo, StatusLine

if TYPE_CHECKING:
    from botmon_tui.ui.app import BotmonApp

__all__ = ["SORT", "PollingScreen", "sort_bindings"]

#: The footer's group of sort keys ("1234 Sort"), the same on every screen.
SORT = Binding.Group("Sort", compact=True)


def sort_bindings(
    prefix: str, columns: Iterable[Column[Any, Any]], action: str = "sort"
) -> list[BindingType]:
    """``1``–``n`` sort by the column at that position (pressed again: reversed), shown as one
    "Sort" group; the header shows each column's number (``KeyedTable``). ``action``: another
    action than ``sort`` (a screen with two tables tells their keys apart in ``check_action``)."""
    return [
        Binding(
            str(number),
            f"{action}({number})",
            f"Sort by {column.title}",
            id=f"{prefix}.sort_{column.key}",
            group=SORT,
            tooltip=f"Sort by {column.title} (again: the other way)",
        )
        for number, column in enumerate(columns, 1)
    ]


#: How long the "recovered" note stays on the status line (seconds of wall clock).
RECOVERED_NOTE_SECONDS = 15.0


class PollingScreen(Screen[None]):
    #: Subclasses place these in their own BINDINGS where the footer should show them.
    POLL_BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "Refresh", id="poll.refresh", tooltip="Refresh now"),
        Binding("p", "toggle_pause", "Pause", id="poll.pause", tooltip="Pause / resume automatic polling"),
    ]

    def __init__(
        self, sessions: Sequence[ProjectSession], *, name: str | None = None, id: str | None = None
    ) -> None:
        """``sessions``: the projects whose data this screen shows (their poll loops feed it)."""
        super().__init__(name=name, id=id)
        app = self.botmon
        self.sessions: tuple[ProjectSession, ...] = tuple(sessions)
        #: The screen's own query, for a screen that has one (the Event tab's runs): polled while
        #: the screen is shown, besides its sessions' polls. ``None``: the sessions' data only.
        self.own_poller: Poller | None = None
        self.own_schedule: PollSchedule | None = None
        if self.OWN_POLL:
            schedule = PollSchedule(app.interval, wall=app.clock, clock=app.monotonic, jitter=app.jitter)
            # ``p`` pauses every screen's polling: a screen opened while paused starts paused (it
            # still loads its data once).
            schedule.paused = app.paused
            self.own_schedule = schedule
            self.own_poller = Poller(
                self,
                self.poll_job,
                schedule=schedule,
                crash_log=app.crash_log,
                on_done=self._after_own_poll,
                auto=app.auto_poll,
                monotonic=app.monotonic,
                what=self.POLL_WHAT,
            )
        self._label_pause(app.paused)
        self._note: tuple[str, str, float] | None = None
        self._ticker: Timer | None = None
        self._age_ticks = 0
        self._resumes = 0
        self._heading: Text | None = None
        #: The own query's failure was told in a toast (its recovery is told too, then).
        self._own_failure_told = False
        #: What the ``/`` filter shows (``""``: everything).
        self.filter_text = ""

    POLL_WHAT: ClassVar[str] = "polling"
    #: The screen has a query of its own (see :attr:`own_poller`).
    OWN_POLL: ClassVar[bool] = False

    @property
    def botmon(self) -> BotmonApp:
        return cast("BotmonApp", self.app)

    @property
    def multi(self) -> bool:
        """More than one project is watched (rows and headings name the project)."""
        return len(self.botmon.sessions) > 1

    # ------------------------------------------------------------------ to implement

    async def poll_job(self) -> None:  # pragma: no cover - only with OWN_POLL
        """The screen's own query (``OWN_POLL``)."""
        raise NotImplementedError

    def on_session_polled(self, session: ProjectSession, news: SessionPoll) -> None:
        """A project's poll brought ``news`` (the rows of ``news.changed`` changed)."""

    def after_session_poll(self, session: ProjectSession) -> None:
        """A project's poll ended (success or failure): the status line and the heading."""
        if session in self.sessions and self.is_attached:
            self.after_poll()
            self.update_status()

    def error_in_view(self, session: ProjectSession | None = None) -> bool:
        """The screen shows the current error (of ``session``, or of its own query) itself, in
        words, where its data would be (a start that failed): no toast repeats it, and the status
        line names it in a word."""
        return False

    def on_alerts(self, session: ProjectSession, bot_ids: set[str]) -> None:
        """New failures were announced for ``bot_ids`` of ``session``, or their marks went."""

    @property
    def table(self) -> KeyedTable:  # pragma: no cover - abstract
        """The screen's main table (sorted with ``1``–``n``, filtered with ``/``)."""
        raise NotImplementedError

    def filter_rows(self, text: str) -> None:  # pragma: no cover - abstract
        """Show only the rows that match ``text`` (``""``: all of them)."""
        raise NotImplementedError

    def apply_filter(self, text: str) -> None:
        """The filter bar's text changed: filter, and show the top when the selected row went."""
        selected = self.table.selected_id
        self.filter_text = text
        with self.table.not_new():  # (rows a filter brings back are not new runs)
            self.filter_rows(text)
        if self.table.selected_id != selected:
            self.table.show_top()
        self.update_status()

    def status_parts(self) -> list[str]:
        """What the status line says about the data (``[]`` before it is loaded)."""
        return []

    def status_detail(self) -> str:
        parts = self.status_parts()
        if parts and self.filter_text:
            parts.insert(1, f"{self.table.row_count} shown")
        return " · ".join(parts)

    def refresh_ages(self) -> None:
        """Repaint relative ages (called every few seconds)."""

    def after_poll(self) -> None:
        """Update the view after a poll ended (success or failure)."""

    def update_heading(self) -> None:
        """Show the screen's heading (see :meth:`show_heading`)."""

    # ------------------------------------------------------------------ theme

    @property
    def palette(self) -> Palette:
        return app_palette(self.app)

    def restyle(self) -> None:
        """The theme changed: paint again what this screen and its tables styled themselves."""
        for table in self.query(KeyedTable):
            table.restyle()
        self.update_heading()
        self.update_status()

    # ------------------------------------------------------------------ lifecycle

    def on_screen_resume(self) -> None:
        self._resumes += 1
        self.call_after_refresh(self._sync_activity)

    def on_screen_suspend(self) -> None:
        # A modal screen (help, command palette) leaves this one visible: it keeps polling.
        self.call_after_refresh(self._sync_activity)

    def may_start_sessions(self) -> bool:
        """Whether the projects' poll loops may start now (the Event tab of ``--bot`` waits for its
        first rows: a project's load is thousands of runs to read)."""
        return True

    def wants_activity(self) -> bool:
        """Poll and tick only while this screen can be seen."""
        return self.is_attached and self.is_current

    def _sync_activity(self) -> None:
        if self.wants_activity():
            if self.may_start_sessions():
                self.botmon.start_sessions()
            if self.own_poller is not None and not self.own_poller.active:
                self.own_poller.start()
            if self._ticker is None:
                self._ticker = self.set_interval(1.0, self._tick, name="status-tick")
            else:
                self._ticker.resume()
        else:
            if self.own_poller is not None:
                self.own_poller.stop()
            if self._ticker is not None:
                self._ticker.pause()

    def _tick(self) -> None:
        self.update_status()
        self._age_ticks += 1
        if self._age_ticks % 5 == 0:
            self.refresh_ages()

    # ------------------------------------------------------------------ actions

    def action_refresh(self) -> None:
        self.botmon.poll_now(self.sessions)
        self.update_status()

    def action_sort(self, number: int) -> None:
        self.table.sort_by_number(number)

    def action_filter(self) -> None:
        if isinstance(self.focused, Input):
            raise SkipAction()  # a "/" typed into a box (a priority binding sees it first)
        self.query_one(FilterBar).open()

    def action_toggle_pause(self) -> None:
        self.botmon.toggle_pause()

    def set_paused(self, paused: bool) -> None:
        """Pause or resume this screen's polling (the app does it for every screen at once); the
        footer's ``p`` says "Resume" while paused."""
        schedule = self.own_schedule
        if self.own_poller is not None and schedule is not None and schedule.paused != paused:
            self.own_poller.toggle_pause()
        self._label_pause(paused)
        self.refresh_bindings()
        self.update_status()

    def _label_pause(self, paused: bool) -> None:
        key_to_bindings = bindings_of(self).key_to_bindings
        for key, group in key_to_bindings.items():
            if any(binding.id == "poll.pause" for binding in group):
                key_to_bindings[key] = [
                    replace(binding, description="Resume" if paused else "Pause")
                    if binding.id == "poll.pause"
                    else binding
                    for binding in group
                ]

    # ------------------------------------------------------------------ status

    def note(self, text: str, style: str = "ok", seconds: float = RECOVERED_NOTE_SECONDS) -> None:
        self._note = (text, style, self.botmon.monotonic() + seconds)
        self.update_status()

    def _after_own_poll(self) -> None:
        """The screen's own query ended. Its failure is told in a toast only when its projects'
        polls are fine (else their toast said it already), and its recovery only when told."""
        schedule = self.own_schedule
        assert schedule is not None
        status = schedule.status
        if schedule.take_recovered():
            if self._own_failure_told:
                self.notify("Connection recovered: the data is current again.", title="Recovered", timeout=6)
                self.note("✓ recovered")
            self._own_failure_told = False
        elif (
            status.errors_in_a_row == 1
            and status.last_error is not None
            and not self.error_in_view()
            and all(session.schedule.status.ok for session in self.sessions)
        ):
            kept = "the last good data stays on screen; " if status.last_success is not None else ""
            self.notify(
                f"{status.last_error} ({kept}retrying)",
                title="Update failed",
                severity="warning",
                timeout=6,
                markup=False,
            )
            self._own_failure_told = True
        self.after_poll()
        self.update_status()

    def loops(self) -> list[tuple[PollSchedule, Poller | None, ProjectSession | None]]:
        """The poll loops whose state the status line tells: the screen's own, then its sessions'."""
        app = self.botmon
        loops: list[tuple[PollSchedule, Poller | None, ProjectSession | None]] = []
        if self.own_schedule is not None:
            loops.append((self.own_schedule, self.own_poller, None))
        loops.extend((session.schedule, app.session_poller(session), session) for session in self.sessions)
        return loops

    def status_info(self) -> StatusInfo:
        """One status for the screen's loops: the first one in error (named when several projects
        are shown), the stalest data, polling while any polls."""
        loops = self.loops()
        failing = [loop for loop in loops if not loop[0].status.ok]
        error: str | None = None
        errors_in_a_row = 0
        retry_in: float | None = None
        last_success = None
        if failing:
            schedule, poller, session = failing[0]
            status = schedule.status
            error = status.error_text
            if poller is not None and poller.internal_error and error is not None:
                error = poller.internal_error
            elif isinstance(status.last_error, MedplumError) and self.error_in_view(session):
                error = status.last_error.kind  # (the screen says it in full)
            if error is not None and session is not None and self.multi:
                error = f"{session.label}: {error}"
            errors_in_a_row = status.errors_in_a_row
            retry_in = poller.seconds_to_next() if poller is not None else None
        successes = [schedule.status.last_success for schedule, _, _ in loops]
        if all(when is not None for when in successes):
            last_success = min(when for when in successes if when is not None)
        elif failing:
            last_success = failing[0][0].status.last_success
        note = None
        note_style = "ok"
        if self._note is not None:
            text, note_style, until = self._note
            if self.botmon.monotonic() < until:
                note = text
            else:
                self._note = None
        return StatusInfo(
            interval=self.botmon.interval,
            detail=self.status_detail(),
            paused=self.botmon.paused,
            auto=self.botmon.auto_poll,
            polling=any(poller is not None and poller.in_flight for _, poller, _ in loops),
            last_success=last_success,
            error=error,
            errors_in_a_row=errors_in_a_row,
            retry_in=retry_in,
            note=note,
            note_style=note_style,
        )

    # ------------------------------------------------------------------ layout

    def compose_table(self, placeholder: str, table: KeyedTable, *others: KeyedTable) -> ComposeResult:
        """The bot list's and the Failures screen's layout: the heading, the ``/`` box, the table
        (or, in its place, the ``#empty`` banner: :meth:`show_instead`), the status line, the keys.
        ``others``: tables shown instead of ``table`` in another view (hidden at first)."""
        yield Static("", id="heading", markup=False)
        yield FilterBar(placeholder, self.apply_filter)
        yield table
        for other in others:
            other.display = False
            yield other
        with Container(id="empty-area", classes="banner-area"):
            yield Banner(id="empty")
        yield from self.compose_status()
        yield KeyFooter()

    def compose_status(self) -> ComposeResult:
        """The status row: the status line, and the failing-now summary at its right end."""
        with Horizontal(id="status-row"):
            yield StatusLine(id="status")
            yield IncidentSummary(id="incidents")

    @staticmethod
    def show_instead(area: Widget, content: Widget, show: bool) -> None:
        """Show ``area`` (a banner) in place of ``content`` (``show``), or ``content`` again; no
        change when it is so already (a change lays the screen out again)."""
        if area.display != show:
            area.display = show
            content.display = not show

    def show_heading(self, text: Text) -> None:
        """Put ``text`` in ``#heading`` if it changed (an update lays the whole screen out again)."""
        if text == self._heading:
            return
        self._heading = text
        self.query_one("#heading", Static).update(text)

    def update_status(self) -> None:
        try:
            line = self.query_one(StatusLine)
        except Exception:
            return
        info = self.status_info()
        line.show(info, self.botmon.clock(), self.palette)
        # (One line beside the summary, cut if need be; an error may take two: botmon.tcss.)
        line.set_class(info.error is not None, "-error")
        self.show_incidents(self.botmon.incident_summary)

    def show_incidents(self, summary: Text | None) -> None:
        """The failing-now summary of every project (``BotmonApp.update_incident_summary``)."""
        for widget in self.query(IncidentSummary):
            widget.show(summary)

    def copy_text(self, text: str, label: str) -> None:
        """``text`` to the terminal's clipboard (OSC 52: through SSH, and tmux with
        ``set-clipboard on``), and a toast saying what was copied (``label``)."""
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied {label} ({len(text):,} characters)", timeout=3, markup=False)

    @property
    def now(self) -> datetime:
        return self.botmon.clock()
