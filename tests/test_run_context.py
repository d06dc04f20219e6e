"""A run's context read from its AuditEvent (issue 18): the input resource, the subscription that
started it, the request and trace ids; in today's shape and older servers' shapes, on the model and
on the Event tab's compact ``FeedEvent``."""

from __future__ import annotations

from typing import Any

import pytest

from botmon_tui.medplum.models import TRACING_EXTENSION, AuditEvent, Tracing
from botmon_tui.monitor.feed import FeedEvent

BOT = "Bot/2b1c"
REQUEST_ID = "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
TRACE_ID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def tracing(*subs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"url": TRACING_EXTENSION, "extension": list(subs)}]


def entity(ref: str, code: str | None = None, display: str | None = None, **role: Any) -> dict[str, Any]:
    value: dict[str, Any] = {"what": {"reference": ref}}
    if code is not None or display is not None or role:
        value["role"] = {k: v for k, v in {"code": code, "display": display, **role}.items() if v is not None}
    return value


def run(entities: list[dict[str, Any]], **fields: Any) -> AuditEvent:
    return AuditEvent.model_validate(
        {
            "resourceType": "AuditEvent",
            "id": "ae-1",
            "meta": {"lastUpdated": "2025-03-14T09:26:54.120Z"},
            "type": {"system": "https://medplum.com/CodeSystem/audit-event", "code": "execute"},
            "agent": [
                {"who": {"reference": "ClientApplication/c1"}, "requestor": True},
                {"who": {"reference": BOT}, "requestor": False},
            ],
            "source": {"observer": {"reference": BOT, "display": "my-bot"}},
            "entity": entities,
            "outcome": "4",
            **fields,
        }
    )


def refs(event: AuditEvent | FeedEvent) -> tuple[str | None, str | None]:
    found = event.input_entity, event.subscription_entity
    return tuple(e.what.reference if e is not None and e.what else None for e in found)  # type: ignore[return-value]


MODERN = [
    entity(BOT, "4", "Domain"),
    entity("QuestionnaireResponse/qr-1", "4", "Domain"),
    entity("Subscription/sub-1", "9", "Subscriber"),
]


@pytest.mark.parametrize(
    ("entities", "expected"),
    [
        # A subscription-triggered run: bot, input, subscription.
        (MODERN, ("QuestionnaireResponse/qr-1", "Subscription/sub-1")),
        # A Patient is role 1.
        ([entity(BOT, "4"), entity("Patient/p-1", "1", "Patient")], ("Patient/p-1", None)),
        # A cron run: its input is the Bot itself (the bot appears twice).
        ([entity(BOT, "4", "Domain"), entity(BOT, "4", "Domain")], (BOT, None)),
        # Started by a Cron resource: the Cron is the input.
        ([entity(BOT, "4"), entity("Cron/c-1", "4")], ("Cron/c-1", None)),
        # Through an agent, with an HL7 message (no resource) as input: no input; not the Agent.
        ([entity(BOT, "4"), entity("Agent/a-1", "4"), entity("Device/d-1", "4")], (None, None)),
        # ... and with a resource as input, the agent after it.
        (
            [
                entity(BOT, "4"),
                entity("Device/d-9", "4"),
                entity("Subscription/s", "9"),
                entity("Agent/a", "4"),
            ],
            ("Device/d-9", "Subscription/s"),
        ),
        # Roles with a system read the same as without.
        (
            [
                entity(BOT, "4", system="http://terminology.hl7.org/CodeSystem/object-role"),
                entity("Patient/p-2", "1", system="http://terminology.hl7.org/CodeSystem/object-role"),
                entity("Subscription/s-2", "9", system="http://terminology.hl7.org/CodeSystem/object-role"),
            ],
            ("Patient/p-2", "Subscription/s-2"),
        ),
        # Older servers: roles with a display only, or no role at all.
        (
            [
                entity(BOT, display="Domain"),
                entity("Patient/p-3", display="Patient"),
                entity("Subscription/s-3"),
            ],
            ("Patient/p-3", "Subscription/s-3"),
        ),
        # No entity but the bot.
        ([entity(BOT, "4")], (None, None)),
    ],
    ids=[
        "subscription",
        "patient",
        "cron",
        "cron-resource",
        "agent",
        "agent-after-input",
        "system",
        "older",
        "none",
    ],
)
def test_the_input_and_the_subscription_of_a_run(
    entities: list[dict[str, Any]], expected: tuple[str | None, str | None]
) -> None:
    event = run(entities)
    assert refs(event) == expected
    assert refs(FeedEvent(event)) == expected  # the Event tab's compact copy says the same


def test_an_older_servers_run_reads_the_same() -> None:
    """``type`` without a system, an agent typed "bot" without ``who``, roles without a system."""
    older = AuditEvent.model_validate(
        {
            "resourceType": "AuditEvent",
            "id": "ae-old",
            "meta": {"lastUpdated": "2025-03-14T09:26:54.120Z"},
            "type": {"code": "execute"},
            "agent": [{"type": {"text": "bot"}, "requestor": False}],
            "source": {"observer": {"reference": BOT}},
            "entity": MODERN,
            "outcome": "8",
            "extension": tracing({"url": "requestId", "valueId": REQUEST_ID}),
        }
    )
    assert older.bot_id == "2b1c"
    assert refs(older) == ("QuestionnaireResponse/qr-1", "Subscription/sub-1")
    assert older.tracing == Tracing(REQUEST_ID, None)


@pytest.mark.parametrize(
    ("extension", "expected"),
    [
        (
            tracing({"url": "requestId", "valueId": REQUEST_ID}, {"url": "traceId", "valueId": TRACE_ID}),
            Tracing(REQUEST_ID, TRACE_ID),
        ),
        # Nested one level (as some server versions append the list itself), other value[x] types.
        ([tracing({"url": "traceId", "valueString": TRACE_ID})], Tracing(None, TRACE_ID)),
        # Other extensions first, broken entries ignored.
        (
            [
                {"url": "https://medplum.com/fhir/StructureDefinition/durationMs", "valueInteger": 5},
                "junk",
                {"url": TRACING_EXTENSION, "extension": "not a list"},
                *tracing({"url": "requestId", "valueId": 7}, {"url": "requestId", "valueId": REQUEST_ID}),
            ],
            Tracing(REQUEST_ID, None),
        ),
        (None, Tracing(None, None)),
        ({"url": TRACING_EXTENSION}, Tracing(None, None)),
    ],
    ids=["both", "nested-string", "mixed", "none", "not-a-list"],
)
def test_the_tracing_extension(extension: Any, expected: Tracing) -> None:
    event = run(MODERN, extension=extension)
    assert event.tracing == expected
    assert FeedEvent(event).tracing == expected


def test_hostile_ids_are_bounded_and_kept_only_as_text() -> None:
    event = run(
        MODERN, extension=tracing({"url": "requestId", "valueId": "\x1b]52;c;x\x07" + "a" * 1_000_000})
    )
    request_id = event.tracing.request_id
    assert request_id is not None and len(request_id) == 256  # (sanitized where it is shown)


def test_the_feed_event_holds_the_context_compactly() -> None:
    plain = FeedEvent(run(MODERN))
    assert plain.trace is None  # no tuple for a run without tracing
    traced = FeedEvent(run(MODERN, extension=tracing({"url": "requestId", "valueId": REQUEST_ID})))
    assert traced.trace == (REQUEST_ID, None)
    assert not hasattr(traced, "__dict__")
    # The summary line's number is kept with it: the pane opens on that line.
    logged = FeedEvent(run(MODERN, outcomeDesc="start\nworking\nError: boom\ndone"))
    assert (logged.headline, logged.headline_line) == ("Error: boom", 2)
