"""The bot list: one row per bot with its last run, last outcome, its newest runs as a strip of
symbols, recent failures, its runs' p50/p95 durations (from 100 columns) and audit settings; in
attention order until a column sort is chosen."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import ClassVar

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message

from botmon_tui.formatting import percentiles_text, relative_age
from botmon_tui.medplum.models import FAILURE_CODES, Bot
from botmon_tui.monitor.incidents import STATES, incident_label
from botmon_tui.monitor.summary import BotStatus, attention_key
from botmon_tui.textsafe import clip
from botmon_tui.ui.formatting import DIM, app_palette, audit_text, outcome_strip, outcome_text
from botmon_tui.ui.widgets.cells import AgeCell
from botmon_tui.ui.widgets.keyed_table import EPOCH, Column, KeyedTable, SortOrder, age_column, by_id

__all__ = [
    "ATTENTION",
    "FAILING_MARK",
    "NAME_WIDTH",
    "NEW_MARK",
    "STALE_MARK",
    "BotTable",
    "ProjectLabel",
    "ProjectsBotTable",
]

#: The default order (not a column): see ``monitor.summary.attention_key``.
ATTENTION = "attention"
#: In front of the name of a bot whose last run failed (the row is in the failure colour too;
#: the symbol carries the meaning without colour).
FAILING_MARK = "!"
#: In front of the name of a bot with a failure announced since its Event tab was last opened.
NEW_MARK = "●"
#: After the project of a row whose project's data is stale (its server fails, or never answered).
STALE_MARK = "✗"
#: A name this long is shown whole at 80 columns (the ID, the run strip and the audit column
#: give way for it, in that order).
NAME_WIDTH = 24
#: The Name column's room for a project's label before the name, from 100 columns (several
#: projects watched).
PROJECT_WIDTH = 10
#: The State column's order, the most urgent first (``incidents.STATES`` with ``no-audit`` after
#: the incidents: it is a setting, not something that happened).
STATE_ORDER = {
    state: rank for rank, state in enumerate([*(s for s in STATES if s != "no-audit"), "no-audit"])
}
#: The Outcome column's width for "▲ Minor failure"; narrower, it shows "▲ Minor".
FULL_OUTCOME = 17
#: The Audit column's width for "resource+log · always"; narrower, it shows "always".
FULL_AUDIT = 20


@dataclass(frozen=True)
class ProjectLabel:
    """A row's project, when several are watched: its label (padded: the names line up) and
    whether its data is live."""

    label: str
    live: bool = True


class BotTable(KeyedTable):
    """One row per bot, from the ``BotStatus`` the table holds for it."""

    COLUMNS: ClassVar[tuple[Column[BotTable, BotStatus], ...]] = (
        Column(
            "name",
            "Name",
            cell=lambda table, status: table.name_cell(status),
            sort=lambda table, status: (status.bot.display_name.casefold(), status.bot.id),
            tooltip=f"the bot's name; {FAILING_MARK} its last run failed, {NEW_MARK} a failure not seen yet.",
            flex=True,
            # The mark and a space, (several projects: the project,) then the name.
            widths=((0, 2 + NAME_WIDTH),),
            fit=lambda table, status: table.name_cells(status),
            least=12,
        ),
        Column(
            "state",
            "State",
            cell=lambda table, status: table.state_cell(status),
            sort=lambda table, status: (
                STATE_ORDER.get(status.incident.state, len(STATE_ORDER)),
                -(status.incident.streak.runs if status.incident.streak is not None else 0),
                status.bot.display_name.casefold(),
                status.bot.id,
            ),
            tooltip="its incident: failing (for how long, how many runs in a row, what kind), late, "
            "quiet, flaky, recovered (within the hour), ok (the most urgent first).",
            widths=((0, 11), (110, 18), (120, 28)),
            least=11,
        ),
        Column(
            "id",
            "ID",
            cell=lambda table, status: Text(
                clip(status.bot.id), style=table.row_style(status) or "", no_wrap=True, overflow="ellipsis"
            ),
            sort=by_id,
            tooltip="the Bot resource's id (all of it from 150 columns).",
            widths=((0, 9), (150, 36)),
            least=4,
            gives_way=1,
            drops=2,
        ),
        age_column(
            "last_run",
            "Last run",
            lambda status: status.last_run,
            style=lambda table, status: table.row_style(status) or (None if status.last_run else DIM),
            tooltip="when its newest run was written (— its settings write no AuditEvent).",
            widths=((0, 9), (100, 10)),
            least=9,
            gives_way=4,
        ),
        Column(
            "outcome",
            "Outcome",
            cell=lambda table, status: outcome_text(
                status.last_outcome,
                app_palette(table.app),
                code=False,
                missing=table.missing_outcome(status),
                short=table.column_width("outcome") < FULL_OUTCOME,
                kind=status.last_kind,
                width=table.column_width("outcome"),
            ),
            sort=lambda table, status: (
                status.last_outcome.severity if status.last_outcome else -2,
                status.last_run or EPOCH,
                status.bot.id,
            ),
            descending_first=True,
            tooltip="how its newest run ended, and a failure's kind: timeout, crash, platform, error "
            "(▲ timeout when narrow: the symbol is the outcome's; worst first).",
            widths=((0, 10), (100, FULL_OUTCOME)),
        ),
        Column(
            "history",
            "Runs",
            cell=lambda table, status: outcome_strip(
                status.history_outcomes, app_palette(table.app), table.column_width("history")
            ),
            sort=lambda table, status: (
                sum(info.code in FAILURE_CODES for info in status.history_outcomes),
                status.last_run or EPOCH,
                status.bot.id,
            ),
            descending_first=True,
            tooltip="its newest runs, oldest on the left (the most failed first).",
            widths=((0, 6), (100, 9), (150, 12)),
            least=3,
            gives_way=2,
        ),
        Column(
            "failures",
            "Fails",
            cell=lambda table, status: Text(
                str(status.recent_failures),
                style=app_palette(table.app).fail if status.recent_failures else DIM,
                justify="right",
            ),
            sort=lambda table, status: (status.recent_failures, status.last_run or EPOCH, status.bot.id),
            descending_first=True,
            tooltip="its failed runs in the last 24 hours (the most first).",
            widths=((0, 6), (100, 7)),
        ),
        Column(
            "audit",
            "Audit",
            cell=lambda table, status: audit_text(
                status.bot, app_palette(table.app), compact=table.column_width("audit") < FULL_AUDIT
            ),
            sort=lambda table, status: (
                status.bot.writes_audit_events,
                status.bot.audit_trigger,
                status.bot.display_name.casefold(),
                status.bot.id,
            ),
            tooltip="where and when its runs write AuditEvents; ⚠ none will appear here.",
            widths=((0, 10), (120, 26)),
            least=6,
            gives_way=3,
            # (The State column says "no AuditEvents" for the bots it warns about.)
            drops=1,
        ),
        Column(
            "durations",
            "p50/p95",
            cell=lambda table, status: table.durations_cell(status),
            sort=lambda table, status: (
                status.duration_stats().p95 or -1.0,
                status.duration_stats().p50 or -1.0,
                status.bot.id,
            ),
            descending_first=True,
            tooltip="the median and 95th-percentile duration of its runs read (the slowest first); "
            "from 100 columns.",
            # At 80 columns the name, the runs and the audit need the room: it shows from 100 (last,
            # so that the other columns' keys stay what they are at any width).
            widths=((0, 11),),
            hidden_below=100,
        ),
    )
    ORDERS: ClassVar[tuple[SortOrder[BotTable, BotStatus], ...]] = (
        SortOrder(ATTENTION, "Attention", sort=lambda table, status: attention_key(status)),
    )
    DEFAULT_SORT = (ATTENTION, False)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter", "select_cursor", "Open", id="bots.open_row", tooltip="Open the selected bot's Event tab"
        ),
    ]

    class OpenWanted(Message):
        """``enter`` on a table with no rows yet (keys typed before the list loaded)."""

    def action_select_cursor(self) -> None:
        if not self.row_count:
            self.post_message(self.OpenWanted())
            return
        super().action_select_cursor()

    def __init__(
        self,
        *,
        clock: Callable[[], datetime],
        unseen: Mapping[str, int] | None = None,
        project: Callable[[str], ProjectLabel | None] | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(clock=clock, id=id)
        #: Several projects: a bot id's project (its label, padded to the longest, and whether its
        #: data is live); its rows say it before the name. None: one project, nothing said.
        self.project = project
        #: Bot id → new failures not looked at yet (the alerts' marks; ``ProjectSession.unseen``).
        self.unseen: Mapping[str, int] = unseen if unseen is not None else {}
        #: Runs older than this were not read (see ProjectMonitor.horizon); None: all history read.
        self.horizon: datetime | None = None

    def row_id(self, row: BotStatus) -> str:
        return row.bot.id

    # ------------------------------------------------------------------ cells

    def _age_label(self, cell: AgeCell) -> str:
        status = self.status(cell.row_id)
        if cell.when is None and status is not None and not status.bot.writes_audit_events:
            return "—"  # its settings write no AuditEvent: the Audit column says why
        if cell.when is None:
            if self.horizon is not None and not (status is not None and status.looked_up):
                return f"> {relative_age(self.horizon, self.clock())}"
            return "never"
        return relative_age(cell.when, self.clock())

    def missing_outcome(self, status: BotStatus) -> str:
        """The Outcome of a bot with no run to show."""
        if self.horizon is not None and not status.looked_up and status.bot.writes_audit_events:
            return "not recent"  # older than the runs read at load (and not looked up)
        return "no runs"

    def row_style(self, status: BotStatus) -> Style | None:
        """A bot whose last run failed is marked on the whole row: the mark, and the colour."""
        return app_palette(self.app).fail if status.failing_now else None

    def durations_cell(self, status: BotStatus) -> Text:
        """``4.5s/7.5s``: its runs' median and 95th-percentile duration (``—`` when none is known)."""
        stats = status.duration_stats()
        text = percentiles_text(stats.p50, stats.p95)
        style = self.row_style(status) or (DIM if stats.p50 is None else "")
        return Text(text, style=style, justify="right", no_wrap=True, overflow="ellipsis")

    def state_cell(self, status: BotStatus) -> Text:
        """Its incident in the longest form that fits (``incidents.incident_label``)."""
        incident = status.incident
        palette = app_palette(self.app)
        style = {
            "failing": palette.fail,
            "late": palette.warn,
            "quiet": palette.warn,
            "flaky": palette.warn,
            "recovered": palette.ok,
            "no-audit": palette.warn,
        }.get(incident.state, DIM)
        label = incident_label(incident, self.clock(), width=self.column_width("state"))
        if incident.state == "unknown":
            label = "—"
        return Text(label, style=style, no_wrap=True, overflow="ellipsis")

    def name_cell(self, status: BotStatus) -> Text:
        bot = status.bot
        palette = app_palette(self.app)
        name = Text(no_wrap=True, overflow="ellipsis")
        if bot.id in self.unseen:
            name.append(f"{NEW_MARK} ", palette.fail + Style(reverse=not palette.mono))
        else:
            name.append(f"{FAILING_MARK} " if status.failing_now else "  ", palette.fail)
        project = self.project(bot.id) if self.project is not None else None
        if project is not None:
            # Its project first (several watched): dim while live, "✗" and the failure colour
            # while that project's data is stale or never came (its outage on its own rows).
            name.append(f"{project.label} ", DIM if project.live else palette.fail)
            if not project.live:
                name.append(f"{STALE_MARK} ", palette.fail)
        name.append(clip(bot.display_name), self.row_style(status) or "")
        return name

    def name_cells(self, status: BotStatus) -> int:
        """The cells its Name cell's content takes: the mark, its project (if any), its name."""
        return 2 + self.project_cells(status) + cell_len(clip(status.bot.display_name))

    def project_cells(self, status: BotStatus) -> int:
        """The cells the project takes before the name (0 with one project)."""
        project = self.project(status.bot.id) if self.project is not None else None
        if project is None:
            return 0
        return cell_len(project.label) + 1 + (0 if project.live else cell_len(STALE_MARK) + 1)

    # ------------------------------------------------------------------ reading

    def sort_by_attention(self) -> None:
        """Back to the default order: what needs attention first."""
        self.sort_by(ATTENTION, reverse=False)

    @property
    def attention_order(self) -> bool:
        return self.sort_column == ATTENTION

    def status(self, bot_id: str | None) -> BotStatus | None:
        row: BotStatus | None = self.row(bot_id)
        return row

    @property
    def selected_bot(self) -> Bot | None:
        status = self.status(self.selected_id)
        return status.bot if status else None

    def selected_name(self) -> str | None:
        """The selected bot's whole name when its Name cell cannot show all of it (for the status
        line), else None."""
        status = self.status(self.selected_id)
        if status is None:
            return None
        name = clip(status.bot.display_name)
        room = self.column_width("name") - 2 - self.project_cells(status)  # (the mark, its space)
        return name if cell_len(name) > room else None

    def refresh_ages(self) -> None:
        super().refresh_ages()
        # ("failing 23m", "recovered 5m ago": the visible cells, built again.)
        self.rebuild_column("state")


def _room_for_projects(column: Column[BotTable, BotStatus]) -> Column[BotTable, BotStatus]:
    if column.key == "name":  # from 100 columns, a project's label before the name too
        return replace(column, widths=((0, 2 + NAME_WIDTH), (100, 2 + NAME_WIDTH + PROJECT_WIDTH)))
    if column.key == "durations":  # the names need the room first (after the ID and the audit)
        return replace(column, drops=3)
    return column


class ProjectsBotTable(BotTable):
    """The bot list of several projects: each row says its project before the name, which gets
    the room for it from 100 columns (the p50/p95 column drops first when it lacks)."""

    COLUMNS = tuple(_room_for_projects(column) for column in BotTable.COLUMNS)
