"""Reads of one resource and of a Bot's history (issue 18), against the demo over real HTTP, and
what the history says: deploys, and whether a failure streak began after one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from demo_support import FIXED_NOW, demo_fixture, faults_cleared

from botmon_tui.demo import DemoServer
from botmon_tui.formatting import failing_since_text
from botmon_tui.medplum.client import MedplumClient
from botmon_tui.medplum.errors import (
    BadRequestError,
    ForbiddenError,
    GoneError,
    NotFoundError,
    ServerError,
    TooLargeError,
)
from botmon_tui.medplum.models import AuditEvent, Bot, BotVersion, parse_instant, parse_reference
from botmon_tui.monitor.deploys import (
    DEPLOY_GAP,
    Deploy,
    DeployHistory,
    deploy_before,
    first_runs_after,
    group_deploys,
    incident_line,
)
from botmon_tui.monitor.feed import EventFeed

demo = demo_fixture()


@pytest.fixture(autouse=True)
def _no_leftover_faults(demo: DemoServer) -> Iterator[None]:
    yield from faults_cleared(demo)


def new_bot(demo: DemoServer, name: str) -> tuple[str, datetime]:
    """A bot created now (by the wall clock, as a server stamps it), and when; deploys come after."""
    bot = demo.store.add_bot({"resourceType": "Bot", "name": name})
    created = parse_instant(bot["meta"]["lastUpdated"])
    assert created is not None
    return str(bot["id"]), created


def fhir_paths(demo: DemoServer, mark: int) -> list[str]:
    return [path for method, path, *_ in demo.requests[mark:] if path.startswith("/fhir/")]


# ------------------------------------------------------------------------------- one resource


def seeded_input(demo: DemoServer, state: str) -> str:
    """An input some seeded run references, which a read finds in ``state`` (ok, deleted...)."""
    for bot in demo.store.bots:
        for event in demo.store.events_for(bot["id"]):
            for entity in event.get("entity") or []:
                ref = entity["what"]["reference"]
                if not ref.startswith(("Bot/", "Subscription/")) and demo.store.resource_state(ref) == state:
                    return str(ref)
    raise AssertionError(f"no seeded input is {state}")


async def test_a_referenced_resource_is_read_with_one_get(demo: DemoServer, client: MedplumClient) -> None:
    ref = seeded_input(demo, "ok")
    mark = len(demo.requests)
    data = await client.read_reference(ref)
    assert f"{data['resourceType']}/{data['id']}" == ref
    assert fhir_paths(demo, mark) == [f"/fhir/R4/{ref}"]


@pytest.mark.parametrize(
    ("state", "error", "words"),
    [
        ("forbidden", ForbiddenError, "Forbidden"),
        ("deleted", GoneError, "Deleted"),
        ("unknown", NotFoundError, ""),
    ],
)
async def test_403_410_and_404_are_typed(
    demo: DemoServer, client: MedplumClient, state: str, error: type[Exception], words: str
) -> None:
    if state == "forbidden":
        ref = "Coverage/" + "c0ffee00-0000-4000-8000-000000000001"
    elif state == "unknown":
        ref = "Patient/never-written-by-anyone"
    else:
        ref = seeded_input(demo, state)
    with pytest.raises(error) as caught:
        await client.read_reference(ref)
    assert words in str(caught.value)
    if state == "deleted":
        assert isinstance(caught.value, NotFoundError) and caught.value.status == 410


@pytest.mark.parametrize(
    "reference",
    [
        "https://evil.example/fhir/R4/Patient/1",
        "//evil.example/Patient/1",
        "Patient?identifier=x",
        "#contained",
        "Patient/1/extra",
        "Patient/..",
        "Patient/../../oauth2/token",
        "patient/1",
        "Patient/" + "a" * 65,
        "Patient/1\x1b]52;c;x\x07",
        "",
    ],
)
async def test_an_untrusted_reference_is_checked_before_any_request(
    demo: DemoServer, client: MedplumClient, reference: str
) -> None:
    mark = len(demo.requests)
    with pytest.raises(BadRequestError) as caught:
        await client.read_reference(reference)
    assert demo.requests[mark:] == []
    assert "\x1b" not in str(caught.value)


def test_reference_shapes() -> None:
    assert parse_reference("Patient/p-1.2") == ("Patient", "p-1.2", None)
    assert parse_reference("Bot/b1/_history/v2") == ("Bot", "b1", "v2")
    with pytest.raises(ValueError):
        parse_reference(None)


async def test_a_body_larger_than_asked_for_is_not_read(demo: DemoServer, client: MedplumClient) -> None:
    ref = seeded_input(demo, "ok")
    with pytest.raises(TooLargeError) as caught:
        await client.read_reference(ref, max_bytes=64)
    assert "larger than 1 KB" in str(caught.value) or "larger than" in str(caught.value)


async def test_an_answer_that_is_another_resource_is_refused(demo: DemoServer, client: MedplumClient) -> None:
    bot = demo.store.bots[0]
    with pytest.raises(BadRequestError):
        await client.read_reference(f"Bot/{bot['id']}/_history/../../x")
    data = await client.read_reference(f"Bot/{bot['id']}")
    assert data["id"] == bot["id"]


# ------------------------------------------------------------------------------- history and deploys


async def test_the_history_lists_versions_newest_first_and_deploys_group_them(
    demo: DemoServer, client: MedplumClient
) -> None:
    bot_id, created = new_bot(demo, "deploy-history")
    first = demo.store.deploy_bot(bot_id, at=created + timedelta(hours=1))
    second = demo.store.deploy_bot(bot_id, at=created + timedelta(hours=5), gap_ms=3000)
    versions = await client.bot_history(bot_id)
    assert [v.when for v in versions] == sorted((v.when for v in versions), reverse=True)
    assert versions[0].version_id == second[-1]["meta"]["versionId"]
    deploys = group_deploys(versions)
    assert len(deploys) == 3  # the creation, and the two deploys
    newest = deploys[0]
    assert newest.versions == tuple(v["meta"]["versionId"] for v in second)
    assert newest.at - newest.start == timedelta(seconds=3)
    assert deploys[1].versions == tuple(v["meta"]["versionId"] for v in first)


async def test_the_history_of_an_unknown_bot_is_not_found(client: MedplumClient) -> None:
    with pytest.raises(NotFoundError):
        await client.bot_history("no-such-bot")
    with pytest.raises(BadRequestError):
        await client.bot_history("../AuditEvent")


def version(minutes: float, vid: str | None = None) -> BotVersion:
    return BotVersion(vid or f"v{minutes}", FIXED_NOW + timedelta(minutes=minutes))


def test_versions_within_two_minutes_of_each_other_are_one_deploy() -> None:
    deploys = group_deploys([version(0), version(1.5), version(3.4), version(10), version(12.5)])
    assert [d.versions for d in deploys] == [("v12.5",), ("v10",), ("v0", "v1.5", "v3.4")]
    assert deploys[-1].at == FIXED_NOW + timedelta(minutes=3.4)
    # The whole history read: a creation alone is not a deploy; created and deployed at once is.
    assert [d.versions for d in group_deploys([version(0), version(10)], complete=True)] == [("v10",)]
    assert len(group_deploys([version(0), version(0.5)], complete=True)) == 1
    assert timedelta(minutes=2) == DEPLOY_GAP


def test_a_streak_is_said_to_follow_a_deploy_within_30_minutes() -> None:
    deploys = group_deploys([version(0), version(0.05)])  # deployed at 12:00:03
    at = deploys[0].at
    assert deploy_before(deploys, at + timedelta(minutes=2)) == deploys[0]
    assert deploy_before(deploys, at + timedelta(minutes=31)) is None
    assert deploy_before(deploys, at - timedelta(seconds=1)) is None
    since = datetime(2025, 3, 14, 12, 4, tzinfo=UTC)
    two = [Deploy(since - timedelta(minutes=2, seconds=5), since - timedelta(minutes=2), ("a", "b"))]
    assert incident_line(since, two, UTC) == "failing since 12:04, 2 min after a deploy (12:02)"
    assert incident_line(since, [], UTC) == "failing since 12:04"
    assert failing_since_text(since, since - timedelta(seconds=40), UTC) == (
        "failing since 12:04, 40 s after a deploy (12:03)"
    )
    # Another day than now: the date is said.
    assert failing_since_text(since, None, UTC, now=since + timedelta(days=1)) == "failing since 03-14 12:04"


async def test_the_history_is_read_once_and_again_only_for_a_new_version(
    demo: DemoServer, client: MedplumClient
) -> None:
    bot_id, created = new_bot(demo, "deploy-cache")
    history = DeployHistory(client, bot_id)

    def bot_version() -> str:
        bot = demo.store.bot(bot_id)
        assert bot is not None
        return str(bot["meta"]["versionId"])

    mark = len(demo.requests)
    assert await history.refresh(bot_version()) is False  # read: only the creation, no deploy
    assert history.loaded and history.reads == 1 and history.deploys == []
    assert await history.refresh(bot_version()) is False
    assert await history.refresh(None) is False  # (unknown: no read)
    assert fhir_paths(demo, mark) == [f"/fhir/R4/Bot/{bot_id}/_history"]
    demo.store.deploy_bot(bot_id, at=created + timedelta(minutes=5))
    assert await history.refresh(bot_version())
    assert len(fhir_paths(demo, mark)) == 2 and history.reads == 2
    assert history.last_deploy is not None and history.last_deploy.at > created + timedelta(minutes=5)
    # A failed read keeps the deploys read before and is not repeated for the same version.
    demo.store.deploy_bot(bot_id, at=created + timedelta(minutes=10))
    demo.faults.add(status=500, path_contains="_history")
    with pytest.raises(ServerError):
        await history.refresh(bot_version())
    assert history.last_deploy is not None and history.error is not None
    assert await history.refresh(bot_version()) is False
    assert history.reads == 3


# ------------------------------------------------------------------------------- the streak


def run(n: int, outcome: str, at: datetime) -> AuditEvent:
    return AuditEvent.model_validate(
        {
            "resourceType": "AuditEvent",
            "id": f"ev-{n:03d}",
            "meta": {"lastUpdated": (at + timedelta(seconds=1)).isoformat()},
            "period": {"start": at.isoformat(), "end": (at + timedelta(seconds=1)).isoformat()},
            "outcome": outcome,
        }
    )


def feed_of(outcomes: str, *, trigger: str | None = None, has_older: bool = False) -> EventFeed:
    feed = EventFeed(client=None, bot_id="b1")  # type: ignore[arg-type]
    feed.bot = Bot.model_validate({"resourceType": "Bot", "id": "b1", "auditEventTrigger": trigger})
    feed._merge([run(n, code, FIXED_NOW + timedelta(minutes=n)) for n, code in enumerate(outcomes.split())])
    feed.has_older = has_older
    return feed


def test_the_failure_streak_of_the_runs_held() -> None:
    assert feed_of("0 0 4 8 4").failing_since() == FIXED_NOW + timedelta(minutes=2)
    assert feed_of("4 0 4").failing_since() == FIXED_NOW + timedelta(minutes=2)
    assert feed_of("4 4 0").failing_since() is None  # the newest run succeeded
    assert feed_of("4 4").failing_since() == FIXED_NOW  # the whole history held, all failed
    assert feed_of("4 4", has_older=True).failing_since() is None  # began before what is held
    assert feed_of("0 4", trigger="on-error").failing_since() is None  # successes leave no run


def test_where_each_deploy_falls_among_the_runs() -> None:
    runs = [run(n, "0", FIXED_NOW + timedelta(minutes=n)) for n in (50, 40, 30, 10)]  # newest first
    d45, d35, d34, d20, d5 = (
        Deploy(FIXED_NOW + timedelta(minutes=m), FIXED_NOW + timedelta(minutes=m), (f"v{m}",))
        for m in (45, 35, 34, 20, 5)
    )
    late = Deploy(FIXED_NOW + timedelta(minutes=55), FIXED_NOW + timedelta(minutes=55), ("v55",))
    after, newer = first_runs_after([late, d45, d35, d34, d20, d5], runs)
    # Under the run after each: 45 under 50's row, 35 under 40's (34, with no run between, is not
    # placed), 20 under 30's; 5 is older than every run; 55 is after the newest.
    assert after == {"ev-050": d45, "ev-040": d35, "ev-030": d20}
    assert newer == [late]
    assert first_runs_after([d5], []) == ({}, [])
