"""Property-based tests: the sanitizer, the tolerant parser and the event merge."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botmon_tui.medplum.models import AuditEvent, Bot, format_instant, parse_instant, parse_search_page
from botmon_tui.medplum.watermark import EventCursor
from botmon_tui.monitor.feed import EventFeed, event_key
from botmon_tui.textsafe import ansi_text, first_line, is_safe, sanitize

ALLOWED_CONTROLS = {"\t", "\n"}


def _has_control(text: str) -> bool:
    for ch in text:
        code = ord(ch)
        if ch in ALLOWED_CONTROLS:
            continue
        if code < 0x20 or 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xDFFF:
            return True
        if code in (0x200E, 0x200F, 0x061C) or 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069:
            return True
    return False


@given(st.text())
def test_sanitize_leaves_no_control_character(text: str) -> None:
    out = sanitize(text)
    assert not _has_control(out)
    assert is_safe(out)
    assert sanitize(out) == out  # idempotent


ANSI_ALPHABET = ["\x1b", "[", "]", "m", ";", "3", "1", "0", "a", "\x9b", "\x07", "\n"]


@given(st.text(alphabet=st.sampled_from(ANSI_ALPHABET)))
def test_ansi_text_keeps_only_printable_text(text: str) -> None:
    rendered = ansi_text(text)
    assert not _has_control(rendered.plain)
    assert not _has_control(first_line(text))


json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
json_value = st.recursive(
    json_leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
event_like = st.fixed_dictionaries(
    {"resourceType": st.just("AuditEvent"), "id": st.text(min_size=0, max_size=8)},
    optional={
        "outcome": json_value,
        "outcomeDesc": json_value,
        "meta": json_value,
        "entity": json_value,
        "period": json_value,
        "source": json_value,
        "agent": json_value,
        "type": json_value,
    },
)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=200)
@given(st.one_of(json_value, st.fixed_dictionaries({"resourceType": st.just("Bundle"), "entry": json_value})))
def test_search_parser_never_crashes_on_arbitrary_json(data: Any) -> None:
    try:
        page = parse_search_page(data, AuditEvent)
    except ValueError:
        return
    assert page.invalid >= 0
    for event in page.resources:
        assert event.id


@settings(max_examples=200)
@given(st.lists(st.one_of(event_like, json_value), max_size=6))
def test_bundle_keeps_good_entries_and_counts_bad_ones(entries: list[Any]) -> None:
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": e} for e in entries]}
    page = parse_search_page(bundle, AuditEvent)
    assert len(page.resources) + page.invalid <= len(entries)
    for event in page.resources:
        # Every derived property is total: no exception for any shape the parser accepted.
        _ = (event.outcome_info.display, event.bot_id, event.when, event.duration, event.other_entities)
    parse_search_page({"resourceType": "Bundle", "entry": [{"resource": e} for e in entries]}, Bot)


# ---------------------------------------------------------------------------- the event merge

BASE = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def make_event(event_id: str, ms: int) -> AuditEvent:
    when = format_instant(BASE + timedelta(milliseconds=ms))
    return AuditEvent.model_validate(
        {
            "resourceType": "AuditEvent",
            "id": event_id,
            "meta": {"lastUpdated": when},
            "outcome": "0",
            "entity": [{"what": {"reference": "Bot/b1"}}],
        }
    )


events_strategy = st.lists(
    st.tuples(st.integers(0, 40), st.integers(0, 5)),  # (id number, timestamp in ms: many ties)
    min_size=1,
    max_size=60,
)


@settings(max_examples=150)
@given(events_strategy, st.randoms(use_true_random=False), st.integers(1, 7))
def test_feed_merge_is_exactly_the_unique_ids_in_order(
    specs: list[tuple[int, int]], rnd: random.Random, page: int
) -> None:
    # One timestamp per id (a resource has one lastUpdated); pages arrive shuffled, with duplicates.
    stamps: dict[str, int] = {}
    for number, ms in specs:
        stamps.setdefault(f"e{number:02d}", ms)
    events = [make_event(i, ms) for i, ms in stamps.items()]
    deliveries = events + [rnd.choice(events) for _ in range(len(events) // 2)]
    rnd.shuffle(deliveries)
    feed = EventFeed(client=None, bot_id="b1", window=10_000)  # type: ignore[arg-type]
    added: list[str] = []
    for start in range(0, len(deliveries), page):
        delta = feed._merge(deliveries[start : start + page])
        added.extend(e.id for e in delta.added)
    assert sorted(added) == sorted(stamps)  # each id reported as added exactly once
    shown = feed.events
    assert {e.id for e in shown} == set(stamps)
    assert [event_key(e) for e in shown] == sorted((event_key(e) for e in events), reverse=True)


@settings(max_examples=100)
@given(events_strategy, st.integers(1, 5))
def test_feed_window_is_bounded_and_keeps_the_newest(specs: list[tuple[int, int]], window: int) -> None:
    stamps: dict[str, int] = {}
    for number, ms in specs:
        stamps.setdefault(f"e{number:02d}", ms)
    events = sorted((make_event(i, ms) for i, ms in stamps.items()), key=event_key)
    feed = EventFeed(client=None, bot_id="b1", window=window)  # type: ignore[arg-type]
    removed: list[str] = []
    for event in events:
        removed.extend(feed._merge([event]).removed)
    assert len(feed) == min(window, len(events))
    assert [e.id for e in feed.events] == [e.id for e in reversed(events)][:window]
    assert set(removed) == {e.id for e in events[: max(0, len(events) - window)]}


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3000), st.integers(0, 2500)),  # (lastUpdated ms, commit lag ms)
        min_size=1,
        max_size=40,
    ),
    st.lists(st.integers(100, 4000), min_size=1, max_size=20),
)
def test_cursor_delivers_every_run_exactly_once_despite_ties_and_late_commits(
    runs: list[tuple[int, int]], poll_gaps: list[int]
) -> None:
    """Simulate a server where runs become visible up to 2.5 s after their timestamp."""
    server = [
        (BASE + timedelta(milliseconds=ms), BASE + timedelta(milliseconds=ms + lag), f"r{i:03d}")
        for i, (ms, lag) in enumerate(runs)
    ]
    cursor = EventCursor(scope={"entity": "Bot/b1"})
    delivered: list[str] = []
    now = BASE
    for gap in [*poll_gaps, 10_000]:  # a final poll long after everything committed
        now += timedelta(milliseconds=gap)
        params = cursor.params(now)
        visible = [(t, i) for t, visible_at, i in server if visible_at <= now]
        for name, value in params:
            if name == "_lastUpdated":
                op, instant = value[:2], parse_instant(value[2:])
                assert instant is not None
                visible = [(t, i) for t, i in visible if (t >= instant if op == "ge" else t > instant)]
        visible.sort()
        delivered.extend(e.id for e in cursor.accept([make_event(i, _ms(t)) for t, i in visible]))
    assert sorted(delivered) == sorted(i for _, _, i in server)


def _ms(t: datetime) -> int:
    return int((t - BASE).total_seconds() * 1000)
