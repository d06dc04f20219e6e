"""Table cells that render at paint time (so relative ages stay current without re-adding rows)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.style import Style
from rich.text import Text

__all__ = ["AgeCell"]


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

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        self.shown = self.label(self)
        yield Text(self.shown, style=self.style or "", no_wrap=True, overflow="ellipsis", end="")

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(7, 19)

    def __str__(self) -> str:
        return self.label(self)
