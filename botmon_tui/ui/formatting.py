"""How values look on screen: the shared labels of :mod:`botmon_tui.formatting`, styled.

Everything here returns ``rich.text.Text`` built from sanitized strings (never markup), so a
cell or a Static can show it as it is. Colours come from the Textual theme (:class:`Palette`,
built from the theme's ``$success``, ``$warning``, ``$error`` and ``$accent``, or their
``$text-*`` forms where the colour itself would not read on the theme's background, as green
on a light grey), so every theme of the command palette colours outcomes, and the symbol makes
each outcome readable without colour (``NO_COLOR``, monochrome terminals, screen readers of
SVG screenshots).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.color import Color as RichColor
from rich.style import Style
from rich.text import Text
from textual.app import App
from textual.color import Color, ColorParseError
from textual.theme import BUILTIN_THEMES, Theme

from botmon_tui.formatting import audit_label, outcome_kind_label, outcome_label
from botmon_tui.medplum.models import AuditEvent, Bot, OutcomeInfo
from botmon_tui.monitor.feed import FeedEvent
from botmon_tui.symbols import BARS, NO_RUNS, NOT_LOADED
from botmon_tui.textsafe import clip

__all__ = [
    "BOLD",
    "DEPLOY_MARK",
    "DIM",
    "LIMITED_COLOR_SYSTEMS",
    "Palette",
    "app_palette",
    "audit_text",
    "entity_lines",
    "history_strip",
    "outcome_strip",
    "outcome_text",
    "palette_for",
    "theme_palette",
    "theme_variables",
]

BOLD = Style(bold=True)
DIM = Style(dim=True)
#: The pane's spotlight line where no tint can be drawn (no colour, ANSI colours).
UNDERLINED = Style(bold=True, underline=True)

#: Colour systems of 16 (or 8) colours, where a theme's colours would be matched to the nearest
#: of the terminal's: Rich turns textual-dark's warning orange into bright red and nord's error
#: pink into white. There the palette uses the terminal's own red, green, yellow and cyan.
LIMITED_COLOR_SYSTEMS = frozenset({"standard", "windows"})

#: The first eight colours of Rich's 16-colour palette: a truecolor equal to one of these is
#: written as exactly that colour number on a 16-colour terminal (one of the first eight, which
#: 8-colour terminals have too). Plain ANSI colour names would not do: Textual turns them into
#: its ANSI theme's truecolor first (red is Monokai's pink there), which then comes out magenta.
_ANSI = {
    "red": RichColor.from_rgb(170, 0, 0),
    "green": RichColor.from_rgb(0, 170, 0),
    "yellow": RichColor.from_rgb(170, 85, 0),
    "magenta": RichColor.from_rgb(170, 0, 170),
    "cyan": RichColor.from_rgb(0, 170, 170),
    "white": RichColor.from_rgb(170, 170, 170),
}


@dataclass(frozen=True)
class Palette:
    """The UI's named styles for one theme and terminal (immutable: a new theme, a new palette).

    ``levels`` maps an outcome's semantic level (``models.OutcomeInfo.level``) to its style;
    failures are bold so they stand out without colour too.
    """

    levels: Mapping[str, Style]
    ok: Style
    warn: Style
    fail: Style
    #: An error on the status line.
    error: Style
    #: Keys (help screen).
    accent: Style
    #: A setting worth a look that blocks nothing (the Audit column).
    note: Style
    #: A search match in the Outcome Desc pane.
    match: Style
    #: The line of a log the summary comes from, in the pane (a tint of the warning colour).
    spotlight: Style
    mono: bool = False

    def level(self, level: str) -> Style:
        return self.levels.get(level, self.levels["unknown"])


def _mono_palette() -> Palette:
    # With ``NO_COLOR`` Textual turns colours into greys, and red on a dark background becomes a
    # nearly invisible dark grey: weight, underline and reverse video carry the meaning instead.
    return Palette(
        levels={
            "success": Style(),
            "warning": BOLD,
            "error": Style(bold=True, underline=True),
            "critical": Style(bold=True, reverse=True),
            "unknown": Style(italic=True),
        },
        ok=BOLD,
        warn=BOLD,
        fail=BOLD,
        error=Style(bold=True, reverse=True),
        accent=BOLD,
        note=Style(),
        match=Style(reverse=True, bold=True),
        spotlight=UNDERLINED,
        mono=True,
    )


def _palette(
    *,
    success: RichColor,
    warning: RichColor,
    error: RichColor,
    error_background: RichColor,
    on_error: RichColor,
    accent: RichColor,
    note: RichColor,
    unknown: RichColor,
    match_background: RichColor,
    on_match: RichColor,
    spotlight: Style,
) -> Palette:
    fail = Style(color=error, bold=True)
    return Palette(
        levels={
            "success": Style(color=success),
            "warning": Style(color=warning, bold=True),
            "error": fail,
            "critical": Style(color=on_error, bgcolor=error_background, bold=True),
            "unknown": Style(color=unknown),
        },
        ok=Style(color=success, bold=True),
        warn=Style(color=warning, bold=True),
        fail=fail,
        error=fail,
        accent=Style(color=accent, bold=True),
        note=Style(color=note),
        match=Style(color=on_match, bgcolor=match_background, bold=True),
        spotlight=spotlight,
    )


#: Least contrast (WCAG ratio) of an outcome's colour on the background; bold text reads from 3.
MIN_CONTRAST = 3.0


def _luminance(colour: Color) -> float:
    def linear(value: int) -> float:
        v = value / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(colour.r) + 0.7152 * linear(colour.g) + 0.0722 * linear(colour.b)


def contrast(foreground: Color, background: Color) -> float:
    """The WCAG contrast ratio of two colours (1 to 21)."""
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def theme_palette(
    variables: Mapping[str, str], *, color_system: str | None = "truecolor", mono: bool = False
) -> Palette:
    """The palette of a theme, from its CSS variables (``App.theme_variables`` or
    ``Theme.to_color_system().generate()``), for a terminal with ``color_system``."""
    if mono:
        return _mono_palette()
    if color_system in LIMITED_COLOR_SYSTEMS:
        ansi = _ANSI
        return _palette(
            success=ansi["green"],
            warning=ansi["yellow"],
            error=ansi["red"],
            error_background=ansi["red"],
            on_error=ansi["white"],
            accent=ansi["cyan"],
            note=ansi["cyan"],
            unknown=ansi["magenta"],
            match_background=ansi["yellow"],
            on_match=RichColor.from_rgb(0, 0, 0),
            spotlight=UNDERLINED,
        )

    def colour(*names: str) -> Color:
        for name in names:
            try:
                return Color.parse(variables[name])
            except (KeyError, ColorParseError):
                continue
        return Color.parse("magenta")

    background = colour("background")

    def rich(name: str) -> RichColor:
        """``$name`` where it reads on the background, else the theme's ``$text-name``."""
        base = colour(name)
        if base.ansi is None and background.ansi is None and contrast(base, background) < MIN_CONTRAST:
            return colour(f"text-{name}", name).rich_color
        return base.rich_color

    error = colour("error")
    found = colour("warning")
    # A theme of ANSI colours (ansi-dark) keeps them ANSI: the terminal's own palette shows them.
    ansi_theme = error.ansi is not None
    on_error = RichColor.parse("bright_white") if ansi_theme else error.get_contrast_text(1.0).rich_color
    on_match = RichColor.parse("black") if ansi_theme else found.get_contrast_text(1.0).rich_color
    return _palette(
        success=rich("success"),
        warning=rich("warning"),
        error=rich("error"),
        error_background=error.rich_color,
        on_error=on_error,
        accent=rich("accent"),
        note=rich("primary"),
        unknown=rich("secondary"),
        match_background=found.rich_color,
        on_match=on_match,
        # The warning colour a quarter of the way over the background: a line that stands out
        # without looking like a search match (which is the warning colour itself).
        spotlight=Style(bold=True, bgcolor=background.blend(found, 0.25).rich_color)
        if found.ansi is None and background.ansi is None
        else UNDERLINED,
    )


def theme_variables(theme: Theme | str) -> dict[str, str]:
    """A theme's CSS variables as an app with that theme has them (``"nord"``: a built-in theme)."""
    if isinstance(theme, str):
        theme = BUILTIN_THEMES[theme]
    return {**theme.to_color_system().generate(), **theme.variables}


def app_palette(app: App[Any]) -> Palette:
    """The palette of ``app``'s theme now (the botmon app keeps it, rebuilt when the theme changes).

    A headless app (tests, snapshots) is painted in truecolor whatever ``TERM`` says.
    """
    held = getattr(app, "palette", None)
    if isinstance(held, Palette):
        return held
    return palette_for(app)


def palette_for(app: App[Any]) -> Palette:
    """Build the palette of ``app``'s current theme, colour system and ``NO_COLOR``."""
    system = "truecolor" if app.is_headless else app.console.color_system
    return theme_palette(app.get_css_variables(), color_system=system, mono=app.no_color)


def outcome_text(
    info: OutcomeInfo | None,
    palette: Palette,
    *,
    code: bool = True,
    missing: str = "—",
    short: bool = False,
    kind: str | None = None,
    width: int | None = None,
) -> Text:
    """``✓ Success (0)`` in the outcome's colour; an unknown code shows as itself. ``kind``: a
    failed run's kind next to it (``▲ Minor failure (4) · timeout``), in the longest form that fits
    in ``width`` cells (``formatting.outcome_kind_label``)."""
    if kind:
        label = outcome_kind_label(info, kind, width=width, code=code, missing=missing)
    else:
        label = outcome_label(info, code=code, missing=missing, short=short)
    style = DIM if info is None else palette.level(info.level)
    return Text(label, style=style, no_wrap=True, overflow="ellipsis")


def outcome_strip(outcomes: Sequence[OutcomeInfo], palette: Palette, width: int) -> Text:
    """The symbols of a bot's newest runs, oldest first, each in its outcome's colour; the newest
    ``width`` fit (right-aligned, so the newest run is always at the same place)."""
    text = Text(no_wrap=True, overflow="crop", justify="right", end="")
    for info in outcomes[-width:] if width > 0 else ():
        text.append(info.symbol, palette.level(info.level))
    return text


def audit_text(bot: Bot, palette: Palette, *, compact: bool = False) -> Text:
    """The Audit column: the trigger, the destination when it is not the default, a ⚠ when no events."""
    label, blocking = audit_label(bot, compact=compact)
    style = palette.warn if blocking else (Style() if bot.audit_trigger == "always" else palette.note)
    return Text(label, style=style, no_wrap=True, overflow="ellipsis")


#: Marks a deploy on the runs-per-hour strip (before the bar of the hour it was done in).
DEPLOY_MARK = "│"


def history_strip(
    hours: list[tuple[int, int]], palette: Palette, *, unknown: int = 0, deploys: Collection[int] = ()
) -> Text:
    """Runs per hour (``(runs, failed)`` each, oldest first) as one bar a hour: its height says
    how many runs (against the busiest hour), its colour whether any failed (and, without colour,
    reverse video); an hour without runs is a ``·``, distinct from the lowest bar (``▂``). The first
    ``unknown`` hours are older than the runs loaded: ``░``. A deploy
    done in hour ``i`` (``deploys``) is a ``│`` in the accent colour before that hour's bar."""
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    busiest = max((runs for runs, _ in hours), default=0)
    for index, (runs, failed) in enumerate(hours):
        if index in deploys:
            text.append(DEPLOY_MARK, palette.accent)
        if index < unknown:
            text.append(NOT_LOADED, DIM)
        elif not runs:
            text.append(NO_RUNS, DIM)
        else:
            bar = BARS[min(len(BARS) - 1, (runs * len(BARS) - 1) // busiest)]
            text.append(bar, palette.error if failed else palette.level("success"))
    return text


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
