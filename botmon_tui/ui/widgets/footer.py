"""Textual's Footer, recomposed only when what it shows changed, at most once per burst.

The stock Footer recomposes (mounting a widget per key) on every bindings change; mounting a
screen changes focus several times in a row: repeated recomposes were most of the time to open
a bot's Event tab (benchmark rows 5 and 6). Here a burst of changes (within ``RECOMPOSE_DELAY``)
makes one recompose, and none at all when the keys shown are the same as before (a recompose
mounts a widget per key; focus moving between the table and the pane, or rows arriving, change
nothing it shows).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from botmon_tui.ui.textual_private import footer_bindings_ready, set_footer_bindings_ready

__all__ = ["KeyFooter"]

#: Bindings changes within this many seconds make one recompose.
RECOMPOSE_DELAY = 0.05
#: When the keys do not fit the terminal's width (80 columns), these go first, in this order (by
#: action): the footer keeps Back, Filter, the sort keys, F, q and ? longest; every key stays in the help
#: screen (``?``) and the command palette.
DROP_ORDER = (
    "toggle_times",
    "refresh",
    "toggle_pause",
    "toggle_failed_only",
    "sort_attention",
    "app.failures",
    "app.quit",
)


class KeyFooter(Footer):
    def __init__(self, *, hold: float = 0.0) -> None:
        """``hold``: compose the keys only once :meth:`release` is called (or after ``hold``
        seconds), so that a screen's first content paints before them (benchmark rows 5 and 6)."""
        super().__init__(compact=True, show_command_palette=False)
        self._recompose_pending = False
        #: What the last compose showed (None before the first).
        self._shown: tuple[object, ...] | None = None
        self._hold = hold
        self._held = hold > 0
        self._wanted = False

    def on_mount(self) -> None:  # (Footer's own on_mount runs too)
        if self._held:
            self.set_timer(self._hold, self.release, name="footer-release")

    def release(self) -> None:
        """Show the keys now (if held)."""
        if not self._held:
            return
        self._held = False
        if self._wanted and self.is_attached:
            self._wanted = False
            self._recompose_pending = True
            self.call_later(self._recompose_now)

    def _what_to_show(self) -> tuple[object, ...]:
        """Everything the stock compose reads: the shown bindings, their state and the palette key."""
        keys = tuple(
            (
                binding.key,
                binding.key_display,
                binding.description,
                binding.action,
                binding.group,
                enabled,
                tooltip,
            )
            for (_node, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show
        )
        return (keys, self.compact, self.show_command_palette, self.app.ENABLE_COMMAND_PALETTE)

    def compose(self) -> ComposeResult:
        if footer_bindings_ready(self):
            self._shown = self._what_to_show()
        yield from super().compose()
        self.call_after_refresh(self._fit)

    def on_resize(self) -> None:
        # Wider again: what was dropped may fit now (a narrower one drops more).
        if any(not key.display for key in self.query("FooterKey")):
            self._shown = None
            self.call_later(self._recompose_now)
        else:
            self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        """Drop keys (``DROP_ORDER``) until the rest fits on the line, one per frame."""
        if not self.is_attached or self.virtual_size.width <= self.size.width:
            return
        shown = {str(getattr(key, "action", "")): key for key in self.query("FooterKey") if key.display}
        for action in DROP_ORDER:
            key = shown.get(action)
            if key is not None:
                key.display = False
                self.call_after_refresh(self._fit)
                return

    def bindings_changed(self, screen: Screen[object]) -> None:
        set_footer_bindings_ready(self)
        if not screen.app.app_focus:
            return
        if self._held:
            self._wanted = True
            return
        if self.is_attached and screen is self.screen and not self._recompose_pending:
            self._recompose_pending = True
            self.set_timer(RECOMPOSE_DELAY, self._recompose_now, name="footer-recompose")

    async def _recompose_now(self) -> None:
        self._recompose_pending = False
        if self._shown is not None and self._what_to_show() == self._shown:
            return
        await self.recompose()
