"""What a Lambda bot's log holds, for the tests of issue 18: its request id, a line of its text
format, and the JSON of an uncaught TypeError (``Invoke Error``)."""

from __future__ import annotations

#: The request id on every line of one run's Lambda log.
RID = "146fcfcf-c32b-43f5-82a6-ee0f3132d873"

#: What the Node runtime prints after ``Invoke Error`` for an uncaught TypeError.
INVOKE_ERROR = {
    "errorType": "TypeError",
    "errorMessage": "Cannot read properties of undefined (reading 'reference')",
    "stack": [
        "TypeError: Cannot read properties of undefined (reading 'reference')",
        "    at handler (/var/task/index.js:41:37)",
        "    at async Runtime.handler (file:///var/runtime/index.mjs:1173:22)",
    ],
}


def lambda_line(time: str, level: str, message: str, rid: str = RID) -> str:
    """``2025-03-14T<time>Z⇥<rid>⇥<LEVEL>⇥<message>`` (``time``: ``09:26:53.512``)."""
    return f"2025-03-14T{time}Z\t{rid}\t{level}\t{message}"
