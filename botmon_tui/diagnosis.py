"""What kind of failure a failed run was, and its error signature: from its text and its timing.

Medplum writes outcome ``4`` for every failed bot run (``bots/execute.ts``: a thrown error, a
timeout and a platform error alike), so the severity an on-call engineer needs comes from the run
itself. :func:`failure_kind` reads, first match wins:

* ``platform``: the log is one of the server's own messages (no bot code ran, or it could not
  start): ``Bots not enabled``, ``Unsupported bot runtime``, ``VM Context bots not enabled on this
  server``, ``No executable code``, ``Executable code is not a Binary``, ``Lambda error: ...``;
* ``timeout``: the log says the script or task timed out (vmcontext's "Script execution timed out",
  Lambda's "Task timed out after", which Medplum usually cuts away);
* ``crash``: an uncaught exception (vmcontext's ``Unhandled error``; Lambda's ``Invoke Error``,
  ``Uncaught Exception`` or ``Unhandled Promise Rejection`` line with an ``errorType``);
* ``timeout`` again: the run lasted at least 95 % of the bot's ``timeout``
  (``monitor/durations.py``: ``TIMED_OUT``, ``bot_timeout``; a Lambda timeout leaves no line of its
  own). An uncaught exception wins over the timing: the error was
  thrown before the deadline, and a subscription-triggered run's period includes its wait in the
  queue;
* ``error``: any other failed run.

An **error signature** (:func:`error_signature`) groups failures with one cause, as Sentry's
fingerprints do: the run's error line (:func:`botmon_tui.formatting.summary_line`) plus the first
stack frame of the bot's own code (not ``node_modules``, not ``node:`` internals, not Lambda's
``/var/runtime``), with the values that differ from run to run replaced (UUIDs, FHIR ids after
``Type/``, hex, request ids, timestamps, durations, counts, quoted values). Error class names and
HTTP status codes stay: "status code 503 for Patient/a1" and "... for Patient/b2" are one signature,
503 and 500 are two. :attr:`Signature.key` is a short stable hash of :attr:`Signature.text`.

Pure text work, bounded whatever the log's size (:data:`SCAN_CHARS`); no Textual, no request.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from botmon_tui.formatting import duration_text, reads_as_problem, summary_line
from botmon_tui.medplum.models import AuditEvent
from botmon_tui.monitor.durations import DEFAULT_TIMEOUT, TIMED_OUT, duration_seconds, seconds_of
from botmon_tui.textsafe import clip, strip_sgr

__all__ = [
    "FAILURE_KINDS",
    "PLATFORM_MESSAGES",
    "Diagnosis",
    "FailureKind",
    "Signature",
    "diagnose",
    "diagnose_event",
    "error_signature",
    "failure_kind",
    "normalise_error",
    "own_frame",
    "run_kind",
    "signature_of",
    "timed_out_by_clock",
]

FailureKind = Literal["timeout", "crash", "platform", "error"]
#: Every kind, most telling first.
FAILURE_KINDS: tuple[FailureKind, ...] = ("platform", "timeout", "crash", "error")

#: The server's own failure messages (``bots/execute.ts``, ``bots/vmcontext.ts``, ``bots/lambda.ts``):
#: the whole log of a run that never reached the bot's code.
PLATFORM_MESSAGES = (
    "Bots not enabled",
    "Unsupported bot runtime",
    "VM Context bots not enabled on this server",
    "No executable code",
    "Executable code is not a Binary",
    "Lambda error:",
)
#: Most of a log read for its kind and its frame: its head and its tail, half each (Medplum keeps
#: the last 10 KiB; a larger log costs no more).
SCAN_CHARS = 16 * 1024
#: Longest signature text kept (a 200 kB error line becomes this, then a hash).
MAX_SIGNATURE_CHARS = 300
#: The signature of a run that printed nothing.
NO_OUTPUT = "(no output)"
#: The signature of a timed-out run whose log says nothing went wrong (its last line would differ
#: from run to run).
TIMED_OUT_TEXT = "timed out"


@dataclass(frozen=True, slots=True)
class Signature:
    """One cause of failures: a readable normalised text and a short stable key (its hash)."""

    #: 12 hexadecimal digits (BLAKE2b of :attr:`text`): the same text gives the same key in every
    #: process and on every machine.
    key: str
    #: The error line with its varying values replaced, and the bot's own frame after ``@``:
    #: ``AxiosError: Request failed with status code 503 @ fetchPatient (index.js)``.
    text: str


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """What a failed run was: its kind, its signature and its error line (sanitized)."""

    kind: FailureKind
    signature: Signature
    #: The line of its output that says what went wrong (``formatting.summary_line``); for a
    #: timeout that printed no error, what the timing says.
    summary: str


# ------------------------------------------------------------------------------------------------
# Kind
# ------------------------------------------------------------------------------------------------

#: What the runtimes write when they stop a run at its timeout (vmcontext: "Script execution timed
#: out after 10000ms"; Lambda: "Task timed out after 10.00 seconds", usually cut away by Medplum).
_TIMED_OUT = ("Script execution timed out", "Task timed out")
#: Lambda's Node runtime: the line of an error it caught, with its JSON (``errorType`` tells it is one).
_LAMBDA_ERRORS = ("Invoke Error", "Uncaught Exception", "Unhandled Promise Rejection")


def _scanned(log: object) -> str:
    """The part of ``log`` that is read: all of it, or its head and tail (:data:`SCAN_CHARS`)."""
    text = log if isinstance(log, str) else ("" if log is None else str(log))
    if len(text) > SCAN_CHARS:
        half = SCAN_CHARS // 2
        text = text[:half] + "\n" + text[-half:]
    return text


def _platform(text: str) -> bool:
    """The log is one of the server's own messages (it is the whole log: no bot code ran)."""
    return text[:400].lstrip().startswith(PLATFORM_MESSAGES)


def _crashed(text: str) -> bool:
    if "Unhandled error" in text:
        return True
    for label in _LAMBDA_ERRORS:
        at = text.find(label)
        while at >= 0:
            end = text.find("\n", at)
            if "errorType" in text[at : end if end >= 0 else len(text)]:
                return True
            at = text.find(label, at + len(label))
    return False


def timed_out_by_clock(duration: float | None, timeout: float) -> bool:
    """The run used :data:`~botmon_tui.monitor.durations.TIMED_OUT` of its bot's timeout, or more."""
    return duration is not None and timeout > 0 and duration >= TIMED_OUT * timeout


def failure_kind(
    log: object, *, duration: float | None = None, timeout: float = DEFAULT_TIMEOUT
) -> FailureKind:
    """The kind of a failed run from its log and how long it took (``duration`` in seconds,
    ``timeout`` its bot's, ``durations.bot_timeout``). See the module docstring for the rules."""
    return _kind(_scanned(log), duration, timeout)


def _kind(text: str, duration: float | None, timeout: float) -> FailureKind:
    if _platform(text):
        return "platform"
    if "timed out" in text and any(marker in text for marker in _TIMED_OUT):
        return "timeout"
    if _crashed(text):
        return "crash"
    if timed_out_by_clock(duration, timeout):
        return "timeout"
    return "error"


# ------------------------------------------------------------------------------------------------
# Signature
# ------------------------------------------------------------------------------------------------

#: A Node stack frame: ``at fn (file:line:col)``, ``at async fn (file:line:col)``, ``at file:line:col``.
#: Found anywhere on a line (a Lambda error's frames are inside its JSON); the word boundary before
#: ``at`` is checked in :func:`own_frame` (a pattern starting with a literal is found fast).
_FRAME_RE = re.compile(
    r"at (?:async )?(?:(?P<fn>[^\s()\"'\\]{1,120}(?: \[as [^\]\s]{1,60}\])?) \()?"
    r"(?P<file>[^\s()\"'\\]{1,300}?):\d{1,7}:\d{1,7}\)?"
)
#: Frames that are not the bot's own code: dependencies, Node's internals, Lambda's runtime.
_NOT_OWN = ("node_modules/", "node:", "/var/runtime/", "internal/")
_FILE_PREFIXES = ("file://", "/var/task/")
#: The line after vmcontext's "Unhandled error: <message>": the error's class and message.
_CLASS_LINE_RE = re.compile(r"(?:[A-Za-z_$][\w$.]{0,100})?(?:Error|Exception|Rejection)\b[^\n]{0,100}: ")
#: A log level in front of an error line (``formatting.summary_line`` keeps Lambda's).
_LEVEL_RE = re.compile(r"^(?:ERROR|WARN|FATAL|CRITICAL|INFO|DEBUG)\s+")

_ISO_TIME = (
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"
)
_UUID = r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
#: ``Patient/123``, ``QuestionnaireResponse/3f1c/_history/2``: a CamelCase type (not ``TCP/IP``,
#: ``I/O`` or ``HTTP/1.1``) and an id.
_FHIR_REF = r"\b(?P<type>[A-Z][a-z]+(?:[A-Z][a-z]*)*)/[A-Za-z0-9\-.]{1,64}(?:/_history/[A-Za-z0-9\-.]{1,64})?"
_REQUEST_ID = (
    r"(?i:\b(?P<idname>x-request-id|x-amzn-requestid|request[-_ ]?id|trace[-_ ]?id|correlation[-_ ]?id"
    r"|span[-_ ]?id)\b)(?P<idsep>[\s:=\"']{1,3})[^\s,;)\"']{1,200}"
)
_QUOTED = r"(?<![\w\\])(?P<q>['\"`])[^'\"`\n]{0,500}(?P=q)(?!\w)"
_HEX = r"\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"
_DURATION = r"\b\d+(?:\.\d+)?\s?(?:ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)\b"
#: A word with a long number in it: an HL7 control id (``MSG00001``), an order number.
_NUMBERED_ID = r"\b[A-Za-z_]+[-_]?\d{4,}\b"
_NUMBER = r"\b\d+(?:[.,]\d+)*\b"

#: What comes right before an HTTP status code (kept): "status code 503", "HTTP 500", "statusCode: 502".
_STATUS_BEFORE_RE = re.compile(
    r"(?i:(?:status(?:[ _-]?code)?|http(?:/[\d.]+)?|code|response)[\s:=\"']{0,3})$"
)
#: ... or right after it: "503 Service Unavailable", "404 Not Found".
_STATUS_AFTER_RE = re.compile(r" ?(?:[A-Z][a-z]+|OK\b)")


def _number(match: re.Match[str]) -> str:
    """A count or an id becomes ``<n>``; an HTTP status code stays (``status code 503``,
    ``HTTP 500``, ``503 Service Unavailable``)."""
    text = match.group(0)
    if len(text) == 3 and "100" <= text <= "599":
        source = match.string
        before = source[max(0, match.start() - 24) : match.start()]
        if _STATUS_BEFORE_RE.search(before) or _STATUS_AFTER_RE.match(source, match.end()):
            return text
    return "<n>"


Replacement = str | Callable[[re.Match[str]], str]
#: The replacements, in order, each after a cheap test of whether it can apply (a few characters
#: one of which it needs, or a short pattern): most error lines hold no quote, no UUID, no ``/``,
#: and the pattern, which tries every position, is then not run at all.
_Gate = str | re.Pattern[str]
_STEPS: tuple[tuple[re.Pattern[str], _Gate, Replacement], ...] = (
    (re.compile(_QUOTED), "'\"`", lambda m: f"{m.group('q')}<v>{m.group('q')}"),
    (re.compile(_FHIR_REF), "/", lambda m: f"{m.group('type')}/<id>"),
    (re.compile(_UUID), re.compile(r"[0-9a-fA-F]{8}-"), "<uuid>"),
    (re.compile(_ISO_TIME), re.compile(r"\d[:-]\d"), "<time>"),
    (
        re.compile(_REQUEST_ID),
        re.compile(r"(?i)id\b"),
        lambda m: f"{m.group('idname')}{m.group('idsep')}<id>",
    ),
    (re.compile(_HEX), re.compile(r"0x|[0-9a-fA-F]{8}"), "<hex>"),
    (re.compile(_DURATION), re.compile(r"\d ?[a-z]"), "<duration>"),
    (re.compile(_NUMBERED_ID), re.compile(r"\d{4}"), "<id>"),
    (re.compile(_NUMBER), "0123456789", _number),
)


def normalise_error(line: str) -> str:
    """``line`` with the values that vary from run to run replaced by placeholders (``<uuid>``,
    ``Patient/<id>``, ``<hex>``, ``request id <id>``, ``<time>``, ``<duration>``, ``<n>``,
    ``'<v>'``), error class names and HTTP status codes kept, whitespace collapsed, at most
    :data:`MAX_SIGNATURE_CHARS` characters."""
    text = " ".join(line[: MAX_SIGNATURE_CHARS * 4].split())
    text = _LEVEL_RE.sub("", text, count=1)
    for pattern, gate, replacement in _STEPS:
        if gate.search(text) is not None if isinstance(gate, re.Pattern) else any(c in text for c in gate):
            text = pattern.sub(replacement, text)
    return text[:MAX_SIGNATURE_CHARS]


def own_frame(log: object) -> str | None:
    """The first stack frame of the bot's own code in ``log``, as ``fn (file)`` without line and
    column (they move with every deploy); ``None`` when every frame is a dependency's, Node's or
    the Lambda runtime's, or there is none."""
    return _own_frame(_scanned(log))


def _own_frame(text: str) -> str | None:
    start = text.find("at ")
    if start < 0:
        return None
    for match in _FRAME_RE.finditer(text, start):
        at = match.start()
        if at > 0 and (text[at - 1].isalnum() or text[at - 1] == "_"):
            continue
        file = match.group("file")
        if any(part in file for part in _NOT_OWN):
            continue
        for prefix in _FILE_PREFIXES:
            if file.startswith(prefix):
                file = file[len(prefix) :]
        function = match.group("fn")
        frame = f"{function} ({file})" if function else file
        return clip(frame, 200)
    return None


def _error_line(text: str, summary: str) -> str:
    """The summary line, with vmcontext's "Unhandled error: <message>" read as the class and
    message on the line after it (``TypeError: <message>``), the way Lambda reports it."""
    line = _LEVEL_RE.sub("", summary, count=1)
    if not line.startswith("Unhandled error: "):
        return line
    at = text.find("Unhandled error: ")
    end = text.find("\n", at) if at >= 0 else -1
    if end >= 0:
        nxt = text[end + 1 : end + 1 + 400]
        match = _CLASS_LINE_RE.match(nxt)
        if match:
            return clip(strip_sgr(nxt.split("\n", 1)[0]), 300)
    return line


def signature_of(text: str) -> Signature:
    """The :class:`Signature` of an already normalised ``text``."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=6).hexdigest()
    return Signature(digest, text)


def error_signature(log: object, summary: str | None = None, *, kind: FailureKind = "error") -> Signature:
    """The signature of a failed run's ``log`` (``summary``: its summary line when already known;
    ``kind``: its kind, which decides what a log with no error line is signed by)."""
    text = _scanned(log)
    if summary is None:
        summary = summary_line(text)
    return _signature(text, summary, kind)


def _signature(text: str, summary: str, kind: FailureKind) -> Signature:
    if kind == "timeout" and not (summary and reads_as_problem(summary)):
        return signature_of(TIMED_OUT_TEXT)
    if not summary:
        return signature_of(NO_OUTPUT)
    normal = normalise_error(_error_line(text, summary))
    frame = _own_frame(text)
    if frame is not None:
        normal = f"{normal} @ {normalise_error(frame)}"
    return signature_of(normal)


def diagnose(
    log: object,
    *,
    duration: float | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    summary: str | None = None,
) -> Diagnosis:
    """The kind, signature and summary of a failed run's ``log`` (``summary``: its summary line,
    when already known). Bounded work on any log (:data:`SCAN_CHARS`)."""
    scanned = _scanned(log)
    if summary is None:
        summary = summary_line(scanned)
    kind = _kind(scanned, duration, timeout)
    signature = _signature(scanned, summary, kind)
    if kind == "timeout" and not (summary and reads_as_problem(summary)):
        summary = _timeout_summary(duration, timeout)
    return Diagnosis(kind, signature, summary)


def _timeout_summary(duration: float | None, timeout: float) -> str:
    took = f" after {duration_text(duration)}" if duration is not None else ""
    return f"timed out{took} (timeout {duration_text(timeout)})"


def run_kind(log: object, duration: timedelta | None, timeout: float = DEFAULT_TIMEOUT) -> FailureKind:
    """:func:`failure_kind` of a failed run's output and its duration (``period.end`` −
    ``period.start``): the kind the Event tab shows next to each failed run's outcome."""
    return failure_kind(log, duration=seconds_of(duration), timeout=timeout)


def diagnose_event(
    event: AuditEvent, timeout: float = DEFAULT_TIMEOUT, *, summary: str | None = None
) -> Diagnosis:
    """:func:`diagnose` of a failed run's AuditEvent (its ``outcomeDesc`` and ``period``)."""
    return diagnose(event.outcomeDesc, duration=duration_seconds(event), timeout=timeout, summary=summary)
