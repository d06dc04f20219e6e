"""Pure pieces of the UI: formatting, the no-events explanation, the status line, the pane text."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from demo_support import FIXED_NOW

from botmon_tui.formatting import DOCS_URL, duration_text, explain_no_events, relative_age
from botmon_tui.medplum.errors import ServerError
from botmon_tui.medplum.models import AuditEvent, Bot
from botmon_tui.ui.formatting import audit_text, outcome_text, theme_palette, theme_variables
from botmon_tui.ui.widgets.banner import banner_text
from botmon_tui.ui.widgets.outcome_pane import MAX_PANE_CHARS, pane_text
from botmon_tui.ui.widgets.status_line import StatusInfo, status_text

PALETTE = theme_palette(theme_variables("textual-dark"))


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=-5), "now"),
        (timedelta(seconds=0.2), "now"),
        (timedelta(seconds=42), "42s ago"),
        (timedelta(minutes=5, seconds=59), "5m ago"),
        (timedelta(hours=3, minutes=59), "3h ago"),
        (timedelta(days=2, hours=23), "2d ago"),
        (timedelta(days=120), "17w ago"),
        (timedelta(days=800), "2y ago"),
    ],
)
def test_relative_age(delta: timedelta, expected: str) -> None:
    assert relative_age(FIXED_NOW - delta, FIXED_NOW) == expected


def test_relative_age_unknown() -> None:
    assert relative_age(None, FIXED_NOW) == "—"


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0.586, "586 ms"), (4.25, "4.2 s"), (185, "3m 05s"), (7800, "2h 10m"), (None, "—")],
)
def test_duration_text(seconds: float | None, expected: str) -> None:
    assert duration_text(seconds) == expected


def _bot(**fields: object) -> Bot:
    return Bot.model_validate({"resourceType": "Bot", "id": "b1", "name": "my-bot", **fields})


@pytest.mark.parametrize(
    ("fields", "cause", "blocking"),
    [
        ({"auditEventDestination": ["log"]}, "log-only", True),
        ({"auditEventTrigger": "never"}, "never", True),
        ({"auditEventTrigger": "on-error"}, "on-error", False),
        ({"auditEventTrigger": "on-output"}, "on-output", False),
        ({}, "not-run", False),
        ({"auditEventDestination": ["resource", "log"], "cronString": "*/5 * * * *"}, "not-run", False),
    ],
)
def test_explain_no_events(fields: dict[str, object], cause: str, blocking: bool) -> None:
    reason = explain_no_events(_bot(**fields))
    assert reason.cause == cause
    assert reason.blocking is blocking
    text = banner_text(reason).plain
    assert DOCS_URL in text
    if cause == "log-only":
        assert 'Bot.auditEventDestination to include "resource"' in text


def test_audit_text_marks_settings_that_hide_events() -> None:
    assert audit_text(_bot(auditEventDestination=["log"]), PALETTE, compact=True).plain == "⚠ log only"
    assert audit_text(_bot(auditEventTrigger="never"), PALETTE, compact=True).plain == "⚠ never"
    assert audit_text(_bot(), PALETTE, compact=True).plain == "always"
    assert audit_text(_bot(auditEventTrigger="on-error"), PALETTE).plain == "resource · on-error"


def test_outcome_text_reads_without_colour() -> None:
    event = AuditEvent.model_validate({"resourceType": "AuditEvent", "id": "e", "outcome": "8"})
    assert outcome_text(event.outcome_info, PALETTE).plain == "✗ Serious Failure (8)"
    unknown = AuditEvent.model_validate({"resourceType": "AuditEvent", "id": "e", "outcome": "99"})
    assert outcome_text(unknown.outcome_info, PALETTE).plain == "? 99"


def test_status_text_live_paused_error() -> None:
    info = StatusInfo(interval=10, detail="3 events", last_success=FIXED_NOW - timedelta(seconds=3))
    ok = status_text(info, FIXED_NOW, PALETTE)
    assert ok.plain == "● live · updated 3s ago · every 10s · 3 events"
    paused = status_text(StatusInfo(interval=10, paused=True, last_success=FIXED_NOW), FIXED_NOW, PALETTE)
    assert paused.plain.startswith("‖ paused")
    error = ServerError("Server error (HTTP 500): [bold]boom[/] \x1b]0;pwned\x07")
    failing = status_text(
        StatusInfo(
            interval=10, error=str(error), retry_in=3.6, last_success=FIXED_NOW - timedelta(minutes=2)
        ),
        FIXED_NOW,
        PALETTE,
    )
    assert failing.plain.startswith("✗ retry in 4s · Server error (HTTP 500): [bold]boom[/]")
    assert "showing data from 2m ago" in failing.plain
    assert "\x1b" not in failing.plain and "\x07" not in failing.plain


def test_pane_text_shows_everything_literally() -> None:
    hostile = "[@click=app.quit]x[/] [/x]\n\x1b[31mred\x1b[0m \x1b]52;c;ZXZpbA==\x07 \x9b2J done"
    event = AuditEvent.model_validate(
        {
            "resourceType": "AuditEvent",
            "id": "ev-1",
            "meta": {"lastUpdated": "2025-03-14T11:59:00.000Z"},
            "period": {"start": "2025-03-14T11:58:59.000Z", "end": "2025-03-14T11:58:59.586Z"},
            "outcome": "4",
            "outcomeDesc": hostile,
            "entity": [
                {"what": {"reference": "Bot/b1"}},
                {"what": {"reference": "Patient/p1"}, "role": {"display": "Patient"}},
                {"what": {"reference": "Subscription/s1"}, "role": {"display": "Subscriber"}},
            ],
        }
    )
    text = pane_text(event, now=FIXED_NOW, tz=UTC, palette=PALETTE, app_base="https://app.medplum.com/").text
    plain = text.plain
    assert "[@click=app.quit]x[/] [/x]" in plain
    assert "▲ Minor failure (4)" in plain
    assert "586 ms" in plain
    assert "Patient: Patient/p1" in plain and "Subscriber: Subscription/s1" in plain
    assert "https://app.medplum.com/AuditEvent/ev-1" in plain
    assert not any(ch in plain for ch in "\x1b\x07\x9b")
    # The SGR colour survived as a style, not as an escape.
    red = [s for s in text.spans if getattr(getattr(s.style, "color", None), "number", None) == 1]
    assert red and plain[red[0].start : red[0].end] == "red"


def test_pane_text_bounds_huge_output() -> None:
    event = AuditEvent.model_validate(
        {"resourceType": "AuditEvent", "id": "big", "outcomeDesc": "a" * 1_000_000 + "THE END"}
    )
    plain = pane_text(event, now=FIXED_NOW, tz=UTC, palette=PALETTE).text.plain
    assert len(plain) < MAX_PANE_CHARS + 2000
    assert plain.rstrip().endswith("THE END") or "THE END" in plain
    assert "characters not shown" in plain


async def test_updated_rows_repaint_their_new_cells_and_the_others_stay_cached() -> None:
    """A batch of updated rows drops exactly their cached renders (one pass for the batch)."""
    from typing import Any, ClassVar

    from rich.text import Text
    from textual.app import App, ComposeResult

    from botmon_tui.ui.widgets.keyed_table import Column, KeyedTable, by_id

    class Table(KeyedTable):
        COLUMNS: ClassVar[tuple[Column[Table, tuple[str, str]], ...]] = (
            Column(
                "id",
                "ID",
                cell=lambda table, row: Text(f"{row[0]} {row[1]}"),
                sort=by_id,
                tooltip="",
                flex=True,
            ),
        )
        DEFAULT_SORT = ("id", False)

        def row_id(self, row: Any) -> str:
            return str(row[0])

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield Table()

    def shown(table: Table) -> list[str]:
        return [table.render_line(y).text.strip() for y in range(1, 6)]

    async with Host().run_test(size=(40, 10)) as pilot:
        table = pilot.app.query_one(Table)
        table.apply_rows([(f"r{i}", "old") for i in range(5)])
        await pilot.pause()
        assert shown(table) == [f"r{i} old" for i in range(5)]
        table.apply_rows([("r1", "new"), ("r3", "new")])
        kept = {key[0].value for key in table._line_cells.keys()}  # noqa: SIM118
        assert kept == {"r0", "r2", "r4"}
        await pilot.pause()
        assert shown(table) == ["r0 old", "r1 new", "r2 old", "r3 new", "r4 old"]


async def test_the_pane_builds_its_text_again_only_when_something_it_shows_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from textual.app import App, ComposeResult

    from botmon_tui.monitor.feed import FeedEvent
    from botmon_tui.ui.widgets import outcome_pane
    from botmon_tui.ui.widgets.outcome_pane import OutcomePane

    built: list[str] = []

    def counting(event: FeedEvent, **options: object) -> object:
        built.append(event.id)
        return pane_text(event, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(outcome_pane, "pane_text", counting)

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield OutcomePane()

    def feed_event(event_id: str, desc: str) -> FeedEvent:
        return FeedEvent(
            AuditEvent.model_validate(
                {
                    "resourceType": "AuditEvent",
                    "id": event_id,
                    "meta": {"lastUpdated": "2025-03-14T11:50:00.000Z"},
                    "outcome": "0",
                    "outcomeDesc": desc,
                }
            )
        )

    one, two = feed_event("ev-1", "\x1b[32mfirst\x1b[0m"), feed_event("ev-2", "second")
    async with Host().run_test() as pilot:
        pane = pilot.app.query_one(OutcomePane)
        for now in (FIXED_NOW, FIXED_NOW + timedelta(seconds=20)):  # still "10m ago"
            pane.show(one, now=now, tz=UTC, app_base="https://app/")
        assert built == ["ev-1"] and "first" in pane.plain and "(10m ago)" in pane.plain
        pane.show(one, now=FIXED_NOW + timedelta(minutes=1), tz=UTC, app_base="https://app/")
        assert built == ["ev-1", "ev-1"] and "(11m ago)" in pane.plain
        newer = feed_event("ev-1", "first, then more")  # a new version of the same run
        pane.show(newer, now=FIXED_NOW + timedelta(minutes=1), tz=UTC, app_base="https://app/")
        assert built == ["ev-1"] * 3 and "then more" in pane.plain
        pane.show(two, now=FIXED_NOW + timedelta(minutes=1), tz=UTC, app_base="https://app/")
        pane.show(two, now=FIXED_NOW + timedelta(minutes=1), tz=UTC, app_base="https://app/")
        assert built == ["ev-1"] * 3 + ["ev-2"] and "second" in pane.plain
