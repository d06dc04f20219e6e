"""The monitor layer (bot list summary, one bot's event feed, the poll schedule) against the demo
server over real HTTP: what each poll costs, and that every run shows up exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from demo_support import FIXED_NOW, demo_fixture, quiet_demo, settings_for

from botmon_tui.demo import DemoServer
from botmon_tui.demo.store import SEQ_BITS
from botmon_tui.medplum.client import MedplumClient
from botmon_tui.medplum.errors import AuthError, RateLimitedError, ServerError
from botmon_tui.monitor.feed import EventFeed
from botmon_tui.monitor.schedule import PollSchedule
from botmon_tui.monitor.summary import ProjectMonitor, gather_all

demo = demo_fixture(seed=5, history_days=2)
#: The same project with 200 more bots.
crowded_demo = demo_fixture(seed=5, history_days=2, extra_bots=200)


def fhir_requests(demo: DemoServer, mark: int) -> list[str]:
    """Paths of the FHIR requests since ``mark`` (token requests left out)."""
    return [r.path for r in demo.requests[mark:] if "/fhir/" in r.path]


def bot_named(demo: DemoServer, name: str) -> str:
    for bot in demo.store.bots:
        if bot.get("name") == name:
            return str(bot["id"])
    return str(demo.store.add_bot({"name": name, "auditEventDestination": ["resource"]})["id"])


def after_every_run(demo: DemoServer, delta: timedelta) -> datetime:
    """``delta`` after the newest run the demo holds (at least ``FIXED_NOW``). The module's demo is
    shared: another test run before may have stamped runs after ``FIXED_NOW`` (or at the real
    time), and an incremental poll never sees a run stamped before the newest it has read."""
    keys = demo.store.all_events.keys
    newest = datetime.fromtimestamp((keys[-1] >> SEQ_BITS) / 1000, UTC) if keys else FIXED_NOW
    return max(newest, FIXED_NOW) + delta


# ------------------------------------------------------------------------------------------------
# The bot list
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["demo", "crowded_demo"])
async def test_bot_list_poll_costs_two_requests_whatever_the_number_of_bots(
    which: str, request: pytest.FixtureRequest
) -> None:
    demo: DemoServer = request.getfixturevalue(which)
    async with MedplumClient(settings_for(demo)) as medplum:
        monitor = ProjectMonitor(medplum, clock=lambda: FIXED_NOW)
        await monitor.load()
        assert len(monitor.statuses) == len(demo.store.bots)
        # Runs of three different bots land between two polls.
        ids = [str(b["id"]) for b in demo.store.bots[:3]]
        at = after_every_run(demo, timedelta(minutes=5))
        runs = [demo.store.add_event(bot_id, outcome="8", desc="boom", at=at)["id"] for bot_id in ids]
        mark = len(demo.requests)
        changed = await monitor.poll()
        paths = fhir_requests(demo, mark)
        assert len(paths) == 2, paths
        assert paths[0].startswith("/fhir/R4/Bot?") and "_lastUpdated=gt" in paths[0]
        assert paths[1].startswith("/fhir/R4/AuditEvent?") and "type=execute" in paths[1]
        assert set(ids) <= changed
        for bot_id, run in zip(ids, runs, strict=True):
            status = monitor.statuses[bot_id]
            assert status.last_event is not None and status.last_event.id == run
            assert status.last_outcome is not None and status.last_outcome.code == "8"
        # Nothing new: still two requests, nothing changed, nothing counted twice.
        failures = {bot_id: monitor.statuses[bot_id].recent_failures for bot_id in ids}
        mark = len(demo.requests)
        assert await monitor.poll() == set()
        assert len(fhir_requests(demo, mark)) == 2
        assert {bot_id: monitor.statuses[bot_id].recent_failures for bot_id in ids} == failures


class Rendezvous(httpx.AsyncBaseTransport):
    """Holds the first Bot search until an AuditEvent search has also been sent: it completes only
    when the two are in flight together (sent one after the other, it times out)."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.runs_sent = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/AuditEvent"):
            self.runs_sent.set()
        elif request.url.path.endswith("/Bot"):
            await asyncio.wait_for(self.runs_sent.wait(), timeout=5)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_bot_list_load_reads_bots_and_runs_side_by_side(demo: DemoServer) -> None:
    async with MedplumClient(settings_for(demo), transport=Rendezvous()) as medplum:
        monitor = ProjectMonitor(medplum, clock=lambda: FIXED_NOW)
        await monitor.load()  # a RequestTimeout here: the bots were read before the runs were asked
    assert len(monitor.statuses) == len(demo.store.bots)
    assert any(s.last_event is not None for s in monitor.statuses.values())


async def test_gather_all_cancels_the_others_when_one_fails() -> None:
    cancelled = asyncio.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def failing() -> None:
        raise ServerError("boom", status=500)

    with pytest.raises(ServerError, match="boom"):
        await gather_all(slow(), failing())
    assert cancelled.is_set()
    assert await gather_all(asyncio.sleep(0, "a"), asyncio.sleep(0, "b")) == ["a", "b"]


async def test_bot_list_reads_runs_without_their_logs(demo: DemoServer, client: MedplumClient) -> None:
    """The bot list needs outcome, time and bot of a run, not its console output (most of the bytes)."""
    monitor = ProjectMonitor(client, clock=lambda: FIXED_NOW)
    mark = len(demo.requests)
    await monitor.load()
    event_reads = [p for p in fhir_requests(demo, mark) if p.startswith("/fhir/R4/AuditEvent")]
    assert event_reads and all("_elements=" in p for p in event_reads)
    latest = [s.last_event for s in monitor.statuses.values() if s.last_event is not None]
    assert latest and all(e.outcomeDesc is None for e in latest)
    assert all(e.bot_id and e.when and e.outcome is not None for e in latest)


async def test_bot_list_sees_a_new_bot_and_a_rename(demo: DemoServer, client: MedplumClient) -> None:
    monitor = ProjectMonitor(client, clock=lambda: FIXED_NOW)
    await monitor.load()
    bot_id = demo.store.add_bot({"name": "aaa-new-bot", "auditEventDestination": ["resource"]})["id"]
    changed = await monitor.poll()
    assert bot_id in changed and next(iter(monitor.statuses)) == bot_id  # sorted by name
    demo.store.update_bot(bot_id, name="zzz-renamed")
    await monitor.poll()
    assert list(monitor.statuses)[-1] == bot_id
    assert monitor.statuses[bot_id].bot.name == "zzz-renamed"


async def test_bot_list_polls_count_the_failures_load_counts(demo: DemoServer, client: MedplumClient) -> None:
    """Load reads the failures with ``outcome=4,8,12``: a poll counts those too, not a run with an
    unknown outcome code (a run, not a failure)."""
    monitor = ProjectMonitor(client, clock=lambda: FIXED_NOW)
    bot_id = bot_named(demo, "odd-outcomes")
    await monitor.load()
    at = after_every_run(demo, timedelta(minutes=1))
    for code in ("7", "0"):
        demo.store.add_event(bot_id, outcome=code, desc="run", at=at)
    failed = demo.store.add_event(bot_id, outcome="12", desc="boom", at=at)["id"]
    assert bot_id in await monitor.poll()
    status = monitor.statuses[bot_id]
    assert status.runs_seen == 3 and [event_id for _, event_id in status.failed_runs] == [failed]
    assert [e.id for e in monitor.new_failures] == [failed]


# ------------------------------------------------------------------------------------------------
# One bot's feed
# ------------------------------------------------------------------------------------------------


async def test_bot_list_drops_a_deleted_bot_at_the_next_roster(
    demo: DemoServer, client: MedplumClient
) -> None:
    """A deleted bot is invisible to ``_lastUpdated=gt`` polls: a full bot list (every
    ``roster_every``, or asked for by ``r``) drops it, and that poll still costs two requests."""
    now = [FIXED_NOW]
    project = ProjectMonitor(client, clock=lambda: now[0], roster_every=timedelta(minutes=10))
    doomed = demo.store.add_bot({"name": "doomed", "auditEventDestination": ["resource"]})
    await project.load()
    assert doomed["id"] in project.statuses
    demo.store.delete_bot(doomed["id"])
    assert doomed["id"] not in await project.poll() and doomed["id"] in project.statuses
    now[0] += timedelta(minutes=10)
    mark = len(demo.requests)
    changed = await project.poll()
    assert doomed["id"] in changed and doomed["id"] not in project.statuses
    paths = fhir_requests(demo, mark)
    assert len(paths) == 2 and "_lastUpdated" not in paths[0].split("?", 1)[-1].split("&")[0]
    # The next polls are incremental again; request_roster() makes the next one a roll call.
    mark = len(demo.requests)
    await project.poll()
    assert "_lastUpdated=gt" in fhir_requests(demo, mark)[0]
    again = demo.store.add_bot({"name": "doomed too", "auditEventDestination": ["resource"]})
    await project.poll()
    demo.store.delete_bot(again["id"])
    project.request_roster()
    mark = len(demo.requests)
    assert again["id"] in await project.poll() and again["id"] not in project.statuses
    assert len(fhir_requests(demo, mark)) == 2
    # A bot that comes back (restored) comes back whole: the run it made meanwhile counted once.
    demo.store.add_event(
        again["id"], outcome="8", desc="while away", at=after_every_run(demo, timedelta(minutes=30))
    )
    await project.poll()
    demo.store.add_bot(again)
    project.request_roster()
    assert again["id"] in await project.poll()
    back = project.statuses[again["id"]]
    assert back.runs_seen == 1 and back.recent_failures == 1
    assert back.last_event is not None and back.last_event.outcome == "8"  # read without its log


async def test_idle_feed_poll_is_one_small_request(demo: DemoServer, client: MedplumClient) -> None:
    bot_id = bot_named(demo, "feed-idle")
    for i in range(30):
        demo.store.add_event(bot_id, desc=f"run {i}\n" + "x" * 2000, at=FIXED_NOW + timedelta(seconds=i))
    feed = EventFeed(client, bot_id, first_page=20)
    delta = await feed.load_initial()
    assert [e.outcomeDesc.split("\n")[0] for e in delta.added][:2] == ["run 29", "run 28"]  # type: ignore[union-attr]
    mark = len(demo.requests)
    assert not await feed.poll()
    assert not await feed.poll()
    polls = [r for r in demo.requests[mark:] if "/fhir/" in r.path]
    assert len(polls) == 2
    for poll in polls:
        assert "_lastUpdated=gt" in poll.path and "_total" not in poll.path
        assert poll.nbytes < 1000  # an empty Bundle: no rows, no COUNT


async def test_feed_prefetch_sends_the_first_page_early_and_only_once(
    demo: DemoServer, client: MedplumClient
) -> None:
    """An Event tab asks for its first page before building its screen; loading takes that answer
    (no second request). A failed prefetch fails that load only; one nobody takes is dropped."""
    bot_id = bot_named(demo, "feed-prefetch")
    for i in range(5):
        demo.store.add_event(bot_id, desc=f"run {i}", at=FIXED_NOW + timedelta(seconds=i))
    mark = len(demo.requests)
    feed = EventFeed(client, bot_id, first_page=20)
    feed.prefetch()
    feed.prefetch()  # already on its way: not sent twice
    for _ in range(500):  # the request goes out without anyone awaiting it
        if fhir_requests(demo, mark):
            break
        await asyncio.sleep(0.01)
    assert len(fhir_requests(demo, mark)) == 1
    delta = await feed.load_initial()
    assert len(delta.added) == 5 and len(fhir_requests(demo, mark)) == 1

    failing = EventFeed(client, bot_id, first_page=20)
    demo.faults.add(503, path_contains="AuditEvent")
    failing.prefetch()
    with pytest.raises(ServerError):
        await failing.load_initial()
    assert len((await failing.load_initial()).added) == 5  # asked again

    unused = EventFeed(client, bot_id, first_page=20)
    unused.prefetch()
    unused.close()  # the screen went away before it was built: cancelled, nothing left behind
    assert unused._first is None


async def test_feed_delivers_each_run_once_across_ties(demo: DemoServer, client: MedplumClient) -> None:
    bot_id = bot_named(demo, "feed-ties")
    feed = EventFeed(client, bot_id, page_size=20)
    await feed.load_initial()
    # Real time: a late commit is stamped within seconds of the server's clock (its Date header).
    now = datetime.now(UTC)
    tie = now.replace(microsecond=now.microsecond // 1000 * 1000)
    seen: list[str] = []
    expected: list[str] = []
    for burst in range(3):
        at = tie + timedelta(milliseconds=burst)  # each burst shares one millisecond
        expected += [demo.store.add_event(bot_id, desc=f"{burst}/{i}", at=at)["id"] for i in range(7)]
        seen += [e.id for e in (await feed.poll()).added]
    expected.append(demo.store.add_event(bot_id, desc="last", at=tie)["id"])  # a late commit on the tie
    seen += [e.id for e in (await feed.poll()).added]
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))
    assert len(feed) == len(expected)
    assert feed.newest is not None and feed.newest.when == tie + timedelta(milliseconds=2)


async def test_feed_window_is_bounded_and_older_pages_load_on_demand(
    demo: DemoServer, client: MedplumClient
) -> None:
    bot_id = bot_named(demo, "feed-window")
    start = FIXED_NOW - timedelta(days=1)
    times = [start + timedelta(seconds=i) for i in range(130)]
    ids = [demo.store.add_event(bot_id, desc=f"r{i}", at=at)["id"] for i, at in enumerate(times)]
    feed = EventFeed(client, bot_id, window=50, first_page=20, page_size=20)
    await feed.load_initial()
    assert [e.id for e in feed.events] == ids[::-1][:20]
    loaded = 20
    while feed.has_older and not feed.at_limit:
        delta = await feed.load_older()
        assert delta.older and not delta.removed
        loaded += len(delta.added)
    assert loaded == len(feed) == 50 and feed.at_limit
    assert [e.id for e in feed.events] == ids[::-1][:50]
    # New runs push the oldest out of the window; the table is told which rows to drop.
    fresh = [
        demo.store.add_event(bot_id, desc=f"new {i}", at=FIXED_NOW + timedelta(hours=2, seconds=i))["id"]
        for i in range(5)
    ]
    delta = await feed.poll()
    assert [e.id for e in delta.added] == fresh
    assert sorted(delta.removed) == sorted(ids[::-1][45:50])
    assert len(feed) == 50


# ------------------------------------------------------------------------------------------------
# The schedule
# ------------------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_schedule_backs_off_and_announces_recovery() -> None:
    clock = FakeClock()
    schedule = PollSchedule(10.0, clock=clock, wall=lambda: FIXED_NOW, jitter=lambda: 0.0)
    assert schedule.success() == 10.0
    delays = [schedule.failure(ServerError("Server error (HTTP 503)", status=503)) for _ in range(5)]
    # Never longer than the interval: polling recovers within one interval of the server's return.
    assert delays == [2.5, 5.0, 10.0, 10.0, 10.0]
    assert schedule.failure(ServerError("again", status=503)) == 10.0
    assert schedule.status.error_text == "again"
    assert schedule.success() == 10.0
    assert schedule.take_recovered() and not schedule.take_recovered()
    assert schedule.status.error_text is None


def test_schedule_waits_as_long_as_the_rate_limit_says() -> None:
    clock = FakeClock()
    schedule = PollSchedule(2.0, clock=clock, wall=lambda: FIXED_NOW)
    assert schedule.failure(RateLimitedError("Too Many Requests", retry_after=7.5)) == 7.5
    clock.now += 3.0
    assert schedule.success() == pytest.approx(4.5)  # the quota resets later than the interval
    clock.now += 5.0
    assert schedule.success() == 2.0


def test_schedule_stops_hammering_on_bad_credentials() -> None:
    schedule = PollSchedule(10.0, clock=FakeClock(), wall=lambda: FIXED_NOW, jitter=lambda: 0.0)
    assert schedule.failure(AuthError("Not authorized (HTTP 401): Invalid secret")) == 60.0


@pytest.mark.parametrize("interval", [1.0, 2.0, 10.0, 60.0, 600.0, 3600.0])
@pytest.mark.parametrize("draw", [0.0, 0.5, 0.999999])
def test_backoff_never_waits_more_than_a_minute_and_is_jittered(interval: float, draw: float) -> None:
    """Whatever the interval, a failure is retried within 60 s (and within the interval), each
    wait shortened by up to a quarter at random."""
    schedule = PollSchedule(interval, clock=FakeClock(), wall=lambda: FIXED_NOW, jitter=lambda: draw)
    ceiling = min(60.0, max(interval, 2.0))
    delays = [schedule.failure(ServerError("down", status=503)) for _ in range(40)]
    assert all(0 < delay <= ceiling for delay in delays)
    assert delays[-1] == pytest.approx(ceiling * (1 - 0.25 * draw))
    assert delays == sorted(delays)  # it grows, then stays at the ceiling
    assert schedule.failure(AuthError("Invalid secret")) == pytest.approx(60.0 * (1 - 0.25 * draw))
    assert schedule.failure(RateLimitedError("slow down", retry_after=30.0)) == 30.0  # as asked, no jitter


async def test_bots_idle_longer_than_the_newest_runs_get_their_last_run_looked_up_once() -> None:
    """Only the newest 20 runs of the project are read at load: quieter bots' last runs are older
    than that, and each is looked up once (one request per such bot, after load; none per poll)."""
    with quiet_demo(5, history_days=2) as server:
        async with MedplumClient(settings_for(server)) as medplum:
            monitor = ProjectMonitor(medplum, clock=lambda: FIXED_NOW, latest_page=20)
            await monitor.load()
            todo = monitor.needs_backfill()
            assert monitor.horizon is not None and todo
            mark = len(server.requests)
            changed = await monitor.backfill()
            assert set(todo) == changed and len(fhir_requests(server, mark)) == len(todo)
            looked_up_runs = 0
            for bot_id in todo:
                status = monitor.statuses[bot_id]
                truth = max(
                    server.store.events_for(bot_id), key=lambda e: e["meta"]["lastUpdated"], default=None
                )
                assert status.looked_up
                assert (status.last_event.id if status.last_event else None) == (
                    truth["id"] if truth else None
                )
                looked_up_runs += status.last_event is not None
            assert looked_up_runs  # the seeded project has quiet bots that did run
            assert monitor.needs_backfill() == []
            mark = len(server.requests)
            await monitor.poll()
            assert len(fhir_requests(server, mark)) == 2


async def test_runs_per_hour_are_counted_as_events_come_and_go(
    demo: DemoServer, client: MedplumClient
) -> None:
    """EventFeed.hourly (the Event tab's strip) matches a count over the events held, after the
    first page and after polls that push the oldest out of a small window."""
    bot = bot_named(demo, "lab-results-router")
    # After the newest run of the bot (other tests of this module add runs too).
    newest = max(datetime.fromisoformat(e["meta"]["lastUpdated"]) for e in demo.store.events_for(bot))
    start = max(newest, FIXED_NOW) + timedelta(seconds=1)
    now = start + timedelta(minutes=1)
    feed = EventFeed(client, bot, window=150, first_page=100)

    def counted() -> list[tuple[int, int]]:
        hours = [(0, 0)] * 48
        current = int(now.timestamp() // 3600)
        for event in feed.events:
            assert event.when is not None
            slot = min(47, int(event.when.timestamp() // 3600) - current + 47)
            if slot >= 0:
                runs, failed = hours[slot]
                hours[slot] = (runs + 1, failed + (event.outcome in ("4", "8", "12")))
        assert feed.hourly(now, 48) == hours
        return hours

    await feed.load_initial()
    assert sum(runs for runs, _ in counted()) > 0
    for second in range(60):
        outcome = "8" if second % 3 == 0 else "0"
        demo.store.add_event(bot, outcome=outcome, desc="run", at=start + timedelta(seconds=second))
    await feed.poll()
    assert len(feed) == 150  # the oldest went out of the window
    last = counted()[-1]
    assert last[0] >= 60 and last[1] >= 20
    # A run stamped in a later hour than "now" (the server's clock ahead) counts in the last hour.
    demo.store.add_event(bot, outcome="12", desc="ahead", at=start + timedelta(hours=2))
    await feed.poll()
    assert feed.hourly(now, 48)[-1] == (last[0] + 1, last[1] + 1)
