"""What keeps the Event tab light at 10,000 rows (no timings here: see ``benchmarks/run.py``).

* the feed holds compact ``FeedEvent`` objects, not the parsed models;
* a filter hides rows and clearing it shows the same rows again (nothing rebuilt);
* rows are added without ``DataTable.add_row`` (no measuring, one index rebuild per batch).
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from demo_support import FIXED_NOW
from textual.app import App, ComposeResult
from textual_support import unmeasured_rows

from botmon_tui.medplum.models import AuditEvent
from botmon_tui.monitor.feed import EventFeed, FeedEvent
from botmon_tui.ui.widgets.event_table import EventTable


def audit_event(i: int, *, outcome: str = "0", desc: str | None = None) -> AuditEvent:
    at = FIXED_NOW + timedelta(seconds=i)
    return AuditEvent.model_validate(
        {
            "resourceType": "AuditEvent",
            "id": f"ev-{i:05d}",
            "meta": {"lastUpdated": at.isoformat().replace("+00:00", "Z"), "versionId": "v1"},
            "period": {"start": (at - timedelta(milliseconds=250)).isoformat(), "end": at.isoformat()},
            "outcome": outcome,
            "outcomeDesc": desc if desc is not None else f"\n  run {i} \x1b]0;title\x07done\nline 2",
            "agent": [{"who": {"reference": "Bot/b1"}, "requestor": False}],
            "source": {"observer": {"reference": "Bot/b1"}},
            "entity": [
                {"what": {"reference": "Bot/b1", "display": "b"}, "role": {"code": "4"}},
                {"what": {"reference": f"Patient/p{i}"}, "role": {"code": "1", "display": "Patient"}},
            ],
        }
    )


def test_feed_event_keeps_what_the_event_tab_reads() -> None:
    model = audit_event(7, outcome="4")
    event = FeedEvent(model)
    assert (event.id, event.when, event.outcome) == (model.id, model.when, "4")
    assert event.outcome_info.display == "Minor failure" and event.outcomeDesc == model.outcomeDesc
    assert event.headline == "line 2"  # the summary line: no error in it, so its last line
    hostile = FeedEvent(audit_event(8, outcome="4", desc="run 8\n \x1b]0;title\x07 failed \nline 2"))
    assert hostile.headline == "␛]0;title␇ failed"
    assert event.duration == timedelta(milliseconds=250)
    [entity] = event.other_entities
    assert entity.what is not None and entity.what.reference == "Patient/p7"
    assert entity.role is not None and entity.role.display == "Patient"
    assert not hasattr(event, "__dict__")  # one slotted object per held event


def test_feed_holds_feed_events() -> None:
    feed = EventFeed(client=None, bot_id="b1", window=5)  # type: ignore[arg-type]
    delta = feed._merge([audit_event(i) for i in range(8)])
    assert all(isinstance(e, FeedEvent) for e in [*delta.added, *feed.events])
    assert [e.id for e in feed.events] == [f"ev-{i:05d}" for i in range(7, 2, -1)]


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield EventTable(clock=lambda: FIXED_NOW, tz=UTC)


async def test_filter_hides_rows_and_clearing_shows_the_same_rows() -> None:
    app = TableApp()
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(EventTable)
        events = [FeedEvent(audit_event(i, outcome="4" if i % 10 == 0 else "0")) for i in range(300)]
        table.merge(events)
        await pilot.pause()
        order = table.ids_in_order()
        assert order[0] == "ev-00299" and table.row_count == 300
        table.move_cursor(row=5)
        assert table.selected_id == "ev-00294"
        cells: dict[str, Any] = {row_id: table.get_row(row_id)[0] for row_id in order}

        failures = [e for e in events if e.outcome == "4"]
        table.show_only(failures)
        await pilot.pause()
        assert table.ids_in_order() == [row_id for row_id in order if row_id in {e.id for e in failures}]
        assert table.row_count == 30 and len(table.hidden_ids()) == 270
        assert not table.has_id("ev-00299")
        found = table.selected_id  # the row read under the filter ...
        assert found in {e.id for e in failures}

        table.show_only(events)
        await pilot.pause()
        assert table.ids_in_order() == order and not table.hidden_ids()
        assert table.selected_id == found  # ... stays selected when it is cleared
        assert all(table.get_row(row_id)[0] is cells[row_id] for row_id in order)  # nothing rebuilt

        # Rows hidden by a filter can still be dropped (the feed's window moved on).
        table.show_only(failures)
        table.merge([], removed=["ev-00001", "ev-00000"])
        assert "ev-00001" not in table.hidden_ids()
        table.show_only(events[2:])
        assert table.row_count == 298 and "ev-00000" not in table.ids_in_order()


async def test_rows_are_added_without_measuring_cells() -> None:
    app = TableApp()
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(EventTable)
        table.merge([FeedEvent(audit_event(i)) for i in range(50)])
        assert not unmeasured_rows(table)  # DataTable would measure every cell of these on idle
        await pilot.pause()
        assert table.cursor_row == 0 and table.selected_id == "ev-00049"
        table.merge([FeedEvent(audit_event(i)) for i in range(50, 60)])
        await pilot.pause()
        assert table.ids_in_order()[:2] == ["ev-00059", "ev-00058"] and table.row_count == 60


def test_row_index_changed_at_ends_matches_a_rebuild() -> None:
    from textual.widgets.data_table import RowKey

    from botmon_tui.ui.widgets.keyed_table import RowIndex

    keys = [RowKey(f"k{i}") for i in range(10)]
    index = RowIndex(list(keys))
    head, tail = [RowKey("h0"), RowKey("h1")], [RowKey("t0")]
    new = index.changed_at_ends(head, tail, 3)
    assert new == [*head, *keys[:7], *tail]
    assert [index.get(k) for k in new] == list(range(len(new)))
    assert [index.get_key(i) for i in range(len(new))] == new
    assert index.get(keys[9]) is None and keys[9] not in index and index.get_key(len(new)) is None
    index.changed_at_ends([RowKey("h2")], [], 0)
    assert index.get(RowKey("h2")) == 0 and index.get(tail[0]) == len(new)


async def test_quiet_collector_takes_over_full_collections_and_gives_them_back() -> None:
    import gc

    from botmon_tui.ui.gcpolicy import NEVER, QuietCollector

    before = gc.get_threshold()
    app = TableApp()
    async with app.run_test():
        now = [100.0]
        collector = QuietCollector(app, every=10, quiet=2.0, pressure=0, clock=lambda: now[0])
        collector.start()
        assert gc.get_threshold()[2] == NEVER
        now[0] += 11
        collector.note_input()
        assert collector.busy()
        collector._due()
        assert collector.collections == 0  # the user is at work: later
        now[0] += 2.5
        assert not collector.busy()
        collector._due()
        assert collector.collections == 1
        collector._due()
        assert collector.collections == 1  # not again before ``every``
        collector.after_load()  # paging without a pause: collected between two pages
        assert collector.collections == 2
        collector.freeze()
        assert collector.frozen and gc.get_freeze_count() > 0
        collector.thaw()  # a frozen screen goes away
        assert not collector.frozen and gc.get_freeze_count() == 0 and collector.refreeze
        collector._due()  # at the next quiet moment: frozen again
        assert collector.frozen and not collector.refreeze
        collector.stop()
        assert gc.get_threshold() == before and not collector.frozen
