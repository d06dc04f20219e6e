"""Plain-text tables that fit a width.

Each table says in which order its columns give way when the terminal is too narrow (its
``plan``): a column shrinks to a width (its cells cut with ``…``), switches to its compact form
(``▲ Minor failure`` instead of ``▲ Minor failure (4)``), or is dropped. The steps are applied
one at a time until the table fits; columns that carry meaning (the outcome, the age, the ⚠
warning) are never in a plan as something to cut. When even the last step does not fit, the
lines are longer than the width rather than lose what they say.

Cells are sanitized text (callers use :mod:`botmon_tui.formatting`); widths are terminal cells
(``宽`` is two).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size

__all__ = ["Cell", "Column", "Compact", "Drop", "Layout", "Shrink", "Step", "cut", "fit", "render"]

GAP = "  "


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    #: Numbers are right-aligned.
    right: bool = False
    #: The header over the compact form (:class:`Compact`), when the full one is wider.
    short_header: str | None = None

    def title(self, compact: bool) -> str:
        return self.short_header if compact and self.short_header else self.header


@dataclass(frozen=True)
class Cell:
    """A cell's text, its compact form (for :class:`Compact`) and its colour level."""

    text: str
    compact: str | None = None
    level: str | None = None


@dataclass(frozen=True)
class Shrink:
    """Cut ``column`` to at most ``width`` cells."""

    column: str
    width: int


@dataclass(frozen=True)
class Compact:
    """Show ``column``'s compact form."""

    column: str


@dataclass(frozen=True)
class Drop:
    column: str


Step = Shrink | Compact | Drop
Row = Sequence[Cell | str]


def _cell(value: Cell | str) -> Cell:
    return value if isinstance(value, Cell) else Cell(value)


def _text(cell: Cell, compact: bool) -> str:
    text = cell.compact if compact and cell.compact is not None else cell.text
    # Sanitized text may still hold TAB or LF, which would break the columns.
    return text.replace("\t", " ").replace("\n", " ") if "\t" in text or "\n" in text else text


def _width(text: str) -> int:
    """Terminal cells of ``text`` (ASCII: its length, without asking Rich)."""
    return len(text) if text.isascii() else cell_len(text)


def _fit(text: str, width: int) -> tuple[str, int]:
    """``text`` cut to ``width`` cells (with ``…``), and the cells it takes."""
    size = _width(text)
    if size <= width:
        return text, size
    if text.isascii():
        return (text[: width - 1] + "…", width) if width > 1 else (text[:width], width)
    cut = set_cell_size(text, width - 1) + "…" if width > 1 else set_cell_size(text, width)
    return cut, cell_len(cut)


def cut(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal cells, with ``…`` when it was longer."""
    return _fit(text, width)[0]


@dataclass
class Layout:
    """The columns shown, their widths, and which show their compact form."""

    columns: list[Column]
    widths: dict[str, int]
    compact: set[str]
    #: Where each column's cell is in a row (rows hold every column, shown or not).
    index: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.widths[c.key] for c in self.columns) + len(GAP) * max(0, len(self.columns) - 1)

    def lines(
        self,
        rows: Sequence[Row],
        *,
        header: bool = True,
        paint: Callable[[str, str | None], str] | None = None,
    ) -> list[str]:
        """The header line (unless ``header`` is false) and one line per row.

        ``paint(text, level)`` colours a cell's text after the widths are measured (ANSI colour
        codes take no room on screen).
        """
        out: list[str] = []
        if header:
            out.append(GAP.join(self._pad(c, c.title(c.key in self.compact)) for c in self.columns).rstrip())
        shown = [
            (self.index[c.key], self.widths[c.key], c.key in self.compact, c.right) for c in self.columns
        ]
        for values in rows:
            parts: list[str] = []
            for index, width, compact, right in shown:
                value = values[index]
                cell = value if isinstance(value, Cell) else Cell(value)
                text, size = _fit(_text(cell, compact), width)
                pad = " " * (width - size)
                if paint is not None and cell.level:
                    text = paint(text, cell.level)
                parts.append(pad + text if right else text + pad)
            out.append(GAP.join(parts).rstrip())
        return out

    def _pad(self, column: Column, text: str) -> str:
        text, size = _fit(text, self.widths[column.key])
        pad = " " * (self.widths[column.key] - size)
        return pad + text if column.right else text + pad


def fit(
    columns: Sequence[Column],
    rows: Sequence[Row],
    width: int,
    plan: Sequence[Step],
    grow: Sequence[str] = (),
) -> Layout:
    """Apply ``plan`` one step at a time until the table fits ``width``; then give the room left
    back to the columns that shrank: those in ``grow`` first (a summary, a name), in that order,
    then the others in plan order."""
    cells = [[_cell(value) for value in row] for row in rows]
    index = {column.key: i for i, column in enumerate(columns)}
    layout = Layout(list(columns), {}, set(), index)

    def natural(key: str) -> int:
        i, on = index[key], key in layout.compact
        return max([_width(columns[i].title(on)), *(_width(_text(row[i], on)) for row in cells)])

    layout.widths = {column.key: natural(column.key) for column in columns}
    shrunk: list[str] = []
    for step in plan:
        if layout.total <= width:
            break
        key = step.column
        if all(c.key != key for c in layout.columns):
            continue
        if isinstance(step, Drop):
            layout.columns = [c for c in layout.columns if c.key != key]
        elif isinstance(step, Compact):
            layout.compact.add(key)
            layout.widths[key] = min(layout.widths[key], natural(key))
        elif step.width < layout.widths[key]:
            layout.widths[key] = max(1, step.width)
            if key not in shrunk:
                shrunk.append(key)
    for key in [*(k for k in grow if k in shrunk), *(k for k in shrunk if k not in grow)]:
        room = width - layout.total
        if room <= 0:
            break
        if any(c.key == key for c in layout.columns):
            layout.widths[key] = min(natural(key), layout.widths[key] + room)
    return layout


def render(
    columns: Sequence[Column],
    rows: Sequence[Row],
    *,
    width: int,
    plan: Sequence[Step] = (),
    grow: Sequence[str] = (),
    paint: Callable[[str, str | None], str] | None = None,
) -> list[str]:
    """The header line and one line per row, fitted to ``width`` by ``plan`` (see :func:`fit`)."""
    return fit(columns, rows, width, plan, grow).lines(rows, paint=paint)
