"""Resources read on request (a run's input, its Subscription): one GET each, then cached.

Nothing here is read by a poll: a read happens only when the user asks (``i`` on the Event tab),
and the answer is kept (at most ``size`` of them, the oldest going first), so asking again, or the
pane showing the Subscription's line for every run it started, costs nothing. A 403, 404, 410 or
a body too large is an answer too (it says something about that resource) and is kept; a network
or server error is not (asking again may work).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from botmon_tui.medplum.client import MedplumClient
from botmon_tui.medplum.errors import (
    BadRequestError,
    ForbiddenError,
    MedplumError,
    NotFoundError,
    TooLargeError,
)

__all__ = ["ResourceRead", "ResourceReads"]

#: Errors that are the resource's answer (kept like a resource), not a passing trouble.
_FINAL = (ForbiddenError, NotFoundError, TooLargeError, BadRequestError)


@dataclass(frozen=True, slots=True)
class ResourceRead:
    """What a read of ``reference`` gave: the resource's JSON, or the error."""

    reference: str
    data: dict[str, Any] | None = None
    error: MedplumError | None = None


class ResourceReads:
    """A bounded cache of resources read on request (see the module's docstring)."""

    def __init__(self, client: MedplumClient, *, size: int = 32) -> None:
        self.client = client
        self.size = size
        self._kept: OrderedDict[str, ResourceRead] = OrderedDict()
        self._reading: dict[str, asyncio.Task[ResourceRead]] = {}
        #: GETs sent.
        self.reads = 0

    def peek(self, reference: str) -> ResourceRead | None:
        """The answer kept for ``reference``, if any (no request)."""
        return self._kept.get(reference)

    async def read(self, reference: str) -> ResourceRead:
        """The answer for ``reference``: kept, or one GET (two callers at once share it)."""
        kept = self._kept.get(reference)
        if kept is not None:
            self._kept.move_to_end(reference)
            return kept
        task = self._reading.get(reference)
        if task is None:
            task = asyncio.ensure_future(self._get(reference))
            self._reading[reference] = task
            task.add_done_callback(lambda _: self._reading.pop(reference, None))
        return await asyncio.shield(task)

    async def _get(self, reference: str) -> ResourceRead:
        self.reads += 1
        try:
            result = ResourceRead(reference, data=await self.client.read_reference(reference))
        except _FINAL as error:
            result = ResourceRead(reference, error=error)
        except MedplumError as error:
            return ResourceRead(reference, error=error)  # (not kept: asking again may work)
        self._kept[reference] = result
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)
        return result
