"""The ``botmon-tui`` command line: main([...]) in process, and one real subprocess."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from demo_support import FIXED_NOW, demo_fixture
from rich.cells import cell_len

from botmon_tui import __version__, cli
from botmon_tui.cli import main, parse_duration
from botmon_tui.config import ENVIRONMENT_VARIABLES
from botmon_tui.demo import DemoConfig, DemoServer
from botmon_tui.medplum.auth import ConnectionSettings
from botmon_tui.medplum.models import parse_instant

REPO = Path(__file__).resolve().parents[1]
HOSTILE = "\x1b]52;c;ZXZpbA==\x07\x1b[2J[@click=app.quit]pwned[/] \x9b31m done"


server = demo_fixture(seed=5, history_days=2)


@pytest.fixture
def connect(server: DemoServer, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The environment points at ``server`` (a secret from the environment goes only to a server named
    there too); the arguments to add are none."""
    monkeypatch.setenv("MEDPLUM_BASE_URL", server.base_url)
    monkeypatch.setenv("MEDPLUM_CLIENT_ID", server.client_id)
    monkeypatch.setenv("MEDPLUM_CLIENT_SECRET", server.client_secret)
    return []


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("botmon-tui: error: ")
    assert "Traceback" not in err
    return lines[0]


# ------------------------------------------------------------------------------------------------
# Help and version
# ------------------------------------------------------------------------------------------------


def test_help_documents_options_and_environment(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for option in (
        "--demo",
        "--base-url",
        "--profile",
        "--interval",
        "--bot",
        "--client-id",
        "--client-secret-file",
    ):
        assert option in out
    for option in (
        "--fhir-url-path",
        "--token-url",
        "--ca-file",
        "--insecure-http",
        "--timeout",
        "--version",
    ):
        assert option in out
    for name, _ in ENVIRONMENT_VARIABLES:
        assert name in out
    for command in ("bots", "events", "demo-server"):
        assert command in out


@pytest.mark.parametrize("command", ["bots", "events", "demo-server"])
def test_each_command_has_help(capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    assert f"botmon-tui {command}" in out
    if command != "demo-server":
        assert "--demo" in out and "--base-url" in out and "--json" in out


def test_help_in_a_real_process() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDPLUM_")}
    result = subprocess.run(
        [sys.executable, "-m", "botmon_tui", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        cwd=REPO,
    )
    assert result.returncode == 0
    assert "--demo" in result.stdout and "MEDPLUM_BASE_URL" in result.stdout
    assert result.stderr == ""


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"botmon-tui {__version__}"


# ------------------------------------------------------------------------------------------------
# bots and events against --demo
# ------------------------------------------------------------------------------------------------


def test_bots_demo_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "bots", "--demo", "--json")
    assert code == 0, err
    bots = json.loads(out)
    assert isinstance(bots, list) and len(bots) >= 5
    assert all(b["resourceType"] == "Bot" and b["id"] for b in bots)
    assert len({b["id"] for b in bots}) == len(bots)
    assert out.isascii()


def test_events_demo_json_newest_first(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "bots", "--demo", "--json")
    bot_ids = [b["id"] for b in json.loads(out)]
    # The same seed gives the same bots; find one with plenty of history.
    for bot_id in bot_ids:
        code, out, err = run(capsys, "events", bot_id, "--demo", "--json", "--limit", "50")
        assert code == 0, err
        events = json.loads(out)
        if len(events) == 50:
            break
    else:
        pytest.fail("no demo bot has 50 events")
    assert all(e["resourceType"] == "AuditEvent" for e in events)
    stamps = [e["meta"]["lastUpdated"] for e in events]
    assert stamps == sorted(stamps, reverse=True)
    assert len({e["id"] for e in events}) == 50


def test_options_before_the_command_apply_too(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--demo", "bots", "--json")
    assert code == 0, err
    assert json.loads(out)


# ------------------------------------------------------------------------------------------------
# events: filters and the table, against a quiet server
# ------------------------------------------------------------------------------------------------


def busiest(server: DemoServer) -> dict[str, Any]:
    return max(server.store.bots, key=lambda b: len(server.store.events_for(b["id"])))


def test_events_limit_follows_pages(
    capsys: pytest.CaptureFixture[str], server: DemoServer, connect: list[str]
) -> None:
    bot = busiest(server)
    expected = [e["id"] for e in server.store.events_for(bot["id"])]
    assert len(expected) > 30
    code, out, err = run(capsys, "events", bot["id"], *connect, "--json", "--limit", str(len(expected) + 10))
    assert code == 0, err
    assert [e["id"] for e in json.loads(out)] == expected
    code, out, _ = run(capsys, "events", bot["id"], *connect, "--json", "--limit", "7")
    assert [e["id"] for e in json.loads(out)] == expected[:7]


def test_events_failures(capsys: pytest.CaptureFixture[str], server: DemoServer, connect: list[str]) -> None:
    bot = server.store.add_bot({"resourceType": "Bot", "name": "flaky"})
    for index, outcome in enumerate(["0", "4", "8", "0", "12"]):
        server.store.add_event(bot["id"], outcome=outcome, at=FIXED_NOW - timedelta(minutes=10 - index))
    code, out, err = run(capsys, "events", bot["id"], *connect, "--json", "--failures")
    assert code == 0, err
    assert [e["outcome"] for e in json.loads(out)] == ["12", "8", "4"]


def test_events_since(capsys: pytest.CaptureFixture[str], server: DemoServer, connect: list[str]) -> None:
    bot = server.store.add_bot({"resourceType": "Bot", "name": "recent"})
    now = datetime.now(UTC)
    for minutes in (5, 50, 70, 600):
        server.store.add_event(bot["id"], desc=f"{minutes} min ago", at=now - timedelta(minutes=minutes))
    code, out, err = run(capsys, "events", bot["id"], *connect, "--json", "--since", "1h")
    assert code == 0, err
    assert [e["outcomeDesc"] for e in json.loads(out)] == ["5 min ago", "50 min ago"]
    code, out, _ = run(capsys, "events", bot["id"], *connect, "--json", "--since", "2d")
    assert len(json.loads(out)) == 4


def test_events_table_is_readable_and_sanitized(
    capsys: pytest.CaptureFixture[str], server: DemoServer, connect: list[str]
) -> None:
    bot = server.store.add_bot({"resourceType": "Bot", "name": "evil\x1b]0;t\x07bot"})
    at = datetime.now(UTC) - timedelta(minutes=3)
    server.store.add_event(bot["id"], outcome="4", desc=f"{HOSTILE}\nsecond line", at=at, duration_ms=1500)
    server.store.add_event(bot["id"], outcome="99", desc="", at=at - timedelta(minutes=1))
    code, out, err = run(capsys, "events", bot["id"], *connect)
    assert code == 0, err
    assert "\x1b" not in out and "\x9b" not in out and "\x07" not in out
    lines = out.splitlines()
    assert "evil␛]0;t␇bot" in lines[0]
    assert lines[1].split() == [
        "ID",
        "OUTCOME",
        "LAST",
        "UPDATED",
        "(UTC)",
        "DURATION",
        "OUTCOME",
        "DESC",
        "(first",
        "line)",
    ]
    assert "▲ Minor failure (4)" in lines[2]
    assert "(3m ago)" in lines[2] and "1.5 s" in lines[2]
    assert "[@click=app.quit]pwned[/]" in lines[2]  # shown literally, nothing parses it
    assert "second line" not in out
    assert "? unknown (99)" in lines[3]


def test_bots_table(capsys: pytest.CaptureFixture[str], server: DemoServer, connect: list[str]) -> None:
    server.store.add_bot({"resourceType": "Bot", "name": "logs-only", "auditEventDestination": ["log"]})
    code, out, err = run(capsys, "bots", *connect)
    assert code == 0, err
    header, *rows, summary = out.splitlines()
    assert header.split()[:4] == ["NAME", "ID", "RUNTIME", "SCHEDULE"]
    assert len(rows) == len(server.store.bots)
    silent = [row for row in rows if row.startswith("logs-only")]
    assert silent and "log / always" in silent[0] and "⚠" in silent[0]
    assert summary.startswith(f"{len(rows)} bots")


def test_unknown_bot_is_exit_3(capsys: pytest.CaptureFixture[str], connect: list[str]) -> None:
    code, _, err = run(capsys, "events", "00000000-0000-4000-8000-000000000000", *connect)
    assert code == 3
    assert "Not found" in one_error_line(err)


# ------------------------------------------------------------------------------------------------
# Errors: one line, the right exit code, never a secret
# ------------------------------------------------------------------------------------------------


def test_wrong_secret(
    capsys: pytest.CaptureFixture[str], server: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "f" * 64
    monkeypatch.setenv("MEDPLUM_BASE_URL", server.base_url)
    monkeypatch.setenv("MEDPLUM_CLIENT_ID", server.client_id)
    monkeypatch.setenv("MEDPLUM_CLIENT_SECRET", wrong)
    code, out, err = run(capsys, "bots")
    assert code == 3
    line = one_error_line(err)
    assert "credentials from" in line
    assert wrong not in out + err and server.client_secret not in out + err


def test_wrong_secret_from_a_file(
    capsys: pytest.CaptureFixture[str], server: DemoServer, tmp_path: Path
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("e" * 64 + "\n")
    secret_file.chmod(0o600)
    code, out, err = run(
        capsys,
        "bots",
        "--base-url",
        server.base_url,
        "--client-id",
        server.client_id,
        "--client-secret-file",
        str(secret_file),
    )
    assert code == 3
    one_error_line(err)
    assert "e" * 64 not in out + err


def test_unreachable_server(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("MEDPLUM_BASE_URL", f"http://127.0.0.1:{port}/")
    monkeypatch.setenv("MEDPLUM_CLIENT_ID", "id")
    monkeypatch.setenv("MEDPLUM_CLIENT_SECRET", "not-used-secret")
    code, out, err = run(capsys, "bots")
    assert code == 3
    assert f"127.0.0.1:{port}" in one_error_line(err)
    assert out == "" and "not-used-secret" not in err


@pytest.mark.parametrize("value", ["1x", "1.5h", "-1h", "0m", "h", "1 h 2m", "99999999d"])
def test_bad_since(capsys: pytest.CaptureFixture[str], value: str) -> None:
    code, _, err = run(capsys, "events", "abc", "--demo", f"--since={value}")
    assert code == 2
    assert "--since" in one_error_line(err)


@pytest.mark.parametrize(
    ("text", "seconds"), [("45s", 45), ("30m", 1800), ("1h", 3600), ("2d", 172800), ("1H", 3600)]
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


def test_plain_http_to_a_remote_host_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDPLUM_CLIENT_ID", "id")
    monkeypatch.setenv("MEDPLUM_CLIENT_SECRET", "s3cret-value")
    code, _, err = run(capsys, "bots", "--base-url", "http://example.com/")
    assert code == 2
    line = one_error_line(err)
    assert "http://" in line and "--insecure-http" in line and "s3cret-value" not in line


@pytest.mark.parametrize(
    "argv",
    [
        ["bots", "--client-secret", "hunter2hunter2"],
        ["bots", "--client-secret=hunter2hunter2"],
        ["events", "x", "--access-token", "hunter2hunter2"],
    ],
)
def test_a_secret_as_a_flag_value_is_refused_and_not_echoed(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert "--client-secret-file" in one_error_line(err)
    assert "hunter2" not in out + err


@pytest.mark.parametrize(
    "argv",
    [
        ["events"],
        ["events", "not/an/id"],
        ["events", "abc", "--limit", "0"],
        ["--interval", "soon"],
        ["--bot", "a b"],
        ["bots", "--demo", "--base-url", "https://x.example/"],
        ["--no-such-option"],
        ["bots", "--timeout", "-3"],
        ["--interval", "0.1", "--demo"],
    ],
)
def test_usage_errors_are_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2, err
    one_error_line(err)
    assert out == ""


def test_no_credentials_is_a_config_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "bots")
    assert code == 2
    assert "no credentials" in one_error_line(err)


def test_unexpected_errors_are_logged_not_shown(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    def explode(*args: Any) -> int:
        raise RuntimeError(f"bug near {os.environ['MEDPLUM_CLIENT_SECRET']}")

    monkeypatch.setattr(cli, "_cmd_bots", explode)
    monkeypatch.setenv("MEDPLUM_CLIENT_ID", "id")
    monkeypatch.setenv("MEDPLUM_CLIENT_SECRET", "very-secret-value")
    code, _, err = run(capsys, "bots")
    assert code == 1
    line = one_error_line(err)
    assert "RuntimeError" in line and "very-secret-value" not in line
    logs = list(isolated_home.rglob("botmon-tui.log"))
    assert len(logs) == 1 and str(logs[0]) in line
    text = logs[0].read_text()
    assert "Traceback" in text and "explode" in text
    assert "very-secret-value" not in text


def test_interrupt_exits_130_quietly(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: Any) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_cmd_bots", interrupted)
    code, out, err = run(capsys, "bots", "--demo")
    assert (code, out, err) == (130, "", "")


# ------------------------------------------------------------------------------------------------
# The TUI entry
# ------------------------------------------------------------------------------------------------


def test_tui_gets_settings_interval_bot_and_demo(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import botmon_tui.ui.app as app

    calls: list[dict[str, Any]] = []

    def fake_run_tui(
        settings: ConnectionSettings,
        *,
        interval: float,
        bot_id: str | None,
        demo: object | None = None,
        **options: Any,
    ) -> int:
        calls.append({"settings": settings, "interval": interval, "bot_id": bot_id, "demo": demo, **options})
        return 0

    monkeypatch.setattr(app, "run_tui", fake_run_tui)
    code, _, err = run(capsys, "--demo", "--interval", "2.5", "--bot", "abc-123")
    assert code == 0, err
    (call,) = calls
    assert call["interval"] == 2.5 and call["bot_id"] == "abc-123" and call["bell"] is True
    assert isinstance(call["demo"], DemoServer)
    assert call["settings"].base_url == call["demo"].base_url and call["settings"].source == "demo"
    # --no-bell reaches the TUI.
    assert run(capsys, "--demo", "--no-bell")[0] == 0
    assert calls[-1]["bell"] is False


def test_tui_theme_from_the_config_file_or_textual_theme_and_a_chosen_one_is_saved(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    import botmon_tui.ui.app as app

    calls: list[dict[str, Any]] = []

    def fake_run_tui(settings: ConnectionSettings, **options: Any) -> int:
        calls.append(options)
        return 0

    monkeypatch.setattr(app, "run_tui", fake_run_tui)
    config = isolated_home / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('# mine\ninterval = 5\ntheme = "nord"\n')
    config.chmod(0o640)
    assert run(capsys, "--demo")[0] == 0
    assert calls[-1]["theme"] == "nord" and calls[-1]["interval"] == 5.0
    monkeypatch.setenv("TEXTUAL_THEME", "dracula")
    assert run(capsys, "--demo")[0] == 0
    assert calls[-1]["theme"] == "dracula"
    # A theme chosen in the command palette replaces the theme line; the rest stays as it was.
    calls[-1]["remember_theme"]("gruvbox")
    assert config.read_text() == '# mine\ninterval = 5\ntheme = "gruvbox"\n'
    assert config.stat().st_mode & 0o777 == 0o640
    # A new config file is created, readable by its owner only.
    config.unlink()
    assert calls[-1]["remember_theme"]("monokai") == config
    assert config.read_text() == 'theme = "monokai"\n' and config.stat().st_mode & 0o777 == 0o600


def test_tui_interval_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, server: DemoServer
) -> None:
    import botmon_tui.ui.app as app

    seen: list[float] = []
    monkeypatch.setattr(
        app,
        "run_tui",
        lambda settings, *, interval, bot_id, demo=None, **options: seen.append(interval) or 0,  # type: ignore[func-returns-value]
    )
    monkeypatch.setenv("BOTMON_INTERVAL", "42")
    monkeypatch.setenv("MEDPLUM_BASE_URL", server.base_url)
    monkeypatch.setenv("MEDPLUM_CLIENT_ID", server.client_id)
    monkeypatch.setenv("MEDPLUM_CLIENT_SECRET", server.client_secret)
    assert run(capsys)[0] == 0
    assert seen == [42.0]


def test_stamps_in_the_table_are_utc(
    capsys: pytest.CaptureFixture[str], server: DemoServer, connect: list[str]
) -> None:
    bot = server.store.add_bot({"resourceType": "Bot", "name": "stamp"})
    server.store.add_event(bot["id"], at=datetime(2025, 3, 14, 9, 26, 54, 120000, tzinfo=UTC))
    _, out, _ = run(capsys, "events", bot["id"], *connect)
    assert "2025-03-14T09:26:54.120Z" in out
    assert parse_instant("2025-03-14T09:26:54.120Z") is not None


# ------------------------------------------------------------------------------------------------
# Where settings come from, through the command line
# ------------------------------------------------------------------------------------------------


def test_profile_from_the_medplum_cli(
    capsys: pytest.CaptureFixture[str], server: DemoServer, isolated_home: Path
) -> None:
    options = {
        "authType": "client-credentials",
        "baseUrl": server.base_url,
        "clientId": server.client_id,
        "clientSecret": server.client_secret,
    }
    path = isolated_home / ".medplum" / "demo.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"name": "demo", "options": json.dumps(options)}))
    path.chmod(0o644)
    code, out, err = run(capsys, "bots", "--profile", "demo", "--json")
    assert code == 0, err
    assert len(json.loads(out)) == len(server.store.bots)
    # The profile holds a secret and others can read it: one warning line, not the secret.
    (warning,) = err.strip().splitlines()
    assert warning.startswith("botmon-tui: warning: ") and "chmod 600" in warning
    assert server.client_secret not in err


def test_secret_from_stdin(
    capsys: pytest.CaptureFixture[str], server: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(server.client_secret + "\n"))
    code, out, err = run(
        capsys,
        "bots",
        "--json",
        "--base-url",
        server.base_url,
        "--client-id",
        server.client_id,
        "--client-secret-file",
        "-",
    )
    assert code == 0, err
    assert json.loads(out)


def test_demo_server_command(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import botmon_tui.demo as demo

    calls: list[tuple[Any, DemoConfig]] = []

    def fake_serve_forever(port: int | None, cfg: DemoConfig, *, out: Any = None) -> None:
        calls.append((port, cfg))
        print("serving", file=out)

    monkeypatch.setattr(demo, "serve_forever", fake_serve_forever)
    code, out, _ = run(capsys, "demo-server", "--port", "8765", "--seed", "3")
    assert code == 0 and out == "serving\n"
    ((port, cfg),) = calls
    assert port == 8765 and cfg.seed == 3 and cfg.live


def test_demo_server_runs_until_interrupted() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDPLUM_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "botmon_tui", "demo-server", "--seed", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(5)]
        assert any("http://127.0.0.1:" in line for line in lines), lines
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert "Traceback" not in err


def test_colour_only_on_a_terminal_without_no_color() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert cli._wants_colour(Tty(), {})
    assert not cli._wants_colour(Tty(), {"NO_COLOR": "1"})
    assert not cli._wants_colour(Tty(), {"TERM": "dumb"})
    assert not cli._wants_colour(io.StringIO(), {})


def test_without_the_tui_module_the_command_says_so(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "botmon_tui.ui.app", None)  # import fails as if it were absent
    code, _, err = run(capsys, "--demo")
    assert code == 0
    assert "the TUI is not built yet" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["bots", "--bogus", "hunter2hunter2"], ["bots", "hunter2hunter2"]])
def test_stray_values_are_not_echoed(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert "unrecognized arguments" in one_error_line(err)
    assert "hunter2" not in out + err


def test_render_table_keeps_columns_aligned() -> None:
    lines = cli.render_table(["A", "B", "C"], [["x\ty", "宽字", "tail " * 10], ["1", "2", "3"]], width=30)
    assert lines[1].startswith("x y  宽字  tail")
    assert lines[2].startswith("1    2     3")
    assert max(cell_len(line) for line in lines) <= 30
