"""The MedplumClient against the embedded demo server, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import itertools
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from demo_support import FIXED_NOW, demo_fixture, faults_cleared, settings_for

from botmon_tui.demo import DemoServer
from botmon_tui.medplum.auth import ConnectionSettings, Secret
from botmon_tui.medplum.client import MedplumClient
from botmon_tui.medplum.errors import (
    AuthError,
    BadRequestError,
    BadResponseError,
    ForbiddenError,
    MedplumError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    RequestTimeout,
    ServerError,
)
from botmon_tui.medplum.models import FAILURE_CODES, AuditEvent, Bot
from botmon_tui.medplum.watermark import EventCursor

demo = demo_fixture(seed=11, history_days=3)


@pytest.fixture(autouse=True)
def _no_leftover_faults(demo: DemoServer) -> Iterator[None]:
    yield from faults_cleared(demo)


def busiest_bot(demo: DemoServer) -> str:
    return str(max(demo.store.bots, key=lambda bot: len(demo.store.events_for(bot["id"])))["id"])


def new_bot(demo: DemoServer, name: str) -> str:
    return str(demo.store.add_bot({"resourceType": "Bot", "name": name})["id"])


def requests_since(demo: DemoServer, mark: int) -> list[tuple[str, str, int, int]]:
    return list(demo.requests[mark:])


def assert_clean(err: MedplumError, demo: DemoServer, *extra: str) -> None:
    text = str(err)
    assert "\n" not in text
    for secret in (demo.client_secret, *extra):
        assert secret not in text


# ------------------------------------------------------------------------------------------------
# Paging
# ------------------------------------------------------------------------------------------------


async def test_list_bots_follows_every_next_page(demo: DemoServer, client: MedplumClient) -> None:
    bots = demo.store.bots
    assert len(bots) > 5
    mark = len(demo.requests)
    page = await client.list_bots(page_size=3)
    assert sorted(b.id for b in page.resources) == sorted(b["id"] for b in bots)
    assert page.invalid == 0
    assert [r["id"] for r in page.raw] == [b.id for b in page.resources]
    searches = [r for r in requests_since(demo, mark) if "/Bot" in r[1]]
    assert len(searches) == -(-len(bots) // 3)  # ceil: one request per page


async def test_events_page_through_next_newest_first(demo: DemoServer, client: MedplumClient) -> None:
    bot_id = busiest_bot(demo)
    expected = [e["id"] for e in demo.store.events_for(bot_id)]
    assert len(expected) > 40
    seen: list[AuditEvent] = []
    async for page in client.iter_pages("AuditEvent", client.event_params(bot_id, count=20), AuditEvent):
        seen.extend(page.resources)
    assert [e.id for e in seen] == expected
    stamps = [e.when for e in seen]
    assert all(a is not None and b is not None and a >= b for a, b in itertools.pairwise(stamps))
    assert all(e.bot_id == bot_id for e in seen)


async def test_outcome_filters(demo: DemoServer, client: MedplumClient) -> None:
    bot_id = new_bot(demo, "filters")
    at = FIXED_NOW - timedelta(hours=1)
    for index, outcome in enumerate(["0", "4", "0", "8", "12", "0", "4"]):
        demo.store.add_event(bot_id, outcome=outcome, desc=f"run {index}", at=at + timedelta(seconds=index))
    ok = await client.bot_events(bot_id, count=100, outcomes=["0"])
    assert [e.outcome for e in ok.resources] == ["0", "0", "0"]
    failed = await client.bot_events(bot_id, count=100, failed_only=True)
    assert [e.outcome for e in failed.resources] == ["4", "12", "8", "4"]  # newest first
    assert all(e.outcome in FAILURE_CODES for e in failed.resources)
    recent = await client.bot_events(bot_id, count=100, since=at + timedelta(seconds=5))
    assert [e.outcomeDesc for e in recent.resources] == ["run 6", "run 5"]


# ------------------------------------------------------------------------------------------------
# Incremental polling
# ------------------------------------------------------------------------------------------------


async def test_events_since_delivers_tied_events_exactly_once(
    demo: DemoServer, client: MedplumClient
) -> None:
    bot_id = new_bot(demo, "ties")
    cursor = EventCursor(scope={"entity": f"Bot/{bot_id}"})
    tie = datetime.now(UTC).replace(microsecond=(datetime.now(UTC).microsecond // 1000) * 1000)
    first = [demo.store.add_event(bot_id, desc=f"a{i}", at=tie)["id"] for i in range(3)]
    got, more = await client.events_since(cursor, count=100)
    assert sorted(e.id for e in got) == sorted(first) and not more
    # More runs land on the very same millisecond, and one later.
    late = [demo.store.add_event(bot_id, desc=f"b{i}", at=tie)["id"] for i in range(2)]
    later = demo.store.add_event(bot_id, desc="c", at=tie + timedelta(milliseconds=1))["id"]
    got, _ = await client.events_since(cursor, count=100)
    assert sorted(e.id for e in got) == sorted([*late, later])
    got, _ = await client.events_since(cursor, count=100)
    assert got == []


async def test_events_since_across_a_page_boundary(demo: DemoServer, client: MedplumClient) -> None:
    """A group of tied events straddles the page boundary: Medplum's cursor (``ge`` the next
    page's first instant) sends some of them twice; each is delivered once."""
    bot_id = new_bot(demo, "burst")
    cursor = EventCursor(scope={"entity": f"Bot/{bot_id}"})
    got, _ = await client.events_since(cursor, count=20)
    assert got == []
    tie = datetime.now(UTC).replace(microsecond=0)
    burst = [demo.store.add_event(bot_id, desc=f"a{i}", at=tie)["id"] for i in range(15)]
    burst += [
        demo.store.add_event(bot_id, desc=f"b{i}", at=tie + timedelta(milliseconds=1))["id"]
        for i in range(10)
    ]
    mark = len(demo.requests)
    got, more = await client.events_since(cursor, count=20)
    assert not more
    assert len(got) == len(burst) and sorted(e.id for e in got) == sorted(burst)  # each once
    assert [e.outcomeDesc for e in got][:15] == [f"a{i}" for i in range(15)] or len(
        {e.outcomeDesc for e in got}
    ) == 25
    pages = [r for r in requests_since(demo, mark) if "AuditEvent" in r[1]]
    assert len(pages) == 2 and "_cursor=" in pages[1][1]
    again, _ = await client.events_since(cursor, count=20)
    assert again == []


async def test_events_since_survives_a_page_of_one_timestamp(demo: DemoServer, client: MedplumClient) -> None:
    """More tied events than a page: Medplum's cursor cannot move past them (HTTP 500 "Cursor fails to
    make progress"); the poll asks again with the widest page and delivers each event once."""
    bot_id = new_bot(demo, "tied-burst")
    cursor = EventCursor(scope={"entity": f"Bot/{bot_id}"})
    await client.events_since(cursor, count=20)
    tie = datetime.now(UTC).replace(microsecond=0)
    burst = [demo.store.add_event(bot_id, desc=f"t{i}", at=tie)["id"] for i in range(30)]
    mark = len(demo.requests)
    got, more = await client.events_since(cursor, count=20)
    assert not more and sorted(e.id for e in got) == sorted(burst)
    statuses = [(status, "_count=1000" in path) for _m, path, status, _n in requests_since(demo, mark)]
    assert statuses == [(500, False), (200, True)]
    again, _ = await client.events_since(cursor, count=20)
    assert again == []


# ------------------------------------------------------------------------------------------------
# Authentication
# ------------------------------------------------------------------------------------------------


def token_posts(demo: DemoServer, mark: int) -> int:
    return sum(
        1 for method, path, *_ in requests_since(demo, mark) if method == "POST" and "oauth2/token" in path
    )


async def test_expired_token_is_renewed_silently_once(demo: DemoServer) -> None:
    async with MedplumClient(settings_for(demo)) as medplum:
        await medplum.get_bot(busiest_bot(demo))
        mark = len(demo.requests)
        demo.faults.add(kind="expire_tokens")
        bot = await medplum.get_bot(busiest_bot(demo))
        assert bot.id == busiest_bot(demo)
        assert token_posts(demo, mark) == 1
        assert medplum.stats.token_requests == 2
        # Every request is counted by method: two token POSTs, the three GETs (one refused).
        assert medplum.stats.methods == {"POST": 2, "GET": 3} and medplum.stats.requests == 5


async def test_token_is_renewed_before_it_expires(demo: DemoServer) -> None:
    now = [1000.0]
    async with MedplumClient(settings_for(demo), clock=lambda: now[0]) as medplum:
        await medplum.list_bots()
        mark = len(demo.requests)
        await medplum.list_bots()
        assert token_posts(demo, mark) == 0
        now[0] += 3600  # the demo's expires_in
        await medplum.list_bots()
        assert token_posts(demo, mark) == 1
        statuses = [status for *_, status, _ in requests_since(demo, mark)]
        assert 401 not in statuses  # renewed ahead of time, not after a refusal


async def test_static_token(demo: DemoServer) -> None:
    async with httpx.AsyncClient() as raw:
        answer = await raw.post(
            f"{demo.base_url}oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": demo.client_id,
                "client_secret": demo.client_secret,
            },
        )
    token = answer.json()["access_token"]
    settings = settings_for(
        demo, client_id=None, client_secret=None, access_token=Secret(token), auth_method="token"
    )
    async with MedplumClient(settings) as medplum:
        assert (await medplum.list_bots()).resources
        assert medplum.stats.token_requests == 0
        demo.faults.add(kind="expire_tokens")
        with pytest.raises(AuthError) as info:
            await medplum.list_bots()  # nothing to renew a static token with
    assert_clean(info.value, demo, token)


async def test_basic_auth(demo: DemoServer) -> None:
    mark = len(demo.requests)
    async with MedplumClient(settings_for(demo, auth_method="basic")) as medplum:
        assert (await medplum.list_bots()).resources
        assert medplum.stats.token_requests == 0
    assert token_posts(demo, mark) == 0


def test_basic_credentials_as_sent_are_a_secret_of_the_settings(demo: DemoServer) -> None:
    """The base64 of ``id:secret`` in the Basic header is scrubbed by whoever reads the settings'
    secrets (the CLI's output from the start, not only once a client has been made)."""
    settings = settings_for(demo, auth_method="basic")
    encoded = settings.basic_header().removeprefix("Basic ")
    assert encoded in settings.secrets() and demo.client_secret in settings.secrets()
    assert encoded not in settings_for(demo).secrets()  # never sent: nothing to scrub


async def test_wrong_secret_is_an_auth_error(demo: DemoServer) -> None:
    wrong = "0123456789abcdef-not-the-secret"
    async with MedplumClient(settings_for(demo, client_secret=Secret(wrong))) as medplum:
        with pytest.raises(AuthError) as info:
            await medplum.list_bots()
    assert_clean(info.value, demo, wrong)
    assert not info.value.retryable


# ------------------------------------------------------------------------------------------------
# Errors, one per fault
# ------------------------------------------------------------------------------------------------


async def warm(client: MedplumClient) -> None:
    """Get a token first, so a fault hits the FHIR request and not the token request."""
    await client.list_bots()


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, AuthError),
        (403, ForbiddenError),
        (404, NotFoundError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
    ],
)
async def test_status_faults(
    demo: DemoServer, client: MedplumClient, status: int, error: type[MedplumError]
) -> None:
    await warm(client)
    demo.faults.add(status=status, count=2 if status == 401 else 1, path_contains="/fhir/")
    with pytest.raises(error) as info:
        await client.list_bots()
    assert info.value.status == status
    assert_clean(info.value, demo)


async def test_unknown_bot_is_not_found(demo: DemoServer, client: MedplumClient) -> None:
    with pytest.raises(NotFoundError):
        await client.get_bot("00000000-0000-4000-8000-000000000000")


async def test_unknown_search_parameter_is_a_bad_request_with_the_server_text(client: MedplumClient) -> None:
    with pytest.raises(BadRequestError) as info:
        await client.search("AuditEvent", [("bogus", "1")], AuditEvent)
    assert "Unknown search parameter: bogus" in str(info.value)
    assert info.value.status == 400


async def test_rate_limited_waits_ms_before_next(demo: DemoServer, client: MedplumClient) -> None:
    await warm(client)
    demo.faults.rate_limited(ms_before_next=1500)
    with pytest.raises(RateLimitedError) as info:
        await client.list_bots()
    assert info.value.retry_after == pytest.approx(1.5)
    assert info.value.retryable


@pytest.mark.parametrize("kind", ["html", "empty", "malformed"])
async def test_unreadable_bodies_are_bad_responses(
    demo: DemoServer, client: MedplumClient, kind: str
) -> None:
    """A proxy's HTML page, an empty 200, JSON cut off in the middle: not FHIR."""
    await warm(client)
    demo.faults.add(kind=kind, path_contains="/fhir/")
    with pytest.raises(BadResponseError) as info:
        await client.list_bots()
    assert_clean(info.value, demo)
    assert info.value.retryable


async def test_truncated_body_is_a_dropped_connection(demo: DemoServer, client: MedplumClient) -> None:
    """Fewer bytes than Content-Length, then the connection closes: httpx sees the transfer
    fail, so this is reported as a dropped connection (retryable), not as a bad body."""
    await warm(client)
    demo.faults.add(kind="truncated", path_contains="/fhir/")
    with pytest.raises(NetworkError, match="dropped") as info:
        await client.list_bots()
    assert_clean(info.value, demo)
    assert info.value.retryable


async def test_dropped_connection_is_a_network_error(demo: DemoServer, client: MedplumClient) -> None:
    await warm(client)
    demo.faults.add(kind="drop", path_contains="/fhir/")
    with pytest.raises(NetworkError) as info:
        await client.list_bots()
    assert_clean(info.value, demo)


async def test_hang_is_a_timeout(demo: DemoServer) -> None:
    async with MedplumClient(settings_for(demo, timeout=0.3)) as medplum:
        await warm(medplum)
        demo.faults.add(kind="hang", path_contains="/fhir/", latency=2.0)
        with pytest.raises(RequestTimeout) as info:
            await medplum.list_bots()
    assert_clean(info.value, demo)


async def test_connection_refused_is_a_network_error(demo: DemoServer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with MedplumClient(settings_for(demo, base_url=f"http://127.0.0.1:{port}/")) as medplum:
        with pytest.raises(NetworkError) as info:
            await medplum.list_bots()
    assert_clean(info.value, demo)
    assert f"127.0.0.1:{port}" in str(info.value)


# ------------------------------------------------------------------------------------------------
# Read-only
# ------------------------------------------------------------------------------------------------


async def test_client_sends_only_get_and_token_post(demo: DemoServer) -> None:
    mark = len(demo.requests)
    async with MedplumClient(settings_for(demo)) as medplum:
        bots = await medplum.list_bots(page_size=4)
        for bot in bots.resources[:3]:
            await medplum.get_bot(bot.id)
            await medplum.bot_events(bot.id, count=5, failed_only=True)
        await medplum.events_since(EventCursor(scope={"type": "execute"}), count=50, max_pages=2)
        await medplum.bots_changed_since(FIXED_NOW - timedelta(days=1))
    sent = requests_since(demo, mark)
    assert sent
    for method, path, *_ in sent:
        assert method == "GET" or (method == "POST" and path.split("?")[0].endswith("/oauth2/token")), (
            method,
            path,
        )
    assert isinstance(Bot.model_validate(bots.raw[0]), Bot)


async def test_http2_is_offered_over_tls_only() -> None:
    """httpx negotiates HTTP/2 with ALPN, over TLS only: a plain http:// server (a local dev
    server) gets HTTP/1.1 and h2 is not set up for it."""
    pytest.importorskip("h2")
    for base, expected in (("https://medplum.example.org/", True), ("http://127.0.0.1:8103/", False)):
        client = MedplumClient(
            ConnectionSettings(base_url=base, access_token=Secret("t"), auth_method="token")
        )
        try:
            pool = client._http._transport._pool  # type: ignore[attr-defined]
            assert pool._http2 is expected, base
        finally:
            await client.aclose()
