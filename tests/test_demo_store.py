"""The demo backend's data and search engine, without HTTP: generated project, store API, search rules."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from demo_support import FIXED_NOW

from botmon_tui.demo import DemoConfig, DemoServer, DemoStore, serve_forever
from botmon_tui.demo.catalog import BOT_SPECS
from botmon_tui.demo.cron import CronSchedule
from botmon_tui.demo.fhirtime import DateValueError, format_ms, parse_search_instant_us, to_ms
from botmon_tui.demo.search import AUDIT_EVENT_PARAMS, SearchError, execute, parse_search
from botmon_tui.demo.store import keep_tail
from botmon_tui.medplum.models import AuditEvent, Bot, format_instant

INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
AUDIT_SYSTEM = "https://medplum.com/CodeSystem/audit-event"


@pytest.fixture(scope="module")
def store() -> DemoStore:
    return DemoStore(DemoConfig(seed=42, now=FIXED_NOW, live=False))


def by_name(store: DemoStore, name: str) -> str:
    bot_id = store.bot_id(name)
    assert bot_id is not None, name
    return bot_id


def digest(store: DemoStore) -> str:
    h = hashlib.sha256()
    h.update(json.dumps(store.bots, sort_keys=True).encode())
    for bot in store.bots:
        h.update(json.dumps(store.events_for(bot["id"]), sort_keys=True).encode())
    return h.hexdigest()


# --------------------------------------------------------------------------------------------------
# The generated project
# --------------------------------------------------------------------------------------------------


def test_project_has_the_promised_bots(store: DemoStore) -> None:
    bots = {b["name"]: b for b in store.bots}
    assert len(bots) >= 8
    assert bots["appointment-reminders"]["auditEventDestination"] == ["log"]
    assert bots["eligibility-check"]["auditEventTrigger"] == "on-error"
    assert bots["stale-task-cleanup"]["auditEventTrigger"] == "never"
    assert {b["runtimeVersion"] for b in bots.values()} == {"awslambda", "vmcontext"}
    assert any("cronString" in b for b in bots.values())
    for name in ("appointment-reminders", "stale-task-cleanup", "sms-opt-out-handler"):
        assert store.events_for(bots[name]["id"]) == [], name  # log-only, never, not run yet
    for bot in bots.values():
        assert INSTANT.match(bot["meta"]["lastUpdated"])
        assert bot["identifier"] and bot["category"] and bot["description"]
        Bot.model_validate(bot)
    assert 2000 <= store.event_count() <= 6000


def test_events_are_shaped_like_medplum(store: DemoStore) -> None:
    bot_id = by_name(store, "hl7-adt-ingest")
    events = store.events_for(bot_id)
    assert len(events) > 500
    times = [e["meta"]["lastUpdated"] for e in events]
    assert times == sorted(times, reverse=True)
    event = events[0]
    assert list(event) == [
        "resourceType",
        "id",
        "meta",
        "type",
        "period",
        "recorded",
        "agent",
        "source",
        "entity",
        "outcome",
        "outcomeDesc",
        "extension",
    ]
    assert set(event["meta"]) == {"project", "versionId", "lastUpdated"}
    assert event["type"] == {"system": AUDIT_SYSTEM, "code": "execute"}
    for instant in (
        event["meta"]["lastUpdated"],
        event["recorded"],
        event["period"]["start"],
        event["period"]["end"],
    ):
        assert INSTANT.match(instant)
    assert (
        event["period"]["start"]
        <= event["period"]["end"]
        == event["recorded"]
        <= event["meta"]["lastUpdated"]
    )
    ref = {"reference": f"Bot/{bot_id}", "display": "hl7-adt-ingest"}
    assert event["entity"][0] == {"what": ref, "role": {"code": "4", "display": "Domain"}}
    assert event["source"] == {"observer": ref}
    assert event["agent"][0]["requestor"] is True and event["agent"][1] == {"who": ref, "requestor": False}
    roles = {e["role"]["code"] for e in event["entity"]}
    assert roles == {"4", "1", "9"}  # the bot, the Patient, the Subscription
    assert {e["outcome"] for e in events} == {"0", "4"}
    parsed = AuditEvent.model_validate(event)
    assert parsed.bot_id == bot_id and parsed.outcome == event["outcome"]


def test_logs_are_realistic(store: DemoStore) -> None:
    every = [e for b in store.bots for e in store.events_for(b["id"])]
    logs = [e["outcomeDesc"] for e in every]
    assert any("\x1b[32m" in log for log in logs)  # chalk colours
    assert any(log.count("\n    at ") >= 3 for log in logs)  # JS stack traces
    assert any("[/ZPD]" in log for log in logs)  # text that looks like markup
    assert any("\x1b]52;" in log for log in logs)  # one hostile log (OSC 52)
    assert any(log == "" for log in logs)  # a run that printed nothing
    sizes = [len(log.encode()) for log in logs]
    assert max(sizes) == 10 * 1024  # a long export log, cut to its last 10 KiB


def test_legacy_bot_uses_the_old_format(store: DemoStore) -> None:
    events = store.events_for(by_name(store, "legacy-hl7-bridge"))
    assert {e["outcome"] for e in events} == {"0", "8", "12"}
    for event in events:
        assert event["type"] == {"code": "execute"}
        assert event["agent"] == [{"type": {"text": "bot"}, "requestor": False}]
    assert any("\x0b" in e["outcomeDesc"] and "\x1c" in e["outcomeDesc"] for e in events)  # MLLP frames


def test_ties_exist_in_the_generated_data(store: DemoStore) -> None:
    times = [e["meta"]["lastUpdated"] for e in store.events_for(by_name(store, "hl7-adt-ingest"))]
    assert len(times) - len(set(times)) >= 5


def test_output_is_deterministic_for_a_seed_and_now() -> None:
    a = DemoStore(DemoConfig(seed=7, now=FIXED_NOW, live=False, history_days=1))
    b = DemoStore(DemoConfig(seed=7, now=FIXED_NOW, live=False, history_days=1))
    c = DemoStore(DemoConfig(seed=8, now=FIXED_NOW, live=False, history_days=1))
    assert digest(a) == digest(b)
    assert digest(a) != digest(c)


def test_extra_and_big_bots() -> None:
    s = DemoStore(
        DemoConfig(seed=1, now=FIXED_NOW, live=False, history_days=1, extra_bots=30, big_bot_events=3000)
    )
    names = [b["name"] for b in s.bots]
    assert len(names) == len(set(names)) == len(BOT_SPECS) + 1 + 30
    big = s.events_for(by_name(s, "bulk-importer"))
    assert len(big) == 3000
    assert all(INSTANT.match(e["meta"]["lastUpdated"]) for e in big[:50])
    assert big[0]["outcomeDesc"].startswith(("Imported batch", "Importing batch"))
    times = [e["meta"]["lastUpdated"] for e in big]
    assert len(times) > len(set(times))  # compact events tie too


def test_big_bot_logs_of_realistic_size() -> None:
    """``big_bot_log_bytes`` (benchmarks): varied sizes around it, capped like Medplum at 10 KiB."""
    cfg = DemoConfig(
        seed=1, now=FIXED_NOW, live=False, history_days=1, big_bot_events=2000, big_bot_log_bytes=1024
    )
    s = DemoStore(cfg)
    logs = [e["outcomeDesc"] for e in s.events_for(by_name(s, "bulk-importer"))]
    sizes = sorted(len(log.encode()) for log in logs)
    assert 500 < sizes[len(sizes) // 2] < 2000
    assert sizes[-1] == 10 * 1024 and sizes[0] >= 200
    # A success's last line, or (a vmcontext bot) the server's line after the uncaught error.
    assert all(log.endswith(" ms") or log.split("\n")[-1].startswith("Error CSV parse error") for log in logs)
    assert logs == [e["outcomeDesc"] for e in DemoStore(cfg).events_for(by_name(s, "bulk-importer"))]


def test_an_event_viewed_without_its_log_is_the_same_event_less_outcome_desc() -> None:
    """``_elements`` without ``outcomeDesc`` skips computing the bulk logs; nothing else changes."""
    cfg = DemoConfig(
        seed=1, now=FIXED_NOW, live=False, history_days=1, big_bot_events=50, big_bot_log_bytes=1024
    )
    s = DemoStore(cfg)
    for event in s.events_for(by_name(s, "bulk-importer")):
        rec = s.event_record(event["id"])
        assert rec is not None
        full = rec.view(s.project_id)
        assert full["outcomeDesc"] == event["outcomeDesc"]
        assert rec.view(s.project_id, log=False) == {k: v for k, v in full.items() if k != "outcomeDesc"}


# --------------------------------------------------------------------------------------------------
# Store API
# --------------------------------------------------------------------------------------------------


def fresh() -> DemoStore:
    return DemoStore(DemoConfig(seed=3, now=FIXED_NOW, live=False, history_days=0.2))


def test_add_update_delete_bot() -> None:
    s = fresh()
    bot = s.add_bot({"name": "my-bot", "runtimeVersion": "vmcontext"})
    assert bot["resourceType"] == "Bot" and bot["id"] and INSTANT.match(bot["meta"]["lastUpdated"])
    assert (s.bot(bot["id"]) or {})["name"] == "my-bot"
    updated = s.update_bot(bot["id"], description="new", runtimeVersion=None)
    assert updated["description"] == "new" and "runtimeVersion" not in updated
    assert updated["meta"]["versionId"] != bot["meta"]["versionId"]
    assert updated["meta"]["lastUpdated"] > bot["meta"]["lastUpdated"]
    s.delete_bot(bot["id"])
    assert s.bot(bot["id"]) is None
    with pytest.raises(KeyError):
        s.delete_bot(bot["id"])
    with pytest.raises(KeyError):
        s.update_bot("nope", name="x")


def test_add_event_options() -> None:
    s = fresh()
    bot_id = s.add_bot({"name": "probe"})["id"]
    at = FIXED_NOW + timedelta(minutes=5)
    first = s.add_event(bot_id, outcome="4", desc="boom", at=at, patient="p1", subscription="s1")
    second = s.add_event(bot_id, desc="x" * 20_000, at=at)
    legacy = s.add_event(bot_id, outcome="12", at=at + timedelta(seconds=1), legacy=True)
    custom = s.add_event(
        bot_id, outcome="5", at=at + timedelta(seconds=2), type={"code": "other"}, agent=None
    )
    assert first["meta"]["lastUpdated"] == second["meta"]["lastUpdated"] == format_instant(at)
    assert [e["what"]["reference"] for e in first["entity"]] == [
        f"Bot/{bot_id}",
        "Patient/p1",
        "Subscription/s1",
    ]
    assert len(second["outcomeDesc"]) == 10 * 1024
    assert legacy["type"] == {"code": "execute"} and "who" not in legacy["agent"][0]
    assert custom["type"] == {"code": "other"} and "agent" not in custom and custom["outcome"] == "5"
    newest = [e["id"] for e in s.events_for(bot_id)]
    assert newest[:2] == [custom["id"], legacy["id"]]
    assert s.event(first["id"]) == first
    assert s.event_count() >= 4


def test_run_bot_honours_trigger_and_destination() -> None:
    s = fresh()
    never = by_name(s, "stale-task-cleanup")
    log_only = by_name(s, "appointment-reminders")
    on_error = by_name(s, "eligibility-check")
    on_output = by_name(s, "patient-welcome-email")
    always = by_name(s, "hl7-adt-ingest")
    before = s.event_count()
    assert all(s.run_bot(never) is None for _ in range(20))
    assert all(s.run_bot(log_only) is None for _ in range(20))
    failures = [s.run_bot(on_error) for _ in range(80)]
    assert all(e is None or e["outcome"] != "0" for e in failures) and any(failures)
    outputs = [s.run_bot(on_output) for _ in range(40)]
    assert all(e is None or e["outcomeDesc"] for e in outputs) and None in outputs
    runs = [s.run_bot(always) for _ in range(10)]
    assert all(runs)
    assert s.events_for(always)[0]["id"] == runs[-1]["id"]  # type: ignore[index]
    assert s.event_count() == before + sum(1 for e in failures + outputs + runs if e)
    with pytest.raises(KeyError):
        s.run_bot("unknown")
    custom = s.add_bot({"name": "no-spec"})["id"]
    assert s.run_bot(custom, at=FIXED_NOW + timedelta(hours=1)) is not None


def test_max_log_bytes_is_the_old_name_of_max_log_chars() -> None:
    assert DemoConfig().max_log_chars == 10_240
    assert DemoConfig(max_log_bytes=None).max_log_chars is None
    assert DemoConfig(max_log_bytes=500).max_log_chars == 500


def test_keep_tail_keeps_the_last_characters() -> None:
    """As ``str.substring(length - n)`` in JavaScript: UTF-16 units; a character cut in half is dropped."""
    assert keep_tail("abc", 10) == "abc"
    assert keep_tail("0123456789", 4) == "6789"
    assert keep_tail("é" * 10, 5) == "é" * 5  # characters, not bytes
    assert keep_tail("a" + "😀" * 3, 3) == "😀"  # two units each: the half of one is dropped
    assert keep_tail("x" * 50, None) == "x" * 50


# --------------------------------------------------------------------------------------------------
# Time and cron helpers
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-03-14T09:26:54.120Z", datetime(2025, 3, 14, 9, 26, 54, 120_000, tzinfo=UTC)),
        ("2025-03-14", datetime(2025, 3, 14, tzinfo=UTC)),
        ("2025-03-14T10:26:54+01:00", datetime(2025, 3, 14, 9, 26, 54, tzinfo=UTC)),
        ("2025-03-14 09:26", datetime(2025, 3, 14, 9, 26, tzinfo=UTC)),
    ],
)
def test_search_instants(value: str, expected: datetime) -> None:
    assert parse_search_instant_us(value) == to_ms(expected) * 1000 + expected.microsecond % 1000


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("bad", "Invalid format for date search parameter: bad"),
        ("12/17", "Invalid format for date search parameter: 12/17"),
        ("2025-03-14T09:00:00 02:00", "Invalid format for date search parameter: 2025-03-14T09:00:00 02:00"),
        ("2025-13-01", "Invalid date value: 2025-13-01"),
        ("2025-02-30", "Invalid date value: 2025-02-30"),
        ("2025-03", "Invalid date value: 2025-03"),
    ],
)
def test_bad_search_instants(value: str, message: str) -> None:
    with pytest.raises(DateValueError) as info:
        parse_search_instant_us(value)
    assert info.value.message == message


def test_format_ms_matches_the_models() -> None:
    for ms in (0, 1, 999, 1_741_944_414_120, 4_102_444_799_999):
        dt = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
        assert format_ms(ms) == format_instant(dt)


def test_cron() -> None:
    every15 = CronSchedule.parse("*/15 * * * *")
    start = datetime(2025, 3, 14, 9, 7, tzinfo=UTC)
    assert every15.next_after(start) == datetime(2025, 3, 14, 9, 15, tzinfo=UTC)
    monday = CronSchedule.parse("0 6 * * 1")
    assert monday.next_after(start) == datetime(2025, 3, 17, 6, 0, tzinfo=UTC)
    assert len(list(CronSchedule.parse("0 2 * * *").between(start, start + timedelta(days=3)))) == 3
    with pytest.raises(ValueError):
        CronSchedule.parse("61 * * * *")


# --------------------------------------------------------------------------------------------------
# Search engine rules (no HTTP)
# --------------------------------------------------------------------------------------------------


def search(store: DemoStore, query: str) -> Any:
    pairs = [tuple(p.split("=", 1)) for p in query.split("&") if p]
    req = parse_search("AuditEvent", pairs, AUDIT_EVENT_PARAMS)  # type: ignore[arg-type]
    return req, execute(
        req, store.all_events, req.filters, AUDIT_EVENT_PARAMS, now_us=to_ms(FIXED_NOW) * 1000
    )


def test_count_clamp_and_default(store: DemoStore) -> None:
    req, result = search(store, "_count=5000")
    assert req.count == 1000 and len(result.records) == 1000
    req, result = search(store, "")
    assert req.count == 20 and len(result.records) == 20 and result.total is None
    req, result = search(store, "_count=0&_total=accurate")
    assert result.records == [] and result.total == store.event_count()
    req, result = search(store, "_summary=count")
    assert result.records == [] and result.total == store.event_count()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("foo=bar", "Unknown search parameter: foo"),
        ("_sort=-nope", "Unknown search parameter: nope"),
        ("_offset=10001", "Search offset exceeds maximum (got 10001, max 10000)"),
        ("date=gt2025/03", "Invalid format for date search parameter: 2025/03"),
        ("_lastUpdated=ge2025-02-31", "Invalid date value: 2025-02-31"),
    ],
)
def test_search_errors(store: DemoStore, query: str, message: str) -> None:
    with pytest.raises(SearchError) as info:
        search(store, query)
    assert info.value.status == 400
    assert info.value.outcome["issue"][0] == {
        "severity": "error",
        "code": "invalid",
        "details": {"text": message},
    }


def test_sort_by_outcome_then_newest(store: DemoStore) -> None:
    _, result = search(store, "_sort=-outcome,-_lastUpdated&_count=1000")
    outcomes = [r.outcome for r in result.records]
    assert outcomes == sorted(outcomes, reverse=True)
    head = [r for r in result.records if r.outcome == outcomes[0]]
    assert [r.key for r in head] == sorted((r.key for r in head), reverse=True)


# --------------------------------------------------------------------------------------------------
# The demo-server command
# --------------------------------------------------------------------------------------------------


def test_serve_forever_prints_how_to_connect() -> None:
    out = StringIO()
    stop = threading.Event()
    thread = threading.Thread(
        target=serve_forever,
        args=(None, DemoConfig(live=False, history_days=0.1)),
        kwargs={"out": out, "stop": stop},
    )
    thread.start()
    try:
        for _ in range(100):
            if "Ctrl-C" in out.getvalue():
                break
            stop.wait(0.05)
        text = out.getvalue()
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert re.search(r"base URL\s+http://127\.0\.0\.1:\d+/", text)
    assert DemoConfig().client_id in text and DemoConfig().client_secret in text
    assert "curl" in text and "Ctrl-C" in text


def test_main_parses_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    import botmon_tui.demo.__main__ as entry

    seen: list[tuple[int | None, DemoConfig]] = []
    monkeypatch.setattr(entry, "serve_forever", lambda port, cfg: seen.append((port, cfg)))
    assert entry.main(["--port", "8103", "--no-live", "--seed", "9", "--big-bot-events", "10"]) == 0
    port, cfg = seen[0]
    assert port == 8103 and cfg.live is False and cfg.seed == 9 and cfg.big_bot_events == 10


def test_server_is_a_context_manager_and_restartable() -> None:
    demo = DemoServer(DemoConfig(live=False, history_days=0.1))
    with demo:
        assert demo.base_url.startswith("http://127.0.0.1:")
        assert demo.fhir_url == demo.base_url + "fhir/R4/"
        with pytest.raises(RuntimeError):
            demo.start()
    demo.start()
    demo.stop()
    demo.stop()  # idempotent


def test_live_runs_fail_less_often_than_the_history() -> None:
    """``fail_scale`` (the live runner's ``live_fail_scale``) scales a bot's failure rate: the
    seeded history keeps plenty to triage while live failures (alerts) come now and then."""

    def failures(scale: float) -> int:
        store = DemoStore(DemoConfig(seed=42, now=FIXED_NOW, live=False))
        bot = store.bot_id("hl7-adt-ingest")
        assert bot is not None
        runs = [store.run_bot(bot, fail_scale=scale) for _ in range(400)]
        return sum(1 for run in runs if run is not None and run["outcome"] != "0")

    assert failures(0.0) == 0
    assert 0 < failures(0.3) < failures(1.0)
    assert DemoConfig().live_fail_scale == 0.3
