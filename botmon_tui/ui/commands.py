"""Command palette (ctrl+p): the main actions of the current screen, and "open bot <name>".

Textual's ``Matcher.highlight`` parses its candidate as markup, and a bot name is untrusted;
so hits are built here as ``rich.text.Text`` from sanitized strings, highlighted by offsets.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from rich.style import Style
from rich.text import Text
from textual.command import DiscoveryHit, Hit, Hits, Matcher, Provider

from botmon_tui.textsafe import clip
from botmon_tui.ui.keys import palette_entries

if TYPE_CHECKING:
    from botmon_tui.ui.app import BotmonApp

__all__ = ["BotmonCommands"]

#: Most "open bot" hits offered for one query.
MAX_BOT_HITS = 30


def _highlight(matcher: Matcher, candidate: str) -> tuple[float, Text]:
    score, offsets = matcher.fuzzy_search.match(matcher.query, candidate)
    text = Text(candidate, end="")
    style = matcher.match_style if isinstance(matcher.match_style, Style) else Style(reverse=True)
    for offset in offsets:
        if 0 <= offset < len(candidate) and not candidate[offset].isspace():
            text.stylize(style, offset, offset + 1)
    return score, text


class BotmonCommands(Provider):
    @property
    def botmon(self) -> BotmonApp:
        return cast("BotmonApp", self.app)

    def _actions(self) -> list[tuple[str, str, Callable[[], object]]]:
        """(name, help, callback) for what the current screen's keys do now (``ui/keys.py``:
        from the active bindings, each with the key it has after a keymap)."""
        from botmon_tui.ui.screens.base import PollingScreen

        screen = self.screen  # the screen the palette was opened from
        if not isinstance(screen, PollingScreen):
            return []
        return [(entry.name, entry.help, entry.run) for entry in palette_entries(self.app, screen)]

    async def discover(self) -> Hits:
        for name, help_text, callback in self._actions():
            yield DiscoveryHit(Text(name), callback, text=name, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._actions():
            score, display = _highlight(matcher, name)
            if score > 0:
                yield Hit(score, display, callback, text=name, help=help_text)
        app = self.botmon
        hits = 0
        for session in app.sessions:
            if not session.project.loaded:
                continue
            where = f" ({session.label})" if len(app.sessions) > 1 else ""
            for status in list(session.project.statuses.values()):
                bot = status.bot
                candidate = f"Open bot {clip(bot.display_name)}{where}"
                score, display = _highlight(matcher, candidate)
                if score <= 0:
                    continue
                yield Hit(
                    score,
                    display,
                    partial(app.open_bot, bot.id, bot, session=session),
                    text=candidate,
                    help="Its Event tab",
                )
                hits += 1
                if hits >= MAX_BOT_HITS:
                    return
