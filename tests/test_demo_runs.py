"""The demo's runs are shaped like the ones Medplum's server writes: outcomes, log formats and limits,
entities and their roles, the tracing extension, the server's own failures (the shared Medplum API
notes, "What a bot run writes")."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest
from demo_support import FIXED_NOW

from botmon_tui.demo import DemoConfig, DemoStore
from botmon_tui.demo.runtime import (
    LAMBDA_LOG_RESULT_BYTES,
    MAX_LOG_CHARS,
    SERVER_FAILURES,
    Output,
    Thrown,
    lambda_log,
    vm_log,
)
from botmon_tui.medplum.models import parse_instant

JsonDict = dict[str, Any]
LAMBDA_LINE = re.compile(
    r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)\t([0-9a-f-]{36})\t(INFO|WARN|ERROR|DEBUG)\t(.*)$"
)
TRACING = "https://medplum.com/fhir/StructureDefinition/tracing"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def store() -> DemoStore:
    return DemoStore(DemoConfig(seed=7, now=FIXED_NOW, live=False))


def events(store: DemoStore, name: str) -> list[JsonDict]:
    bot_id = store.bot_id(name)
    assert bot_id is not None, name
    return store.events_for(bot_id)


def every_event(store: DemoStore) -> list[JsonDict]:
    return [e for bot in store.bots for e in store.events_for(bot["id"])]


def seconds(event: JsonDict) -> float:
    start, end = parse_instant(event["period"]["start"]), parse_instant(event["period"]["end"])
    assert start is not None and end is not None
    return (end - start).total_seconds()


# --------------------------------------------------------------------------------------------------
# Outcomes
# --------------------------------------------------------------------------------------------------


def test_todays_server_writes_only_0_and_4_and_the_older_one_8_and_12(store: DemoStore) -> None:
    counts: Counter[str] = Counter()
    for bot in store.bots:
        outcomes = {e["outcome"] for e in store.events_for(bot["id"])}
        if bot["name"] == "legacy-hl7-bridge":
            assert outcomes == {"0", "8", "12"}
        else:
            assert outcomes <= {"0", "4"}, bot["name"]
        counts.update(e["outcome"] for e in store.events_for(bot["id"]))
    assert counts["0"] > 10 * counts["4"] > 0
    assert 0 < counts["8"] + counts["12"] < counts["4"]


# --------------------------------------------------------------------------------------------------
# Lambda logs
# --------------------------------------------------------------------------------------------------


def test_a_lambda_crash_is_logged_as_the_runtime_and_medplum_write_it(store: DemoStore) -> None:
    crash = events(store, "lab-results-router")[0]
    assert crash["outcome"] == "4"
    lines = crash["outcomeDesc"].split("\n")
    heads = [LAMBDA_LINE.match(line) for line in lines]
    assert heads[0] is not None  # a short log: from its first line on
    request_ids = {m.group(2) for m in heads if m}
    assert len(request_ids) == 1  # one invocation
    # Medplum's wrapper logs the error with console.log; the runtime's "Invoke Error" line ends the log.
    unhandled = next(i for i, m in enumerate(heads) if m and m.group(4).startswith("Unhandled error: "))
    assert heads[unhandled] is not None and heads[unhandled].group(3) == "INFO"  # type: ignore[union-attr]
    message = lines[unhandled].split("Unhandled error: ", 1)[1]
    assert lines[unhandled + 1] == f"TypeError: {message}" and lines[unhandled + 2].startswith("    at ")
    last = heads[-1]
    assert last is not None and last.group(3) == "ERROR"
    level_and_blob = lines[-1].split("\t", 3)[3]
    assert level_and_blob.startswith("Invoke Error \t{")
    blob = json.loads(level_and_blob.split("\t", 1)[1])
    assert blob["errorType"] == "TypeError" and blob["errorMessage"] == message
    assert blob["stack"][0] == f"TypeError: {message}"
    assert all(frame.startswith("    at ") for frame in blob["stack"][1:])
    assert any("/var/task/user.cjs:" in frame for frame in blob["stack"])
    for kept_out in ("START RequestId", "END RequestId", "REPORT RequestId", "Task timed out"):
        assert kept_out not in crash["outcomeDesc"]


def test_lambda_logs_are_logresults_last_4_kb(store: DemoStore) -> None:
    """The claims export prints a line per batch and payer: Medplum gets the last 4 KB, cut mid-line."""
    for event in events(store, "daily-claims-export"):
        log = event["outcomeDesc"]
        assert len(log.encode()) < LAMBDA_LOG_RESULT_BYTES
        assert LAMBDA_LINE.match(log.split("\n")[0]) is None  # the first line is the end of one
        continued = ("    at ", "Error: ", "TypeError: ")  # an error's stack goes on over lines
        assert all(LAMBDA_LINE.match(line) or line.startswith(continued) for line in log.split("\n")[1:])


def test_a_lambda_log_is_read_as_seven_bit_ascii() -> None:
    """Medplum decodes ``LogResult`` as Node's ``ascii``: each byte's high bit is unset."""
    output = Output([("INFO", "Name on file: José Peña ✔")])
    log = lambda_log(output, request_id="0" * 36, start_ms=0, duration_ms=10, timeout_s=10)
    assert log.endswith("\tINFO\tName on file: JosC) PeC1a b\x1c\x14")


def test_lambda_log_helper_keeps_only_what_medplum_keeps() -> None:
    long = Output([("INFO", f"line {i:05d} " + "x" * 60) for i in range(200)], timed_out=True)
    log = lambda_log(long, request_id="0" * 36, start_ms=0, duration_ms=30_000, timeout_s=30)
    assert len(log.encode()) < LAMBDA_LOG_RESULT_BYTES and "line 00199" in log and "line 00000" not in log
    assert "Task timed out" not in log and not log.endswith("\n")


def test_a_lambda_timeout_lasts_its_timeout_and_its_log_stops_short(store: DemoStore) -> None:
    erx = store.bot(store.bot_id("erx-surescripts-send") or "")
    assert erx is not None and erx["timeout"] == 30
    timed_out = [e for e in events(store, "erx-surescripts-send") if e["outcome"] == "4" and seconds(e) >= 30]
    assert len(timed_out) >= 14
    for event in timed_out:
        assert 30 <= seconds(event) < 32  # the timeout, plus its wait in the subscription queue
        log = event["outcomeDesc"]
        assert "Invoke Error" not in log and "Task timed out" not in log and "Unhandled error" not in log
        assert LAMBDA_LINE.match(log.split("\n")[-1])


# --------------------------------------------------------------------------------------------------
# vmcontext logs
# --------------------------------------------------------------------------------------------------


def test_a_vmcontext_crash_is_the_wrappers_line_then_the_servers(store: DemoStore) -> None:
    crash = next(
        e
        for e in events(store, "patient-welcome-email")
        if e["outcome"] == "4" and "Unhandled error" in e["outcomeDesc"]
    )
    lines = crash["outcomeDesc"].split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("Unhandled error: "))
    message = lines[start].removeprefix("Unhandled error: ")
    assert lines[start + 1] == f"Error: {message}"
    assert all(line.startswith("    at ") for line in lines[start + 2 : -1])
    assert "evalmachine.<anonymous>" in crash["outcomeDesc"]
    assert lines[-1] == f"Error {message}"
    assert not any(LAMBDA_LINE.match(line) for line in lines)


def test_vm_log_helper() -> None:
    thrown = Thrown("TypeError", "x is not a function", ("at handler ({file}:3:9)",))
    crash = vm_log(Output([("INFO", "one"), ("WARN", "two")], thrown=thrown), 10_000)
    assert crash.split("\n") == [
        "one",
        "two",
        "Unhandled error: x is not a function",
        "TypeError: x is not a function",
        "    at handler (evalmachine.<anonymous>:3:9)",
        "    at async evalmachine.<anonymous>:1311:20",
        "Error x is not a function",
    ]
    timeout = vm_log(Output([("INFO", "looping")], timed_out=True), 10_000)
    assert timeout == "looping\nError Script execution timed out after 10000ms"


# --------------------------------------------------------------------------------------------------
# Limits and the server's own failures
# --------------------------------------------------------------------------------------------------


def test_logs_are_cut_from_the_front_at_10240_characters(store: DemoStore) -> None:
    report = events(store, "weekly-quality-report")[0]
    log = report["outcomeDesc"]
    assert len(log) == MAX_LOG_CHARS == 10_240
    assert log.endswith("KB)") and not log.startswith("Building")  # the end is kept
    assert max(len(e["outcomeDesc"]) for e in every_event(store)) == MAX_LOG_CHARS


def test_some_runs_failed_with_the_servers_own_messages(store: DemoStore) -> None:
    vm_off = [e for e in events(store, "patient-welcome-email") if e["outcomeDesc"] == SERVER_FAILURES[2]]
    assert len(vm_off) == 2 and all(e["outcome"] == "4" and seconds(e) < 1.5 for e in vm_off)  # queue wait
    lambda_error = [
        e for e in events(store, "hourly-census-snapshot") if e["outcomeDesc"].startswith("Lambda error: ")
    ]
    assert len(lambda_error) == 1 and " - " in lambda_error[0]["outcomeDesc"]


# --------------------------------------------------------------------------------------------------
# Entities, agents, the tracing extension
# --------------------------------------------------------------------------------------------------


def test_entities_have_medplums_roles_and_displays(store: DemoStore) -> None:
    hl7 = events(store, "hl7-adt-ingest")[0]
    bot, patient, subscription = hl7["entity"]
    assert bot["role"] == {"code": "4", "display": "Domain"} and bot["what"]["display"] == "hl7-adt-ingest"
    assert patient["role"] == {"code": "1", "display": "Patient"}
    body = store.read_resource(*patient["what"]["reference"].split("/"))[1]
    assert patient["what"]["display"] == f"{body['name'][0]['given'][0]} {body['name'][0]['family']}"
    assert subscription["role"] == {"code": "9", "display": "Subscriber"}
    assert subscription["what"]["display"] == "Patient"  # a Subscription's display is its criteria
    lab = events(store, "lab-results-router")[0]
    report = lab["entity"][1]
    assert report["role"] == {"code": "4", "display": "Domain"}  # anything but a Patient or a Subscription
    code = store.read_resource(*report["what"]["reference"].split("/"))[1]["code"]
    assert report["what"]["display"] == code["coding"][0]["display"]
    scorer = events(store, "questionnaire-scorer")[0]
    assert "display" not in scorer["entity"][1]["what"]  # a QuestionnaireResponse has no display string


def test_a_cron_runs_input_is_the_bot_and_it_has_no_requester(store: DemoStore) -> None:
    for event in events(store, "fax-inbox-poller")[:20]:
        assert event["entity"][0] == event["entity"][1]  # the Bot twice: itself, and as the input
        assert event["agent"][0] == {"requestor": True}  # no "who": nobody asked
        assert "extension" not in event  # a scheduled job has no request context
    cohort = events(store, "nightly-cohort-refresh")[0]
    cron_ref = cohort["entity"][1]["what"]["reference"]
    assert cron_ref.startswith("Cron/") and cohort["entity"][1]["role"]["code"] == "4"
    status, cron = store.read_resource(*cron_ref.split("/"))
    assert status == 200 and cron["cronString"] == "30 3 * * *" and cron["active"] is True
    assert cron["targetReference"]["reference"] == cohort["entity"][0]["what"]["reference"]


def test_triggered_runs_carry_the_tracing_extension(store: DemoStore) -> None:
    for name in ("hl7-adt-ingest", "questionnaire-scorer", "lab-results-router", "cgm-device-sync"):
        for event in events(store, name)[:10]:
            (tracing,) = event["extension"]
            assert tracing["url"] == TRACING
            request_id, trace_id = tracing["extension"]
            assert request_id["url"] == "requestId" and UUID.match(request_id["valueId"])
            assert trace_id["url"] == "traceId" and isinstance(trace_id["valueId"], str)
            assert event["agent"][0]["who"]["reference"].split("/")[0] in (
                "ClientApplication",
                "Practitioner",
            )
            assert event["agent"][0]["who"]["display"]
    ids = [e["extension"][0]["extension"][0]["valueId"] for e in events(store, "hl7-adt-ingest")]
    assert len(set(ids)) == len(ids)


def test_the_older_servers_shape_is_kept_on_the_legacy_bot(store: DemoStore) -> None:
    for event in events(store, "legacy-hl7-bridge"):
        assert event["type"] == {"code": "execute"}
        assert event["agent"] == [{"type": {"text": "bot"}, "requestor": False}]
        assert len(event["entity"]) == 1 and "extension" not in event


def test_a_subscription_runs_period_includes_its_wait_in_the_queue(store: DemoStore) -> None:
    """``period.start`` is when the triggering resource changed: its ``lastUpdated``."""
    event = events(store, "lab-results-router")[5]
    report = store.read_resource(*event["entity"][1]["what"]["reference"].split("/"))[1]
    assert report["meta"]["lastUpdated"] == event["period"]["start"]
