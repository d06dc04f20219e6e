"""The Failures screen's grouped table: one row per error signature (one cause across runs and
bots, ``monitor.incidents.group_failures``), keyed by the signature's key."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from typing import ClassVar

from rich.text import Text

from botmon_tui.monitor.incidents import FailureGroup, group_counts
from botmon_tui.ui.formatting import DIM, app_palette
from botmon_tui.ui.widgets.keyed_table import EPOCH, Column, KeyedTable, age_column

__all__ = ["ONGOING_MARK", "GroupTable"]

#: In the Ongoing column of a cause a bot is failing with now (the failure colour too).
ONGOING_MARK = "●"
#: The Ongoing column's width for "● ongoing"; narrower, it shows "ongoing".
FULL_ONGOING = 9


def _ongoing_cell(table: GroupTable, group: FailureGroup) -> Text:
    if not group.ongoing:
        return Text("over", style=DIM, no_wrap=True)
    full = table.column_width("ongoing") >= FULL_ONGOING
    label = f"{ONGOING_MARK} ongoing" if full else "ongoing"
    return Text(label, style=app_palette(table.app).fail, no_wrap=True, overflow="ellipsis")


class GroupTable(KeyedTable):
    """One row per cause (error signature), from the ``FailureGroup`` the table holds for it."""

    COLUMNS: ClassVar[tuple[Column[GroupTable, FailureGroup], ...]] = (
        Column(
            "cause",
            "Cause",
            cell=lambda table, group: Text(group.signature.text, no_wrap=True, overflow="ellipsis"),
            sort=lambda table, group: (group.signature.text.casefold(), group.signature.key),
            tooltip="the error signature: the error line with ids, times and counts taken out, and the "
            "bot's own first stack frame after @ (enter: its runs).",
            flex=True,
            widths=((0, 36), (120, 44)),
            least=16,
        ),
        Column(
            "count",
            "Runs",
            cell=lambda table, group: Text(
                group_counts(group, width=table.column_width("count")), no_wrap=True, overflow="ellipsis"
            ),
            sort=lambda table, group: (len(group.runs), len(group.bot_ids), group.signature.key),
            descending_first=True,
            tooltip="how many failed runs have this cause, on how many bots (the most first).",
            widths=((0, 11), (100, 16)),
        ),
        Column(
            "bots",
            "Bots",
            cell=lambda table, group: Text(
                ", ".join(table.bot_names(group)), no_wrap=True, overflow="ellipsis"
            ),
            sort=lambda table, group: (
                ", ".join(table.bot_names(group)).casefold(),
                group.signature.key,
            ),
            tooltip="the bots that failed with it, the most recent first (as many names as fit).",
            widths=((0, 14), (100, 18), (120, 26)),
            least=12,
            gives_way=1,
        ),
        age_column(
            "last",
            "Last",
            lambda group: group.last_seen,
            tooltip="when it was last seen: its newest failed run (the newest first).",
            widths=((0, 8), (100, 10)),
        ),
        # (At 80 columns it drops: the cause and the bots' names first.)
        age_column(
            "first",
            "First",
            lambda group: group.first_seen,
            tooltip="when it was first seen: its oldest failed run among those held (the newest first).",
            widths=((0, 8), (100, 10)),
            least=7,
            gives_way=2,
            drops=1,
        ),
        Column(
            "ongoing",
            "State",
            cell=_ongoing_cell,
            sort=lambda table, group: (group.ongoing, group.last_seen or EPOCH, group.signature.key),
            descending_first=True,
            tooltip="● ongoing: a bot is failing with this cause now (its newest failed run has it); "
            "over: none is.",
            widths=((0, 7), (100, FULL_ONGOING)),
        ),
    )
    DEFAULT_SORT = ("last", True)

    def __init__(
        self,
        *,
        clock: Callable[[], datetime],
        bot_names: Callable[[FailureGroup], Sequence[str]],
        id: str | None = None,
    ) -> None:
        super().__init__(clock=clock, id=id)
        #: The names of a group's bots, the most recently failed first.
        self.bot_names: Callable[[FailureGroup], Sequence[str]] = bot_names

    def row_id(self, row: FailureGroup) -> str:
        return row.signature.key

    def group(self, key: str | None) -> FailureGroup | None:
        row: FailureGroup | None = self.row(key)
        return row

    @property
    def selected_group(self) -> FailureGroup | None:
        return self.group(self.selected_id)

    def show_groups(self, groups: Iterable[FailureGroup]) -> None:
        """Show exactly these groups, as a diff by signature: a group whose runs or state changed
        takes its new object (its cells built again), the others keep theirs; the cursor and the
        view stay where they are."""
        wanted = list(groups)
        changed: Collection[str] = {
            group.signature.key for group in wanted if _changed(self.group(group.signature.key), group)
        }
        self.show(wanted, changed)


def _changed(held: FailureGroup | None, group: FailureGroup) -> bool:
    if held is None:
        return True
    return (
        len(held.runs) != len(group.runs)
        or held.newest.id != group.newest.id
        or held.runs[-1].id != group.runs[-1].id
        or held.ongoing != group.ongoing
        or held.bot_ids != group.bot_ids
    )
