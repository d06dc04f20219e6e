"""New failed runs of any bot: what the alerts announce and the Failures screen lists.

One project-wide incremental query per poll, with the runs' output (the toast shows its summary
line)::

    AuditEvent?type=execute&outcome=4,8,12&_lastUpdated=gt<newest failure seen>&_sort=_lastUpdated&_count=100

* :meth:`FailureWatch.load` reads the newest failures (newest first, one request): the Failures
  screen's first rows. They were there before the app started: known, never announced.
* :meth:`FailureWatch.poll` reads the failures since. Each one not known yet is reported once:
  one :class:`Alert` per bot per poll (a burst of runs is one), de-duplicated by id across every
  path that sees failures (the bot list sees them in its own runs query and asks for a poll only
  when there is one it does not know: :meth:`knows`). They are not announced as such: their
  kinds and signatures feed the incidents (``ProjectSession.incident_events``), which are.

Bounded: the window holds the newest ``window`` failures, at most ``MAX_KNOWN`` ids are
remembered, a poll reads at most ``MAX_POLL_PAGES`` pages (a larger backlog is read by the next
polls: :attr:`FailureWatch.behind`).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from botmon_tui.diagnosis import (
    NO_OUTPUT,
    FailureKind,
    Signature,
    diagnose_event,
    signature_of,
)
from botmon_tui.formatting import summary_line
from botmon_tui.medplum.client import MedplumClient
from botmon_tui.medplum.models import FAILURE_CODES, AuditEvent, OutcomeInfo, outcome_info
from botmon_tui.medplum.watermark import EventCursor
from botmon_tui.monitor.durations import DEFAULT_TIMEOUT
from botmon_tui.monitor.feed import event_key
from botmon_tui.textsafe import clip

__all__ = ["MAX_KNOWN", "NO_SIGNATURE", "Alert", "FailedRun", "FailureWatch", "bot_display"]

#: The signature of a run whose output was not read.
NO_SIGNATURE = signature_of(NO_OUTPUT)
#: Failure ids remembered (announced, or there at start) so that none is announced twice.
MAX_KNOWN = 5000
#: Pages of new failures read by one poll (a larger burst is read by the following polls).
MAX_POLL_PAGES = 3
#: Failed runs read (summary, kind, signature) between two turns of the event loop: a batch of
#: 10 kB logs is a few milliseconds (README, Performance: the incidents' rows).
READ_BATCH = 25


def bot_display(event: AuditEvent) -> str | None:
    """The name the server wrote next to the event's Bot reference (``entity``, ``source``, ``agent``)."""
    bot_id = event.bot_id
    if bot_id is None:
        return None
    ref = f"Bot/{bot_id}"
    candidates = [e.what for e in event.entity or []]
    candidates.append(event.source.observer if event.source else None)
    candidates.extend(a.who for a in event.agent or [])
    for what in candidates:
        if what is not None and what.reference == ref and what.display:
            return what.display
    return None


@dataclass(frozen=True, slots=True)
class FailedRun:
    """A failed run as the Failures screen and a toast show it (text sanitized)."""

    id: str
    bot_id: str
    #: The bot's name as the event wrote it (the app prefers the bot's current name).
    bot_display: str | None
    outcome: str | None
    #: The line of its output that says what went wrong (``formatting.summary_line``); for a run
    #: that timed out without an error line, what its timing says (``diagnosis.diagnose``).
    summary: str
    when: datetime | None
    #: What kind of failure it was, from its text and timing (``diagnosis.failure_kind``).
    kind: FailureKind = "error"
    #: Its error signature (``diagnosis.error_signature``): one cause, across runs and bots.
    signature: Signature = NO_SIGNATURE
    #: The reference of its input resource (``Patient/123``), when it names one (sanitized).
    input_ref: str | None = None

    @classmethod
    def of(cls, event: AuditEvent, timeout: float = DEFAULT_TIMEOUT) -> FailedRun:
        """The run as shown; ``timeout``: its bot's, in seconds (``durations.bot_timeout``)."""
        display = bot_display(event)
        diagnosis = diagnose_event(event, timeout, summary=summary_line(event.outcomeDesc))
        found = event.input_entity
        reference = found.what.reference if found is not None and found.what else None
        return cls(
            id=event.id,
            bot_id=event.bot_id or "",
            bot_display=clip(display) if display else None,
            outcome=event.outcome,
            summary=diagnosis.summary,
            when=event.when,
            kind=diagnosis.kind,
            signature=diagnosis.signature,
            input_ref=clip(reference, 200) if reference else None,
        )

    @property
    def outcome_info(self) -> OutcomeInfo:
        return outcome_info(self.outcome)


@dataclass
class Alert:
    """New failed runs of one bot in one poll (one toast)."""

    bot_id: str
    #: Oldest first.
    runs: list[FailedRun] = field(default_factory=list)

    @property
    def newest(self) -> FailedRun:
        return self.runs[-1]

    @property
    def worst_run(self) -> FailedRun:
        """The run with the worst outcome (the newest of those): the one a toast speaks of."""
        return max(reversed(self.runs), key=lambda run: run.outcome_info.severity)

    @property
    def worst(self) -> OutcomeInfo:
        return self.worst_run.outcome_info


class FailureWatch:
    """The project's newest failed runs, polled incrementally; announces new ones once."""

    def __init__(
        self,
        client: MedplumClient,
        *,
        window: int = 200,
        page_size: int = 100,
        timeout_of: Callable[[str], float] | None = None,
    ) -> None:
        """``timeout_of(bot_id)``: the bot's timeout in seconds (a run that used 95 % of it timed
        out); 10 s for every bot when not given."""
        if window < 1 or page_size < 1:
            raise ValueError("window and page_size must be positive")
        self.client = client
        self.timeout_of = timeout_of
        self.window = window
        self.page_size = min(page_size, 1000)
        self.loaded = False
        #: A backlog larger than one poll reads remains (the next poll goes on).
        self.behind = False
        #: The newest failed runs, newest first (at most ``window``).
        self.runs: list[FailedRun] = []
        #: Bumped whenever :attr:`runs` changes (a screen showing them diffs then).
        self.version = 0
        self.invalid = 0
        self._known: OrderedDict[str, None] = OrderedDict()
        self._incoming: list[AuditEvent] = []
        self._lock = asyncio.Lock()
        self._cursor = EventCursor(scope=self._scope())

    @staticmethod
    def _scope() -> dict[str, str]:
        return {"type": "execute", "outcome": ",".join(FAILURE_CODES)}

    # ------------------------------------------------------------------ reading

    def knows(self, event_id: str) -> bool:
        """Whether this failure was announced already, or was there at start."""
        return event_id in self._known

    # ------------------------------------------------------------------ polling

    async def poll(self) -> list[Alert]:
        """Read the failures since the last poll (the newest ones on the first call, announced
        never); return one alert per bot with new ones. Calls are serialized (one query at a time)."""
        async with self._lock:
            if not self.loaded:
                await self._load()
                return []
            more = False
            for _ in range(MAX_POLL_PAGES):
                new, more = await self.client.events_since(self._cursor, count=self.page_size, max_pages=1)
                self.invalid += self._cursor.take_unreadable()
                # Kept here before the next request: a poll cancelled half-way loses nothing.
                self._incoming.extend(new)
                if not more:
                    break
            self.behind = more
            return await self._take()

    async def _load(self) -> None:
        page = await self.client.bot_events(None, count=self.window, failed_only=True, execute_only=True)
        self.invalid += page.invalid
        runs = await self._read(page.resources)
        self._cursor = EventCursor(scope=self._scope())
        self._cursor.seed(page.resources, self.client.server_now())
        for event in page.resources:
            self._remember(event.id)
        self._merge(runs)
        self.loaded = True

    async def _read(self, events: list[AuditEvent]) -> list[FailedRun]:
        """Each failed run as shown (its summary line, kind and signature: the costly part), a
        batch at a time with a turn of the event loop between (a screen stays responsive while 300
        logs are read). Nothing is recorded here: a poll cancelled half-way loses nothing."""
        runs: list[FailedRun] = []
        for start in range(0, len(events), READ_BATCH):
            if start:
                await asyncio.sleep(0)
            runs.extend(self._failed_run(event) for event in events[start : start + READ_BATCH])
        return runs

    def _failed_run(self, event: AuditEvent) -> FailedRun:
        bot_id = event.bot_id
        timeout = self.timeout_of(bot_id) if self.timeout_of is not None and bot_id else DEFAULT_TIMEOUT
        return FailedRun.of(event, timeout)

    async def _take(self) -> list[Alert]:
        # Each new failure read once (its summary line is the costly part), counted once even
        # when two pages of one poll both brought it.
        wanted: dict[str, AuditEvent] = {}
        for event in sorted(self._incoming, key=event_key):
            if event.outcome in FAILURE_CODES and not self.knows(event.id):
                wanted.setdefault(event.id, event)
        fresh = await self._read(list(wanted.values()))
        self._incoming = []
        for run in fresh:
            self._remember(run.id)
        self._merge(fresh)
        alerts: dict[str, Alert] = {}
        for run in fresh:
            if run.bot_id:
                alerts.setdefault(run.bot_id, Alert(run.bot_id)).runs.append(run)
        return list(alerts.values())

    def _remember(self, event_id: str) -> None:
        self._known[event_id] = None
        self._known.move_to_end(event_id)
        while len(self._known) > MAX_KNOWN:
            self._known.popitem(last=False)

    def _merge(self, runs: list[FailedRun]) -> None:
        have = {run.id for run in self.runs}
        added = [run for run in runs if run.id not in have]
        if not added:
            return
        self.runs = sorted([*self.runs, *added], key=event_key, reverse=True)[: self.window]
        self.version += 1
