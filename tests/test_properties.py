"""Property-based tests: the sanitizer, the tolerant parser and the event merge.

No per-example deadline (``deadline=None``): these are about results, timings belong to
``benchmarks/run.py`` (on two shared cores one example of the merge took 444 ms against
Hypothesis's default 200 ms deadline, and the suite failed)."""

from __future__ import annotations

import json
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
        # Invisible: zero-width space and joiners, word joiner, BOM, fillers, tag characters.
        if 0x200B <= code <= 0x200D or 0x2060 <= code <= 0x2064 or 0xE0000 <= code <= 0xE007F:
            return True
        if code in (0x034F, 0x115F, 0x1160, 0x180E, 0x3164, 0xFEFF, 0xFFA0):
            return True
    return False


@settings(deadline=None)
@given(st.text())
def test_sanitize_leaves_no_control_character(text: str) -> None:
    out = sanitize(text)
    assert not _has_control(out)
    assert is_safe(out)
    assert sanitize(out) == out  # idempotent


ANSI_ALPHABET = ["\x1b", "[", "]", "m", ";", "3", "1", "0", "a", "\x9b", "\x07", "\n"]


@settings(deadline=None)
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


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=200, deadline=None)
@given(st.one_of(json_value, st.fixed_dictionaries({"resourceType": st.just("Bundle"), "entry": json_value})))
def test_search_parser_never_crashes_on_arbitrary_json(data: Any) -> None:
    try:
        page = parse_search_page(data, AuditEvent)
    except ValueError:
        return
    assert page.invalid >= 0
    for event in page.resources:
        assert event.id


@settings(max_examples=200, deadline=None)
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


def make_event(event_id: str, ms: int, outcome: str = "0") -> AuditEvent:
    when = format_instant(BASE + timedelta(milliseconds=ms))
    return AuditEvent.model_validate(
        {
            "resourceType": "AuditEvent",
            "id": event_id,
            "meta": {"lastUpdated": when},
            "outcome": outcome,
            "entity": [{"what": {"reference": "Bot/b1"}}],
        }
    )


events_strategy = st.lists(
    st.tuples(st.integers(0, 40), st.integers(0, 5)),  # (id number, timestamp in ms: many ties)
    min_size=1,
    max_size=60,
)


@settings(max_examples=150, deadline=None)
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


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 5000), min_size=2, max_size=8, unique=True), st.randoms(use_true_random=False))
def test_feed_merge_keeps_the_newest_version_of_an_event(stamps: list[int], rnd: random.Random) -> None:
    # Versions of one AuditEvent (its outcome says which) arrive in any order, in polls and in
    # older pages: the feed holds the one with the latest meta.lastUpdated, in its place.
    versions = [make_event("e1", ms, outcome=str(index)) for index, ms in enumerate(stamps)]
    newest = versions[stamps.index(max(stamps))]
    rnd.shuffle(versions)
    feed = EventFeed(client=None, bot_id="b1", window=10_000)  # type: ignore[arg-type]
    other = make_event("e0", 2500)
    feed._merge([other])
    shown: dict[str, str | None] = {}
    for version in versions:
        delta = feed._merge([version])
        for event in (*delta.added, *delta.changed):
            shown[event.id] = event.outcome  # what a table applying the deltas shows
    (held,) = (e for e in feed.events if e.id == "e1")
    assert held.outcome == newest.outcome == shown["e1"]
    assert [e.id for e in feed.events] == [
        e.id for e in sorted((feed._by_id.values()), key=event_key, reverse=True)
    ]
    assert len(feed) == 2 and feed._keys == sorted(event_key(e) for e in feed._by_id.values())


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


# ---------------------------------------------------------------------------- hostile answers

#: Bodies: arbitrary bytes, text with controls, and JSON of any shape (as a server might send).
answer_body = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    json_value.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"resourceType": st.just("Bundle"), "entry": json_value}).map(
        lambda v: json.dumps(v).encode()
    ),
    st.fixed_dictionaries({"resourceType": st.just("OperationOutcome"), "issue": json_value}).map(
        lambda v: json.dumps(v).encode()
    ),
)
header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60)


answer_status = st.one_of(st.sampled_from([200, 401, 404, 429, 500, 502]), st.integers(200, 599))
answer_date = st.one_of(
    st.sampled_from(["Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 +2359", "garbage"]),
    header_text,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer_status, answer_body, header_text, header_text, answer_date)
def test_the_client_turns_any_answer_into_data_or_one_clean_error(
    status: int, body: bytes, content_type: str, ratelimit: str, date: str
) -> None:
    """Whatever status, body and headers come back: a page, or a MedplumError whose message is
    one safe line. Never another exception (that would be an internal error in the app)."""
    import asyncio

    import httpx

    from botmon_tui.medplum.auth import ConnectionSettings
    from botmon_tui.medplum.client import MedplumClient
    from botmon_tui.medplum.errors import MedplumError

    headers = [
        (b"content-type", content_type.encode("latin-1")),
        (b"ratelimit", ratelimit.encode("latin-1")),
        (b"date", date.encode("latin-1")),
    ]
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body, headers=headers))

    async def exercise() -> None:
        settings = ConnectionSettings(base_url="https://medplum.test/", auth_method="none")
        async with MedplumClient(settings, transport=transport) as client:
            try:
                page = await client.search("AuditEvent", [("_count", "5")], AuditEvent)
            except MedplumError as error:
                assert "\n" not in str(error) and is_safe(str(error))
                retry_after = getattr(error, "retry_after", 0.0)
                assert 0.0 <= retry_after <= 3600.0
            else:
                assert page.invalid >= 0
            now = client.server_now()  # a later poll adds time to the server's clock
            assert now is None or now.year < 9000

    asyncio.run(exercise())


@given(json_value, st.text(max_size=120))
def test_rate_limit_answers_never_break_the_schedule(outcome: Any, header: str) -> None:
    from botmon_tui.medplum.errors import RateLimitedError
    from botmon_tui.medplum.ratelimit import MAX_WAIT_SECONDS, ms_before_next, parse_ratelimit
    from botmon_tui.monitor.schedule import PollSchedule

    wait = ms_before_next({"resourceType": "OperationOutcome", "issue": outcome})
    assert wait is None or 0.0 <= wait <= MAX_WAIT_SECONDS
    info = parse_ratelimit(header)
    if info is not None:
        assert 0.0 <= info.wait_seconds <= MAX_WAIT_SECONDS
    schedule = PollSchedule(10.0, clock=lambda: 0.0)
    delay = schedule.failure(RateLimitedError("slow down", retry_after=wait or 0.0))
    assert 0.5 <= delay <= schedule.max_backoff


@given(st.text(), st.integers(1, 50))
def test_clip_is_safe_and_bounded(text: str, limit: int) -> None:
    from botmon_tui.textsafe import clip

    out = clip(text, limit)
    assert is_safe(out) and len(out) <= limit + 1
    if len(text) <= limit:
        assert out == sanitize(text)
