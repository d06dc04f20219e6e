"""The demo server over real HTTP on 127.0.0.1: auth, search, paging, rate limits and every fault kind."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from demo_support import FIXED_NOW, demo_fixture

from botmon_tui.demo import DemoConfig, DemoServer
from botmon_tui.demo.catalog import BOT_SPECS
from botmon_tui.demo.fhirtime import to_ms
from botmon_tui.medplum.models import format_instant, parse_instant

AUDIT_SYSTEM = "https://medplum.com/CodeSystem/audit-event"


demo = demo_fixture(seed=42)


@pytest.fixture(scope="module")
def http(demo: DemoServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=demo.fhir_url, auth=(demo.client_id, demo.client_secret), timeout=10
    ) as client:
        yield client


#: A small server of one's own (for faults, limits and writes).
fresh_demo = demo_fixture(scope="function", seed=1, history_days=0.5)


def client_for(server: DemoServer, **kw: Any) -> httpx.Client:
    return httpx.Client(base_url=server.fhir_url, auth=(server.client_id, server.client_secret), **kw)


def bot_id(server: DemoServer, name: str) -> str:
    found = server.store.bot_id(name)
    assert found is not None
    return found


def get(http: httpx.Client, path: str, **params: str) -> dict[str, Any]:
    response = http.get(path, params=params)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def link(bundle: dict[str, Any], relation: str) -> str | None:
    for item in bundle["link"]:
        if item["relation"] == relation:
            url: str = item["url"]
            return url
    return None


def issue_texts(response: httpx.Response) -> list[str]:
    return [i["details"]["text"] for i in response.json()["issue"]]


# --------------------------------------------------------------------------------------------------
# Token endpoint
# --------------------------------------------------------------------------------------------------


def token_post(server: DemoServer, **kw: Any) -> httpx.Response:
    return httpx.post(server.token_url, **kw)


def test_client_credentials_token(demo: DemoServer) -> None:
    data = {
        "grant_type": "client_credentials",
        "client_id": demo.client_id,
        "client_secret": demo.client_secret,
    }
    response = token_post(demo, data=data)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["scope"] == "openid"
    assert body["access_token"].count(".") == 2  # JWT-shaped
    assert response.headers["ratelimit"].startswith('"requests";r=')
    bots = httpx.get(demo.fhir_url + "Bot", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert bots.status_code == 200
    basic = token_post(
        demo, data={"grant_type": "client_credentials"}, auth=(demo.client_id, demo.client_secret)
    )
    assert basic.status_code == 200 and basic.json()["access_token"]


@pytest.mark.parametrize(
    ("kw", "description"),
    [
        ({"data": {"client_id": "x"}}, "Missing grant_type"),
        ({"data": {"grant_type": "password"}}, "Unsupported grant_type"),
        ({"data": {"grant_type": "client_credentials", "client_secret": "s"}}, "Missing client_id"),
        ({"data": {"grant_type": "client_credentials", "client_id": "c"}}, "Missing client_secret"),
        (
            {"data": {"grant_type": "client_credentials", "client_id": "c", "client_secret": "s"}},
            "Invalid client",
        ),
        (
            {"data": {"grant_type": "client_credentials"}, "headers": {"Authorization": "Bearer abc"}},
            "Invalid authorization header",
        ),
    ],
)
def test_token_errors_are_oauth_json(demo: DemoServer, kw: dict[str, Any], description: str) -> None:
    response = token_post(demo, **kw)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request", "error_description": description}


def test_wrong_secret_and_wrong_content_type(demo: DemoServer) -> None:
    data = {"grant_type": "client_credentials", "client_id": demo.client_id, "client_secret": "nope"}
    assert token_post(demo, data=data).json() == {
        "error": "invalid_request",
        "error_description": "Invalid secret",
    }
    as_json = token_post(demo, json=data)
    assert as_json.status_code == 400 and as_json.text == "Unsupported content type"


# --------------------------------------------------------------------------------------------------
# FHIR authentication
# --------------------------------------------------------------------------------------------------


def test_fhir_requires_credentials(demo: DemoServer) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic Zm9vOmJhcg=="}):
        response = httpx.get(demo.fhir_url + "Bot", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/fhir+json")
        assert response.json() == {
            "resourceType": "OperationOutcome",
            "id": "unauthorized",
            "issue": [{"severity": "error", "code": "login", "details": {"text": "Unauthorized"}}],
        }
    assert httpx.get(demo.fhir_url + "Bot", auth=(demo.client_id, demo.client_secret)).status_code == 200


def test_expired_token(fresh_demo: DemoServer) -> None:
    token = fresh_demo.issue_token()
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(fresh_demo.fhir_url + "Bot", headers=headers).status_code == 200
    fresh_demo.faults.add(kind="expire_tokens")
    response = httpx.get(fresh_demo.fhir_url + "Bot", headers=headers)
    assert response.status_code == 401
    assert response.json()["issue"] == [
        {"severity": "error", "code": "login", "details": {"text": "Unauthorized"}},
        {"severity": "error", "code": "expired", "details": {"text": "Token expired"}},
    ]
    short = fresh_demo.issue_token(ttl=0)  # its lifetime is over as soon as it is issued: no waiting
    assert issue_texts(
        httpx.get(fresh_demo.fhir_url + "Bot", headers={"Authorization": f"Bearer {short}"})
    ) == [
        "Unauthorized",
        "Token expired",
    ]


# --------------------------------------------------------------------------------------------------
# Bots
# --------------------------------------------------------------------------------------------------


def test_bot_read_and_not_found(demo: DemoServer, http: httpx.Client) -> None:
    hl7 = bot_id(demo, "hl7-adt-ingest")
    response = http.get(f"Bot/{hl7}")
    assert response.status_code == 200 and response.json()["name"] == "hl7-adt-ingest"
    assert response.headers["etag"].startswith('W/"')
    missing = http.get("Bot/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    assert missing.json() == {
        "resourceType": "OperationOutcome",
        "id": "not-found",
        "issue": [{"severity": "error", "code": "not-found", "details": {"text": "Not found"}}],
    }


def test_bot_search_paging_and_filters(demo: DemoServer, http: httpx.Client) -> None:
    page = get(http, "Bot", _count="4", _sort="name", _total="accurate")
    assert (
        page["resourceType"] == "Bundle" and page["type"] == "searchset" and page["total"] == len(BOT_SPECS)
    )
    names = [e["resource"]["name"] for e in page["entry"]]
    assert names == sorted(names) and len(names) == 4
    assert page["entry"][0]["search"] == {"mode": "match"}
    assert page["entry"][0]["fullUrl"] == f"{demo.fhir_url}Bot/{page['entry'][0]['resource']['id']}"
    seen = list(names)
    url = link(page, "next")
    while url:
        nxt = http.get(url).json()
        assert link(nxt, "previous")
        seen += [e["resource"]["name"] for e in nxt["entry"]]
        url = link(nxt, "next")
    assert seen == sorted(b["name"] for b in demo.store.bots)
    assert [e["resource"]["name"] for e in get(http, "Bot", name="HL7")["entry"]] == ["hl7-adt-ingest"]
    contains = get(http, "Bot", **{"name:contains": "report", "_sort": "name"})
    assert [e["resource"]["name"] for e in contains["entry"]] == ["weekly-quality-report"]
    hl7 = bot_id(demo, "hl7-adt-ingest")
    assert ids(get(http, "Bot", _id=hl7)) == [hl7]
    assert ids(get(http, "Bot", _id="not-a-uuid")) == []
    assert "entry" not in get(http, "Bot", name="zzz")


# --------------------------------------------------------------------------------------------------
# Bot versions (deploys)
# --------------------------------------------------------------------------------------------------

ALL_OK = {
    "resourceType": "OperationOutcome",
    "id": "allok",
    "issue": [{"severity": "information", "code": "informational", "details": {"text": "All OK"}}],
}


def quota_left(response: httpx.Response) -> int:
    return int(response.headers["ratelimit"].split('"fhirInteractions";r=')[1].split(";")[0])


def test_bot_history_is_medplums_history_bundle(demo: DemoServer, http: httpx.Client) -> None:
    hl7 = bot_id(demo, "hl7-adt-ingest")
    before = quota_left(http.get(f"Bot/{hl7}"))
    response = http.get(f"Bot/{hl7}/_history")
    assert response.status_code == 200
    assert before - quota_left(response) == 10  # a history read costs ten reads
    bundle = response.json()
    assert list(bundle) == ["resourceType", "type", "entry", "total"]  # no link: as Medplum's
    assert bundle["type"] == "history" and bundle["total"] == len(bundle["entry"]) >= 3
    versions = [e["resource"]["meta"] for e in bundle["entry"]]
    times = [v["lastUpdated"] for v in versions]
    assert times == sorted(times, reverse=True)
    assert len({v["versionId"] for v in versions}) == len(versions)
    newest = bundle["entry"][0]
    assert newest["resource"] == http.get(f"Bot/{hl7}").json()  # the current version on top
    assert newest["fullUrl"] == f"{demo.fhir_url}Bot/{hl7}"
    assert newest["request"] == {"method": "GET", "url": f"Bot/{hl7}/_history/{versions[0]['versionId']}"}
    assert newest["response"] == {"status": "200", "outcome": ALL_OK}
    # A deploy is two versions seconds apart: the new sourceCode, then the new executableCode.
    saved, deployed = bundle["entry"][1]["resource"], newest["resource"]
    assert saved["sourceCode"] == deployed["sourceCode"] != bundle["entry"][2]["resource"]["sourceCode"]
    assert saved["executableCode"] != deployed["executableCode"]
    newer, older = parse_instant(times[0]), parse_instant(times[1])
    assert newer is not None and older is not None
    gap = newer - older
    assert timedelta(0) < gap < timedelta(seconds=5)
    # The version read (vread) is a plain read.
    old = http.get(f"Bot/{hl7}/_history/{versions[1]['versionId']}")
    assert (
        old.status_code == 200
        and old.json() == saved
        and old.headers["etag"] == f'W/"{versions[1]["versionId"]}"'
    )
    assert http.get(f"Bot/{hl7}/_history/00000000-0000-4000-8000-000000000000").status_code == 404


def test_bot_history_pages_and_limits(demo: DemoServer, http: httpx.Client) -> None:
    hl7 = bot_id(demo, "hl7-adt-ingest")
    every = get(http, f"Bot/{hl7}/_history")["entry"]
    page = get(http, f"Bot/{hl7}/_history", _count="1", _offset="1")
    assert page["total"] == len(every) and page["entry"] == every[1:2]
    assert get(http, f"Bot/{hl7}/_history", _count="0")["entry"] == []
    assert get(http, f"Bot/{hl7}/_history", _offset=str(len(every)))["entry"] == []
    too_far = http.get(f"Bot/{hl7}/_history", params={"_offset": "10001"})
    assert too_far.status_code == 400
    assert issue_texts(too_far) == ["Search offset exceeds maximum (got 10001, max 10000)"]
    missing = http.get("Bot/00000000-0000-4000-8000-000000000000/_history")
    assert missing.status_code == 404 and missing.json()["id"] == "not-found"


def test_a_deploy_makes_two_new_versions(fresh_demo: DemoServer) -> None:
    bot = fresh_demo.store.add_bot({"name": "deployed", "runtimeVersion": "awslambda"})
    created = parse_instant(bot["meta"]["lastUpdated"])
    assert created is not None
    at = created + timedelta(minutes=1)
    saved, deployed = fresh_demo.store.deploy_bot(bot["id"], at=at, gap_ms=2500)
    assert saved["meta"]["lastUpdated"] == format_instant(at)
    assert deployed["meta"]["lastUpdated"] == format_instant(at + timedelta(seconds=2.5))
    assert fresh_demo.store.bot(bot["id"]) == deployed
    with pytest.raises(ValueError):
        fresh_demo.store.deploy_bot(bot["id"], at=at)  # not before the newest version
    with pytest.raises(KeyError):
        fresh_demo.store.deploy_bot("unknown")
    updated = fresh_demo.store.update_bot(bot["id"], description="new")
    with client_for(fresh_demo) as http:
        history = get(http, f"Bot/{bot['id']}/_history")
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == [
        updated["meta"]["versionId"],
        deployed["meta"]["versionId"],
        saved["meta"]["versionId"],
        bot["meta"]["versionId"],
    ]


def test_a_deleted_bot_is_gone_and_keeps_its_history(fresh_demo: DemoServer) -> None:
    bot = fresh_demo.store.add_bot({"name": "short-lived"})
    with client_for(fresh_demo) as http:
        fresh_demo.store.delete_bot(bot["id"], expunge=False)
        read = http.get(f"Bot/{bot['id']}")
        assert read.status_code == 410
        assert read.json() == {
            "resourceType": "OperationOutcome",
            "id": "gone",
            "issue": [{"severity": "error", "code": "deleted", "details": {"text": "Gone"}}],
        }
        history = get(http, f"Bot/{bot['id']}/_history")
        deleted, created = history["entry"]
        assert "resource" not in deleted and deleted["response"]["status"] == "410"
        outcome = deleted["response"]["outcome"]
        assert outcome["id"] == "gone" and outcome["issue"][0]["code"] == "deleted"
        assert re.fullmatch(
            r"Deleted on \w{3} \w{3} \d{2} \d{4} \d{2}:\d{2}:\d{2} GMT\+0000 \(Coordinated Universal Time\)",
            outcome["issue"][0]["details"]["text"],
        )
        assert created["resource"]["meta"]["versionId"] == bot["meta"]["versionId"]
        fresh_demo.store.add_bot(bot)  # restored
        assert http.get(f"Bot/{bot['id']}").status_code == 200
        assert get(http, f"Bot/{bot['id']}/_history")["total"] == 3
        fresh_demo.store.delete_bot(bot["id"])  # expunged: no trace
        assert http.get(f"Bot/{bot['id']}").status_code == 404
        assert http.get(f"Bot/{bot['id']}/_history").status_code == 404


def test_versions_kept_are_bounded() -> None:
    from botmon_tui.demo.versions import MAX_VERSIONS

    store = DemoServer(DemoConfig(seed=1, now=FIXED_NOW, live=False, history_days=0.1)).store
    bot = store.add_bot({"name": "busy"})
    for i in range(MAX_VERSIONS + 5):
        store.update_bot(bot["id"], description=f"edit {i}")
    history = store.bot_history(bot["id"]) or []
    assert len(history) == MAX_VERSIONS and history[0].resource is not None
    assert history[0].resource["description"] == f"edit {MAX_VERSIONS + 4}"


# --------------------------------------------------------------------------------------------------
# The resources runs reference
# --------------------------------------------------------------------------------------------------


def entity_refs(event: dict[str, Any]) -> list[str]:
    return [e["what"]["reference"] for e in event["entity"]]


def test_a_runs_input_and_subscription_can_be_read(demo: DemoServer, http: httpx.Client) -> None:
    hl7 = bot_id(demo, "hl7-adt-ingest")
    event = demo.store.events_for(hl7)[0]
    patient_ref = next(r for r in entity_refs(event) if r.startswith("Patient/"))
    patient = http.get(patient_ref)
    assert (
        patient.status_code == 200 and patient.headers["etag"] == f'W/"{patient.json()["meta"]["versionId"]}"'
    )
    body = patient.json()
    assert f"{body['resourceType']}/{body['id']}" == patient_ref
    assert (
        body["name"][0]["family"]
        and body["birthDate"]
        and body["meta"]["lastUpdated"] <= event["period"]["start"]
    )
    assert http.get(patient_ref).json() == body  # the same body every time
    sub_ref = next(r for r in entity_refs(event) if r.startswith("Subscription/"))
    sub = http.get(sub_ref).json()
    assert sub["status"] == "active" and sub["criteria"]
    assert sub["channel"] == {
        "type": "rest-hook",
        "endpoint": f"Bot/{hl7}",
        "payload": "application/fhir+json",
    }
    history = get(http, f"{patient_ref}/_history")
    assert history["total"] == 1 and history["entry"][0]["resource"] == body


def test_reads_the_demo_client_may_not_make_or_that_find_nothing(
    demo: DemoServer, http: httpx.Client
) -> None:
    eligibility = bot_id(demo, "eligibility-check")
    coverage = next(
        r for e in demo.store.events_for(eligibility) for r in entity_refs(e) if r.startswith("Coverage/")
    )
    assert demo.store.resource_state(coverage) == "forbidden"
    for path in (coverage, "Coverage/00000000-0000-4000-8000-000000000000", "Claim?patient=x", "Coverage"):
        response = http.get(path)
        assert response.status_code == 403, path
        assert response.json() == {
            "resourceType": "OperationOutcome",
            "id": "forbidden",
            "issue": [{"severity": "error", "code": "forbidden", "details": {"text": "Forbidden"}}],
        }
    me = httpx.get(demo.base_url + "auth/me", auth=(demo.client_id, demo.client_secret)).json()
    assert me["membership"]["accessPolicy"]["display"] == "botmon read-only"  # why: no billing types
    assert http.get("Patient/00000000-0000-4000-8000-000000000000").status_code == 404
    assert http.get("Observation/not-an-id").json()["id"] == "not-found"
    assert http.get("Patient").status_code == 200  # searches of the other types find nothing


def test_deleted_and_expunged_inputs(fresh_demo: DemoServer) -> None:
    """A deleted resource is 410 ``Gone`` (its history keeps the deletion); an expunged one is 404."""
    bot = fresh_demo.store.add_bot({"name": "reader"})
    deleted = fresh_demo.store.add_event(
        bot["id"], input="DiagnosticReport/aaaa0000-0000-4000-8000-000000000001"
    )
    expunged = fresh_demo.store.add_event(
        bot["id"], input="QuestionnaireResponse/aaaa0000-0000-4000-8000-000000000002"
    )
    refs = [entity_refs(deleted)[1], entity_refs(expunged)[1]]
    with client_for(fresh_demo) as http:
        assert [http.get(r).status_code for r in refs] == [200, 200]
        fresh_demo.store.resources.delete(refs[0], to_ms(FIXED_NOW))
        fresh_demo.store.resources.delete(refs[1], to_ms(FIXED_NOW), expunge=True)
        assert [fresh_demo.store.resource_state(r) for r in refs] == ["deleted", "expunged"]
        gone = http.get(refs[0])
        assert gone.status_code == 410 and gone.json()["id"] == "gone"
        history = get(http, f"{refs[0]}/_history")
        assert [e["response"]["status"] for e in history["entry"]] == ["410", "200"]
        assert http.get(refs[1]).status_code == 404 and http.get(f"{refs[1]}/_history").status_code == 404


def test_the_generated_history_has_deleted_and_expunged_inputs(demo: DemoServer) -> None:
    states: dict[str, int] = {}
    for bot in demo.store.bots:
        for event in demo.store.events_for(bot["id"]):
            for ref in entity_refs(event)[1:]:
                state = demo.store.resource_state(ref)
                states[state] = states.get(state, 0) + 1
    assert states.get("deleted", 0) > 0 and states.get("expunged", 0) > 0
    assert states["ok"] > 20 * (states["deleted"] + states["expunged"])


# --------------------------------------------------------------------------------------------------
# AuditEvent search
# --------------------------------------------------------------------------------------------------


def test_web_app_event_tab_query(demo: DemoServer, http: httpx.Client) -> None:
    hl7 = bot_id(demo, "hl7-adt-ingest")
    expected = demo.store.events_for(hl7)
    page = get(http, "AuditEvent", _count="20", _sort="-_lastUpdated", _total="accurate", entity=f"Bot/{hl7}")
    assert page["total"] == len(expected)
    assert ids(page) == [e["id"] for e in expected[:20]]
    assert link(page, "self") == (
        f"{demo.fhir_url}AuditEvent?_count=20&_sort=-_lastUpdated&_total=accurate&entity=Bot%2F{hl7}"
    )
    assert "_offset=20" in (link(page, "next") or "")
    assert link(page, "previous") is None
    second = http.get(link(page, "next") or "").json()
    assert ids(second) == [e["id"] for e in expected[20:40]]
    assert "_offset=0" not in (link(second, "previous") or "") and link(second, "previous")


def test_reference_filters(demo: DemoServer, http: httpx.Client) -> None:
    hl7 = bot_id(demo, "hl7-adt-ingest")
    assert ids(get(http, "AuditEvent", entity=hl7)) == []  # a bare id matches nothing
    by_source = get(http, "AuditEvent", source=f"Bot/{hl7}", _sort="-_lastUpdated", _count="5")
    assert ids(by_source) == [e["id"] for e in demo.store.events_for(hl7)[:5]]
    lab = bot_id(demo, "lab-results-router")
    both = get(http, "AuditEvent", entity=f"Bot/{hl7},Bot/{lab}", _total="accurate", _count="0")
    assert both["total"] == len(demo.store.events_for(hl7)) + len(demo.store.events_for(lab))
    patient = demo.store.events_for(hl7)[0]["entity"][1]["what"]["reference"]
    by_patient = get(http, "AuditEvent", patient=patient.split("/")[1], _count="1000")
    assert by_patient["entry"] and all(
        patient in [x["what"]["reference"] for x in e["resource"]["entity"]] for e in by_patient["entry"]
    )


def test_outcome_and_type_tokens(demo: DemoServer, http: httpx.Client) -> None:
    legacy = bot_id(demo, "legacy-hl7-bridge")
    entity = f"Bot/{legacy}"
    events = demo.store.events_for(legacy)
    serious = get(http, "AuditEvent", entity=entity, outcome="8,12", _count="1000")
    assert sorted(ids(serious)) == sorted(e["id"] for e in events if e["outcome"] in ("8", "12"))
    not_ok = get(http, "AuditEvent", **{"entity": entity, "outcome:not": "0", "_count": "1000"})
    assert sorted(ids(not_ok)) == sorted(ids(serious))
    # Old-style events have no system: they match type=execute and |execute, not system|execute.
    assert len(ids(get(http, "AuditEvent", entity=entity, type="execute", _count="1000"))) == len(events)
    assert len(ids(get(http, "AuditEvent", entity=entity, type="|execute", _count="1000"))) == len(events)
    assert ids(get(http, "AuditEvent", entity=entity, type=f"{AUDIT_SYSTEM}|execute")) == []
    modern = get(http, "AuditEvent", type=f"{AUDIT_SYSTEM}|execute", _count="0", _total="accurate")
    everything = get(http, "AuditEvent", type="execute", _count="0", _total="accurate")
    assert everything["total"] == demo.store.event_count() == modern["total"] + len(events)


def test_date_comparators(demo: DemoServer, http: httpx.Client) -> None:
    hl7 = bot_id(demo, "hl7-adt-ingest")
    events = list(reversed(demo.store.events_for(hl7)))  # oldest first
    pivot = events[len(events) // 2]["meta"]["lastUpdated"]
    times = [e["meta"]["lastUpdated"] for e in events]

    def count(**params: str) -> int:
        total: int = get(http, "AuditEvent", entity=f"Bot/{hl7}", _count="0", _total="accurate", **params)[
            "total"
        ]
        return total

    assert count(_lastUpdated=f"gt{pivot}") == sum(t > pivot for t in times)
    assert count(_lastUpdated=f"sa{pivot}") == sum(t > pivot for t in times)
    assert count(_lastUpdated=f"ge{pivot}") == sum(t >= pivot for t in times)
    assert count(_lastUpdated=f"lt{pivot}") == sum(t < pivot for t in times)
    assert count(_lastUpdated=f"eb{pivot}") == sum(t < pivot for t in times)
    assert count(_lastUpdated=f"le{pivot}") == sum(t <= pivot for t in times)
    assert count(_lastUpdated=pivot) == count(_lastUpdated=f"eq{pivot}") == times.count(pivot)
    assert count(_lastUpdated=f"ne{pivot}") == len(times) - times.count(pivot)
    day = pivot[:10]
    assert count(_lastUpdated=f"ge{day}") == sum(t >= f"{day}T00:00:00.000Z" for t in times)
    both = http.get(
        "AuditEvent",
        params=[
            ("entity", f"Bot/{hl7}"),
            ("_lastUpdated", f"ge{times[10]}"),
            ("_lastUpdated", f"lt{times[30]}"),
            ("_count", "100"),
        ],
    ).json()
    assert sorted(ids(both)) == sorted(
        e["id"] for e in events if times[10] <= e["meta"]["lastUpdated"] < times[30]
    )
    recorded = [e["recorded"] for e in events]
    assert count(date=f"le{recorded[5]}") == sum(r <= recorded[5] for r in recorded)
    assert count(_lastUpdated="ap" + format_instant(FIXED_NOW)) >= 0


def test_count_offset_and_summary(demo: DemoServer, http: httpx.Client) -> None:
    big = get(http, "AuditEvent", _count="5000")
    assert len(big["entry"]) == 1000 and "_count=1000" in (link(big, "self") or "")
    zero = get(http, "AuditEvent", _count="0")
    assert "entry" not in zero and "total" not in zero and [x["relation"] for x in zero["link"]] == ["self"]
    summary = get(http, "AuditEvent", _summary="count")
    assert summary["total"] == demo.store.event_count() and "entry" not in summary
    assert "total" not in get(http, "AuditEvent", _count="1")
    assert get(http, "AuditEvent", _count="1", _total="estimate")["total"] == demo.store.event_count()
    assert http.get("AuditEvent", params={"_offset": "10000"}).status_code == 200
    too_far = http.get("AuditEvent", params={"_offset": "10001"})
    assert too_far.status_code == 400
    assert issue_texts(too_far) == ["Search offset exceeds maximum (got 10001, max 10000)"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"foo": "bar"}, "Unknown search parameter: foo"),
        ({"_sort": "-_lastUpdated,severity"}, "Unknown search parameter: severity"),
        ({"_lastUpdated": "gt2025-03-14T09:00:00+02:00".replace("+", " ")}, "Invalid format for date search"),
        ({"date": "yesterday"}, "Invalid format for date search parameter: yesterday"),
        ({"_lastUpdated": "ge2025-13-01"}, "Invalid date value: 2025-13-01"),
    ],
)
def test_search_errors(http: httpx.Client, params: dict[str, str], message: str) -> None:
    response = http.get("AuditEvent", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["resourceType"] == "OperationOutcome" and "id" not in body
    assert body["issue"][0]["code"] == "invalid"
    assert body["issue"][0]["details"]["text"].startswith(message)


def test_elements_subset(demo: DemoServer, http: httpx.Client) -> None:
    page = get(http, "AuditEvent", _elements="outcome", _count="3")
    resource = page["entry"][0]["resource"]
    assert set(resource) == {"resourceType", "id", "meta", "type", "recorded", "agent", "source", "outcome"}
    assert {"system": "http://hl7.org/fhir/v3/ObservationValue", "code": "SUBSETTED"} in resource["meta"][
        "tag"
    ]


# --------------------------------------------------------------------------------------------------
# Paging: cursor, ties, offsets
# --------------------------------------------------------------------------------------------------


def test_cursor_paging_with_ties(fresh_demo: DemoServer) -> None:
    bot = fresh_demo.store.add_bot({"name": "ties"})["id"]
    base = FIXED_NOW + timedelta(hours=1)
    expected = []
    for i in range(130):
        at = base + timedelta(milliseconds=(i // 4) * 7)  # groups of four runs stored in one millisecond
        expected.append(fresh_demo.store.add_event(bot, desc=str(i), at=at)["id"])
    with client_for(fresh_demo) as http:
        url: str | None = "AuditEvent"
        params: dict[str, str] | None = {"entity": f"Bot/{bot}", "_sort": "_lastUpdated", "_count": "20"}
        got: list[str] = []
        pages = 0
        while url:
            page = http.get(url, params=params).json()
            params = None
            pages += 1
            got += ids(page)
            url = link(page, "next")
            if url:
                query = parse_qs(urlsplit(url).query)
                assert "_cursor" in query and "_offset" not in query
        assert got == expected  # in order, every one, none twice
        assert pages == 7
        # Incremental polling from a watermark with ties: ge plus the ids already seen.
        watermark = fresh_demo.store.event(expected[49])["meta"]["lastUpdated"]  # type: ignore[index]
        newer = get(http, "AuditEvent", entity=f"Bot/{bot}", _lastUpdated=f"ge{watermark}", _count="1000")
        assert set(expected[48:]) <= set(ids(newer))
        strictly = get(http, "AuditEvent", entity=f"Bot/{bot}", _lastUpdated=f"gt{watermark}", _count="1000")
        assert set(ids(strictly)) == set(expected[52:])


def test_cursor_needs_room_for_ties_as_on_medplum(fresh_demo: DemoServer) -> None:
    """A full page sharing one instant cannot advance a cursor: Medplum answers 500, so does the demo."""
    bot = fresh_demo.store.add_bot({"name": "burst"})["id"]
    at = FIXED_NOW + timedelta(hours=2)
    for _ in range(25):
        fresh_demo.store.add_event(bot, at=at)
    with client_for(fresh_demo) as http:
        response = http.get(
            "AuditEvent", params={"entity": f"Bot/{bot}", "_sort": "_lastUpdated", "_count": "20"}
        )
        assert response.status_code == 500
        assert response.json()["issue"][0]["diagnostics"] == "Error: Cursor fails to make progress"
        larger = http.get(
            "AuditEvent", params={"entity": f"Bot/{bot}", "_sort": "_lastUpdated", "_count": "100"}
        )
        assert len(larger.json()["entry"]) == 25


def test_cursor_is_not_capped_but_offsets_are() -> None:
    cfg = DemoConfig(
        seed=2, now=FIXED_NOW, live=False, history_days=0.01, big_bot_events=10_500, rate_limit=10**9
    )
    with DemoServer(cfg) as server, client_for(server) as http:
        big = bot_id(server, "bulk-importer")
        page = get(http, "AuditEvent", entity=f"Bot/{big}", _sort="_lastUpdated", _count="1000")
        seen = ids(page)
        while link(page, "next"):
            page = http.get(link(page, "next") or "").json()
            seen += ids(page)
        assert len(seen) == len(set(seen)) == 10_500
        newest = {"entity": f"Bot/{big}", "_sort": "-_lastUpdated", "_count": "1000"}
        assert http.get("AuditEvent", params={**newest, "_offset": "10000"}).status_code == 200
        assert http.get("AuditEvent", params={**newest, "_offset": "11000"}).status_code == 400


# --------------------------------------------------------------------------------------------------
# Rate limits
# --------------------------------------------------------------------------------------------------


def test_ratelimit_header_on_fhir_responses(demo: DemoServer, http: httpx.Client) -> None:
    for path in ("Bot", "AuditEvent?_count=1", "Bot/unknown", "AuditEvent?foo=1"):
        header = http.get(path).headers["ratelimit"]
        assert header.startswith('"requests";r=') and '"fhirInteractions";r=' in header, path
    assert "retry-after" not in http.get("Bot").headers


def test_rate_limited_fault_is_medplums_429(fresh_demo: DemoServer) -> None:
    fresh_demo.faults.rate_limited(ms_before_next=1500)
    with client_for(fresh_demo) as http:
        response = http.get("Bot")
        assert response.status_code == 429
        assert "retry-after" not in response.headers
        assert '"fhirInteractions";r=0;t=2' in response.headers["ratelimit"]
        body = response.json()
        assert body["id"] == "too-many-requests"
        issue = body["issue"][0]
        assert (issue["severity"], issue["code"], issue["details"]["text"]) == (
            "error",
            "throttled",
            "Too Many Requests",
        )
        diagnostics = json.loads(issue["diagnostics"])
        assert diagnostics["_msBeforeNext"] == 1500 and diagnostics["_remainingPoints"] == 0
        assert http.get("Bot").status_code == 200  # count=1


def test_fhir_quota_is_enforced() -> None:
    cfg = DemoConfig(seed=1, now=FIXED_NOW, live=False, history_days=0.1, rate_limit=70)
    with DemoServer(cfg) as server, client_for(server) as http:
        headers = [http.get("Bot").headers["ratelimit"] for _ in range(3)]
        assert [h.split('"fhirInteractions";r=')[1].split(";")[0] for h in headers] == ["50", "30", "10"]
        over = http.get("Bot")
        assert over.status_code == 429 and over.json()["id"] == "too-many-requests"
        assert json.loads(over.json()["issue"][0]["diagnostics"])["limit"] == 70
        assert '"fhirInteractions";r=0;t=' in over.headers["ratelimit"]


def test_auth_requests_limit() -> None:
    cfg = DemoConfig(seed=1, now=FIXED_NOW, live=False, history_days=0.1, auth_rate_limit=2)
    with DemoServer(cfg) as server:
        data = {
            "grant_type": "client_credentials",
            "client_id": server.client_id,
            "client_secret": server.client_secret,
        }
        assert [token_post(server, data=data).status_code for _ in range(3)] == [200, 200, 429]
        assert token_post(server, data=data).headers["ratelimit"].startswith('"requests";r=0;t=')


# --------------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------------


def test_status_faults_count_and_path(fresh_demo: DemoServer) -> None:
    fault = fresh_demo.faults.add(status=503, count=2, path_contains="AuditEvent")
    with client_for(fresh_demo) as http:
        assert http.get("Bot").status_code == 200
        first = http.get("AuditEvent")
        assert first.status_code == 503 and first.json()["issue"][0]["code"] == "transient"
        assert http.get("AuditEvent").status_code == 503
        assert http.get("AuditEvent").status_code == 200
        assert fault.hits == 2
        fresh_demo.faults.add(status=500)
        error = http.get("Bot")
        assert error.status_code == 500
        assert error.json()["issue"][0]["details"]["text"] == "Internal server error"
        fresh_demo.faults.add(status=504)
        assert http.get("Bot").json()["issue"][0]["code"] == "timeout"
        fresh_demo.faults.add(status=404, count=None)
        assert [http.get("Bot").status_code for _ in range(3)] == [404, 404, 404]
        fresh_demo.faults.clear()
        assert http.get("Bot").status_code == 200


def test_body_faults(fresh_demo: DemoServer) -> None:
    with client_for(fresh_demo) as http:
        fresh_demo.faults.add(kind="malformed")
        malformed = http.get("Bot")
        assert malformed.status_code == 200
        with pytest.raises(ValueError):
            malformed.json()
        fresh_demo.faults.add(kind="html", status=502)
        html = http.get("Bot")
        assert (
            html.status_code == 502 and html.headers["content-type"] == "text/html" and "<html>" in html.text
        )
        fresh_demo.faults.add(kind="empty")
        empty = http.get("Bot")
        assert empty.status_code == 200 and empty.content == b""
        fresh_demo.faults.add(kind="status", status=400, body="oops", content_type="text/plain")
        custom = http.get("Bot")
        assert (custom.status_code, custom.text, custom.headers["content-type"]) == (
            400,
            "oops",
            "text/plain",
        )
        fresh_demo.faults.add(kind="truncated")
        with pytest.raises(httpx.RemoteProtocolError):
            http.get("Bot")
        fresh_demo.faults.add(kind="drop")
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            http.get("Bot")
        assert http.get("Bot").status_code == 200  # a new connection works


def test_hang_and_latency(fresh_demo: DemoServer) -> None:
    with client_for(fresh_demo, timeout=0.3) as http:
        fresh_demo.faults.add(kind="hang")
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            http.get("Bot")
        assert time.monotonic() - started < 2
    with client_for(fresh_demo, timeout=5) as http:
        fresh_demo.faults.add(kind="delay", latency=0.3)
        started = time.monotonic()
        assert http.get("Bot").status_code == 200
        assert time.monotonic() - started >= 0.3
        fresh_demo.faults.latency = 0.2
        started = time.monotonic()
        http.get("Bot")
        assert time.monotonic() - started >= 0.2
        fresh_demo.faults.clear()
        assert fresh_demo.faults.latency == 0.0
    with pytest.raises(ValueError):
        fresh_demo.faults.add(kind="nonsense")


def test_reason_headers_and_restarts(fresh_demo: DemoServer) -> None:
    """Faults can set the reason phrase and headers (a Date too); a restart forgets every token."""
    with client_for(fresh_demo, timeout=5) as http:
        fresh_demo.faults.add(
            kind="html", status=502, reason="Proxy \x9b says no", headers=[("X-Proxy", "edge")]
        )
        answer = http.get("Bot")
        assert answer.status_code == 502 and answer.headers["x-proxy"] == "edge"
        assert answer.extensions["reason_phrase"] == "Proxy \x9b says no".encode("latin-1")
        fresh_demo.faults.add(status=503, headers=[("Date", "Fri, 31 Dec 9999 23:59:59 GMT")])
        assert http.get("Bot").headers.get_list("date") == ["Fri, 31 Dec 9999 23:59:59 GMT"]
    token = fresh_demo.issue_token()
    bearer = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=fresh_demo.fhir_url, timeout=5) as http:
        assert http.get("Bot", headers=bearer).status_code == 200
        # A restart in the middle of a request: the connection closes unanswered, tokens are unknown.
        fresh_demo.faults.add(kind="restart")
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            http.get("Bot", headers=bearer)
        unauthorized = http.get("Bot", headers=bearer)
        assert unauthorized.status_code == 401
        assert unauthorized.json()["issue"][0]["details"]["text"] == "Unauthorized"
    # A real restart: same port, same data; tokens forgotten unless asked to keep them.
    port, token = fresh_demo.port, fresh_demo.issue_token()
    fresh_demo.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(fresh_demo.fhir_url + "Bot", headers={"Authorization": f"Bearer {token}"}, timeout=2)
    fresh_demo.start(same_port=True)
    assert fresh_demo.port == port
    assert (
        httpx.get(fresh_demo.fhir_url + "Bot", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    fresh_demo.restart()
    assert fresh_demo.port == port
    assert (
        httpx.get(fresh_demo.fhir_url + "Bot", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )


# --------------------------------------------------------------------------------------------------
# Other routes, $execute, the request log, live mode
# --------------------------------------------------------------------------------------------------


def test_writes_and_unknown_routes(fresh_demo: DemoServer) -> None:
    with client_for(fresh_demo) as http:
        hl7 = bot_id(fresh_demo, "hl7-adt-ingest")
        before = len(fresh_demo.store.events_for(hl7))
        run = http.post(f"Bot/{hl7}/$execute", json={"input": 1})
        assert run.status_code in (200, 400)
        assert len(fresh_demo.store.events_for(hl7)) == before + 1
        assert http.get(f"Bot/{hl7}/$execute").status_code == 405
        assert http.put(f"Bot/{hl7}", json={}).status_code == 405
        assert http.delete(f"Bot/{hl7}").status_code == 405
        assert http.post("Bot/00000000-0000-4000-8000-000000000000/$execute").status_code == 404
        assert http.get("Patient").json()["resourceType"] == "Bundle"
        assert http.get("Nonsense").status_code == 400
        assert httpx.get(fresh_demo.base_url + "nowhere").status_code == 404
        assert httpx.get(fresh_demo.fhir_url + "metadata").json()["resourceType"] == "CapabilityStatement"
        assert httpx.get(fresh_demo.base_url + "healthcheck").json()["ok"] is True


def test_request_log(fresh_demo: DemoServer) -> None:
    fresh_demo.reset_requests()
    with client_for(fresh_demo) as http:
        http.get("Bot", params={"_count": "2"})
        http.get("Bot/nope")
    log = fresh_demo.requests
    assert [(m, p.split("?")[0], s) for m, p, s, _ in log] == [
        ("GET", "/fhir/R4/Bot", 200),
        ("GET", "/fhir/R4/Bot/nope", 404),
    ]
    assert log[0].path == "/fhir/R4/Bot?_count=2" and log[0].nbytes > 100
    fresh_demo.reset_requests()
    assert fresh_demo.requests == []


def test_live_mode_adds_events_and_stops() -> None:
    cfg = DemoConfig(seed=4, live=True, live_speed=40, history_days=0.05)
    server = DemoServer(cfg)
    server.start()
    try:
        before = server.store.event_count()
        deadline = time.monotonic() + 3
        while server.store.event_count() == before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.store.event_count() > before
    finally:
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 2
    settled = server.store.event_count()
    time.sleep(0.3)
    assert server.store.event_count() == settled


# ------------------------------------------------------------------------------------------------
# Demo only: POST /demo/run (not Medplum's API)
# ------------------------------------------------------------------------------------------------


def test_demo_run_stores_a_run_now(fresh_demo: DemoServer) -> None:
    """A failure on cue, by name or id, honouring the bot's audit settings; outside /fhir/R4/."""
    with httpx.Client(
        base_url=fresh_demo.base_url, auth=(fresh_demo.client_id, fresh_demo.client_secret)
    ) as http:
        bot = fresh_demo.store.bots[0]
        answer = http.post("demo/run", params={"bot": bot["name"], "outcome": "8", "desc": "Error: on cue"})
        assert answer.status_code == 201
        event = answer.json()
        assert (event["resourceType"], event["outcome"], event["outcomeDesc"]) == (
            "AuditEvent",
            "8",
            "Error: on cue",
        )
        assert fresh_demo.store.events_for(bot["id"])[0]["id"] == event["id"]
        assert http.post("demo/run", data={"bot": bot["id"]}).json()["outcome"] == "4"  # the default
        silent = fresh_demo.store.add_bot(
            {"resourceType": "Bot", "name": "quiet", "auditEventDestination": ["log"]}
        )
        answer = http.post("demo/run", params={"bot": "quiet"})
        assert answer.status_code == 200 and answer.json()["auditEvent"] is None
        assert fresh_demo.store.events_for(silent["id"]) == []
        assert http.post("demo/run", params={"bot": "nobody"}).status_code == 404
        assert http.post("demo/run", params={"bot": bot["id"], "outcome": "3"}).status_code == 400
        assert http.get("demo/run", params={"bot": bot["id"]}).status_code == 405
        assert http.post("fhir/R4/demo/run", params={"bot": bot["id"]}).status_code != 201
    with httpx.Client(base_url=fresh_demo.base_url) as anonymous:
        assert anonymous.post("demo/run", params={"bot": bot["id"]}).status_code == 401
