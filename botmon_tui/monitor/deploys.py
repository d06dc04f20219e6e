"""A bot's deploys, from its version history (``Bot/<id>/_history``), and what they explain.

``medplum bot deploy`` saves the Bot (a version with the new ``sourceCode``) and then calls
``$deploy`` (another version when ``executableCode`` changes): one deploy is two or more versions
seconds apart. Versions within :data:`DEPLOY_GAP` of each other are one :class:`Deploy`. AuditEvents
reference the Bot without a version, so runs are matched to deploys by time: a failure streak that
starts within :data:`AFTER_DEPLOY` after a deploy is said to follow it
("failing since 12:04, 2 min after a deploy (12:02)").

A history read costs Medplum ten times a read (10 FHIR-quota units): :class:`DeployHistory` reads
it once, then again only when the Bot's ``meta.versionId`` is not the newest version it read
(a new version was saved since).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Protocol

from botmon_tui.formatting import failing_since_text
from botmon_tui.medplum.client import HISTORY_PAGE, MedplumClient
from botmon_tui.medplum.errors import MedplumError
from botmon_tui.medplum.models import BotVersion

__all__ = [
    "AFTER_DEPLOY",
    "DEPLOY_GAP",
    "Deploy",
    "DeployHistory",
    "Run",
    "deploy_before",
    "first_runs_after",
    "group_deploys",
    "incident_line",
]

#: Versions saved within this of each other are one deploy.
DEPLOY_GAP = timedelta(minutes=2)
#: A failure streak that starts within this after a deploy is said to follow it.
AFTER_DEPLOY = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class Deploy:
    """Versions of a Bot saved within :data:`DEPLOY_GAP` of each other."""

    #: The first and the last version's ``meta.lastUpdated``: the new code runs from ``end`` on.
    start: datetime
    end: datetime
    #: Their version ids, oldest first.
    versions: tuple[str, ...]
    #: Who saved the last version (``meta.author``: a person, or a CI's client), as sent.
    author: str | None = None

    @property
    def at(self) -> datetime:
        """When the deploy was done (its last version)."""
        return self.end


def group_deploys(versions: Iterable[BotVersion], *, complete: bool = False) -> list[Deploy]:
    """The deploys of a Bot's versions (any order), newest first. ``complete``: the versions go
    back to the Bot's creation; a creation alone (one version, nothing within two minutes after
    it) is not a deploy (a bot created and deployed at once is)."""
    ordered = sorted(versions, key=lambda version: version.when)
    groups: list[list[BotVersion]] = []
    for version in ordered:
        if groups and version.when - groups[-1][-1].when <= DEPLOY_GAP:
            groups[-1].append(version)
        else:
            groups.append([version])
    if complete and groups and len(groups[0]) == 1:
        del groups[0]
    deploys = [
        Deploy(group[0].when, group[-1].when, tuple(v.version_id for v in group), group[-1].author)
        for group in groups
    ]
    deploys.reverse()
    return deploys


def deploy_before(
    deploys: Sequence[Deploy], when: datetime, within: timedelta = AFTER_DEPLOY
) -> Deploy | None:
    """The newest deploy done at or before ``when`` and at most ``within`` before it."""
    for deploy in deploys:  # newest first
        if deploy.at <= when:
            return deploy if when - deploy.at <= within else None
    return None


class Run(Protocol):
    """What :func:`first_runs_after` reads of a run (an AuditEvent, a ``FeedEvent``)."""

    @property
    def id(self) -> str: ...

    @property
    def started(self) -> datetime | None: ...

    @property
    def when(self) -> datetime | None: ...


def first_runs_after(
    deploys: Sequence[Deploy], runs: Sequence[Run]
) -> tuple[dict[str, Deploy], list[Deploy]]:
    """Where each deploy falls among ``runs`` (newest first, as a table lists them): the id of the
    first run that started after it (a boundary under that run's row), and the deploys done after
    the newest run (above the first row). A deploy older than the oldest run, or with no run
    between it and the next deploy, is not placed."""
    after: dict[str, Deploy] = {}
    newer: list[Deploy] = []
    if not runs:
        return after, newer
    pending = list(deploys)  # newest first
    previous: Run | None = None
    for run in runs:
        start = run.started or run.when
        if start is None:
            continue
        while pending and pending[0].at > start:
            deploy = pending.pop(0)
            if previous is None:
                newer.append(deploy)
            elif previous.id not in after:
                after[previous.id] = deploy
        previous = run
    return after, newer


def incident_line(
    failing_since: datetime, deploys: Sequence[Deploy], tz: tzinfo | None, *, now: datetime | None = None
) -> str:
    """ "failing since 12:04, 2 min after a deploy (12:02)" when a deploy was done within
    :data:`AFTER_DEPLOY` before the streak began, else "failing since 12:04" (for the incident
    line of any screen; the wording is :func:`botmon_tui.formatting.failing_since_text`)."""
    deploy = deploy_before(deploys, failing_since)
    return failing_since_text(failing_since, deploy.at if deploy else None, tz, now=now)


class DeployHistory:
    """One Bot's deploys, read from its history once, and again only when it has a new version."""

    def __init__(self, client: MedplumClient, bot_id: str) -> None:
        self.client = client
        self.bot_id = bot_id
        self.versions: list[BotVersion] = []
        self.deploys: list[Deploy] = []
        self.loaded = False
        #: The last read's error (the deploys read before it, if any, stay).
        self.error: MedplumError | None = None
        #: History reads sent (each costs 10 quota units).
        self.reads = 0
        #: The Bot's version the last read was for (done, or failed).
        self._read_for: str | None = None

    @property
    def newest_version(self) -> str | None:
        return self.versions[0].version_id if self.versions else None

    @property
    def last_deploy(self) -> Deploy | None:
        return self.deploys[0] if self.deploys else None

    def stale(self, version_id: str | None) -> bool:
        """Whether a read is due: never read, or the Bot's ``meta.versionId`` (``None``: unknown)
        is not the newest version read."""
        if not self.loaded:
            return True
        return version_id is not None and version_id not in (self._read_for, self.newest_version)

    async def refresh(self, version_id: str | None = None) -> bool:
        """Read the history if :meth:`stale`; True when the deploys changed. A failed read keeps
        what was read before and is not retried until the Bot's version changes again (or
        :meth:`load` is called)."""
        if not self.stale(version_id):
            return False
        return await self.load(version_id)

    async def load(self, version_id: str | None = None) -> bool:
        """Read the history now; True when the deploys changed."""
        before = self.deploys
        self.reads += 1
        # Not again for this version, even if it fails: a history read is 10 units.
        self._read_for = version_id
        try:
            versions = await self.client.bot_history(self.bot_id)
        except MedplumError as error:
            self.error = error
            self.loaded = True
            raise
        self.error = None
        self.loaded = True
        self.versions = versions
        # Fewer versions than a history page holds: the first is the Bot's creation.
        self.deploys = group_deploys(versions, complete=len(versions) < HISTORY_PAGE)
        return self.deploys != before
