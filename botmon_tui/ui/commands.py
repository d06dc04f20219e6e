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
        """(name, help, callback) for what the current screen can do."""
        app = self.botmon
        screen = self.screen  # the screen the palette was opened from
        from botmon_tui.ui.screens.base import PollingScreen
        from botmon_tui.ui.screens.bot_list import BotListScreen
        from botmon_tui.ui.screens.events import EventScreen
        from botmon_tui.ui.screens.failures import FailuresScreen

        if not isinstance(screen, PollingScreen):
            return []

        def run(action: str) -> object:
            return app.run_action(action, screen)

        actions: list[tuple[str, str, Callable[[], object]]] = [
            ("Refresh now", "Poll the server at once (r)", partial(run, "refresh")),
            ("Pause / resume polling", "Stop or restart automatic updates (p)", partial(run, "toggle_pause")),
            ("Filter", "Show only matching rows (/)", partial(run, "filter")),
            ("Failures", "The newest failed runs of every bot (F)", app.action_failures),
            ("Help: keys", "Every key of this screen (?)", app.action_help),
            ("Quit", "Leave botmon-tui (q)", app.action_quit),
        ]
        if isinstance(screen, BotListScreen):
            actions.insert(0, ("Open the selected bot", "Its Event tab (enter)", partial(run, "open_bot")))
            actions.append(
                (
                    "Sort bots: attention first",
                    "Failing now first: the default order (0)",
                    partial(run, "sort_attention"),
                )
            )
            for spec in screen.table.SPECS:
                if not spec.number:
                    continue
                actions.append(
                    (
                        f"Sort bots by {spec.label}",
                        f"Key {spec.number}; again reverses",
                        partial(run, f"sort({spec.number})"),
                    )
                )
        if isinstance(screen, FailuresScreen):
            actions[0:0] = [
                ("Open the selected run", "In its bot's Event tab (enter)", partial(run, "open_run")),
                ("Back", "(esc)", partial(run, "back")),
            ]
        if isinstance(screen, EventScreen):
            actions[0:0] = [
                ("Back to the bot list", "(esc)", partial(run, "back")),
                ("Load older events", "The next older page (o)", partial(run, "load_older")),
                ("Failures only / all runs", "Outcome 4, 8, 12 (f)", partial(run, "toggle_failures")),
                ("Copy the run's id", "To the terminal clipboard (y)", partial(run, "copy('id')")),
                ("Copy the run's output", "To the terminal clipboard (c)", partial(run, "copy('output')")),
                (
                    "Copy the run's web-app link",
                    "To the terminal clipboard (l)",
                    partial(run, "copy('link')"),
                ),
                ("Toggle absolute / relative times", "Last Updated column (t)", partial(run, "toggle_times")),
            ]
            for spec in screen.table.SPECS:
                actions.append(
                    (
                        f"Sort events by {spec.label}",
                        f"Key {spec.number}; again reverses",
                        partial(run, f"sort({spec.number})"),
                    )
                )
        return actions

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
