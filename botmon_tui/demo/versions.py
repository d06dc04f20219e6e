"""Resource versions, as Medplum keeps them in its ``<Type>_History`` tables, and the history Bundle.

Every create and update of a Bot writes a new version (a new ``meta.versionId`` and
``meta.lastUpdated``); a delete writes a version without content. ``GET <fhir>Bot/<id>/_history``
answers with them newest first, shaped as the server's ``Repository.readHistory`` builds them::

    {"resourceType": "Bundle", "type": "history",
     "entry": [{"fullUrl": "<base>fhir/R4/Bot/<id>",
                "request": {"method": "GET", "url": "Bot/<id>/_history/<versionId>"},
                "response": {"status": "200", "outcome": <allOk>},
                "resource": {<the Bot as it was>}},
               {... a deleted version: "response": {"status": "410", "outcome": <gone, "Deleted on ...">},
                and no "resource"}],
     "total": <every version of the resource>}

``_count`` (default 100, at most 1000) and ``_offset`` (at most ``maxSearchOffset``, 10,000; more is
400 ``Search offset exceeds maximum (got X, max 10000)``) page it. The server's history Bundle has no
``link`` (read in ``fhir/repo.ts``; page with ``_offset`` and ``total``), and neither has the demo's.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botmon_tui.demo import outcomes
from botmon_tui.demo.fhirtime import from_ms

__all__ = ["DEFAULT_HISTORY_COUNT", "MAX_VERSIONS", "Version", "VersionLog", "history_bundle"]

JsonDict = dict[str, Any]

#: Versions the demo keeps a Bot (the oldest go first). Medplum keeps them all.
MAX_VERSIONS = 200
#: ``readHistory``'s page size when ``_count`` is not given.
DEFAULT_HISTORY_COUNT = 100
#: ``readHistory`` clamps ``_count`` to ``DEFAULT_MAX_SEARCH_COUNT``.
MAX_HISTORY_COUNT = 1000


@dataclass(frozen=True, slots=True)
class Version:
    """One version: the resource as it was (a private copy), or None for a deletion."""

    version_id: str
    lu_ms: int
    resource: JsonDict | None


class VersionLog:
    """The versions of every resource of one type, oldest first, at most ``limit`` each.

    Not thread-safe by itself: the store calls it under its lock.
    """

    def __init__(self, limit: int = MAX_VERSIONS) -> None:
        self.limit = limit
        self._versions: dict[str, deque[Version]] = {}

    def record(self, resource_id: str, version_id: str, lu_ms: int, resource: JsonDict | None) -> None:
        """Add a version (``resource`` None: a deletion). Versions are kept in time order: one
        older than the newest kept is placed where it belongs (a deploy made "in the past")."""
        versions = self._versions.setdefault(resource_id, deque(maxlen=self.limit))
        version = Version(version_id, lu_ms, resource)
        if not versions or versions[-1].lu_ms <= lu_ms:
            versions.append(version)
            return
        ordered = sorted([*versions, version], key=lambda v: v.lu_ms)
        versions.clear()
        versions.extend(ordered[-self.limit :])

    def forget(self, resource_id: str) -> None:
        """Drop every version (``$expunge``)."""
        self._versions.pop(resource_id, None)

    def newest_first(self, resource_id: str) -> list[Version]:
        return list(reversed(self._versions.get(resource_id, ())))

    def latest(self, resource_id: str) -> Version | None:
        versions = self._versions.get(resource_id)
        return versions[-1] if versions else None

    def __contains__(self, resource_id: object) -> bool:
        return resource_id in self._versions


def history_bundle(
    resource_type: str,
    resource_id: str,
    versions: Sequence[Version],
    fhir_base: str,
    *,
    count: int = DEFAULT_HISTORY_COUNT,
    offset: int = 0,
) -> JsonDict:
    """The history Bundle of ``versions`` (newest first), one page of ``count`` from ``offset``."""
    count = min(max(count, 0), MAX_HISTORY_COUNT)
    offset = max(offset, 0)
    entries: list[JsonDict] = []
    for version in versions[offset : offset + count]:
        entry: JsonDict = {
            "fullUrl": f"{fhir_base}{resource_type}/{resource_id}",
            "request": {
                "method": "GET",
                "url": f"{resource_type}/{resource_id}/_history/{version.version_id}",
            },
        }
        if version.resource is None:
            entry["response"] = {"status": "410", "outcome": outcomes.deleted_on(from_ms(version.lu_ms))}
        else:
            entry["response"] = {"status": "200", "outcome": outcomes.ALL_OK}
            entry["resource"] = version.resource
        entries.append(entry)
    return {"resourceType": "Bundle", "type": "history", "entry": entries, "total": len(versions)}
