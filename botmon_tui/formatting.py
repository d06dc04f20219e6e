"""How values read, for the TUI and the command line alike: ages, durations, times, outcomes, a
run's summary line and why a bot shows no AuditEvents.

Plain strings only (no Textual, no Rich styles): the TUI wraps them in ``rich.text.Text`` with
the theme's colours (``ui/formatting.py``), the CLI prints them as they are. Every string taken
from the server goes through :mod:`botmon_tui.textsafe` here, so callers get text that is safe
to show.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import NamedTuple

from botmon_tui.medplum.models import Bot, OutcomeInfo
from botmon_tui.textsafe import clip, sanitize, strip_sgr

__all__ = [
    "DOCS_URL",
    "NoEventsReason",
    "Summary",
    "absolute_time",
    "audit_label",
    "clock_time",
    "duration_text",
    "explain_no_events",
    "failing_since_text",
    "outcome_kind_label",
    "outcome_label",
    "percentiles_text",
    "plural",
    "reads_as_problem",
    "relative_age",
    "seconds_between",
    "short_duration",
    "span_text",
    "summarize",
    "summary_line",
]

# ------------------------------------------------------------------------------------------------
# Numbers, ages, times
# ------------------------------------------------------------------------------------------------


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 event``, ``2 events``, ``0 events`` (``many`` for irregular plurals: ``entry/entries``)."""
    return f"{count:,} {word if count == 1 else (many or word + 's')}"


def retry_text(retry_in: float | None, *, polling: bool = False, paused: bool = False) -> str:
    """When a poll that failed is tried again, in the words the status line and the error panel
    share: ``retry in 2s`` (the real backoff's countdown; ``retry in 5m 00s`` from two minutes),
    ``retrying…`` while it runs, ``paused``, ``r to retry`` when nothing is scheduled."""
    if paused:
        return "paused"
    if polling:
        return "retrying…"
    if retry_in is None:
        return "r to retry"
    seconds = max(0, round(retry_in))
    return f"retry in {seconds}s" if seconds < 120 else f"retry in {duration_text(seconds)}"


def relative_age(when: datetime | None, now: datetime) -> str:
    """``12s ago``, ``5m ago``, ``3h ago``, ``2d ago``; ``—`` when unknown; ``now`` for the future."""
    if when is None:
        return "—"
    seconds = (now - when).total_seconds()
    if seconds < 1:
        return "now"
    if seconds < 60:
        return f"{int(seconds)}s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)}m ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h ago"
    days = int(seconds // 86400)
    if days < 100:
        return f"{days}d ago"
    return f"{days // 365}y ago" if days >= 365 else f"{days // 7}w ago"


def duration_text(seconds: float | timedelta | None) -> str:
    """A short human duration: ``850 ms``, ``4.2 s``, ``3m 05s``, ``2h 10m``; ``—`` when unknown."""
    if seconds is None:
        return "—"
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    if seconds < 0:
        return f"-{duration_text(-seconds)}"
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m {int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h {int(seconds % 3600 // 60):02d}m"


def short_duration(seconds: float | None) -> str:
    """:func:`duration_text` in a few cells: ``380ms``, ``4.5s``, ``33.0s``, ``4m28s``, ``2h10m``;
    ``—`` when unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "—"
    return duration_text(seconds).replace(" ", "")


def percentiles_text(p50: float | None, p95: float | None) -> str:
    """A bot's median and 95th-percentile run duration: ``4.5s/7.5s``; ``—`` when none is known."""
    if p50 is None or p95 is None:
        return "—"
    return f"{short_duration(p50)}/{short_duration(p95)}"


def span_text(span: timedelta) -> str:
    """A window as it was asked for: ``45s``, ``30m``, ``1h``, ``2d`` (the largest whole unit)."""
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start) / timedelta(seconds=1)


def absolute_time(when: datetime | None, tz: tzinfo | None, *, short: bool = False, ms: bool = False) -> str:
    """Local (or ``tz``) wall time: ``2025-03-14 09:26:54`` (``short``: ``03-14 09:26:54``)."""
    if when is None:
        return "—"
    local = when.astimezone(tz)
    text = local.strftime("%m-%d %H:%M:%S" if short else "%Y-%m-%d %H:%M:%S")
    if ms:
        text += f".{local.microsecond // 1000:03d}"
    return text


def clock_time(when: datetime, tz: tzinfo | None, *, now: datetime | None = None) -> str:
    """``12:04`` in the local (or ``tz``) time; ``03-13 23:58`` when not on ``now``'s day."""
    local = when.astimezone(tz)
    if now is not None and local.date() != now.astimezone(tz).date():
        return local.strftime("%m-%d %H:%M")
    return local.strftime("%H:%M")


def failing_since_text(
    since: datetime, deployed: datetime | None, tz: tzinfo | None, *, now: datetime | None = None
) -> str:
    """The incident line: ``failing since 12:04, 2 min after a deploy (12:02)``, or ``failing
    since 12:04`` (``deployed``: when the deploy before the streak was done, if one was)."""
    text = f"failing since {clock_time(since, tz, now=now)}"
    if deployed is None:
        return text
    seconds = max(0, int((since - deployed).total_seconds()))
    gap = f"{seconds} s" if seconds < 60 else f"{seconds // 60} min"
    return f"{text}, {gap} after a deploy ({clock_time(deployed, tz, now=now)})"


# ------------------------------------------------------------------------------------------------
# Outcomes and audit settings
# ------------------------------------------------------------------------------------------------


def outcome_label(
    info: OutcomeInfo | None, *, code: bool = True, missing: str = "—", short: bool = False
) -> str:
    """``✓ Success (0)``; an unknown code shows as itself (``? 7 (7)`` reads ``? 7``).

    ``short``: the symbol and the first word, for narrow columns (``✗ Serious``, ``▲ Minor``).
    """
    if info is None:
        return missing
    display = clip(info.display, 40)
    if short:
        return f"{info.symbol} {display.split(' ', 1)[0]}"
    label = f"{info.symbol} {display}"
    if code and info.code and info.code != info.display:
        label += f" ({clip(info.code, 12)})"
    return label


def outcome_kind_label(
    info: OutcomeInfo | None,
    kind: str | None,
    *,
    width: int | None = None,
    code: bool = True,
    missing: str = "—",
) -> str:
    """The outcome with the failure's kind next to it (the server writes ``4`` for every failed
    run: the kind is what tells them apart, ``diagnosis.failure_kind``), the longest form that
    fits in ``width`` cells (no limit: the first):

    ``▲ Minor failure (4) · timeout`` (``code``), ``▲ Minor failure · timeout``,
    ``▲ Minor (4) · timeout`` (``code``), ``▲ Minor · timeout``, ``▲ timeout``.

    Without a kind (a success, or a run whose kind is not known) it is :func:`outcome_label`
    (short when it does not fit)."""
    if info is None or not kind:
        label = outcome_label(info, code=code, missing=missing)
        if width is not None and len(label) > width:
            label = outcome_label(info, code=False, missing=missing)
            if len(label) > width:
                label = outcome_label(info, missing=missing, short=True)
        return label
    display = clip(info.display, 40)
    first = display.split(" ", 1)[0]
    number = f" ({clip(info.code, 12)})" if code and info.code and info.code != info.display else ""
    kind = clip(kind, 20)
    forms = [
        f"{info.symbol} {display}{number} · {kind}",
        f"{info.symbol} {display} · {kind}",
        f"{info.symbol} {first}{number} · {kind}",
        f"{info.symbol} {first} · {kind}",
        f"{info.symbol} {kind}",
    ]
    if width is None:
        return forms[0]
    return next((form for form in forms if len(form) <= width), forms[-1])


def audit_label(bot: Bot, *, compact: bool = False) -> tuple[str, bool]:
    """The bot's audit settings in a few words, and whether they mean no AuditEvent will appear.

    ``("⚠ log only", True)``, ``("resource · on-error", False)``; ``compact`` for narrow columns.
    """
    dest = "+".join(clip(d, 20) for d in bot.audit_destination)
    trigger = clip(bot.audit_trigger, 20)
    if "resource" not in bot.audit_destination:
        return f"⚠ {'log only' if compact else f'{dest} only · {trigger}'}", True
    if trigger == "never":
        return f"⚠ {'never' if compact else f'{dest} · never'}", True
    return (trigger if compact else f"{dest} · {trigger}"), False


#: Medplum's page on a bot's Event tab, its AuditEvents and what they record.
DOCS_URL = "https://www.medplum.com/docs/bots/monitoring-bots"


@dataclass(frozen=True)
class NoEventsReason:
    #: A short machine-readable cause: log-only | never | on-error | on-output | not-run.
    cause: str
    title: str
    lines: tuple[str, ...]
    #: True when the settings make events impossible (a warning), False when simply none yet.
    blocking: bool
    docs_url: str = DOCS_URL


def explain_no_events(bot: Bot) -> NoEventsReason:
    """Why ``bot`` shows no AuditEvents, from its own settings (no request needed)."""
    dest = bot.audit_destination
    trigger = clip(bot.audit_trigger, 40)
    shown_dest = "[" + ", ".join(f'"{clip(d, 40)}"' for d in dest) + "]"
    if "resource" not in dest:
        return NoEventsReason(
            "log-only",
            "This bot writes no AuditEvents: its runs go only to the server logs",
            (
                f"auditEventDestination is {shown_dest}: each run is logged by the Medplum server, "
                "where botmon-tui (and the web app's Event tab) cannot see it.",
                'Fix: set Bot.auditEventDestination to include "resource", '
                'for example ["resource", "log"], then the next run appears here.',
            ),
            True,
        )
    if trigger == "never":
        return NoEventsReason(
            "never",
            'This bot writes no AuditEvents: auditEventTrigger is "never"',
            (
                "No run of this bot creates an AuditEvent, whatever its outcome.",
                'Fix: set Bot.auditEventTrigger to "always" (or "on-error" to record failures only).',
            ),
            True,
        )
    if trigger == "on-error":
        return NoEventsReason(
            "on-error",
            'No failed runs yet: this bot records only failures (auditEventTrigger "on-error")',
            (
                "Successful runs write no AuditEvent, so a healthy bot shows nothing here.",
                'To see every run, set Bot.auditEventTrigger to "always".',
            ),
            False,
        )
    if trigger == "on-output":
        return NoEventsReason(
            "on-output",
            "No runs with output yet: this bot records only runs that log something",
            (
                'auditEventTrigger is "on-output": a run that prints nothing writes no AuditEvent.',
                'To see every run, set Bot.auditEventTrigger to "always".',
            ),
            False,
        )
    schedule = clip(bot.schedule, 80) if bot.schedule else None
    how = (
        f"It is scheduled ({schedule}); its first run should appear within one period."
        if schedule
        else "It has no cron schedule: it runs when a Subscription fires or when someone calls $execute."
    )
    return NoEventsReason(
        "not-run",
        "No runs yet: this bot has no AuditEvents",
        (
            f'Its audit settings are fine (destination {shown_dest}, trigger "{trigger}"), '
            "so it has most likely never run.",
            how,
        ),
        False,
    )


# ------------------------------------------------------------------------------------------------
# The summary line of a run's output
# ------------------------------------------------------------------------------------------------
#
# A bot's outcomeDesc is its console output (vmcontext: ``console.log`` lines, and on a failure
# "Unhandled error: <message>" with the Node stack, then "Error <message>"; AWS Lambda:
# "<ISO time>\t<request id>\t<LEVEL>\t<message>" lines). Its first line is often a timestamp or a
# banner; the line an on-call engineer needs is the one that says what went wrong.

#: Most output scanned for a summary (Medplum keeps the last 10 KiB of a log; larger is possible).
SUMMARY_SCAN_CHARS = 64 * 1024

_ERROR_RE = re.compile(
    # TypeError, AxiosError, OperationOutcomeError, IOException: the name's end is enough to find
    # its line (a pattern for the whole name, ``[A-Za-z]*Error``, tries every letter of a long word).
    r"(?:Error|Exception)\b"
    r"|\b(?:ERR|CRIT|SEVERE|EMERG)\b"
    r"|(?i:\b(?:errors?|exceptions?|fatal|fail(?:s|ed|ure|ures|ing)?|panic(?:ked)?"
    r"|critical|unhandled|uncaught|refused|denied|timed out|aborted|crash(?:ed)?|cannot|unable to"
    r"|rejected|not authorized|unauthorized|forbidden)\b)"
    r"|[✖✗❌]|^(?:MSA\|A[ER]|MSA\|C[ER]|ERR)\|",
    re.MULTILINE,
)
_WARNING_RE = re.compile(r"(?i:\bwarn(?:ing|ings)?\b|\bdeprecat\w*)|[⚠▲]", re.MULTILINE)
#: What a match of each pattern holds, lower-cased: where none is in a log (most successful runs)
#: the pattern is not run at all, and otherwise it starts at the line of the first one found
#: (``str.find`` is a fast scan; the patterns try every position). Keep them in step.
_ERROR_HINTS = (
    "err", "exception", "crit", "severe", "emerg", "fatal", "fail", "panic", "unhandled", "uncaught",
    "refused", "denied", "timed out", "aborted", "crash", "cannot", "unable to", "rejected",
    "authorized", "forbidden", "✖", "✗", "❌", "msa|",
)  # fmt: skip
_WARNING_HINTS = ("warn", "deprecat", "⚠", "▲")
#: A count of nothing in front of the word: "0 errors", "no failures", "without error".
_NEGATED_BEFORE_RE = re.compile(r"(?i)(?:\b0|\bno|\bzero|\bwithout|\bnon)[\s-]*$")
#: ... or after it: "errors: 0", "failed=0".
_NEGATED_AFTER_RE = re.compile(r"^\s*[:=]\s*0\b")
#: A timestamp at the start of a line, with the separator after it.
_TIMESTAMP_RE = re.compile(
    r"^\[?(?:\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|\d{2}:\d{2}:\d{2}(?:[.,]\d+)?)\]?(?:\s+|$)"
)
#: AWS Lambda's text format after the time: "<request id>\t<LEVEL>\t".
_LAMBDA_RE = re.compile(r"^[0-9a-fA-F-]{36}\t([A-Z]+)\t")
#: A Node, Java or Python stack frame, the source line a trace quotes (``throw ...`` and its ``^``),
#: Lambda's platform lines and separators: never the summary.
_NOISE_RE = re.compile(
    r"^(?:at\s+\S|File \".*\", line \d|\.\.\. \d+ more|(?:START|END|REPORT|INIT_START) RequestId:"
    r"|(?:throw|raise)\s|\^+$|[-=_*#~.]{3,}$)"
)


def _clean(line: str) -> str:
    """A line as the summary shows it: no timestamp prefix, Lambda's request id dropped (its level
    kept when it says something), a Lambda error object reduced to ``Type: message``."""
    text = line.strip()
    match = _TIMESTAMP_RE.match(text)
    if match:
        text = text[match.end() :]
        lam = _LAMBDA_RE.match(text)
        if lam:
            level = lam.group(1)
            text = text[lam.end() :].strip()
            if text.startswith(("Invoke Error", "Uncaught Exception", "Unhandled Promise Rejection")):
                detail = _lambda_error(text)
                if detail:
                    text = detail
            if level in ("ERROR", "WARN", "FATAL"):
                text = f"{level} {text}"
    return " ".join(text.split())


def _lambda_error(text: str) -> str | None:
    """``Invoke Error \t{"errorType":"AxiosError","errorMessage":"..."}`` → ``AxiosError: ...``."""
    start = text.find("{")
    if start < 0:
        return None
    try:
        data = json.loads(text[start:])
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    kind, message = data.get("errorType"), data.get("errorMessage")
    if isinstance(message, str) and message.strip():
        return f"{kind}: {message}" if isinstance(kind, str) and kind else message
    return None


def _meaningful(line: str) -> bool:
    """Not empty, not only a timestamp, not a stack frame or a separator."""
    text = line.strip()
    if not text:
        return False
    match = _TIMESTAMP_RE.match(text)
    if match and not text[match.end() :].strip():
        return False
    return _NOISE_RE.match(text) is None


def _first_match(text: str, lowered: str, pattern: re.Pattern[str], hints: tuple[str, ...]) -> int | None:
    """Where the first meaningful line of ``text`` starts in which ``pattern`` matches a word that is
    not negated (``lowered`` is ``text.lower()``, where ``hints`` say whether and where to start
    looking); None when no line does."""
    found = [at for at in map(lowered.find, hints) if at >= 0]
    if not found:
        return None
    # (Lower-casing a few characters changes their length: then the positions differ, start at 0.)
    origin = text.rfind("\n", 0, min(found)) + 1 if len(lowered) == len(text) else 0
    for match in pattern.finditer(text, origin):
        start = text.rfind("\n", 0, match.start()) + 1
        end = text.find("\n", match.end())
        line = text[start : end if end >= 0 else len(text)]
        if not _meaningful(line):
            continue
        before = text[start : match.start()]
        after = text[match.end() : end if end >= 0 else len(text)]
        if _NEGATED_BEFORE_RE.search(before) or _NEGATED_AFTER_RE.match(after):
            continue
        return start
    return None


def _line_breaks(text: str, end: int) -> int:
    """Line breaks in ``text[:end]`` as :func:`~botmon_tui.textsafe.sanitize` leaves them (``\r\n``
    and a lone ``\r`` are one each)."""
    breaks = text.count("\n", 0, end)
    if text.find("\r", 0, end) >= 0:
        breaks += text.count("\r", 0, end) - text.count("\r\n", 0, end)
    return breaks


class Summary(NamedTuple):
    """The line of a run's output that says what happened, and where it is."""

    text: str
    #: The line of the output it comes from (0-based; ``\n``, ``\r\n`` and a lone ``\r`` end a
    #: line, the numbering of :func:`botmon_tui.runlog.log_lines`); None when there is no summary.
    line: int | None


NO_SUMMARY = Summary("", None)


def summary_line(value: object, limit: int = 200) -> str:
    """The line of a run's output that says what happened, sanitized, at most ``limit`` characters.

    The first line that reads as an error (Error, Exception, FATAL, failed, a Node stack's message
    line, an HL7 negative ACK...), else the first that reads as a warning, else the last meaningful
    line. A line that is only a timestamp, a stack frame or a separator is never the summary, and a
    timestamp in front of the chosen line is dropped. ``""`` when no line says anything (no output,
    or only timestamps, frames and separators). :func:`summarize` says which line it is, too.
    """
    return summarize(value, limit).text


def summarize(value: object, limit: int = 200) -> Summary:
    """:func:`summary_line` and the number of the line it comes from, in one scan."""
    raw = value if isinstance(value, str) else ("" if value is None else str(value))
    if not raw.strip():
        return NO_SUMMARY
    whole: str | None = None
    half = SUMMARY_SCAN_CHARS // 2
    if len(raw) > SUMMARY_SCAN_CHARS:
        # The head (where the first error usually is) and the tail (where the last line is, and
        # what Medplum keeps when it cuts a log): bounded work on a 200 kB log.
        whole = raw
        raw = raw[:half] + "\n" + raw[-half:]
    text = sanitize(strip_sgr(raw))
    lowered = text.lower()
    start = _first_match(text, lowered, _ERROR_RE, _ERROR_HINTS)
    if start is None:
        start = _first_match(text, lowered, _WARNING_RE, _WARNING_HINTS)
    if start is not None:
        end = text.find("\n", start)
        line = text[start : end if end >= 0 else len(text)]
        number = text.count("\n", 0, start)
    else:
        lines = text.split("\n")
        found = next((k for k in range(len(lines) - 1, -1, -1) if _meaningful(lines[k])), None)
        if found is None:  # only timestamps, stack frames or separators: nothing says anything
            return NO_SUMMARY
        line, number = lines[found], found
    if whole is not None:
        head_breaks = _line_breaks(whole, half)
        if number > head_breaks:  # in the tail: count the lines of the part not scanned too
            number += _line_breaks(whole, len(whole) - half) - head_breaks - 1
    cleaned = _clean(line) or " ".join(line.split())
    return Summary(cleaned[:limit] + ("…" if len(cleaned) > limit else ""), number)


def reads_as_problem(line: str) -> bool:
    """Whether ``line`` (a summary line) reads as an error or a warning, rather than being the
    last line of a log that says nothing went wrong (what :func:`summary_line` falls back to)."""
    lowered = line.lower()
    return (
        _first_match(line, lowered, _ERROR_RE, _ERROR_HINTS) is not None
        or _first_match(line, lowered, _WARNING_RE, _WARNING_HINTS) is not None
    )
