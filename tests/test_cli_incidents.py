"""Incidents on the command line: ``status``'s states and headline, ``failures`` (flat and
grouped), ``watch`` and ``--on-alert`` as real processes against the demo backend, exit codes as
real processes, and several projects (two demo servers with credentials of their own)."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_support import REPO, botmon, flags_for, one_error_line, process_env, run, server_env
from demo_support import quiet_demo

from botmon_tui.demo import DemoServer
from botmon_tui.diagnosis import error_signature

RID = "146fcfcf-c32b-43f5-82a6-ee0f3132d873"


def now() -> datetime:
    return datetime.now(UTC)


def crash(status: int, patient: str) -> str:
    """A Lambda bot's log ending in an uncaught AxiosError, as Medplum keeps it."""
    blob = {
        "errorType": "AxiosError",
        "errorMessage": f"Request failed with status code {status}",
        "stack": [
            f"AxiosError: Request failed with status code {status}",
            "    at settle (/var/task/node_modules/axios/lib/core/settle.js:19:12)",
            "    at async fetchPatient (/var/task/index.js:57:20)",
        ],
    }
    return (
        f"2025-03-14T09:26:53.512Z\t{RID}\tINFO\tFetching Patient/{patient}\n"
        f"2025-03-14T09:26:54.100Z\t{RID}\tERROR\tInvoke Error \t{json.dumps(blob)}"
    )


SIGNATURE_503 = "AxiosError: Request failed with status code 503 @ fetchPatient (index.js)"


def add_bot(server: DemoServer, name: str, **fields: Any) -> str:
    return str(server.store.add_bot({"resourceType": "Bot", "name": name, **fields})["id"])


@pytest.fixture
def server() -> Iterator[DemoServer]:
    """A quiet demo server whose generated history ended long ago: only the runs a test adds are
    recent. One per test (tests add bots and runs)."""
    with quiet_demo(seed=11, history_days=1) as demo:
        yield demo


@pytest.fixture
def connect(server: DemoServer, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return flags_for(server, monkeypatch)


def label_of(server: DemoServer) -> str:
    """The label of a connection named by its base URL alone: its host and port."""
    return server.base_url.split("//", 1)[1].rstrip("/")


# ------------------------------------------------------------------------------------------------
# status
# ------------------------------------------------------------------------------------------------


def test_status_tells_each_bots_incident(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    server: DemoServer,
    connect: list[str],
) -> None:
    at = now()
    failing = add_bot(server, "zz-failing", runtimeVersion="awslambda")
    server.store.add_event(failing, outcome="0", desc="ok", at=at - timedelta(minutes=30))
    firsts = [
        server.store.add_event(
            failing, outcome="4", desc=crash(503, f"p{n}"), at=at - timedelta(minutes=20 - n)
        )
        for n in range(3)
    ]
    recovered = add_bot(server, "zz-recovered")
    server.store.add_event(recovered, outcome="4", desc=crash(500, "q"), at=at - timedelta(minutes=15))
    server.store.add_event(recovered, outcome="4", desc=crash(500, "r"), at=at - timedelta(minutes=14))
    back = server.store.add_event(recovered, outcome="0", desc="ok", at=at - timedelta(minutes=5))
    slow = add_bot(server, "zz-slow", runtimeVersion="awslambda", timeout=30)
    server.store.add_event(
        slow, outcome="4", desc="INFO fetched page 3", at=at - timedelta(minutes=2), duration_ms=29_000
    )

    code, out, err = run(capsys, "status", "--json", *connect)
    assert code == 1, err
    data = json.loads(out)
    assert (data["failedBots"], data["failedRecovered"]) == (3, 1)
    # Failing now: ours, and the demo's generated bots whose last run failed long ago.
    old = sum(1 for bot in data["bots"] if bot["state"] == "failing" and not bot["name"].startswith("zz-"))
    assert data["failingNow"] == 2 + old
    assert data["projects"] == [
        {"profile": label_of(server), "now": data["now"], "horizon": data["horizon"], "error": None}
    ]
    bots = {bot["name"]: bot for bot in data["bots"]}
    one = bots["zz-failing"]
    assert (one["state"], one["streak"], one["streakExact"]) == ("failing", 3, True)
    assert one["failingSince"] == firsts[0]["meta"]["lastUpdated"]
    assert (one["kind"], one["summary"]) == ("crash", "ERROR AxiosError: Request failed with status code 503")
    assert one["signatureText"] == SIGNATURE_503 and one["signature"] == error_signature(crash(503, "x")).key
    assert one["recoveredAt"] is None and one["profile"] == label_of(server)
    two = bots["zz-recovered"]
    assert (two["state"], two["recoveredAt"], two["failingSince"]) == (
        "recovered",
        back["meta"]["lastUpdated"],
        None,
    )
    assert two["kind"] == "crash" and "status code 500" in two["signatureText"]  # what it recovered from
    three = bots["zz-slow"]
    assert (three["state"], three["kind"]) == ("failing", "timeout")
    assert three["summary"] == "timed out after 29.0 s (timeout 30.0 s)"

    monkeypatch.setenv("COLUMNS", "160")
    code, out, _ = run(capsys, "status", *connect)
    assert code == 1
    lines = out.splitlines()
    header = next(n for n, line in enumerate(lines) if line.startswith("BOT "))
    first, rows = " ".join(lines[:header]), lines[header + 1 :]
    assert first.startswith(
        f"✗ 3 of {len(server.store.bots)} bots failed in the last 1h (6 runs): 2 failing now, 1 recovered"
    )
    # (The server's clock, read from its Date header, is to the second: 19 or 20 minutes.)
    assert rows[0].startswith("zz-failing") and re.search(r" failing (19|20)m · 3× · crash ", rows[0])
    assert any(row.startswith("zz-recovered") and re.search(" recovered [45]m ago ", row) for row in rows)


def test_a_bot_failing_since_before_the_window_is_told_without_failing_the_run(
    capsys: pytest.CaptureFixture[str], server: DemoServer, connect: list[str]
) -> None:
    old = add_bot(server, "nightly-export")
    server.store.add_event(
        old, outcome="4", desc="Error: disk full", at=now() - timedelta(hours=3, minutes=30)
    )
    code, out, _ = run(capsys, "status", "--since", "30m", "--ignore-late", *connect)
    assert code == 0  # no failed run in the window: the documented exit status
    first = out.split("\nBOT ")[0].replace("\n  ", " ")  # the first line, wrapped at 80 columns
    assert first.startswith(f"✓ No bot failed in the last 30m ({len(server.store.bots)} bots); ! ")
    assert " still failing from before" in first
    assert first.endswith("now (ignored: --ignore-late)")  # the demo's late and quiet bots
    assert re.search(r"\nnightly-export +failing 3h", out)


def test_exit_statuses_as_real_processes(server: DemoServer) -> None:
    env = server_env(server)
    bot_id = add_bot(server, "exit-codes")
    server.store.add_event(bot_id, outcome="0", desc="ok", at=now())
    assert botmon("status", "--since", "1m", "--ignore-late", env=env).returncode == 0
    server.store.add_event(bot_id, outcome="4", desc="Error: no", at=now())
    done = botmon("status", "--since", "1m", "--ignore-late", env=env)
    assert done.returncode == 1 and done.stdout.startswith("✗ 1 of ")
    unknown = botmon("status", "--bot", "no-such-bot", env=env)
    assert unknown.returncode == 2 and "no bot is named 'no-such-bot'" in one_error_line(unknown.stderr)
    down = botmon("status", env={**env, "MEDPLUM_BASE_URL": "http://127.0.0.1:9/"})
    assert down.returncode == 3 and down.stdout == ""
    one_error_line(down.stderr)


# ------------------------------------------------------------------------------------------------
# failures
# ------------------------------------------------------------------------------------------------


@pytest.fixture
def outage(server: DemoServer) -> dict[str, str]:
    """One cause (503) on two bots, another (500) on a third that recovered."""
    at = now()
    ids = {name: add_bot(server, name, runtimeVersion="awslambda") for name in ("lab", "adt", "claims")}
    server.store.add_event(ids["lab"], outcome="0", desc="ok", at=at - timedelta(minutes=40))
    server.store.add_event(ids["adt"], outcome="0", desc="ok", at=at - timedelta(minutes=40))
    for n, name in enumerate(["lab", "adt", "lab", "adt", "lab"]):
        server.store.add_event(
            ids[name], outcome="4", desc=crash(503, f"p{n}"), at=at - timedelta(minutes=30 - n)
        )
    server.store.add_event(ids["claims"], outcome="8", desc=crash(500, "c"), at=at - timedelta(minutes=20))
    server.store.add_event(ids["claims"], outcome="0", desc="ok", at=at - timedelta(minutes=10))
    return ids


def test_failures_lists_each_failed_run_newest_first(
    capsys: pytest.CaptureFixture[str], server: DemoServer, connect: list[str], outage: dict[str, str]
) -> None:
    code, out, err = run(capsys, "failures", "--since", "1h", "--json", *connect)
    assert code == 0, err
    runs = json.loads(out)
    assert [r["bot"] for r in runs] == ["claims", "lab", "adt", "lab", "adt", "lab"]
    assert [r["lastUpdated"] for r in runs] == sorted((r["lastUpdated"] for r in runs), reverse=True)
    first = runs[0]
    assert set(first) == {
        "id", "bot", "botId", "lastUpdated", "outcome", "outcomeText", "kind", "signature",
        "signatureText", "summary", "profile",
    }  # fmt: skip
    assert (first["botId"], first["outcome"], first["outcomeText"]) == (
        outage["claims"],
        "8",
        "Serious Failure",
    )
    assert (
        first["kind"] == "crash"
        and first["summary"] == "ERROR AxiosError: Request failed with status code 500"
    )
    assert {r["signatureText"] for r in runs[1:]} == {SIGNATURE_503}
    # --bot narrows it (a name or an id, repeatable).
    code, out, _ = run(
        capsys, "failures", "--since", "1h", "--json", "--bot", "adt", "--bot", outage["claims"], *connect
    )
    assert sorted(r["bot"] for r in json.loads(out)) == ["adt", "adt", "claims"]
    assert run(capsys, "failures", "--bot", "nobody", *connect)[0] == 2


def test_failures_grouped_by_cause(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    server: DemoServer,
    connect: list[str],
    outage: dict[str, str],
) -> None:
    _, out, _ = run(capsys, "failures", "--since", "1h", "--group", "--json", *connect)
    groups = json.loads(out)
    assert [g["runs"] for g in groups] == [1, 5]
    newest, outage_group = groups
    assert (newest["bots"], newest["ongoing"], newest["kind"]) == (["claims"], False, "crash")
    assert outage_group["signatureText"] == SIGNATURE_503 and outage_group["ongoing"]
    assert outage_group["bots"] == ["lab", "adt"] and outage_group["botIds"] == [outage["lab"], outage["adt"]]
    assert outage_group["example"] == "ERROR AxiosError: Request failed with status code 503"
    assert outage_group["firstSeen"] < outage_group["lastSeen"]
    # The table: one line per cause, as wide as $COLUMNS.
    monkeypatch.setenv("COLUMNS", "80")
    _, out, _ = run(capsys, "failures", "--since", "1h", "--group", *connect)
    heading, header, *rows = out.splitlines()
    assert heading == "6 failed runs of 3 bots in the last 1h, 2 causes"
    # (At 80 columns the first seen gives way; the runs, bots, last seen and cause stay.)
    assert header.split() == ["RUNS", "BOTS", "KIND", "LAST", "SEEN", "ONGOING", "CAUSE"]
    assert rows[1].split()[:4] == ["5", "2:", "lab,", "adt"] and "● ongoing" in rows[1]
    assert all(len(line) <= 80 for line in out.splitlines())
    # CSV: a header, then one row per cause.
    _, out, _ = run(capsys, "failures", "--since", "1h", "--group", "--csv", *connect)
    lines = out.splitlines()
    assert lines[0].startswith("signature,signatureText,example,kind,runs,bots,")
    assert "lab; adt" in lines[2]


def test_failures_as_a_real_process(server: DemoServer, outage: dict[str, str]) -> None:
    done = botmon("failures", "--group", "--json", env=server_env(server))
    assert done.returncode == 0, done.stderr
    assert [group["runs"] for group in json.loads(done.stdout)] == [1, 5]
    table = botmon("failures", "--since", "1h", env={**server_env(server), "COLUMNS": "100"})
    assert table.returncode == 0 and table.stdout.splitlines()[0].startswith("6 failed runs of 3 bots")


# ------------------------------------------------------------------------------------------------
# watch, as a real process
# ------------------------------------------------------------------------------------------------

HOOK = """\
import json, os, sys
folder = sys.argv[1]
name = os.path.join(folder, "%s-%d.json" % (os.environ.get("BOTMON_EVENT"), len(os.listdir(folder))))
with open(name + ".tmp", "w") as f:
    json.dump({"env": dict(os.environ), "stdin": sys.stdin.read()}, f)
os.replace(name + ".tmp", name)
"""


class Watch:
    """``botmon-tui watch`` running in a process: its stdout read line by line, with a timeout
    (``select`` in this thread: closing stdout, as a reader that goes away does, never races a
    read in another thread)."""

    def __init__(self, *argv: str, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "botmon_tui", "watch", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=REPO,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        assert self.process.stdout is not None
        self.fd = self.process.stdout.fileno()
        self.buffer = b""

    def line(self, timeout: float = 30) -> str:
        end = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = end - time.monotonic()
            ready, _, _ = select.select([self.fd], [], [], max(0.0, left))
            if not ready:
                self.stop()
                raise AssertionError(f"no line from watch in {timeout} s; stderr: {self.stderr()}")
            chunk = os.read(self.fd, 65536)
            if not chunk:
                raise AssertionError(f"watch ended ({self.process.wait(30)}); stderr: {self.stderr()}")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()

    def event(self, timeout: float = 30) -> dict[str, Any]:
        return dict(json.loads(self.line(timeout)))

    def quiet(self, seconds: float) -> bool:
        """Nothing more on stdout for ``seconds``."""
        return not self.buffer and not select.select([self.fd], [], [], seconds)[0]

    def stderr(self) -> str:
        if self.process.poll() is None:
            return "(running)"
        assert self.process.stderr is not None
        return self.process.stderr.read().decode(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(30)


def until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def polled_again(server: DemoServer, mark: int) -> Callable[[], bool]:
    """True once a poll after the first has started (the first one's incidents were primed)."""
    return lambda: any("_lastUpdated=gt" in r.path for r in server.requests[mark:])


def test_watch_tells_each_incident_change_once_and_runs_the_alert_command(
    server: DemoServer, tmp_path: Path
) -> None:
    already = add_bot(server, "already-failing")
    server.store.add_event(already, outcome="4", desc="Error: old", at=now() - timedelta(minutes=5))
    lab = add_bot(server, "lab-results-router", runtimeVersion="awslambda")
    server.store.add_event(lab, outcome="0", desc="ok", at=now() - timedelta(minutes=1))
    hook, calls = tmp_path / "hook.py", tmp_path / "calls"
    hook.write_text(HOOK)
    calls.mkdir()
    env = {**server_env(server), "AWS_SECRET_ACCESS_KEY": "do-not-pass-me"}
    mark = len(server.requests)
    watch = Watch("--json", "--interval", "1", "--on-alert", f"{sys.executable} {hook} {calls}", env=env)
    try:
        until(polled_again(server, mark), "the watch's second poll")
        # Three failures with one cause: one event, the streak counted.
        for n in range(3):
            server.store.add_event(lab, outcome="4", desc=crash(503, f"p{n}"), at=now())
        failing = watch.event()
        assert (failing["event"], failing["bot"], failing["botId"], failing["kind"]) == (
            "failing",
            "lab-results-router",
            lab,
            "crash",
        )
        assert failing["signatureText"] == SIGNATURE_503 and failing["profile"] == label_of(server)
        assert failing["link"] == f"{server.base_url}Bot/{lab}/event"
        # A new cause is told; the same one again is not.
        server.store.add_event(lab, outcome="4", desc=crash(500, "x"), at=now())
        other = watch.event()
        assert other["event"] == "new-signature" and "status code 500" in other["signatureText"]
        server.store.add_event(lab, outcome="4", desc=crash(500, "y"), at=now())
        server.store.add_event(lab, outcome="0", desc="ok", at=now() + timedelta(milliseconds=5))
        recovered = watch.event()
        assert (recovered["event"], recovered["streak"], recovered["streakExact"]) == ("recovered", 5, True)
        assert recovered["since"] == failing["since"] and recovered["lastedSeconds"] > 0
        # The alert command ran for each, with the facts in its environment and no secret.
        until(lambda: len(list(calls.glob("*.json"))) == 3, "three alert commands")
        children = [json.loads(path.read_text()) for path in calls.glob("*.json")]
        env_of = {child["env"]["BOTMON_EVENT"]: child["env"] for child in children}
        assert sorted(env_of) == ["failing", "new-signature", "recovered"]
        fail_env = env_of["failing"]
        assert fail_env["BOTMON_EVENT"] == "failing" and fail_env["BOTMON_BOT"] == "lab-results-router"
        assert fail_env["BOTMON_BOT_ID"] == lab and fail_env["BOTMON_KIND"] == "crash"
        assert fail_env["BOTMON_SINCE"] == failing["since"] and fail_env["BOTMON_STREAK"] == str(
            failing["streak"]
        )
        assert fail_env["BOTMON_SUMMARY"] == failing["summary"] and fail_env["BOTMON_LINK"] == failing["link"]
        assert fail_env["BOTMON_PROFILE"] == label_of(server)
        assert env_of["recovered"]["BOTMON_EVENT"] == "recovered"
        for child in env_of.values():
            assert not any(name.startswith("MEDPLUM_") for name in child)
            assert "AWS_SECRET_ACCESS_KEY" not in child
            assert server.client_secret not in json.dumps(child)
        assert all(child["stdin"] == "" for child in children)
        # The bot failing at start was never told.
        assert watch.quiet(1.5)
        # The reader goes away: the watch ends at once, status 0.
        assert watch.process.stdout is not None
        watch.process.stdout.close()
        assert watch.process.wait(30) == 0
    finally:
        watch.stop()


def test_watch_tells_what_was_there_at_start_with_initial_and_ends_130_on_ctrl_c(server: DemoServer) -> None:
    already = add_bot(server, "already-failing")
    server.store.add_event(already, outcome="4", desc="Error: old", at=now() - timedelta(minutes=5))
    watch = Watch("--interval", "1", "--initial", env=server_env(server))
    try:
        line = watch.line()
        assert "failing" in line and "already-failing: 1 failed run since" in line and "Error: old" in line
        watch.process.send_signal(signal.SIGINT)
        assert watch.process.wait(30) == 130
    finally:
        watch.stop()


def test_watch_with_bad_credentials_ends_with_3(server: DemoServer) -> None:
    env = {**server_env(server), "MEDPLUM_CLIENT_SECRET": "wrong"}
    done = botmon("watch", "--interval", "1", env=env, timeout=60)
    assert done.returncode == 3 and done.stdout == ""
    assert "wrong" not in done.stderr


# ------------------------------------------------------------------------------------------------
# Several projects
# ------------------------------------------------------------------------------------------------


@pytest.fixture
def projects(tmp_path: Path) -> Iterator[tuple[DemoServer, DemoServer, Path]]:
    """Two demo servers with credentials of their own, and a config directory naming both as
    [[connection]] tables labelled prod and staging."""
    with (
        quiet_demo(seed=21, history_days=1, client_secret="prod-secret-" + "p" * 20) as prod,
        quiet_demo(seed=22, history_days=1, client_secret="staging-secret-" + "s" * 20) as staging,
    ):
        config = tmp_path / "config"
        config.mkdir()
        tables = []
        for label, demo in (("prod", prod), ("staging", staging)):
            secret = config / f"{label}.secret"
            secret.write_text(demo.client_secret)
            secret.chmod(0o600)
            tables.append(
                f'[[connection]]\nlabel = "{label}"\nbase_url = "{demo.base_url}"\n'
                f'client_id = "{demo.client_id}"\nclient_secret_file = "{label}.secret"\n'
            )
        (config / "config.toml").write_text("\n".join(tables))
        yield prod, staging, config


def several_env(config: Path, **extra: str) -> dict[str, str]:
    return process_env(BOTMON_CONFIG_DIR=str(config), **extra)


def test_status_of_two_projects(projects: tuple[DemoServer, DemoServer, Path]) -> None:
    prod, staging, config = projects
    failing = add_bot(prod, "payments-sync")
    prod.store.add_event(failing, outcome="4", desc=crash(503, "a"), at=now())
    fine = add_bot(staging, "payments-sync")
    staging.store.add_event(fine, outcome="0", desc="ok", at=now())
    done = botmon("status", "--json", env=several_env(config))
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert [p["profile"] for p in data["projects"]] == ["prod", "staging"]
    assert {bot["profile"] for bot in data["bots"]} == {"prod", "staging"}
    assert len(data["bots"]) == len(prod.store.bots) + len(staging.store.bots)
    first = data["bots"][0]
    assert (first["profile"], first["name"], first["state"], first["kind"]) == (
        "prod",
        "payments-sync",
        "failing",
        "crash",
    )
    table = botmon("status", env=several_env(config, COLUMNS="100"))
    lines = table.stdout.splitlines()
    assert lines[0].startswith("✗ 1 of ") and "bots in 2 projects failed in the last 1h" in lines[0]
    header = next(n for n, line in enumerate(lines) if line.startswith("BOT "))  # the first line may wrap
    assert lines[header].split()[:3] == ["BOT", "PROJECT", "STATE"]
    assert lines[header + 1].split()[:3] == ["payments-sync", "prod", "failing"]
    assert all(len(line) <= 100 for line in lines)
    # The other project alone is fine: -p picks a [[connection]] by its label.
    assert botmon("status", "-p", "staging", "--ignore-late", env=several_env(config)).returncode == 0
    # bots --json: the resources as sent, each with its project.
    bots = json.loads(botmon("bots", "--json", env=several_env(config)).stdout)
    assert {bot["profile"] for bot in bots} == {"prod", "staging"} and all(
        b["resourceType"] == "Bot" for b in bots
    )


def test_a_project_that_cannot_be_read_is_told_and_the_rest_answer(
    projects: tuple[DemoServer, DemoServer, Path],
) -> None:
    prod, _, config = projects
    text = (config / "config.toml").read_text()
    (config / "config.toml").write_text(
        text + '\n[[connection]]\nlabel = "qa"\nbase_url = "http://127.0.0.1:9/"\nclient_id = "x"\n'
        'client_secret_file = "prod.secret"\n'
    )
    done = botmon("status", "--json", "--ignore-late", env=several_env(config))
    assert done.returncode == 0, done.stderr  # the two others are fine
    data = json.loads(done.stdout)
    qa = data["projects"][-1]
    assert qa["profile"] == "qa" and qa["error"] and qa["now"] is None
    assert "botmon-tui: error: qa: could not be read: " in done.stderr
    table = botmon("status", "--ignore-late", env=several_env(config))
    assert "✗ qa: could not be read: " in table.stdout and table.returncode == 0
    prod.store.add_event(add_bot(prod, "broken"), outcome="4", desc="Error: x", at=now())
    assert botmon("status", env=several_env(config)).returncode == 1
    # None could be read: exit 3.
    down = botmon("status", "-p", "qa", env=several_env(config))
    assert down.returncode == 3 and down.stdout == ""


def test_failures_and_watch_across_two_projects(projects: tuple[DemoServer, DemoServer, Path]) -> None:
    prod, staging, config = projects
    for demo, name in ((prod, "lab"), (staging, "adt")):
        bot_id = add_bot(demo, name, runtimeVersion="awslambda")
        demo.store.add_event(bot_id, outcome="4", desc=crash(503, name), at=now())
    done = botmon("failures", "--group", "--json", env=several_env(config))
    assert done.returncode == 0, done.stderr
    [group] = [g for g in json.loads(done.stdout) if g["signatureText"] == SIGNATURE_503]
    assert group["runs"] == 2 and sorted(group["bots"]) == ["prod: lab", "staging: adt"]
    assert sorted(group["profiles"]) == ["prod", "staging"]
    watch = Watch("--interval", "1", "--initial", env=several_env(config))
    try:
        # --initial tells every bot failing at start, the generated ones too: ours are among them.
        wanted = {"prod/lab: 1 failed run", "staging/adt: 1 failed run"}
        for _ in range(40):
            line = watch.line()
            wanted -= {text for text in wanted if text in line}
            if not wanted:
                break
        assert not wanted
    finally:
        watch.stop()


def test_every_command_names_its_projects_with_one_connection_too(
    capsys: pytest.CaptureFixture[str], server: DemoServer, connect: list[str]
) -> None:
    _, out, _ = run(capsys, "status", "--csv", *connect)
    header, first, *_ = out.splitlines()
    assert header.split(",")[-1] == "profile" and first.split(",")[-1] == label_of(server)
    assert "state" in header.split(",")
