"""Textual's Footer, recomposed at most once per refresh.

The stock Footer recomposes (mounting a widget per key) on every bindings change; mounting a
screen changes focus several times in a row, which cost ~0.5 s of repeated recomposes when a
bot's Event tab opened. Here a burst of changes (within 50 ms) makes one recompose.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer

__all__ = ["KeyFooter"]

#: Bindings changes within this many seconds make one recompose.
RECOMPOSE_DELAY = 0.05


class KeyFooter(Footer):
    def __init__(self) -> None:
        super().__init__(compact=True, show_command_palette=False)
        self._recompose_pending = False

    def bindings_changed(self, screen: Screen[object]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._recompose_pending:
            self._recompose_pending = True
            self.set_timer(RECOMPOSE_DELAY, self._recompose_now, name="footer-recompose")

    async def _recompose_now(self) -> None:
        self._recompose_pending = False
        await self.recompose()
