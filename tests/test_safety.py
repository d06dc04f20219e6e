"""Secrets, TLS, read-only behaviour and hostile server answers, one bug at a time.

The fault matrix (test_fault_matrix.py) drives whole sessions; these are the focused regression
tests of what it found, against the demo server over real HTTP (or an httpx MockTransport where a
server could not be made to answer that way).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from demo_support import FIXED_NOW, demo_fixture, faults_cleared, quiet_demo, settings_for, use_environment
from fault_support import server_context
from textual_support import notifications
from ui_support import polled, running, settle, status

from botmon_tui.demo import DemoServer
from botmon_tui.medplum.auth import ConnectionSettings, Secret
from botmon_tui.medplum.client import MedplumClient
from botmon_tui.medplum.errors import AuthError, NetworkError
from botmon_tui.medplum.models import AuditEvent
from botmon_tui.medplum.watermark import EventCursor
from botmon_tui.textsafe import is_safe

demo = demo_fixture(seed=3, history_days=1)


@pytest.fixture(autouse=True)
def _no_leftover_faults(demo: DemoServer) -> Iterator[None]:
    yield from faults_cleared(demo)


# ------------------------------------------------------------------------------------------------
# Hostile answers
# ------------------------------------------------------------------------------------------------


async def test_a_date_header_at_the_end_of_time_does_not_break_later_polls(demo: DemoServer) -> None:
    """``Date: Fri, 31 Dec 9999 23:59:59 GMT`` once: the server clock plus a few seconds overflowed,
    every later poll raised OverflowError before sending anything, and the feed never recovered."""
    empty = json.dumps({"resourceType": "Bundle", "type": "searchset"})
    ticks = [100.0]
    async with MedplumClient(settings_for(demo), clock=lambda: ticks[0]) as client:
        cursor = EventCursor(scope={"type": "execute"})
        demo.faults.add(
            status=200,
            body=empty,
            headers=[("Date", "Fri, 31 Dec 9999 23:59:59 GMT")],
            path_contains="AuditEvent",
        )
        await client.events_since(cursor)
        ticks[0] += 10.0  # the next poll, ten seconds later
        await client.events_since(cursor)
        now = client.server_now()
        assert now is not None and now.year < 9000


async def test_raw_control_characters_in_json_strings_are_read_not_refused(demo: DemoServer) -> None:
    """One event whose text holds a raw ESC (invalid JSON, but sent by a buggy server or proxy)
    made every poll of that bot fail for good; it is read and sanitized on display instead."""
    event = {
        "resourceType": "AuditEvent",
        "id": "raw-controls",
        "meta": {"lastUpdated": "2025-03-14T12:00:00.000Z"},
        "outcomeDesc": "RAW",
    }
    body = json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": event}]})
    demo.faults.add(
        status=200, body=body.replace("RAW", "a\x1b]0;title\x07b\x00c"), path_contains="AuditEvent"
    )
    async with MedplumClient(settings_for(demo)) as client:
        page = await client.search("AuditEvent", [("_count", "1")], AuditEvent)
    assert page.resources[0].outcomeDesc == "a\x1b]0;title\x07b\x00c"


# ------------------------------------------------------------------------------------------------
# Secrets
# ------------------------------------------------------------------------------------------------


async def test_token_endpoint_errors_never_echo_the_secret(demo: DemoServer) -> None:
    """A token endpoint (or a proxy before it) that echoes the request in its error text."""
    echo = json.dumps({"error": "invalid_client", "error_description": f"bad secret {demo.client_secret}"})
    demo.faults.add(status=401, body=echo, content_type="application/json", path_contains="/oauth2/token")
    async with MedplumClient(settings_for(demo)) as client:
        with pytest.raises(AuthError) as info:
            await client.list_bots()
    assert demo.client_secret not in str(info.value)
    assert "bad secret ********" in str(info.value)


async def test_the_access_token_is_scrubbed_from_errors_and_listed_as_a_secret(demo: DemoServer) -> None:
    async with MedplumClient(settings_for(demo)) as client:
        await client.list_bots()
        token = client._token
        assert token and token in client.secrets() and demo.client_secret in client.secrets()
        outcome = {"resourceType": "OperationOutcome", "issue": [{"code": "x", "details": {"text": token}}]}
        demo.faults.add(status=500, body=json.dumps(outcome))
        with pytest.raises(Exception) as info:
            await client.list_bots()
    assert token not in str(info.value)


# ------------------------------------------------------------------------------------------------
# TLS: always verified; --ca-file adds a CA to the default ones, SSL_CERT_FILE replaces them
# ------------------------------------------------------------------------------------------------


async def test_tls_is_verified_and_ca_file_adds_to_the_default_cas(
    certs: dict[str, tuple[Path, Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    with quiet_demo(3, history_days=1, tls=server_context(certs["trusted"])) as srv:
        # A certificate no CA vouches for: refused, with a message that says so.
        async with MedplumClient(settings_for(srv)) as client:
            with pytest.raises(NetworkError, match=r"TLS error.*certificate verify failed"):
                await client.list_bots()
        # --ca-file: that CA is trusted, and the usual public CAs still are.
        trusted = str(certs["trusted"][0])
        async with MedplumClient(settings_for(srv, ca_file=trusted)) as client:
            assert (await client.list_bots()).resources
            context = client._http._transport._pool._ssl_context  # type: ignore[attr-defined]
            assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
            assert context.cert_store_stats()["x509_ca"] > 10
        # SSL_CERT_FILE (honoured by httpx) works too.
        monkeypatch.setenv("SSL_CERT_FILE", trusted)
        async with MedplumClient(settings_for(srv)) as client:
            assert (await client.list_bots()).resources


# ------------------------------------------------------------------------------------------------
# Robust parsing helpers
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"issue": 5},
        {"issue": [5, None, "x"]},
        {"issue": [{"diagnostics": '{"_msBeforeNext": 1e400}'}]},
        {"issue": [{"diagnostics": '{"_msBeforeNext": 1e15}'}]},
        {"issue": [{"diagnostics": "[1, 2]"}]},
    ],
)
def test_ms_before_next_takes_any_json(body: object) -> None:
    from botmon_tui.medplum.ratelimit import MAX_WAIT_SECONDS, ms_before_next

    wait = ms_before_next(body)
    assert wait is None or 0 <= wait <= MAX_WAIT_SECONDS


def test_ratelimit_header_waits_are_bounded() -> None:
    from botmon_tui.medplum.ratelimit import MAX_WAIT_SECONDS, parse_ratelimit

    info = parse_ratelimit('"requests";r=0;t=' + "9" * 400)
    assert info is not None and info.wait_seconds <= MAX_WAIT_SECONDS


def test_the_schedule_never_waits_longer_than_its_longest_backoff() -> None:
    from botmon_tui.medplum.errors import RateLimitedError
    from botmon_tui.monitor.schedule import PollSchedule

    schedule = PollSchedule(10.0, max_backoff=300.0, clock=lambda: 0.0)
    assert schedule.failure(RateLimitedError("slow down", retry_after=float("inf"))) == 300.0
    assert schedule.failure(RateLimitedError("slow down", retry_after=7.0)) == 7.0


@pytest.mark.parametrize(
    ("code", "body", "ctype"),
    [
        (502, b"<html>\x1b]0;t\x07</html>", "text/\x85html"),
        (500, b'{"resourceType":"OperationOutcome","issue":[{"details":{"text":"a\\nb\\u001b"}}]}', "x"),
        (429, b'{"issue": 7}', "application/json"),
    ],
    ids=["html-502", "outcome-500", "429"],
)
async def test_every_message_is_one_safe_line(code: int, body: bytes, ctype: str) -> None:
    from botmon_tui.medplum.errors import MedplumError

    headers = [(b"content-type", ctype.encode("latin-1"))]
    transport = httpx.MockTransport(lambda request: httpx.Response(code, content=body, headers=headers))
    settings = ConnectionSettings(base_url="https://medplum.test/", auth_method="none")
    async with MedplumClient(settings, transport=transport) as client:
        with pytest.raises(MedplumError) as info:
            await client.list_bots()
    assert "\n" not in str(info.value) and is_safe(str(info.value))


async def test_absurd_bodies_and_token_lifetimes_are_handled() -> None:
    """Deeply nested JSON raised RecursionError and an ``expires_in`` of 10**400 OverflowError:
    neither is a MedplumError, so each was an internal error instead of a clear message."""
    from botmon_tui.medplum.errors import BadResponseError

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth2/token"):
            return httpx.Response(200, content=b'{"access_token": "tok", "expires_in": 1' + b"0" * 400 + b"}")
        return httpx.Response(200, content=b"[" * 200_000, headers={"content-type": "application/fhir+json"})

    settings = ConnectionSettings(
        base_url="https://medplum.test/", client_id="id", client_secret=Secret("secret-value")
    )
    async with MedplumClient(settings, transport=httpx.MockTransport(answer)) as client:
        with pytest.raises(BadResponseError, match="not JSON"):
            await client.list_bots()


# ------------------------------------------------------------------------------------------------
# Crash logs: in the user's state dir, never holding a secret or the access token
# ------------------------------------------------------------------------------------------------


def _state_logs(home: Path) -> list[Path]:
    return list((home / ".local" / "state").rglob("botmon-tui.log"))


async def test_a_bug_in_a_tui_worker_is_logged_in_the_state_dir_without_secrets(
    demo: DemoServer, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(demo, isolated_home, crash_log=None) as (app, pilot):  # the default log
        token = app.sessions[0].client._token
        assert token

        async def broken() -> set[str]:
            raise RuntimeError(f"bug with {token} and {demo.client_secret}")

        monkeypatch.setattr(app.sessions[0].project, "poll", broken)
        app.poll_now()
        await polled(pilot)
        line = status(app)
        assert app.is_running
        assert "Internal error (RuntimeError)" in line and "\n" not in line.strip()
        assert token not in line and demo.client_secret not in line
    logs = _state_logs(isolated_home)
    assert len(logs) == 1 and str(logs[0]) in line
    text = logs[0].read_text()
    assert "Traceback" in text and "RuntimeError: bug with ********" in text
    assert token not in text and demo.client_secret not in text


def test_a_cli_bug_after_login_is_logged_without_the_access_token(
    demo: DemoServer, isolated_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from botmon_tui.cli import main

    seen: list[str] = []
    original = MedplumClient.list_bots

    async def buggy(self: MedplumClient, *args: object, **kwargs: object) -> object:
        await original(self, *args, **kwargs)  # type: ignore[arg-type]
        assert self._token
        seen.append(self._token)
        raise RuntimeError(f"bug near {self._token}")

    monkeypatch.setattr(MedplumClient, "list_bots", buggy)
    use_environment(monkeypatch, demo)
    code = main(["bots"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and seen[0] not in err
    text = _state_logs(isolated_home)[0].read_text()
    assert "RuntimeError: bug near ********" in text and seen[0] not in text


def test_help_shows_no_secret(capsys: pytest.CaptureFixture[str]) -> None:
    """--help examples use placeholders; nothing that looks like a secret or a token."""
    import re

    from botmon_tui.cli import main
    from botmon_tui.demo.config import DEFAULT_CLIENT_SECRET

    texts = []
    for command in ([], ["status"], ["bots"], ["events"], ["demo-server"]):
        argv = [*command, "--help"]
        assert main(argv) == 0
        texts.append(capsys.readouterr().out)
    text = "\n".join(texts)
    assert DEFAULT_CLIENT_SECRET not in text
    assert not re.search(r"[0-9a-f]{32,}|eyJ[A-Za-z0-9_-]{10,}", text)  # hex secrets, JWTs
    assert not re.search(r"(?i)(secret|token)[=:]\s*[A-Za-z0-9]{8,}", text)


# ------------------------------------------------------------------------------------------------
# The CLI and Medplum's 429
# ------------------------------------------------------------------------------------------------


def test_cli_waits_as_long_as_a_429_says_then_goes_on(
    demo: DemoServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It printed "waiting 1.5 s before the next request" and exited 3 without waiting."""
    import botmon_tui.cli as cli

    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    use_environment(monkeypatch, demo)
    bot_id = demo.store.bots[0]["id"]
    demo.faults.rate_limited(ms_before_next=1500, count=2, path_contains="AuditEvent")
    assert cli.main(["events", bot_id]) == 0
    captured = capsys.readouterr()
    assert waits == [1.5, 1.5]
    warnings = captured.err.strip().splitlines()
    assert len(warnings) == 2 and all("waiting 1.5 s" in w for w in warnings), captured.err
    assert captured.out.splitlines()[0].endswith("newest first")
    # A wait longer than a minute, or a fourth 429 in a row: fail with the server's words.
    demo.faults.rate_limited(ms_before_next=120_000, count=1, path_contains="AuditEvent")
    assert cli.main(["events", bot_id]) == 3
    assert "Rate limited" in capsys.readouterr().err
    demo.faults.rate_limited(ms_before_next=10, count=4, path_contains="Bot/")
    assert cli.main(["events", bot_id]) == 3
    assert waits[-3:] == [0.01, 0.01, 0.01]


# ------------------------------------------------------------------------------------------------
# Files holding secrets that others can read: a warning on every run (CLI and TUI start alike)
# ------------------------------------------------------------------------------------------------


def test_readable_secret_files_warn_on_the_command_line(
    demo: DemoServer, isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from botmon_tui.cli import main

    profiles = isolated_home / ".medplum"
    profiles.mkdir()
    options = {
        "authType": "client-credentials",
        "baseUrl": demo.base_url,
        "clientId": demo.client_id,
        "clientSecret": demo.client_secret,
    }
    profile = profiles / "loose.json"
    profile.write_text(json.dumps({"name": "loose", "options": json.dumps(options)}))
    profile.chmod(0o644)
    assert main(["bots", "--profile", "loose"]) == 0
    err = capsys.readouterr().err
    assert err.count("botmon-tui: warning: ") == 1 and "loose.json" in err and "chmod 600" in err
    assert demo.client_secret not in err
    profile.chmod(0o600)
    assert main(["bots", "--profile", "loose"]) == 0
    assert capsys.readouterr().err == ""
    # The config file names a secret file; that file is checked too.
    secret = isolated_home / "secret.txt"
    secret.write_text(demo.client_secret + "\n")
    secret.chmod(0o640)
    config = isolated_home / "config"
    config.mkdir()
    (config / "config.toml").write_text(
        f'base_url = "{demo.base_url}"\nclient_id = "{demo.client_id}"\nclient_secret_file = "{secret}"\n'
    )
    assert main(["bots"]) == 0
    err = capsys.readouterr().err
    assert "secret.txt" in err and "can be read by group/others" in err


# ------------------------------------------------------------------------------------------------
# Read-only: a whole session sends nothing but GETs and token requests
# ------------------------------------------------------------------------------------------------


async def _tour_the_tui(demo: DemoServer, tmp_path: Path, bot_id: str) -> None:
    from botmon_tui.ui.screens.events import EventScreen
    from botmon_tui.ui.widgets.bot_table import BotTable

    async with running(demo, tmp_path, size=(120, 40)) as (app, pilot):
        assert app.screen.query_one(BotTable).select_id(bot_id)
        # Every key of the bot list, then the Event tab: sort, filter, times, older, refresh,
        # pause, help, the command palette, back.
        for keys in (["2", "3", "r", "p", "p"], ["slash", "h", "l", "enter", "escape"], ["enter"]):
            await pilot.press(*keys)
            await settle(pilot)
        assert isinstance(app.screen, EventScreen)
        for keys in (["1", "4", "t", "t", "o", "end", "r", "tab", "tab"], ["slash", "x", "enter", "escape"]):
            await pilot.press(*keys)
            await settle(pilot)
        await pilot.press("question_mark")
        await pilot.press("escape", "ctrl+p")
        await pilot.pause()
        await pilot.press("escape", "escape")
        await settle(pilot)


def test_a_tui_and_cli_session_only_reads(
    demo: DemoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    busiest = max(demo.store.bots, key=lambda bot: len(demo.store.events_for(bot["id"])))
    mark = len(demo.requests)
    asyncio.run(_tour_the_tui(demo, tmp_path, busiest["id"]))
    from botmon_tui.cli import main

    use_environment(monkeypatch, demo)
    for argv in (
        ["bots"],
        ["bots", "--json"],
        ["events", busiest["id"], "--limit", "150"],
        ["events", busiest["id"], "--json", "--failures", "--since", "2d"],
    ):
        assert main(argv) == 0
    capsys.readouterr()
    sent = demo.requests[mark:]
    assert len(sent) > 15
    methods = {(method, path.split("?")[0] if method == "POST" else "GET") for method, path, *_ in sent}
    assert methods == {("GET", "GET"), ("POST", "/oauth2/token")}, methods


# ------------------------------------------------------------------------------------------------
# Clear words for failures the fault matrix met
# ------------------------------------------------------------------------------------------------


async def test_connection_refused_says_so(demo: DemoServer) -> None:
    """httpx reports "All connection attempts failed"; the refusal is in its causes."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with MedplumClient(settings_for(demo, base_url=f"http://127.0.0.1:{port}/")) as client:
        with pytest.raises(NetworkError, match=rf"^Connection refused by 127\.0\.0\.1:{port}$"):
            await client.list_bots()


async def test_a_failed_name_lookup_says_dns(demo: DemoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def no_such_name(host: object, *args: object, **kwargs: object) -> object:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    settings = settings_for(demo, base_url="https://medplum.example.test/")
    async with MedplumClient(settings) as client:
        with pytest.raises(NetworkError, match=r"Cannot resolve medplum\.example\.test \(DNS\): Temporary"):
            await client.list_bots()


async def test_unreadable_entries_of_a_poll_are_counted(demo: DemoServer) -> None:
    """A poll's page with broken entries showed the good ones and said nothing of the rest."""
    from botmon_tui.monitor.feed import EventFeed

    bot_id = demo.store.bots[0]["id"]
    async with MedplumClient(settings_for(demo)) as client:
        feed = EventFeed(client, bot_id)
        await feed.load_initial()
        assert feed.invalid == 0
        event = demo.store.add_event(bot_id, desc="good", at=FIXED_NOW)
        broken = [{"resource": {"resourceType": "AuditEvent"}}, {"resource": "nonsense"}]
        body = json.dumps({"resourceType": "Bundle", "entry": [{"resource": event}, *broken]})
        demo.faults.add(status=200, body=body, path_contains="AuditEvent")
        delta = await feed.poll()
        assert [e.id for e in delta.added] == [event["id"]] and feed.invalid == 2
        await feed.poll()
        assert feed.invalid == 2


async def test_a_bot_read_that_is_not_a_bot_says_what_it_was(demo: DemoServer) -> None:
    from botmon_tui.medplum.errors import BadResponseError

    demo.faults.add(status=200, body=json.dumps({"resourceType": "Patient", "id": "x"}), path_contains="Bot/")
    async with MedplumClient(settings_for(demo)) as client:
        with pytest.raises(BadResponseError, match="Expected a Bot resource, got Patient"):
            await client.get_bot(demo.store.bots[0]["id"])


def test_cli_names_a_bot_that_is_gone(
    demo: DemoServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from botmon_tui.cli import main

    use_environment(monkeypatch, demo)
    gone = "0a1b2c3d-0000-4000-8000-000000000000"
    assert main(["events", gone]) == 2
    err = capsys.readouterr().err
    assert f"no bot is named {gone!r} or has that id (or these credentials cannot read it)" in err
    assert "404" not in err


# ------------------------------------------------------------------------------------------------
# The UI: huge one-line fields, a bot deleted while its Event tab is open
# ------------------------------------------------------------------------------------------------


def test_one_line_fields_are_bounded() -> None:
    """A 1 MB bot name was measured and wrapped on every repaint: seconds of frozen UI."""
    from botmon_tui.medplum.models import outcome_info
    from botmon_tui.textsafe import MAX_FIELD_CHARS, clip
    from botmon_tui.ui.formatting import outcome_text, theme_palette, theme_variables

    assert clip("a\x1b]0;t\x07") == "a␛]0;t␇"
    huge = clip("\x1b" + "x" * 1_000_000)
    assert len(huge) == MAX_FIELD_CHARS + 1 and huge.startswith("␛x") and huge.endswith("…")
    palette = theme_palette(theme_variables("textual-dark"))
    assert len(outcome_text(outcome_info("9" * 1_000_000), palette).plain) < 2 * MAX_FIELD_CHARS + 10


async def test_a_bot_deleted_while_its_event_tab_is_open(demo: DemoServer, tmp_path: Path) -> None:
    """The Event tab never read the Bot again, so a deletion went unnoticed. Now ``r`` (and every
    five minutes) reads it: the status says it is gone, the runs stay on screen, and it recovers."""
    from botmon_tui.ui.widgets.event_table import EventTable

    bot = demo.store.add_bot({"resourceType": "Bot", "name": "short-lived"})
    for minute in (3, 2, 1):
        demo.store.add_event(bot["id"], desc=f"run {minute}", at=FIXED_NOW.replace(minute=minute))
    async with running(demo, tmp_path, size=(100, 30), bot_id=bot["id"]) as (app, pilot):

        async def refresh() -> str:
            await pilot.press("r")
            await polled(pilot)
            return status(app)

        table = app.screen.query_one(EventTable)
        assert table.row_count == 3
        saved = demo.store.bot(bot["id"])
        assert saved is not None
        demo.store.delete_bot(bot["id"])
        line = await refresh()
        assert line.startswith("✗") and "Not found (HTTP 404)" in line and "deleted" in line, line
        assert "showing data from" in line and table.row_count == 3 and table.display
        heading = app.screen.query_one("#heading").content.plain  # type: ignore[attr-defined]
        assert "short-lived  not found (deleted?)" in heading
        demo.store.add_bot(saved)
        line = await refresh()
        assert line.startswith("● live") and "recovered" in line, line
        assert "not found" not in app.screen.query_one("#heading").content.plain  # type: ignore[attr-defined]


def test_invisible_characters_are_made_visible() -> None:
    """A bot name holding U+FEFF / U+2060 shifted its row by one column in tmux (Rich counts them
    as zero wide, the terminal did not), and two names can look the same with one of them inside."""
    from botmon_tui.textsafe import is_safe, sanitize

    name = "bill\u200bing a\u200db\ufeffc\u2060d \u3164 \U000e0041\U000e0042"
    shown = sanitize(name)
    assert shown == "bill\ufffding a\ufffdb\ufffdc\ufffdd \ufffd \ufffd\ufffd"
    assert not is_safe(name) and is_safe(shown)
    # Emoji with variation selectors and combining marks are left alone.
    assert sanitize("\u2764\ufe0f Z\u0335a") == "\u2764\ufe0f Z\u0335a"


def test_the_tui_shows_the_warnings_printed_before_it_took_the_screen(
    demo: DemoServer, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A secret file others can read was warned about on stderr, under the TUI's screen."""
    import botmon_tui.ui.app as ui_app
    from botmon_tui.cli import main

    shown: list[list[str]] = []

    def run_headless(self: ui_app.BotmonApp) -> None:
        async def check() -> None:
            async with self.run_test(size=(100, 30)) as pilot:
                await pilot.pause()
                shown.append([str(n.message) for n in notifications(self)])

        asyncio.run(check())

    monkeypatch.setattr(ui_app.BotmonApp, "run", run_headless)
    # (pytest's stdin and stdout are not terminals: the TUI would say so and exit 2.)
    monkeypatch.setattr(importlib.import_module("botmon_tui.cli.main"), "_terminal_problem", lambda: None)
    secret = isolated_home / "secret.txt"
    secret.write_text(demo.client_secret)
    secret.chmod(0o644)
    argv = ["--base-url", demo.base_url, "--client-id", demo.client_id, "--client-secret-file", str(secret)]
    assert main(argv) == 0
    assert len(shown) == 1 and any("can be read by group/others" in m for m in shown[0]), shown
    assert not any(demo.client_secret in m for m in shown[0])


@pytest.mark.parametrize("auth", ["client-credentials", "basic"])
async def test_an_echoed_authorization_header_is_scrubbed(demo: DemoServer, auth: str) -> None:
    """A server that puts the request's Authorization header in its error text: the bearer token,
    or HTTP Basic's base64 of id:secret (which decodes to the secret)."""
    from botmon_tui.medplum.errors import ServerError

    outcome = {"resourceType": "OperationOutcome", "issue": [{"details": {"text": "got {authorization}"}}]}
    async with MedplumClient(settings_for(demo, auth_method=auth)) as client:
        await client.list_bots()
        demo.faults.add(status=500, body=json.dumps(outcome), path_contains="/fhir/")
        with pytest.raises(ServerError) as info:
            await client.list_bots()
        kind = "Bearer" if auth != "basic" else "Basic"
        assert str(info.value).endswith(f"got {kind} ********")
        for secret in client.secrets():
            assert secret not in str(info.value)
