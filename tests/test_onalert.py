"""``--on-alert CMD`` (``botmon_tui.onalert``): a real child process, run as an argv without a shell,
stdin closed, killed at its timeout, the facts in its environment and never a secret."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from botmon_tui.onalert import (
    AlertCommand,
    AlertCommandError,
    AlertResult,
    AlertRunner,
    alert_environment,
    clean_value,
)

RECORD: dict[str, Any] = {
    "event": "failing",
    "bot": "lab-results-router",
    "botId": "0a1b2c3d",
    "at": "2025-03-14T12:01:00.000Z",
    "since": "2025-03-14T11:37:00.000Z",
    "streak": 14,
    "streakExact": True,
    "kind": "crash",
    "signature": "975bd35bb234",
    "summary": "AxiosError: Request failed with status code 503",
    "link": "https://app.medplum.com/Bot/0a1b2c3d/event",
    "profile": "prod",
}
#: How a report names the program (the scripts run under this Python).
PY = os.path.basename(sys.executable)
PARENT = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": "/home/oncall",
    "LANG": "C.UTF-8",
    "LC_TIME": "en_GB.UTF-8",
    "DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1000/bus",
    "MEDPLUM_CLIENT_ID": "the-client-id",
    "MEDPLUM_CLIENT_SECRET": "s3cr3t-value",
    "MEDPLUM_CLIENT_ACCESS_TOKEN": "eyJhbGciOi.token",
    "AWS_SECRET_ACCESS_KEY": "aws-secret",
    "GITHUB_TOKEN": "ghp_token",
    "HTTPS_PROXY": "http://proxy.example:3128",
    "HTTP_PROXY": "http://user:password@proxy.example:3128",
    "BOTMON_PROFILE": "prod",
}


def child(tmp_path: Path, body: str) -> Path:
    """A small Python script the command runs."""
    script = tmp_path / "hook.py"
    script.write_text("import json, os, sys, time\n" + textwrap.dedent(body))
    return script


def env_dump(tmp_path: Path) -> tuple[AlertCommand, Path]:
    """A command that writes its argv, environment and stdin to a file."""
    out = tmp_path / "env.json"
    script = child(
        tmp_path,
        """
        out = sys.argv[1]
        data = {"argv": sys.argv[2:], "env": dict(os.environ), "stdin": sys.stdin.read()}
        with open(out + ".tmp", "w") as f:
            json.dump(data, f)
        os.replace(out + ".tmp", out)
        """,
    )
    return AlertCommand((sys.executable, str(script), str(out))), out


async def run_one(
    command: AlertCommand, record: dict[str, Any] = RECORD, **options: Any
) -> list[AlertResult]:
    results: list[AlertResult] = []
    runner = AlertRunner(command, report=results.append, base_env=PARENT, **options)
    runner.submit(record)
    await runner.drain()
    return results


async def test_the_facts_are_in_the_childs_environment_and_no_secret_is(tmp_path: Path) -> None:
    command, out = env_dump(tmp_path)
    results = await run_one(command, secrets=lambda: ["s3cr3t-value"])
    assert results == [
        AlertResult(True, f"{PY}: ran for failing lab-results-router", "failing", "lab-results-router")
    ]
    env = json.loads(out.read_text())["env"]
    assert env["BOTMON_EVENT"] == "failing"
    assert env["BOTMON_BOT"] == "lab-results-router" and env["BOTMON_BOT_ID"] == "0a1b2c3d"
    assert env["BOTMON_SINCE"] == "2025-03-14T11:37:00.000Z" and env["BOTMON_STREAK"] == "14"
    assert env["BOTMON_KIND"] == "crash" and env["BOTMON_SIGNATURE"] == "975bd35bb234"
    assert env["BOTMON_SUMMARY"] == "AxiosError: Request failed with status code 503"
    assert env["BOTMON_LINK"] == "https://app.medplum.com/Bot/0a1b2c3d/event"
    assert env["BOTMON_PROFILE"] == "prod" and env["BOTMON_STREAK_EXACT"] == "true"
    # What it needs to run and to reach the desktop or a proxy; nothing else of the parent's.
    assert env["HOME"] == "/home/oncall" and env["LC_TIME"] == "en_GB.UTF-8"
    assert env["DBUS_SESSION_BUS_ADDRESS"] == "unix:path=/run/user/1000/bus"
    assert env["HTTPS_PROXY"] == "http://proxy.example:3128"
    for name in (
        "MEDPLUM_CLIENT_ID",
        "MEDPLUM_CLIENT_SECRET",
        "MEDPLUM_CLIENT_ACCESS_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
    ):
        assert name not in env
    assert "GITHUB_TOKEN" not in env and "HTTP_PROXY" not in env
    dumped = json.dumps(env)
    for secret in ("s3cr3t-value", "eyJhbGciOi.token", "aws-secret", "ghp_token", "password"):
        assert secret not in dumped


async def test_control_characters_are_stripped_and_secrets_masked(tmp_path: Path) -> None:
    command, out = env_dump(tmp_path)
    record = dict(
        RECORD,
        bot="evil\x1b]0;owned\x07\u202ename",
        summary="line one\nline two\ttabbed \x00nul \x9b31m token=s3cr3t-value",
    )
    await run_one(command, record, secrets=lambda: ["s3cr3t-value"])
    env = json.loads(out.read_text())["env"]
    assert env["BOTMON_BOT"] == "evil]0;ownedname"
    assert env["BOTMON_SUMMARY"] == "line one line two tabbed nul 31m token=********"


async def test_no_shell_and_stdin_closed(tmp_path: Path) -> None:
    command, out = env_dump(tmp_path)
    text = f"{sys.executable} {command.argv[1]} {out} '$HOME; touch {tmp_path}/pwned' `id` \"a b\""
    await run_one(AlertCommand.parse(text))
    data = json.loads(out.read_text())
    assert data["argv"] == [f"$HOME; touch {tmp_path}/pwned", "`id`", "a b"]
    assert data["stdin"] == ""
    assert not (tmp_path / "pwned").exists()


async def test_a_failing_command_is_reported_in_one_line(tmp_path: Path) -> None:
    script = child(
        tmp_path, 'print("first", file=sys.stderr)\nprint("token s3cr3t-value", file=sys.stderr)\nsys.exit(3)'
    )
    [result] = await run_one(AlertCommand((sys.executable, str(script))), secrets=lambda: ["s3cr3t-value"])
    assert not result.ok
    assert result.message == f"{PY}: exit 3: token ******** (failing lab-results-router)"
    [missing] = await run_one(AlertCommand((str(tmp_path / "no-such-program"),)))
    assert not missing.ok and missing.message.startswith("no-such-program: could not start: ")


def ended(pid: int) -> bool:
    """The process is gone, or killed and not yet reaped (its parent died with it: a zombie)."""
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except (ProcessLookupError, FileNotFoundError):
        return True


async def test_a_command_that_hangs_is_killed_with_what_it_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    script = child(
        tmp_path,
        f"""
        import subprocess
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(pid_file)!r}, "w").write(str(grandchild.pid))
        time.sleep(60)
        """,
    )
    [result] = await run_one(AlertCommand((sys.executable, str(script)), timeout=1.5))
    assert not result.ok and result.message == f"{PY}: killed after 1.5 s (failing lab-results-router)"
    grandchild = int(pid_file.read_text())
    for _ in range(50):
        if ended(grandchild):
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the command's own child outlived the timeout")


async def test_alerts_run_in_order_and_a_full_queue_drops_and_says_so(tmp_path: Path) -> None:
    log = tmp_path / "order.txt"
    script = child(tmp_path, f'open({str(log)!r}, "a").write(os.environ["BOTMON_EVENT"] + "\\n")')
    results: list[AlertResult] = []
    runner = AlertRunner(
        AlertCommand((sys.executable, str(script))), report=results.append, base_env=PARENT, max_queued=3
    )
    for event in ("failing", "new-signature", "recovered", "failing", "recovered"):
        runner.submit(dict(RECORD, event=event))
    await runner.drain()
    assert log.read_text().split() == ["failing", "new-signature", "recovered"]
    dropped = [r for r in results if not r.ok]
    assert len(dropped) == 1 and "1 alert(s) dropped" in dropped[0].message
    assert (runner.ran, runner.dropped) == (3, 2)


def test_commands_are_split_like_a_shell_line_and_checked() -> None:
    assert AlertCommand.parse('notify-send "botmon alert" -u critical').argv == (
        "notify-send",
        "botmon alert",
        "-u",
        "critical",
    )
    with pytest.raises(AlertCommandError, match="cannot split"):
        AlertCommand.parse('notify-send "unbalanced')
    with pytest.raises(AlertCommandError, match="empty"):
        AlertCommand.parse("   ")


def test_values_are_one_bounded_line() -> None:
    assert clean_value(None) == "" and clean_value(True) == "true" and clean_value(14) == "14"
    assert clean_value("a\u200bb\u2066c\ufeffd") == "abcd"
    assert len(clean_value("x" * 100_000)) == 2000
    env = alert_environment({"event": "failing", "summary": None}, base={})
    assert env == {"BOTMON_EVENT": "failing", "BOTMON_SUMMARY": ""}
