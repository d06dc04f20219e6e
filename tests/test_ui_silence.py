"""Silence, durations and deploys in the TUI (issues #17 and #18), with Pilot at fixed sizes against
the demo at ``FIXED_NOW``: the late and quiet rows right after the failing ones and their alert
event, the bot list's p50/p95 column, the Event tab's near-timeout and deploy marks, the pane's
queue-wait note, and the never-ran banner of a scheduled bot."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from demo_support import FIXED_NOW, WallClock, demo_fixture
from ui_support import bot_id, pane_caught_up, running, screen_lines, settle

from botmon_tui.demo import DemoServer
from botmon_tui.monitor.durations import NEAR_TIMEOUT_MARK
from botmon_tui.monitor.incidents import incident_label
from botmon_tui.monitor.session import ProjectSession
from botmon_tui.monitor.tracker import IncidentEvent
from botmon_tui.ui.screens.events import EventScreen
from botmon_tui.ui.widgets.banner import Banner
from botmon_tui.ui.widgets.bot_table import BotTable
from botmon_tui.ui.widgets.event_table import DEPLOY_ROW_MARK, EventTable
from botmon_tui.ui.widgets.outcome_pane import OutcomePane

demo = demo_fixture(scope="function")


def recording(session: ProjectSession) -> Callable[[], list[IncidentEvent]]:
    """Every event ``session.incident_events()`` gives, whoever asks (the app's alerts, or the
    test): the returned function asks once more and gives all of them so far."""
    told: list[IncidentEvent] = []
    ask = session.incident_events

    def recorded() -> list[IncidentEvent]:
        events = ask()
        told.extend(events)
        return events

    session.incident_events = recorded  # type: ignore[method-assign]

    def everything() -> list[IncidentEvent]:
        session.incident_events()
        return list(told)

    return everything


def row_names(table: BotTable) -> list[str]:
    return [table.status(row_id).bot.display_name for row_id in table.ids_in_order()]  # type: ignore[union-attr]


async def test_late_and_quiet_rows_at_80x24_and_their_alert(demo: DemoServer, tmp_path: Path) -> None:
    clock = WallClock(FIXED_NOW)
    async with running(demo, tmp_path, (80, 24), clock=clock) as (app, pilot):
        table = app.screen.query_one(BotTable)
        session = app.sessions[0]
        told = recording(session)
        told()  # (the first call primes the tracker: what is there at start is not announced)
        names = row_names(table)
        # Right after the two failing bots: the late cron bot, then the quiet subscription bot.
        assert names[:4] == [
            "erx-surescripts-send",
            "lab-results-router",
            "fax-inbox-poller",
            "cgm-device-sync",
        ]
        statuses = {name: table.status(bot_id(demo, name)) for name in names}
        fax, cgm, scorer = (
            statuses[n] for n in ("fax-inbox-poller", "cgm-device-sync", "questionnaire-scorer")
        )
        assert fax is not None and cgm is not None and scorer is not None
        assert incident_label(fax.incident, FIXED_NOW) == "late 35m · 8 missed"
        cgm_label = incident_label(cgm.incident, FIXED_NOW)
        assert cgm_label.startswith("quiet 2h ") and cgm_label.endswith(" · usually every 10m")
        assert scorer.incident.state not in ("late", "quiet")  # bursty: never called quiet
        lines = screen_lines(app)
        rows = [line for line in lines if "fax-inbox-poller" in line or "cgm-device-sync" in line]
        assert len(rows) == 2 and lines.index(rows[0]) + 1 == lines.index(rows[1])
        assert all(len(line) <= 80 for line in lines)
        # The hourly census snapshot's 12:00 run is due; 13 min later (grace 12 min + its 60 s
        # timeout) it is late: a loud event, and its row joins the silent ones.
        clock.at = FIXED_NOW + timedelta(minutes=13, seconds=1)
        app.poll_now()
        await settle(pilot)
        late = [e for e in told() if e.bot == "hourly-census-snapshot"]
        assert [(e.event, e.loud) for e in late] == [("late", True)]
        assert late[0].since == FIXED_NOW and late[0].summary is not None and "1 missed" in late[0].summary
        names = row_names(table)
        assert names.index("hourly-census-snapshot") < names.index("cgm-device-sync")  # late before quiet


async def test_the_p50_p95_column_shows_from_100_columns(demo: DemoServer, tmp_path: Path) -> None:
    async with running(demo, tmp_path, (120, 40)) as (app, _):
        table = app.screen.query_one(BotTable)
        assert table.column_width("durations") == 11
        cgm = table.get_cell(bot_id(demo, "cgm-device-sync"), "durations")
        assert cgm.plain.endswith("ms") and "/" in cgm.plain  # sub-second runs: 3xxms/6xxms
        assert table.get_cell(bot_id(demo, "sms-opt-out-handler"), "durations").plain == "—"
        header = next(line for line in screen_lines(app) if line.lstrip().startswith("Name"))
        assert "p50/p95" in header
        # Sorted by it (its key), the slowest p95 first: the daily claims export's 4m28s.
        table.sort_by("durations")
        assert row_names(table)[0] == "daily-claims-export"
    async with running(demo, tmp_path, (80, 24)) as (app, _):
        assert app.screen.query_one(BotTable).column_width("durations") == 0  # gives its room at 80


async def test_event_tab_marks_near_timeout_runs_and_the_deploy(demo: DemoServer, tmp_path: Path) -> None:
    async with running(demo, tmp_path, (80, 24)) as (app, pilot):
        table = app.screen.query_one(BotTable)
        assert table.select_id(bot_id(demo, "hourly-census-snapshot"))
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, EventScreen)
        events = screen.query_one(EventTable)
        assert events.timeout == 60
        durations = [events.get_cell(row_id, "duration").plain for row_id in events.ids_in_order()[:3]]
        # Its last runs: 53.9 s and 49.6 s of its 60 s (>= 80 %), then 47.1 s (not).
        assert [d.startswith(NEAR_TIMEOUT_MARK) for d in durations] == [True, True, False]
        assert any(f"{NEAR_TIMEOUT_MARK} 53.9 s" in line for line in screen_lines(app))
        await pilot.press("escape")
        await settle(pilot)
        # lab-results-router was deployed at 11:25; its first run after that carries the mark.
        assert app.screen.query_one(BotTable).select_id(bot_id(demo, "lab-results-router"))
        await pilot.press("enter")
        await settle(pilot)
        await pilot.app.workers.wait_for_complete()
        await settle(pilot)
        events = app.screen.query_one(EventTable)
        marked = list(events.deploy_marks)
        assert len(marked) == 1
        ids = events.ids_in_order()
        first_after = marked[0]
        # The oldest of the 7 failed runs since the deploy (newest first: the 7th row).
        assert ids.index(first_after) == 6
        cell = events.get_cell(first_after, "desc")
        assert cell.plain.startswith(f"{DEPLOY_ROW_MARK} deploy 11:25 ")
        assert any(f"{DEPLOY_ROW_MARK} deploy 11:25" in line for line in screen_lines(app))


async def test_the_pane_says_a_subscription_runs_duration_includes_queue_wait(
    demo: DemoServer, tmp_path: Path
) -> None:
    async with running(demo, tmp_path, (120, 40)) as (app, pilot):
        assert app.screen.query_one(BotTable).select_id(bot_id(demo, "cgm-device-sync"))
        await pilot.press("enter")
        await settle(pilot)
        await pane_caught_up(pilot)
        pane = app.screen.query_one(OutcomePane)
        assert "incl. queue wait" in pane.plain
        assert "period.start is when the triggering resource changed" in pane.plain
        await pilot.press("escape")
        await settle(pilot)
        # A cron run has no Subscription: no such note.
        assert app.screen.query_one(BotTable).select_id(bot_id(demo, "hourly-census-snapshot"))
        await pilot.press("enter")
        await settle(pilot)
        await pane_caught_up(pilot)
        assert "queue wait" not in app.screen.query_one(OutcomePane).plain


async def test_a_scheduled_bot_that_never_ran_gets_the_banner(demo: DemoServer, tmp_path: Path) -> None:
    new = demo.store.add_bot({"resourceType": "Bot", "name": "nightly-ledger", "cronString": "0 1 * * *"})
    async with running(demo, tmp_path, (80, 24)) as (app, pilot):
        assert app.screen.query_one(BotTable).select_id(new["id"])
        await pilot.press("enter")
        await settle(pilot)
        banner = app.screen.query_one("#banner", Banner)
        assert banner.cause == "never-ran"
        text = str(banner.content)
        assert text.startswith("Scheduled")
        assert 'the "cron" feature (Project.features)' in text and "ProjectMembership" in text
        assert "daily at 01:00 (cron 0 1 * * *, UTC)" in text
