"""Pilot tests of issue 18 on the Event tab, against the demo backend over real HTTP: the run's
context and its log as Medplum writes it in the pane (opened on the summary line), the
full-screen log, and the search of a whole 200 kB log."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from demo_support import FIXED_NOW, demo_fixture
from rich.text import Text
from runlog_support import INVOKE_ERROR, RID, lambda_line
from textual.pilot import Pilot
from textual.widgets import Static
from ui_support import bot_id, on_screen, running, screen_lines, settle

from botmon_tui.demo import DemoServer
from botmon_tui.medplum.models import TRACING_EXTENSION, parse_instant
from botmon_tui.runlog import STORED_LOG_CHARS
from botmon_tui.ui.app import BotmonApp
from botmon_tui.ui.formatting import DEPLOY_MARK, app_palette
from botmon_tui.ui.messages import OpenBot
from botmon_tui.ui.screens.events import EventScreen
from botmon_tui.ui.screens.resource import ResourceScreen
from botmon_tui.ui.widgets.event_table import EventTable
from botmon_tui.ui.widgets.outcome_pane import MAX_MATCHES, OutcomePane

SIZES = [(80, 24), (120, 40)]
demo = demo_fixture(scope="function")
REQUEST_ID = "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
TRACE_ID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACING = [
    {
        "url": TRACING_EXTENSION,
        "extension": [{"url": "requestId", "valueId": REQUEST_ID}, {"url": "traceId", "valueId": TRACE_ID}],
    }
]


def lambda_log(lines: int) -> str:
    """A Lambda bot's log: ``lines`` INFO lines, a WARN, then an uncaught TypeError."""

    def row(second: int, level: str, message: str) -> str:
        return lambda_line(f"11:59:{second:02d}.{second * 7:03d}", level, message)

    rows = [row(n % 50, "INFO", f"Processing item {n} of the batch") for n in range(lines)]
    rows.append(row(50, "WARN", "Questionnaire has no scoring rule: using defaults"))
    rows.append(row(51, "ERROR", "Invoke Error \t" + json.dumps(INVOKE_ERROR)))
    return "\n".join(rows)


def lambda_run(demo: DemoServer, target: str, lines: int = 30, **fields: Any) -> dict[str, Any]:
    """A failed run of a Lambda bot, started by a Subscription, its tracing extension written."""
    return demo.store.add_event(
        target,
        outcome="4",
        desc=lambda_log(lines),
        at=FIXED_NOW + timedelta(seconds=1),
        input="QuestionnaireResponse/3f1c9a2e",
        subscription="Subscription/ab12cd34",
        extension=TRACING,
        **fields,
    )


#: A demo that keeps whole logs (Medplum keeps the last 10 KiB by default; it is configurable).
whole_logs = demo_fixture(scope="function", max_log_bytes=None)


def pane_content(pane: OutcomePane) -> Text:
    content = pane.body.content
    assert isinstance(content, Text)
    return content


def styled(content: Text, style: object) -> list[str]:
    return [content.plain[span.start : span.end] for span in content.spans if span.style == style]


# ---------------------------------------------------------------------------- the pane


@pytest.mark.parametrize("size", SIZES)
async def test_the_pane_shows_the_runs_context_and_its_lambda_log_as_columns(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    target = bot_id(demo, "lab-results-router")
    event = lambda_run(demo, target)
    async with running(demo, tmp_path, size, bot_id=target, notifications=True) as (app, pilot):
        screen = app.screen
        assert isinstance(screen, EventScreen)
        pane = screen.query_one(OutcomePane)
        assert pane.event_id == event["id"]
        plain = pane.plain
        # The context, above the log.
        context = plain[: plain.index("console output")]
        assert "Input    QuestionnaireResponse/3f1c9a2e" in context and "i: open" in context
        assert "Trigger  Subscription/ab12cd34" in context
        assert f"Request  {REQUEST_ID}" in context and f"Trace    {TRACE_ID}" in context
        # The Lambda lines as columns, the request id once; the Invoke Error read, its frames a line each.
        assert plain.count(RID) == 1 and f"Lambda request {RID}" in plain
        assert "11:59:00.000  INFO   Processing item 0 of the batch" in plain
        assert "11:59:50.350  WARN   Questionnaire has no scoring rule" in plain
        assert "ERROR  ✗ TypeError: Cannot read properties of undefined (reading 'reference')" in plain
        lines = plain.split("\n")
        assert any(line.strip() == "at handler (/var/task/index.js:41:37)" for line in lines)
        assert "errorType" not in plain and "\t" not in plain
        # Levels in the theme's colours.
        palette = app_palette(app)
        content = pane_content(pane)
        assert "ERROR" in styled(content, palette.fail) and "WARN " in styled(content, palette.warn)
        # Opened on the line the summary comes from (the table's Outcome Desc), highlighted.
        [spot] = styled(content, palette.spotlight)
        assert spot.endswith("✗ TypeError: Cannot read properties of undefined (reading 'reference')")
        assert pane.scroll_y > 0 and on_screen(app, "✗ TypeError: Cannot read properties")
        # R and T copy the ids that find the run in CloudWatch.
        await pilot.press("R")
        await pilot.pause()
        assert app.clipboard == REQUEST_ID
        await pilot.press("T")
        await pilot.pause()
        assert app.clipboard == TRACE_ID


async def test_a_log_at_the_servers_cap_is_marked_possibly_truncated(
    demo: DemoServer, tmp_path: Path
) -> None:
    target = bot_id(demo, "lab-results-router")
    log = ("row imported\n" * STORED_LOG_CHARS)[-(STORED_LOG_CHARS - 20) :] + "Error: batch 7 rejected"
    assert len(log) == STORED_LOG_CHARS + 3
    demo.store.add_event(target, outcome="4", desc=log, at=FIXED_NOW + timedelta(seconds=1))
    async with running(demo, tmp_path, (80, 24), bot_id=target) as (app, _pilot):
        pane = app.screen.query_one(OutcomePane)
        assert demo.store.events_for(target)[0]["outcomeDesc"].endswith("Error: batch 7 rejected")
        assert "⚠ possibly truncated at the start: the server keeps only the end of the log" in pane.plain
        assert on_screen(app, "Error: batch 7 rejected")  # (the summary line, opened on)


@pytest.mark.parametrize("size", [(60, 15), (80, 24)])
async def test_z_shows_the_log_full_screen_and_at_60x15_enter_does(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    target = bot_id(demo, "lab-results-router")
    lambda_run(demo, target, lines=5)
    async with running(demo, tmp_path, size, bot_id=target) as (app, pilot):
        screen = app.screen
        assert isinstance(screen, EventScreen)
        pane = screen.query_one(OutcomePane)
        if size == (60, 15):
            # Too short for the pane under the table: it has no room, and enter shows it full screen.
            assert not on_screen(app, "console output")
            await pilot.press("enter")
        else:
            await pilot.press("z")
        await settle(pilot)
        assert screen.maximized is pane and pane.has_focus
        assert on_screen(app, "z: full screen") and on_screen(app, "TypeError: Cannot read properties")
        await pilot.press("escape")
        await settle(pilot)
        assert screen.maximized is None and isinstance(app.screen, EventScreen)
        await pilot.press("z", "z")
        await settle(pilot)
        assert screen.maximized is None


# ---------------------------------------------------------------------------- search


def reflowed(app: BotmonApp) -> str:
    """The screen's text with wrapped lines joined (and scrollbar glyphs dropped)."""
    text = " ".join(line.strip(" ▁▂▃▄▅▆▇█▔") for line in screen_lines(app))
    return re.sub(r"\s+", " ", text)


def big_log(lines: int) -> str:
    """``lines`` rows of a noisy bot; a marker on the first, the middle and the last one, and
    ``huge`` on the last one only."""
    rows = [f"row {n:06d} imported from the batch" for n in range(lines)]
    for n in (0, lines // 2, lines - 1):
        rows[n] += f" marker {n:06d}"
    rows[-1] += " (huge)"
    return "\n".join(rows)


async def test_search_covers_a_whole_200_kb_log(whole_logs: DemoServer, tmp_path: Path) -> None:
    demo = whole_logs
    target = bot_id(demo, "legacy-hl7-bridge")
    lines = MAX_MATCHES + 1_000
    log = big_log(lines)
    assert len(log) > 200_000
    event = demo.store.add_event(target, outcome="4", desc=log, at=FIXED_NOW + timedelta(seconds=1))
    async with running(demo, tmp_path, bot_id=target) as (app, pilot):
        screen = app.screen
        assert isinstance(screen, EventScreen)
        table, pane = screen.query_one(EventTable), screen.query_one(OutcomePane)
        # The filter reads whole logs: "huge", on the last line, finds the run (and only it).
        await pilot.press("slash", *"HUGE", "enter")
        await settle(pilot)
        assert table.ids_in_order() == [event["id"]] and pane.event_id == event["id"]
        assert len(pane.matches) == 1 and "(huge)" in reflowed(app)
        # First, middle and last matches, then around to the first again.
        await pilot.press("escape", "slash", *"marker", "enter")
        await settle(pilot)
        assert table.ids_in_order() == [event["id"]] and len(pane.matches) == 3
        for index, row in [(0, 0), (1, lines // 2), (2, lines - 1), (0, 0)]:
            assert pane.current == index and f"marker {row:06d}" in reflowed(app), (index, row)
            assert on_screen(app, f"{index + 1} of 3")
            await pilot.press("n")
            await pilot.pause()
        # More matches than one search collects: n goes on past them, N from the first goes to
        # the very last line of the log, and the count is exact once every match was found.
        await pilot.press("escape", "slash", *"imported", "enter")
        await settle(pilot)
        assert len(pane.matches) == MAX_MATCHES and not pane.complete
        assert on_screen(app, f"1 of {MAX_MATCHES:,}+")
        await pilot.press("N")
        await pilot.pause()
        assert pane.complete and len(pane.matches) == lines and pane.current == lines - 1
        assert f"row {lines - 1:06d} imported" in reflowed(app)
        assert on_screen(app, f"{lines:,} of {lines:,}")
        await pilot.press("n")
        await pilot.pause()
        assert pane.current == 0 and f"row {0:06d} imported" in reflowed(app)


# ---------------------------------------------------------------------------- i: the input


def fhir_gets(demo: DemoServer, mark: int, ref: str) -> int:
    return sum(
        1 for method, path, *_ in demo.requests[mark:] if method == "GET" and path == f"/fhir/R4/{ref}"
    )


def seeded_run(demo: DemoServer, state: str) -> tuple[str, dict[str, Any], str, str | None]:
    """A seeded run whose input reads ``state`` (and which names a Subscription, when one does):
    ``(bot id, the run, its input, its subscription)``."""
    for bot in demo.store.bots:
        for event in demo.store.events_for(bot["id"]):
            refs = [e["what"]["reference"] for e in event.get("entity") or []]
            inputs = [r for r in refs[1:] if not r.startswith("Subscription/")]
            subs = [r for r in refs if r.startswith("Subscription/")]
            if inputs and subs and demo.store.resource_state(inputs[0]) == state:
                return bot["id"], event, inputs[0], subs[0]
    raise AssertionError(f"no seeded run has an input that is {state}")


async def open_run(app: BotmonApp, pilot: Pilot[Any], bot: str, event_id: str) -> EventScreen:
    """The bot's Event tab with ``event_id`` selected."""
    app.post_message(OpenBot(bot, event_id=event_id))
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, EventScreen) and screen.table.selected_id == event_id
    return screen


@pytest.mark.parametrize("size", SIZES)
async def test_i_opens_the_input_read_only_with_one_get_and_its_subscription_on_one_line(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    bot, run, ref, subscription = seeded_run(demo, "ok")
    assert subscription is not None
    async with running(demo, tmp_path, size, notifications=True) as (app, pilot):
        screen = await open_run(app, pilot, bot, run["id"])
        mark = len(demo.requests)
        await pilot.press("i")
        await settle(pilot)
        shown = app.screen
        assert isinstance(shown, ResourceScreen)
        kind, rid = ref.split("/")
        assert f'"resourceType": "{kind}"' in shown.plain and f'"id": "{rid}"' in shown.plain
        # The Subscription on one line: criteria, status, channel.
        assert re.search(
            rf"Trigger {re.escape(subscription)} · \S.* · (active|off|error|requested) · rest-hook → Bot/",
            shown.plain,
        )
        assert fhir_gets(demo, mark, ref) == 1 and fhir_gets(demo, mark, subscription) == 1
        # Coloured from the theme: keys in the accent colour (spans on plain text, no markup).
        content = shown.query_one("#resource-json", Static).content
        assert isinstance(content, Text)
        assert '"resourceType"' in styled(content, app_palette(app).accent)
        # y copies the JSON.
        await pilot.press("y")
        await pilot.pause()
        assert app.clipboard.startswith("{") and f'"id": "{rid}"' in app.clipboard
        # Back on the Event tab, the pane says the Subscription's line too (kept: no request);
        # i again asks for nothing.
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen
        pane = screen.query_one(OutcomePane)
        assert re.search(rf"Trigger  {re.escape(subscription)} · \S", pane.plain)
        await pilot.press("i")
        await settle(pilot)
        assert isinstance(app.screen, ResourceScreen) and f'"id": "{rid}"' in app.screen.plain
        assert fhir_gets(demo, mark, ref) == 1 and fhir_gets(demo, mark, subscription) == 1
        assert not [r for r in demo.requests[mark:] if r[0] != "GET" and "oauth2" not in r[1]]  # GET only


@pytest.mark.parametrize(
    ("state", "words"),
    [
        ("forbidden", "Forbidden (HTTP 403): these credentials may not read Coverage resources"),
        ("deleted", "Deleted (HTTP 410):"),
        ("unknown", "Not found (HTTP 404):"),
    ],
)
async def test_i_says_forbidden_deleted_and_not_found_in_place(
    demo: DemoServer, tmp_path: Path, state: str, words: str
) -> None:
    target = bot_id(demo, "lab-results-router")
    if state == "deleted":
        _, _, ref, _ = seeded_run(demo, "deleted")
    elif state == "forbidden":
        ref = "Coverage/5d1a0c2e-0000-4000-8000-00000000c0de"
    else:
        ref = "Patient/never-written"
    event = demo.store.add_event(
        target, outcome="4", desc="boom", at=FIXED_NOW + timedelta(seconds=1), input=ref
    )
    if state == "unknown":
        demo.store.resources.delete(ref, 0, expunge=True)  # (the demo notes every input it is given)
    async with running(demo, tmp_path, (80, 24), bot_id=target) as (app, pilot):
        assert app.screen.query_one(EventTable).selected_id == event["id"]
        await pilot.press("i")
        await settle(pilot)
        shown = app.screen
        assert isinstance(shown, ResourceScreen)
        assert words in re.sub(r"\s+", " ", shown.plain) and ref in shown.plain
        assert on_screen(app, words[:30])
        await pilot.press("y")  # nothing to copy: said, not a crash
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, EventScreen)


async def test_a_hostile_resource_shows_literally(demo: DemoServer, tmp_path: Path) -> None:
    """A cron run's input is the Bot itself: here a Bot whose name holds markup and escapes."""
    hostile = demo.store.add_bot(
        {"resourceType": "Bot", "name": "[@click=app.quit]x[/] \x1b]52;c;ZXZpbA==\x07 \u202eevil \x9b2J"}
    )
    bot = f"Bot/{hostile['id']}"
    entity = [{"what": {"reference": bot}, "role": {"code": "4"}}] * 2
    demo.store.add_event(
        hostile["id"], outcome="0", desc="tick", at=FIXED_NOW + timedelta(seconds=1), entity=entity
    )
    async with running(demo, tmp_path, (80, 24), bot_id=hostile["id"]) as (app, pilot):
        pane = app.screen.query_one(OutcomePane)
        assert f"Input    {bot} · a scheduled run: the bot itself" in pane.plain
        await pilot.press("i")
        await settle(pilot)
        shown = app.screen
        assert isinstance(shown, ResourceScreen)
        assert "[@click=app.quit]x[/]" in shown.plain and "\\u001b]52;c;ZXZpbA==\\u0007" in shown.plain
        assert not any(ch in shown.plain for ch in "\x1b\x07\x9b\u202e")
        assert isinstance(app.screen, ResourceScreen)  # (the markup did nothing)


# ---------------------------------------------------------------------------- deploys


def quiet_bot(demo: DemoServer) -> str:
    """A seeded bot that records every run, ran last more than an hour ago and was last saved
    before that: its next deploy and runs are the test's own."""
    horizon = FIXED_NOW - timedelta(hours=1)
    for bot in demo.store.bots:
        runs = demo.store.events_for(bot["id"])
        saved = parse_instant(bot["meta"]["lastUpdated"])
        if (
            runs
            and bot.get("auditEventTrigger", "always") == "always"
            and "log" not in (bot.get("auditEventDestination") or [])
            and saved is not None
            and saved < horizon
            and all((parse_instant(r["meta"]["lastUpdated"]) or FIXED_NOW) < horizon for r in runs)
        ):
            return str(bot["id"])
    raise AssertionError("no quiet bot in the demo")


def deployed_then_failing(demo: DemoServer) -> str:
    """A bot deployed at 11:50 (by ci-deploy), a run that went fine before it, and every run
    since failed: at 11:52, 11:55 and 11:58."""
    target = quiet_bot(demo)
    demo.store.add_event(target, outcome="0", desc="ok", at=FIXED_NOW - timedelta(minutes=12))
    author = {"reference": "ClientApplication/ci", "display": "ci-deploy"}
    demo.store.deploy_bot(target, at=FIXED_NOW - timedelta(minutes=10, seconds=3), gap_ms=3000, author=author)
    for minutes in (7, 4, 1):
        demo.store.add_event(
            target,
            outcome="4",
            desc="Unhandled error: boom\nError boom",
            at=FIXED_NOW - timedelta(minutes=minutes, seconds=59),
        )
    return target


def history_reads(demo: DemoServer, target: str) -> int:
    return sum(1 for _, path, *_ in demo.requests if path == f"/fhir/R4/Bot/{target}/_history")


@pytest.mark.parametrize("size", SIZES)
async def test_a_deploy_is_marked_and_a_failure_streak_after_it_says_so(
    demo: DemoServer, tmp_path: Path, size: tuple[int, int]
) -> None:
    target = deployed_then_failing(demo)
    async with running(demo, tmp_path, size, bot_id=target) as (app, pilot):
        screen = app.screen
        assert isinstance(screen, EventScreen)
        # The incident line, on the heading.
        assert on_screen(app, "✗ failing since 11:52, 2 min after a deploy (11:50)")
        # The deploy on the 24-hour strip: a mark before the bar of its hour, and its time.
        strip = screen.query_one("#history", Static).content
        assert isinstance(strip, Text)
        assert DEPLOY_MARK in styled(strip, app_palette(app).accent)
        bars = strip.plain.split(" now")[0]
        assert bars.index(DEPLOY_MARK) == len(bars) - 3  # before 11:00's bar (then 12:00's)
        if size[0] >= 120:
            assert on_screen(app, f"{DEPLOY_MARK} deploy 11:50")
        # The pane says the deploy before the selected run.
        pane = screen.query_one(OutcomePane)
        assert re.search(
            r"Deploy   2025-03-14 11:50:00, \d+m \d+s before this run \(by ci-deploy\)", pane.plain
        )
        # One history read for the tab; a refresh reads the Bot again, not its history, until the
        # Bot has a new version.
        assert history_reads(demo, target) == 1
        await pilot.press("r")
        await settle(pilot)
        assert history_reads(demo, target) == 1
        demo.store.deploy_bot(target, at=FIXED_NOW - timedelta(seconds=30))
        await pilot.press("r")
        await settle(pilot)
        assert history_reads(demo, target) == 2
        # A run that went fine ends the streak: the heading says so no more.
        demo.store.add_event(target, outcome="0", desc="ok", at=FIXED_NOW)
        await pilot.press("r")
        await settle(pilot)
        assert not on_screen(app, "failing since")
