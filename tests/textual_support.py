"""The tests' one door to Textual's private names (as ``botmon_tui/ui/textual_private.py`` is the
app's): what the screen shows line by line, the toasts raised, the rows DataTable would measure.

``TEST_PRIVATE_NAMES`` lists each one; ``tests/test_textual_internals.py`` checks them against the
installed Textual, and fails when another test module uses a private Textual name itself.
"""

from __future__ import annotations

from typing import Any

from textual._compositor import Compositor  # (the type of the private attribute)
from textual.app import App
from textual.notifications import Notification
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from botmon_tui.ui.textual_private import DATA_TABLE, PrivateName

__all__ = ["TEST_PRIVATE_NAMES", "compositor", "notifications", "screen_strips", "unmeasured_rows"]

TEST_PRIVATE_NAMES: tuple[PrivateName, ...] = (
    # The screen's compositor: the lines the terminal shows now, as plain strips (no SVG export).
    PrivateName("textual.screen:Screen", "_compositor", "attribute", "Compositor"),
    # The toasts raised and not yet dismissed (App has clear_notifications, but no reader).
    PrivateName("textual.app:App", "_notifications", "attribute", "Notifications"),
    # Rows added with add_row, measured on idle (KeyedTable adds rows without it).
    PrivateName(DATA_TABLE, "_new_rows", "attribute", "set"),
)


def compositor(app: App[Any]) -> Compositor:
    """The screen's compositor (what a full repaint would write: ``render_full_update``)."""
    return app.screen._compositor


def screen_strips(app: App[Any]) -> list[Strip]:
    """What the terminal shows now, one strip a line."""
    return list(compositor(app).render_strips())


def notifications(app: App[Any]) -> list[Notification]:
    """The toasts on screen (or hidden by ``run_test``), oldest first."""
    return list(app._notifications)


def unmeasured_rows(table: DataTable[Any]) -> set[RowKey]:
    """The rows DataTable still has to measure on idle (none, for a ``KeyedTable``)."""
    return set(table._new_rows)
