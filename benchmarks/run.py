"""botmon-tui performance benchmark (issue #5): ``python benchmarks/run.py``.

Starts the demo backend in its own process with large data (1,000 extra bots, one bot with
100,000 AuditEvents, logs of realistic size), then drives the real app (``BotmonApp`` headless,
``App.run_test`` + Pilot, a 120x40 terminal) in fresh worker processes, and compares every figure
with a baseline measured in the same run. Prints a table (PASS/FAIL per target) and writes
``benchmarks/results.json`` (and the table as Markdown, ``benchmarks/results.md``).

Each app figure is the median of ``--runs`` worker processes (min and max shown); the idle CPU
figure is one ``--cpu-seconds`` window (its 10 s slices give min and max).

What is measured, and how:

* **paint**: headless Textual skips turning the compositor's update into terminal output; the
  workers do it anyway (``render_segments``) and time-stamp each paint, so "on screen" means
  the frame a terminal would have received.
* **stall**: a probe task in the app's event loop sleeps 1 ms at a time; the longest gap between
  its ticks, from just before the operation until 100 ms after its repaint, is the longest freeze
  a user could notice (network wait, JSON, models, table update and repaint included).
* **requests and bytes**: from the demo server's own request log (response body bytes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import inspect
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIZE = (120, 40)
#: The log searched whole by the ``/`` filter and the pane (issue 18): a bot that prints too much.
HUGE_LOG_CHARS = 200_000
#: "A server farther away": seconds added to every answer for the second Event-tab opening.
NET_LATENCY = 0.05
MB = 1024 * 1024


# ================================================================================================
# Worker side: runs inside a fresh process, drives the real app
# ================================================================================================


class Probe:
    """The longest gap between the ticks of a task that sleeps 1 ms at a time (an event-loop stall)."""

    def __init__(self) -> None:
        self.max_gap = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            self.max_gap = max(self.max_gap, now - last)
            last = now

    def start(self) -> None:
        self.max_gap = 0.0
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> float:
        """Stop; the longest gap in milliseconds."""
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        return self.max_gap * 1000


class Paints:
    """Time-stamps every frame the app sends to its (headless) terminal, rendering it as a driver would."""

    def __init__(self, app: Any) -> None:
        from textual._compositor import CompositorUpdate

        self.times: list[float] = []
        self._waiters: list[tuple[Callable[[], bool], float, asyncio.Future[float]]] = []
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            if renderable is not None and not app._batch_count:
                if isinstance(renderable, CompositorUpdate):
                    renderable.render_segments(app.console)
                now = time.perf_counter()
                self.times.append(now)
                for waiter in list(self._waiters):
                    check, after, future = waiter
                    if now >= after and not future.done() and holds(check):
                        future.set_result(now)
                        self._waiters.remove(waiter)
            original(screen, renderable)

        app._display = display

    def when(self, check: Callable[[], bool] = lambda: True, after: float = 0.0) -> asyncio.Future[float]:
        """A future for the time of the first frame after ``after`` painted while ``check()`` holds."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters.append((check, after, future))
        return future


class Control:
    """The benchmark's handle on the demo host (its control port and the FHIR server itself)."""

    def __init__(self, info: dict[str, Any]) -> None:
        import httpx

        self.http = httpx.Client(base_url=info["control_url"], timeout=60)

    def mark(self) -> int:
        return int(self.http.get("/mark").json()["count"])

    def requests_since(self, mark: int) -> list[tuple[str, str, int, int]]:
        return [tuple(r) for r in self.http.get("/requests", params={"since": mark}).json()]

    def latency(self, seconds: float) -> None:
        self.http.get("/latency", params={"s": seconds}).raise_for_status()

    def add_events(self, bot_id: str, n: int, *, fail_last: bool = False) -> list[str]:
        """``n`` runs of the bot, one in 20 failed (``fail_last``: and the newest: it is failing)."""
        params = {"bot": bot_id, "n": str(n), "fail_last": "1" if fail_last else "0"}
        return list(self.http.get("/add", params=params).json()["ids"])

    def add_log(self, bot_id: str, size: int, needle: str) -> str:
        """Store one failed run of ``bot_id``: a log of ``size`` characters, ``needle`` on its last line."""
        params = {"bot": bot_id, "bytes": str(size), "needle": needle}
        return str(self.http.get("/add_log", params=params).json()["id"])


def token_form(info: dict[str, Any]) -> dict[str, str]:
    """The client-credentials form of the baselines' own token requests."""
    return {
        "grant_type": "client_credentials",
        "client_id": info["client_id"],
        "client_secret": info["client_secret"],
    }


async def raw_client(info: dict[str, Any]) -> Any:
    """A plain httpx client with a bearer token (the baselines' "raw" requests), connection warmed."""
    import httpx

    http = httpx.AsyncClient(base_url=info["base_url"], timeout=60)
    token = (await http.post("oauth2/token", data=token_form(info))).json()["access_token"]
    http.headers["Authorization"] = f"Bearer {token}"
    http.headers["Accept"] = "application/fhir+json"
    (await http.get("fhir/R4/Bot", params={"_count": "1"})).raise_for_status()
    return http


async def timed_get(http: Any, path: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = await http.get(path)
    body = response.content
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed * 1000, len(body)


def make_app(info: dict[str, Any], **options: Any) -> Any:
    from botmon_tui.medplum.auth import ConnectionSettings, Secret
    from botmon_tui.medplum.client import MedplumClient
    from botmon_tui.monitor.session import Connection
    from botmon_tui.ui.app import BotmonApp

    settings = ConnectionSettings(
        base_url=info["base_url"], client_id=info["client_id"], client_secret=Secret(info["client_secret"])
    )
    from botmon_tui.crashlog import CrashLog

    defaults: dict[str, Any] = {
        "interval": 3600.0,
        "auto_poll": False,
        "close_client": True,
        # The driver's state directory (see crash_logs), never the user's own crash log.
        "crash_log": CrashLog(Path(os.environ[STATE_HOME]) / "botmon-tui.log"),
    }
    defaults.update(options)
    app = BotmonApp(connections=[Connection(MedplumClient(settings), "")], **defaults)
    app.animation_level = "none"
    return app


def sorted_by(table: Any, column: str) -> bool:
    """The table is sorted by ``column`` now (a check for :func:`measured`)."""
    return bool(table.sort_column == column)


def more_rows_than(table: Any, count: int) -> bool:
    """The table shows more than ``count`` rows now (a check for :func:`measured`)."""
    return bool(table.row_count > count)


def plain_text(cell: Any) -> str:
    """The sort key of a Rich ``Text`` cell (for ``DataTable.sort``)."""
    return str(cell.plain)


def press(app: Any, *keys: str) -> None:
    """Send keys as the terminal driver would (no Pilot waits: Pilot's idle detection cannot work
    while the stall probe keeps the process busy, and its waits would blur the timings)."""
    import unicodedata

    from textual import events
    from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key

    for key in keys:
        if len(key) == 1 and not key.isalnum():
            key = _character_to_key(key)
        original = REPLACED_KEYS.get(key, key)
        char: str | None
        try:
            char = unicodedata.lookup(_get_unicode_name_from_key(original))
        except KeyError:
            char = key if len(key) == 1 else None
        event = events.Key(key, char)
        event.set_sender(app)
        app._driver.send_message(event)


def holds(predicate: Callable[[], bool]) -> bool:
    """``predicate()``, False while the widgets it looks for are not mounted yet."""
    from textual.css.query import NoMatches

    try:
        return predicate()
    except NoMatches:
        return False


async def until(predicate: Callable[[], bool], limit: float = 60.0) -> None:
    deadline = time.perf_counter() + limit
    while not holds(predicate):
        if time.perf_counter() > deadline:
            raise TimeoutError("benchmark step timed out")
        await asyncio.sleep(0.002)


async def quiet(app: Any, seconds: float = 0.1) -> None:
    """Let the app finish its workers and follow-up work (idle handlers, timers) for ``seconds``."""
    await app.workers.wait_for_complete()
    await asyncio.sleep(seconds)


async def polls(
    app: Any, control: Control, n: int, settle: float
) -> tuple[list[int], list[int], list[tuple[str, str, int, int]]]:
    """Poll ``n`` times: the requests and response bytes of each poll, and the last poll's requests."""
    counts, sizes = [], []
    done: list[tuple[str, str, int, int]] = []
    for _ in range(n):
        mark = control.mark()
        app.poll_now()
        await quiet(app, settle)
        done = control.requests_since(mark)
        counts.append(len(done))
        sizes.append(sum(r[3] for r in done))
    return counts, sizes, done


async def measured(
    app: Any, paints: Paints, action: Callable[[], Awaitable[None] | object], check: Callable[[], bool]
) -> tuple[float, float]:
    """Run ``action`` with the stall probe on; (ms to the first frame where ``check()`` holds, stall ms)."""
    probe = Probe()
    probe.start()
    await asyncio.sleep(0.005)
    started = time.perf_counter()
    frame = paints.when(check, after=started)
    result = action()
    if inspect.isawaitable(result):
        await result
    await app.workers.wait_for_complete()
    painted = await asyncio.wait_for(frame, 60)
    await asyncio.sleep(0.1)
    stall = await probe.stop()
    return (painted - started) * 1000, stall


async def session(info: dict[str, Any]) -> dict[str, Any]:
    """One full pass over the app: start, bot list polls, Event tab, paging, sort, merge, filter."""
    import psutil
    from textual.widgets import Input

    from botmon_tui.ui.screens.bot_list import BotListScreen
    from botmon_tui.ui.screens.events import EventScreen
    from botmon_tui.ui.widgets.bot_table import BotTable
    from botmon_tui.ui.widgets.event_table import EventTable

    control = Control(info)
    big = info["big_bot"]
    out: dict[str, Any] = {}
    phases: dict[str, float] = {}
    out["phase_s"] = phases
    phase_start = [time.perf_counter()]

    def phase(name: str) -> None:
        now = time.perf_counter()
        phases[name] = round(now - phase_start[0], 2)
        phase_start[0] = now

    # ---------------------------------------------------------------- start: first paint of the bot list
    mark = control.mark()
    app = make_app(info)
    paints = Paints(app)
    started = time.perf_counter()

    def list_painted() -> bool:
        screen = app.screen
        return isinstance(screen, BotListScreen) and screen.query_one(BotTable).row_count > 0

    first_list = paints.when(list_painted)
    async with app.run_test(size=SIZE) as pilot:
        painted = await asyncio.wait_for(first_list, 120)
        out["startup_ms"] = (painted - started) * 1000
        await quiet(app)
        startup_requests = control.requests_since(mark)
        out["startup_requests"] = len(startup_requests)
        startup_paths = [r[1].lstrip("/") for r in startup_requests if r[0] == "GET"]
        out["bots_shown"] = app.screen.query_one(BotTable).row_count
        out["rss_start_mb"] = psutil.Process().memory_info().rss / MB

        phase("startup")
        # ---------------------------------------------------------------- bot list: requests per poll
        per_poll, list_bytes, _ = await polls(app, control, 3, 0.05)
        out["list_poll_requests"] = max(per_poll)
        out["list_poll_bytes"] = statistics.median(list_bytes)

        phase("list_polls")
        # ---------------------------------------------------------------- open the 100,000-event bot
        table = app.screen.query_one(BotTable)
        assert table.select_id(big)
        await pilot.pause()
        mark = control.mark()

        def events_painted() -> bool:
            screen = app.screen
            return isinstance(screen, EventScreen) and screen.query_one(EventTable).row_count > 0

        screen_up = paints.when(lambda: isinstance(app.screen, EventScreen), after=time.perf_counter())
        open_started = time.perf_counter()
        open_ms, open_stall = await measured(app, paints, lambda: press(app, "enter"), events_painted)
        out["open_screen_ms"] = (await screen_up - open_started) * 1000
        out["open_ms"] = open_ms
        out["open_stall_ms"] = open_stall
        opened = control.requests_since(mark)
        out["open_requests"] = [r[1] for r in opened]
        first_page_path = next(r[1] for r in opened if "/AuditEvent" in r[1])
        screen = app.screen
        assert isinstance(screen, EventScreen)
        out["first_page_rows"] = screen.query_one(EventTable).row_count
        out["rss_open_mb"] = psutil.Process().memory_info().rss / MB

        phase("open")
        # ---------------------------------------------------------------- idle polls on the Event tab
        idle_requests, idle_bytes, done = await polls(app, control, 5, 0.02)
        out["idle_poll_requests"] = max(idle_requests)
        out["idle_poll_bytes"] = statistics.median(idle_bytes)
        out["idle_poll_paths"] = [r[1] for r in done]

        phase("idle_polls")
        # ---------------------------------------------------------------- baselines over raw httpx
        http = await raw_client(info)
        web_app = f"fhir/R4/AuditEvent?_count=20&_sort=-_lastUpdated&_total=accurate&entity=Bot%2F{big}"
        web = [await timed_get(http, web_app) for _ in range(3)]
        out["webapp_refresh_bytes"] = statistics.median(b for _, b in web)
        out["webapp_refresh_ms"] = statistics.median(t for t, _ in web)
        raw_first = [await timed_get(http, first_page_path.lstrip("/")) for _ in range(3)]
        out["raw_first_page_ms"] = statistics.median(t for t, _ in raw_first)
        out["first_page_bytes"] = raw_first[0][1]
        # The same with the server farther away (every answer NET_LATENCY later, as over a real
        # network): the raw GET and opening the Event tab again (a fresh screen, a fresh first page).
        control.latency(NET_LATENCY)
        raw_net = [await timed_get(http, first_page_path.lstrip("/")) for _ in range(3)]
        out["raw_first_page_net_ms"] = statistics.median(t for t, _ in raw_net)
        press(app, "escape")
        await until(lambda: isinstance(app.screen, BotListScreen))
        await quiet(app, 0.05)
        assert app.screen.query_one(BotTable).select_id(big)
        await pilot.pause()
        out["open_net_ms"], _ = await measured(app, paints, lambda: press(app, "enter"), events_painted)
        control.latency(0)
        await http.aclose()
        screen = app.screen
        assert isinstance(screen, EventScreen)
        events = screen.query_one(EventTable)
        feed = screen.feed
        bot_ids = list(app.sessions[0].project.statuses)

        phase("raw_baselines")
        # ---------------------------------------------------------------- page through 10,000 events
        events.focus()
        await pilot.pause()
        probe = Probe()
        probe.start()
        page_ms = []
        pages = 0
        mark = control.mark()
        paging_started = time.perf_counter()
        while feed.has_older and not feed.at_limit:
            before = len(feed)
            started = time.perf_counter()
            frame = paints.when(partial(more_rows_than, events, before), after=started)
            press(app, "end")
            painted = await asyncio.wait_for(frame, 30)
            page_ms.append((painted - started) * 1000)
            pages += 1
        await asyncio.sleep(0.1)
        out["older_stall_ms"] = await probe.stop()
        out["older_pages"] = pages
        out["older_page_ms_median"] = statistics.median(page_ms) if page_ms else 0.0
        out["older_page_ms_max"] = max(page_ms, default=0.0)
        out["paging_total_s"] = time.perf_counter() - paging_started
        out["paging_requests"] = len(control.requests_since(mark))
        out["held_after_paging"] = len(feed)
        out["rows_after_paging"] = events.row_count
        # One more request for older events is refused at the window.
        press(app, "o")
        await asyncio.sleep(0.05)
        await quiet(app, 0.05)
        out["held_after_more"] = len(feed)
        gc.collect()
        out["rss_mb"] = psutil.Process().memory_info().rss / MB

        phase("paging")
        # ---------------------------------------------------------------- sort 10,000 rows by each column
        sort_ms = {}
        # The web app's four columns in their order (rows 9-12: each sort starts from the one
        # before, as it always has), then the columns the Event tab adds.
        numbered = list(enumerate(EventTable.COLUMNS, 1))
        for number, column in sorted(numbered, key=lambda pair: pair[1].key not in WEB_APP_COLUMNS):
            key = column.key
            ms, _stall = await measured(
                app,
                paints,
                partial(press, app, str(number)),
                partial(sorted_by, events, key),
            )
            sort_ms[key] = ms
        out["sort_ms"] = sort_ms
        if events.sort_column != "updated":
            # Newest first again (not measured): the merges below start from there.
            await measured(
                app,
                paints,
                partial(press, app, str(EventTable.number_of("updated"))),
                partial(sorted_by, events, "updated"),
            )
        assert events.sort_column == "updated" and events.sort_reverse

        phase("sort")
        # ---------------------------------------------------------------- a poll merges 100 new events
        press(app, "home")
        await asyncio.sleep(0.05)
        await quiet(app, 0.05)
        merge = []
        for _ in range(2):
            new_ids = control.add_events(big, 100)
            ms, stall = await measured(app, paints, app.poll_now, partial(events.has_id, new_ids[-1]))
            merge.append((ms, stall))
            assert all(events.has_id(i) for i in new_ids)
        out["merge_ms"] = max(m for m, _ in merge)
        out["merge_stall_ms"] = max(s for _, s in merge)
        out["held_after_merge"] = len(feed)
        out["rows_after_merge"] = events.row_count

        phase("merge")
        # ---------------------------------------------------------------- filter; clear it (10,000 rows back)
        needle = "CSV parse error"

        async def type_filter() -> None:
            # A key goes to the widget focused when the app reads it: wait for the filter box.
            press(app, "slash")
            await until(lambda: isinstance(app.focused, Input))
            press(app, *needle, "enter")

        def filtered() -> bool:
            return 0 < events.row_count < len(feed) and screen.filter_text == needle

        filter_ms, filter_stall = await measured(app, paints, type_filter, filtered)
        out["filter_ms"], out["filter_stall_ms"] = filter_ms, filter_stall
        out["filter_rows"] = events.row_count
        clear_ms, clear_stall = await measured(
            app, paints, lambda: press(app, "escape"), lambda: events.row_count == len(feed)
        )
        out["clear_filter_ms"], out["clear_filter_stall_ms"] = clear_ms, clear_stall

        phase("filter")
        # ---------------------------------------------------------------- / finds a 200 kB log's last line
        from botmon_tui.ui.widgets.outcome_pane import OutcomePane

        pane = screen.query_one(OutcomePane)
        # (Its own in each run: the runs share the demo host, and the logs of those before it.)
        needle = f"needle-on-the-last-line-{os.getpid()}"
        huge = control.add_log(big, HUGE_LOG_CHARS, needle)
        app.poll_now()
        await until(partial(events.has_id, huge))
        await quiet(app, 0.05)

        async def search_huge() -> None:
            press(app, "slash")
            await until(lambda: isinstance(app.focused, Input))
            press(app, *needle, "enter")

        def found_huge() -> bool:
            return events.ids_in_order() == [huge] and pane.event_id == huge and len(pane.matches) == 1

        huge_ms, huge_stall = await measured(app, paints, search_huge, found_huge)
        out["huge_search_ms"], out["huge_search_stall_ms"] = huge_ms, huge_stall
        press(app, "escape")
        await until(lambda: events.row_count == len(feed))
        await quiet(app, 0.05)

        phase("huge_search")
        all_events = feed.events
    # ---------------------------------------------------------------- baselines after the app ended
    phase("exit")
    # The naive bot list, after the app (its responses are not the app's memory): one request
    # per bot for its last run.
    http = await raw_client(info)
    mark = control.mark()
    started = time.perf_counter()
    for bot_id in bot_ids:
        (
            await http.get(
                "fhir/R4/AuditEvent",
                params={"entity": f"Bot/{bot_id}", "_sort": "-_lastUpdated", "_count": "1"},
            )
        ).raise_for_status()
    out["naive_list_ms"] = (time.perf_counter() - started) * 1000
    naive = control.requests_since(mark)
    out["naive_list_requests"] = len(naive)
    out["naive_list_bytes"] = sum(r[3] for r in naive)
    await http.aclose()
    out["raw_startup_ms"] = raw_startup(info, startup_paths)
    out.update(await naive_tables(all_events))
    phase("naive")
    return out


async def naive_tables(all_events: list[Any]) -> dict[str, Any]:
    """Baselines: a plain DataTable fed with ``add_rows`` / ``add_row`` (no keyed diff, no window tricks)."""
    from rich.text import Text
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable

    from botmon_tui.textsafe import first_line

    columns = list(WEB_APP_COLUMNS)

    def cells(event: Any) -> tuple[Any, ...]:
        return (
            Text(event.id),
            Text(event.outcome_info.display),
            Text(first_line(event.outcomeDesc)),
            Text(event.when.isoformat() if event.when else ""),
        )

    held = all_events[100:]  # 9,900 rows (feed order: newest first) ...
    new = all_events[:100]  # ... and the 100 newest, merged by a poll
    older = held[-100:]
    base = held[:-100]

    class Naive(App[None]):
        def compose(self) -> ComposeResult:
            yield DataTable(cursor_type="row")

    app = Naive()
    app.animation_level = "none"
    paints = Paints(app)
    out: dict[str, Any] = {}
    async with app.run_test(size=SIZE):
        table = app.query_one(DataTable)
        for key in columns:
            table.add_column(key, key=key)
        _, out["naive_load_stall_ms"] = await measured(
            app,
            paints,
            lambda: table.add_rows([cells(e) for e in base]),
            lambda: table.row_count == len(base),
        )
        _, out["naive_older_stall_ms"] = await measured(
            app,
            paints,
            lambda: table.add_rows([cells(e) for e in older]),
            lambda: table.row_count == len(held),
        )

        def add_new() -> None:
            for event in reversed(new):
                table.add_row(*cells(event), key=event.id)

        _, out["naive_merge_stall_ms"] = await measured(
            app, paints, add_new, lambda: table.row_count == len(held) + len(new)
        )
        sorts = {}
        for key in columns:
            sorts[key], _ = await measured(
                app, paints, partial(table.sort, key, key=plain_text), lambda: True
            )
        out["naive_sort_ms"] = sorts
        out["naive_rows"] = table.row_count
    return out


async def idle_cpu(info: dict[str, Any], seconds: float, interval: float) -> dict[str, Any]:
    """The app on the big bot's Event tab, polling every ``interval`` s with nothing new."""
    import psutil

    from botmon_tui.ui.screens.events import EventScreen
    from botmon_tui.ui.widgets.event_table import EventTable

    control = Control(info)
    proc = psutil.Process()
    app = make_app(info, interval=interval, auto_poll=True, bot_id=info["big_bot"])
    Paints(app)  # frames are turned into terminal output, as a real terminal would need
    async with app.run_test(size=SIZE):
        await until(
            lambda: isinstance(app.screen, EventScreen) and app.screen.query_one(EventTable).row_count > 0
        )
        await asyncio.sleep(interval + 1.0)  # past the first poll and the watermark's settle time
        screen = app.screen
        assert isinstance(screen, EventScreen)
        schedule = app.sessions[0].schedule  # (one poll: the project's, and the tab's own when needed)
        polls_before = schedule.status.polls
        mark = control.mark()
        slices = []
        cpu0, wall0 = proc.cpu_times(), time.perf_counter()
        last_cpu, last_wall = cpu0, wall0
        slice_s = 10.0
        while time.perf_counter() - wall0 < seconds - 1e-3:
            await asyncio.sleep(min(slice_s, seconds - (time.perf_counter() - wall0)))
            cpu, wall = proc.cpu_times(), time.perf_counter()
            used = (cpu.user + cpu.system) - (last_cpu.user + last_cpu.system)
            slices.append(100 * used / (wall - last_wall))
            last_cpu, last_wall = cpu, wall
        cpu1, wall1 = proc.cpu_times(), time.perf_counter()
        done = control.requests_since(mark)
        polls = schedule.status.polls - polls_before
        errors = schedule.status.errors_in_a_row
    total = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    return {
        "cpu_pct": 100 * total / (wall1 - wall0),
        "cpu_slices_pct": slices,
        "window_s": wall1 - wall0,
        "interval_s": interval,
        "polls": polls,
        "requests": len(done),
        "searches": sum(1 for r in done if r[1].split("?")[0].endswith("/AuditEvent")),
        "other_requests": sorted(r[0] + " " + r[1].split("?")[0] for r in done if "/AuditEvent" not in r[1]),
        "bytes": sum(r[3] for r in done),
        "errors": errors,
    }


async def alert_session(info: dict[str, Any]) -> dict[str, Any]:
    """Alerts on, toasts shown: what the bot list and an Event tab pay per poll, what a new failure
    costs, and the longest stall of a poll merging new runs (some failed) into 10,000 rows with
    the toast of their alert."""
    from botmon_tui.ui.screens.bot_list import BotListScreen
    from botmon_tui.ui.screens.events import EventScreen
    from botmon_tui.ui.widgets.bot_table import BotTable
    from botmon_tui.ui.widgets.event_table import EventTable

    control = Control(info)
    big = info["big_bot"]
    out: dict[str, Any] = {}
    app = make_app(info)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(lambda: app.sessions[0].project.loaded and app.sessions[0].failure_watch.loaded, 120)
        await quiet(app)
        # ---------------------------------------------------------------- the bot list
        idle, _, _ = await polls(app, control, 3, 0.05)
        out["list_idle_requests"] = max(idle)
        other = next(
            s.bot.id
            for s in app.sessions[0].project.statuses.values()
            if s.bot.display_name == "lab-results-router"
        )
        control.add_events(other, 20, fail_last=True)  # the newest failed: an incident, one alert
        announced = app.alerts.announced
        failing, _, done = await polls(app, control, 1, 0.05)
        out["list_failure_requests"] = failing[0]
        out["list_failure_paths"] = [r[1].split("?")[0] for r in done]
        out["list_failure_alerts"] = app.alerts.announced - announced
        # ---------------------------------------------------------------- another bot's Event tab
        assert isinstance(app.screen, BotListScreen) and app.screen.query_one(BotTable).select_id(other)
        await pilot.pause()
        press(app, "enter")
        await until(lambda: isinstance(app.screen, EventScreen) and app.screen.feed.loaded)
        await quiet(app, 0.05)
        idle, _, done = await polls(app, control, 5, 0.02)
        out["event_idle_requests"] = max(idle)
        out["event_idle_paths"] = [r[1].split("?")[0] for r in done]
        # ---------------------------------------------------------------- the big bot, 10,000 rows
        press(app, "escape")
        await until(lambda: isinstance(app.screen, BotListScreen))
        assert app.screen.query_one(BotTable).select_id(big)
        await pilot.pause()
        press(app, "enter")
        await until(lambda: isinstance(app.screen, EventScreen) and app.screen.feed.loaded)
        screen = app.screen
        assert isinstance(screen, EventScreen)
        events, feed = screen.query_one(EventTable), screen.feed
        events.focus()
        await pilot.pause()
        while feed.has_older and not feed.at_limit:
            before = len(feed)
            press(app, "end")
            await until(partial(more_rows_than, events, before), 30)
        press(app, "home")
        await quiet(app, 0.05)
        app.clear_notifications()
        paints = Paints(app)
        stalls, shown = [], []
        for number in range(2):
            # The first batch ends with a failed run (the bot starts failing: an alert with the
            # bell), the second with a good one (it recovered: a quiet toast).
            new_ids = control.add_events(big, 100, fail_last=number == 0)
            announced = app.alerts.announced

            def merged_and_announced(last: str = new_ids[-1], before: int = announced) -> bool:
                return (
                    events.has_id(last) and app.alerts.announced > before and bool(app.screen.query("Toast"))
                )

            ms, stall = await measured(app, paints, app.poll_now, merged_and_announced)
            stalls.append(stall)
            shown.append(ms)
            app.clear_notifications()
            await quiet(app, 0.05)
        out["merge_alert_stall_ms"] = max(stalls)
        out["merge_alert_ms"] = max(shown)
        out["rows"] = events.row_count
    return out


#: The several-projects benchmark (issue #19): projects, bots each, and how far away each server is.
PROJECTS = 3
PROJECT_BOTS = 300
PROJECT_LATENCY = 0.3


async def project_session(infos: list[dict[str, Any]]) -> dict[str, Any]:
    """Several projects at once (issue #19): three demo backends of 300 bots, one app watching them
    (one ``ProjectSession`` each). What an idle poll of every project costs, per project, the
    longest stall of a poll of all three, and whether they are polled side by side: with every
    server 0.3 s away, one round of polls takes about one project's time, not three."""
    from botmon_tui.crashlog import CrashLog
    from botmon_tui.medplum.auth import ConnectionSettings, Secret
    from botmon_tui.medplum.client import MedplumClient
    from botmon_tui.monitor.session import Connection
    from botmon_tui.ui.app import BotmonApp

    controls = [Control(info) for info in infos]
    connections = [
        Connection(
            MedplumClient(
                ConnectionSettings(
                    base_url=info["base_url"],
                    client_id=info["client_id"],
                    client_secret=Secret(info["client_secret"]),
                )
            ),
            f"project-{number + 1}",
        )
        for number, info in enumerate(infos)
    ]
    app = BotmonApp(
        connections=connections,
        interval=3600.0,
        auto_poll=False,
        close_client=True,
        crash_log=CrashLog(Path(os.environ[STATE_HOME]) / "botmon-tui.log"),
    )
    app.animation_level = "none"
    out: dict[str, Any] = {}

    def polled() -> list[int]:
        return [session.schedule.status.polls for session in app.sessions]

    async def one_round() -> tuple[list[list[tuple[str, str, int, int]]], float, float]:
        """Poll every project once: each project's requests, the longest stall (ms), the wall time (s)."""
        marks = [control.mark() for control in controls]
        before = polled()
        probe = Probe()
        probe.start()
        started = time.perf_counter()
        app.poll_now()
        await until(lambda: all(a > b for a, b in zip(polled(), before, strict=True)), 60)
        wall = time.perf_counter() - started
        await app.workers.wait_for_complete()
        stall = await probe.stop()
        done = [control.requests_since(mark) for control, mark in zip(controls, marks, strict=True)]
        return done, stall, wall

    async with app.run_test(size=SIZE, notifications=True):
        await until(lambda: all(s.project.loaded and s.failure_watch.loaded for s in app.sessions), 120)
        await quiet(app)
        out["bots"] = sum(len(s.project.statuses) for s in app.sessions)
        rounds = [await one_round() for _ in range(5)]
        out["idle_requests"] = max(len(requests) for done, _, _ in rounds for requests in done)
        out["idle_paths"] = sorted({r[1].split("?")[0] for done, _, _ in rounds for rs in done for r in rs})
        out["idle_stall_ms"] = max(stall for _, stall, _ in rounds)
        for control in controls:
            control.latency(PROJECT_LATENCY)
        try:
            timed = [await one_round() for _ in range(3)]
        finally:
            for control in controls:
                control.latency(0)
        out["far_round_s"] = statistics.median(wall for _, _, wall in timed)
        out["far_requests"] = max(len(requests) for done, _, _ in timed for requests in done)
    return out


#: Bots in the states benchmark, and how their expectations are mixed.
CADENCE_BOTS = 1000
CADENCE_CRONS = (
    "*/5 * * * *", "* * * * *", "0 * * * *", "15,45 * * * *", "0 */2 * * *",
    "30 9 * * 1-5", "0 0 1 * *", "0 9 1,15 * 1",
)  # fmt: skip
CADENCE_PERIODS = (1, 2, 6, 12, 24, 30, 48)
#: Polls timed per worker; at each, this share of the bots brought new runs.
CADENCE_POLLS = 30
CADENCE_CHANGED = 0.10


def cadence_session() -> dict[str, Any]:
    """States for 1,000 bots after a poll (issue #17), through the monitor as the app runs it
    (``ProjectMonitor.evaluate`` with its silence slot, ``monitor/silence.py``), no server: 400
    cronString bots, 200 cronTiming bots and 400 without a schedule (regular, bursty, Poisson-like
    and sparse runs, 300 runs each at most, each with its duration). A poll notes one new run of a
    tenth of the bots (their cadence is learned again and their p50/p95 recomputed) and evaluates
    every bot's state (silence and incident); the first evaluation learns them all (the cold
    figure)."""
    import random
    from datetime import UTC, datetime

    from botmon_tui.medplum.models import AuditEvent, Bot
    from botmon_tui.monitor.summary import BotStatus, ProjectMonitor

    rng = random.Random(17)
    now = datetime(2025, 3, 14, 10, 47, tzinfo=UTC).timestamp()

    def run(bot_id: str, n: int, at: float, seconds: float) -> AuditEvent:
        start = datetime.fromtimestamp(at - seconds, UTC)
        end = datetime.fromtimestamp(at, UTC)
        return AuditEvent.model_validate(
            {
                "resourceType": "AuditEvent",
                "id": f"{bot_id}-run-{n}",
                "meta": {"lastUpdated": end.isoformat().replace("+00:00", "Z")},
                "type": {"code": "execute"},
                "outcome": "0",
                "entity": [{"what": {"reference": f"Bot/{bot_id}"}, "role": {"code": "4"}}],
                "period": {"start": start.isoformat(), "end": end.isoformat()},
            }
        )

    clock = [datetime.fromtimestamp(now, UTC)]
    monitor = ProjectMonitor(None, clock=lambda: clock[0])  # type: ignore[arg-type]  # no request
    monitor.loaded = True
    gaps: list[float] = []
    for i in range(CADENCE_BOTS):
        fields: dict[str, Any] = {
            "resourceType": "Bot",
            "id": f"bot-{i}",
            "meta": {"lastUpdated": "2025-01-01T00:00:00.000Z"},
        }
        kind = i % 10
        if kind < 4:
            fields["cronString"] = CADENCE_CRONS[i % len(CADENCE_CRONS)]
        elif kind < 6:
            repeat: dict[str, Any] = {"period": CADENCE_PERIODS[i % len(CADENCE_PERIODS)]}
            if i % 3 == 0:
                repeat["dayOfWeek"] = ["mon", "wed", "fri"]
            fields["cronTiming"] = {"repeat": repeat}
        status = BotStatus(bot=Bot.model_validate(fields))
        status.runlog.before_bounded = True
        monitor.statuses[status.bot.id] = status
        gap = rng.choice([60.0, 300.0, 900.0, 3600.0])
        gaps.append(gap)
        last = now - rng.random() * gap * (1 if i % 7 else 40)  # every 7th bot silent for a while
        if kind in (6, 7):  # regular
            runs = [last - k * gap + rng.uniform(-0.1, 0.1) * gap for k in range(300)]
        elif kind == 8:  # bursty
            runs = [last - (k // 5) * gap * rng.uniform(0.5, 3) - rng.random() for k in range(300)]
        elif i % 20 == 9:  # sparse
            runs = [last - k * rng.expovariate(1 / (6 * gap)) for k in range(10)]
        else:  # Poisson-like, and the scheduled bots' own runs
            runs, when = [], last
            for _ in range(300):
                runs.append(when)
                when -= rng.expovariate(1 / gap)
        for n, at in enumerate(sorted(runs)):  # oldest first, as the load notes them
            monitor._note_run(run(status.bot.id, n, at, rng.lognormvariate(0, 1)))
    started = time.perf_counter()
    monitor.evaluate()
    cold_ms = (time.perf_counter() - started) * 1000
    statuses = list(monitor.statuses.values())
    poll_ms, poll_cpu_ms = [], []
    for n in range(1, CADENCE_POLLS + 1):
        at = now + 10 * n
        changed = rng.sample(range(len(statuses)), int(len(statuses) * CADENCE_CHANGED))
        # (What the poll's answer brings, read before the clock starts: the runs as models.)
        new = [
            run(statuses[i].bot.id, 1000 + n, at - rng.random() * 10, rng.lognormvariate(0, 1))
            for i in changed
        ]
        clock[0] = datetime.fromtimestamp(at, UTC)
        started, cpu = time.perf_counter(), time.process_time()
        for event in new:
            monitor._note_run(event)
        monitor.evaluate()
        for i in changed:  # their rows repaint: the p50/p95 cell
            statuses[i].duration_stats()
        poll_ms.append((time.perf_counter() - started) * 1000)
        poll_cpu_ms.append((time.process_time() - cpu) * 1000)
    kinds: dict[str, int] = {}
    for status in statuses:
        state = status.cadence.kind if status.cadence is not None else "none"
        kinds[state] = kinds.get(state, 0) + 1
    return {
        "poll_ms": statistics.median(poll_ms),
        "poll_cpu_ms": statistics.median(poll_cpu_ms),
        "poll_max_ms": max(poll_ms),
        "cold_ms": cold_ms,
        "kinds": kinds,
        "bots": len(statuses),
    }


#: The incidents benchmark: bots, runs each, and the share of failed runs.
INCIDENT_BOTS = 1000
INCIDENT_RUNS = 10
INCIDENT_FAILED = 0.2
#: Failed runs whose output is read at once: the failure watch's window at load (a poll reads
#: at most 300, three pages of 100).
INCIDENT_WINDOW = 200
INCIDENT_GROUPED = 1000


def incident_session() -> dict[str, Any]:
    """Incidents (issue #16), pure Python: the monitor's bookkeeping of 10,000 runs of 1,000 bots
    (a fifth failed) with every bot's state, then the kind and signature of the failure watch's
    window (200 failed runs, logs of 0.3-10 kB as the bulk importer writes them); the signature of
    one 10 kB log; grouping 1,000 failed runs by signature. Times are process CPU time (the
    machine's other load left out); the AuditEvents are parsed before the clock starts."""
    import random
    from datetime import UTC, datetime, timedelta

    from botmon_tui.demo.catalog import bulk_log
    from botmon_tui.demo.runtime import MAX_LOG_CHARS
    from botmon_tui.medplum.models import AuditEvent, Bot
    from botmon_tui.monitor.alerts import READ_BATCH, FailedRun
    from botmon_tui.monitor.incidents import group_failures
    from botmon_tui.monitor.summary import BotStatus, ProjectMonitor

    rng = random.Random(16)
    now = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)

    def event(n: int, bot: int, failed: bool, log: str | None = None) -> AuditEvent:
        end = now - timedelta(seconds=INCIDENT_BOTS * INCIDENT_RUNS - n)
        return AuditEvent.model_validate(
            {
                "resourceType": "AuditEvent",
                "id": f"e{n:06d}",
                "meta": {"lastUpdated": end.isoformat()},
                "outcome": "4" if failed else "0",
                "period": {
                    "start": (end - timedelta(seconds=rng.uniform(0.1, 9.9))).isoformat(),
                    "end": end.isoformat(),
                },
                "entity": [{"what": {"reference": f"Bot/bot-{bot}"}}],
                **({"outcomeDesc": log} if log is not None else {}),
            }
        )

    runs = [
        event(n, n % INCIDENT_BOTS, rng.random() < INCIDENT_FAILED)
        for n in range(INCIDENT_BOTS * INCIDENT_RUNS)
    ]
    window = [
        event(n, n % INCIDENT_BOTS, True, bulk_log(n, False, 1024 + (n % 10) * 1000))
        for n in range(INCIDENT_WINDOW)
    ]
    ten_kb = event(0, 0, True, bulk_log(3, False, MAX_LOG_CHARS))

    def states() -> dict[str, Any]:
        monitor = ProjectMonitor(None, clock=lambda: now)  # type: ignore[arg-type]
        for i in range(INCIDENT_BOTS):
            monitor.statuses[f"bot-{i}"] = BotStatus(bot=Bot(id=f"bot-{i}", timeout=10))
        # The load's step: every run noted (the bot list's bookkeeping, then the streaks'), then
        # every bot's state. The incidents' share is timed on its own.
        cpu = time.process_time()
        for run in runs:
            monitor._note_run(run)
        note_ms = (time.process_time() - cpu) * 1000
        cpu = time.process_time()
        for (key, lost, duration), status in streak_runs:
            status.runlog.note(key, lost, duration)
        streaks_ms = (time.process_time() - cpu) * 1000
        cpu = time.process_time()
        monitor.evaluate()
        evaluate_ms = (time.process_time() - cpu) * 1000
        # The failure watch's: its window read a batch at a time (a turn of the event loop between).
        batches: list[float] = []
        read: list[FailedRun] = []
        for start in range(0, len(window), READ_BATCH):
            cpu = time.process_time()
            read.extend(
                FailedRun.of(e, monitor.timeout_of(e.bot_id or ""))
                for e in window[start : start + READ_BATCH]
            )
            batches.append((time.process_time() - cpu) * 1000)
        cpu = time.process_time()
        monitor.note_failed_runs(read)
        batches.append((time.process_time() - cpu) * 1000)
        cpu = time.process_time()
        monitor.evaluate()  # a poll with nothing new: every state again (some change with time)
        idle = (time.process_time() - cpu) * 1000
        kinds: dict[str, int] = {}
        for status in monitor.statuses.values():
            kinds[status.incident.state] = kinds.get(status.incident.state, 0) + 1
        return {
            "states_ms": streaks_ms + evaluate_ms,
            "streaks_ms": streaks_ms,
            "evaluate_ms": evaluate_ms,
            "note_ms": note_ms,
            "batch_ms": max(batches),
            "window_ms": sum(batches),
            "idle_ms": idle,
            "kinds": kinds,
        }

    # The streaks' share of the load, replayed on bots of their own (the keys as the monitor
    # computes them once per run for its history too).
    from botmon_tui.medplum.models import FAILURE_CODES
    from botmon_tui.monitor.feed import event_key

    def streak_input() -> list[tuple[tuple[Any, bool, float | None], Any]]:
        fresh = {f"bot-{i}": BotStatus(bot=Bot(id=f"bot-{i}")) for i in range(INCIDENT_BOTS)}
        out = []
        for run in runs:
            failed = run.outcome in FAILURE_CODES
            duration = run.duration.total_seconds() if failed and run.duration else None
            out.append(((event_key(run), failed, duration), fresh[run.bot_id or ""]))
        return out

    figures = []
    for _ in range(5):
        streak_runs = streak_input()
        figures.append(states())
    signature_us = []
    for _ in range(200):
        cpu = time.process_time()
        FailedRun.of(ten_kb, 10.0)
        signature_us.append((time.process_time() - cpu) * 1e6)
    texts = [
        f"Error: Request failed with status code {rng.choice((500, 502, 503))} for Patient/{n}"
        for n in range(50)
    ]
    grouped = [
        FailedRun.of(event(n, n % 70, True, rng.choice(texts) + "\n    at sync (/var/task/index.js:9:1)"))
        for n in range(INCIDENT_GROUPED)
    ]
    group_ms, groups = [], 0
    for _ in range(20):
        cpu = time.process_time()
        groups = len(group_failures(grouped, ongoing=lambda run: run.id == "e000999"))
        group_ms.append((time.process_time() - cpu) * 1000)
    return {
        **{
            name: statistics.median(f[name] for f in figures)
            for name in (
                "states_ms",
                "streaks_ms",
                "evaluate_ms",
                "note_ms",
                "batch_ms",
                "window_ms",
                "idle_ms",
            )
        },
        "kinds": figures[0]["kinds"],
        "signature_us": statistics.median(signature_us),
        "ten_kb_chars": len(ten_kb.outcomeDesc or ""),
        "group_ms": statistics.median(group_ms),
        "groups": groups,
    }


def worker_main(kind: str, info: dict[str, Any], args: argparse.Namespace) -> None:
    os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
    if kind == "session":
        result = asyncio.run(session(info))
    elif kind == "alerts":
        result = asyncio.run(alert_session(info))
    elif kind == "cadence":
        result = cadence_session()
    elif kind == "incidents":
        result = incident_session()
    elif kind == "projects":
        result = asyncio.run(project_session(info["projects"]))
    else:
        result = asyncio.run(idle_cpu(info, args.cpu_seconds, args.interval))
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()


# ================================================================================================
# Driver side: starts the demo host and the workers, aggregates, prints, writes JSON
# ================================================================================================


def spawn_worker(kind: str, info: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        kind,
        "--info",
        json.dumps(info),
        "--cpu-seconds",
        str(args.cpu_seconds),
        "--interval",
        str(args.interval),
    ]
    env = dict(os.environ, TEXTUAL_ANIMATIONS="none")
    env.pop("NO_COLOR", None)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(json.loads(line[len("RESULT ") :]))
    raise RuntimeError(f"worker {kind} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def fmt(stat: dict[str, float], unit: str = "", digits: int = 0) -> str:
    def one(v: float) -> str:
        return f"{v:,.{digits}f}"

    if stat["min"] == stat["max"]:
        return f"{one(stat['median'])}{unit}"
    return f"{one(stat['median'])}{unit} [{one(stat['min'])}–{one(stat['max'])}]"


def metric_row(
    metric: str,
    value: dict[str, float],
    baseline: dict[str, float] | None,
    target: str,
    ok: bool | None,
    *,
    unit: str = "",
    digits: int = 0,
    ratio: float | None = None,
    note: str = "",
) -> dict[str, Any]:
    """One row of the table (``ok`` None: a figure to report, not a target)."""
    return {
        "metric": metric,
        "value": value,
        "baseline": baseline,
        "ratio": ratio,
        "target": target,
        "pass": ok,
        "unit": unit,
        "digits": digits,
        "note": note,
        "value_text": fmt(value, unit, digits),
        "baseline_text": fmt(baseline, unit, digits) if baseline else "—",
    }


def within(
    metric: str, value: dict[str, float], limit: float, *, unit: str = " ms", digits: int = 1, note: str = ""
) -> dict[str, Any]:
    """A row whose target is a budget: the median ``value`` at most ``limit`` (no baseline)."""
    target = f"≤ {limit:,g}{unit}"
    return metric_row(
        metric, value, None, target, value["median"] <= limit, unit=unit, digits=digits, note=note
    )


def column(runs: list[dict[str, Any]], name: str) -> dict[str, float]:
    """One figure of every run: median, min and max."""
    return spread([float(r[name]) for r in runs])


def build_rows(runs: list[dict[str, Any]], cpu: dict[str, Any], info: dict[str, Any]) -> list[dict[str, Any]]:
    from botmon_tui.ui.widgets.event_table import EventTable

    col = partial(column, runs)
    rows: list[dict[str, Any]] = []

    def row(*args: Any, **kwargs: Any) -> None:
        rows.append(metric_row(*args, **kwargs))

    # Idle poll on the Event tab.
    req = col("idle_poll_requests")
    row(
        "Event tab idle poll (alerts on): requests per poll",
        req,
        spread([1.0]),
        "≤ 2",
        req["max"] <= 2,
        note="the project's poll (bots changed, runs since), which also tells the tab there is "
        "nothing new for it; baseline: the web app's refresh (a page of 20 + COUNT), which raises no alert",
    )
    polls, sent = cpu["polls"], cpu["requests"]
    # The project's poll (2 requests), plus the tab's own look at its bot's runs once a minute
    # (FEED_RECHECK_SECONDS: an AuditEvent of the bot that is not a run, which the poll can't see).
    from botmon_tui.ui.screens.events import FEED_RECHECK_SECONDS

    rechecks = math.ceil(cpu["window_s"] / FEED_RECHECK_SECONDS)
    row(
        f"Event tab idle, {cpu['interval_s']:g} s interval, {cpu['window_s']:.0f} s: requests / polls",
        spread([float(sent)]),
        spread([float(polls)]),
        "≤ 2 per poll + 1 a minute",
        sent <= 2 * polls + rechecks and abs(polls - cpu["window_s"] / cpu["interval_s"]) <= 1,
        note=f"{cpu['searches']} AuditEvent searches"
        + (f" + {', '.join(cpu['other_requests'])}" if cpu["other_requests"] else "")
        + f" for {polls} polls; {cpu['bytes']:,} B in all",
    )
    app_bytes, web_bytes = col("idle_poll_bytes"), col("webapp_refresh_bytes")
    ratio = app_bytes["median"] / web_bytes["median"]
    row(
        "Event tab idle poll: response bytes",
        app_bytes,
        web_bytes,
        "≤ 1/20 of web app refresh",
        all(r["idle_poll_bytes"] * 20 <= r["webapp_refresh_bytes"] for r in runs),
        unit=" B",
        ratio=ratio,
        note="baseline: AuditEvent?_count=20&_sort=-_lastUpdated&_total=accurate&entity=Bot/<id>",
    )
    # Bot list.
    list_req, naive_req = col("list_poll_requests"), col("naive_list_requests")
    row(
        f"Bot list poll ({info['bots']:,} bots): requests per cycle",
        list_req,
        naive_req,
        "≤ 2",
        list_req["max"] <= 2,
        ratio=list_req["median"] / naive_req["median"],
        note=f"baseline: one request per bot, {fmt(col('naive_list_ms'), ' ms')}, "
        f"{fmt(col('naive_list_bytes'), ' B')}; app: {fmt(col('list_poll_bytes'), ' B')}",
    )
    # Open the Event tab.
    open_ms, raw_ms = col("open_ms"), col("raw_first_page_ms")
    ratios = [r["open_ms"] / r["raw_first_page_ms"] for r in runs]
    row(
        f"Open Event tab ({info['big_bot_events']:,}-event bot): first rows painted",
        open_ms,
        raw_ms,
        "≤ 3× raw GET of the page",
        statistics.median(ratios) <= 3,
        unit=" ms",
        digits=1,
        ratio=statistics.median(ratios),
        note=f"page of {runs[0]['first_page_rows']} events, {runs[0]['first_page_bytes']:,} B; "
        f"ratio per run {', '.join(f'{x:.2f}' for x in ratios)}; the screen alone (no rows yet) "
        f"is built and painted at {fmt(col('open_screen_ms'), ' ms', 1)} (the floor on loopback)",
    )
    net_ratios = [r["open_net_ms"] / r["raw_first_page_net_ms"] for r in runs]
    row(
        f"Open Event tab, server {NET_LATENCY * 1000:.0f} ms away: first rows painted",
        col("open_net_ms"),
        col("raw_first_page_net_ms"),
        "≤ 3× raw GET of the page",
        statistics.median(net_ratios) <= 3,
        unit=" ms",
        digits=1,
        ratio=statistics.median(net_ratios),
        note=f"every answer {NET_LATENCY * 1000:.0f} ms later (the demo's latency); the same page; "
        f"ratio per run {', '.join(f'{x:.2f}' for x in net_ratios)}",
    )
    # Stalls.
    stall = col("merge_stall_ms")
    row(
        "Longest stall: poll merges 100 new into 10,000",
        stall,
        col("naive_merge_stall_ms"),
        "≤ 50 ms",
        stall["median"] <= 50,
        unit=" ms",
        digits=1,
        note=f"new rows on screen {fmt(col('merge_ms'), ' ms', 1)} after the poll started",
    )
    stall = col("older_stall_ms")
    row(
        "Longest stall: paging older, 100 → 10,000 events",
        stall,
        col("naive_older_stall_ms"),
        "≤ 100 ms",
        stall["median"] <= 100,
        unit=" ms",
        digits=1,
        note=f"{runs[0]['older_pages']} pages; page on screen median "
        f"{fmt(col('older_page_ms_median'), ' ms', 1)}, worst {fmt(col('older_page_ms_max'), ' ms', 1)}",
    )
    # Sorting: rows 9-12 are the web app's four columns (the plain DataTable has them too). A
    # column the Event tab adds is measured as well, and reported on row 12 with the same target
    # (so that the rows keep their numbers).
    others = [column for column in EventTable.COLUMNS if column.key not in WEB_APP_COLUMNS]
    for key in WEB_APP_COLUMNS:
        value = spread([r["sort_ms"][key] for r in runs])
        ok = value["median"] <= 100
        note = "baseline: DataTable.sort on the same rows"
        if key == WEB_APP_COLUMNS[-1] and others:
            more = {column.title: spread([r["sort_ms"][column.key] for r in runs]) for column in others}
            ok = ok and all(figure["median"] <= 100 for figure in more.values())
            note += "; the Event tab's other columns: " + ", ".join(
                f"{title} {fmt(figure, ' ms', 1)}" for title, figure in more.items()
            )
        row(
            f"Sort 10,000 events by {EventTable.column(key).title} (key → frame)",
            value,
            spread([r["naive_sort_ms"][key] for r in runs]),
            "≤ 100 ms",
            ok,
            unit=" ms",
            digits=1,
            note=note,
        )
    # Memory.
    rss = col("rss_mb")
    held = col("held_after_merge")
    row(
        "RSS after paging through 10,000 events",
        rss,
        None,
        "≤ 150 MB",
        rss["median"] <= 150,
        unit=" MB",
        digits=1,
        note=f"held: {fmt(col('held_after_paging'))} after paging, {fmt(held)} after merges "
        f"(EventFeed window 10,000; older pages refused at the window: {fmt(col('held_after_more'))})",
    )
    # CPU.
    slices = cpu["cpu_slices_pct"]
    cpu_stat = {"median": cpu["cpu_pct"], "min": min(slices), "max": max(slices)}
    row(
        f"Idle CPU, polling every {cpu['interval_s']:g} s, nothing new ({cpu['window_s']:.0f} s)",
        cpu_stat,
        None,
        "≤ 2 % of a core",
        cpu["cpu_pct"] <= 2,
        unit=" %",
        digits=2,
        note="whole window; [min–max] of its 10 s slices; the demo server runs in another process",
    )
    # Startup.
    startup, raw_startup = col("startup_ms"), col("raw_startup_ms")
    row(
        f"Start → first paint of the bot list ({info['bots']:,} bots)",
        startup,
        raw_startup,
        "report",
        None,
        unit=" ms",
        ratio=startup["median"] / raw_startup["median"],
        note=f"baseline: the same {runs[0]['startup_requests']} requests raw (token + GETs)",
    )
    # Filter.
    clear = col("clear_filter_stall_ms")
    row(
        "Longest stall: clear a filter (10,000 rows back)",
        clear,
        col("naive_load_stall_ms"),
        "≤ 100 ms",
        clear["median"] <= 100,
        unit=" ms",
        digits=1,
        note=f"filter to {fmt(col('filter_rows'))} rows: stall {fmt(col('filter_stall_ms'), ' ms', 1)}; "
        "baseline: DataTable.add_rows of 9,800 rows",
    )
    return rows


def ratio_label(ratio: float | None) -> str:
    if ratio is None:
        return "—"
    return f"1/{1 / ratio:,.0f}" if 0 < ratio < 0.1 else f"{ratio:.2f}"


def result_label(row: dict[str, Any]) -> str:
    return "REPORT" if row["pass"] is None else ("PASS" if row["pass"] else "FAIL")


HEAD = ("#", "Metric", "botmon-tui", "Baseline (same run)", "Ratio", "Target", "Result")


def table_cells(rows: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """One tuple of texts per row, in the columns of ``HEAD``."""
    return [
        (
            str(r.get("number", number)),
            r["metric"],
            r["value_text"],
            r["baseline_text"],
            ratio_label(r["ratio"]),
            r["target"],
            result_label(r),
        )
        for number, r in enumerate(rows, 1)
    ]


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The table for README's Performance section (written to ``benchmarks/results.md``)."""
    lines = ["| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    for *cells, result in table_cells(rows):
        text = " | ".join(c.replace("|", "\\|") for c in cells)
        lines.append(f"| {text} | **{result}** |")
    return "\n".join(lines) + "\n"


def print_table(rows: list[dict[str, Any]]) -> str:
    body = table_cells(rows)
    widths = [max(len(x[i]) for x in [HEAD, *body]) for i in range(len(HEAD))]

    def line(cells: tuple[str, ...]) -> str:
        return " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))

    lines = [line(HEAD), "+".join("-" * (w + 2) for w in widths), *map(line, body), ""]
    lines.append("Notes (values: median [min–max] of the runs):")
    lines += [f"  {r.get('number', number)}. {r['note']}" for number, r in enumerate(rows, 1) if r["note"]]
    return "\n".join(lines)


def raw_startup(info: dict[str, Any], paths: list[str]) -> float:
    """The app's start-up requests sent raw (sync httpx, a fresh connection and token): ms."""
    import httpx

    started = time.perf_counter()
    with httpx.Client(base_url=info["base_url"], timeout=60) as http:
        token = http.post("oauth2/token", data=token_form(info)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}
        for path in paths:
            response = http.get(path, headers=headers)
            _ = response.content
            response.raise_for_status()
    return (time.perf_counter() - started) * 1000


# ================================================================================================
# The command line: whole processes, as cron or a shell runs them
# ================================================================================================

#: The baseline of ``status``: its requests replayed raw with httpx in a fresh process (the same
#: token request, the same GETs with the same query strings), every body read and parsed as JSON.
RAW_REPLAY = """\
import json, sys
import httpx
info, paths = json.loads(sys.argv[1]), json.loads(sys.argv[2])
form = {"grant_type": "client_credentials", "client_id": info["client_id"]}
form["client_secret"] = info["client_secret"]
with httpx.Client(base_url=info["base_url"], timeout=60) as http:
    token = http.post("oauth2/token", data=form).json()["access_token"]
    headers = {"Authorization": "Bearer " + token, "Accept": "application/fhir+json"}
    for path in paths:
        response = http.get(path, headers=headers)
        response.raise_for_status()
        json.loads(response.content)
"""


def botmon_command() -> list[str]:
    """``botmon-tui`` as installed (the console script next to this Python), else ``python -m``."""
    script = Path(sys.executable).with_name("botmon-tui")
    return [str(script)] if script.exists() else [sys.executable, "-m", "botmon_tui"]


def wall_ms(cmd: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> float:
    """Wall time of one process, start to exit (its output read and thrown away)."""
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, env=env, timeout=120)
    elapsed = (time.perf_counter() - started) * 1000
    if proc.returncode not in ok:
        raise RuntimeError(f"{cmd} exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
    return elapsed


def cli_figures(info: dict[str, Any], runs: int) -> dict[str, Any]:
    """``status`` against the same requests raw, and ``--version`` against ``python -c pass``;
    the two of each pair alternate, so that a busy moment of the machine hits both."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDPLUM_", "BOTMON_"))}
    env.update(
        MEDPLUM_BASE_URL=info["base_url"],
        MEDPLUM_CLIENT_ID=info["client_id"],
        MEDPLUM_CLIENT_SECRET=info["client_secret"],
        COLUMNS="120",
    )
    command = botmon_command()
    control = Control(info)
    mark = control.mark()
    wall_ms([*command, "status"], env, ok=(0, 1))  # also warms the OS caches
    sent = control.requests_since(mark)
    paths = [path for method, path, _, _ in sent if method == "GET"]
    replay = [sys.executable, "-c", RAW_REPLAY, json.dumps(info), json.dumps(paths)]
    status_ms, raw_ms, version_ms, pass_ms = [], [], [], []
    for _ in range(runs):
        status_ms.append(wall_ms([*command, "status"], env, ok=(0, 1)))
        raw_ms.append(wall_ms(replay, env))
    for _ in range(runs * 2):
        version_ms.append(wall_ms([*command, "--version"], env))
        pass_ms.append(wall_ms([sys.executable, "-c", "pass"], env))
    return {
        "status_ms": status_ms,
        "raw_status_ms": raw_ms,
        "status_requests": [f"{method} {path.split('?')[0]}" for method, path, _, _ in sent],
        "status_bytes": sum(r[3] for r in sent),
        "version_ms": version_ms,
        "python_pass_ms": pass_ms,
        "command": command,
    }


def cli_rows(figures: dict[str, Any], info: dict[str, Any]) -> list[dict[str, Any]]:
    status, raw = spread(figures["status_ms"]), spread(figures["raw_status_ms"])
    ratio = status["median"] / raw["median"]
    requests = figures["status_requests"]
    version, bare = spread(figures["version_ms"]), spread(figures["python_pass_ms"])
    return [
        metric_row(
            f"`status` ({info['bots']:,} bots): process start to exit",
            status,
            raw,
            "≤ 1.5× the same requests raw",
            ratio <= 1.5,
            unit=" ms",
            ratio=ratio,
            note=f"{len(requests)} requests ({', '.join(requests)}), {figures['status_bytes']:,} B; "
            "baseline: a fresh Python process sending them with httpx and parsing each body as JSON",
        ),
        metric_row(
            "`botmon-tui --version`: process start to exit",
            version,
            bare,
            "report",
            None,
            unit=" ms",
            ratio=version["median"] / bare["median"],
            note="baseline: `python -c pass`; --version and --help import no httpx, pydantic, Rich, Textual",
        ),
    ]


def alert_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The alerts' budget (issue #9): requests per poll with alerts on, and the merge stall."""
    col = partial(column, runs)
    event, idle, failing = col("event_idle_requests"), col("list_idle_requests"), col("list_failure_requests")
    stall = col("merge_alert_stall_ms")
    return [
        metric_row(
            "Alerts on: idle Event tab of a bot, requests per poll",
            event,
            None,
            "≤ 2",
            event["max"] <= 2,
            note=f"{' + '.join(runs[0]['event_idle_paths'])}: the project's poll (bots, runs); "
            "the tab asks only when it saw a run of its bot",
        ),
        metric_row(
            "Alerts on: idle bot list, requests per poll",
            idle,
            None,
            "≤ 2",
            idle["max"] <= 2,
            note="bots changed, runs since (which also show new failures: no request of the alerts' own)",
        ),
        metric_row(
            "Alerts on: bot list poll bringing a new failure, requests",
            failing,
            idle,
            "≤ 1 more than idle",
            failing["max"] <= idle["max"] + 1 and all(r["list_failure_alerts"] == 1 for r in runs),
            note=f"{' + '.join(runs[0]['list_failure_paths'])}: the failures query once, for the output",
        ),
        within(
            "Longest stall: poll merges 100 new (5 failed) into 10,000 + the alert's toast",
            stall,
            50,
            note=f"new rows and the toast on screen {fmt(col('merge_alert_ms'), ' ms', 1)} after the poll "
            f"started ({fmt(col('rows'))} rows)",
        ),
    ]


def cadence_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The silence states' budget (issue #17): a poll's states for 1,000 bots within the stall budget."""
    col = partial(column, runs)
    poll = col("poll_ms")
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(runs[0]["kinds"].items()))
    return [
        within(
            f"States for {runs[0]['bots']:,} bots after a poll (cron, timing, learned)",
            poll,
            50,
            note=f"ProjectMonitor.evaluate with its silence slot: 400 cronString, 200 cronTiming, 400 "
            f"learned (≤ 300 runs each); a run noted for {CADENCE_CHANGED:.0%} of the bots (re-learned, "
            f"p50/p95 recomputed), every bot's state evaluated; process CPU "
            f"time {fmt(col('poll_cpu_ms'), ' ms', 1)}; slowest of {CADENCE_POLLS} polls "
            f"{fmt(col('poll_max_ms'), ' ms', 1)}; first poll (all learned) {fmt(col('cold_ms'), ' ms', 1)}; "
            f"states: {kinds}",
        )
    ]


def log_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reading logs (issue 18): the whole-log search, from the session runs."""
    stall = column(runs, "huge_search_stall_ms")
    return [
        within(
            f"Longest stall: / finds the last line of a {HUGE_LOG_CHARS // 1000} kB log among 10,000 runs",
            stall,
            100,
            note=f"typed, filtered to its run and shown in the pane on its match "
            f"{fmt(column(runs, 'huge_search_ms'), ' ms', 1)} after the first key; the filter and the "
            "pane read whole logs",
        )
    ]


def incident_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The incidents' budget (issue #16): states and signatures within the stall budget."""
    from botmon_tui.monitor.alerts import READ_BATCH

    col = partial(column, runs)
    states, batch = col("states_ms"), col("batch_ms")
    signature, group = col("signature_us"), col("group_ms")
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(runs[0]["kinds"].items()))
    return [
        within(
            f"Incident states for {INCIDENT_BOTS * INCIDENT_RUNS:,} runs of {INCIDENT_BOTS:,} bots",
            states,
            50,
            note=f"process CPU time: the streaks' share of noting every run "
            f"({fmt(col('streaks_ms'), ' ms', 1)}) and every bot's state "
            f"({fmt(col('evaluate_ms'), ' ms', 1)}); "
            f"the bot list's own bookkeeping of those runs (times parsed, history) is "
            f"{fmt(col('note_ms'), ' ms', 1)} besides. A poll with nothing new re-evaluates every state in "
            f"{fmt(col('idle_ms'), ' ms', 2)}. States: {kinds}",
        ),
        within(
            f"Longest stall reading the failure watch's {INCIDENT_WINDOW} failed runs (kind, signature)",
            batch,
            50,
            note=f"process CPU time; logs of 1-10 kB (summary line, kind, signature), read {READ_BATCH} at a "
            f"time with a turn of the event loop between; all of them {fmt(col('window_ms'), ' ms', 1)}",
        ),
        within(
            f"Kind, signature and summary of a {runs[0]['ten_kb_chars']:,}-character log",
            signature,
            1000,
            unit=" µs",
            digits=0,
            note="FailedRun.of: summary line, kind, own frame, normalised error line, hash",
        ),
        within(
            f"Grouping {INCIDENT_GROUPED:,} failed runs by signature",
            group,
            5,
            digits=2,
            note=f"{runs[0]['groups']} groups over 70 bots (group_failures, with its ongoing test)",
        ),
    ]


def project_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Several projects (issue #19): each costs what one costs, and they are polled side by side."""
    col = partial(column, runs)
    requests, stall, far = col("idle_requests"), col("idle_stall_ms"), col("far_round_s")
    paths = " + ".join(runs[0]["idle_paths"])
    # One project's poll is its two requests one after the other: 2 x the latency.
    one = 2 * PROJECT_LATENCY
    return [
        metric_row(
            f"{PROJECTS} projects × {PROJECT_BOTS} bots ({runs[0]['bots']:,} in all): "
            "requests per idle poll, each project",
            requests,
            None,
            "≤ 2",
            requests["max"] <= 2,
            note=f"{paths}: each project's poll, polled by its own loop",
        ),
        within(
            f"{PROJECTS} projects × {PROJECT_BOTS} bots: longest stall of a poll of every project",
            stall,
            50,
        ),
        metric_row(
            f"{PROJECTS} projects, each server {PROJECT_LATENCY:g} s away: "
            "one poll of every project, wall time",
            far,
            spread([PROJECTS * one]),
            f"≤ 1.5 × one project's ({1.5 * one:.1f} s)",
            far["median"] <= 1.5 * one,
            unit=" s",
            digits=2,
            ratio=far["median"] / (PROJECTS * one),
            note=f"side by side: baseline, the {PROJECTS} polls one after the other "
            f"({PROJECTS} × 2 requests × {PROJECT_LATENCY:g} s)",
        ),
    ]


#: The web app's columns, the plain DataTable's (the baseline), sorted on rows 9-12.
WEB_APP_COLUMNS = ("id", "outcome", "desc", "updated")
#: How many rows ``alert_rows`` makes (after the command line's); ``--only alerts`` stands for them.
ALERT_ROWS = 4
ALERTS_KEYWORD = "alerts"
#: How many rows ``cadence_rows`` makes (after the alerts'); ``--only cadence`` stands for them.
CADENCE_ROWS = 1
CADENCE_KEYWORD = "cadence"
#: How many rows ``log_rows`` makes (after the silence states'; from the session runs); ``--only log``.
LOG_ROWS = 1
LOG_KEYWORD = "log"
#: How many rows ``incident_rows`` makes (after the log's); ``--only incidents`` stands for them.
INCIDENT_ROWS = 4
INCIDENTS_KEYWORD = "incidents"
#: How many rows ``project_rows`` makes (after the incidents'); ``--only projects`` stands for them.
PROJECT_ROWS = 3
PROJECTS_KEYWORD = "projects"
#: Rows measured by the idle CPU run (the other TUI rows come from the session runs).
IDLE_ROWS = {2, 14}
#: The TUI's rows (1 to 16: session and idle runs); the command line's come after them.
TUI_ROWS = 16
#: How many rows ``cli_rows`` makes; ``--only cli`` stands for them, whatever their numbers.
CLI_ROWS = 2
CLI_KEYWORD = "cli"
#: Stands for the idle run's figures when ``--only`` leaves out its rows.
NO_IDLE_RUN: dict[str, Any] = {
    "polls": 0,
    "requests": 0,
    "searches": 0,
    "other_requests": [],
    "bytes": 0,
    "interval_s": 1.0,
    "window_s": 0.0,
    "cpu_pct": 0.0,
    "cpu_slices_pct": [0.0],
}


def parse_rows(text: str | None) -> set[int] | None:
    """``"7-12,16"`` → ``{7, 8, 9, 10, 11, 12, 16}``; ``cli`` stands for the command line's rows,
    ``alerts`` for the alerts', ``cadence`` for the silence states', ``log`` for reading logs,
    ``incidents`` for the incidents' (``None``: every row)."""
    if not text:
        return None
    rows: set[int] = set()
    for part in text.split(","):
        if part.strip() == CLI_KEYWORD:
            rows.update(range(TUI_ROWS + 1, TUI_ROWS + CLI_ROWS + 1))
            continue
        if part.strip() == ALERTS_KEYWORD:
            first_alert = TUI_ROWS + CLI_ROWS + 1
            rows.update(range(first_alert, first_alert + ALERT_ROWS))
            continue
        if part.strip() == CADENCE_KEYWORD:
            first_cadence = TUI_ROWS + CLI_ROWS + ALERT_ROWS + 1
            rows.update(range(first_cadence, first_cadence + CADENCE_ROWS))
            continue
        if part.strip() == LOG_KEYWORD:
            first_log = TUI_ROWS + CLI_ROWS + ALERT_ROWS + CADENCE_ROWS + 1
            rows.update(range(first_log, first_log + LOG_ROWS))
            continue
        if part.strip() == INCIDENTS_KEYWORD:
            first_incident = TUI_ROWS + CLI_ROWS + ALERT_ROWS + CADENCE_ROWS + LOG_ROWS + 1
            rows.update(range(first_incident, first_incident + INCIDENT_ROWS))
            continue
        if part.strip() == PROJECTS_KEYWORD:
            first_project = TUI_ROWS + CLI_ROWS + ALERT_ROWS + CADENCE_ROWS + LOG_ROWS + INCIDENT_ROWS + 1
            rows.update(range(first_project, first_project + PROJECT_ROWS))
            continue
        first, _, last = part.strip().partition("-")
        rows.update(range(int(first), int(last or first) + 1))
    return rows


@contextlib.contextmanager
def demo_host(
    args: argparse.Namespace, *, bots: int | None = None, big_events: int | None = None
) -> Iterator[dict[str, Any]]:
    """The demo backend with the benchmark's data, in its own process, for the ``with`` block."""
    host_cmd = [
        sys.executable,
        str(HERE / "demo_host.py"),
        "--bots",
        str(args.bots if bots is None else bots),
        "--big-events",
        str(args.big_events if big_events is None else big_events),
        "--log-bytes",
        str(args.log_bytes),
    ]
    host = subprocess.Popen(host_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert host.stdout is not None
        info = json.loads(host.stdout.readline())
        print(
            f"demo backend: {info['bots']:,} bots, {info['events']:,} AuditEvents "
            f"(bulk-importer: {info['big_bot_events']:,}, logs ~{info['log_bytes']} B typical), "
            f"generated in {info['generated_s']:.1f} s",
            flush=True,
        )
        yield info
    finally:
        if host.stdin:
            host.stdin.close()
        host.wait(timeout=30)


def compile_package() -> None:
    """Byte-compile botmon_tui, as ``pip install`` does for an installed tool.

    An editable install under ``PYTHONDONTWRITEBYTECODE=1`` (as on CI machines) never writes
    ``.pyc`` files, so every process would compile the package's source again (~60 ms of
    ``status``); the processes timed here then measure the tool as users run it.
    """
    import compileall

    if not compileall.compile_dir(str(ROOT / "botmon_tui"), quiet=1):
        raise RuntimeError("botmon_tui did not byte-compile")


#: Set by the driver for every process it starts (workers and ``botmon-tui status``): the
#: directory of their crash logs (platformdirs' user state directory on Linux).
STATE_HOME = "XDG_STATE_HOME"


def crash_logs(state: Path) -> list[Path]:
    """The crash logs the run's processes wrote in ``state`` (printed); ``state`` goes if none."""
    logs = sorted(state.rglob("*.log"))
    for log in logs:
        print(f"the app logged an internal error during the run: see {log}", file=sys.stderr)
    if not logs:
        shutil.rmtree(state)
    return logs


def driver(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    compile_package()
    state = Path(tempfile.mkdtemp(prefix="botmon-bench-"))
    os.environ[STATE_HOME] = str(state)
    only = parse_rows(args.only)
    first_alert = TUI_ROWS + CLI_ROWS + 1
    first_cadence = first_alert + ALERT_ROWS
    first_log = first_cadence + CADENCE_ROWS
    first_incident = first_log + LOG_ROWS
    first_project = first_incident + INCIDENT_ROWS
    tui = only is None or any(n <= TUI_ROWS or first_log <= n < first_incident for n in only)
    alerting = only is None or any(first_alert <= n < first_cadence for n in only)
    cadencing = only is None or any(first_cadence <= n < first_log for n in only)
    incidents = only is None or any(first_incident <= n < first_project for n in only)
    several = only is None or any(n >= first_project for n in only)
    runs: list[dict[str, Any]] = []
    alert_runs: list[dict[str, Any]] = []
    cadence_runs: list[dict[str, Any]] = []
    incident_runs: list[dict[str, Any]] = []
    project_runs: list[dict[str, Any]] = []
    cpu, cli = NO_IDLE_RUN, None
    # The states and incidents benchmarks are pure Python: no demo backend for ``--only cadence``
    # or ``--only incidents``.
    needs_backend = only is None or any(n < first_cadence or first_log <= n < first_incident for n in only)
    if several:
        # Three backends of their own (smaller projects), before the big one starts.
        with contextlib.ExitStack() as hosts:
            infos = [
                hosts.enter_context(demo_host(args, bots=PROJECT_BOTS, big_events=1000))
                for _ in range(PROJECTS)
            ]
            for i in range(args.runs):
                t = time.perf_counter()
                project_runs.append(spawn_worker("projects", {"projects": infos}, args))
                print(f"  projects run {i + 1}/{args.runs}: {time.perf_counter() - t:.1f} s", flush=True)
    backend: contextlib.AbstractContextManager[dict[str, Any]] = (
        demo_host(args) if needs_backend else contextlib.nullcontext({})
    )
    with backend as info:
        for i in range(args.runs if tui else 0):
            t = time.perf_counter()
            result = spawn_worker("session", info, args)
            runs.append(result)
            print(f"  run {i + 1}/{args.runs}: {time.perf_counter() - t:.1f} s", flush=True)
        if tui and (only is None or only & IDLE_ROWS):
            t = time.perf_counter()
            cpu = spawn_worker("idle", info, args)
            print(f"  idle CPU: {time.perf_counter() - t:.1f} s", flush=True)
        if only is None or any(TUI_ROWS < n < first_alert for n in only):
            t = time.perf_counter()
            cli = cli_figures(info, args.cli_runs)
            print(f"  command line: {time.perf_counter() - t:.1f} s", flush=True)
        for i in range(args.runs if alerting else 0):
            t = time.perf_counter()
            alert_runs.append(spawn_worker("alerts", info, args))
            print(f"  alerts run {i + 1}/{args.runs}: {time.perf_counter() - t:.1f} s", flush=True)
        for i in range(args.runs if cadencing else 0):
            t = time.perf_counter()
            cadence_runs.append(spawn_worker("cadence", info, args))
            print(f"  states run {i + 1}/{args.runs}: {time.perf_counter() - t:.1f} s", flush=True)
        for i in range(args.runs if incidents else 0):
            t = time.perf_counter()
            incident_runs.append(spawn_worker("incidents", info, args))
            print(f"  incidents run {i + 1}/{args.runs}: {time.perf_counter() - t:.1f} s", flush=True)
    total = time.perf_counter() - started
    crashed = crash_logs(state)
    rows = build_rows(runs, cpu, info) if runs else []
    if rows and len(rows) != TUI_ROWS:
        raise RuntimeError(f"build_rows made {len(rows)} rows: set TUI_ROWS to that (the CLI's come after)")
    rows += cli_rows(cli, info) if cli is not None else []
    for number, r in enumerate(rows, 1 if runs else TUI_ROWS + 1):
        r["number"] = number
    for number, r in enumerate(alert_rows(alert_runs) if alert_runs else [], first_alert):
        r["number"] = number
        rows.append(r)
    for number, r in enumerate(cadence_rows(cadence_runs) if cadence_runs else [], first_cadence):
        r["number"] = number
        rows.append(r)
    for number, r in enumerate(log_rows(runs) if runs else [], first_log):
        r["number"] = number
        rows.append(r)
    for number, r in enumerate(incident_rows(incident_runs) if incident_runs else [], first_incident):
        r["number"] = number
        rows.append(r)
    for number, r in enumerate(project_rows(project_runs) if project_runs else [], first_project):
        r["number"] = number
        rows.append(r)
    if only is not None:
        rows = [r for r in rows if r["number"] in only]
    table = print_table(rows)
    print()
    print(table)
    failed = [r["metric"] for r in rows if r["pass"] is False]
    print()
    print(f"{sum(r['pass'] is True for r in rows)} PASS, {len(failed)} FAIL · total {total:.0f} s")
    if only is not None:
        return 1 if failed or crashed else 0  # (a partial table: results.json and results.md stay)
    results = {
        "command": "python benchmarks/run.py",
        "total_s": total,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": sys.platform},
        "backend": info,
        "rows": rows,
        "runs": runs,
        "idle": cpu,
        "cli": cli,
        "alerts": alert_runs,
        "cadence": cadence_runs,
        "incidents": incident_runs,
        "projects": project_runs,
    }
    (HERE / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (HERE / "results.md").write_text(markdown_table(rows))
    return 1 if failed or crashed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3, help="worker runs per figure (default 3)")
    parser.add_argument("--cpu-seconds", type=float, default=60.0, help="idle CPU window (default 60)")
    parser.add_argument("--interval", type=float, default=2.0, help="idle run's poll interval (default 2)")
    parser.add_argument("--bots", type=int, default=1000, help="generated bots (default 1000)")
    parser.add_argument("--big-events", type=int, default=100_000, help="events of the big bot")
    parser.add_argument("--log-bytes", type=int, default=1024, help="typical log size of the big bot")
    parser.add_argument(
        "--cli-runs", type=int, default=7, help="processes per command-line figure (default 7)"
    )
    parser.add_argument(
        "--only",
        metavar="ROWS",
        help="print only these rows, e.g. 7-12,16, or 'cli' for the command line's (~20 s: no TUI run), "
        "'alerts' for the alerts' (their own runs only), 'cadence' for the silence states' (no demo "
        "backend), 'log' for reading logs (the session runs), 'incidents' for the incidents' (no demo "
        "backend), 'projects' for several projects' (three backends of their own); the idle run only "
        "for rows 2 and 14; "
        "results.json and results.md are left as they are",
    )
    parser.add_argument(
        "--worker",
        choices=["session", "idle", "alerts", "cadence", "incidents", "projects"],
        help=argparse.SUPPRESS,
    )
    parser.add_argument("--info", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args.worker, json.loads(args.info), args)
        return 0
    return driver(args)


if __name__ == "__main__":
    raise SystemExit(main())
