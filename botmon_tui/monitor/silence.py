"""The silence slot of the bot list (``ProjectMonitor.silence``): is a bot ``late`` or ``quiet`` now?

:class:`SilenceWatch` is what :meth:`~botmon_tui.monitor.summary.ProjectMonitor.evaluate` asks for
each bot: it runs :func:`botmon_tui.monitor.cadence.evaluate` on what the monitor already holds
(the Bot resource, with its schedule; its last run; the run times kept from the answers the list
already gets, :attr:`BotStatus.run_times`) and keeps the answer on the bot
(:attr:`BotStatus.cadence`, for ``status --json``), with a :class:`~botmon_tui.monitor.incidents.Silence`
for the incident state when it is late or quiet. No request.

Cheap enough to ask for every bot after every poll: the answer is cached on the bot with the facts
it came from (the Bot resource, its last run, its run times' version, its grace) and the time it
changes by itself (a scheduled run's grace runs out; a late bot misses one more run; a learned
cadence's silence turns quiet); the learned cadence is cached on the run times' version.

The grace period of a scheduled bot is :func:`~botmon_tui.monitor.cadence.default_grace` unless the
config file's ``[grace]`` table names the bot (by id, or by name).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from botmon_tui.monitor.cadence import CadenceState, LearnedCadence, NoCadence, evaluate, learn_cadence
from botmon_tui.monitor.cron import CronSchedule, bot_schedule, to_epoch
from botmon_tui.monitor.durations import bot_timeout, compact_span
from botmon_tui.monitor.incidents import Silence

if TYPE_CHECKING:
    from botmon_tui.monitor.summary import BotStatus

__all__ = ["SilenceWatch", "silence_of"]


def silence_of(state: CadenceState) -> Silence | None:
    """The incident side of a late or quiet :class:`CadenceState` (None when it is neither):
    since when (a late bot: when its first missed run was due; a quiet one: its newest run), the
    bot list's detail (``9 missed``, ``never ran``, ``usually every 5m``) and one line of why."""
    if state.kind == "late" and state.due is not None:
        schedule = state.schedule
        every = schedule.human if isinstance(schedule, CronSchedule) else "on a schedule"
        if state.never_ran:
            detail = "never ran"
        else:
            detail = f"{'≥ ' if state.missed_capped else ''}{state.missed or 0:,} missed"
        summary = f"no run since {state.due:%Y-%m-%d %H:%M} UTC, when one was due ({every}); {detail}"
        return Silence("late", state.due, summary, detail)
    if state.kind == "quiet" and isinstance(state.cadence, LearnedCadence):
        cadence = state.cadence
        usually = compact_span(cadence.typical, about=True)
        summary = (
            f"no run since {cadence.newest:%Y-%m-%d %H:%M} UTC; {cadence.description}, "
            f"quiet after {compact_span(cadence.quiet_after)}"
        )
        return Silence("quiet", cadence.newest, summary, f"usually every {usually}")
    return None


def _valid_until(state: CadenceState, timeout: float) -> float | None:
    """Epoch seconds at which ``state`` may change by the passage of time alone (None: only when
    its facts change)."""
    if state.kind == "ok":
        if isinstance(state.cadence, LearnedCadence):
            newest = state.cadence.newest
            return to_epoch(newest) + state.cadence.quiet_after
        if state.due is not None and state.grace is not None:
            return to_epoch(state.due) + state.grace + timeout
        return None
    if state.kind == "late":
        # One more missed run at the next scheduled time.
        return to_epoch(state.next_expected) if state.next_expected is not None else None
    return None


class SilenceWatch:
    """``late`` / ``quiet`` for a bot (see the module docstring). ``grace``: seconds by bot id or
    name (the config file's ``[grace]``)."""

    def __init__(self, grace: Mapping[str, float] | None = None) -> None:
        self.grace: dict[str, float] = dict(grace or {})

    def grace_for(self, status: BotStatus) -> float | None:
        """The bot's grace period from the config (by id first, then by name), or None (default)."""
        grace = self.grace
        if not grace:
            return None
        bot = status.bot
        found = grace.get(bot.id)
        if found is None and bot.name:
            found = grace.get(bot.name)
        return found

    @staticmethod
    def learned(status: BotStatus) -> LearnedCadence | NoCadence:
        """The bot's learned cadence from its run times, cached until they change."""
        held = status.learned
        if held is not None and held[0] == status.times_version:
            return held[1]
        learned = learn_cadence(status.run_times.tolist())
        status.learned = (status.times_version, learned)
        return learned

    def check(self, status: BotStatus, now: datetime, *, last_run_known: bool) -> Silence | None:
        """The bot's silence at ``now`` (also kept as :attr:`BotStatus.cadence`). ``last_run_known``:
        no run of the bot among those read means it never ran (else: not looked up yet)."""
        bot = status.bot
        last = status.last_run
        grace = self.grace_for(status)
        facts = (last, status.times_version, grace, last_run_known)
        held = status.silence_facts
        at = now.timestamp()
        if held is not None and held[0] is bot and held[1] == facts and (held[2] is None or at < held[2]):
            cached: Silence | None = held[3]
            return cached
        learned = None if isinstance(bot_schedule(bot), CronSchedule) else self.learned(status)
        state = evaluate(
            bot,
            last,
            (),
            now,
            grace=grace,
            learned=learned,
            last_run_known=last_run_known or last is not None,
        )
        silence = silence_of(state)
        status.cadence = state
        status.silence_facts = (bot, facts, _valid_until(state, bot_timeout(bot)), silence)
        return silence
