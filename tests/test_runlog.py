"""A run's console output read as Medplum writes it (``botmon_tui.runlog``), and the line the
summary comes from (``formatting.summarize``): Lambda, vmcontext and plain logs, hostile text
inside the JSON of a Lambda error, truncation marks."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from runlog_support import INVOKE_ERROR, RID, lambda_line

from botmon_tui.formatting import SUMMARY_SCAN_CHARS, summarize, summary_line
from botmon_tui.runlog import (
    ERROR,
    FRAME,
    LINE,
    MAX_FRAMES,
    MAX_PARSE_CHARS,
    MORE,
    STORED_LOG_CHARS,
    log_lines,
    parse_log,
    utf16_length,
)
from botmon_tui.textsafe import is_safe

lam = lambda_line


def invoke_error(blob: object, label: str = "Invoke Error ") -> str:
    text = blob if isinstance(blob, str) else json.dumps(blob)
    return lam("09:26:54.100", "ERROR", f"{label}\t{text}")


TYPE_ERROR = INVOKE_ERROR

LAMBDA_LOG = "\n".join(
    [
        lam("09:26:53.512", "INFO", "Processing QuestionnaireResponse/3f1c"),
        lam("09:26:53.900", "WARN", "Questionnaire has no scoring rule: using defaults"),
        invoke_error(TYPE_ERROR),
    ]
)

# Medplum's vmcontext runner: "Unhandled error: " + err.message + "\n" + err.stack, then the
# server's botConsole.log('Error', normalizeErrorString(err)).
VMCONTEXT_LOG = """Processing QuestionnaireResponse/3f1c
Unhandled error: Cannot read properties of undefined (reading 'reference')
TypeError: Cannot read properties of undefined (reading 'reference')
    at exports.handler (evalmachine.<anonymous>:41:37)
    at Script.runInContext (node:vm:149:12)
Error Cannot read properties of undefined (reading 'reference')"""


# ---------------------------------------------------------------------------------------- Lambda


def test_a_lambda_log_reads_as_time_level_and_message_with_the_request_id_once() -> None:
    log = parse_log(LAMBDA_LOG)
    assert log.shape == "lambda" and log.request_id == RID and log.truncated is None
    info, warn, error, *frames = log.entries
    assert (info.kind, info.level, info.text) == (LINE, "INFO", "Processing QuestionnaireResponse/3f1c")
    assert info.when == datetime(2025, 3, 14, 9, 26, 53, 512000, tzinfo=UTC)
    assert (warn.level, warn.text) == ("WARN", "Questionnaire has no scoring rule: using defaults")
    assert not any(entry.request_id for entry in log.entries)  # the same id: held once
    # The Invoke Error blob is the error and its frames, one per row; the stack's first line (the
    # message again) is not repeated.
    assert (error.kind, error.level) == (ERROR, "ERROR")
    assert error.text == "TypeError: Cannot read properties of undefined (reading 'reference')"
    assert [(f.kind, f.text) for f in frames] == [
        (FRAME, "at handler (/var/task/index.js:41:37)"),
        (FRAME, "at async Runtime.handler (file:///var/runtime/index.mjs:1173:22)"),
    ]
    assert all(entry.first == entry.last == 2 for entry in [error, *frames])


def test_the_summary_line_of_a_lambda_log_is_found_in_its_entries() -> None:
    summary = summarize(LAMBDA_LOG)
    assert summary.text == "ERROR TypeError: Cannot read properties of undefined (reading 'reference')"
    assert summary.line == 2
    log = parse_log(LAMBDA_LOG)
    index = log.entry_at(summary.line)
    assert index is not None and log.entries[index].kind == ERROR


def test_medplums_lambda_wrapper_logs_the_error_and_its_stack_then_the_runtime_its_invoke_error() -> None:
    """The bot layer's ``console.log("Unhandled error: " + err.message + "\\n" + err.stack)`` is one
    INFO line of several lines; the runtime's Invoke Error after it says the same error again."""
    stack = [
        "TypeError: Cannot read properties of undefined (reading 'coding')",
        "    at mapPerformerRole (/var/task/user.cjs:1342:40)",
        "    at async /var/task/index.cjs:76:20",
    ]
    blob = {"errorType": "TypeError", "errorMessage": stack[0].split(": ", 1)[1], "stack": stack}
    text = "\n".join(
        [
            lam("11:57:20.106", "INFO", "Routing DiagnosticReport/6872b5ff"),
            lam(
                "11:57:20.437",
                "INFO",
                "Unhandled error: Cannot read properties of undefined (reading 'coding')",
            ),
            *stack,
            invoke_error(blob),
        ]
    )
    log = parse_log(text)
    assert log.shape == "lambda"  # (3 of its 6 lines have the prefix: the others continue one)
    assert [(e.kind, e.text) for e in log.entries] == [
        (LINE, "Routing DiagnosticReport/6872b5ff"),
        (ERROR, stack[0]),
        (FRAME, "at mapPerformerRole (/var/task/user.cjs:1342:40)"),
        (FRAME, "at async /var/task/index.cjs:76:20"),
        (ERROR, stack[0]),  # the Invoke Error's row, its frames not said twice
    ]
    assert (log.entries[1].first, log.entries[1].last, log.entries[4].level) == (1, 4, "ERROR")
    summary = summarize(text)
    assert summary.line == 1 and log.entry_at(summary.line) == 1
    assert {log.entry_at(n) for n in range(1, 5)} == {1}


@pytest.mark.parametrize("label", ["Invoke Error ", "Uncaught Exception ", "Unhandled Promise Rejection "])
def test_each_error_line_of_the_node_runtime_is_read(label: str) -> None:
    log = parse_log(invoke_error(TYPE_ERROR, label))
    assert log.entries[0].text.startswith("TypeError: Cannot read properties")


def test_multi_line_messages_other_request_ids_and_frames_the_bot_printed() -> None:
    text = "\n".join(
        [
            lam("09:26:53.000", "INFO", "Loaded config", rid="undefined"),
            lam("09:26:53.512", "INFO", "Sending bundle:"),
            "{",
            '  "resourceType": "Bundle"',
            "}",
            lam("09:26:53.700", "ERROR", "AxiosError: Request failed with status code 503"),
            "    at settle (/var/task/node_modules/axios/lib/core/settle.js:19:12)",
            lam("09:26:54.000", "INFO", "done"),
        ]
    )
    log = parse_log(text)
    assert log.shape == "lambda" and log.request_id == RID
    assert log.entries[0].request_id == "undefined"  # a line logged outside the request
    assert [(e.kind, e.text) for e in log.entries[2:5]] == [
        (LINE, "{"),
        (LINE, '  "resourceType": "Bundle"'),
        (LINE, "}"),
    ]
    assert all(e.when is None and not e.level for e in log.entries[2:5])  # (continuations)
    assert (log.entries[6].kind, log.entries[6].text) == (
        FRAME,
        "at settle (/var/task/node_modules/axios/lib/core/settle.js:19:12)",
    )


def test_a_lambda_log_cut_by_the_4_kb_log_result_is_marked() -> None:
    whole = "\n".join(lam(f"09:26:{n % 60:02d}.000", "INFO", f"step {n} " + "x" * 40) for n in range(80))
    # LogResult is the last 4 KB: the first line starts in the middle.
    cut = whole[-3900:]
    assert not cut.startswith("2025")
    log = parse_log(cut)
    assert log.shape == "lambda"
    assert log.truncated is not None and "the server keeps only the end of the log" in log.truncated
    assert "4 KB" in log.truncated
    assert log.entries[0].kind == LINE and log.entries[0].when is None  # the partial line, as it is
    # A short, whole Lambda log is not.
    assert parse_log(LAMBDA_LOG).truncated is None


def test_a_stored_log_at_the_cap_is_marked_possibly_truncated() -> None:
    line = "row imported\n"
    at_cap = (line * STORED_LOG_CHARS)[-STORED_LOG_CHARS:]
    log = parse_log(at_cap)
    assert log.truncated is not None and f"{STORED_LOG_CHARS:,} characters" in log.truncated
    assert parse_log(at_cap[1:]).truncated is None
    # JavaScript counts an emoji as two: 5,120 of them are at the cap too.
    emoji = "🚑" * (STORED_LOG_CHARS // 2)
    assert utf16_length(emoji) == STORED_LOG_CHARS and parse_log(emoji).truncated is not None


# ------------------------------------------------------------------------------- hostile JSON


@pytest.mark.parametrize(
    ("blob", "shown"),
    [
        # Markup and escape sequences inside the JSON's strings (JSON escapes decode to ESC, BEL).
        (
            {
                "errorType": "[@click=app.quit]x[/]",
                "errorMessage": "\u001b]52;c;ZXZpbA==\u0007 [bold]boom[/]",
                "stack": ["\u001b[2J    at x (y.js:1:1)"],
            },
            "[@click=app.quit]x[/]: ␛]52;c;ZXZpbA==␇ [bold]boom[/]",
        ),
        # Wrong types are ignored, the rest still read.
        (
            {"errorType": 7, "errorMessage": "only the message", "stack": "    at a (b.js:1:2)"},
            "only the message",
        ),
        ({"errorType": "RangeError", "errorMessage": {"nested": True}, "stack": None}, "RangeError"),
    ],
    ids=["markup-and-escapes", "wrong-types", "object-message"],
)
def test_hostile_text_inside_an_invoke_error_is_sanitized(blob: object, shown: str) -> None:
    log = parse_log(invoke_error(blob))
    error = log.entries[0]
    assert error.kind == ERROR and error.text == shown
    assert all(is_safe(e.text) for e in log.entries)


@pytest.mark.parametrize(
    "blob",
    [
        '{"errorType":"TypeError","errorMessage":"cut in the mid',  # broken JSON
        "[" * 30_000 + "]" * 30_000,  # nesting deep enough to exhaust the parser
        '["not", "an", "object"]',
        "{}",
        "no json at all",
    ],
    ids=["broken", "deep", "array", "empty-object", "no-json"],
)
def test_an_error_line_whose_json_cannot_be_read_stays_a_line(blob: str) -> None:
    log = parse_log(invoke_error(blob))
    [entry] = log.entries
    assert entry.kind == LINE and entry.level == "ERROR" and entry.text.startswith("Invoke Error")


def test_huge_strings_and_stacks_inside_the_json_are_bounded() -> None:
    blob = {
        "errorType": "Error",
        "errorMessage": "m" * 30_000,
        "stack": [f"    at f{n} (index.js:{n}:1)" for n in range(500)] + ["    at " + "z" * 10_000],
    }
    text = invoke_error(blob)
    assert len(text) < MAX_PARSE_CHARS
    log = parse_log(text)
    error, *rest = log.entries
    assert len(error.text) < 5_000 and error.text.endswith("…")
    frames = [e for e in rest if e.kind == FRAME]
    assert len(frames) == MAX_FRAMES
    assert rest[-1].kind == MORE and rest[-1].text == f"… {501 - MAX_FRAMES:,} more frames"


def test_control_characters_on_a_lambda_line_never_reach_an_entry() -> None:
    text = lam("09:26:53.512", "INFO", "\x1b]0;owned\x07 \x9b2J [@click=app.quit]x[/] \u202eevil")
    [entry] = parse_log(text).entries
    assert is_safe(entry.text) and "[@click=app.quit]x[/]" in entry.text


def test_colour_codes_are_kept_apart_for_the_colour_renderer_only() -> None:
    text = lam("09:26:53.512", "INFO", "\x1b[32mok\x1b[0m done") + "\n" + "plain \x1b[31mred\x1b[0m"
    first, second = parse_log(text).entries
    assert first.text == "ok done" and first.colour == "\x1b[32mok\x1b[0m done"
    assert second.text == "plain red" and second.colour == "plain \x1b[31mred\x1b[0m"


# ------------------------------------------------------------------------------------- vmcontext


def test_a_vmcontext_unhandled_error_its_stack_and_the_server_line_are_one_error() -> None:
    log = parse_log(VMCONTEXT_LOG)
    assert log.shape == "vmcontext" and log.request_id is None
    line, error, *frames = log.entries
    assert (line.kind, line.text) == (LINE, "Processing QuestionnaireResponse/3f1c")
    assert error.kind == ERROR
    assert error.text == "TypeError: Cannot read properties of undefined (reading 'reference')"
    # The error stands for its lines: from "Unhandled error" to the server's "Error ..." line.
    assert (error.first, error.last) == (1, 5)
    assert [f.text for f in frames] == [
        "at exports.handler (evalmachine.<anonymous>:41:37)",
        "at Script.runInContext (node:vm:149:12)",
    ]
    summary = summarize(VMCONTEXT_LOG)
    assert summary.line == 1 and log.entry_at(summary.line) == 1
    # Each line of the block leads to the error.
    assert {log.entry_at(n) for n in range(1, 6)} == {1}


def test_vmcontext_errors_that_are_not_error_objects() -> None:
    thrown_object = 'Unhandled error: {\n  "code": 42\n}\nError [object Object]'
    log = parse_log(thrown_object)
    assert log.entries[0].kind == ERROR
    assert log.entries[0].text == 'Unhandled error: {\n  "code": 42\n}'
    assert log.entries[1].text == "[object Object]"  # another message: kept
    thrown_string = "before\nUnhandled error: boom\nError boom"
    log = parse_log(thrown_string)
    assert [(e.kind, e.text) for e in log.entries] == [(LINE, "before"), (ERROR, "Unhandled error: boom")]
    assert log.entries[1].last == 2
    # A synchronous timeout logs only the server's line.
    log = parse_log("Loaded 12 rows\nError Script execution timed out after 10000ms")
    assert log.shape == "text"
    assert (
        log.entries[-1].kind == ERROR and log.entries[-1].text == "Script execution timed out after 10000ms"
    )


def test_an_unhandled_line_without_a_stack_leaves_the_lines_after_it_alone() -> None:
    log = parse_log("Unhandled error: boom\nretrying\nok")
    assert [(e.kind, e.text) for e in log.entries] == [
        (ERROR, "Unhandled error: boom"),
        (LINE, "retrying"),
        (LINE, "ok"),
    ]


# --------------------------------------------------------------------------- sizes and numbering


def test_line_numbers_count_cr_lf_and_lone_cr_as_the_sanitizer_does() -> None:
    text = "one\r\ntwo\rthree\nError: four"
    assert log_lines(text) == ["one", "two", "three", "Error: four"]
    assert summarize(text) == ("Error: four", 3)
    assert parse_log(text).entries[3].first == 3


def test_the_summary_line_of_a_long_log_is_numbered_in_the_whole_log() -> None:
    noise = "\n".join(f"row {n} imported" for n in range(20_000))  # ~300 kB
    assert len(noise) > 4 * SUMMARY_SCAN_CHARS
    assert summarize(noise + "\nError: batch 7 rejected") == ("Error: batch 7 rejected", 20_000)
    assert summarize("WARN: slow disk\n" + noise) == ("WARN: slow disk", 0)
    assert summarize(noise + "\r\nDone") == ("Done", 20_000)
    crlf = noise.replace("\n", "\r\n")
    assert summarize(crlf + "\r\nError: late") == ("Error: late", 20_000)


def test_a_log_too_long_to_parse_is_shown_as_it_is() -> None:
    log = parse_log("x\n" * (MAX_PARSE_CHARS // 2 + 1))
    assert log.shape == "raw" and log.entries == ()
    assert parse_log("").shape == parse_log(None).shape == "empty"


@settings(deadline=None, max_examples=300)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=60),
            st.builds(lam, st.just("09:26:53.512"), st.sampled_from(["INFO", "ERROR"]), st.text(max_size=40)),
            st.builds(
                invoke_error,
                st.dictionaries(
                    st.sampled_from(["errorType", "errorMessage", "stack"]),
                    st.one_of(
                        st.text(max_size=30), st.lists(st.text(max_size=20), max_size=4), st.integers()
                    ),
                ),
            ),
            st.sampled_from(["Unhandled error: x", "    at f (a.js:1:1)", "Error x", "TypeError: x"]),
        ),
        max_size=12,
    )
)
def test_any_log_parses_safely_and_its_summary_line_has_an_entry(lines: list[str]) -> None:
    text = "\n".join(lines)
    log = parse_log(text)
    assert all(is_safe(entry.text) for entry in log.entries)
    assert all(entry.first <= entry.last < max(1, log.lines) for entry in log.entries)
    summary = summarize(text)
    assert summary.text == summary_line(text)
    if summary.line is not None and log.shape != "raw":
        assert 0 <= summary.line < log.lines
        assert log.entry_at(summary.line) is not None
