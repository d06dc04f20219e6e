"""How values look on screen: the shared labels of :mod:`botmon_tui.formatting`, styled.

Everything here returns ``rich.text.Text`` built from sanitized strings (never markup), so a
cell or a Static can show it as it is. Colours come from the outcome table's semantic
``level`` (models.py), mapped to styles here; the symbol makes each outcome readable without
colour (``NO_COLOR``, monochrome terminals, screen readers of SVG screenshots).
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from botmon_tui.formatting import audit_label, outcome_label
from botmon_tui.medplum.models import AuditEvent, Bot, OutcomeInfo
from botmon_tui.monitor.feed import FeedEvent
from botmon_tui.textsafe import clip

__all__ = [
    "LEVEL_STYLES",
    "PALETTE",
    "audit_text",
    "entity_lines",
    "level_style",
    "outcome_text",
]

#: Semantic level (models.OutcomeInfo.level) → style. Bold on failures so they stand out in mono.
LEVEL_STYLES: dict[str, Style] = {
    "success": Style(color="green"),
    "warning": Style(color="yellow", bold=True),
    "error": Style(color="red", bold=True),
    "critical": Style(color="bright_white", bgcolor="red", bold=True),
    "unknown": Style(color="magenta"),
}
#: With ``NO_COLOR`` Textual turns colours into greys, and red on a dark background becomes a
#: nearly invisible dark grey: weight and reverse video carry the meaning instead.
MONO_LEVEL_STYLES: dict[str, Style] = {
    "success": Style(),
    "warning": Style(bold=True),
    "error": Style(bold=True, underline=True),
    "critical": Style(bold=True, reverse=True),
    "unknown": Style(italic=True),
}
DIM_STYLE = Style(dim=True)


class Palette:
    """The named styles of the UI, in colour or (``NO_COLOR``) in monochrome."""

    def __init__(self) -> None:
        self.set_monochrome(False)

    def set_monochrome(self, mono: bool) -> None:
        self.mono = mono
        self.levels = MONO_LEVEL_STYLES if mono else LEVEL_STYLES
        self.ok = Style(bold=True) if mono else Style(color="green", bold=True)
        self.warn = Style(bold=True) if mono else Style(color="yellow", bold=True)
        self.fail = Style(bold=True) if mono else Style(color="red", bold=True)
        self.error = Style(bold=True, reverse=True) if mono else Style(color="red", bold=True)
        self.accent = Style(bold=True) if mono else Style(color="cyan", bold=True)
        self.note = Style() if mono else Style(color="cyan")


#: The app sets ``PALETTE.set_monochrome(app.no_color)`` at start (NO_COLOR is process-wide).
PALETTE = Palette()


def level_style(level: str) -> Style:
    levels = PALETTE.levels
    return levels.get(level, levels["unknown"])


def outcome_text(info: OutcomeInfo | None, *, code: bool = True, missing: str = "—") -> Text:
    """``✓ Success (0)`` in the outcome's colour; an unknown code shows as itself."""
    label = outcome_label(info, code=code, missing=missing)
    style = DIM_STYLE if info is None else level_style(info.level)
    return Text(label, style=style, no_wrap=True, overflow="ellipsis")


def audit_text(bot: Bot, *, compact: bool = False) -> Text:
    """The Audit column: the trigger, the destination when it is not the default, a ⚠ when no events."""
    label, blocking = audit_label(bot, compact=compact)
    style = PALETTE.warn if blocking else (Style() if bot.audit_trigger == "always" else PALETTE.note)
    return Text(label, style=style, no_wrap=True, overflow="ellipsis")


def entity_lines(event: AuditEvent | FeedEvent) -> list[str]:
    """The other entities of a run (input resource, subscription...) as ``Role: Type/id (display)``."""
    lines: list[str] = []
    for entity in event.other_entities:
        ref = entity.what.reference if entity.what else None
        display = entity.what.display if entity.what else None
        role = (entity.role.display or entity.role.code) if entity.role else None
        parts = []
        if role:
            parts.append(f"{clip(role)}:")
        parts.append(clip(ref) if ref else clip(entity.name) or "(no reference)")
        if display:
            parts.append(f"({clip(display)})")
        lines.append(" ".join(parts))
    return lines
