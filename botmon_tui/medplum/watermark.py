"""Incremental "what is new since I last looked" queries over AuditEvent, as pure logic.

Medplum sends no Subscription notifications for AuditEvents, so a monitor polls:
``AuditEvent?<scope>&_lastUpdated=gt<newest seen>&_sort=_lastUpdated&_count=100`` and follows ``next``.

Two traps are handled here:

* **Ties and late commits.** Several runs can finish in the same millisecond, and a run's row can
  become visible a little after its timestamp (the server stamps it, then commits). Anything
  stamped more than ``settle`` seconds before the previous poll was already visible to that poll,
  so we ask with ``ge`` from there (or from the newest instant, whichever is older) and drop the
  ids already seen. When nothing can still be pending, ``gt <newest>`` is used and an idle poll
  returns an empty Bundle (cheap).
* **Duplicates.** Every id returned at or after the lower bound is remembered until it falls out
  of the settle window, so nothing is delivered twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from botmon_tui.medplum.models import AuditEvent, format_instant, parse_instant

__all__ = ["EventCursor"]


@dataclass
class EventCursor:
    """The watermark of one incremental AuditEvent query (one bot, or the whole project)."""

    #: Search parameters that define the scope: ``{"entity": "Bot/1"}`` or ``{"type": "execute"}``.
    scope: dict[str, str]
    #: Newest ``meta.lastUpdated`` seen (aware UTC), ``None`` before anything was seen.
    newest: datetime | None = None
    #: How long after its timestamp an event may still become visible (commit lag, ties).
    settle: timedelta = timedelta(seconds=3)
    #: Ids seen with a timestamp at or after the floor of the next query.
    _recent: dict[str, datetime] = field(default_factory=dict)
    #: Server time of the last poll that went through, and of the one in flight.
    _last_poll: datetime | None = None
    _pending: datetime | None = None
    _issued: bool = False
    #: Entries the polls returned that could not be read (broken shape), not yet reported.
    unreadable: int = 0

    @classmethod
    def for_bot(cls, bot_id: str, outcomes: Iterable[str] = ()) -> EventCursor:
        """The runs of one bot (``entity=Bot/<id>``), only those with ``outcomes`` when given."""
        scope = {"entity": f"Bot/{bot_id}"}
        codes = ",".join(outcomes)
        if codes:
            scope["outcome"] = codes
        return cls(scope=scope)

    def params(self, server_now: datetime | None, count: int = 100) -> list[tuple[str, str]]:
        """The query parameters of the next poll (scope first, then the watermark).

        ``server_now`` is the server's clock as the request is made; it is remembered and, once
        :meth:`accept` confirms the poll went through, bounds which late commits can still appear.
        """
        params = list(self.scope.items())
        floor = self._floor()
        if floor is not None and self.newest is not None:
            if floor >= self.newest:
                params.append(("_lastUpdated", "gt" + format_instant(self.newest)))
            else:
                params.append(("_lastUpdated", "ge" + format_instant(floor)))
        params.append(("_sort", "_lastUpdated"))
        params.append(("_count", str(count)))
        self._pending, self._issued = server_now, True
        return params

    def _floor(self) -> datetime | None:
        """Oldest timestamp an unseen event can still have.

        Everything stamped more than ``settle`` before the previous poll was visible to it, so
        only events from then on can be new; with no server clock, ``settle`` before the newest.
        """
        if self.newest is None:
            return None
        if self._last_poll is None:
            return self.newest - self.settle
        return min(self.newest, self._last_poll - self.settle)

    def seed(self, events: Iterable[AuditEvent], server_now: datetime | None = None) -> None:
        """Start from events already shown (e.g. the first newest-first page, read at ``server_now``)."""
        self._pending, self._issued = server_now, True
        self.accept(events)

    def accept(self, events: Iterable[AuditEvent]) -> list[AuditEvent]:
        """Keep the events not seen before (in the order given) and move the watermark."""
        if self._issued:
            self._last_poll = self._pending
            self._pending, self._issued = None, False
        new: list[AuditEvent] = []
        for event in events:
            if event.id in self._recent:
                continue
            new.append(event)
            when = parse_instant(event.when_raw)
            if when is not None:
                self._recent[event.id] = when
                if self.newest is None or when > self.newest:
                    self.newest = when
        self._prune()
        return new

    def _prune(self) -> None:
        floor = self._floor()
        if floor is None:
            return
        if any(t < floor for t in self._recent.values()):
            self._recent = {k: t for k, t in self._recent.items() if t >= floor}

    def take_unreadable(self) -> int:
        """How many unreadable entries the polls met since the last call (then zero)."""
        count, self.unreadable = self.unreadable, 0
        return count
