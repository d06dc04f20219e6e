"""The one door to Textual's private names: nothing else under ``botmon_tui/ui/`` uses one.

Every name below was checked against **Textual 8.2.8** (the version pinned in pyproject.toml).
``tests/test_textual_internals.py`` checks each of them (that it exists, and the parameters of a
method or the type of an attribute) against the installed Textual, and fails naming the name and
the installed version when one is gone or changed shape; it also fails when a module under
``botmon_tui/ui/`` other than this one uses a name from :data:`PRIVATE_NAMES`. So a Textual
upgrade starts here: read the new DataTable next to this list, then run that test.

Why the table needs them (DataTable keeps the cursor *index* across a sort, ``remove_row`` is O(n),
every added row is measured, every cell is rendered through Rich's generic pipeline) and the
benchmark row behind each workaround: docs/architecture.md, "Why the table is custom".

``DataTable`` (through :class:`DataTableInternals`, the base class of ``KeyedTable``):

==============================  ==================================================================
``_row_locations``              the row key <-> position map; replaced by ``RowIndex`` (a map that
                                changes at its ends without a rebuild): :attr:`row_index`
``_column_locations``           the column key <-> position map: :attr:`column_index`
``_data``                       the stored cells of each row: :attr:`stored_cells`
``_update_count``               the counter DataTable's order and render caches are keyed on:
                                :meth:`invalidate_order`, :meth:`install_order_caches`
``_ordered_row_cache``          the rows in display order, pre-filled: :meth:`install_order_caches`
``_offset_cache``               line -> (row key, line in row), pre-filled: same
``_row_renderable_cache``       rendered rows and lines, dropped when the order or the look changes:
``_row_render_cache``           :meth:`invalidate_order`, :meth:`drop_row_renders`,
``_line_cache``                 :meth:`drop_line_renders`
``_cell_render_cache``          rendered cells (sized down from 10,000): :attr:`cell_render_cache`
``_new_rows``                   rows waiting to be measured on idle: :meth:`forget_row_marks`
``_updated_cells``              cells waiting to be measured on idle: :meth:`forget_row_marks`
``_require_update_dimensions``  "measure again on idle" (column widths changed): :meth:`redimension`
``_render_cell``                the cell renderer, overridden here to offer :meth:`render_cell_lines`
                                first (one-line text cells are built directly); its parameters
                                ``(row_index, column_index, base_style, width, cursor, hover)``
``_get_styles_to_render_cell``  the component and post styles of a cell: :meth:`cell_styles`
``_get_row_renderables``        a row's cells as DataTable renders them: :meth:`stored_renderable`
``_show_hover_cursor``          part of a rendered cell's cache key: :attr:`cell_render_state`
``_pseudo_class_state``         the same (DataTable's copy of its pseudo-classes, set on idle)
==============================  ==================================================================

Elsewhere:

==============================  ==================================================================
``textual._two_way_dict``       ``TwoWayDict``, the type of ``_row_locations`` (``RowIndex``
                                subclasses it and overrides every method DataTable calls)
``textual._types``              ``SegmentLines``, what ``_render_cell`` returns
``App._handle_exception``       where an exception outside the workers ends up: overridden by
                                :class:`AppInternals` to offer :meth:`AppInternals.unhandled_error`
``DOMNode._bindings``           a node's bindings with the keymap applied (the help screen):
                                :func:`bindings_of`
``Footer._bindings_ready``      set by ``Footer.bindings_changed``, which ``KeyFooter`` replaces:
                                :func:`footer_bindings_ready`, :func:`set_footer_bindings_ready`
==============================  ==================================================================

``LinuxDriver`` (through :class:`HangupSafeDriver`, made by :func:`hangup_safe_driver`; why:
docs/textual-hangup.md):

================================  ================================================================
``_file``                         the stream its writer thread writes the screen to (stderr):
                                  wrapped in a ``GuardedStream`` that never raises, so that thread
                                  never dies and the app never blocks on its full queue
``_sigtstp_application``          its SIGTSTP handler: run on the event loop instead of inside
                                  the handler (a handler that writes can deadlock on the queue's
                                  lock the interrupted main thread holds)
``_sigcont_application``          its SIGCONT handler: resumes only after a suspension, never on
                                  a terminal that is gone (the kernel sends SIGCONT with SIGHUP)
================================  ================================================================

Public APIs did the job of four more names this table used before: ``move_cursor`` clamps the
cursor (``_clamp_cursor_coordinate``), ``refresh_row`` + ``RowHighlighted`` highlight the first
row (``_highlight_cursor``), rows never have labels (``_row_label_column_width`` is 0), and
``App.exit(return_code=...)`` sets the exit code (``_return_code``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from rich.segment import Segment
from rich.style import Style
from textual._two_way_dict import TwoWayDict
from textual._types import SegmentLines
from textual.app import App
from textual.binding import BindingsMap
from textual.cache import LRUCache
from textual.dom import DOMNode
from textual.drivers.linux_driver import LinuxDriver
from textual.widgets import DataTable, Footer
from textual.widgets.data_table import CellKey, ColumnKey, Row, RowKey

from botmon_tui.hangup import GuardedStream, LostTerminal

__all__ = [
    "CHECKED_WITH",
    "PRIVATE_NAMES",
    "AppInternals",
    "DataTableInternals",
    "HangupSafeDriver",
    "PrivateName",
    "SegmentLines",
    "TwoWayDict",
    "bindings_of",
    "footer_bindings_ready",
    "hangup_safe_driver",
    "set_footer_bindings_ready",
]

#: The Textual version every name here was checked against.
CHECKED_WITH = "8.2.8"


@dataclass(frozen=True)
class PrivateName:
    """One private Textual name this module uses, and the shape it must have."""

    #: ``module:Class`` (or a module) where it lives, e.g. ``textual.widgets:DataTable``.
    owner: str
    name: str
    kind: Literal["attribute", "method", "property", "class"]
    #: A method's parameter names (``self`` excluded); an attribute's type name, as
    #: ``type(value).__name__`` on a new instance (``None``: not checked).
    shape: tuple[str, ...] | str | None = None


DATA_TABLE = "textual.widgets:DataTable"
LINUX_DRIVER = "textual.drivers.linux_driver:LinuxDriver"
PRIVATE_NAMES: tuple[PrivateName, ...] = (
    PrivateName(DATA_TABLE, "_row_locations", "attribute", "TwoWayDict"),
    PrivateName(DATA_TABLE, "_column_locations", "attribute", "TwoWayDict"),
    PrivateName(DATA_TABLE, "_data", "attribute", "dict"),
    PrivateName(DATA_TABLE, "_update_count", "attribute", "int"),
    PrivateName(DATA_TABLE, "_ordered_row_cache", "attribute", "LRUCache"),
    PrivateName(DATA_TABLE, "_offset_cache", "attribute", "LRUCache"),
    PrivateName(DATA_TABLE, "_row_renderable_cache", "attribute", "LRUCache"),
    PrivateName(DATA_TABLE, "_row_render_cache", "attribute", "LRUCache"),
    PrivateName(DATA_TABLE, "_line_cache", "attribute", "LRUCache"),
    PrivateName(DATA_TABLE, "_cell_render_cache", "attribute", "LRUCache"),
    PrivateName(DATA_TABLE, "_new_rows", "attribute", "set"),
    PrivateName(DATA_TABLE, "_updated_cells", "attribute", "set"),
    PrivateName(DATA_TABLE, "_require_update_dimensions", "attribute", "bool"),
    PrivateName(
        DATA_TABLE,
        "_render_cell",
        "method",
        ("row_index", "column_index", "base_style", "width", "cursor", "hover"),
    ),
    PrivateName(
        DATA_TABLE,
        "_get_styles_to_render_cell",
        "method",
        (
            "is_header_cell",
            "is_row_label_cell",
            "is_fixed_style_cell",
            "hover",
            "cursor",
            "show_cursor",
            "show_hover_cursor",
            "has_css_foreground_priority",
            "has_css_background_priority",
        ),
    ),
    PrivateName(DATA_TABLE, "_get_row_renderables", "method", ("row_index",)),
    PrivateName(DATA_TABLE, "_show_hover_cursor", "attribute", "bool"),
    PrivateName(DATA_TABLE, "_pseudo_class_state", "attribute", "PseudoClasses"),
    PrivateName("textual._two_way_dict", "TwoWayDict", "class"),
    PrivateName("textual._types", "SegmentLines", "attribute"),
    PrivateName("textual.app:App", "_handle_exception", "method", ("error",)),
    PrivateName("textual.dom:DOMNode", "_bindings", "attribute", "BindingsMap"),
    PrivateName("textual.widgets:Footer", "_bindings_ready", "attribute", "bool"),
    # (A driver is built by a running app: this attribute is checked in LinuxDriver's source.)
    PrivateName(LINUX_DRIVER, "_file", "attribute"),
    PrivateName(LINUX_DRIVER, "_sigtstp_application", "method", ("_",)),
    PrivateName(LINUX_DRIVER, "_sigcont_application", "method", ("_",)),
)


class DataTableInternals(DataTable[Any]):
    """DataTable with the private state ``KeyedTable`` reads and writes, under names of its own."""

    # ------------------------------------------------------------------ index maps and cells

    @property
    def row_index(self) -> TwoWayDict[RowKey, int]:
        """Row key <-> position (``_row_locations``)."""
        return self._row_locations

    @row_index.setter
    def row_index(self, index: TwoWayDict[RowKey, int]) -> None:
        self._row_locations = index

    @property
    def column_index(self) -> TwoWayDict[ColumnKey, int]:
        """Column key <-> position (``_column_locations``)."""
        return self._column_locations

    @property
    def stored_cells(self) -> dict[RowKey, dict[ColumnKey, Any]]:
        """Each row's cells as stored (``_data``)."""
        return self._data

    def stored_renderable(self, row_index: int, column_index: int) -> object:
        """What DataTable renders for a body cell (``_get_row_renderables``)."""
        return self._get_row_renderables(row_index).cells[column_index]

    def forget_row_marks(self, key: RowKey, column_keys: Iterable[ColumnKey] = ()) -> None:
        """The row (and these cells) need no measuring on idle any more: taken out of the table."""
        self._new_rows.discard(key)
        for column_key in column_keys:
            self._updated_cells.discard(CellKey(key, column_key))

    # ------------------------------------------------------------------ order and render caches

    def invalidate_order(self) -> int:
        """A new update count (DataTable's order and render caches are keyed on it); the rendered
        rows and lines of the old one are dropped now rather than left for the LRU. The new count."""
        self._update_count += 1
        self.drop_row_renders()
        return self._update_count

    def install_order_caches(self, rows: list[Row], offsets: Sequence[tuple[RowKey, int]]) -> None:
        """Pre-fill, for the current update count, the ordered rows and the line offsets that
        DataTable would otherwise rebuild in Python loops (every row one line high)."""
        count = self._update_count
        self._ordered_row_cache[(len(rows), count)] = rows
        # (DataTable only indexes it and takes its length: any sequence does.)
        self._offset_cache[count] = offsets  # type: ignore[arg-type]

    def drop_row_renders(self) -> None:
        """Forget rendered rows and lines (not the cells): a repaint, no new order."""
        self._row_renderable_cache.clear()
        self.drop_line_renders()

    def drop_line_renders(self) -> None:
        self._row_render_cache.clear()
        self._line_cache.clear()

    @property
    def cell_render_cache(self) -> LRUCache[tuple[Any, ...], SegmentLines]:
        """Rendered cells by (row key, column key, ..., update count) (``_cell_render_cache``)."""
        return self._cell_render_cache

    @cell_render_cache.setter
    def cell_render_cache(self, cache: LRUCache[tuple[Any, ...], SegmentLines]) -> None:
        self._cell_render_cache = cache

    def redimension(self) -> None:
        """Measure the columns and the virtual size again on idle (``_require_update_dimensions``)."""
        self._require_update_dimensions = True

    # ------------------------------------------------------------------ cell rendering

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> SegmentLines:
        lines = self.render_cell_lines(row_index, column_index, base_style, width, cursor, hover)
        if lines is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        return lines

    def render_cell_lines(
        self, row_index: int, column_index: int, base_style: Style, width: int, cursor: bool, hover: bool
    ) -> list[list[Segment]] | None:
        """A cell's rendered lines, or ``None`` for DataTable's own rendering (the default)."""
        return None

    def cell_styles(self, *, fixed: bool, hover: bool, cursor: bool) -> tuple[Style, Style]:
        """A body cell's component style and post style, as DataTable computes them."""
        return self._get_styles_to_render_cell(
            False,
            False,
            fixed,
            hover,
            cursor,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )

    @property
    def cell_render_state(self) -> tuple[object, ...]:
        """What else a rendered cell depends on (hover cursor shown, pseudo-classes)."""
        return (self._show_hover_cursor, self._pseudo_class_state)


class AppInternals(App[int]):
    """An App that hands an exception raised outside its workers to :meth:`unhandled_error`."""

    def _handle_exception(self, error: Exception) -> None:
        if not self.unhandled_error(error):
            super()._handle_exception(error)

    def unhandled_error(self, error: Exception) -> bool:
        """Handle ``error`` (True), or leave it to Textual (False: a traceback, then exit)."""
        return False


def bindings_of(node: DOMNode) -> BindingsMap:
    """``node``'s own bindings, with the user's keymap applied (``_bindings``)."""
    return node._bindings


def footer_bindings_ready(footer: Footer) -> bool:
    return footer._bindings_ready


def set_footer_bindings_ready(footer: Footer) -> None:
    """What ``Footer.bindings_changed`` sets before it recomposes (``KeyFooter`` replaces it)."""
    footer._bindings_ready = True


class HangupSafeDriver(LinuxDriver):
    """Textual's Linux/macOS driver, made safe for a terminal that goes away (an SSH hang-up).

    * Its writer thread writes through a :class:`~botmon_tui.hangup.GuardedStream`: a failed write
      (EIO) tells :attr:`lost` and is dropped, instead of ending the thread (after which the app
      blocks for ever on the thread's full queue: the stuck processes of issue #21).
    * Once :attr:`lost`, nothing more is queued for the terminal, and the input thread stops
      (``exit_event``, a public attribute of LinuxDriver, is what ends its loop).
    * SIGCONT resumes only after a SIGTSTP suspended it (Textual restarted application mode on any
      SIGCONT, and the kernel sends one with SIGHUP: a second writer thread that died at once).
    * The SIGTSTP and SIGCONT handlers run on the event loop, not inside the signal handler.
    """

    #: The terminal's state, shared with whoever watches it (set by :func:`hangup_safe_driver`).
    lost: ClassVar[LostTerminal]
    #: Told the app's event loop when the driver is made (set by :func:`hangup_safe_driver`).
    on_loop: ClassVar[Callable[[asyncio.AbstractEventLoop], object]]

    def __init__(
        self,
        app: App[Any],
        *,
        debug: bool = False,
        mouse: bool = True,
        size: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(app, debug=debug, mouse=mouse, size=size)
        self._file = GuardedStream(self._file, self.lost)  # type: ignore[arg-type, assignment]
        # A terminal that is gone reads as end-of-file, at once and for ever: Textual's input
        # thread would spin on it until the shutdown stops it; stop it now. (The shutdown's
        # ``disable_input`` then skips the mouse-off writes and the join: nothing to give back.)
        self.lost.when_lost(lambda reason: self.exit_event.set())
        #: The app's event loop (a driver is built by the running app).
        self.event_loop = asyncio.get_running_loop()
        #: SIGTSTP suspended the app (only then does SIGCONT resume it).
        self.suspended = False
        type(self).on_loop(self.event_loop)

    def write(self, data: str) -> None:
        if not self.lost.gone:
            super().write(data)

    def _sigtstp_application(self, *_: Any) -> None:
        self.event_loop.call_soon_threadsafe(self.suspend_now)

    def _sigcont_application(self, *_: Any) -> None:
        if self.suspended and not self.lost.gone:
            self.event_loop.call_soon_threadsafe(self.resume_now)

    def suspend_now(self) -> None:
        """SIGTSTP, on the event loop: give the terminal back and stop (Textual's handler)."""
        self.suspended = True
        super()._sigtstp_application()

    def resume_now(self) -> None:
        """SIGCONT after a suspension, on the event loop: take the terminal again."""
        self.suspended = False
        if not self.lost.gone:
            super()._sigcont_application()


def hangup_safe_driver(
    lost: LostTerminal, on_loop: Callable[[asyncio.AbstractEventLoop], object]
) -> type[HangupSafeDriver]:
    """A :class:`HangupSafeDriver` class bound to ``lost`` and ``on_loop`` (``App.driver_class``
    takes a class, which the running app makes its driver from)."""
    return type("HangupSafeDriver", (HangupSafeDriver,), {"lost": lost, "on_loop": staticmethod(on_loop)})
