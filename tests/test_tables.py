"""The tables as column records (``Column``): one record per column, one loop for every table.

The records themselves are checked (keys by position, no silent fallback, a bad set refused when
the class is made), the widths (the bot list's names first), the header (the key by each title,
its tooltip), and what each column's sort means. The sort of every Event tab column through the
keys is in ``test_ui_app.test_each_column_sorts_both_ways`` (derived from the records).
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from demo_support import FIXED_NOW, WallClock, demo_fixture
from hypothesis import given
from hypothesis import strategies as st
from rich.text import Text
from textual.app import App, ComposeResult
from ui_support import bot_id, on_screen, pause_until, running, screen_lines, settle, status

from botmon_tui.demo import DemoServer
from botmon_tui.medplum.models import AuditEvent
from botmon_tui.monitor.feed import FeedEvent
from botmon_tui.ui.screens.base import PollingScreen, sort_bindings
from botmon_tui.ui.widgets.bot_table import NAME_WIDTH, BotTable
from botmon_tui.ui.widgets.event_table import EventTable
from botmon_tui.ui.widgets.failure_table import FailureTable
from botmon_tui.ui.widgets.keyed_table import (
    KEY_MARKS,
    Column,
    KeyedTable,
    UnknownColumn,
    by_id,
    fit_widths,
    header_label,
)

TABLES: list[type[KeyedTable]] = [EventTable, BotTable, FailureTable]

demo = demo_fixture(scope="function")


# ---------------------------------------------------------------------------- the records


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.__name__)
def test_a_columns_key_is_its_position(table: type[KeyedTable]) -> None:
    bindings = sort_bindings("x", table.COLUMNS)
    assert [b.key for b in bindings] == [str(n) for n in range(1, len(table.COLUMNS) + 1)]  # type: ignore[union-attr]
    for number, (column, binding) in enumerate(zip(table.COLUMNS, bindings, strict=True), 1):
        assert table.number_of(column.key) == number
        assert binding.action == f"sort({number})"  # type: ignore[union-attr]
        assert binding.id == f"x.sort_{column.key}"  # type: ignore[union-attr]
        assert binding.description == f"Sort by {column.title}"  # type: ignore[union-attr]
        assert column.title and column.tooltip.endswith(".")


def test_outcome_is_the_key_its_header_says() -> None:
    """Keys follow each screen's columns (Outcome is 5 on the bot list, 2 elsewhere): the header
    says which (the number by each title)."""
    assert (BotTable.number_of("outcome"), EventTable.number_of("outcome")) == (5, 2)
    assert header_label("Outcome", 4, None, None).plain == "Outcome⁴"
    assert header_label("Outcome", 2, None, "▼").plain == "Outcome²▼"


@pytest.mark.parametrize(
    ("width", "arrow", "shown"),
    [
        (14, "▼", "Last Updated⁴▼"),
        (13, "▼", "Last Updat…⁴▼"),
        (12, None, "Last Updat…⁴"),
        (4, None, "Las⁴"),  # (three cells: no room for an ellipsis and a letter)
        (2, "▲", "⁴▲"),
    ],
)
def test_a_narrow_header_keeps_its_key_and_direction(width: int, arrow: str | None, shown: str) -> None:
    assert header_label("Last Updated", 4, width, arrow).plain == shown


def test_an_unknown_column_is_an_error_not_a_fallback() -> None:
    table = EventTable(clock=lambda: FIXED_NOW)
    with pytest.raises(UnknownColumn):
        table.sort_by("nope")
    with pytest.raises(UnknownColumn):
        table.column("nope")
    for number in (0, len(EventTable.COLUMNS) + 1):
        with pytest.raises(UnknownColumn):
            table.sort_by_number(number)
    with pytest.raises(UnknownColumn):
        EventTable.number_of("attention")  # (the bot list's order, not a column)
    assert (table.sort_column, table.sort_reverse) == EventTable.DEFAULT_SORT


def _column(key: str, **options: Any) -> Column[Any, Any]:
    return Column(
        key, key.title(), cell=lambda table, row: Text(str(row)), sort=by_id, tooltip="x.", **options
    )


@pytest.mark.parametrize(
    ("columns", "default", "problem"),
    [
        ((_column("a"), _column("a")), "a", "keys repeat"),
        (tuple(_column(f"c{n}") for n in range(10)), "c0", "10 columns"),
        ((_column("a", flex=True), _column("b", flex=True)), "a", "more than one flex column"),
        ((_column("a"),), "b", "DEFAULT_SORT 'b'"),
    ],
)
def test_a_bad_set_of_records_is_refused_when_the_class_is_made(
    columns: tuple[Column[Any, Any], ...], default: str, problem: str
) -> None:
    with pytest.raises(TypeError, match=problem):

        class Bad(KeyedTable):
            COLUMNS: ClassVar[tuple[Column[Any, Any], ...]] = columns
            DEFAULT_SORT = (default, False)


# ---------------------------------------------------------------------------- widths


def _bot_widths(table_width: int, longest_name: int | None = None) -> dict[str, int]:
    content = None if longest_name is None else 2 + longest_name
    widths = fit_widths(BotTable.COLUMNS, table_width, 1, content)
    return {column.key: width for column, width in zip(BotTable.COLUMNS, widths, strict=True)}


def test_a_24_character_name_is_whole_at_80_columns() -> None:
    widths = _bot_widths(80)
    assert widths["name"] == 2 + NAME_WIDTH  # (the mark and its space, then the name)
    # IDs gave way first, then the run strip, then the audit column; then, for the State column,
    # the audit column (State says "no AuditEvents") and the ID dropped (0: no room at all).
    # (What the drops freed beyond the State column's need went back to the run strip.)
    assert (widths["id"], widths["history"], widths["audit"]) == (0, 4, 0)
    assert widths["state"] == 11
    # The p50/p95 column shows from 100 columns; at 80 it takes no room at all, not even padding.
    assert widths["durations"] == 0
    shown = [width for width in widths.values() if width]
    assert sum(shown) + 2 * len(shown) + 2 == 80
    # At 100 and 120 columns too the name stays whole (the State column has its room from 120);
    # the ID comes back from 130 columns, the audit column from 150.
    for table_width, state in ((100, 11), (120, 28)):
        wide = _bot_widths(table_width)
        assert wide["state"] == state and wide["name"] == 2 + NAME_WIDTH
    assert _bot_widths(130)["id"] and _bot_widths(150)["audit"]


def test_a_column_hidden_below_a_width_takes_no_room() -> None:
    for table_width, shown in ((99, False), (100, True), (160, True)):
        widths = _bot_widths(table_width)
        assert (widths["durations"] == 11) is shown
        # (Hidden or dropped: no room, not even padding.)
        columns = [width for width in widths.values() if width]
        assert sum(widths.values()) + 2 * len(columns) + 2 == table_width


@given(table_width=st.integers(60, 220), longest=st.one_of(st.none(), st.integers(0, 60)))
def test_the_columns_give_way_for_the_name_in_their_order(table_width: int, longest: int | None) -> None:
    widths = _bot_widths(table_width, longest)
    by_key = {column.key: column for column in BotTable.COLUMNS}
    preferred = {
        key: column.width_for(table_width) if column.shown_at(table_width) else 0
        for key, column in by_key.items()
    }
    usable = table_width - 2 - 2 * sum(column.shown_at(table_width) for column in by_key.values())
    name = by_key["name"]
    assert widths["name"] >= name.least
    wanted = preferred["name"] if longest is None else max(name.least, min(preferred["name"], 2 + longest))
    # The others keep their width, or shrink (never under their least) only for the name.
    shrunk = [key for key in widths if key != "name" and 0 < widths[key] < preferred[key]]
    # (Dropped: no room though the table is wide enough for it; hidden ones are not.)
    dropped = [key for key in widths if widths[key] == 0 and by_key[key].shown_at(table_width)]
    if dropped:
        # Only when the name (or the table) would not fit otherwise, every column that gives way
        # giving all it can.
        content = None if longest is None else 2 + longest
        kept = fit_widths([replace(column, drops=0) for column in BotTable.COLUMNS], table_width, 1, content)
        assert kept[0] < wanted or sum(kept) > usable
    for key in dropped:
        # Only columns that drop, in their order.
        assert by_key[key].drops
        assert all(widths[k] == 0 for k in widths if 0 < by_key[k].drops < by_key[key].drops and preferred[k])
    for key in shrunk:
        assert by_key[key].gives_way and widths[key] >= by_key[key].least
        # Those of an earlier rank are as narrow as they get.
        assert all(
            widths[other] in (by_key[other].least, 0)
            for other in widths
            if 0 < by_key[other].gives_way < by_key[key].gives_way
        )
    if shrunk:
        assert widths["name"] <= wanted
    if widths["name"] < wanted:
        # All gave, and all that drop dropped.
        assert all(widths[k] in (by_key[k].least, 0) for k in widths if by_key[k].gives_way)
        assert all(widths[k] == 0 for k in widths if by_key[k].drops and preferred[k])
    # The columns fill the table (a dropped one's padding too), unless even the name's least does
    # not fit (it then scrolls).
    assert sum(widths.values()) == usable + 2 * len(dropped) or widths["name"] == name.least


# ---------------------------------------------------------------------------- what a sort means


def _run(i: int, *, outcome: str = "0", desc: str = "done", seconds: float | None = 1.0) -> FeedEvent:
    at = FIXED_NOW - timedelta(minutes=i)
    period = (
        None
        if seconds is None
        else {"start": (at - timedelta(seconds=seconds)).isoformat(), "end": at.isoformat()}
    )
    return FeedEvent(
        AuditEvent.model_validate(
            {
                "resourceType": "AuditEvent",
                "id": f"run-{i}",
                "meta": {"lastUpdated": at.isoformat()},
                "outcome": outcome,
                "outcomeDesc": desc,
                **({"period": period} if period else {}),
            }
        )
    )


class EventsApp(App[None]):
    def compose(self) -> ComposeResult:
        yield EventTable(clock=lambda: FIXED_NOW, tz=UTC)


async def test_what_each_event_column_sorts_by() -> None:
    runs = [
        _run(0, outcome="0", desc="beta"),
        _run(1, outcome="8", desc="Alpha"),
        _run(2, outcome="4", desc="gamma"),
        _run(3, outcome="12", desc="alpha two"),
    ]
    async with EventsApp().run_test(size=(120, 30)) as pilot:
        table = pilot.app.query_one(EventTable)
        table.merge(runs)
        await pilot.pause()
        expected = {
            "id": ["run-0", "run-1", "run-2", "run-3"],
            "outcome": ["run-3", "run-1", "run-2", "run-0"],  # the worst first
            "desc": ["run-1", "run-3", "run-0", "run-2"],  # by the words, whatever their case
            "updated": ["run-0", "run-1", "run-2", "run-3"],  # the newest first
        }
        for key, ids in expected.items():
            table.sort_by(key)
            assert table.ids_in_order() == ids, key
            table.sort_by(key)
            assert table.ids_in_order() == ids[::-1], key


async def test_duration_sorts_the_longest_first_and_a_run_without_one_last_both_ways() -> None:
    runs = [
        _run(0, seconds=1.0),
        _run(1, seconds=None),
        _run(2, seconds=65.0),
        _run(3, seconds=0.25),
        _run(4, seconds=None),
    ]
    async with EventsApp().run_test(size=(80, 24)) as pilot:
        table = pilot.app.query_one(EventTable)
        table.merge(runs)
        await pilot.pause()
        shown = [str(table.get_cell(f"run-{i}", "duration")) for i in range(5)]
        assert shown == ["1.0 s", "—", "1m 05s", "250 ms", "—"]
        table.sort_by_number(EventTable.number_of("duration"))  # (the screen's key)
        assert (table.sort_column, table.sort_reverse) == ("duration", True)
        assert table.ids_in_order() == ["run-2", "run-0", "run-3", "run-1", "run-4"]
        table.sort_by_number(EventTable.number_of("duration"))
        assert table.ids_in_order() == ["run-3", "run-0", "run-2", "run-4", "run-1"]
        # A run that arrives later takes its place (the merge reads the same key).
        table.merge([_run(5, seconds=None), _run(6, seconds=2.0)])
        assert table.ids_in_order() == ["run-3", "run-0", "run-6", "run-2", "run-5", "run-4", "run-1"]


async def test_rows_merged_in_batches_land_where_a_full_sort_puts_them() -> None:
    """Whatever the column and direction, rows that arrive later (on top, below, in between, a
    new version of a row) end where one sort of them all would put them: the merge and the sort
    read the same keys."""
    rng = random.Random(5)

    def batch(start: int, size: int) -> list[FeedEvent]:
        return [
            _run(
                rng.randrange(-500, 500),
                outcome=rng.choice(["0", "4", "8", "12"]),
                desc=rng.choice(["alpha", "Beta", "gamma", ""]),
                seconds=rng.choice([None, 0.5, 1.0, 30.0]),
            )
            for _ in range(start, start + size)
        ]

    async with EventsApp().run_test(size=(120, 30)) as pilot:
        table = pilot.app.query_one(EventTable)
        for column in EventTable.COLUMNS:
            for reverse in (False, True):
                table.merge([], removed=table.held_ids())
                table.sort_by(column.key, reverse=reverse)
                for size in (40, 5, 60, 1):
                    table.merge(batch(0, size))
                    expected = sorted(table.held_ids(), key=table.sort_key(), reverse=reverse)
                    assert table.ids_in_order() == expected, (column.key, reverse, size)
        await pilot.pause()


async def test_a_sort_key_without_the_row_id_fails_at_the_first_sort() -> None:
    class Table(KeyedTable):
        COLUMNS: ClassVar[tuple[Column[Table, FeedEvent], ...]] = (
            Column(
                "when",
                "When",
                cell=lambda table, run: Text(run.id),
                sort=lambda table, run: (run.when,),
                tooltip="x.",
            ),
        )
        DEFAULT_SORT = ("when", False)

        def row_id(self, row: FeedEvent) -> str:
            return row.id

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield Table()

    async with Host().run_test(size=(60, 10)) as pilot:
        table = pilot.app.query_one(Table)
        with pytest.raises(TypeError, match="must end with the row's id"):
            table.apply_rows([_run(1), _run(2)])


# ---------------------------------------------------------------------------- the header's tooltip


async def test_a_header_says_what_its_column_shows_and_which_key_sorts_it() -> None:
    async with EventsApp().run_test(size=(120, 30)) as pilot:
        table = pilot.app.query_one(EventTable)
        table.merge([_run(0), _run(1)])
        await pilot.pause()
        for number, column in enumerate(table.ordered_columns, 1):
            x = sum(c.get_render_width(table) for c in table.ordered_columns[: number - 1]) + 2
            await pilot.hover(EventTable, offset=(x, 0))
            tip = table.tooltip
            assert isinstance(tip, Text), number  # (a Text: never parsed as markup)
            assert tip.plain.startswith(f"{EventTable.COLUMNS[number - 1].title}: ")
            assert f"Key {number} " in tip.plain and KEY_MARKS[number - 1] in column.label.plain
        await pilot.hover(EventTable, offset=(2, 2))  # a row: no tooltip over the rows below
        assert table.tooltip is None


# ---------------------------------------------------------------------------- names tell bots apart


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_names_tell_bots_apart(demo: DemoServer, tmp_path: Path, size: tuple[int, int]) -> None:
    """Bots whose names differ only at the end are told apart at 80 columns: a name of up to 24
    characters is whole; a longer one is cut, and the whole of it is there for the status line."""
    names = ["extra-bot-0001-ingest-aa", "extra-bot-0001-ingest-ab", "extra-bot-0002-with-a-longer-name"]
    for name in names:
        bot = demo.store.add_bot({"resourceType": "Bot", "name": name, "runtimeVersion": "vmcontext"})
        demo.store.add_event(bot["id"], outcome="0", desc="ok", at=FIXED_NOW - timedelta(minutes=1))
    async with running(demo, tmp_path, size) as (app, pilot):
        table = app.screen.query_one(BotTable)
        assert on_screen(app, names[0]) and on_screen(app, names[1])
        assert not on_screen(app, names[2])  # (33 characters)
        # The ID and the audit column made room for the State column (and, from 100 columns, the
        # p50/p95 column); they come back from 130 and 150 columns (test_a_24_character_name...).
        header = next(line for line in screen_lines(app) if "Name¹" in line)
        assert "State²" in header and "ID³" not in header and "Audit⁸" not in header
        long_one = bot_id(demo, names[2])
        table.select_id(long_one)
        assert table.selected_name() == names[2]
        # The status line says it whole, first, while that row is selected; not for a whole name.
        await pause_until(pilot, lambda: status(app).startswith(names[2] + " · "), "the name said")
        table.select_id(bot_id(demo, names[0]))
        assert table.selected_name() is None
        await pause_until(pilot, lambda: status(app).startswith("● "), "the name gone")


# ---------------------------------------------------------------------------- ages move on


async def test_the_age_tick_repaints_every_tables_age_columns(demo: DemoServer, tmp_path: Path) -> None:
    """Ages are labels of the clock: when it moves on, each screen's tick repaints them (the bot
    list's Last run, the Event tab's Last Updated, the Failures screen's Last), derived from the
    columns marked ``ages``, with no new data."""
    clock = WallClock()
    async with running(demo, tmp_path, (120, 40), clock=clock) as (app, pilot):

        def row_of(name: str) -> str:
            return next(line for line in screen_lines(app) if name in line)

        def tick() -> None:  # what the screen's timer calls every few seconds
            screen = app.screen
            assert isinstance(screen, PollingScreen)
            screen.refresh_ages()

        assert [c.key for c in BotTable.COLUMNS if c.ages] == ["last_run"]
        assert "2h ago" not in row_of("erx-surescripts-send")
        clock.at += timedelta(hours=2)
        tick()
        await pause_until(pilot, lambda: "2h ago" in row_of("erx-surescripts-send"), "the bot list's age")
        app.open_bot(bot_id(demo, "erx-surescripts-send"))
        await settle(pilot)
        # (The selected top row shows its time; the second row an age.)
        assert "3d ago" not in screen_lines(app)[5]
        clock.at += timedelta(days=3)
        tick()
        await pause_until(pilot, lambda: "3d ago" in screen_lines(app)[5], "the Event tab's age")
        await pilot.press("F")
        await settle(pilot)
        assert not any("4d ago" in line for line in screen_lines(app)[3:6])
        clock.at += timedelta(days=1)
        tick()
        await pause_until(pilot, lambda: "4d ago" in screen_lines(app)[3], "the Failures screen's Last")
