"""Several Medplum projects in one session: one bot list, each project its own credentials,
polled side by side; narrowing to one; alerts and outages named by project."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from demo_support import FIXED_NOW, quiet_demo
from textual_support import notifications
from ui_support import make_multi_app, screen_lines, settle, status

from botmon_tui.demo import DemoServer
from botmon_tui.ui.app import BotmonApp
from botmon_tui.ui.screens.bot_list import BotListScreen
from botmon_tui.ui.screens.events import EventScreen
from botmon_tui.ui.widgets.bot_table import BotTable

SIZES = [(80, 24), (120, 40)]
#: Each project its own ClientApplication (a credential must never reach the other server).
PROD: dict[str, Any] = {"client_id": "aaaa0000-0000-4000-8000-000000000001", "client_secret": "a" * 64}
STAGING: dict[str, Any] = {"client_id": "bbbb0000-0000-4000-8000-000000000002", "client_secret": "b" * 64}


@pytest.fixture
def servers() -> Iterator[dict[str, DemoServer]]:
    with quiet_demo(7, **PROD) as prod, quiet_demo(5, history_days=1, **STAGING) as staging:
        yield {"prod": prod, "staging": staging}


def toasts(app: BotmonApp) -> list[str]:
    return [f"{n.title}\n{n.message}" for n in notifications(app)]


def names(app: BotmonApp) -> list[str]:
    table = app.screen.query_one(BotTable)
    return [table.status(row).bot.display_name for row in table.ids_in_order()]  # type: ignore[union-attr]


@pytest.mark.parametrize("size", SIZES)
async def test_two_projects_one_list_each_with_its_own_credentials(
    servers: dict[str, DemoServer], tmp_path: Path, size: tuple[int, int]
) -> None:
    app = make_multi_app(servers, tmp_path)
    async with app.run_test(size=size, notifications=True) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, BotListScreen)
        prod, staging = servers["prod"], servers["staging"]
        # Every bot of both projects in one list, the header naming each project.
        expected = len(prod.store.bots) + len(staging.store.bots)
        assert app.screen.query_one(BotTable).row_count == expected
        assert screen_lines(app)[0].startswith(" Bots  prod") and "staging" in screen_lines(app)[0]
        assert f"{expected} bots" in status(app)
        # Each server was asked for a token once, with its own client, and answered it.
        for demo, creds in ((prod, PROD), (staging, STAGING)):
            tokens = [r for r in demo.requests if r.path == "/oauth2/token"]
            assert [r.status for r in tokens] == [200]
            assert demo.client_id == creds["client_id"]
        # P narrows to one project, then the next, then all again.
        await pilot.press("P")
        await settle(pilot)
        assert sorted(names(app)) == sorted(b["name"] for b in prod.store.bots)
        assert "prod only" in screen_lines(app)[1] and f"{len(prod.store.bots)} bots" in status(app)
        await pilot.press("P")
        await settle(pilot)
        assert sorted(names(app)) == sorted(b["name"] for b in staging.store.bots)
        await pilot.press("P")
        await settle(pilot)
        assert app.screen.query_one(BotTable).row_count == expected


@pytest.mark.parametrize("size", SIZES)
async def test_a_failure_in_the_other_project_is_toasted_with_its_name(
    servers: dict[str, DemoServer], tmp_path: Path, size: tuple[int, int]
) -> None:
    app = make_multi_app(servers, tmp_path)
    async with app.run_test(size=size, notifications=True) as pilot:
        await settle(pilot)
        prod, staging = servers["prod"], servers["staging"]
        viewed = prod.store.bot_id("hl7-adt-ingest")
        assert viewed is not None
        app.open_bot(viewed)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, EventScreen) and screen.session.label == "prod"
        assert "prod" in screen_lines(app)[0]
        target = staging.store.bot_id("lab-results-router")
        assert target is not None
        staging.store.add_event(target, outcome="4", desc="Error: boom", at=FIXED_NOW + timedelta(seconds=5))
        app.clear_notifications()
        app.poll_now()
        await settle(pilot)
        (toast,) = toasts(app)
        assert toast.startswith("staging: lab-results-router failed")
        # The prod bot's Event tab asked nothing for it (the run was another project's).
        assert app.screen is screen


@pytest.mark.parametrize("size", SIZES)
async def test_one_projects_outage_leaves_the_other_live(
    servers: dict[str, DemoServer], tmp_path: Path, size: tuple[int, int]
) -> None:
    app = make_multi_app(servers, tmp_path)
    async with app.run_test(size=size, notifications=True) as pilot:
        await settle(pilot)
        prod, staging = servers["prod"], servers["staging"]
        staging.faults.add(status=503, count=None, path_contains="/fhir/")
        target = prod.store.bot_id("lab-results-router")
        assert target is not None
        new = prod.store.add_event(target, outcome="0", desc="ok", at=FIXED_NOW + timedelta(seconds=5))
        app.clear_notifications()
        app.poll_now()
        await settle(pilot)
        # prod's new run is in the list; staging's outage is named, in the header and the status.
        table = app.screen.query_one(BotTable)
        assert table.status(target).last_event.id == new["id"]  # type: ignore[union-attr]
        assert "staging ✗ stale" in screen_lines(app)[0]
        # Every row says its project; staging's rows say that their data is stale.
        rows = [line for line in screen_lines(app)[3:] if "prod " in line or "staging " in line]
        assert len(rows) == min(len(table.ids_in_order()), size[1] - 5)
        assert all(("staging ✗ " in line) != ("prod " in line) for line in rows)
        assert status(app).startswith("✗") and "staging: Server error (HTTP 503" in status(app)
        # One toast for the outage; and prod's lab-results-router, failing at start, ran fine: told.
        titles = [t.split("\n")[0] for t in toasts(app)]
        assert sorted(titles) == ["Update failed", "prod: lab-results-router recovered"]
        assert "staging" in toasts(app)[titles.index("Update failed")]
        # prod is polled by its own loop: its schedule is fine.
        assert app.sessions[0].schedule.status.ok and not app.sessions[1].schedule.status.ok
        # staging comes back: live again, one recovery toast.
        staging.faults.clear()
        app.clear_notifications()
        app.poll_now()
        await settle(pilot)
        # (At 80 columns the selected bot's name, cut in its row beside its project, leads.)
        assert "● live" in status(app) and "✗" not in status(app)
        assert "staging ✗" not in screen_lines(app)[0]
        assert not any("staging ✗" in line for line in screen_lines(app))
        assert [t.split("\n")[0] for t in toasts(app)] == ["Recovered"]
