"""The crash log: unexpected exceptions go to a file in the user's state dir, never the screen.

An on-call tool must not die or print a traceback over someone's terminal because of a bug.
Workers catch everything at their boundary, write the traceback here (secrets scrubbed) and
show one line of status instead.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

import platformdirs

from botmon_tui.textsafe import mask_secrets

__all__ = ["CrashLog", "default_log_path"]

#: Rotate the log past this size (one previous generation is kept).
MAX_LOG_BYTES = 1_000_000


def default_log_path() -> Path:
    return Path(platformdirs.user_state_dir("botmon-tui")) / "botmon-tui.log"


class CrashLog:
    def __init__(self, path: Path | None = None, *, secrets: Callable[[], Iterable[str]] = tuple) -> None:
        self.path = path if path is not None else default_log_path()
        self._secrets = secrets
        self.count = 0

    def write(self, error: BaseException, heading: str) -> bool:
        """Append ``error``'s traceback (secrets masked) under ``heading``; False if it could not be
        written. The file is private (0600, in a 0700 dir) and rotated past ``MAX_LOG_BYTES``."""
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        entry = f"--- {stamp} {heading}\n{mask_secrets(body, self._secrets())}\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if self.path.exists() and self.path.stat().st_size > MAX_LOG_BYTES:
                os.replace(self.path, self.path.with_suffix(".log.1"))
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8", errors="replace") as handle:
                handle.write(entry)
        except OSError:
            return False
        return True

    def record(self, error: BaseException, context: str) -> str:
        """Append ``error``'s traceback; return a one-line summary for the status line."""
        self.count += 1
        where = f"details in {self.path}" if self.write(error, context) else "could not write the crash log"
        return f"Internal error ({type(error).__name__}) while {context}; {where}"
