"""The incremental event feed of one bot: what the Event tab shows.

* The first page is the newest ``first_page`` events (one request, no COUNT query).
* A poll asks only for what is newer than the newest event seen (one request when idle; see
  :class:`~botmon_tui.medplum.watermark.EventCursor` for ties and late commits).
* Older events are paged on demand with ``_lastUpdated=le<oldest held>`` newest-first, so paging
  is not capped by Medplum's 10,000 ``_offset`` limit and never re-reads what is held.
* At most ``window`` events are held; new events push the oldest out (reported as ``removed``),
  and paging older stops at the window (``at_limit``).
* ``outcomes`` narrows the whole feed on the server (``outcome=4,8,12``: failures only): the
  first page, every poll and every older page carry it, so the window holds only those runs.
* Each is held as a :class:`FeedEvent` (the fields the Event tab shows, sorts and filters on),
  not as the parsed AuditEvent model: at 10,000 events that is ~20 MB instead of ~95 MB, and one
  object per event for the garbage collector instead of ~60 (benchmark row 13; full collections
  walk every one of them).
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left, insort
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from botmon_tui.diagnosis import FailureKind, run_kind
from botmon_tui.formatting import summarize
from botmon_tui.medplum.client import MedplumClient
from botmon_tui.medplum.models import (
    FAILURE_CODES,
    NO_TRACING,
    AuditEntity,
    AuditEvent,
    Bot,
    Coding,
    OutcomeInfo,
    Reference,
    RunEntities,
    SearchPage,
    Tracing,
    format_instant,
    outcome_info,
)
from botmon_tui.medplum.watermark import EventCursor

__all__ = ["EventFeed", "FeedDelta", "FeedEvent", "event_key"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

SortKey = tuple[datetime, str]


class _Timed(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def when(self) -> datetime | None: ...


def _hour(when: datetime | None) -> int:
    """The clock hour of ``when`` (hours since the epoch)."""
    return int((when or _EPOCH).timestamp() // 3600)


def _newer(event: FeedEvent, held: FeedEvent) -> bool:
    """Whether ``event`` is a newer version than ``held`` of the same AuditEvent: a later Last
    Updated wins; with the same (or no) time the copy that arrived last does (a server's answer
    reflects its state when it answered), unless only ``held`` has a time."""
    if held.when is None or event.when is None:
        return event.when is not None or held.when is None
    return event.when >= held.when


def event_key(event: _Timed) -> SortKey:
    """Chronological key of an event: Last Updated (``recorded`` as fallback), then id."""
    return (event.when or _EPOCH, event.id)


#: An entity other than the bot: (reference, display, role code, role display, name).
EntityRow = tuple[str | None, str | None, str | None, str | None, str | None]


class FeedEvent(RunEntities):
    """One bot run as the Event tab holds it: read from its AuditEvent, the fields shown, sorted on
    and filtered on, in one object (the model is ~60 objects and ~7 KB besides the log)."""

    __slots__ = (
        "ended",
        "entities",
        "headline",
        "headline_line",
        "id",
        "outcome",
        "outcomeDesc",
        "started",
        "trace",
        "when",
    )

    def __init__(self, event: AuditEvent) -> None:
        self.id: str = event.id
        #: Last Updated (``recorded`` as fallback).
        self.when: datetime | None = event.when
        self.outcome: str | None = event.outcome
        self.outcomeDesc: str | None = event.outcomeDesc
        #: The line of the output that says what happened, sanitized (the table's Outcome Desc cell),
        #: and its number in the output (the pane opens on it; see
        #: :func:`botmon_tui.formatting.summarize`).
        self.headline, self.headline_line = summarize(event.outcomeDesc)
        self.started: datetime | None = event.started
        self.ended: datetime | None = event.ended
        self.entities: tuple[EntityRow, ...] = tuple(
            (
                e.what.reference if e.what else None,
                e.what.display if e.what else None,
                e.role.code if e.role else None,
                e.role.display if e.role else None,
                e.name,
            )
            for e in event.other_entities
        )
        #: The tracing extension's (request id, trace id); None without one (most of memory).
        tracing = event.tracing
        self.trace: Tracing | None = tracing if tracing != NO_TRACING else None

    @property
    def outcome_info(self) -> OutcomeInfo:
        return outcome_info(self.outcome)

    @property
    def duration(self) -> timedelta | None:
        if self.started is None or self.ended is None:
            return None
        return self.ended - self.started

    @property
    def tracing(self) -> Tracing:
        return self.trace or NO_TRACING

    def failure_kind(self, timeout: float) -> FailureKind | None:
        """What kind of failure it was (``diagnosis.run_kind``: its output and its duration against
        its bot's ``timeout`` in seconds); None when it did not fail."""
        if self.outcome not in FAILURE_CODES:
            return None
        return run_kind(self.outcomeDesc, self.duration, timeout)

    @property
    def other_entities(self) -> list[AuditEntity]:
        """The run's entities other than the bot (its input resource, subscription...)."""
        return [
            AuditEntity(
                what=Reference(reference=ref, display=display) if ref or display else None,
                role=Coding(code=code, display=role) if code or role else None,
                name=name,
            )
            for ref, display, code, role, name in self.entities
        ]

    def __repr__(self) -> str:
        return f"FeedEvent(id={self.id!r}, when={self.when!r}, outcome={self.outcome!r})"


@dataclass
class FeedDelta:
    """What changed in the feed: apply it to a table by id."""

    added: list[FeedEvent] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    #: Events held already, replaced by a newer version (a later ``meta.lastUpdated``): their
    #: rows show the new one.
    changed: list[FeedEvent] = field(default_factory=list)
    #: The added rows are older rows from paging (they go at the bottom).
    older: bool = False
    #: A backlog larger than one poll fetches remains; the next poll continues it.
    behind: bool = False

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


class EventFeed:
    """Holds a bounded, de-duplicated, chronologically ordered window of one bot's AuditEvents."""

    def __init__(
        self,
        client: MedplumClient,
        bot_id: str,
        *,
        window: int = 10_000,
        first_page: int = 100,
        page_size: int = 100,
        max_poll_pages: int = 10,
        outcomes: Iterable[str] = (),
    ) -> None:
        if window < 1 or first_page < 1 or page_size < 1:
            raise ValueError("window and page sizes must be positive")
        self.client = client
        self.bot_id = bot_id
        self.window = window
        self.first_page = min(first_page, 1000)
        self.page_size = min(page_size, 1000)
        self.max_poll_pages = max_poll_pages
        #: Outcome codes asked for (``()``: every run); ``FAILURE_CODES``: failures only.
        self.outcomes = tuple(outcomes)
        self.bot: Bot | None = None
        self.loaded = False
        self._first: asyncio.Task[SearchPage[AuditEvent]] | None = None
        self.has_older = False
        self.invalid = 0
        self._by_id: dict[str, FeedEvent] = {}
        self._keys: list[SortKey] = []  # ascending
        #: Runs and failed runs held, per clock hour (hours since the epoch; see ``hourly``).
        self._hours: dict[int, list[int]] = {}
        self._latest_hour = 0
        self._cursor = EventCursor.for_bot(bot_id, self.outcomes)

    # ------------------------------------------------------------------ reading

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._by_id

    def get(self, event_id: str) -> FeedEvent | None:
        return self._by_id.get(event_id)

    @property
    def events(self) -> list[FeedEvent]:
        """Held events, newest first."""
        return [self._by_id[key[1]] for key in reversed(self._keys)]

    @property
    def newest(self) -> FeedEvent | None:
        return self._by_id[self._keys[-1][1]] if self._keys else None

    @property
    def oldest(self) -> FeedEvent | None:
        return self._by_id[self._keys[0][1]] if self._keys else None

    def _count(self, event: FeedEvent, sign: int) -> None:
        """Keep the runs (and failed runs) held per clock hour up to date (see :meth:`hourly`)."""
        hour = _hour(event.when)
        counts = self._hours.setdefault(hour, [0, 0])
        counts[0] += sign
        if event.outcome in FAILURE_CODES:
            counts[1] += sign
        if not counts[0]:
            del self._hours[hour]
        elif sign > 0 and hour > self._latest_hour:
            self._latest_hour = hour

    def hourly(self, now: datetime, hours: int = 24) -> list[tuple[int, int]]:
        """Runs held, and failed runs among them, in each of the last ``hours`` clock hours (the
        current one last, oldest first); a run stamped after this hour (the server's clock ahead
        of ours) counts in the current one. Counted as events come and go: ``hours`` look-ups."""
        current = _hour(now)
        empty = (0, 0)
        slots = [tuple(self._hours.get(hour, empty)) for hour in range(current - hours + 1, current + 1)]
        for hour in range(current + 1, self._latest_hour + 1):
            runs, failed = self._hours.get(hour, empty)
            slots[-1] = (slots[-1][0] + runs, slots[-1][1] + failed)
        return [(runs, failed) for runs, failed in slots]

    def failing_since(self) -> datetime | None:
        """When the current failure streak began: the start of the oldest of the newest runs that
        all failed (``period.start``, else Last Updated), the newest run being one of them. None
        when the newest run succeeded, when the streak reaches past the runs held (its start is
        not known), in the failures-only mode, or for a bot that records only failures (its
        successes write no AuditEvent)."""
        if self.failed_only or (self.bot is not None and self.bot.audit_trigger == "on-error"):
            return None
        first: FeedEvent | None = None
        for _, event_id in reversed(self._keys):
            event = self._by_id[event_id]
            if event.outcome not in FAILURE_CODES:
                break
            first = event
        else:
            if self.has_older:
                return None
        if first is None:
            return None
        return first.started or first.when

    @property
    def complete_since(self) -> datetime | None:
        """Since when every run (of this feed's scope) is held; ``None``: the whole history is."""
        oldest = self.oldest
        return oldest.when if self.has_older and oldest is not None else None

    @property
    def at_limit(self) -> bool:
        """True when the window is full: older events are not paged in any further."""
        return len(self._by_id) >= self.window

    # ------------------------------------------------------------------ loading

    async def load_bot(self) -> Bot:
        self.bot = await self.client.get_bot(self.bot_id)
        return self.bot

    def prefetch(self) -> None:
        """Send the first page's request now, ahead of :meth:`load_initial` (which takes its answer).

        For a screen about to be built: building it keeps the event loop busy for tens of
        milliseconds, and a request started after that waits for it before it even leaves.
        """
        if self._first is None and not self.loaded:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop yet: load_initial asks when it runs
            self._first = asyncio.ensure_future(self._first_page())

    def close(self) -> None:
        """Drop a prefetched first page nobody took (cancelled, or its error retrieved)."""
        first, self._first = self._first, None
        if first is not None:
            if first.done():
                if not first.cancelled():
                    first.exception()
            else:
                first.cancel()

    @property
    def failed_only(self) -> bool:
        return set(self.outcomes) == set(FAILURE_CODES)

    def _first_page(self) -> Coroutine[Any, Any, SearchPage[AuditEvent]]:
        return self.client.bot_events(self.bot_id, count=self.first_page, outcomes=self.outcomes)

    async def load_initial(self) -> FeedDelta:
        """The newest page of events (call once; later use :meth:`poll`)."""
        first, self._first = self._first, None
        if first is not None:
            page = await first  # a failed prefetch fails this load; the next one asks again
        else:
            page = await self._first_page()
        self.invalid += page.invalid
        self._cursor.seed(page.resources, self.client.server_now())
        delta = self._merge(page.resources)
        self.has_older = page.next_url is not None or len(page.resources) >= self.first_page
        self.loaded = True
        return delta

    async def poll(self) -> FeedDelta:
        """Fetch events newer than the newest seen and merge them."""
        if not self.loaded:
            return await self.load_initial()
        new, behind = await self.client.events_since(
            self._cursor, count=self.page_size, max_pages=self.max_poll_pages
        )
        self.invalid += self._cursor.take_unreadable()
        delta = self._merge(new)
        delta.behind = behind
        return delta

    async def load_older(self) -> FeedDelta:
        """Page in the next older events (newest-first below the oldest held)."""
        if not self.loaded:
            return await self.load_initial()
        oldest = self.oldest
        if not self.has_older or oldest is None or self.at_limit:
            return FeedDelta(older=True)
        room = self.window - len(self._by_id)
        count = max(1, min(self.page_size, room))
        params = self.client.event_params(self.bot_id, count=count, outcomes=self.outcomes)
        when = oldest.when
        if when is not None:
            params.insert(1, ("_lastUpdated", "le" + format_instant(when)))
        page = await self.client.search("AuditEvent", params, AuditEvent)
        self.invalid += page.invalid
        fresh = [e for e in page.resources if e.id not in self._by_id]
        # Many events sharing the oldest timestamp can fill a whole page with rows already held:
        # follow the server's own next link until something new appears.
        hops = 0
        while not fresh and page.next_url and hops < 20:
            nxt = await self.client.next_page(page, AuditEvent)
            if nxt is None:
                break
            page = nxt
            hops += 1
            self.invalid += page.invalid
            fresh = [e for e in page.resources if e.id not in self._by_id]
        self.has_older = page.next_url is not None and len(page.resources) > 0
        delta = self._merge(fresh[:room], evict=False)
        delta.older = True
        return delta

    # ------------------------------------------------------------------ merging

    def _merge(self, events: Iterable[AuditEvent], *, evict: bool = True) -> FeedDelta:
        delta = FeedDelta()
        for model in events:
            event = FeedEvent(model)
            existing = self._by_id.get(event.id)
            if existing is not None:
                if not _newer(event, existing):
                    continue  # the copy held is as new or newer (an older page, a repeat)
                self._count(existing, -1)
                self._count(event, 1)
                delta.changed.append(event)
                if event_key(existing) == event_key(event):
                    self._by_id[event.id] = event
                    continue
                self._keys.pop(bisect_left(self._keys, event_key(existing)))
            else:
                self._count(event, 1)
            self._by_id[event.id] = event
            key = event_key(event)
            if not self._keys or key > self._keys[-1]:
                self._keys.append(key)
            else:
                insort(self._keys, key)
            if existing is None:
                delta.added.append(event)
        if delta.changed:
            # An event changed and then evicted is told as removed only.
            held = self._by_id
            delta.changed = [e for e in delta.changed if held.get(e.id) is e]
        if evict and len(self._keys) > self.window:
            excess = len(self._keys) - self.window
            gone = self._keys[:excess]
            del self._keys[:excess]
            added_ids = {e.id for e in delta.added}
            for _, event_id in gone:
                dropped = self._by_id.pop(event_id, None)
                if dropped is not None:
                    self._count(dropped, -1)
                if event_id in added_ids:
                    delta.added = [e for e in delta.added if e.id != event_id]
                else:
                    delta.removed.append(event_id)
            self.has_older = True
        return delta
