"""A resource read on request (a run's input, its Subscription) as text to show (Textual-free).

The resource is untrusted JSON from the server: it is pretty-printed here (the UI never parses or
prints JSON itself), sanitized like every server string, and bounded (:data:`MAX_VIEW_CHARS`
shown; the whole text is kept for copying). A read that failed gets a message that says what
happened in words: forbidden (403), not found (404), deleted (410), too large.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botmon_tui.medplum.client import MAX_RESOURCE_BYTES
from botmon_tui.medplum.errors import (
    BadRequestError,
    ForbiddenError,
    GoneError,
    MedplumError,
    NotFoundError,
    TooLargeError,
)
from botmon_tui.textsafe import clip, sanitize

__all__ = ["MAX_VIEW_CHARS", "ResourceText", "pretty_json", "read_error_text", "subscription_summary"]

#: Most characters of a resource shown (Textual wraps and colours all of what is shown on every
#: layout: ~60 ms for 64 KiB); the rest is said, and copied with the rest by ``y``.
MAX_VIEW_CHARS = 64 * 1024


@dataclass(frozen=True, slots=True)
class ResourceText:
    #: The pretty-printed JSON shown: sanitized, at most ``MAX_VIEW_CHARS`` (cut at a line's end).
    shown: str
    #: All of it (sanitized): what ``y`` copies.
    whole: str

    @property
    def hidden(self) -> int:
        """Characters not shown."""
        return len(self.whole) - len(self.shown)


def pretty_json(data: Any, limit: int = MAX_VIEW_CHARS) -> ResourceText:
    """``data`` as indented JSON, its non-ASCII text as itself, every control character made
    visible (JSON already escapes C0 controls as ``\\u001b``; DEL, C1, bidi and invisible
    characters are replaced by the sanitizer)."""
    try:
        text = json.dumps(data, indent=2, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        text = repr(data)
    whole = sanitize(text)
    if len(whole) <= limit:
        return ResourceText(whole, whole)
    cut = whole.rfind("\n", 0, limit)
    return ResourceText(whole[: cut if cut > 0 else limit], whole)


def _text(value: object, limit: int = 200) -> str | None:
    return clip(value, limit) if isinstance(value, str) and value.strip() else None


def subscription_summary(data: Any) -> str:
    """A Subscription on one line: its criteria, status and channel (``rest-hook → Bot/…``)."""
    if not isinstance(data, dict):
        return "(not a Subscription)"
    criteria = _text(data.get("criteria"), 300) or "no criteria"
    status = _text(data.get("status"), 40) or "no status"
    found = data.get("channel")
    channel: dict[str, Any] = found if isinstance(found, dict) else {}
    kind = _text(channel.get("type"), 40) or "no channel"
    endpoint = _text(channel.get("endpoint"), 200)
    return " · ".join([criteria, status, f"{kind} → {endpoint}" if endpoint else kind])


def read_error_text(error: MedplumError, reference: str) -> str:
    """Why ``reference`` could not be shown, in words (one or two sentences)."""
    ref = clip(reference, 200)
    kind = ref.split("/", 1)[0]
    if isinstance(error, ForbiddenError):
        return (
            f"Forbidden (HTTP 403): these credentials may not read {kind} resources (the project's "
            f"access policy decides). The run still names {ref}."
        )
    if isinstance(error, GoneError):
        return f"Deleted (HTTP 410): {ref} was deleted after the run; the server keeps it in its history."
    if isinstance(error, NotFoundError):
        return f"Not found (HTTP 404): {ref} does not exist (never stored, or removed with its history)."
    if isinstance(error, TooLargeError):
        return f"Too large to show: {ref} is larger than {MAX_RESOURCE_BYTES // (1024 * 1024)} MB."
    if isinstance(error, BadRequestError):
        return f"Not read: {error}"
    return f"Could not read {ref}: {error}" + (" (r tries again)" if error.retryable else "")
