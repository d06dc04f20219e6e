"""How values look on screen: ages, times, outcomes, audit settings.

Everything here returns ``rich.text.Text`` built from sanitized strings (never markup), so a
cell or a Static can show it as it is. Colours come from the outcome table's semantic
``level`` (models.py), mapped to styles here; the symbol makes each outcome readable without
colour (``NO_COLOR``, monochrome terminals, screen readers of SVG screenshots).
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from rich.style import Style
from rich.text import Text

from botmon_tui.medplum.models import AuditEvent, Bot, OutcomeInfo
from botmon_tui.monitor.feed import FeedEvent
from botmon_tui.textsafe import clip

__all__ = [
    "LEVEL_STYLES",
    "PALETTE",
    "absolute_time",
    "audit_text",
    "duration_text",
    "level_style",
    "outcome_text",
    "relative_age",
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


def relative_age(when: datetime | None, now: datetime) -> str:
    """``12s ago``, ``5m ago``, ``3h ago``, ``2d ago``; ``—`` when unknown; ``now`` for the future."""
    if when is None:
        return "—"
    seconds = (now - when).total_seconds()
    if seconds < 1:
        return "now"
    if seconds < 60:
        return f"{int(seconds)}s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)}m ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h ago"
    days = int(seconds // 86400)
    if days < 100:
        return f"{days}d ago"
    return f"{days // 365}y ago" if days >= 365 else f"{days // 7}w ago"


def duration_text(seconds: float | None) -> str:
    """A short human duration: ``850 ms``, ``4.2 s``, ``3m 05s``, ``2h 10m``."""
    if seconds is None:
        return "—"
    if seconds < 0:
        return f"-{duration_text(-seconds)}"
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m {int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h {int(seconds % 3600 // 60):02d}m"


def absolute_time(when: datetime | None, tz: tzinfo | None, *, short: bool = False, ms: bool = False) -> str:
    """Local (or ``tz``) wall time: ``2025-03-14 09:26:54`` (``short``: ``03-14 09:26:54``)."""
    if when is None:
        return "—"
    local = when.astimezone(tz)
    text = local.strftime("%m-%d %H:%M:%S" if short else "%Y-%m-%d %H:%M:%S")
    if ms:
        text += f".{local.microsecond // 1000:03d}"
    return text


def outcome_text(info: OutcomeInfo | None, *, code: bool = True, missing: str = "—") -> Text:
    """``✓ Success (0)`` in the outcome's colour; an unknown code shows as itself."""
    if info is None:
        return Text(missing, style=DIM_STYLE, no_wrap=True, overflow="ellipsis")
    label = f"{info.symbol} {clip(info.display)}"
    if code and info.code and info.code != info.display:
        label += f" ({clip(info.code)})"
    return Text(label, style=level_style(info.level), no_wrap=True, overflow="ellipsis")


def audit_text(bot: Bot, *, compact: bool = False) -> Text:
    """The Audit column: the trigger, the destination when it is not the default, a ⚠ when no events."""
    dest = bot.audit_destination
    trigger = clip(bot.audit_trigger)
    if "resource" not in dest:
        label = "log only" if compact else f"{'+'.join(clip(d) for d in dest)} only · {trigger}"
        return Text(f"⚠ {label}", style=PALETTE.warn, no_wrap=True, overflow="ellipsis")
    if trigger == "never":
        label = "never" if compact else f"{'+'.join(clip(d) for d in dest)} · never"
        return Text(f"⚠ {label}", style=PALETTE.warn, no_wrap=True, overflow="ellipsis")
    label = trigger if compact else f"{'+'.join(clip(d) for d in dest)} · {trigger}"
    style = Style() if trigger == "always" else PALETTE.note
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


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start) / timedelta(seconds=1)
