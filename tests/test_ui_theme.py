"""Colours come from the Textual theme: every theme colours outcomes, 16-colour terminals get red
failures, NO_COLOR keeps symbols and bold, and a theme chosen in the palette is remembered."""

from __future__ import annotations

from pathlib import Path

import pytest
from demo_support import demo_fixture
from rich.color import ColorSystem
from rich.style import Style
from textual.color import Color
from textual.theme import BUILTIN_THEMES
from textual_support import notifications, screen_strips
from ui_support import bot_id, command, pane_caught_up, running, settle, status

from botmon_tui.demo import DemoServer
from botmon_tui.symbols import LINUX_CONSOLE
from botmon_tui.ui.formatting import MIN_CONTRAST, contrast, theme_palette, theme_variables
from botmon_tui.ui.screens.bot_list import BotListScreen
from botmon_tui.ui.screens.events import EventScreen
from botmon_tui.ui.widgets.bot_table import BotTable
from botmon_tui.ui.widgets.event_table import EventTable
from botmon_tui.ui.widgets.outcome_pane import OutcomePane
from botmon_tui.ui.widgets.status_line import StatusLine

#: Colour numbers of the 16-colour palette.
RED, GREEN, YELLOW = 1, 2, 3


demo = demo_fixture(scope="function")


def _standard(style: Style, background: bool = False) -> int | None:
    colour = style.bgcolor if background else style.color
    assert colour is not None
    return colour.downgrade(ColorSystem.STANDARD).number


@pytest.mark.parametrize("name", sorted(BUILTIN_THEMES))
def test_failures_are_red_on_16_and_8_colour_terminals(name: str) -> None:
    """Rich matches a theme's colours to the nearest of 16: textual-dark's orange warning came out
    bright red and Monokai's red (Textual's ANSI theme) magenta. The palette uses the terminal's own
    first eight colours there, whatever the theme."""
    palette = theme_palette(theme_variables(name), color_system="standard")
    assert _standard(palette.level("error")) == RED and palette.level("error").bold
    assert _standard(palette.level("critical"), background=True) == RED
    assert _standard(palette.level("warning")) == YELLOW
    assert _standard(palette.level("success")) == GREEN
    assert _standard(palette.fail) == RED and _standard(palette.ok) == GREEN
    # In truecolor, the theme's own colours, legible on its background.
    full = theme_palette(theme_variables(name))
    variables = theme_variables(name)
    assert full.level("critical").bgcolor is not None
    if name.startswith("ansi"):
        return
    background = Color.parse(variables["background"])
    for level in ("success", "warning", "error"):
        colour = full.level(level).color
        assert colour is not None and colour.triplet is not None
        choices = (variables[level].upper()[:7], variables[f"text-{level}"].upper()[:7])
        assert colour.triplet.hex.upper() in choices
        assert contrast(Color(*colour.triplet), background) >= MIN_CONTRAST, (level, colour)


def test_no_color_keeps_weight_not_colour() -> None:
    palette = theme_palette(theme_variables("nord"), mono=True)
    for level in ("success", "warning", "error", "critical", "unknown"):
        assert palette.level(level).color is None and palette.level(level).bgcolor is None
    assert palette.level("error").bold and palette.level("critical").reverse and palette.fail.bold


def _failure_style(table: EventTable) -> Style:
    failed = next(i for i in table.ids_in_order() if table.event(i).outcome == "8")  # type: ignore[union-attr]
    style = table.get_cell(failed, "outcome").style
    assert isinstance(style, Style)
    return style


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_a_theme_chosen_in_the_palette_colours_outcomes_and_is_remembered(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    saved: list[str] = []

    def remember(name: str) -> Path:
        saved.append(name)
        return tmp_path / "config.toml"

    target = bot_id(demo, "legacy-hl7-bridge")
    async with running(demo, tmp_path, size, bot_id=target, remember_theme=remember) as (app, pilot):
        screen = app.screen
        assert isinstance(screen, EventScreen)
        table = screen.query_one(EventTable)
        dark = theme_palette(theme_variables("textual-dark"))
        assert _failure_style(table) == dark.level("error")
        # As a user does it: ctrl+p, the Theme command, then the theme.
        await command(pilot, "theme", "nord")
        assert app.theme == "nord" and saved == ["nord"]
        nord = theme_palette(theme_variables("nord"))
        assert _failure_style(table) == nord.level("error") != dark.level("error")
        # The pane, the status line and the screen below follow too.
        table.select_id(next(i for i in table.ids_in_order() if table.event(i).outcome == "8"))  # type: ignore[union-attr]
        await pane_caught_up(pilot)
        pane_spans = {span.style for span in screen.query_one(OutcomePane).body.content.spans}  # type: ignore[union-attr]
        assert nord.level("error") in pane_spans and dark.level("error") not in pane_spans
        line = screen.query_one(StatusLine).content
        assert nord.ok in {span.style for span in line.spans}  # type: ignore[union-attr]
        assert "saved in" in " ".join(str(n.message) for n in notifications(app))
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, BotListScreen)
        bots = app.screen.query_one(BotTable)
        levels = set()
        for row in bots.ids_in_order():
            info = bots.status(row).last_outcome  # type: ignore[union-attr]
            if info is not None:
                assert bots.get_cell(row, "outcome").style == nord.level(info.level)
                levels.add(info.level)
        assert {"success", "warning"} <= levels
        assert status(app).startswith("● live")


async def test_an_unknown_theme_says_so_and_uses_the_default(demo: DemoServer, tmp_path: Path) -> None:
    async with running(demo, tmp_path, theme="no-such-theme") as (app, _pilot):
        assert app.theme == "textual-dark"
        messages = " ".join(str(n.message) for n in notifications(app))
        assert "unknown theme 'no-such-theme'" in messages


async def test_a_theme_given_at_start_is_used(demo: DemoServer, tmp_path: Path) -> None:
    target = bot_id(demo, "legacy-hl7-bridge")
    async with running(demo, tmp_path, bot_id=target, theme="gruvbox") as (app, _pilot):
        assert app.theme == "gruvbox"
        table = app.screen.query_one(EventTable)
        assert _failure_style(table) == theme_palette(theme_variables("gruvbox")).level("error")


# ---------------------------------------------------------------------------- odd terminals

#: What the Linux console's fonts cannot draw (botmon_tui.symbols.LINUX_CONSOLE's keys).
LACKING = set(LINUX_CONSOLE)


@pytest.mark.parametrize("size", [(60, 15), (80, 24), (120, 40)])
async def test_the_linux_console_and_no_color_at_every_size(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``TERM=linux`` and ``NO_COLOR=1`` together: on the bot list and a failing bot's Event tab,
    every line painted holds only symbols the console draws, and no segment has a colour."""
    monkeypatch.setenv("TERM", "linux")
    monkeypatch.setenv("NO_COLOR", "1")
    async with running(demo, tmp_path, size) as (app, pilot):
        for step in ("bot list", "event tab"):
            if step == "event tab":
                app.open_bot(bot_id(demo, "lab-results-router"))
                await settle(pilot)
                assert isinstance(app.screen, EventScreen)
            strips = screen_strips(app)
            text = "\n".join(strip.text for strip in strips)
            assert {ch for ch in text if ch in LACKING} == set(), step
            assert "x " in text or "^ " in text, step  # the outcomes' marks, as the console has them
            coloured = {
                str(segment.style.color or segment.style.bgcolor)
                for strip in strips
                for segment in strip
                if segment.style is not None
                and any(
                    c is not None and not c.is_default for c in (segment.style.color, segment.style.bgcolor)
                )
            }
            assert coloured == set(), (step, sorted(coloured)[:5])
