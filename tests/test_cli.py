"""The ``botmon-tui`` command line as a whole: help, exit statuses, errors, settings, the TUI entry.

Each command has its own file too: test_cli_status.py (``status``, ``bots``), test_cli_events.py
(``events``, ``--follow``, CSV) and test_cli_output.py (tables that fit, pipes, start-up cost).
"""

from __future__ import annotations

import asyncio
import importlib
import io
import json
import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import fields
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_support import REPO, botmon, flags_for, interrupted, one_error_line, process_env, run
from demo_support import demo_fixture

import botmon_tui.cli.bots
from botmon_tui import __version__
from botmon_tui.cli import parse_duration
from botmon_tui.demo import DemoConfig, DemoServer
from botmon_tui.monitor.session import Connection
from botmon_tui.settings import ENVIRONMENT_VARIABLES
from botmon_tui.ui.app import AppOptions

#: A quiet demo server (no live runs; its history ends at FIXED_NOW, long ago).
demo = demo_fixture(seed=5, history_days=2)


@pytest.fixture
def connect(demo: DemoServer, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return flags_for(demo, monkeypatch)


# ------------------------------------------------------------------------------------------------
# Help and version
# ------------------------------------------------------------------------------------------------


def test_help_documents_options_and_environment(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for option in ("--demo", "--base-url", "--profile", "--interval", "--bot", "--client-id", "--no-bell"):
        assert option in out
    for option in ("--client-secret-file", "--fhir-url-path", "--token-url", "--ca-file", "--timeout"):
        assert option in out
    assert "--insecure-http" in out and "--version" in out
    for name, _ in ENVIRONMENT_VARIABLES:
        assert name in out
    for command in ("status", "bots", "events", "demo-server"):
        assert command in out
    assert "exit status: 0 ok, 1 a bot failed (status) or an internal error" in " ".join(out.split())
    assert "default 10;" in out  # the interval's default, from the settings table
    # The precedence with .env in it, and several connections: -p repeats, watch, [[connection]].
    words = " ".join(out.split())
    assert "flags > [[connection]] table > Medplum CLI profile > environment > ./.env > config file" in words
    assert "repeat for several" in words and "botmon-tui -p prod -p staging" in words
    assert 'watch = ["prod", "staging"]' in words and "[[connection]] tables (one per connection):" in words
    assert "[keymap]" in words


@pytest.mark.parametrize("command", ["status", "bots", "events", "demo-server"])
def test_each_command_has_help(capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    assert f"botmon-tui {command}" in out
    if command != "demo-server":
        assert "--demo" in out and "--base-url" in out and "--json" in out and "--csv" in out


def test_status_help_says_what_failed_in_the_window_means(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "status", "--help")
    text = " ".join(out.split())
    assert "outcome 4, 8 or 12" in text and "meta.lastUpdated" in text and "server's clock" in text
    assert "A bot that failed and then ran fine still counts" in text
    assert "[ $? -eq 1 ] && echo" in out  # the cron example


def test_help_in_a_real_process() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "botmon_tui", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        env=process_env(),
        cwd=REPO,
    )
    assert result.returncode == 0
    assert "--demo" in result.stdout and "MEDPLUM_BASE_URL" in result.stdout
    assert result.stderr == ""


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"botmon-tui {__version__}"


@pytest.mark.parametrize(
    ("text", "seconds"), [("45s", 45), ("30m", 1800), ("1h", 3600), ("2d", 172800), ("1H", 3600)]
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


# ------------------------------------------------------------------------------------------------
# --demo
# ------------------------------------------------------------------------------------------------


def test_bots_demo_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "bots", "--demo", "--json")
    assert code == 0, err
    bots = json.loads(out)
    assert isinstance(bots, list) and len(bots) >= 5
    assert all(b["resourceType"] == "Bot" and b["id"] for b in bots)
    assert len({b["id"] for b in bots}) == len(bots)
    assert out.isascii()


def test_options_before_the_command_apply_too(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--demo", "bots", "--json")
    assert code == 0, err
    assert json.loads(out)


# ------------------------------------------------------------------------------------------------
# Errors: one line, the right exit status, never a secret
# ------------------------------------------------------------------------------------------------


def test_wrong_secret_is_exit_3(
    capsys: pytest.CaptureFixture[str], demo: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "f" * 64
    flags_for(demo, monkeypatch)
    monkeypatch.setenv("MEDPLUM_CLIENT_SECRET", wrong)
    for command in ("bots", "status"):
        code, out, err = run(capsys, command)
        assert code == 3
        line = one_error_line(err)
        assert "credentials from" in line
        assert wrong not in out + err and demo.client_secret not in out + err


def test_wrong_secret_from_a_file(
    capsys: pytest.CaptureFixture[str], demo: DemoServer, tmp_path: Path
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("e" * 64 + "\n")
    secret_file.chmod(0o600)
    flags = ["--base-url", demo.base_url, "--client-id", demo.client_id]
    code, out, err = run(capsys, "bots", *flags, "--client-secret-file", str(secret_file))
    assert code == 3
    one_error_line(err)
    assert "e" * 64 not in out + err


def test_unreachable_server_is_exit_3(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("MEDPLUM_BASE_URL", f"http://127.0.0.1:{port}/")
    monkeypatch.setenv("MEDPLUM_CLIENT_ID", "id")
    monkeypatch.setenv("MEDPLUM_CLIENT_SECRET", "not-used-secret")
    for command in (["bots"], ["status"], ["events", "x"]):
        code, out, err = run(capsys, *command)
        assert code == 3
        assert f"127.0.0.1:{port}" in one_error_line(err)
        assert out == "" and "not-used-secret" not in err


def test_server_errors_are_exit_3(
    capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]
) -> None:
    demo.faults.add(status=503, count=None, path_contains="/fhir/")
    try:
        for command in (["status"], ["bots"], ["bots", "--json"], ["events", "x"]):
            code, out, err = run(capsys, *command, *connect)
            assert code == 3, err
            assert "HTTP 503" in one_error_line(err) and out == ""
    finally:
        demo.faults.clear()


def test_the_demo_server_is_quiet_when_a_client_hangs_up(
    capsys: pytest.CaptureFixture[str], demo: DemoServer
) -> None:
    """status reads the bots and the runs side by side and cancels one when the other fails: the
    demo server's write to the closed connection printed a traceback into --demo's stderr."""
    httpd = demo._httpd
    assert httpd is not None
    for error in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "reset")):
        try:
            raise error
        except ConnectionError:
            httpd.handle_error(None, ("127.0.0.1", 1))
    assert capsys.readouterr().err == ""
    try:
        raise ValueError("a bug in the demo")
    except ValueError:
        httpd.handle_error(None, ("127.0.0.1", 1))
    assert "ValueError: a bug in the demo" in capsys.readouterr().err  # a bug is still told


def test_one_dropped_connection_is_asked_again_quietly(
    capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]
) -> None:
    """As a 401 (a new token) and a 429 (a wait) are: one more try, no word; two in a row fail."""
    demo.faults.add(kind="drop", count=1, path_contains="/fhir/")
    code, out, err = run(capsys, "bots", "--json", *connect)
    assert (code, err) == (0, "") and json.loads(out)
    demo.faults.add(kind="drop", count=2, path_contains="/fhir/")
    code, out, err = run(capsys, "bots", "--json", *connect)
    assert code == 3 and out == ""
    assert "dropped" in one_error_line(err)
    demo.faults.clear()


@pytest.mark.parametrize("value", ["1x", "1.5h", "-1h", "0m", "h", "1 h 2m", "99999999d"])
@pytest.mark.parametrize("command", ["events", "status"])
def test_bad_since(capsys: pytest.CaptureFixture[str], value: str, command: str) -> None:
    argv = [command, "abc"] if command == "events" else [command]
    code, _, err = run(capsys, *argv, "--demo", f"--since={value}")
    assert code == 2
    assert "--since" in one_error_line(err)


def test_plain_http_to_a_remote_host_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDPLUM_BASE_URL", "http://example.com/")
    monkeypatch.setenv("MEDPLUM_CLIENT_ID", "id")
    monkeypatch.setenv("MEDPLUM_CLIENT_SECRET", "s3cret-value")
    code, _, err = run(capsys, "bots")
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
        ["events", "a\x1bb"],
        ["events", "abc", "--limit", "0"],
        ["events", "abc", "--json", "--csv"],
        ["status", "--json", "--csv"],
        ["status", "--bot", ""],
        ["--interval", "soon"],
        ["--bot", "x" * 501],
        ["--bot", "x", "bots"],
        ["bots", "--demo", "--base-url", "https://x.example/"],
        ["--no-such-option"],
        ["bots", "--timeout", "-3"],
        ["--interval", "0.1", "--demo"],
        ["events", "abc", "--follow", "--interval", "0.1", "--demo"],
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

    monkeypatch.setattr(botmon_tui.cli.bots, "run", explode)
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

    monkeypatch.setattr(botmon_tui.cli.bots, "run", interrupted)
    code, out, err = run(capsys, "bots", "--demo")
    assert (code, out, err) == (130, "", "")


@pytest.mark.parametrize("argv", [["bots", "--bogus", "hunter2hunter2"], ["bots", "hunter2hunter2"]])
def test_stray_values_are_not_echoed(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert "unrecognized arguments" in one_error_line(err)
    assert "hunter2" not in out + err


# ------------------------------------------------------------------------------------------------
# The TUI entry
# ------------------------------------------------------------------------------------------------


@pytest.fixture
def tui_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What ``run_tui`` was called with (it is not run)."""
    import botmon_tui.ui.app as app

    calls: list[dict[str, Any]] = []

    def fake_run_tui(connections: Sequence[Connection], options: AppOptions) -> int:
        first = connections[0]
        bot_name = None
        if options.bot_id is not None and first.demo:
            # (The demo server is still up here: the id must be the bot's.)
            bot_name = asyncio.run(first.client.get_bot(options.bot_id)).name
        calls.append(
            {
                "connections": connections,
                "settings": first.client.settings,
                "demo": first.demo,
                "bot_name": bot_name,
                **{f.name: getattr(options, f.name) for f in fields(options)},
            }
        )
        return 0

    monkeypatch.setattr(app, "run_tui", fake_run_tui)
    # (pytest's stdin and stdout are not terminals; the check has its own tests.)
    monkeypatch.setattr(importlib.import_module("botmon_tui.cli.main"), "_terminal_problem", lambda: None)
    return calls


def test_tui_gets_settings_interval_bot_and_demo(
    capsys: pytest.CaptureFixture[str], tui_calls: list[dict[str, Any]]
) -> None:
    code, _, err = run(capsys, "--demo", "--interval", "2.5", "--bot", "lab-results-router")
    assert code == 0, err
    (call,) = tui_calls
    assert call["demo"] is True and [c.label for c in call["connections"]] == ["demo"]
    assert call["interval"] == 2.5 and call["bell"] is True
    assert call["bot_name"] == "lab-results-router"  # the name became the bot's id
    assert call["settings"].source == "demo"
    # --no-bell reaches the TUI.
    assert run(capsys, "--demo", "--no-bell")[0] == 0
    assert tui_calls[-1]["bell"] is False and tui_calls[-1]["bot_id"] is None


def test_tui_bot_by_id_and_unknown_bot(
    capsys: pytest.CaptureFixture[str],
    demo: DemoServer,
    connect: list[str],
    tui_calls: list[dict[str, Any]],
) -> None:
    bot = demo.store.bots[0]
    assert run(capsys, *connect, "--bot", bot["id"])[0] == 0
    assert tui_calls[-1]["bot_id"] == bot["id"]
    code, out, err = run(capsys, *connect, "--bot", "no-such-bot")
    assert code == 2 and out == ""
    assert "no bot is named 'no-such-bot'" in one_error_line(err)
    assert len(tui_calls) == 1  # the TUI never started


def test_tui_takes_an_id_as_it_is_when_the_server_is_down(
    capsys: pytest.CaptureFixture[str],
    demo: DemoServer,
    connect: list[str],
    tui_calls: list[dict[str, Any]],
) -> None:
    """The TUI waits for a server that is down; a name cannot wait, so it is an error."""
    demo.faults.add(status=503, count=None, path_contains="/fhir/")
    try:
        assert run(capsys, *connect, "--bot", "0a1b2c3d-0000-4000-8000-000000000000")[0] == 0
        assert tui_calls[-1]["bot_id"] == "0a1b2c3d-0000-4000-8000-000000000000"
        code, _, err = run(capsys, *connect, "--bot", "lab results")
        assert code == 3 and "HTTP 503" in one_error_line(err)
    finally:
        demo.faults.clear()


def test_tui_theme_and_keymap_from_the_config_file_and_a_chosen_theme_is_saved(
    capsys: pytest.CaptureFixture[str], tui_calls: list[dict[str, Any]], isolated_home: Path
) -> None:
    config = isolated_home / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    keymap = '[keymap]\n"events.times" = "T"\npoll.pause = ["space", "p"]\n'
    config.write_text('# mine\ninterval = 5\ntheme = "nord"\n' + keymap)
    config.chmod(0o640)
    assert run(capsys, "--demo")[0] == 0
    assert tui_calls[-1]["theme"] == "nord" and tui_calls[-1]["interval"] == 5.0
    assert tui_calls[-1]["keymap"] == {"events.times": "T", "poll.pause": "space,p"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEXTUAL_THEME", "dracula")
        assert run(capsys, "--demo")[0] == 0
    assert tui_calls[-1]["theme"] == "dracula"
    # A theme chosen in the command palette replaces the theme line; the rest stays as it was.
    tui_calls[-1]["remember_theme"]("gruvbox")
    assert config.read_text() == '# mine\ninterval = 5\ntheme = "gruvbox"\n' + keymap
    assert config.stat().st_mode & 0o777 == 0o640
    # A key that is not one: exit 2 with one line, before the TUI takes the screen.
    config.write_text('[keymap]\n"events.times" = "two words"\n')
    code, _, err = run(capsys, "--demo")
    assert code == 2 and "'two words' is not a key" in one_error_line(err)
    assert len(tui_calls) == 2
    # A new config file is created, readable by its owner only.
    config.unlink()
    assert tui_calls[-1]["remember_theme"]("monokai") == config
    assert config.read_text() == 'theme = "monokai"\n' and config.stat().st_mode & 0o777 == 0o600


def test_tui_interval_from_the_environment(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    demo: DemoServer,
    tui_calls: list[dict[str, Any]],
) -> None:
    monkeypatch.setenv("BOTMON_INTERVAL", "42")
    monkeypatch.setenv("MEDPLUM_BASE_URL", demo.base_url)
    monkeypatch.setenv("MEDPLUM_CLIENT_ID", demo.client_id)
    monkeypatch.setenv("MEDPLUM_CLIENT_SECRET", demo.client_secret)
    assert run(capsys)[0] == 0
    assert [call["interval"] for call in tui_calls] == [42.0]


# ------------------------------------------------------------------------------------------------
# Where settings come from, through the command line
# ------------------------------------------------------------------------------------------------


def test_profile_from_the_medplum_cli(
    capsys: pytest.CaptureFixture[str], demo: DemoServer, isolated_home: Path
) -> None:
    options = {
        "authType": "client-credentials",
        "baseUrl": demo.base_url,
        "clientId": demo.client_id,
        "clientSecret": demo.client_secret,
    }
    path = isolated_home / ".medplum" / "demo.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"name": "demo", "options": json.dumps(options)}))
    path.chmod(0o644)
    code, out, err = run(capsys, "bots", "--profile", "demo", "--json")
    assert code == 0, err
    assert len(json.loads(out)) == len(demo.store.bots)
    # The profile holds a secret and others can read it: one warning line, not the secret.
    (warning,) = err.strip().splitlines()
    assert warning.startswith("botmon-tui: warning: ") and "chmod 600" in warning
    assert demo.client_secret not in err


def test_secret_from_stdin(
    capsys: pytest.CaptureFixture[str], demo: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(demo.client_secret + "\n"))
    flags = ["--base-url", demo.base_url, "--client-id", demo.client_id]
    code, out, err = run(capsys, "bots", "--json", *flags, "--client-secret-file", "-")
    assert code == 0, err
    assert json.loads(out)


# ------------------------------------------------------------------------------------------------
# demo-server
# ------------------------------------------------------------------------------------------------


def test_demo_server_command(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import botmon_tui.demo as demo_package

    calls: list[tuple[Any, DemoConfig]] = []

    def fake_serve_forever(port: int | None, cfg: DemoConfig, *, out: Any = None) -> None:
        calls.append((port, cfg))
        print("serving", file=out)

    monkeypatch.setattr(demo_package, "serve_forever", fake_serve_forever)
    code, out, _ = run(capsys, "demo-server", "--port", "8765", "--seed", "3")
    assert code == 0 and out == "serving\n"
    ((port, cfg),) = calls
    assert port == 8765 and cfg.seed == 3 and cfg.live


def test_demo_server_runs_until_interrupted() -> None:
    lines, code, _, err = interrupted("demo-server", "--seed", "1", lines=5)
    assert any("http://127.0.0.1:" in line for line in lines), lines
    assert code == 0
    assert "Traceback" not in err


# ------------------------------------------------------------------------------------------------
# No terminal: the TUI says so in one line (stdin at end-of-file used to spin a core forever)
# ------------------------------------------------------------------------------------------------


def test_the_tui_without_a_terminal_says_so_and_exits_2() -> None:
    """``botmon-tui </dev/null`` (cron, ``ssh -T``) and ``botmon-tui | cat``: one line naming the
    commands made for scripts, exit 2, no escape code written, at once (no demo server started)."""
    for stdin in (subprocess.DEVNULL, None):
        result = botmon("--demo", stdin=stdin, timeout=20)
        assert result.returncode == 2, result.stderr
        line = one_error_line(result.stderr)
        assert "needs a terminal" in line and "status" in line and "watch" in line and "--follow" in line
        assert result.stdout == "" and "\x1b" not in result.stderr


def test_the_tui_with_stdin_at_end_of_file_on_a_real_terminal() -> None:
    """stdout a pseudo-terminal, stdin /dev/null: exit 2 and one line, and the terminal is left as
    it was (no alternate screen, no mouse reporting, nothing but the line)."""
    import pty

    master, slave = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "botmon_tui", "--demo"],
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=slave,
            cwd=REPO,
            env=process_env(TERM="xterm-256color"),
        )
        os.close(slave)
        slave = -1
        assert process.wait(timeout=20) == 2
        output = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the other side is closed and everything was read
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    text = output.decode(errors="replace")
    assert "needs a terminal, and stdin is not one" in text
    assert "\x1b[?1049h" not in text and "\x1b[?1000h" not in text and "\x1b" not in text
