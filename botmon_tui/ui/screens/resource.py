"""``i`` on the Event tab: the run's input resource, read-only.

One GET when asked (``monitor.resources.ResourceReads`` keeps the answer), shown as pretty-printed
JSON with syntax colours from the theme (the text is sanitized and printed by the Textual-free
``resourceview``; the colours are spans on that text, never markup), scrollable, bounded. ``y``
copies it. The run's Subscription is read too (one GET, kept) and said on one line: criteria,
status, channel. A 403, 404, 410 or a resource too large is said in place.

A modal screen: the Event tab under it keeps polling, and the alerts with it.
"""

from __future__ import annotations

import re
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from botmon_tui.monitor.resources import ResourceRead, ResourceReads
from botmon_tui.resourceview import ResourceText, pretty_json, read_error_text, subscription_summary
from botmon_tui.textsafe import clip
from botmon_tui.ui.formatting import BOLD, DIM, Palette, app_palette

__all__ = ["ResourceScreen", "json_text"]

#: JSON's tokens (after ``json.dumps(indent=2)``: one key or value a line, strings escaped).
_JSON_RE = re.compile(
    r'(?P<key>"(?:[^"\\]|\\.)*")(?=:)'
    r'|(?P<str>"(?:[^"\\]|\\.)*")'
    r"|(?P<number>-?\b\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b)"
    r"|(?P<literal>\b(?:true|false|null)\b)"
    r"|(?P<brace>[{}\[\]])"
)


def json_styles(palette: Palette) -> dict[str, Style]:
    """The colour of each JSON token from the theme: keys in the accent colour, strings as
    successes, numbers in the primary colour, ``true``/``false``/``null`` in the secondary."""
    return {
        "key": palette.accent,
        "str": palette.level("success"),
        "number": palette.note,
        "literal": palette.level("unknown"),
        "brace": DIM,
    }


def json_text(pretty: str, palette: Palette) -> Text:
    """``pretty`` (sanitized, indented JSON) with its tokens coloured: spans on a plain text."""
    text = Text(pretty, end="", no_wrap=False)
    styles = json_styles(palette)
    for match in _JSON_RE.finditer(pretty):
        kind = match.lastgroup
        if kind is not None:
            text.stylize(styles[kind], match.start(), match.end())
    return text


class ResourceScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Back", id="resource.back", tooltip="Back to the Event tab"),
        Binding("q", "dismiss", "Back", show=False, id="resource.back_q", tooltip="Back to the Event tab"),
        Binding("i", "dismiss", "Back", show=False, id="resource.back_i", tooltip="Back to the Event tab"),
        Binding(
            "y",
            "copy",
            "Copy JSON",
            id="resource.copy",
            tooltip="Copy the resource as JSON, all of it (terminal clipboard, OSC 52)",
        ),
        Binding(
            "r",
            "reload",
            "Read again",
            show=False,
            id="resource.reload",
            tooltip="Read the resource again, after an error that asking again may fix",
        ),
    ]
    DEFAULT_CSS = """
    ResourceScreen { align: center middle; }
    ResourceScreen > #resource-box {
        width: 100%; height: 100%; border: round $accent; background: $surface; padding: 0 1;
    }
    ResourceScreen #resource-heading { height: auto; }
    ResourceScreen #resource-body { height: 1fr; }
    """

    def __init__(
        self, reads: ResourceReads, reference: str, *, run: str, subscription: str | None = None
    ) -> None:
        """``reference``: the input to show; ``run``: the run's id (the heading names it);
        ``subscription``: the reference of the Subscription that started the run, if one did."""
        super().__init__(id="resource")
        self.reads = reads
        self.reference = reference
        self.run_id = run
        self.subscription = subscription
        #: What was read (None while reading), and its text (None when the read failed).
        self.result: ResourceRead | None = None
        self.text: ResourceText | None = None
        self.subscription_line: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="resource-box"):
            yield Static("", id="resource-heading", markup=False)
            with VerticalScroll(id="resource-body"):
                yield Static(
                    Text(f"Reading {clip(self.reference)}…", style=DIM), id="resource-json", markup=False
                )

    def on_mount(self) -> None:
        box = self.query_one("#resource-box", Vertical)
        box.border_title = Text(f"{clip(self.reference, 80)} · read-only")
        box.border_subtitle = "esc back · y copies the JSON"
        self.query_one("#resource-body", VerticalScroll).focus()
        self._heading()
        self.run_worker(self._load(), group="resource-read", exit_on_error=False)

    @property
    def palette(self) -> Palette:
        return app_palette(self.app)

    async def _load(self) -> None:
        """The input (one GET, unless kept), then the Subscription's line (the same)."""
        self.result = await self.reads.read(self.reference)
        self._show()
        if self.subscription is not None:
            found = await self.reads.read(self.subscription)
            if found.data is not None:
                self.subscription_line = subscription_summary(found.data)
            elif found.error is not None:
                self.subscription_line = read_error_text(found.error, self.subscription)
            self._heading()

    def _heading(self) -> None:
        text = Text(end="")
        text.append("Input", BOLD)
        text.append(f" of run {clip(self.run_id, 40)}: ", DIM)
        text.append(clip(self.reference))
        if self.subscription is not None:
            text.append("\nTrigger", BOLD)
            text.append(f" {clip(self.subscription)}")
            text.append(
                f" · {self.subscription_line}" if self.subscription_line else " · reading…",
                DIM if not self.subscription_line else "",
            )
        self.query_one("#resource-heading", Static).update(text)

    def _show(self) -> None:
        result = self.result
        body = self.query_one("#resource-json", Static)
        if result is None:
            return
        if result.data is None:
            assert result.error is not None
            self.text = None
            message = Text(end="")
            message.append(read_error_text(result.error, self.reference), self.palette.warn)
            body.update(message)
            return
        self.text = pretty_json(result.data)
        shown = json_text(self.text.shown, self.palette)
        if self.text.hidden:
            shown.append(f"\n… {self.text.hidden:,} more characters not shown (y copies all of it)", DIM)
        body.update(shown)

    # ------------------------------------------------------------------ actions

    def action_copy(self) -> None:
        if self.text is None:
            self.notify("Nothing to copy: the resource was not read", timeout=3)
            return
        self.app.copy_to_clipboard(self.text.whole)
        self.notify(
            f"Copied {clip(self.reference, 80)} as JSON ({len(self.text.whole):,} characters)",
            timeout=3,
            markup=False,
        )

    def action_reload(self) -> None:
        """``r``: read again after an error that asking again may fix (a kept answer stays)."""
        if self.result is not None and self.result.data is None and self.reads.peek(self.reference) is None:
            self.result = None
            self.query_one("#resource-json", Static).update(
                Text(f"Reading {clip(self.reference)}…", style=DIM)
            )
            self.run_worker(self._load(), group="resource-read", exit_on_error=False)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)

    @property
    def plain(self) -> str:
        """What the screen says (for tests)."""
        parts = []
        for widget_id in ("#resource-heading", "#resource-json"):
            content = self.query_one(widget_id, Static).content
            parts.append(content.plain if isinstance(content, Text) else str(content))
        return "\n".join(parts)
