"""Incremental "what is new since I last looked" queries over AuditEvent, as pure logic.

Medplum sends no Subscription notifications for AuditEvents, so a monitor polls:
``AuditEvent?<scope>&_lastUpdated=gt<newest seen>&_sort=_lastUpdated&_count=100`` and follows ``next``.

Two traps are handled here:

* **Ties.** Several runs can finish in the same millisecond, and one of them may be committed
  after we asked. While the newest instant is *fresh* (within ``settle`` seconds of the server's
  clock) we ask with ``ge`` from ``settle`` seconds before it, and drop the ids already seen.
  Once it has settled, ``gt`` is used and an idle poll returns an empty Bundle (cheap).
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
    #: Ids seen with a timestamp inside the settle window before ``newest``.
    _recent: dict[str, datetime] = field(default_factory=dict)

    def params(self, server_now: datetime | None, count: int = 100) -> list[tuple[str, str]]:
        """The query parameters of the next poll (scope first, then the watermark)."""
        params = list(self.scope.items())
        if self.newest is not None:
            fresh = server_now is None or server_now - self.newest < self.settle
            if fresh:
                params.append(("_lastUpdated", "ge" + format_instant(self.newest - self.settle)))
            else:
                params.append(("_lastUpdated", "gt" + format_instant(self.newest)))
        params.append(("_sort", "_lastUpdated"))
        params.append(("_count", str(count)))
        return params

    def seed(self, events: Iterable[AuditEvent]) -> None:
        """Start from events already shown (e.g. the first newest-first page)."""
        self.accept(events)

    def accept(self, events: Iterable[AuditEvent]) -> list[AuditEvent]:
        """Keep the events not seen before (in the order given) and move the watermark."""
        new: list[AuditEvent] = []
        for event in events:
            when = parse_instant(event.when_raw)
            if event.id in self._recent:
                continue
            if when is not None and self.newest is not None and when < self.newest - self.settle:
                # Older than anything we track: we cannot tell whether it was shown. It can only
                # come from a server that ignores the filter; keep it (the feed de-duplicates by id).
                pass
            new.append(event)
            if when is not None:
                self._recent[event.id] = when
                if self.newest is None or when > self.newest:
                    self.newest = when
        self._prune()
        return new

    def _prune(self) -> None:
        if self.newest is None:
            return
        floor = self.newest - self.settle
        if len(self._recent) > 64 or any(t < floor for t in self._recent.values()):
            self._recent = {k: t for k, t in self._recent.items() if t >= floor}

    @property
    def recent_ids(self) -> frozenset[str]:
        return frozenset(self._recent)
