"""Table cells that render at paint time (so relative ages stay current without re-adding rows)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, JustifyMethod, RenderResult
from rich.measure import Measurement
from rich.style import Style
from rich.text import Text

__all__ = ["AgeCell", "TextCell"]


class AgeCell:
    """A time shown as a relative age, or as an absolute time when ``label`` says so.

    ``label(cell)`` is the owning table's formatter: it knows "now", the selected row and
    whether absolute times are toggled on. The table repaints on a timer to keep ages fresh.
    """

    __slots__ = ("label", "row_id", "shown", "style", "when")

    def __init__(
        self,
        when: datetime | None,
        row_id: str,
        label: Callable[[AgeCell], str],
        style: Style | None = None,
    ) -> None:
        self.when = when
        self.row_id = row_id
        self.label = label
        self.style = style
        #: The label last painted (to repaint only when it would change).
        self.shown: str | None = None

    def as_text(self) -> Text:
        """The label now, as painted (and remembered as ``shown``)."""
        self.shown = self.label(self)
        return Text(self.shown, style=self.style or "", no_wrap=True, overflow="ellipsis", end="")

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.as_text()

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(7, 19)

    def __str__(self) -> str:
        return self.label(self)


class TextCell:
    """One line of (already sanitized) text, turned into a ``Text`` only when painted.

    A table of 10,000 rows holds 20,000 of these: one small object each instead of a ``Text`` and
    its two lists (less memory, and fewer objects for every full garbage collection to walk).
    """

    __slots__ = ("fit", "justify", "style", "text")

    def __init__(
        self, text: str, style: Style | str = "", *, fit: bool = True, justify: JustifyMethod | None = None
    ) -> None:
        self.text = text
        self.style = style
        #: One line cut with an ellipsis (otherwise as ``Text(text, style=style)``).
        self.fit = fit
        #: ``"right"`` for numbers and durations.
        self.justify = justify

    @property
    def plain(self) -> str:
        return self.text

    def as_text(self) -> Text:
        if self.fit:
            return Text(self.text, style=self.style, justify=self.justify, no_wrap=True, overflow="ellipsis")
        return Text(self.text, style=self.style, justify=self.justify)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.as_text()

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        width = cell_len(self.text)
        return Measurement(width, width)

    def __str__(self) -> str:
        return self.text
