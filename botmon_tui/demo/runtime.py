"""From a bot's console calls to ``outcomeDesc``: what the runtimes and Medplum's server do to a log.

A run's console output is described as :class:`Output` (the ``console.*`` calls, and what ended
the run: an uncaught error, a timeout, a failure of the server's own). This module writes it the
way the runtime and the server do (read in Medplum's server ``bots/vmcontext.ts``,
``cloud/aws/execute.ts``, ``cloud/aws/deploy.ts``, ``util/console.ts``, ``util/auditevent.ts``):

* **awslambda**: each call is a line ``<ISO time>\\t<request id>\\t<LEVEL>\\t<message>`` (a message
  with newlines goes on over several lines). An uncaught error is logged twice: Medplum's wrapper
  ``console.log("Unhandled error: " + err.message + "\\n" + err.stack)``, then the runtime's
  ``ERROR\\tInvoke Error \\t{"errorType":...,"errorMessage":...,"stack":[...]}``. Medplum reads only
  ``LogResult``, the last 4 KB of the raw log (cut anywhere, mid-line too), decodes it as Node's
  ``ascii`` (each byte's high bit unset: ``é`` becomes ``C)``), drops the ``START`` line and
  everything from ``END``/``REPORT`` on, and trims it. A timeout's ``Task timed out after ...``
  line comes after ``END``: it never reaches the AuditEvent.
* **vmcontext**: ``MockConsole`` keeps each call's arguments joined by a space, lines joined by
  ``\\n``; an uncaught error is the wrapper's ``Unhandled error: <message>`` and its stack, then the
  server's ``Error <message>``; a synchronous timeout is ``Error Script execution timed out after
  <ms>ms``.
* the server's own failures (no bot code ran) are one message each (:data:`SERVER_FAILURES`).

Then ``createBotAuditEvent`` keeps the last :data:`MAX_LOG_CHARS` characters (``maxBotLogLengthForResource``,
JavaScript string units).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from botmon_tui.demo.fhirtime import format_ms

__all__ = [
    "LAMBDA_LOG_RESULT_BYTES",
    "MAX_LOG_CHARS",
    "SERVER_FAILURES",
    "Output",
    "Thrown",
    "keep_last_chars",
    "lambda_log",
    "render",
    "stack_text",
    "vm_log",
]

#: ``LogResult``: Lambda returns only the last 4 KB of the execution log.
LAMBDA_LOG_RESULT_BYTES = 4096
#: ``maxBotLogLengthForResource``'s default: 10 × 1,024 characters of a log are stored.
MAX_LOG_CHARS = 10 * 1024
#: The server's own failure messages: the whole log of a run whose bot code never ran.
SERVER_FAILURES = (
    "Bots not enabled",
    "Unsupported bot runtime",
    "VM Context bots not enabled on this server",
    "No executable code",
    "Executable code is not a Binary",
)
#: ``String.prototype.trim``'s whitespace, in the ASCII range a Lambda log is decoded to.
_JS_SPACE = " \t\n\v\f\r"
#: Node's ``ascii`` decoding: each byte with its high bit unset.
_SEVEN_BITS = bytes(b & 0x7F for b in range(256))
_LAMBDA_FILE = "/var/task/user.cjs"
_VM_FILE = "evalmachine.<anonymous>"


@dataclass(frozen=True, slots=True)
class Thrown:
    """An uncaught error: its class, message and stack frames.

    A frame is written as it prints after ``"    at "``; ``{file}`` stands for the bot's bundled
    code, which is ``/var/task/user.cjs`` on Lambda and ``evalmachine.<anonymous>`` in a vmcontext.
    """

    error_type: str
    message: str
    frames: tuple[str, ...] = ()


@dataclass(slots=True)
class Output:
    """What a run printed and how it ended."""

    #: ``console.*`` calls: ``(level, message)``, level one of INFO, WARN, ERROR, DEBUG.
    lines: list[tuple[str, str]] = field(default_factory=list)
    #: The error the handler threw (the run failed).
    thrown: Thrown | None = None
    #: The run used its whole timeout (the run failed).
    timed_out: bool = False
    #: The server's own failure (the whole log; no bot code ran).
    server_failure: str | None = None
    #: A log written as it is, bypassing the runtime (the older server's bot).
    raw: str | None = None

    @property
    def failed(self) -> bool:
        return self.thrown is not None or self.timed_out or self.server_failure is not None

    def log(self, message: str, level: str = "INFO") -> None:
        self.lines.append((level, message))


def stack_text(thrown: Thrown, runtime: str) -> str:
    """``err.stack`` as Node prints it, in the runtime's files."""
    if runtime == "vmcontext":
        own, tail = _VM_FILE, f"at async {_VM_FILE}:1311:20"
    else:
        own, tail = _LAMBDA_FILE, "at async /var/task/index.cjs:76:20"
    frames = [f.replace("{file}", own) for f in thrown.frames]
    return "\n".join([f"{thrown.error_type}: {thrown.message}", *("    " + f for f in [*frames, tail])])


def keep_last_chars(text: str, limit: int | None) -> str:
    """``text.substring(text.length - limit)``: the last ``limit`` UTF-16 code units (a character
    cut in half at the start is dropped); None keeps everything."""
    if limit is None or len(text) <= limit // 2:
        return text
    data = text.encode("utf-16-le", "surrogatepass")
    if len(data) <= 2 * limit:
        return text
    tail = data[-2 * limit :].decode("utf-16-le", "surrogatepass")
    return tail[1:] if "\udc00" <= tail[:1] <= "\udfff" else tail


def vm_log(output: Output, timeout_ms: int) -> str:
    """A vmcontext run's ``MockConsole.toString()`` plus the server's ``Error ...`` line."""
    messages = [message for _level, message in output.lines]
    if output.thrown is not None:
        messages.append(f"Unhandled error: {output.thrown.message}\n{stack_text(output.thrown, 'vmcontext')}")
        messages.append(f"Error {output.thrown.message}")
    elif output.timed_out:
        messages.append(f"Error Script execution timed out after {timeout_ms}ms")
    return "\n".join(messages)


def lambda_log(
    output: Output,
    *,
    request_id: str,
    start_ms: int,
    duration_ms: int,
    timeout_s: int,
    memory_mb: int = 180,
) -> str:
    """The log Medplum keeps of a Lambda run: ``LogResult``'s last 4 KB, read as Medplum reads it."""
    calls = list(output.lines)
    if output.thrown is not None:
        stack = stack_text(output.thrown, "awslambda")
        calls.append(("INFO", f"Unhandled error: {output.thrown.message}\n{stack}"))
        blob = {
            "errorType": output.thrown.error_type,
            "errorMessage": output.thrown.message,
            "stack": stack.split("\n"),
        }
        calls.append(("ERROR", "Invoke Error \t" + json.dumps(blob, separators=(",", ":"))))
    step = duration_ms // (len(calls) + 1) if calls else 0
    raw = [f"START RequestId: {request_id} Version: $LATEST"]
    for i, (level, message) in enumerate(calls, start=1):
        raw.append(f"{format_ms(start_ms + i * step)}\t{request_id}\t{level}\t{message}")
    report = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms"
        f"\tBilled Duration: {duration_ms + 1} ms\tMemory Size: 1024 MB\tMax Memory Used: {memory_mb} MB"
    )
    raw += [f"END RequestId: {request_id}", report + ("\tStatus: timeout" if output.timed_out else "")]
    if output.timed_out:
        raw.append(
            f"{format_ms(start_ms + duration_ms)} {request_id} Task timed out after "
            f"{timeout_s + (duration_ms % 97) / 1000:.2f} seconds"
        )
    data = ("\n".join(raw) + "\n").encode("utf-8")[-LAMBDA_LOG_RESULT_BYTES:]
    kept: list[str] = []
    for line in data.translate(_SEVEN_BITS).decode("ascii").split("\n"):
        if line.startswith("START RequestId: "):
            continue
        if line.startswith(("END RequestId: ", "REPORT RequestId: ")):
            break
        kept.append(line)
    return "\n".join(kept).strip(_JS_SPACE)


def render(
    output: Output,
    runtime: str,
    *,
    request_id: str,
    start_ms: int,
    duration_ms: int,
    timeout_s: int | None,
    max_chars: int | None = MAX_LOG_CHARS,
) -> str:
    """``outcomeDesc`` of a run of a bot on ``runtime`` (``timeout_s`` None: the bot's default)."""
    if output.raw is not None:
        text = output.raw
    elif output.server_failure is not None:
        text = output.server_failure
    elif runtime == "vmcontext":
        text = vm_log(output, (timeout_s or 10) * 1000)
    else:
        text = lambda_log(
            output,
            request_id=request_id,
            start_ms=start_ms,
            duration_ms=duration_ms,
            timeout_s=timeout_s or 10,
            memory_mb=120 + duration_ms % 200,
        )
    return keep_last_chars(text, max_chars)


def lines_of(messages: Sequence[str], level: str = "INFO") -> list[tuple[str, str]]:
    return [(level, m) for m in messages]
