"""The tolerant FHIR models, the outcome table, instants, rate limits and the sanitizer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from botmon_tui.medplum.models import (
    FAILURE_CODES,
    OUTCOMES,
    AuditEvent,
    Bot,
    OperationOutcome,
    format_instant,
    outcome_info,
    parse_instant,
    parse_search_page,
)
from botmon_tui.medplum.ratelimit import ms_before_next, parse_ratelimit
from botmon_tui.textsafe import first_line, is_safe, sanitize

BOT_ID = "8f2b6a1e-0c4d-4b7a-9d51-3a2f0e6c7b11"


def modern_event(**overrides: Any) -> dict[str, Any]:
    """An AuditEvent as today's Medplum writes it after a bot run (docs/architecture.md, "The demo
    backend mirrors Medplum")."""
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": "ae-1",
        "meta": {"project": "p1", "versionId": "v1", "lastUpdated": "2025-03-14T09:26:54.120Z"},
        "type": {"system": "https://medplum.com/CodeSystem/audit-event", "code": "execute"},
        "period": {"start": "2025-03-14T09:26:53.512Z", "end": "2025-03-14T09:26:54.098Z"},
        "recorded": "2025-03-14T09:26:54.098Z",
        "agent": [
            {"who": {"reference": "ClientApplication/c1"}, "requestor": True},
            {"who": {"reference": f"Bot/{BOT_ID}", "display": "my-bot"}, "requestor": False},
        ],
        "source": {"observer": {"reference": f"Bot/{BOT_ID}", "display": "my-bot"}},
        "entity": [
            {"what": {"reference": f"Bot/{BOT_ID}", "display": "my-bot"}, "role": {"code": "4"}},
            {"what": {"reference": "Patient/pat-1"}, "role": {"code": "1", "display": "Patient"}},
        ],
        "outcome": "4",
        "outcomeDesc": "line 1 of console output\nline 2",
    }
    event.update(overrides)
    return event


def bundle(entries: Any, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", **extra}
    if entries is not ...:
        data["entry"] = entries
    return data


# ------------------------------------------------------------------------------------------------
# AuditEvent and Bot: tolerant parsing
# ------------------------------------------------------------------------------------------------


def test_modern_event_parses_every_field_that_matters() -> None:
    event = AuditEvent.model_validate(modern_event())
    assert event.id == "ae-1"
    assert event.bot_id == BOT_ID
    assert event.outcome == "4"
    assert event.outcome_info.display == "Minor failure"
    assert event.when == datetime(2025, 3, 14, 9, 26, 54, 120000, tzinfo=UTC)
    assert event.duration == timedelta(milliseconds=586)
    assert [e.what.reference for e in event.other_entities if e.what] == ["Patient/pat-1"]


def test_unknown_fields_are_kept() -> None:
    raw = modern_event(futureField={"x": 1}, extension=[{"url": "u", "valueString": "v"}])
    raw["meta"]["tag"] = [{"code": "t"}]
    event = AuditEvent.model_validate(raw)
    assert event.model_extra is not None and event.model_extra["futureField"] == {"x": 1}
    dumped = event.model_dump(exclude_none=True)
    assert dumped["extension"] == [{"url": "u", "valueString": "v"}]
    assert dumped["meta"]["tag"] == [{"code": "t"}]


def test_missing_optional_fields_are_fine() -> None:
    event = AuditEvent.model_validate({"resourceType": "AuditEvent", "id": "bare"})
    assert event.bot_id is None
    assert event.when is None
    assert event.duration is None
    assert event.outcome_info.display == "(none)"
    assert event.other_entities == []
    bot = Bot.model_validate({"resourceType": "Bot", "id": "b1"})
    assert bot.display_name == "b1"
    assert bot.schedule is None
    assert bot.writes_audit_events


def test_unknown_outcome_code_is_kept_as_itself() -> None:
    event = AuditEvent.model_validate(modern_event(outcome="7"))
    assert event.outcome == "7"
    info = event.outcome_info
    assert (info.code, info.display, info.symbol, info.level) == ("7", "7", "?", "unknown")
    assert info.is_failure
    weird = AuditEvent.model_validate(modern_event(outcome="not-a-code"))
    assert weird.outcome_info.display == "not-a-code"
    assert weird.outcome_info.severity == 99


def test_numeric_outcome_from_a_non_conformant_server_becomes_text() -> None:
    assert AuditEvent.model_validate(modern_event(outcome=8)).outcome == "8"
    assert AuditEvent.model_validate(modern_event(outcome=12.0)).outcome == "12"


def test_old_style_event_without_type_system_or_agent_who() -> None:
    raw = modern_event(
        type={"code": "execute"},
        agent=[{"type": {"text": "bot"}, "requestor": False}],
    )
    del raw["meta"]
    event = AuditEvent.model_validate(raw)
    assert event.type is not None and event.type.system is None and event.type.code == "execute"
    assert event.agent is not None and event.agent[0].who is None
    assert event.bot_id == BOT_ID  # from entity
    assert event.when_raw == "2025-03-14T09:26:54.098Z"  # recorded, as meta is missing


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, BOT_ID),
        ({"entity": None}, BOT_ID),  # source.observer
        ({"entity": None, "source": None}, BOT_ID),  # agent[].who
        ({"entity": [{"what": {"reference": "Bot/abc/_history/2"}}]}, "abc"),
        ({"entity": [{"what": {"reference": "Patient/p"}}], "source": None, "agent": None}, None),
        ({"entity": [{"what": {"reference": "Bot/"}}], "source": None, "agent": None}, None),
    ],
)
def test_bot_id_extraction(changes: dict[str, Any], expected: str | None) -> None:
    assert AuditEvent.model_validate(modern_event(**changes)).bot_id == expected


def test_bot_audit_settings() -> None:
    def bot(**fields: Any) -> Bot:
        return Bot.model_validate({"resourceType": "Bot", "id": "b", **fields})

    assert bot().audit_destination == ("resource",)
    assert bot(auditEventDestination=[]).writes_audit_events
    assert not bot(auditEventDestination=["log"]).writes_audit_events
    assert bot(auditEventDestination=["log", "resource"]).writes_audit_events
    assert not bot(auditEventTrigger="never").writes_audit_events
    assert bot(auditEventTrigger="on-error").writes_audit_events
    assert bot(cronString="*/5 * * * *").schedule == "*/5 * * * *"
    assert bot(cronTiming={"repeat": {"period": 1, "periodUnit": "h"}}).schedule == "every 1 h"
    assert bot(cronTiming={"event": ["x"]}).schedule == "cronTiming"


def test_empty_id_is_rejected() -> None:
    with pytest.raises(ValueError):
        Bot.model_validate({"resourceType": "Bot", "id": ""})


# ------------------------------------------------------------------------------------------------
# Bundles
# ------------------------------------------------------------------------------------------------


def test_bundle_with_one_broken_entry_keeps_the_good_ones() -> None:
    good1, good2 = modern_event(id="a"), modern_event(id="b", outcome="0")
    data = bundle(
        [
            {"resource": good1},
            {"resource": {"resourceType": "AuditEvent"}},  # no id
            "not an entry",
            {"fullUrl": "x"},  # no resource
            {"resource": {"resourceType": "AuditEvent", "id": "c", "period": "not an object"}},
            {"resource": good2},
            {"resource": {"resourceType": "Patient", "id": "p"}},  # another type
            {"resource": {"resourceType": "OperationOutcome", "issue": []}, "search": {"mode": "outcome"}},
        ],
        total=8,
        link=[
            {"relation": "self", "url": "https://x/fhir/R4/AuditEvent?_count=20"},
            {"relation": "next", "url": "https://x/fhir/R4/AuditEvent?_count=20&_offset=20"},
        ],
    )
    page = parse_search_page(data, AuditEvent)
    assert [e.id for e in page.resources] == ["a", "b"]
    assert page.raw == [good1, good2]  # exactly as sent, for --json
    assert page.invalid == 5  # the OperationOutcome is a warning, not a broken row
    assert page.total == 8
    assert page.next_url == "https://x/fhir/R4/AuditEvent?_count=20&_offset=20"


def test_bundle_without_entry_is_an_empty_page() -> None:
    page = parse_search_page(bundle(..., link=[{"relation": "self", "url": "u"}]), Bot)
    assert page.resources == [] and page.invalid == 0 and page.next_url is None and page.total is None


@pytest.mark.parametrize(
    "data",
    [
        bundle({"resource": {}}),
        bundle("nope"),
        {"resourceType": "OperationOutcome", "issue": []},
        ["not", "a", "bundle"],
        None,
    ],
)
def test_not_a_searchset_bundle_is_an_error(data: Any) -> None:
    with pytest.raises(ValueError):
        parse_search_page(data, AuditEvent)


# ------------------------------------------------------------------------------------------------
# The outcome table
# ------------------------------------------------------------------------------------------------


def test_outcome_table() -> None:
    assert list(OUTCOMES) == ["0", "4", "8", "12"]
    assert [OUTCOMES[c].display for c in OUTCOMES] == [
        "Success",
        "Minor failure",
        "Serious Failure",
        "Major failure",
    ]
    assert FAILURE_CODES == ("4", "8", "12")
    assert not outcome_info("0").is_failure
    assert all(outcome_info(c).is_failure for c in FAILURE_CODES)
    severities = [outcome_info(c).severity for c in ("0", "4", "8", "12")]
    assert severities == sorted(severities)
    assert len({outcome_info(c).symbol for c in OUTCOMES}) == 4  # readable without colour
    assert outcome_info(None).code == "" and outcome_info("").display == "(none)"


# ------------------------------------------------------------------------------------------------
# Instants
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-14T09:26:54.120Z", datetime(2025, 3, 14, 9, 26, 54, 120000, tzinfo=UTC)),
        ("2025-03-14T10:26:54+01:00", datetime(2025, 3, 14, 9, 26, 54, tzinfo=UTC)),
        ("2025-03-14T09:26:54", datetime(2025, 3, 14, 9, 26, 54, tzinfo=UTC)),  # naive: UTC
        ("2025-03-14", datetime(2025, 3, 14, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_instant(text: str | None, expected: datetime | None) -> None:
    assert parse_instant(text) == expected


def test_format_instant_is_utc_with_milliseconds() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert (
        format_instant(datetime(2025, 3, 14, 11, 26, 54, 120999, tzinfo=plus_two))
        == "2025-03-14T09:26:54.120Z"
    )
    when = datetime(2025, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)
    assert parse_instant(format_instant(when)) == when


# ------------------------------------------------------------------------------------------------
# OperationOutcome
# ------------------------------------------------------------------------------------------------


def test_operation_outcome_message() -> None:
    def message(*issues: dict[str, Any]) -> str:
        return OperationOutcome.model_validate(
            {"resourceType": "OperationOutcome", "issue": list(issues)}
        ).message()

    assert message({"code": "invalid", "details": {"text": "Unknown search parameter: foo"}}) == (
        "Unknown search parameter: foo"
    )
    assert message({"code": "exception", "diagnostics": "stack..."}) == "stack..."
    assert message({"code": "login"}) == "login"
    assert (
        message(
            {"severity": "error", "code": "login", "details": {"text": "Unauthorized"}},
            {"severity": "error", "code": "login", "details": {"text": "Token expired"}},
            {"severity": "error", "code": "login", "details": {"text": "Token expired"}},
        )
        == "Unauthorized; Token expired"
    )
    assert message() == ""


# ------------------------------------------------------------------------------------------------
# Rate limits
# ------------------------------------------------------------------------------------------------


def test_ratelimit_header() -> None:
    info = parse_ratelimit('"requests";r=59;t=12, "fhirInteractions";r=49980;t=12')
    assert info is not None
    assert info.policies == {"requests": (59, 12.0), "fhirInteractions": (49980, 12.0)}
    assert info.wait_seconds == 0.0
    spent = parse_ratelimit('"requests";r=10;t=5, "fhirInteractions";r=0;t=42')
    assert spent is not None and spent.wait_seconds == 42.0
    assert parse_ratelimit(None) is None
    assert parse_ratelimit("") is None
    assert parse_ratelimit("garbage") is None


def test_ms_before_next_from_a_429_body() -> None:
    body: dict[str, Any] = {
        "resourceType": "OperationOutcome",
        "id": "too-many-requests",
        "issue": [
            {
                "severity": "error",
                "code": "throttled",
                "details": {"text": "Too Many Requests"},
                # Medplum's exact form: rate-limiter-flexible's RateLimiterRes, JSON-serialized.
                "diagnostics": '{"_remainingPoints":0,"_msBeforeNext":1500,"_consumedPoints":50020,'
                '"_isFirstInDuration":false,"limit":50000}',
            }
        ],
    }
    assert ms_before_next(body) == 1.5
    body["issue"][0]["diagnostics"] = '{"remainingPoints":0,"msBeforeNext":250}'
    assert ms_before_next(body) == 0.25
    assert (
        ms_before_next({"resourceType": "OperationOutcome", "issue": [{"diagnostics": "not json"}]}) is None
    )
    assert ms_before_next({"issue": [{"diagnostics": '{"msBeforeNext": -3}'}]}) is None
    assert ms_before_next("nope") is None
    assert ms_before_next({}) is None


# ------------------------------------------------------------------------------------------------
# The sanitizer
# ------------------------------------------------------------------------------------------------


def test_sanitize_basics() -> None:
    assert sanitize(None) == ""
    assert sanitize(42) == "42"
    assert sanitize("plain\ttext\nline") == "plain\ttext\nline"
    assert sanitize("\x1b]52;c;ZXZpbA==\x07") == "␛]52;c;ZXZpbA==␇"  # OSC 52 clipboard write
    assert sanitize("a\x9b31mb") == "a\ufffd31mb"  # 8-bit CSI
    assert sanitize("over\rwrite") == "over\nwrite"
    assert sanitize("win\r\nline") == "win\nline"
    assert sanitize("x\x7fy") == "x\u2421y"
    assert sanitize("abc\u202edef") == "abc\ufffddef"  # bidi override
    assert sanitize("[@click=app.quit]x[/]") == "[@click=app.quit]x[/]"  # markup is Text's job
    assert is_safe(sanitize("\x00\x1b\x9f"))
    assert not is_safe("\x1b[31m")


def test_is_safe_agrees_with_sanitize_on_every_character() -> None:
    """The fast check and the replacement table are one fact: no character passes one and not the other."""
    for code in [*range(0x3_0000), *range(0xE_0000, 0xE_1000)]:
        char = chr(code)
        assert is_safe(char) == (sanitize(char) == char), hex(code)


def test_first_line() -> None:
    assert first_line("\n\n  \x1b[31merror\x1b[0m: boom\nmore") == "error: boom"
    assert first_line("\x1b]0;title\x07x") == "␛]0;title␇x"
    assert first_line("a" * 300, limit=10) == "a" * 10 + "…"
    assert first_line(None) == ""
    assert first_line("") == ""
