"""The shared, Textual-free formatting: above all the summary line of a run's output."""

from __future__ import annotations

from datetime import timedelta

import pytest

from botmon_tui.formatting import (
    SUMMARY_SCAN_CHARS,
    duration_text,
    outcome_kind_label,
    outcome_label,
    percentiles_text,
    plural,
    short_duration,
    summary_line,
)
from botmon_tui.medplum.models import outcome_info

# Medplum's vmcontext runner on an unhandled error: the bot's own lines, then
# "Unhandled error: <message>\n<stack>" and "Error <normalizeErrorString(err)>".
VMCONTEXT_AXIOS = """2025-03-14T09:26:53.512Z
Processing Patient/0a1b2c3d for ADT^A08
Looking up coverage at https://payer.example.com/eligibility
Unhandled error: Request failed with status code 500
AxiosError: Request failed with status code 500
    at settle (/usr/src/medplum/node_modules/axios/dist/node/axios.cjs:2019:12)
    at IncomingMessage.handleStreamEnd (/usr/src/medplum/node_modules/axios/dist/node/axios.cjs:3135:11)
    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)
Error Request failed with status code 500"""

# AWS Lambda's text format, with Medplum's parseLambdaLog having dropped START/END/REPORT.
LAMBDA_TYPEERROR = (
    "2025-03-14T09:26:53.512Z\t146fcfcf-c32b-43f5-82a6-ee0f3132d873\tINFO\tStarting eligibility check\n"
    "2025-03-14T09:26:53.600Z\t146fcfcf-c32b-43f5-82a6-ee0f3132d873\tERROR\tInvoke Error \t"
    '{"errorType":"TypeError","errorMessage":"Cannot read properties of undefined (reading \'id\')",'
    '"stack":["TypeError: Cannot read properties of undefined (reading \'id\')",'
    '"    at Runtime.handler (/var/task/index.js:12:30)"]}'
)

LAMBDA_WARNING = (
    "2025-03-14T09:26:53.512Z\t146fcfcf-c32b-43f5-82a6-ee0f3132d873\tINFO\tSyncing 12 orders\n"
    "2025-03-14T09:26:53.900Z\t146fcfcf-c32b-43f5-82a6-ee0f3132d873\tWARN\tRetrying order 7 (HTTP 503)\n"
    "2025-03-14T09:26:54.100Z\t146fcfcf-c32b-43f5-82a6-ee0f3132d873\tINFO\tSynced 12 orders"
)

NODE_UNCAUGHT = """[2025-03-14 09:26:53] Starting nightly export
[2025-03-14 09:26:54] Wrote 1,204 claims
/var/task/index.js:88
    throw new OperationOutcomeError(outcome);
    ^

OperationOutcomeError: Not found
    at handler (/var/task/index.js:88:11)
Node.js v20.11.1"""

HL7_NACK = """Received ADT^A01 MSG00001 from EPIC
MSH|^~\\&|MEDPLUM|DEMO|EPIC|HOSP|20250314092653||ACK^A01|ACK00001|P|2.5.1
MSA|AE|MSG00001|Invalid patient identifier in PID-3
ERR|^^^207&Application internal error&HL70357"""

PYTHON_TRACEBACK = """Traceback (most recent call last):
  File "/var/task/handler.py", line 12, in handler
    raise ValueError("missing coverage")
ValueError: missing coverage"""


@pytest.mark.parametrize(
    ("log", "summary"),
    [
        (VMCONTEXT_AXIOS, "Unhandled error: Request failed with status code 500"),
        (LAMBDA_TYPEERROR, "ERROR TypeError: Cannot read properties of undefined (reading 'id')"),
        (LAMBDA_WARNING, "WARN Retrying order 7 (HTTP 503)"),
        (NODE_UNCAUGHT, "OperationOutcomeError: Not found"),
        (HL7_NACK, "MSA|AE|MSG00001|Invalid patient identifier in PID-3"),
        (PYTHON_TRACEBACK, "ValueError: missing coverage"),
        # An error line wins over an earlier warning.
        ("WARN: token expires in 2 days\nFATAL: database unreachable", "FATAL: database unreachable"),
        # No error or warning: the last line that says something, without its timestamp.
        ("2025-03-14T09:26:53Z\n2025-03-14T09:26:53Z Processed 40 records\n", "Processed 40 records"),
        # Counts of nothing are not errors.
        ("Processed 40 messages, 0 errors\nfailed=0\nno failures\nDone in 3.1 s", "Done in 3.1 s"),
        ("errors: 0\nAll 3 batches sent", "All 3 batches sent"),
        # Colour codes from the bot's console are dropped; the symbol of a failed step counts.
        (
            "\x1b[32m✔\x1b[0m Parsed\n\x1b[31m✖ Connection refused by lis.example\x1b[0m",
            "✖ Connection refused by lis.example",
        ),
        # Stack frames and separators are never the summary.
        ("Result\n-----\n    at main (index.js:1:1)\n", "Result"),
    ],
    ids=[
        "vmcontext-axios",
        "lambda-typeerror",
        "lambda-warning",
        "node-uncaught",
        "hl7-nack",
        "python-traceback",
        "error-over-warning",
        "last-line",
        "negated-counts",
        "negated-after",
        "sgr-and-symbols",
        "frames-and-separators",
    ],
)
def test_summary_line_picks_the_line_that_matters(log: str, summary: str) -> None:
    assert summary_line(log) == summary


@pytest.mark.parametrize(
    "log", ["", "   \n\n", None, "2025-03-14T09:26:53.512Z", "[09:26:53]\n2025-03-14 09:26:53\n"]
)
def test_a_timestamp_alone_is_never_the_summary(log: str | None) -> None:
    assert summary_line(log) == ""


def test_summary_line_when_lower_case_changes_the_length() -> None:
    # "İ".lower() is two characters: the hint's position must not skip the error line.
    assert summary_line("İ" * 50 + "\nfailed\nok\nok\nok") == "failed"


def test_summary_line_is_sanitized_and_bounded() -> None:
    hostile = "Error: \x1b]52;c;ZXZpbA==\x07 [@click=app.quit]x[/] " + "y" * 500
    line = summary_line(hostile, limit=80)
    assert "\x1b" not in line and "\x07" not in line
    assert line.startswith("Error: ␛]52;c;ZXZpbA==␇ [@click=app.quit]x[/]")
    assert len(line) == 81 and line.endswith("…")


def test_summary_line_of_a_long_log_reads_its_head_and_its_tail() -> None:
    noise = "\n".join(f"row {n} imported" for n in range(20_000))  # ~300 kB
    assert len(noise) > 4 * SUMMARY_SCAN_CHARS
    assert summary_line(noise + "\nError: batch 7 rejected") == "Error: batch 7 rejected"
    assert summary_line("WARN: slow disk\n" + noise) == "WARN: slow disk"
    assert summary_line(noise + "\nDone") == "Done"


def test_plural_and_durations() -> None:
    assert plural(1, "event") == "1 event"
    assert plural(0, "event") == "0 events"
    assert plural(1200, "entry", "entries") == "1,200 entries"
    assert duration_text(timedelta(milliseconds=850)) == "850 ms"
    assert duration_text(None) == "—"


@pytest.mark.parametrize(
    ("code", "full", "short"),
    [
        ("0", "✓ Success", "✓ Success"),
        ("4", "▲ Minor failure", "▲ Minor"),
        ("8", "✗ Serious Failure", "✗ Serious"),
        ("12", "✖ Major failure", "✖ Major"),
        ("7", "? 7", "? 7"),
    ],
)
def test_outcome_labels_full_and_short(code: str, full: str, short: str) -> None:
    info = outcome_info(code)
    assert outcome_label(info, code=False) == full
    assert outcome_label(info, code=False, short=True) == short
    assert outcome_label(None, short=True, missing="no runs") == "no runs"


def test_the_p50_p95_cell_fits_eleven_cells() -> None:
    """The bot list's p50/p95 (issue #17): ``duration_text`` without its spaces, two of them."""
    assert [short_duration(s) for s in (0.38, 4.52, 33.04, 268.3, 7800.0)] == [
        "380ms",
        "4.5s",
        "33.0s",
        "4m28s",
        "2h10m",
    ]
    assert short_duration(None) == short_duration(float("nan")) == short_duration(-1.0) == "—"
    assert percentiles_text(0.376, 0.619) == "376ms/619ms"
    assert percentiles_text(None, None) == "—"
    assert max(len(percentiles_text(a, b)) for a in (0.999, 59.9, 599.0) for b in (0.999, 59.9, 599.0)) == 11


def test_the_kind_goes_next_to_the_outcome_in_the_longest_form_that_fits() -> None:
    minor, major, success = outcome_info("4"), outcome_info("12"), outcome_info("0")
    forms = [outcome_kind_label(minor, "timeout", width=w) for w in (None, 29, 25, 21, 17, 10, 3)]
    assert forms == [
        "▲ Minor failure (4) · timeout",
        "▲ Minor failure (4) · timeout",
        "▲ Minor failure · timeout",
        "▲ Minor (4) · timeout",
        "▲ Minor · timeout",
        "▲ timeout",
        "▲ timeout",  # (the shortest when none fits: the column cuts it)
    ]
    assert outcome_kind_label(major, "platform", code=False, width=26) == "✖ Major failure · platform"
    assert outcome_kind_label(major, "platform", code=False, width=25) == "✖ Major · platform"
    # Without a kind (a success, an unknown kind): the outcome as it always reads.
    assert outcome_kind_label(success, None) == "✓ Success (0)"
    assert outcome_kind_label(success, None, width=10) == "✓ Success"
    assert outcome_kind_label(None, None, missing="no runs") == "no runs"
