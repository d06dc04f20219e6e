"""Garbage collection that does not freeze the screen while the user works.

CPython's full (oldest generation) collection walks every object the collector tracks. With an
Event tab of 10,000 rows that is well over 100,000 objects, a freeze long enough to notice, at
whatever moment an allocation tips the threshold: often in the middle of a poll's merge or a page
of older events (benchmark rows 7, 8 and 16 measure the longest stall; docs/architecture.md,
"Garbage collection"). So:

* what lives on is collected once and frozen (:meth:`QuietCollector.freeze`): the start-up heap
  (modules, the app, the loaded bot list) and an open Event tab's screen; no full collection
  walks it again (an Event tab thaws it when it is left);
* the young generations are still collected automatically (cheap: only recent objects);
* full collections run at a quiet moment: no key or mouse input for ``quiet`` seconds and
  nothing loading, at most every ``every`` seconds. Cycles that became garbage wait for that
  moment (the rest is freed as soon as it is unused, as always: reference counting). While
  the user pages through thousands of rows without a pause, :meth:`after_load` collects after
  a page is on screen once ``pressure`` young collections have passed, so memory stays bounded,
  and freezes what survived it when the screen is frozen (the pages belong to it).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.app import App
    from textual.timer import Timer

__all__ = ["QuietCollector"]

#: Automatic full collections off: the oldest generation's threshold is never reached.
NEVER = 1 << 30
#: How often the collector looks for a quiet moment.
CHECK_SECONDS = 2.0


@contextmanager
def full_collections_off() -> Iterator[None]:
    """No automatic full collection until the block ends (the thresholds are restored after it).

    For the command line's one-shot commands (``status``, ``bots``, ``events`` without
    ``--follow``): they read up to a few thousand resources into a heap that the imports (pydantic,
    httpx) made large, then exit; each full collection walks all of it, about a third of ``status``'s
    CPU time (benchmark row 17). The young generations are still collected; cycles wait for the
    exit. Textual-free: the command line imports this module, not the app.
    """
    saved = gc.get_threshold()
    gc.set_threshold(saved[0], saved[1], NEVER)
    try:
        yield
    finally:
        gc.set_threshold(*saved)


class QuietCollector:
    def __init__(
        self,
        app: App[Any],
        *,
        every: float = 30.0,
        quiet: float = 2.0,
        pressure: int = 10,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.every = every
        self.quiet = quiet
        self.pressure = pressure
        self.clock = clock
        self.last_input = clock()
        self.last_collection = clock()
        self.collections = 0
        self.frozen = False
        #: Freeze again at the next quiet moment (see :meth:`thaw`).
        self.refreeze = False
        self._saved: tuple[int, int, int] | None = None
        self._timer: Timer | None = None

    def start(self) -> None:
        if self._saved is not None:
            return
        self._saved = gc.get_threshold()
        young, middle, _oldest = self._saved
        gc.set_threshold(young, middle, NEVER)
        self._timer = self.app.set_interval(CHECK_SECONDS, self._due, name="quiet-gc")

    def stop(self) -> None:
        """Back to the interpreter's own policy (tests run many apps in one process)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None
        if self.frozen:
            gc.unfreeze()
            self.frozen = False

    def note_input(self) -> None:
        self.last_input = self.clock()

    def busy(self) -> bool:
        """The user is typing or clicking, or something is loading."""
        return self.clock() - self.last_input < self.quiet or self.loading()

    def loading(self) -> bool:
        return any(worker.is_running for worker in self.app.workers)

    def _due(self) -> None:
        if self.refreeze and not self.busy():
            self.freeze()
        elif self.clock() - self.last_collection >= self.every and not self.busy():
            self.collect()

    def after_load(self) -> None:
        """A page of rows is on screen: collect now if much may have piled up since the last time
        (``gc.get_count()[2]``: young collections since the last full one)."""
        if self._saved is not None and gc.get_count()[2] >= self.pressure:
            self.collect()
            if self.frozen:
                # The pages just loaded live on with the frozen screen: out of the way too, so the
                # next of these collections walks only what came after them (its cost stays that
                # of a few pages instead of growing with every row held: benchmark row 8).
                gc.freeze()

    def collect(self) -> None:
        gc.collect()
        self.collections += 1
        self.last_collection = self.clock()

    def freeze(self) -> None:
        """Collect once, then move every object alive now out of the collector's way.

        For state that lives on: the start-up heap once the bot list is loaded, an Event tab once
        its first rows are on screen. Frozen objects are still freed when unused (reference
        counting); only cycles among them wait, until :meth:`thaw`, which the owner of the frozen
        screen calls when it goes away.
        """
        self.collect()
        gc.freeze()
        self.frozen = True
        self.refreeze = False

    def thaw(self) -> None:
        """A frozen screen is going away: everything back to the collector; what lives on is
        frozen again at the next quiet moment (after a collection that frees the screen)."""
        if self.frozen:
            gc.unfreeze()
            self.frozen = False
            self.refreeze = True
