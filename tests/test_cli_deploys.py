"""Deploys on the command line (issue 18): ``status`` and ``bots`` give ``lastDeploy`` (the
history of the failed bots by default, of every bot with ``--deploys``), and ``events`` marks
where a deploy falls among the runs of its table."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from cli_support import flags_for, run
from demo_support import demo_fixture

from botmon_tui.demo import DemoServer
from botmon_tui.medplum.models import format_instant, parse_instant

demo = demo_fixture(scope="function", seed=11, history_days=1)


@pytest.fixture
def connect(demo: DemoServer, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return flags_for(demo, monkeypatch)


def deployed(demo: DemoServer, name: str) -> tuple[str, datetime, str]:
    """A bot created now (the server's clock), deployed 3 minutes later by ci-deploy (its two
    versions 2 s apart): its id, its creation time and the deploy's time as an instant."""
    bot = demo.store.add_bot({"resourceType": "Bot", "name": name})
    created = parse_instant(bot["meta"]["lastUpdated"])
    assert created is not None
    author = {"reference": "ClientApplication/ci", "display": "ci-deploy"}
    versions = demo.store.deploy_bot(bot["id"], at=created + timedelta(minutes=3), gap_ms=2000, author=author)
    return str(bot["id"]), created, versions[-1]["meta"]["lastUpdated"]


def history_paths(demo: DemoServer, mark: int) -> list[str]:
    return [path for _, path, *_ in demo.requests[mark:] if path.endswith("/_history")]


def test_status_gives_the_last_deploy_of_the_bots_that_failed(
    capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]
) -> None:
    failing, created, deploy_at = deployed(demo, "deployed-then-failing")
    fine, _, _ = deployed(demo, "deployed-and-fine")
    demo.store.add_event(failing, outcome="4", desc="Error: boom", at=created + timedelta(minutes=4))
    demo.store.add_event(fine, outcome="0", desc="ok", at=created + timedelta(minutes=4))
    mark = len(demo.requests)
    code, out, err = run(capsys, "status", "--json", "--since", "1h", *connect)
    assert code == 1, err
    data = json.loads(out)
    assert data["deploysRead"] == "failed"
    entries = {entry["id"]: entry for entry in data["bots"]}
    assert entries[failing]["lastDeploy"] == deploy_at
    assert entries[fine]["lastDeploy"] is None  # not read: it did not fail
    assert history_paths(demo, mark) == [f"/fhir/R4/Bot/{failing}/_history"]
    # --deploys reads every bot's history.
    mark = len(demo.requests)
    code, out, _ = run(capsys, "status", "--json", "--deploys", "--since", "1h", *connect)
    data = json.loads(out)
    assert data["deploysRead"] == "all"
    assert {e["id"]: e["lastDeploy"] for e in data["bots"]}[fine] is not None
    assert len(history_paths(demo, mark)) == len(demo.store.bots)
    # The table says it under the table.
    code, out, _ = run(capsys, "status", "--since", "1h", *connect)
    said = " ".join(line.strip() for line in out.splitlines())
    assert f"↻ deployed-then-failing: last deployed {deploy_at}" in said and "by ci- deploy" in said


def test_bots_json_gains_last_deploy_only_when_asked(
    capsys: pytest.CaptureFixture[str], demo: DemoServer, connect: list[str]
) -> None:
    bot_id, _, deploy_at = deployed(demo, "deployed-bot")
    mark = len(demo.requests)
    _, out, _ = run(capsys, "bots", "--json", *connect)
    assert all("lastDeploy" not in bot for bot in json.loads(out))
    assert history_paths(demo, mark) == []  # the bot list alone
    _, out, _ = run(capsys, "bots", "--json", "--deploys", *connect)
    found = {bot["id"]: bot for bot in json.loads(out)}
    assert found[bot_id]["lastDeploy"] == deploy_at and found[bot_id]["name"] == "deployed-bot"
    _, out, _ = run(capsys, "bots", "--csv", "--deploys", *connect)
    assert "lastDeploy" in out.splitlines()[0] and deploy_at in out


def test_events_marks_where_a_deploy_falls_among_the_runs(
    capsys: pytest.CaptureFixture[str],
    demo: DemoServer,
    connect: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    bot_id, created, deploy_at = deployed(demo, "marked-bot")
    before = demo.store.add_event(bot_id, outcome="0", desc="ok", at=created + timedelta(minutes=1))
    after = [
        demo.store.add_event(bot_id, outcome="4", desc=f"Error: run {n}", at=created + timedelta(minutes=n))
        for n in (4, 5)
    ]
    code, out, err = run(capsys, "events", "marked-bot", *connect)
    assert code == 0, err
    _, header, *rows = out.splitlines()
    assert header.startswith("ID")
    firsts = [row.split()[0] for row in rows]
    marker = next(i for i, row in enumerate(rows) if row.startswith("── deployed"))
    assert rows[marker].startswith(f"── deployed {deploy_at} (2 versions, by ci-deploy) ─")
    assert [f[:8] for f in firsts[:marker]] == [after[1]["id"][:8], after[0]["id"][:8]]
    assert firsts[marker + 1][:8] == before["id"][:8] and marker == 2
    # JSON stays the resources as sent: no history read, no marker.
    mark = len(demo.requests)
    _, out, _ = run(capsys, "events", "marked-bot", "--json", *connect)
    assert "deployed" not in out and history_paths(demo, mark) == []
    assert format_instant(created) < deploy_at
