"""Per-bot status for the bot list, kept current with a constant number of requests per poll.

Loading (once, and on a full refresh):
  1. every bot, all pages (``Bot?_count=1000&_sort=name``);
  2. the newest bot runs of the whole project (``AuditEvent?type=execute&_sort=-_lastUpdated&_count=1000``),
     which gives each recently active bot its last run;
  3. the failed runs within ``recent`` (``outcome=4,8,12&_lastUpdated=ge<now-recent>``), for the counts.

Each poll then costs two requests whatever the number of bots or events:
  ``Bot?_lastUpdated=gt<newest bot change>`` and one incremental
  ``AuditEvent?type=execute&_lastUpdated=gt<newest run>&_sort=_lastUpdated`` (grouped by bot here).

Each bot keeps its newest runs seen (:data:`HISTORY_RUNS`, from the same answers: no request of
its own) for the bot list's history strip, and :func:`attention_key` is the one "what needs
attention first" order (the bot list's default order; the CLI can sort with it too).

A deleted bot never shows up in ``_lastUpdated=gt`` searches, so every ``roster_every`` (and on a
manual refresh, :meth:`request_roster`) the first of the two is the whole bot list instead (one
request up to 1,000 bots): bots no longer in it leave the list. Their state is kept aside (at most
``MAX_DEPARTED``) and still counts their runs, so a bot that comes back (restored, or a permission
that was lost for a while) comes back whole, its runs counted once.
"""

from __future__ import annotations

import asyncio
import math
from array import array
from bisect import insort
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botmon_tui.diagnosis import FailureKind
from botmon_tui.medplum.client import MedplumClient
from botmon_tui.medplum.models import FAILURE_CODES, AuditEvent, Bot, OutcomeInfo, SearchPage, outcome_info
from botmon_tui.medplum.watermark import EventCursor
from botmon_tui.monitor.alerts import FailedRun
from botmon_tui.monitor.cadence import (
    LEARN_MAX_RUNS,
    CadenceState,
    LearnedCadence,
    NoCadence,
    might_learn,
    silence_blind,
)
from botmon_tui.monitor.cron import CronSchedule, bot_schedule
from botmon_tui.monitor.durations import (
    DEFAULT_TIMEOUT,
    MAX_DURATIONS,
    DurationStats,
    bot_timeout,
    duration_seconds,
    duration_stats,
)
from botmon_tui.monitor.feed import SortKey, event_key
from botmon_tui.monitor.incidents import UNKNOWN, Incident, RunLog, evaluate
from botmon_tui.monitor.silence import SilenceWatch

__all__ = [
    "HISTORY_RUNS",
    "MAX_STREAK_LOOKUPS",
    "AttentionKey",
    "BotStatus",
    "ProjectMonitor",
    "SilenceCheck",
    "attention_key",
]

#: Most failures remembered per bot (for the "recent failures" count; bounded memory).
MAX_FAILURES_PER_BOT = 10_000
#: Bots gone from the list whose state is kept in case they come back (bounded memory).
MAX_DEPARTED = 1000
#: Pages of recent failures read at load (1,000 each).
MAX_FAILURE_PAGES = 10
#: Bots whose last run is older than the project's newest runs get it looked up once, after the
#: first paint: at most this many (a request each, ``BACKFILL_CONCURRENCY`` at a time).
MAX_BACKFILL = 50
BACKFILL_CONCURRENCY = 4
#: What the bot list needs of a run (``_elements``): not the console output, which is most of the
#: bytes (a page of 1,000 runs with logs is megabytes; without, ~0.5 MB).
SUMMARY_ELEMENTS = ("meta", "type", "outcome", "entity", "period", "recorded", "source", "agent")
#: Newest runs remembered per bot for the history strip (bounded memory).
HISTORY_RUNS = 12
#: A failure streak longer than the runs read costs one lookup of the bot's newest runs, once per
#: streak: at most this many bots per call, ``BACKFILL_CONCURRENCY`` at a time (the rest are looked
#: up by the next calls, each of them once).
MAX_STREAK_LOOKUPS = 20
#: Runs read by a streak lookup (one request): a streak longer than that is "at least 1,000".
STREAK_LOOKUP_RUNS = 1000
#: What a streak lookup needs of a run.
STREAK_ELEMENTS = ("meta", "outcome", "period")
#: Run times kept per bot for its learned cadence (``monitor/cadence.py`` reads the newest 1,500):
#: trimmed to this many when twice as many are held (bounded memory: 12 kB a bot at most).
RUN_TIMES_KEPT = LEARN_MAX_RUNS
#: Durations kept per bot for its p50 / p95 (``durations.duration_stats`` reads the newest 1,000).
DURATIONS_KEPT = MAX_DURATIONS
#: A bot without a schedule whose runs read at load span less than a day (so no cadence can be
#: learned from them, though they look regular) gets its own newest runs read once, after load: at
#: most this many bots (one request each, ``BACKFILL_CONCURRENCY`` at a time; none per poll).
MAX_CADENCE_LOOKUPS = 20
#: What a cadence lookup needs of a run (its time and its duration).
CADENCE_ELEMENTS = ("meta", "period")
#: Failed runs whose output :meth:`ProjectMonitor.read_causes` reads (one request per 100).
MAX_CAUSES = 500
CAUSES_PER_REQUEST = 100


@dataclass
class BotStatus:
    bot: Bot
    last_event: AuditEvent | None = None
    #: Failures within the monitor's ``recent`` window: (time, event id), oldest first.
    failed_runs: deque[tuple[datetime, str]] = field(default_factory=deque)
    runs_seen: int = 0
    #: The bot's own newest run was looked up (so ``last_event is None`` means it never ran).
    looked_up: bool = False
    #: Its newest runs seen, oldest first: (chronological key, outcome code), at most
    #: :data:`HISTORY_RUNS` (from the answers the list already gets; none before load).
    history: list[tuple[SortKey, str | None]] = field(default_factory=list)
    #: Its newest runs in order, and what is known before them: its failure streaks
    #: (``monitor/incidents.py``).
    runlog: RunLog = field(default_factory=RunLog)
    #: Its newest failed run as the failure watch read it (kind, signature and summary from its
    #: output), when the watch held it.
    last_failure: FailedRun | None = None
    #: Its state (``monitor/incidents.py``: failing, flaky, recovered, ...), kept current by the
    #: monitor after every change (:meth:`ProjectMonitor.evaluate`).
    incident: Incident = UNKNOWN
    #: ``event_key(last_event)``, kept with it (None: not computed yet).
    last_key: SortKey | None = None
    #: What :attr:`incident` was computed from, and until when it holds (see ``evaluate``).
    incident_facts: tuple[Any, ...] | None = field(default=None, repr=False, compare=False)
    #: Its runs' times (epoch seconds, in the order they were seen; at most twice
    #: :data:`RUN_TIMES_KEPT`) and durations (seconds, NaN when unknown; at most twice
    #: :data:`DURATIONS_KEPT`), from the answers the list already gets: its learned cadence and its
    #: p50 / p95.
    run_times: array[float] = field(default_factory=lambda: array("d"), repr=False, compare=False)
    durations: array[float] = field(default_factory=lambda: array("d"), repr=False, compare=False)
    #: Bumped whenever :attr:`run_times` changes (the learned cadence and the stats are cached on it).
    times_version: int = 0
    #: What its silence means now (``monitor/cadence.py``: late, quiet, ok, ...; None before the
    #: first evaluation): ``missed``, ``lateBy``, ``nextExpected``, ``expectedEvery``.
    cadence: CadenceState | None = None
    #: Its runs were read once to learn its cadence (:meth:`ProjectMonitor.lookup_cadences`).
    cadence_looked_up: bool = False
    #: The learned cadence and the version of :attr:`run_times` it came from.
    learned: tuple[int, LearnedCadence | NoCadence] | None = field(default=None, repr=False, compare=False)
    #: What :attr:`cadence` was computed from (``monitor/silence.py``).
    silence_facts: tuple[Any, ...] | None = field(default=None, repr=False, compare=False)
    _stats: tuple[int, DurationStats] | None = field(default=None, repr=False, compare=False)

    @property
    def last_run(self) -> datetime | None:
        return self.last_event.when if self.last_event else None

    @property
    def last_outcome(self) -> OutcomeInfo | None:
        return self.last_event.outcome_info if self.last_event else None

    @property
    def recent_failures(self) -> int:
        return len(self.failed_runs)

    @property
    def failing_now(self) -> bool:
        """Its incident state is ``failing`` (``monitor/incidents.py``): what the State column,
        the failing-now summary and ``status`` say, so that the row's mark, its colour, the
        attention order and the heading's count agree with them.

        Before its state is evaluated: its last recorded run failed (outcome 4, 8 or 12), unless
        it records failures only (``auditEventTrigger: on-error``: its successful runs leave no
        AuditEvent, so its last recorded run says nothing about its last run; its state says
        failing for an hour after its newest failure).
        """
        if self.incident is not UNKNOWN:
            return self.incident.state == "failing"
        event = self.last_event
        return event is not None and event.outcome in FAILURE_CODES and self.bot.audit_trigger != "on-error"

    @property
    def last_kind(self) -> FailureKind | None:
        """The kind of its newest run when that run failed and its kind is known (its incident's,
        or the failure watch's reading of it); None otherwise."""
        event = self.last_event
        if event is None or event.outcome not in FAILURE_CODES:
            return None
        incident = self.incident
        if (
            incident.state == "failing"
            and incident.streak is not None
            and incident.streak.last_id == event.id
        ):
            return incident.kind
        failure = self.last_failure
        return failure.kind if failure is not None and failure.id == event.id else None

    @property
    def history_outcomes(self) -> list[OutcomeInfo]:
        """Its newest runs' outcomes, oldest first (the history strip)."""
        return [outcome_info(code) for _, code in self.history]

    def note_time(self, when: datetime, duration: float | None) -> None:
        """One more run's time and duration (for its cadence and its p50 / p95), kept bounded."""
        times, durations = self.run_times, self.durations
        times.append(when.timestamp())
        durations.append(math.nan if duration is None else duration)
        if len(times) > 2 * RUN_TIMES_KEPT:
            del times[:-RUN_TIMES_KEPT]
        if len(durations) > 2 * DURATIONS_KEPT:
            del durations[:-DURATIONS_KEPT]
        self.times_version += 1

    def duration_stats(self) -> DurationStats:
        """The median and 95th percentile of its newest runs' durations (cached until they change)."""
        held = self._stats
        if held is not None and held[0] == self.times_version:
            return held[1]
        durations = self.durations
        newest = (durations[i] for i in range(len(durations) - 1, -1, -1))
        stats = duration_stats((None if d != d else d for d in newest), limit=DURATIONS_KEPT)
        self._stats = (self.times_version, stats)
        return stats

    def note_history(self, event: AuditEvent, key: SortKey | None = None) -> None:
        """Remember ``event`` among the newest runs (in time order; a run seen twice counts once).
        ``key``: its ``event_key``, when the caller has it."""
        if key is None:
            key = event_key(event)
        history = self.history
        if history and key <= history[-1][0]:
            if any(seen == key for seen, _ in history):
                return
            insort(history, (key, event.outcome), key=lambda item: item[0])
        else:
            history.append((key, event.outcome))
        del history[:-HISTORY_RUNS]


#: The silence evaluation's slot (``monitor/silence.py``): ``late`` or ``quiet`` for a bot at a
#: time, or None (its :meth:`~SilenceWatch.check`).
SilenceCheck = SilenceWatch


#: See :func:`attention_key`.
AttentionKey = tuple[int, int, int, float, str, str]
#: Within the first group of :func:`attention_key`: failing now, late, quiet, failed in the window.
_SILENT_RANK = {"late": 1, "quiet": 2}


def attention_key(status: BotStatus) -> AttentionKey:
    """Sort key (ascending) that puts what needs attention first.

    1. Bots that need attention: those whose last run failed (see
       :attr:`BotStatus.failing_now`), then those ``late`` and then ``quiet`` (their silence is a
       failure, ``monitor/cadence.py``), then those that failed within the monitor's ``recent``
       window; within each, the most failures, then the most recent run.
    2. Bots whose settings mean no AuditEvent is ever written (they cannot be watched).
    3. The rest, the most recent run first (busy, then quiet).
    Ties (and each group's rest) go by name, then id.
    """
    bot = status.bot
    name = bot.display_name.casefold()
    last = status.last_run
    newest_first = -last.timestamp() if last is not None else math.inf
    if status.failing_now:
        return (0, 0, -status.recent_failures, newest_first, name, bot.id)
    silent = _SILENT_RANK.get(status.incident.state)
    if silent is not None:
        return (0, silent, -status.recent_failures, newest_first, name, bot.id)
    if status.recent_failures:
        return (0, 3, -status.recent_failures, newest_first, name, bot.id)
    if not bot.writes_audit_events:
        return (1, 3, 0, math.inf, name, bot.id)
    return (2, 3, 0, newest_first, name, bot.id)


async def gather_all(*aws: Awaitable[Any]) -> list[Any]:
    """``asyncio.gather``, except that when one fails the others are cancelled (not left running
    behind the error), and that error is the one raised (not wrapped in an ExceptionGroup)."""
    tasks = [asyncio.ensure_future(aw) for aw in aws]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


class ProjectMonitor:
    """The bot list's state: every bot and its latest run, refreshed incrementally."""

    def __init__(
        self,
        client: MedplumClient,
        *,
        recent: timedelta = timedelta(hours=24),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        latest_page: int = 1000,
        roster_every: timedelta = timedelta(minutes=10),
        count_failures: bool = True,
        grace: Mapping[str, float] | None = None,
    ) -> None:
        """``count_failures``: read the failed runs of ``recent`` at load, for each bot's count (a
        caller that reads them itself, with their output, says False). ``grace``: scheduled bots'
        grace periods in seconds by bot id or name (the config file's ``[grace]``)."""
        self.client = client
        self.count_failures = count_failures
        self.roster_every = roster_every
        self.recent = recent
        self.clock = clock
        self.latest_page = latest_page
        self.statuses: dict[str, BotStatus] = {}
        self.invalid = 0
        self.loaded = False
        #: Runs older than this were not read at load: a bot with no run seen has not run since then.
        #: ``None`` when the whole history was read (so "never ran" is certain).
        self.horizon: datetime | None = None
        self._cursor = EventCursor(scope=self._scope())
        self._bots_changed_at: datetime | None = None
        self._roster_at = self.clock()
        self._roster_due = False
        self._departed: dict[str, BotStatus] = {}
        self._failure_ids: set[str] = set()
        #: The failed runs (outcome 4, 8 or 12) the last poll brought, oldest first (without their
        #: output: the alerts ask for it, once, only when one of them is new to them).
        self.new_failures: list[AuditEvent] = []
        #: ``late`` / ``quiet`` for a bot (the silence evaluation, ``monitor/silence.py``; None:
        #: never late or quiet).
        self.silence: SilenceCheck | None = SilenceWatch(grace)

    @staticmethod
    def _scope() -> dict[str, str]:
        return {"type": "execute", "_elements": ",".join(SUMMARY_ELEMENTS)}

    # ------------------------------------------------------------------ loading

    async def load(self, bots: SearchPage[Bot] | None = None) -> None:
        """Read everything afresh (at start, and on a manual full refresh).

        The bot list and the runs are read side by side: the bots (one page per 1,000) on one
        connection; the newest runs, then the window's failed runs (their window starts from the
        server's clock, known once the first answer came) on another. Against a server 50 ms away
        that is two round trips fewer than one after the other. ``bots``: the bot list, already
        read by the caller (``bots --json`` sends its resources as read): not read again.
        """
        if bots is None:
            bots, (latest, failures) = await gather_all(self.client.list_bots(), self._read_runs())
        else:
            latest, failures = await self._read_runs()
        self.statuses = {}
        for bot in sorted(bots.resources, key=lambda b: (b.display_name.casefold(), b.id)):
            self.statuses[bot.id] = BotStatus(bot=bot)
        self._bots_changed_at = max((b.last_updated for b in bots.resources if b.last_updated), default=None)
        self._roster_at = self.clock()
        self._roster_due = False
        self._departed = {}
        self._failure_ids = set()
        self._cursor = EventCursor(scope=self._scope())
        self._cursor.seed(latest.resources, self.client.server_now())
        for event in reversed(latest.resources):  # oldest first
            self._note_run(event)
        self._note_failures(failures.resources)
        self.horizon = latest.resources[-1].when if latest.next_url and latest.resources else None
        if self.horizon is None:  # every run of every bot was read: nothing comes before them
            for status in self.statuses.values():
                status.runlog.before_bounded = True
        self.invalid = bots.invalid + latest.invalid + failures.invalid
        self.loaded = True
        self.evaluate()

    async def _read_runs(self) -> tuple[SearchPage[AuditEvent], SearchPage[AuditEvent]]:
        """The newest runs, then every failed run of the window (its pages as one)."""
        latest = await self.client.bot_events(
            None, count=self.latest_page, execute_only=True, elements=SUMMARY_ELEMENTS
        )
        failures: SearchPage[AuditEvent] = SearchPage(resources=[])
        if not self.count_failures:
            return latest, failures
        async for page in self.client.iter_pages(
            "AuditEvent",
            self.client.event_params(
                None,
                count=1000,
                outcomes=FAILURE_CODES,
                since=self.clock() - self.recent,
                execute_only=True,
                elements=SUMMARY_ELEMENTS,
            ),
            AuditEvent,
            max_pages=MAX_FAILURE_PAGES,
        ):
            failures.resources.extend(page.resources)
            failures.invalid += page.invalid
        return latest, failures

    def needs_backfill(self, *, scheduled_only: bool = False) -> list[str]:
        """Bots that write AuditEvents but had no run among the newest read at load (their last run
        is older than :attr:`horizon`), at most :data:`MAX_BACKFILL`: those the server runs on a
        schedule first (whether they are late depends on it), then in list order.
        ``scheduled_only``: those only (the command line's one-shot answers)."""
        if self.horizon is None:
            return []
        idle = [
            (not isinstance(bot_schedule(status.bot), CronSchedule), bot_id)
            for bot_id, status in self.statuses.items()
            if status.last_event is None and not status.looked_up and status.bot.writes_audit_events
        ]
        idle.sort(key=lambda pair: pair[0])  # stable: list order within each group
        return [bot_id for unscheduled, bot_id in idle if not (scheduled_only and unscheduled)][:MAX_BACKFILL]

    async def backfill(self, *, scheduled_only: bool = False) -> set[str]:
        """Look up the newest run of each bot :meth:`needs_backfill` names (once per bot; a bounded
        number of requests after load, none per poll), then read the runs of the bots
        :meth:`needs_cadence_lookup` names. Returns the bots whose row changed."""
        changed = await self._backfill_last_runs(self.needs_backfill(scheduled_only=scheduled_only))
        if self.needs_cadence_lookup():
            changed |= await self.lookup_cadences()
        return changed | self.evaluate()

    def needs_cadence_lookup(self) -> list[str]:
        """Bots without a schedule whose runs read at load look regular but span less than a day
        (the load's newest runs of the project reach back less than that), so no cadence could be
        learned from them: their own newest runs are read once (:meth:`lookup_cadences`), at most
        :data:`MAX_CADENCE_LOOKUPS`."""
        if self.horizon is None:
            return []
        wanted: list[str] = []
        for bot_id, status in self.statuses.items():
            bot = status.bot
            if status.cadence_looked_up or len(status.run_times) < 2 or silence_blind(bot) is not None:
                continue
            if bot_schedule(bot) is not None:
                continue
            if might_learn(status.run_times.tolist()):
                wanted.append(bot_id)
                if len(wanted) >= MAX_CADENCE_LOOKUPS:
                    break
        return wanted

    async def lookup_cadences(self) -> set[str]:
        """One request per bot :meth:`needs_cadence_lookup` names (once per bot, a few at a time):
        its newest :data:`RUN_TIMES_KEPT` runs' times (up to 1,000, Medplum's page size), for its
        learned cadence. Returns the bots whose state changed."""
        todo = self.needs_cadence_lookup()
        count = min(RUN_TIMES_KEPT, STREAK_LOOKUP_RUNS)
        for _, status, page in await self._each_bots_runs(todo, count=count, elements=CADENCE_ELEMENTS):
            status.cadence_looked_up = True
            held = set(status.run_times)
            older = sorted(
                stamp
                for event in page.resources
                if (when := event.when) is not None and (stamp := when.timestamp()) not in held
            )
            if older:
                status.run_times = array("d", sorted([*older, *status.run_times])[-RUN_TIMES_KEPT:])
                status.times_version += 1
        return self.evaluate(set(todo))

    async def _backfill_last_runs(self, todo: list[str]) -> set[str]:
        changed: set[str] = set()
        for bot_id, status, page in await self._each_bots_runs(todo, count=1, elements=SUMMARY_ELEMENTS):
            status.looked_up = True
            changed.add(bot_id)
            if not page.next_url:  # that run is its only one
                status.runlog.before_bounded = True
            for event in page.resources:
                if event.bot_id == bot_id:
                    self._note_run(event)
        return changed

    async def _each_bots_runs(
        self, todo: list[str], *, count: int, elements: tuple[str, ...]
    ) -> list[tuple[str, BotStatus, SearchPage[AuditEvent]]]:
        """Each bot's newest ``count`` runs: one request a bot, :data:`BACKFILL_CONCURRENCY` at a
        time, with its status (a bot that left the list meanwhile is left out)."""
        found: list[tuple[str, BotStatus, SearchPage[AuditEvent]]] = []
        for start in range(0, len(todo), BACKFILL_CONCURRENCY):
            chunk = todo[start : start + BACKFILL_CONCURRENCY]
            pages = await gather_all(
                *(
                    self.client.bot_events(bot_id, count=count, execute_only=True, elements=elements)
                    for bot_id in chunk
                )
            )
            for bot_id, page in zip(chunk, pages, strict=True):
                status = self.statuses.get(bot_id)
                if status is not None:
                    self.invalid += page.invalid
                    found.append((bot_id, status, page))
        return found

    # ------------------------------------------------------------------ incidents

    def timeout_of(self, bot_id: str) -> float:
        """The bot's timeout in seconds (``durations.bot_timeout``; 10 s for a bot not listed)."""
        status = self._status(bot_id)
        return bot_timeout(status.bot) if status is not None else DEFAULT_TIMEOUT

    def needs_streak_lookup(self) -> list[str]:
        """Bots failing now whose streak goes back past the runs read (its start and length are
        unknown) and was not looked up yet, at most :data:`MAX_STREAK_LOOKUPS`."""
        return [
            bot_id
            for bot_id, status in self.statuses.items()
            if status.incident.state == "failing"
            and status.incident.streak is not None
            and not status.incident.streak.exact
            and not status.runlog.looked_up
            and status.bot.audit_trigger != "on-error"
        ][:MAX_STREAK_LOOKUPS]

    async def lookup_streaks(self) -> set[str]:
        """One request per bot :meth:`needs_streak_lookup` names (once per streak, a few at a time):
        its newest :data:`STREAK_LOOKUP_RUNS` runs, read back to the success before the streak.
        Returns the bots whose state changed."""
        todo = self.needs_streak_lookup()
        for _, status, page in await self._each_bots_runs(
            todo, count=STREAK_LOOKUP_RUNS, elements=STREAK_ELEMENTS
        ):
            runs = [(event_key(event), event.outcome in FAILURE_CODES) for event in page.resources]
            status.runlog.absorb(runs, complete=not page.next_url)
        return self.evaluate(set(todo))

    def causes_unread(self) -> list[str]:
        """The ids of the newest failed runs of bots failing now (or recovered, or flaky) whose
        output was not read: what names the kind and cause of their incident."""
        wanted: list[str] = []
        for status in self.statuses.values():
            incident = status.incident
            streak = incident.streak if incident.state == "failing" else None
            if incident.state in ("recovered", "flaky"):
                streak = incident.previous
            read = status.last_failure
            if streak is not None and streak.last_id and (read is None or read.id != streak.last_id):
                wanted.append(streak.last_id)
        return wanted[:MAX_CAUSES]

    async def read_causes(self) -> set[str]:
        """Read the output of the runs :meth:`causes_unread` names (``AuditEvent?_id=...``, 100 ids
        a request, a few at a time): for a one-shot answer, which has no failure watch. Returns
        the bots whose state changed."""
        wanted = self.causes_unread()
        chunks = [
            wanted[start : start + CAUSES_PER_REQUEST] for start in range(0, len(wanted), CAUSES_PER_REQUEST)
        ]
        runs: list[FailedRun] = []
        for start in range(0, len(chunks), BACKFILL_CONCURRENCY):
            pages = await gather_all(
                *(
                    self.client.search(
                        "AuditEvent", [("_id", ",".join(ids)), ("_count", str(len(ids)))], AuditEvent
                    )
                    for ids in chunks[start : start + BACKFILL_CONCURRENCY]
                )
            )
            for page in pages:
                self.invalid += page.invalid
                runs.extend(
                    FailedRun.of(event, self.timeout_of(event.bot_id or ""))
                    for event in page.resources
                    if event.outcome in FAILURE_CODES
                )
        return self.note_failed_runs(runs)

    def note_failed_runs(self, runs: list[FailedRun]) -> set[str]:
        """The failure watch's runs (with kind, signature and summary from their output): each bot
        keeps its newest, which names its incident's kind and cause. Returns the bots whose state
        changed."""
        noted: set[str] = set()
        for run in runs:
            status = self._status(run.bot_id)
            if status is None:
                continue
            held = status.last_failure
            if held is None or event_key(run) > event_key(held):
                status.last_failure = run
                noted.add(run.bot_id)
        return self.evaluate(noted) if noted else set()

    def evaluate(self, bot_ids: set[str] | None = None) -> set[str]:
        """Bring each bot's :attr:`BotStatus.incident` up to date: every bot (some states change
        with time alone, ``recovered`` an hour after, for one), or only ``bot_ids`` (their facts
        changed). Returns the bots whose state changed, and ``bot_ids``."""
        now = self.clock()
        check = self.silence
        certain = self.horizon is None
        changed: set[str] = set()
        statuses = self.statuses
        chosen = (
            statuses.items()
            if bot_ids is None
            else [(bot_id, statuses[bot_id]) for bot_id in bot_ids if bot_id in statuses]
        )
        for bot_id, status in chosen:
            known = certain or status.looked_up
            silence = check.check(status, now, last_run_known=known) if check is not None else None
            failure = status.last_failure
            ran = None if not known else False
            facts = (status.runlog.version, failure.id if failure else None, ran, silence)
            held = status.incident_facts
            # Unchanged facts give the same state until the time it changes by itself.
            if (
                held is not None
                and held[0] is status.bot
                and held[1] == facts
                and (held[2] is None or now < held[2])
            ):
                continue
            incident = evaluate(
                status.bot,
                status.runlog,
                now=now,
                timeout=bot_timeout(status.bot),
                last_failure=failure,
                ran=ran,
                silence=silence,
            )
            status.incident_facts = (status.bot, facts, incident.until)
            if incident != status.incident:
                status.incident = incident
                changed.add(bot_id)
        return changed | (bot_ids & statuses.keys() if bot_ids else set())

    def incidents(self) -> dict[str, Incident]:
        """Every listed bot's state, by bot id."""
        return {bot_id: status.incident for bot_id, status in self.statuses.items()}

    async def poll(self) -> set[str]:
        """Two requests: changed bots, and runs since the newest seen. Returns the changed bot ids."""
        self.new_failures = []
        if not self.loaded:
            await self.load()
            return set(self.statuses)
        changed: set[str] = set()
        changed_at = self._bots_changed_at
        if changed_at is None or self._roster_due or self.clock() - self._roster_at >= self.roster_every:
            bots = await self.client.list_bots()
            self._roster_at = self.clock()
            self._roster_due = False
            if not bots.invalid:  # an unreadable entry may be a bot still there: drop nothing
                changed |= self._drop_missing({bot.id for bot in bots.resources})
        else:
            bots = await self.client.bots_changed_since(changed_at)
        self.invalid += bots.invalid
        resort = False
        for bot in bots.resources:
            changed.add(bot.id)
            status = self.statuses.get(bot.id)
            if status is None:
                back = self._departed.pop(bot.id, None)
                if back is not None:
                    back.bot = bot
                if back is None:
                    back = BotStatus(bot=bot)
                    back.runlog.before_bounded = True  # a new bot: every run of it is seen
                    back.looked_up = True  # (so no run seen means it never ran: a schedule's late)
                self.statuses[bot.id] = back
                resort = True
            else:
                resort = resort or status.bot.display_name != bot.display_name
                status.bot = bot
            stamp = bot.last_updated
            if stamp and (self._bots_changed_at is None or stamp > self._bots_changed_at):
                self._bots_changed_at = stamp
        if resort:  # once, however many bots came or were renamed
            self._resort()
        new, _behind = await self.client.events_since(self._cursor, count=1000, max_pages=5)
        self.invalid += self._cursor.take_unreadable()
        for event in new:
            bot_id = self._note_run(event)
            if bot_id is not None:
                changed.add(bot_id)
        # What load counts too (outcome=4,8,12): not an unknown code, nor a run with no outcome.
        self.new_failures = [e for e in new if e.outcome in FAILURE_CODES]
        self._note_failures(self.new_failures)
        changed |= self._expire_failures()
        return changed | self.evaluate()

    def request_roster(self) -> None:
        """Read the whole bot list at the next poll (deleted bots are dropped then)."""
        self._roster_due = True

    # ------------------------------------------------------------------ bookkeeping

    def _drop_missing(self, present: set[str]) -> set[str]:
        gone = {bot_id for bot_id in self.statuses if bot_id not in present}
        for bot_id in gone:
            self._departed[bot_id] = self.statuses.pop(bot_id)
        while len(self._departed) > MAX_DEPARTED:
            oldest = next(iter(self._departed))
            status = self._departed.pop(oldest)
            self._failure_ids.difference_update(event_id for _, event_id in status.failed_runs)
        return gone

    def _status(self, bot_id: str | None) -> BotStatus | None:
        """The state of a listed bot, or of one that left the list (its runs still count)."""
        if not bot_id:
            return None
        return self.statuses.get(bot_id) or self._departed.get(bot_id)

    def _resort(self) -> None:
        self.statuses = dict(
            sorted(self.statuses.items(), key=lambda kv: (kv[1].bot.display_name.casefold(), kv[0]))
        )

    def _note_run(self, event: AuditEvent) -> str | None:
        bot_id = event.bot_id
        status = self._status(bot_id)
        if status is None:
            return None
        status.runs_seen += 1
        key = event_key(event)  # (parsing its time is most of the cost: once)
        status.note_history(event, key)
        failed = event.outcome in FAILURE_CODES
        seconds = duration_seconds(event)  # None: unknown, or a clock that went backwards
        if status.runlog.note(key, failed, seconds):
            status.note_time(key[0], seconds)
        last = status.last_event
        if last is None or key >= (status.last_key or event_key(last)):
            status.last_event = event
            status.last_key = key
        return bot_id

    def _note_failures(self, events: list[AuditEvent]) -> None:
        """Count the failed runs within ``recent``, oldest first, each once (its time parsed once)."""
        floor = self.clock() - self.recent
        timed = [(when, event) for event in events if (when := event.when) is not None and when >= floor]
        timed.sort(key=lambda pair: (pair[0], pair[1].id))
        for when, event in timed:
            status = self._status(event.bot_id)
            if status is None or event.id in self._failure_ids:
                continue
            self._failure_ids.add(event.id)
            status.failed_runs.append((when, event.id))
            if len(status.failed_runs) > MAX_FAILURES_PER_BOT:
                _, gone = status.failed_runs.popleft()
                self._failure_ids.discard(gone)

    def _expire_failures(self) -> set[str]:
        floor = self.clock() - self.recent
        changed: set[str] = set()
        for bot_id, status in self.statuses.items():
            while status.failed_runs and status.failed_runs[0][0] < floor:
                _, gone = status.failed_runs.popleft()
                self._failure_ids.discard(gone)
                changed.add(bot_id)
        return changed
