"""The ``?`` screen: every key of the screen it was opened from, generated from the bindings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from botmon_tui.ui.formatting import BOLD, DIM, Palette, app_palette

__all__ = ["HelpScreen", "Section"]

Section = tuple[str, Sequence[tuple[str, str]]]


def help_text(title: str, sections: Sequence[Section], notes: Sequence[str], palette: Palette) -> Text:
    text = Text(end="")
    text.append(title + "\n", BOLD)
    width = max((len(key) for _, rows in sections for key, _ in rows), default=4)
    for heading, rows in sections:
        if not rows:
            continue
        text.append(f"\n{heading}\n", BOLD)
        for key, description in rows:
            text.append(f"  {key:<{width}}  ", palette.accent)
            text.append(description + "\n")
    if notes:
        text.append("\n")
        for note in notes:
            text.append(note + "\n", DIM)
    return text


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close", id="help.close"),
        Binding("question_mark", "dismiss", "Close", show=False, id="help.close_question"),
        Binding("q", "dismiss", "Close", show=False, id="help.close_q"),
    ]

    def __init__(
        self,
        title: str,
        sections: Sequence[Section],
        notes: Sequence[str] = (),
        *,
        incidents: Text | None = None,
    ) -> None:
        """``incidents``: the failing-now summary, shown in the box's title (kept current by the
        app: :meth:`show_incidents`)."""
        super().__init__(id="help")
        self._parts = (title, sections, notes)
        self._text = Text()
        self._incidents = incidents

    def compose(self) -> ComposeResult:
        self._text = help_text(*self._parts, app_palette(self.app))
        with VerticalScroll(id="help-box"):
            yield Static(self._text, markup=False, id="help-text")

    def on_mount(self) -> None:
        box = self.query_one("#help-box", VerticalScroll)
        box.border_subtitle = "esc closes"
        self.show_incidents(self._incidents)
        box.focus()

    def show_incidents(self, summary: Text | None) -> None:
        """The box's title: ``Keys``, and the failing-now summary after it."""
        self._incidents = summary
        title = Text("Keys", end="")
        if summary is not None:
            title.append(" · ")
            title.append_text(summary)
        self.query_one("#help-box", VerticalScroll).border_title = title

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)

    @property
    def plain(self) -> str:
        return self._text.plain
