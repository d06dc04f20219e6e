"""The fault matrix: hostile text and failing servers, each in the TUI (Pilot) and the CLI (main()).

Each item is a test of its own in each leg (``test_..._in_the_tui[item]``, ``..._in_the_cli[item]``),
on a server and an app of its own: one failure hides nothing else. An item is counted in the summary
line (conftest.py) only when both its legs passed; a failure is classified as a crash, a lost (or
doubled) run or an escape leak.

* Hostile text (``fault_support.HOSTILE`` and the server-side texts below) travels through bot
  names, runtime and cron fields, event ids, outcome codes, ``outcomeDesc``, OperationOutcome
  texts, header values and raw body bytes. The TUI must show it literally and write no control
  character from it to the terminal (``screen_leaks``: the segments and escape sequences a repaint
  writes, and the SVG export); the CLI's stdout/stderr must hold none either. Then the real app
  runs in a pseudo-terminal over the same texts and every byte it writes is scanned against a
  clean session (``test_the_real_terminal_gets_no_escape_from_data``).
* Faults (``SCENARIOS``): while the fault is on, runs happen; the TUI must stay up, say what is
  wrong in words, keep the last good data with its age and schedule the retry; after the fault
  clears it recovers and shows each run of the outage exactly once. The CLI must exit with one
  line (no traceback, no secret) and, run again after the fault, list each run once.

Polls are driven by hand (``poll_now``, the ``r`` key): no timer is waited for. The automatic
retry is checked as what the schedule set (``next_delay``, "retry in Ns"); the poll that a timer
would start is then started by hand. Clocks are injected.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_support import one_error_line, run
from demo_support import FIXED_NOW, demo_fixture, quiet_demo, settings_for, use_environment
from fault_support import (
    DNS_HOST,
    HEADER_TEXT,
    HOSTILE,
    OUTCOME_TEXT,
    TALLY_KEY,
    Crashed,
    EscapeLeak,
    Hostile,
    LostRun,
    Resolver,
    Tally,
    check_no_leaks,
    hostile_runs,
    screen_leaks,
    screen_text,
    seed_hostile,
    server_context,
    short,
    unsafe_chars,
)
from pty_support import RESTORE, run_in_pty
from textual.pilot import Pilot
from textual.widgets import Static
from textual_support import notifications
from ui_support import pane_caught_up, polled, running, settle, status

from botmon_tui.demo import DemoServer
from botmon_tui.formatting import summary_line
from botmon_tui.monitor.schedule import PollSchedule
from botmon_tui.textsafe import ansi_text, first_line, is_safe, sanitize
from botmon_tui.ui.app import BotmonApp
from botmon_tui.ui.screens.bot_list import BotListScreen
from botmon_tui.ui.screens.events import EventScreen
from botmon_tui.ui.widgets.bot_table import BotTable
from botmon_tui.ui.widgets.event_table import EventTable
from botmon_tui.ui.widgets.outcome_pane import OutcomePane
from botmon_tui.ui.widgets.status_line import StatusLine

pytestmark = pytest.mark.faultmatrix


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    """This test's tally; handed to the summary hook in conftest.py even when the test fails."""
    record = Tally()
    yield record
    request.node.user_properties.append((TALLY_KEY, record.as_json()))


def toasts(app: BotmonApp) -> list[str]:
    return [f"{n.title}: {n.message}" for n in notifications(app)]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The CLI with tables wide enough for whole ids (at 80 columns they are shortened)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLUMNS", "1000")
        return run(capsys, *argv)


def cli_output_is_clean(*texts: str) -> None:
    for text in texts:
        bad = unsafe_chars(text.replace("\t", " "))
        if bad:
            raise EscapeLeak(f"CLI output holds {bad}")


def hostile_server() -> DemoServer:
    """A quiet demo server that keeps whole logs (``max_log_chars=None``: the 10 MB one too)."""
    return quiet_demo(max_log_chars=None, history_days=1)


def session(
    demo: DemoServer, log_dir: Path, size: tuple[int, int] = (100, 30), **options: Any
) -> AbstractAsyncContextManager[tuple[BotmonApp, Pilot[Any]]]:
    """``running`` with the matrix's label and connection settings (a 5 s timeout)."""
    options = {"settings": settings_for(demo), "server_label": "fault matrix", **options}
    return running(demo, log_dir, size, **options)


# ================================================================================================
# Hostile text
# ================================================================================================


@pytest.fixture
def hostile() -> Iterator[tuple[DemoServer, dict[str, dict[str, Any]]]]:
    """A server holding every hostile text (cheap to build: each test gets its own)."""
    with hostile_server() as demo:
        seeded = seed_hostile(demo, FIXED_NOW)
        yield demo, seeded


def _check_text(text: str, where: str) -> None:
    if not is_safe(text.replace("\t", " ")):
        raise EscapeLeak(f"{where} holds {unsafe_chars(text)}")


def _ids(items: Iterable[Any]) -> list[str]:
    """Test ids from the items' names (``OSC 0 window title`` → ``OSC-0-window-title``)."""
    return [re.sub(r"\W+", "-", item.name).strip("-") for item in items]


@pytest.mark.parametrize("item", HOSTILE, ids=_ids(HOSTILE))
async def test_hostile_text_in_the_tui(
    item: Hostile, hostile: tuple[DemoServer, dict[str, dict[str, Any]]], tmp_path: Path, tally: Tally
) -> None:
    """A bot's Event tab, open while the bot is renamed to the text and runs with it, picked up
    by a poll (``r``: the Bot is read again). (The hostile bots in the list, every one on screen
    at once: test_the_hostile_bot_list_is_inert, once for all of them.)"""
    demo, seeded = hostile
    viewer = demo.store.add_bot({"resourceType": "Bot", "name": "viewer", "runtimeVersion": "vmcontext"})
    demo.store.add_event(viewer["id"], outcome="0", desc="first run", at=FIXED_NOW - timedelta(hours=2))
    with tally.leg("hostile", item.name, "tui"):
        async with session(demo, tmp_path, (100, 30)) as (app, pilot):
            bot = seeded[item.name]["bot"]
            app.open_bot(viewer["id"])
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, EventScreen)
            events_table = screen.query_one(EventTable)
            pane = screen.query_one(OutcomePane)
            fields = bot if item.in_bot else {"name": "viewer renamed"}
            demo.store.update_bot(
                viewer["id"],
                name=fields["name"],
                runtimeVersion=fields.get("runtimeVersion", "vmcontext"),
                cronString=fields.get("cronString"),
            )
            at = FIXED_NOW + timedelta(minutes=1)
            first, second = hostile_runs(demo, viewer["id"], item.text, at, f"v-{short(item.text, 50)}")
            await pilot.press("r")
            await polled(pilot)
            assert app.is_running and app.screen is screen
            heading = str(screen.query_one("#heading", Static).content)
            _check_text(heading, "heading")
            if item.in_bot:
                assert item.literal in heading
            for event_id in (second["id"], first["id"]):  # the first one stays selected
                assert events_table.select_id(event_id)
                await pane_caught_up(pilot)
                for column in ("id", "outcome", "desc"):
                    _check_text(events_table.get_cell(event_id, column).plain, f"{column} cell")
                _check_text(pane.plain, "outcome pane")
                check_no_leaks(screen_leaks(app, svg=event_id == first["id"]), "event tab")
            assert item.literal in pane.plain
            shown = ansi_text(item.text).plain
            if len(shown) <= 64 * 1024:  # longer outputs show their head and tail
                assert sanitize(shown).strip()[:200] in pane.plain
            # Still responsive: a key does what it says.
            absolute = events_table.show_absolute
            await pilot.press("t")
            assert events_table.show_absolute is not absolute
            await pilot.press("escape")
            await pilot.pause()
            assert app.is_running and isinstance(app.screen, BotListScreen)


async def test_the_hostile_bot_list_is_inert(
    hostile: tuple[DemoServer, dict[str, dict[str, Any]]], tmp_path: Path, tally: Tally
) -> None:
    """Every hostile bot on one screen (150x60, rendered once and scanned): no control character
    in what it writes or in its SVG export, each bot's cells hold none and show its name
    literally, and clicking where "[@click=app.quit]" and the other markup texts are drawn does
    nothing."""
    demo, seeded = hostile
    with tally.leg("check", "the hostile bot list", "tui"):
        async with session(demo, tmp_path, (150, 60)) as (app, pilot):
            table = app.screen.query_one(BotTable)
            assert table.row_count == len(demo.store.bots) and table.size.height > table.row_count
            check_no_leaks(screen_leaks(app, svg=True), "bot list")
            for item in HOSTILE:
                bot = seeded[item.name]["bot"]
                for column in ("name", "id", "audit"):
                    _check_text(table.get_cell(bot["id"], column).plain, f"{item.name}: bot {column} cell")
                if item.in_bot:
                    assert item.literal in table.get_cell(bot["id"], "name").plain, item.name
            rows = {row_id: row for row, row_id in enumerate(table.ids_in_order())}
            markup = [item for item in HOSTILE if item.in_bot and "[" in item.text]
            assert markup
            for item in markup:
                row = rows[seeded[item.name]["bot"]["id"]]
                await pilot.click(BotTable, offset=(3, row + 1))  # (the header is the first line)
                assert app.is_running
            await pilot.pause()
            assert app.is_running


@dataclass
class Listing:
    """A server holding every hostile text, that the CLI tests only read, and its ``bots`` and
    ``bots --json`` outputs (the same for every item: run once, by the first test that needs them)."""

    demo: DemoServer
    seeded: dict[str, dict[str, Any]]
    bots: tuple[int, str, str] | None = None
    bots_json: tuple[int, str, str] | None = None


@pytest.fixture(scope="module")
def hostile_listing() -> Iterator[Listing]:
    with hostile_server() as demo:
        yield Listing(demo, seed_hostile(demo, FIXED_NOW))


@pytest.mark.parametrize("item", HOSTILE, ids=_ids(HOSTILE))
def test_hostile_text_in_the_cli(
    item: Hostile,
    hostile_listing: Listing,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tally: Tally,
) -> None:
    listing = hostile_listing
    demo, seeded = listing.demo, listing.seeded
    use_environment(monkeypatch, demo)
    with tally.leg("hostile", item.name, "cli"):
        if listing.bots is None or listing.bots_json is None:
            listing.bots = run_cli(capsys, "bots")
            listing.bots_json = run_cli(capsys, "bots", "--json")
        code, bots_out, bots_err = listing.bots
        assert code == 0, bots_err
        code, bots_json, _ = listing.bots_json
        assert code == 0
        assert bots_json.isascii()
        served = {bot["id"]: bot for bot in json.loads(bots_json)}
        bot = seeded[item.name]["bot"]
        cli_output_is_clean(bots_out, bots_err)
        assert first_line(bot["name"], 60).replace("\t", " ") in bots_out
        assert served[bot["id"]]["name"] == bot["name"]  # --json: exactly as sent
        code, out, err = run_cli(capsys, "events", bot["id"])
        assert code == 0, err
        cli_output_is_clean(out, err)
        for event in seeded[item.name]["events"]:
            assert first_line(event["id"], 64).replace("\t", " ") in out
        desc = summary_line(item.text)  # the line that says what went wrong
        assert desc.replace("\t", " ") in out
        code, out, err = run_cli(capsys, "events", bot["id"], "--json")
        assert code == 0 and out.isascii()
        assert json.loads(out)[0]["outcomeDesc"] == item.text


# ------------------------------------------------------------------------------------------------
# Hostile text from the server's side: error texts, header values, raw bytes
# ------------------------------------------------------------------------------------------------


def _event_json(bot_id: str, event_id: str, desc: str, at: datetime) -> dict[str, Any]:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {
        "resourceType": "AuditEvent",
        "id": event_id,
        "meta": {"lastUpdated": stamp},
        "type": {"code": "execute"},
        "recorded": stamp,
        "outcome": "4",
        "outcomeDesc": desc,
        "entity": [{"what": {"reference": f"Bot/{bot_id}"}}],
        "source": {"observer": {"reference": f"Bot/{bot_id}"}},
    }


@dataclass(frozen=True)
class ServerText:
    """Hostile text that the server puts somewhere other than a resource field."""

    name: str
    #: Queue the fault on ``srv`` for a request to ``path``; return the text expected on screen.
    inject: Callable[[DemoServer, str, str], str | None]
    #: The poll succeeds (the text is data) rather than failing (the text is an error).
    ok: bool = False


def _outcome_text(demo: DemoServer, path: str, bot_id: str) -> str:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "exception", "details": {"text": OUTCOME_TEXT}}],
    }
    demo.faults.add(status=500, body=json.dumps(body), path_contains=path)
    return "[@click=app.quit]boom[/]"


def _echoed_secrets(demo: DemoServer, path: str, bot_id: str) -> str:
    """A server (or a proxy) that echoes the credentials and the token in its error text."""
    text = f"bad client_secret={demo.client_secret} for {{authorization}}"
    body = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "details": {"text": text}}]}
    demo.faults.add(status=500, body=json.dumps(body), path_contains=path)
    return "bad client_secret=******** for Bearer ********"


def _reason_phrase(demo: DemoServer, path: str, bot_id: str) -> str:
    # Latin-1 only (a status line cannot carry more); C1 bytes included.
    demo.faults.add(kind="html", status=502, reason=HEADER_TEXT, path_contains=path)
    return "HTTP 502"


def _reason_with_escape(demo: DemoServer, path: str, bot_id: str) -> str:
    demo.faults.add(kind="html", status=502, reason="Bad \x1b]0;PWNED\x07 Gateway", path_contains=path)
    return "HTTP 502"


def _content_type(demo: DemoServer, path: str, bot_id: str) -> str:
    demo.faults.add(
        kind="html", status=200, content_type="text/\x9b2J\x85[@click=app.quit]html", path_contains=path
    )
    return "[@click=app.quit]"


def _date_header(demo: DemoServer, path: str, bot_id: str) -> None:
    body = {"resourceType": "Bundle", "type": "searchset", "link": []}
    demo.faults.add(
        status=200,
        body=json.dumps(body),
        headers=[("Date", "Fri, 31 Dec 9999 23:59:59 GMT")],
        path_contains=path,
    )
    return None


def _invalid_utf8(demo: DemoServer, path: str, bot_id: str) -> str:
    event = _event_json(bot_id, "utf8-broken-run", "BYTES", FIXED_NOW + timedelta(minutes=1))
    raw = json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": event}]}).encode()
    raw = raw.replace(b"BYTES", b"bad \xff\xfe\xc3( bytes \x1b]0;x\x07 [/x] \xed\xa0\x80 end")
    demo.faults.add(status=200, body=raw, path_contains=path)
    return "bad \ufffd"


def _lone_surrogate(demo: DemoServer, path: str, bot_id: str) -> str:
    event = _event_json(bot_id, "surrogate-run", "SURR", FIXED_NOW + timedelta(minutes=2))
    raw = json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": event}]})
    demo.faults.add(
        status=200,
        body=raw.replace("SURR", "lone \\ud800 surrogate \\u001b[2J \\u009b1m"),
        path_contains=path,
    )
    return "lone \ufffd surrogate"


SERVER_TEXTS = (
    ServerText("OperationOutcome text with markup and OSC", _outcome_text),
    ServerText("an error text echoing the client secret and the access token", _echoed_secrets),
    ServerText("reason phrase with C1 bytes", _reason_phrase),
    ServerText("reason phrase with ESC (illegal in HTTP)", _reason_with_escape),
    ServerText("Content-Type header with C1 and markup", _content_type),
    ServerText("Date header at the end of time", _date_header, ok=True),
    ServerText("invalid UTF-8 in the body", _invalid_utf8, ok=True),
    ServerText("lone surrogate and escapes as JSON \\u escapes", _lone_surrogate, ok=True),
)


whole_logs = demo_fixture(scope="function", max_log_chars=None, history_days=1)


def _matrix_bot(demo: DemoServer, runs: int = 5) -> str:
    bot = demo.store.add_bot({"resourceType": "Bot", "name": "matrix-bot", "runtimeVersion": "vmcontext"})
    for number in range(runs):
        demo.store.add_event(
            bot["id"], outcome="0", desc=f"run {number}", at=FIXED_NOW - timedelta(minutes=runs - number)
        )
    return str(bot["id"])


@pytest.mark.parametrize("item", SERVER_TEXTS, ids=_ids(SERVER_TEXTS))
async def test_hostile_server_texts_in_the_tui(
    item: ServerText, whole_logs: DemoServer, tmp_path: Path, tally: Tally
) -> None:
    demo = whole_logs
    bot_id = _matrix_bot(demo)
    with tally.leg("hostile", item.name, "tui"):
        async with session(demo, tmp_path, bot_id=bot_id) as (app, pilot):
            screen = app.screen
            assert isinstance(screen, EventScreen)
            expected = item.inject(demo, "AuditEvent", bot_id)
            # The Event tab's own query meets the hostile body (the project's poll is the other
            # AuditEvent query: the bot list's leg).
            assert screen.own_poller is not None
            screen.own_poller.poll_now()
            await polled(pilot)
            assert app.is_running and app.screen is screen
            line = status(app)
            _check_text(line, "status line")
            for toast in toasts(app):
                _check_text(toast, "notification")
            if item.ok:
                # Data: the poll went through; the text, if any, is in a row and the pane.
                assert line.startswith("● live"), line
            else:
                assert line.startswith("✗"), line
            if expected is not None and not item.ok:
                assert expected in line, line
            if expected is not None and item.ok:
                table = screen.query_one(EventTable)
                table.select_id(table.ids_in_order()[0])
                await pane_caught_up(pilot)
                assert expected in screen.query_one(OutcomePane).plain
            check_no_leaks(screen_leaks(app), "status line and notifications")
            shown = screen_text(app) + "\n".join(toasts(app)) + line
            for secret in (demo.client_secret, *demo.tokens.issued()):
                assert secret not in shown, "a secret on screen"
            # The next poll is normal again.
            demo.faults.clear()
            await pilot.press("r")
            await settle(pilot)
            assert status(app).startswith("● live"), status(app)


@pytest.mark.parametrize("item", SERVER_TEXTS, ids=_ids(SERVER_TEXTS))
def test_hostile_server_texts_in_the_cli(
    item: ServerText,
    whole_logs: DemoServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tally: Tally,
) -> None:
    demo = whole_logs
    bot_id = _matrix_bot(demo)
    use_environment(monkeypatch, demo)
    with tally.leg("hostile", item.name, "cli"):
        expected = item.inject(demo, "AuditEvent", bot_id)
        code, out, err = run_cli(capsys, "events", bot_id)
        demo.faults.clear()
        cli_output_is_clean(out, err)
        for secret in (demo.client_secret, *demo.tokens.issued()):
            assert secret not in out + err, "a secret in the CLI's output"
        if item.ok:
            assert code == 0, err
            if expected is not None:
                assert expected in out
        else:
            assert code == 3, (code, err)
            line = one_error_line(err)
            assert expected is not None and expected in line, line


# ================================================================================================
# Faults
# ================================================================================================

TOKEN_PATH = "/oauth2/token"
#: Backoff after a first retryable failure with the matrix apps' one-hour interval: a quarter of
#: it, but never more than a minute (the schedule's MAX_BACKOFF; no jitter in tests).
BACKOFF = 60.0
#: After an error retrying will not fix (credentials, forbidden, not found): once a minute.
SLOW = 60.0
#: The client's HTTP timeout in the matrix: ample for a normal answer on a loaded machine; the
#: scenario of a body that never ends waits for a short one (``Scenario.timeout``).
CLIENT_TIMEOUT = 10.0
HANG_TIMEOUT = 1.0


@dataclass
class Env:
    """One fault scenario's world: the server, the watched bot, the clock and what happened."""

    demo: DemoServer
    bot_id: str
    base_url: str
    now: list[datetime]
    resolver: Resolver | None = None
    ca_file: str | None = None
    certs: dict[str, tuple[Path, Path]] | None = None
    #: Runs added (oldest first) and the ones the bot list has not been checked for yet.
    runs: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    saved_bot: dict[str, Any] | None = None
    #: Unreadable entries served so far (each screen counts them from its load on).
    unreadable: int = 0

    def add_run(self) -> str:
        at = FIXED_NOW + timedelta(seconds=10 * (len(self.runs) + 1))
        event = self.demo.store.add_event(
            self.bot_id, outcome="4", desc=f"run {len(self.runs)} in an outage", at=at
        )
        self.runs.append(event["id"])
        self.unchecked.append(event["id"])
        return str(event["id"])

    def run_json(self, event_id: str) -> dict[str, Any]:
        event = self.demo.store.event(event_id)
        assert event is not None
        return event

    def token_requests(self) -> int:
        return sum(1 for r in self.demo.requests if r.method == "POST" and r.path.startswith(TOKEN_PATH))

    def cli_flags(self, timeout: float = CLIENT_TIMEOUT) -> list[str]:
        # The server and the credentials are in the environment.
        flags = ["--timeout", f"{timeout:g}"]
        if self.resolver is not None:
            flags.append("--insecure-http")  # plain http to a name that is not loopback
        if self.ca_file is not None:
            flags += ["--ca-file", self.ca_file]
        return flags


def _bundle(*entries: Any) -> str:
    return json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": list(entries)})


def clear(env: Env) -> None:
    env.demo.faults.clear()


def on_fhir(path_contains: str = "/fhir/", **fault: Any) -> Callable[[Env], None]:
    """Every FHIR request (or only those whose path holds ``path_contains``: ``"AuditEvent"``,
    the searches, while Bot reads still work) gets ``fault`` until healed."""

    def inject(env: Env) -> None:
        env.demo.faults.add(count=None, path_contains=path_contains, **fault)

    return inject


def _refused(env: Env) -> None:
    env.demo.stop()


def _back(env: Env) -> None:
    env.demo.start(same_port=True)


def _dns_down(env: Env) -> None:
    assert env.resolver is not None
    env.resolver.down = True
    env.demo.restart(forget_tokens=False)  # open connections close: the next request resolves again


def _dns_up(env: Env) -> None:
    assert env.resolver is not None
    env.resolver.down = False


def _certificate(name: str) -> Callable[[Env], None]:
    """The server restarts with the ``name`` certificate (``trusted`` or ``untrusted``)."""

    def serve(env: Env) -> None:
        assert env.certs is not None
        env.demo.tls = server_context(env.certs[name])
        env.demo.restart(forget_tokens=False)

    return serve


def _credentials_refused(env: Env) -> None:
    """The client's credentials stop working (secret rotated, client disabled) while it runs."""
    env.demo.expire_tokens()
    refusal = json.dumps({"error": "invalid_client", "error_description": "Invalid secret"})
    env.demo.faults.add(
        status=401, body=refusal, content_type="application/json", path_contains=TOKEN_PATH, count=None
    )


def _expire_tokens(env: Env) -> None:
    env.demo.expire_tokens()


def _token_expires_mid_run(env: Env) -> None:
    """For the CLI (a fresh login each run): the token expires between its requests."""
    expired = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "expired", "details": {"text": "Token expired"}}],
    }
    env.demo.faults.add(status=401, body=json.dumps(expired), path_contains="AuditEvent", count=1)


def _delete_bot(env: Env) -> None:
    env.saved_bot = env.demo.store.bot(env.bot_id)
    env.demo.store.delete_bot(env.bot_id)


def _restore_bot(env: Env) -> None:
    assert env.saved_bot is not None
    env.demo.store.add_bot(env.saved_bot)


def _rate_limited(env: Env) -> None:
    env.demo.faults.rate_limited(ms_before_next=7000, count=None, path_contains="/fhir/")


def _rate_limited_once(env: Env) -> None:
    env.demo.faults.rate_limited(ms_before_next=300, count=1, path_contains="/fhir/")


def _restart_down(env: Env) -> None:
    """A restart: the server is down a while, and comes back having forgotten every token."""
    env.demo.stop()
    env.demo.tokens.revoke_all()


def _partial(bad: list[Any], count: int = 3) -> Callable[[Env], None]:
    """The next ``count`` AuditEvent searches answer the newest run plus ``bad`` entries (the bot
    list's runs, the alerts' failures query its new failed run makes it send, the Event tab's)."""

    def inject(env: Env) -> None:
        good = {"fullUrl": "x", "resource": env.run_json(env.runs[-1])}
        env.demo.faults.add(status=200, body=_bundle(good, *bad), path_contains="AuditEvent", count=count)

    return inject


def _wrong_content_type(env: Env) -> None:
    good = {"resource": env.run_json(env.runs[-1])}
    env.demo.faults.add(
        status=200,
        body=_bundle(good),
        content_type="text/html; charset=iso-8859-1",
        path_contains="AuditEvent",
        count=2,
    )


@dataclass(frozen=True)
class Scenario:
    name: str
    inject: Callable[[Env], None]
    heal: Callable[[Env], None] = clear
    #: What the status line (TUI) and the error line (CLI) must say, as a regex.
    words: str = ""
    #: The delay the schedule must give before the automatic retry (None: not checked).
    delay: float | None = BACKOFF
    #: The client's HTTP timeout: short only where the fault is waiting for it (a body that never
    #: ends), so that a loaded machine answering a normal request slowly is not a timeout.
    timeout: float = CLIENT_TIMEOUT
    #: Handled without any error shown (a renewed token); ``partial``: data with unreadable entries.
    silent: bool = False
    partial: int = 0
    #: How the app reaches the server: ``plain`` HTTP to 127.0.0.1, ``dns`` (a name resolved by
    #: a resolver the scenario switches off) or ``tls`` (the trusted test certificate).
    network: str = "plain"
    #: The CLI: its own injection (None: ``inject``), and whether it copes within the run.
    cli_inject: Callable[[Env], None] | None = None
    cli_ok: bool = False
    #: The CLI's exit status and words when it fails, if not 3 and ``words``.
    cli_code: int = 3
    cli_words: str | None = None
    #: The fault is injected *after* the run is added (it serves that run).
    inject_after_run: bool = False
    #: The bot list fails too (a deleted bot only fails its own Event tab).
    list_fails: bool = True


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("connection refused", _refused, _back, r"Connection refused by 127\.0\.0\.1"),
    Scenario(
        "DNS failure", _dns_down, _dns_up, rf"Cannot resolve {re.escape(DNS_HOST)}.* \(DNS\)", network="dns"
    ),
    Scenario(
        "timeout (a body that never ends)",
        on_fhir(kind="hang"),
        words=r"Timed out talking to",
        timeout=HANG_TIMEOUT,
    ),
    Scenario(
        "TLS error (untrusted certificate)",
        _certificate("untrusted"),
        _certificate("trusted"),
        r"TLS error.*certificate verify failed",
        network="tls",
    ),
    Scenario(
        "401 bad credentials",
        _credentials_refused,
        words=r"Token request refused \(HTTP 40[01]\): Invalid secret",
        delay=SLOW,
        cli_inject=None,
    ),
    Scenario(
        "401 expired token (renewed silently)",
        _expire_tokens,
        words="",
        delay=None,
        silent=True,
        cli_inject=_token_expires_mid_run,
        cli_ok=True,
    ),
    Scenario("403 forbidden", on_fhir(status=403), words=r"Forbidden \(HTTP 403\)", delay=SLOW),
    Scenario(
        "404 bot deleted while viewed",
        _delete_bot,
        _restore_bot,
        r"Not found \(HTTP 404\).*deleted",
        delay=SLOW,
        list_fails=False,
        cli_code=2,  # the CLI is asked for a bot that does not exist: a usage error
        cli_words=r"no bot is named .* or has that id",
    ),
    Scenario(
        "429 rate limited (RateLimit header, msBeforeNext)",
        _rate_limited,
        words=r"Rate limited.*HTTP 429.*7\.0 s",
        delay=7.0,
        cli_inject=_rate_limited_once,
        cli_ok=True,
    ),
    Scenario("500 internal server error", on_fhir(status=500), words=r"Server error \(HTTP 500"),
    Scenario(
        "502 from a proxy (HTML page)",
        on_fhir(kind="html", status=502),
        words=r"HTTP 502 Bad Gateway.*not JSON \(text/html",
    ),
    Scenario("503 service unavailable", on_fhir(status=503), words=r"Server error \(HTTP 503"),
    Scenario("504 gateway timeout", on_fhir(status=504), words=r"Server error \(HTTP 504"),
    Scenario("server restart that invalidates tokens", _restart_down, _back, r"Connection refused"),
    Scenario("connection closed without an answer", on_fhir(kind="drop"), words=r"dropped"),
    Scenario("body shorter than its Content-Length", on_fhir(kind="truncated"), words=r"dropped"),
    Scenario(
        "HTML login page with 200 (proxy)",
        on_fhir(kind="html", status=200),
        words=r"HTTP 200: the answer was not JSON \(text/html",
    ),
    Scenario("empty body", on_fhir(kind="empty"), words=r"empty response body"),
    Scenario("truncated JSON", on_fhir(kind="malformed"), words=r"not JSON"),
    Scenario(
        "JSON of the wrong resourceType",
        on_fhir("AuditEvent", status=200, body=json.dumps({"resourceType": "Patient", "id": "p1"})),
        words=r"Unexpected search result: expected a Bundle, got Patient",
    ),
    Scenario(
        "Bundle.entry not a list",
        on_fhir(
            "AuditEvent", status=200, body=json.dumps({"resourceType": "Bundle", "entry": {"resource": {}}})
        ),
        words=r"Bundle\.entry is not a list",
    ),
    Scenario(
        "entries without an id",
        _partial(
            [
                {"resource": {"resourceType": "AuditEvent"}},
                {"resource": {"resourceType": "AuditEvent", "id": ""}},
            ]
        ),
        delay=None,
        partial=2,
        inject_after_run=True,
        cli_ok=True,
    ),
    Scenario(
        "one broken entry among good ones",
        _partial(
            [{"resource": {"resourceType": "AuditEvent", "id": "b1", "meta": "not an object", "outcome": {}}}]
        ),
        delay=None,
        partial=1,
        inject_after_run=True,
        cli_ok=True,
    ),
    Scenario(
        "wrong content type",
        _wrong_content_type,
        delay=None,
        silent=True,
        inject_after_run=True,
        cli_ok=True,
    ),
)
FLAPPING = "a server that flaps (503, drop, 502 page, in turns)"
FLAPS = (on_fhir(status=503), on_fhir(kind="drop"), on_fhir(kind="html", status=502))


def test_the_matrix_is_big_enough() -> None:
    assert len(HOSTILE) + len(SERVER_TEXTS) >= 25
    assert len(SCENARIOS) + 1 >= 15  # + the flapping server
    assert len({s.name for s in SCENARIOS}) == len(SCENARIOS)


@contextmanager
def environment(
    network: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Env]:
    tls = None
    certs: dict[str, tuple[Path, Path]] | None = None
    if network == "tls":
        certs = request.getfixturevalue("certs")
        tls = server_context(certs["trusted"])
    demo = quiet_demo(history_days=0.2, tls=tls)
    demo.start()
    try:
        bot_id = _matrix_bot(demo)
        env = Env(demo=demo, bot_id=bot_id, base_url=demo.base_url, now=[FIXED_NOW], certs=certs)
        if network == "dns":
            env.resolver = Resolver()
            monkeypatch.setattr(socket, "getaddrinfo", env.resolver.getaddrinfo)
            env.base_url = f"http://{DNS_HOST}:{demo.port}/"
        if certs is not None:
            env.ca_file = str(certs["trusted"][0])
        yield env
        # Read-only, whatever happened: nothing but GETs and token requests reached the server.
        written = {(r.method, r.path.split("?")[0]) for r in demo.requests if r.method != "GET"}
        assert written <= {("POST", TOKEN_PATH)}, written
    finally:
        demo.stop()


# ------------------------------------------------------------------------------------------------
# The TUI leg: the bot list and the bot's Event tab, both polled through each outage
# ------------------------------------------------------------------------------------------------


class Watch:
    """The two screens of one app session and what they have shown."""

    def __init__(self, app: BotmonApp, pilot: Pilot[Any], env: Env) -> None:
        self.app, self.pilot, self.env = app, pilot, env
        screens = app.screen_stack
        self.bots = next(s for s in screens if isinstance(s, BotListScreen))
        self.events = next(s for s in screens if isinstance(s, EventScreen))
        self.added: dict[str, int] = {}
        original = self.events.apply_delta

        def spy(delta: Any, *, first: bool = False) -> None:
            for event in delta.added:
                self.added[event.id] = self.added.get(event.id, 0) + 1
            original(delta, first=first)

        self.events.apply_delta = spy  # type: ignore[method-assign]
        self.seen = app.sessions[0].project.statuses[env.bot_id].runs_seen

    async def poll(self) -> None:
        """One poll of the project (what the bot list shows) through its poller, then the Event tab
        with the r key (the project again, then the tab's own query)."""
        poller = self.app.session_poller(self.app.sessions[0])
        assert poller is not None
        poller.poll_now()
        await polled(self.pilot)
        assert self.app.screen is self.events
        await self.pilot.press("r")
        await polled(self.pilot)

    def schedule(self, screen: Any) -> PollSchedule:
        """The loop in error that the screen's status line tells of: the Event tab's own query,
        else the project's."""
        own = screen.own_schedule
        return own if own is not None and not own.status.ok else self.app.sessions[0].schedule

    def rows(self, screen: Any) -> int:
        table = screen.query_one(EventTable if screen is self.events else BotTable)
        return int(table.row_count)

    def line(self, screen: Any) -> str:
        return str(screen.query_one(StatusLine).plain)

    def check_alive(self) -> None:
        if self.app.crash_log.count:
            raise Crashed(f"{self.app.crash_log.count} internal error(s) logged: {self.line(self.events)}")
        assert self.app.is_running and self.app.screen is self.events
        text = screen_text(self.app) + "\n".join(toasts(self.app))
        assert "Traceback" not in text and "Error:" not in text.replace("Server error", "")
        for toast in toasts(self.app):
            _check_text(toast, "notification")

    def check_exactly_once(self) -> None:
        """Each run is in the Event tab once and reached the bot list once; none is missing."""
        table = self.events.query_one(EventTable)
        shown = table.ids_in_order()
        if len(shown) != len(set(shown)):
            raise LostRun("a row is shown twice")
        missing = [run for run in self.env.runs if run not in shown]
        if missing:
            raise LostRun(f"runs missing from the Event tab: {missing}")
        twice = [run for run, times in self.added.items() if times > 1]
        if twice:
            raise LostRun(f"runs added twice to the Event tab: {twice}")
        status = self.app.sessions[0].project.statuses.get(self.env.bot_id)
        assert status is not None
        delivered = status.runs_seen - self.seen
        if delivered != len(self.env.unchecked):
            raise LostRun(f"the bot list got {delivered} of {len(self.env.unchecked)} new runs")
        if self.env.unchecked and (
            status.last_event is None or status.last_event.id != self.env.unchecked[-1]
        ):
            raise LostRun("the bot list does not show the newest run as the last one")
        self.seen = status.runs_seen
        self.env.unchecked.clear()


async def tui_outage(watch: Watch, scenario: Scenario) -> None:
    env, app = watch.env, watch.app
    app.clear_notifications()
    env.now[0] += timedelta(minutes=5)  # the last good data is five minutes old when it fails
    rows = {screen: watch.rows(screen) for screen in (watch.bots, watch.events)}
    tokens = env.token_requests()
    if scenario.inject_after_run:
        env.add_run()
        scenario.inject(env)
    else:
        scenario.inject(env)
        env.add_run()
    await watch.poll()
    watch.check_alive()
    for screen in (watch.bots, watch.events):
        line = watch.line(screen)
        if scenario.silent or (screen is watch.bots and not scenario.list_fails):
            assert line.startswith("● live"), line
        elif scenario.partial:
            # The good entries are shown at once, and the line says how many could not be read.
            assert line.startswith("● live"), line
            count = env.unreadable + scenario.partial
            wording = f"{count} entries unreadable" if screen is watch.bots else f"{count} unreadable"
            assert wording in line, line
            assert env.runs[-1] in watch.events.query_one(EventTable).ids_in_order()
        else:
            # In words, with the last good data kept and its age, and the retry scheduled.
            assert line.startswith("✗ retry in "), line
            assert re.search(scenario.words, line), (scenario.words, line)
            # (When only the Event tab's Bot read fails, the project's poll saw the new run and the
            # tab fetched it before reading the Bot: its runs are current.)
            age = "now" if screen is watch.events and not scenario.list_fails else "5m ago"
            assert f"showing data from {age}" in line, line
            if scenario.delay is not None:
                schedule = watch.schedule(screen)
                assert schedule.status.next_delay == scenario.delay, schedule.status
                assert f"retry in {round(scenario.delay)}s" in line, line
            # The last good data stays on screen (the new run too, when the tab got it: see above).
            fetched = 1 if screen is watch.events and not scenario.list_fails else 0
            assert watch.rows(screen) == rows[screen] + fetched, "the last good data must stay on screen"
    if not scenario.silent and not scenario.partial:
        assert any(scenario.words and re.search(scenario.words, t) for t in toasts(app)), toasts(app)
    if scenario.delay == SLOW and scenario.name.startswith("401"):
        # Stop hammering: one token request per poll, then nothing before the slow retry.
        assert env.token_requests() - tokens == 2
    if scenario.silent and scenario.name.startswith("401"):
        assert env.token_requests() - tokens == 1  # renewed once, for both screens
    env.unreadable += scenario.partial
    scenario.heal(env)
    env.add_run()
    await watch.poll()
    watch.check_alive()
    for screen in (watch.bots, watch.events):
        line = watch.line(screen)
        assert line.startswith("● live"), line
        if not scenario.silent and not scenario.partial and (screen is watch.events or scenario.list_fails):
            assert "recovered" in line, line
    watch.check_exactly_once()


async def tui_flapping(watch: Watch) -> None:
    env = watch.env
    for inject in FLAPS:
        env.now[0] += timedelta(minutes=5)
        inject(env)
        env.add_run()
        await watch.poll()
        watch.check_alive()
        for screen in (watch.bots, watch.events):
            line = watch.line(screen)
            assert line.startswith("✗ retry in ") and "showing data from 5m ago" in line, line
        clear(env)
        env.add_run()
        await watch.poll()
        watch.check_alive()
        for screen in (watch.bots, watch.events):
            assert watch.line(screen).startswith("● live"), watch.line(screen)
        watch.check_exactly_once()


@asynccontextmanager
async def watching(
    network: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    http_timeout: float = CLIENT_TIMEOUT,
) -> AsyncIterator[Watch]:
    """An app over a fresh server, polling automatically, with the bot list and the bot's Event tab."""
    with environment(network, request, monkeypatch) as env:
        async with session(
            env.demo,
            tmp_path,
            settings=settings_for(env.demo, base_url=env.base_url, ca_file=env.ca_file, timeout=http_timeout),
            clock=lambda: env.now[0],
            auto_poll=True,  # the status line shows when the automatic retry comes
        ) as (app, pilot):
            app.open_bot(env.bot_id)
            await settle(pilot)
            watch = Watch(app, pilot, env)
            for screen in (watch.bots, watch.events):
                assert watch.line(screen).startswith("● live"), watch.line(screen)
            yield watch


@pytest.mark.parametrize("scenario", SCENARIOS, ids=_ids(SCENARIOS))
async def test_faults_in_the_tui(
    scenario: Scenario,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    tally: Tally,
) -> None:
    with tally.leg("fault", scenario.name, "tui"):
        async with watching(scenario.network, request, monkeypatch, tmp_path, scenario.timeout) as watch:
            await tui_outage(watch, scenario)


async def test_flapping_server_in_the_tui(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tally: Tally
) -> None:
    with tally.leg("fault", FLAPPING, "tui"):
        async with watching("plain", request, monkeypatch, tmp_path) as watch:
            await tui_flapping(watch)


# ------------------------------------------------------------------------------------------------
# The CLI leg: `botmon-tui events BOT` during the fault, and again after it
# ------------------------------------------------------------------------------------------------


def cli_runs(capsys: pytest.CaptureFixture[str], env: Env) -> list[str]:
    """The event ids ``events --json`` lists after the fault (each must appear once)."""
    code, out, err = run_cli(capsys, "events", env.bot_id, "--json", "--limit", "100", *env.cli_flags())
    if code == 1:
        raise Crashed(err)
    assert code == 0, err
    ids = [event["id"] for event in json.loads(out)]
    if len(ids) != len(set(ids)):
        raise LostRun("the CLI lists a run twice")
    missing = [run for run in env.runs if run not in ids]
    if missing:
        raise LostRun(f"the CLI does not list {missing}")
    return ids


def cli_outage(capsys: pytest.CaptureFixture[str], env: Env, scenario: Scenario) -> None:
    inject = scenario.cli_inject or scenario.inject
    tokens = env.token_requests()
    if scenario.inject_after_run:
        env.add_run()
        inject(env)
    else:
        inject(env)
        env.add_run()
    code, out, err = run_cli(capsys, "events", env.bot_id, *env.cli_flags(scenario.timeout))
    cli_output_is_clean(out, err)
    if code == 1:
        raise Crashed(err)
    if scenario.cli_ok:
        assert code == 0, err
        assert out.count(env.runs[-1]) == 1, out
        if scenario.partial:
            assert f"{scenario.partial} AuditEvent entr" in err, err
        if scenario.name.startswith("429"):
            assert "warning: Rate limited" in err and "waiting 0.3 s" in err, err
    else:
        assert code == scenario.cli_code, (code, err)
        line = one_error_line(err)
        words = scenario.cli_words or scenario.words
        assert re.search(words, line), (words, line)
        assert out == ""
        if scenario.name.startswith("401"):
            assert env.token_requests() - tokens == 1, "no retry loop on refused credentials"
    assert env.demo.client_secret not in out + err
    scenario.heal(env)
    env.add_run()
    cli_runs(capsys, env)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=_ids(SCENARIOS))
def test_faults_in_the_cli(
    scenario: Scenario,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tally: Tally,
) -> None:
    with tally.leg("fault", scenario.name, "cli"), environment(scenario.network, request, monkeypatch) as env:
        use_environment(monkeypatch, env.demo, base_url=env.base_url)
        cli_runs(capsys, env)
        if scenario.name == "401 bad credentials":
            # The CLI logs in afresh each run: really wrong credentials, then the right ones.
            monkeypatch.setenv("MEDPLUM_CLIENT_SECRET", "f" * 64)
            scenario = replace(
                scenario,
                inject=lambda env: None,
                heal=lambda env: monkeypatch.setenv("MEDPLUM_CLIENT_SECRET", env.demo.client_secret),
                words=r"Token request refused \(HTTP 400\): Invalid secret \(credentials from env",
            )
        cli_outage(capsys, env, scenario)


def test_flapping_server_in_the_cli(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tally: Tally,
) -> None:
    with tally.leg("fault", FLAPPING, "cli"), environment("plain", request, monkeypatch) as env:
        use_environment(monkeypatch, env.demo, base_url=env.base_url)
        cli_runs(capsys, env)
        for inject in FLAPS:
            inject(env)
            env.add_run()
            code, _, err = run_cli(capsys, "events", env.bot_id, *env.cli_flags())
            assert code == 3 and one_error_line(err)
            clear(env)
            env.add_run()
            cli_runs(capsys, env)


# ================================================================================================
# The real terminal: the app in a pseudo-terminal, every byte it writes scanned
# ================================================================================================


def _run_in_pty(modes: list[str], env: dict[str, str]) -> dict[str, tuple[int, str]]:
    """Run ``tests/pty_app.py MODE`` for each mode at once, each in its own 100x30 pty."""
    return run_in_pty(Path(__file__).with_name("pty_app.py"), modes, env)


def test_the_real_terminal_gets_no_escape_from_data(
    tmp_path: Path, isolated_home: Path, tally: Tally
) -> None:
    import os

    from fault_support import sequence_kind, sequences, terminal_leaks

    env = dict(os.environ, TERM="xterm-256color", TEXTUAL_ANIMATIONS="none", COLUMNS="100", LINES="30")
    env.pop("NO_COLOR", None)
    results = _run_in_pty(["clean", "hostile"], env)
    clean_code, clean = results["clean"]
    hostile_code, hostile = results["hostile"]
    with tally.leg("check", "the real terminal", "pty"):
        # The baseline: what Textual itself writes over ordinary data (it does write OSC 22, the
        # pointer shape, and no other OSC).
        allowed = {sequence_kind(s) for s in sequences(clean)}
        assert {"CSI m", "CSI H"} <= allowed
        assert not any(kind.startswith("OSC") and kind != "OSC 22" for kind in allowed), allowed
        assert hostile_code == 0, hostile[-2000:]
        # The hostile session drew its texts (as control pictures) and wrote nothing more.
        assert "PWNED-TITLE" in hostile and "␛]0;PWNED-TITLE" in hostile
        check_no_leaks(terminal_leaks(hostile, allowed), "hostile session")
        own = re.sub(r"\x1b\]22;[a-z-]*\x07", "", hostile)  # Textual's pointer shape ends with BEL
        for raw in ("\x1b]0;", "\x1b]2;", "\x1b]52;", "\x1b]8;", "\x1bP", "\x1bc", "\x07", "\x9b", "\x9d"):
            if raw in own:
                raise EscapeLeak(f"{raw!r} reached the terminal")
        # Quitting gives the terminal back.
        tail = hostile[hostile.rindex("\x1b[?1049l") - 400 :]
        assert all(sequence in tail for sequence in RESTORE), repr(tail)
    with tally.leg("check", "crash safety net", "pty"):
        # A bug in an event handler: logged in the state dir, one line, terminal restored, exit 1.
        assert clean_code == 1, clean[-2000:]
        after = clean[clean.rindex("\x1b[?1049l") :]
        assert all(sequence in clean[clean.rindex("\x1b[?1049l") - 400 :] for sequence in RESTORE)
        message = re.sub(r"\s+", " ", after[len("\x1b[?1049l") :].replace("\x1b[?25h", ""))
        assert "botmon-tui stopped: Internal error (RuntimeError) while handling an event" in message
        assert "Traceback" not in clean
        logs = list((isolated_home / ".local" / "state").rglob("botmon-tui.log"))
        assert len(logs) == 1 and "RuntimeError: a bug in an event handler" in logs[0].read_text()
