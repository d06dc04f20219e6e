"""The ``/`` filter of a screen: one input box, hidden until opened, the same on every screen.

What is typed is applied after a short pause (one filter pass per burst of keys, not per key);
``enter`` applies it at once and gives the focus back; ``esc`` (the screen's binding) clears it.
The screen's ``apply`` callback is called synchronously (not through a message): a key typed
ahead after ``enter`` (``/``, a name, ``enter`` ``enter``) meets the filtered table.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input

__all__ = ["FILTER_DELAY", "FilterBar"]

#: Seconds without a key press before what was typed is applied.
FILTER_DELAY = 0.15


class FilterBar(Input):
    """A filter box that applies its text to the screen (see the module docstring)."""

    DEFAULT_CSS = """
    FilterBar { display: none; height: 3; margin: 0 0; border: tall $accent; }
    """

    def __init__(
        self,
        placeholder: str,
        apply: Callable[[str], object],
        *,
        id: str = "filter",
        delay: float = FILTER_DELAY,
    ) -> None:
        """``apply(text)`` filters the screen by ``text`` (``""``: no filter)."""
        super().__init__(placeholder=placeholder, id=id)
        self.apply = apply
        self.delay = delay
        #: The text the screen filters by now.
        self.applied = ""
        self._timer: Timer | None = None
        self._before: Widget | None = None

    @property
    def active(self) -> bool:
        """Shown, or filtering (``esc`` has something to clear)."""
        return bool(self.display or self.applied)

    def open(self) -> None:
        """Show the box and take the keys at once (``focus()`` is deferred: keys typed right
        after ``/`` would go to the widget below)."""
        focused = self.screen.focused
        if focused is not self:
            self._before = focused
        self.display = True
        self.screen.set_focus(self)

    def dismiss(self) -> bool:
        """Empty and hide the box and stop filtering; False when there was nothing to clear."""
        if not self.active:
            return False
        self.value = ""
        self.display = False
        self._apply("")
        self._give_back_focus()
        return True

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
        value = event.value
        self._timer = self.set_timer(self.delay, lambda: self._apply(value), name="filter-delay")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.screen.focused is not self:
            # A second enter typed in the same burst reached the box after the first one gave
            # the focus back: it was meant for what has the focus now (enter enter opens the bot).
            self.app.simulate_key("enter")
            return
        if self._timer is not None:
            self._timer.stop()
        self._apply(event.value)
        if not event.value:
            self.display = False
        self._give_back_focus()

    def _apply(self, value: str) -> None:
        if value == self.applied:
            return
        self.applied = value
        self.apply(value)

    def _give_back_focus(self) -> None:
        """Back to where the keys were before ``/`` (at once: an ``enter`` typed ahead goes there)."""
        before, self._before = self._before, None
        if before is not None and before.is_attached and before.display and before.can_focus:
            self.screen.set_focus(before)
        elif self.screen.focused is self:  # (has_focus lags: it follows the Focus/Blur events)
            # Nothing had the focus (a "/" typed before the screen gave it to its table): the
            # next widget after the box takes it.
            self.screen.focus_next()
