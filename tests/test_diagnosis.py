"""What kind of failure a run was, and its error signature (``botmon_tui.diagnosis``), on logs
shaped as Medplum's runtimes write them: vmcontext, AWS Lambda (tab-separated lines, ``Invoke
Error`` JSON), HL7 bridges, axios; and on hostile text."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_runlog import VMCONTEXT_LOG

from botmon_tui.diagnosis import (
    MAX_SIGNATURE_CHARS,
    NO_OUTPUT,
    PLATFORM_MESSAGES,
    TIMED_OUT_TEXT,
    diagnose,
    diagnose_event,
    error_signature,
    failure_kind,
    normalise_error,
    own_frame,
)
from botmon_tui.medplum.models import AuditEvent
from botmon_tui.textsafe import is_safe

RID = "146fcfcf-c32b-43f5-82a6-ee0f3132d873"
OTHER_RID = "0b9e2f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"


def lam(time: str, level: str, message: str, rid: str = RID) -> str:
    """One line of AWS Lambda's text log format, as Medplum keeps it."""
    return f"2025-03-14T{time}Z\t{rid}\t{level}\t{message}"


def invoke_error(error_type: str, message: str, frames: list[str], *, rid: str = RID) -> str:
    blob = {
        "errorType": error_type,
        "errorMessage": message,
        "stack": [f"{error_type}: {message}", *(f"    at {frame}" for frame in frames)],
    }
    return lam("09:26:54.100", "ERROR", f"Invoke Error \t{json.dumps(blob)}", rid)


def lambda_axios(status: int, patient: str, *, rid: str = RID, ms: int = 812) -> str:
    return "\n".join(
        [
            lam("09:26:53.512", "INFO", f"Fetching Patient/{patient} from the EHR", rid),
            lam("09:26:54.000", "WARN", f"EHR answered in {ms} ms", rid),
            invoke_error(
                "AxiosError",
                f"Request failed with status code {status}",
                [
                    "settle (/var/task/node_modules/axios/lib/core/settle.js:19:12)",
                    "IncomingMessage.handleStreamEnd"
                    " (/var/task/node_modules/axios/lib/adapters/http.js:599:11)",
                    "async fetchPatient (/var/task/index.js:57:20)",
                    "async Runtime.handler (file:///var/runtime/index.mjs:1173:22)",
                ],
                rid=rid,
            ),
        ]
    )


# Medplum's vmcontext runner: "Unhandled error: " + message + "\n" + stack, then "Error <message>"
# (the same log the run's log view is tested on).
VMCONTEXT_TYPEERROR = VMCONTEXT_LOG

VMCONTEXT_TIMEOUT = """Scoring QuestionnaireResponse/9a8b
Unhandled error: Script execution timed out after 10000ms
Error: Script execution timed out after 10000ms
    at Script.runInContext (node:vm:149:12)
Error Script execution timed out after 10000ms"""

# A vmcontext bot whose own code logged the axios error (no uncaught exception: the bot returned a
# failure itself).
VMCONTEXT_AXIOS = """2025-03-14T09:26:53.512Z
Processing Patient/0a1b2c3d for ADT^A08
Looking up coverage at https://payer.example.com/eligibility
AxiosError: Request failed with status code 500
    at settle (/usr/src/medplum/node_modules/axios/dist/node/axios.cjs:2019:12)
    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)
    at async lookUpCoverage (evalmachine.<anonymous>:88:17)"""


def hl7_nack(control: str, mrn: str) -> str:
    return "\n".join(
        [
            f"Received ADT^A01 {control} from EPIC",
            f"MSH|^~\\&|MEDPLUM|DEMO|EPIC|HOSP|20250314092653||ACK^A01|ACK{control[3:]}|P|2.5.1",
            f"MSA|AE|{control}|Invalid patient identifier {mrn} in PID-3",
        ]
    )


# ------------------------------------------------------------------------------------------------
# Kinds
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("message", PLATFORM_MESSAGES)
def test_the_servers_own_messages_are_platform_failures(message: str) -> None:
    log = message + (" ResourceNotFoundException - Function not found" if message.endswith(":") else "")
    assert failure_kind(log) == "platform"
    # However long the run seemed: no bot code ran.
    assert failure_kind(log, duration=60, timeout=10) == "platform"


def test_a_platform_message_is_the_whole_log_not_a_line_the_bot_printed() -> None:
    assert failure_kind("Loaded 3 bundles\nNo executable code in bundle 2, skipped\nError: boom") == "error"


def test_vmcontext_and_lambda_timeouts_are_read_from_the_log() -> None:
    assert failure_kind(VMCONTEXT_TIMEOUT, duration=0.2) == "timeout"
    lambda_log = lam("09:26:53.512", "INFO", "Syncing") + "\nTask timed out after 10.00 seconds"
    assert failure_kind(lambda_log) == "timeout"
    # An HTTP client's own timeout is the bot's error, not the run timing out.
    axios = "Unhandled error: timeout of 5000ms exceeded\nAxiosError: timeout of 5000ms exceeded"
    assert failure_kind(axios) == "crash"


def test_a_run_that_used_95_percent_of_its_timeout_timed_out() -> None:
    # Medplum cuts a Lambda log at END: the "Task timed out" line is gone, the duration says it.
    log = "\n".join(lam(f"09:26:5{n}.000", "INFO", f"Fetched page {n}") for n in range(4))
    assert failure_kind(log, duration=9.5, timeout=10) == "timeout"
    assert failure_kind(log, duration=9.49, timeout=10) == "error"
    assert failure_kind(log, duration=28.6, timeout=30) == "timeout"
    assert failure_kind(log, duration=None, timeout=10) == "error"


def test_uncaught_exceptions_are_crashes_even_near_the_timeout() -> None:
    assert failure_kind(VMCONTEXT_TYPEERROR) == "crash"
    assert failure_kind(lambda_axios(503, "a1")) == "crash"
    for label in ("Uncaught Exception", "Unhandled Promise Rejection"):
        line = lam("09:26:54.100", "ERROR", f'{label} \t{{"errorType":"Runtime.UnhandledPromiseRejection"}}')
        assert failure_kind(line) == "crash"
    # The exception was thrown before the deadline (a subscription run's period includes its queue wait).
    assert failure_kind(VMCONTEXT_TYPEERROR, duration=9.9, timeout=10) == "crash"
    # "Invoke Error" without an errorType is a line the bot printed, not Lambda's.
    assert failure_kind(lam("09:26:54.100", "ERROR", "Invoke Error while calling the payer")) == "error"


def test_other_failures_are_errors() -> None:
    assert failure_kind(hl7_nack("MSG00001", "12345")) == "error"
    assert failure_kind(VMCONTEXT_AXIOS) == "error"
    assert failure_kind("") == "error"
    assert failure_kind(None) == "error"


def test_an_events_duration_and_log_decide_its_kind() -> None:
    start = datetime(2025, 3, 14, 9, 26, 44, tzinfo=UTC)
    event = AuditEvent.model_validate(
        {
            "resourceType": "AuditEvent",
            "id": "e1",
            "outcome": "4",
            "period": {"start": start.isoformat(), "end": (start + timedelta(seconds=9.8)).isoformat()},
            "outcomeDesc": lam("09:26:45.000", "INFO", "Fetching 3 pages"),
        }
    )
    timed_out = diagnose_event(event, 10)
    assert timed_out.kind == "timeout"
    assert timed_out.signature.text == TIMED_OUT_TEXT
    assert timed_out.summary == "timed out after 9.8 s (timeout 10.0 s)"
    assert diagnose_event(event, 60).kind == "error"


# ------------------------------------------------------------------------------------------------
# Signatures
# ------------------------------------------------------------------------------------------------


def test_one_cause_on_other_resources_and_requests_is_one_signature() -> None:
    first = error_signature(lambda_axios(503, "a1f3c9", ms=812))
    second = error_signature(lambda_axios(503, "b27d10", rid=OTHER_RID, ms=1490))
    assert first == second
    assert first.text == "AxiosError: Request failed with status code 503 @ fetchPatient (index.js)"
    assert re.fullmatch(r"[0-9a-f]{12}", first.key)


def test_http_status_codes_and_error_classes_tell_causes_apart() -> None:
    assert error_signature(lambda_axios(503, "a1")) != error_signature(lambda_axios(500, "a1"))
    assert normalise_error("HTTP 502 Bad Gateway") != normalise_error("HTTP 504 Gateway Timeout")
    assert normalise_error("TypeError: x is not a function") != normalise_error(
        "RangeError: x is not a function"
    )


def test_vmcontext_errors_are_signed_by_their_class_and_their_own_frame() -> None:
    signature = error_signature(VMCONTEXT_TYPEERROR)
    assert signature.text == (
        "TypeError: Cannot read properties of undefined (reading '<v>')"
        " @ exports.handler (evalmachine.<anonymous>)"
    )
    # A plain Error's class line ("Error: ...") is read too.
    empi = "\n".join(
        [
            "Unhandled error: EMPI lookup failed",
            "Error: EMPI lookup failed",
            "    at lookup (evalmachine.<anonymous>:3:1)",
        ]
    )
    assert error_signature(empi).text == "Error: EMPI lookup failed @ lookup (evalmachine.<anonymous>)"
    assert error_signature(VMCONTEXT_AXIOS).text == (
        "AxiosError: Request failed with status code 500 @ lookUpCoverage (evalmachine.<anonymous>)"
    )


def test_hl7_negative_acks_with_other_control_ids_are_one_signature() -> None:
    first, second = (
        error_signature(hl7_nack("MSG00001", "12345")),
        error_signature(hl7_nack("MSG99812", "67890")),
    )
    assert first == second
    assert first.text == "MSA|AE|<id>|Invalid patient identifier <n> in PID-<n>"


@pytest.mark.parametrize(
    ("line", "normal"),
    [
        (
            "Error: Patient/0a1b2c3d-1111-4222-8333-444455556666 not found",
            "Error: Patient/<id> not found",
        ),
        ("Conflict on Observation/123/_history/4", "Conflict on Observation/<id>"),
        ("Request 146fcfcf-c32b-43f5-82a6-ee0f3132d873 failed", "Request <uuid> failed"),
        ("upstream said no (x-request-id: abc123def)", "upstream said no (x-request-id: <id>)"),
        ("failed at 2025-03-14T09:26:53.512Z, retry at 09:27:00", "failed at <time>, retry at <time>"),
        ("timeout of 5000ms exceeded", "timeout of <duration> exceeded"),
        ("gave up after 3 attempts in 1.5 s", "gave up after <n> attempts in <duration>"),
        ("bad checksum 0xdeadbeef in block 9f8e7d6c5b", "bad checksum <hex> in block <hex>"),
        ("Unknown code 'gad-7-v2' in field \"score\"", "Unknown code '<v>' in field \"<v>\""),
        ("can't parse the bundle", "can't parse the bundle"),
        ("Request failed with status code 404", "Request failed with status code 404"),
        ("503 Service Unavailable from payer", "503 Service Unavailable from payer"),
        ("statusCode: 429, retry in 30s", "statusCode: 429, retry in <duration>"),
        ("Order ORD-123456 rejected", "Order <id> rejected"),
        ("ERROR   TypeError: fetch failed", "TypeError: fetch failed"),
        ("TCP/IP error on I/O over HTTP/1.1", "TCP/IP error on I/O over HTTP/<n>"),
    ],
)
def test_what_varies_is_replaced_and_what_tells_causes_apart_stays(line: str, normal: str) -> None:
    assert normalise_error(line) == normal


def test_the_own_frame_skips_dependencies_node_and_the_lambda_runtime() -> None:
    assert own_frame(lambda_axios(503, "a1")) == "fetchPatient (index.js)"
    only_theirs = "\n".join(
        [
            "Error: read ECONNRESET",
            "    at TLSWrap.onStreamRead (node:internal/stream_base_commons:218:20)",
            "    at Parser.__onRow (/var/task/node_modules/csv-parse/dist/cjs/index.cjs:955:16)",
            "    at async Runtime.handler (file:///var/runtime/index.mjs:1173:22)",
        ]
    )
    assert own_frame(only_theirs) is None
    assert error_signature(only_theirs).text == "Error: read ECONNRESET"
    assert own_frame("    at /var/task/lib/sync.js:12:3") == "lib/sync.js"
    assert own_frame("    at Object.<anonymous> [as handler] (/var/task/index.js:1:1)") == (
        "Object.<anonymous> [as handler] (index.js)"
    )
    # "at" inside a word is not a frame.
    assert own_frame("format (x.js:1:2)") is None


def test_line_numbers_do_not_split_a_signature() -> None:
    one = VMCONTEXT_TYPEERROR
    other = one.replace(":41:37", ":44:9")
    assert error_signature(one) == error_signature(other)


def test_logs_that_say_nothing_have_stable_signatures() -> None:
    assert error_signature("").text == NO_OUTPUT
    assert error_signature("2025-03-14T09:26:53.512Z").text == NO_OUTPUT
    assert error_signature("   \n\n  ").text == NO_OUTPUT
    # A timeout whose log says nothing went wrong: its last line would differ from run to run.
    log = lam("09:26:53.000", "INFO", "Fetched page 3 of 10")
    assert error_signature(log, kind="timeout").text == TIMED_OUT_TEXT
    assert error_signature(log, kind="error").text == "Fetched page <n> of <n>"


def test_diagnosis_keeps_the_summary_line() -> None:
    result = diagnose(lambda_axios(503, "a1"), duration=0.8, timeout=10)
    assert result.kind == "crash"
    assert result.summary == "ERROR AxiosError: Request failed with status code 503"


# ------------------------------------------------------------------------------------------------
# Hostile text
# ------------------------------------------------------------------------------------------------

HOSTILE = [
    "\x1b]0;owned\x07\x1b]52;c;Y3VybCBodHRwOi8vZXZpbC5leGFtcGxlL3guc2ggfCBzaA==\x07"
    "[@click=app.quit]x[/]\nError: boom",
    "Error: [bold red]not markup[/] [/x] [@click=app.quit]quit[/]",
    "\x1b[31mUnhandled error: \x1b[0mbad\nTypeError: bad\n"
    "    at \x1b[1mhandler\x1b[0m (/var/task/index.js:1:1)",
    "Error: \u202eevil\u202c \u200bhidden \x9b31m C1",
    "Error: " + "A" * 200_000,
    "at f (" + "a" * 400 + ":1:" * 50_000,
    "Error: " + "'a" * 50_000,
    "Patient/1 " * 20_000,
    "\x00\x01\x02Error\x7f: nul",
]


@pytest.mark.parametrize("log", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_logs_give_short_safe_signatures(log: str) -> None:
    result = diagnose(log, duration=1.0)
    assert is_safe(result.signature.text) and is_safe(result.summary)
    assert len(result.signature.text) <= 2 * MAX_SIGNATURE_CHARS + 3
    assert result.kind in ("crash", "error")


def test_markup_stays_text_in_a_signature() -> None:
    signature = error_signature(HOSTILE[1])
    assert "[@click=app.quit]quit[/]" in signature.text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000), st.floats(min_value=0, max_value=1000, allow_nan=False))
def test_any_text_gives_a_safe_deterministic_signature(log: str, duration: float) -> None:
    first, second = diagnose(log, duration=duration), diagnose(log, duration=duration)
    assert first == second
    assert re.fullmatch(r"[0-9a-f]{12}", first.signature.key)
    assert is_safe(first.signature.text) and is_safe(first.summary)
    assert "\n" not in first.signature.text
