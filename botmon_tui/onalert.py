"""``--on-alert CMD``: run the user's command for each alert and recovery (``watch``, the TUI).

The command is a string split like a shell line (``shlex.split``) and run **without a shell**, as
an argv: nothing in an alert (a bot's name, its error line) is ever parsed as shell syntax. It gets
the facts in its environment only (:func:`alert_environment`: ``BOTMON_EVENT``, ``BOTMON_BOT``,
``BOTMON_BOT_ID``, ``BOTMON_SINCE``, ``BOTMON_STREAK``, ``BOTMON_KIND``, ``BOTMON_SUMMARY``,
``BOTMON_LINK``, ``BOTMON_PROFILE`` and a few more), each value stripped of control characters and
cut to a bounded length. Its stdin is closed, its output does not mix with ours (stdout goes to
``/dev/null``; the end of stderr is kept for the report), and it is killed (with what it started)
after :data:`TIMEOUT` seconds.

**No secret reaches it**: the environment is built from an allow-list of the parent's variables
(``PATH``, ``HOME``, the locale, what ``notify-send`` needs to reach the desktop, CA bundles,
proxies without a password), never ``MEDPLUM_*`` or anything else the parent holds, and the
secrets in use are masked out of every value.

:class:`AlertRunner` runs the commands one at a time, in the order the alerts came (a recovery is
never told before its failure), from a bounded queue; what went wrong (could not start, a non-zero
exit, killed at the timeout, alerts dropped) is reported as one line through a callback (stderr
for ``watch``, the status line for the TUI) and never stops the monitor.

Textual-free.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botmon_tui.textsafe import mask_secrets

__all__ = [
    "ENV_ALLOWED",
    "MAX_QUEUED",
    "TIMEOUT",
    "AlertCommand",
    "AlertCommandError",
    "AlertResult",
    "AlertRunner",
    "alert_environment",
    "clean_value",
]

#: Seconds a command may run before it is killed.
TIMEOUT = 10.0
#: Alerts waiting for the command to be free; more are dropped (and counted in the report).
MAX_QUEUED = 100
#: Longest value of one variable (a summary line is at most 200 characters; a link, a name less).
MAX_VALUE_CHARS = 2000
#: The end of the command's stderr kept for the report.
MAX_STDERR_BYTES = 4096

#: The parent's variables the command gets (everything else, ``MEDPLUM_*`` first, stays out).
ENV_ALLOWED = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TMPDIR",
    "TERM",
    # notify-send and other desktop notifiers reach the session's bus through these.
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "DBUS_SESSION_BUS_ADDRESS",
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_CACHE_HOME",
    "XDG_STATE_HOME",
    # curl and friends behind a corporate proxy or CA.
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "CURL_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
    "NO_PROXY",
    "no_proxy",
)
#: Passed only when they hold no user name or password (``http://user:secret@proxy``).
_PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")

#: The record's fields (``IncidentEvent.record()``) and the variables they go to.
_FIELDS = (
    ("event", "BOTMON_EVENT"),
    ("bot", "BOTMON_BOT"),
    ("botId", "BOTMON_BOT_ID"),
    ("at", "BOTMON_AT"),
    ("since", "BOTMON_SINCE"),
    ("streak", "BOTMON_STREAK"),
    ("streakExact", "BOTMON_STREAK_EXACT"),
    ("kind", "BOTMON_KIND"),
    ("signature", "BOTMON_SIGNATURE"),
    ("summary", "BOTMON_SUMMARY"),
    ("lastedSeconds", "BOTMON_LASTED_SECONDS"),
    ("link", "BOTMON_LINK"),
    ("profile", "BOTMON_PROFILE"),
)


class AlertCommandError(ValueError):
    """The command cannot be split into an argv (unbalanced quotes) or is empty."""


@dataclass(frozen=True)
class AlertCommand:
    """The command to run, as an argv."""

    argv: tuple[str, ...]
    timeout: float = TIMEOUT

    @classmethod
    def parse(cls, text: str, *, timeout: float = TIMEOUT) -> AlertCommand:
        """``text`` split like a shell line (``notify-send "botmon: $x"`` is two words: no
        expansion, no pipes, no redirection: for those, point it at a script)."""
        try:
            argv = shlex.split(text)
        except ValueError as exc:
            raise AlertCommandError(f"--on-alert: cannot split {text!r} into words: {exc}") from None
        if not argv:
            raise AlertCommandError("--on-alert: the command is empty")
        return cls(tuple(argv), timeout)

    @property
    def name(self) -> str:
        """The program, as the reports name it."""
        return os.path.basename(self.argv[0]) or self.argv[0]


def clean_value(value: object, limit: int = MAX_VALUE_CHARS) -> str:
    """``value`` as one line for an environment variable: control and format characters removed
    (a tab or a line break becomes a space), at most ``limit`` characters; ``None`` is ``""``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = value if isinstance(value, str) else str(value)
    text = text[: limit * 2]
    if not text.isprintable():
        text = "".join(
            " " if char in "\t\n\r" else char
            for char in text
            if char in "\t\n\r" or unicodedata.category(char) not in ("Cc", "Cf", "Cs", "Co", "Cn")
        )
    return " ".join(text.split())[:limit]


def _allowed(base: Mapping[str, str]) -> dict[str, str]:
    env = {name: base[name] for name in ENV_ALLOWED if name in base}
    env.update({name: value for name, value in base.items() if name.startswith("LC_")})
    for name in _PROXIES:
        value = base.get(name)
        if value and "@" not in value:
            env[name] = value
    return env


def alert_environment(
    record: Mapping[str, Any],
    *,
    base: Mapping[str, str] | None = None,
    secrets: Sequence[str] = (),
) -> dict[str, str]:
    """The environment of the command for one alert: the allowed part of ``base`` (the parent's
    environment) and the record's facts as ``BOTMON_*`` variables (cleaned, secrets masked)."""
    env = _allowed(os.environ if base is None else base)
    for key, name in _FIELDS:
        if key in record:
            env[name] = clean_value(mask_secrets(clean_value(record[key]), secrets))
    return env


@dataclass(frozen=True)
class AlertResult:
    """How one run of the command went (``ok``: it exited 0 in time)."""

    ok: bool
    #: One line: ``notify-send: exit 1: Cannot autolaunch D-Bus``, ``page.sh: killed after 10 s``.
    message: str
    event: str = ""
    bot: str = ""


class AlertRunner:
    """Runs :class:`AlertCommand` for each alert submitted, one at a time, in order."""

    def __init__(
        self,
        command: AlertCommand,
        *,
        report: Callable[[AlertResult], None],
        secrets: Callable[[], Sequence[str]] = lambda: (),
        base_env: Mapping[str, str] | None = None,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        self.command = command
        self.report = report
        self.secrets = secrets
        self.base_env = base_env
        self.max_queued = max_queued
        #: Commands run, and alerts dropped because the queue was full.
        self.ran = 0
        self.dropped = 0
        self._queue: list[dict[str, Any]] = []
        self._worker: asyncio.Task[None] | None = None
        self._process: asyncio.subprocess.Process | None = None

    def submit(self, record: Mapping[str, Any]) -> None:
        """Run the command for this alert (``IncidentEvent.record()``) when it is free. Never raises;
        needs a running event loop."""
        if len(self._queue) >= self.max_queued:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                self.report(
                    AlertResult(
                        False,
                        f"{self.command.name}: {self.dropped:,} alert(s) dropped: the command is slower "
                        "than the alerts come",
                    )
                )
            return
        self._queue.append(dict(record))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work())

    @property
    def busy(self) -> bool:
        return bool(self._queue) or (self._worker is not None and not self._worker.done())

    async def drain(self) -> None:
        """Wait until every alert submitted has had its command run (or killed)."""
        while self._worker is not None and not self._worker.done():
            await asyncio.shield(self._worker)

    async def aclose(self) -> None:
        """Drop what waits, kill what runs."""
        self._queue.clear()
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        self._kill()

    async def _work(self) -> None:
        while self._queue:
            record = self._queue.pop(0)
            try:
                result = await self.run(record)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug here must not stop the monitor
                result = AlertResult(False, f"{self.command.name}: {type(exc).__name__}: {exc}")
            self.ran += 1
            self.report(result)

    async def run(self, record: Mapping[str, Any]) -> AlertResult:
        """Run the command once for ``record`` and say how it went."""
        name = self.command.name
        event, bot = clean_value(record.get("event"), 40), clean_value(record.get("bot"), 200)
        env = alert_environment(record, base=self.base_env, secrets=self.secrets())
        try:
            process = await asyncio.create_subprocess_exec(
                *self.command.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                # Its own process group: a Ctrl-C meant for botmon-tui is not its, and the timeout
                # kills what it started too (a script's curl).
                start_new_session=True,
            )
        except OSError as exc:
            return AlertResult(False, f"{name}: could not start: {exc.strerror or exc}", event, bot)
        self._process = process
        try:
            stderr = await asyncio.wait_for(self._finish(process), self.command.timeout)
        except TimeoutError:
            self._kill()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(process.wait(), 5)
            return AlertResult(
                False, f"{name}: killed after {self.command.timeout:g} s ({event} {bot})", event, bot
            )
        finally:
            if process.returncode is None:
                self._kill()
            self._process = None
        code = process.returncode
        if code == 0:
            return AlertResult(True, f"{name}: ran for {event} {bot}", event, bot)
        last = next((line for line in reversed(stderr.splitlines()) if line.strip()), "")
        said = f": {clean_value(mask_secrets(last, self.secrets()), 200)}" if last else ""
        how = f"exit {code}" if code is not None and code > 0 else f"killed by signal {-(code or 0)}"
        return AlertResult(False, f"{name}: {how}{said} ({event} {bot})", event, bot)

    @staticmethod
    async def _finish(process: asyncio.subprocess.Process) -> str:
        """Wait for ``process``, keeping the end of its stderr (read as it comes: a chatty command
        never fills a pipe, and never fills our memory)."""
        tail = b""
        if process.stderr is not None:
            while chunk := await process.stderr.read(65536):
                tail = (tail + chunk)[-MAX_STDERR_BYTES:]
        await process.wait()
        return tail.decode("utf-8", "replace")

    def _kill(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, OSError):
            process.kill()
