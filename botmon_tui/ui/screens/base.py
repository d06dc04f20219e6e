"""What every polling screen shares: the poll loop, the status line, ``r`` and ``p``.

A screen's poll is its own query, then (``WATCH_FAILURES``) the project-wide failure watch that
feeds the alerts (one request; see ``ui/alerts.py``): whatever screen is showing, new failures
of every bot are noticed, by one loop whose next poll is scheduled when the previous one ended.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input, Static

from botmon_tui.medplum.errors import AuthError, ForbiddenError, MedplumError
from botmon_tui.monitor.schedule import PollSchedule
from botmon_tui.ui.formatting import Palette, app_palette
from botmon_tui.ui.polling import Poller
from botmon_tui.ui.textual_private import bindings_of
from botmon_tui.ui.widgets.banner import Banner
from botmon_tui.ui.widgets.filter_bar import FilterBar
from botmon_tui.ui.widgets.footer import KeyFooter
from botmon_tui.ui.widgets.keyed_table import ColumnSpec, KeyedTable
from botmon_tui.ui.widgets.status_line import StatusInfo, StatusLine

if TYPE_CHECKING:
    from botmon_tui.ui.app import BotmonApp

__all__ = ["SORT", "PollingScreen", "sort_bindings"]

#: The footer's group of sort keys ("1234 Sort"), the same on every screen.
SORT = Binding.Group("Sort", compact=True)


def sort_bindings(prefix: str, specs: Iterable[ColumnSpec]) -> list[BindingType]:
    """``1``–``n`` sort by a column (pressed again: reversed), shown as one "Sort" group (a column
    without a number sorts by a click on its header only)."""
    return [
        Binding(
            str(spec.number),
            f"sort({spec.number})",
            f"Sort by {spec.label}",
            id=f"{prefix}.sort_{spec.key}",
            group=SORT,
        )
        for spec in specs
        if spec.number
    ]


#: How long the "recovered" note stays on the status line (seconds of wall clock).
RECOVERED_NOTE_SECONDS = 15.0


class PollingScreen(Screen[None]):
    #: Subclasses place these in their own BINDINGS where the footer should show them.
    POLL_BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "Refresh", id="poll.refresh"),
        Binding("p", "toggle_pause", "Pause", id="poll.pause"),
    ]

    def __init__(self, *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        app = self.botmon
        self.schedule = PollSchedule(app.interval, wall=app.clock, clock=app.monotonic, jitter=app.jitter)
        # ``p`` pauses every screen's polling: a screen opened while paused starts paused (it
        # still loads its data once).
        self.schedule.paused = app.paused
        self._label_pause(app.paused)
        self.poller = Poller(
            self,
            self._poll_cycle,
            schedule=self.schedule,
            crash_log=app.crash_log,
            on_done=self._after_poll,
            auto=app.auto_poll,
            monotonic=app.monotonic,
            what=self.POLL_WHAT,
        )
        self._note: tuple[str, str, float] | None = None
        self._ticker: Timer | None = None
        self._age_ticks = 0
        self._resumes = 0
        self._heading: Text | None = None
        #: What the ``/`` filter shows (``""``: everything).
        self.filter_text = ""

    POLL_WHAT: ClassVar[str] = "polling"
    #: Poll the project's failure watch after the screen's own query (the alerts).
    WATCH_FAILURES: ClassVar[bool] = True

    @property
    def botmon(self) -> BotmonApp:
        return cast("BotmonApp", self.app)

    # ------------------------------------------------------------------ to implement

    async def poll_job(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    async def _poll_cycle(self) -> None:
        """The screen's own query, then the failure watch. An error that concerns only this
        screen's data (its bot was deleted: 404) does not stop the alerts; one that says the
        server or the connection is in trouble skips the watch (its request would fail too)."""
        try:
            await self.poll_job()
        except MedplumError as error:
            own = not error.retryable and not isinstance(error, AuthError | ForbiddenError)
            if self.WATCH_FAILURES and own:
                await self.botmon.alerts.poll()
            raise
        if self.WATCH_FAILURES:
            await self.botmon.alerts.poll()

    def error_in_view(self) -> bool:
        """The screen shows the current error itself, in words, where its data would be (a start
        that failed): no toast repeats it, and the status line names it in a word."""
        return False

    def on_alerts(self, bot_ids: set[str]) -> None:
        """New failures were announced for ``bot_ids``, or their marks went (the bot list shows them)."""

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

    def wants_activity(self) -> bool:
        """Poll and tick only while this screen can be seen."""
        return self.is_attached and self.is_current

    def _sync_activity(self) -> None:
        if self.wants_activity():
            if not self.poller.active:
                self.poller.start()
            if self._ticker is None:
                self._ticker = self.set_interval(1.0, self._tick, name="status-tick")
            else:
                self._ticker.resume()
        else:
            self.poller.stop()
            if self._ticker is not None:
                self._ticker.pause()

    def _tick(self) -> None:
        self.update_status()
        self._age_ticks += 1
        if self._age_ticks % 5 == 0:
            self.refresh_ages()

    # ------------------------------------------------------------------ actions

    def action_refresh(self) -> None:
        self.poller.poll_now()
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
        if self.schedule.paused != paused:
            self.poller.toggle_pause()
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

    def _after_poll(self) -> None:
        status = self.schedule.status
        if self.schedule.take_recovered():
            self.notify("Connection recovered: the data is current again.", title="Recovered", timeout=6)
            self.note("✓ recovered")
        elif status.failures == 1 and status.last_error is not None and not self.error_in_view():
            kept = "the last good data stays on screen; " if status.last_success is not None else ""
            self.notify(
                f"{status.last_error} ({kept}retrying)",
                title="Update failed",
                severity="warning",
                timeout=6,
                markup=False,
            )
        self.after_poll()
        self.update_status()

    def status_info(self) -> StatusInfo:
        status = self.schedule.status
        error = status.error_text
        if self.poller.internal_error and error is not None:
            error = self.poller.internal_error
        elif isinstance(status.last_error, MedplumError) and self.error_in_view():
            error = status.last_error.kind  # (the screen says it in full)
        note = None
        note_style = "ok"
        if self._note is not None:
            text, note_style, until = self._note
            if self.botmon.monotonic() < until:
                note = text
            else:
                self._note = None
        return StatusInfo(
            interval=self.schedule.interval,
            detail=self.status_detail(),
            paused=self.schedule.paused,
            auto=self.poller.auto,
            polling=self.poller.in_flight,
            last_success=status.last_success,
            error=error,
            failures=status.failures,
            retry_in=self.poller.seconds_to_next(),
            note=note,
            note_style=note_style,
        )

    # ------------------------------------------------------------------ layout

    def compose_table(self, placeholder: str, table: KeyedTable) -> ComposeResult:
        """The bot list's and the Failures screen's layout: the heading, the ``/`` box, the table
        (or, in its place, the ``#empty`` banner: :meth:`show_instead`), the status line, the keys."""
        yield Static("", id="heading", markup=False)
        yield FilterBar(placeholder, self.apply_filter)
        yield table
        with Container(id="empty-area", classes="banner-area"):
            yield Banner(id="empty")
        yield StatusLine(id="status")
        yield KeyFooter()

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
        line.show(self.status_info(), self.botmon.clock(), self.palette)

    @property
    def now(self) -> datetime:
        return self.botmon.clock()
