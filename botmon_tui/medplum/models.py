"""Tolerant pydantic models of the FHIR resources botmon-tui reads.

Unknown fields are kept (``extra="allow"``), optional fields are optional, and an unknown
outcome code is kept as it is. The outcome table lives here and nowhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Literal, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

__all__ = [
    "DEFAULT_AUDIT_DESTINATION",
    "DEFAULT_AUDIT_TRIGGER",
    "FAILURE_CODES",
    "NO_TRACING",
    "OUTCOMES",
    "ROLE_DOMAIN",
    "ROLE_PATIENT",
    "ROLE_SUBSCRIBER",
    "TRACING_EXTENSION",
    "AuditEntity",
    "AuditEvent",
    "Bot",
    "BotVersion",
    "Bundle",
    "BundleEntry",
    "BundleLink",
    "Coding",
    "Meta",
    "OperationOutcome",
    "OutcomeInfo",
    "Reference",
    "RunEntities",
    "SearchPage",
    "Tracing",
    "entity_role",
    "format_instant",
    "outcome_info",
    "parse_history",
    "parse_instant",
    "parse_reference",
    "parse_search_page",
    "run_input",
    "run_subscription",
    "tracing_of",
]


# --------------------------------------------------------------------------------------------
# Outcome codes: the one table (http://hl7.org/fhir/ValueSet/audit-event-outcome, Medplum docs).
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutcomeInfo:
    code: str
    display: str
    description: str
    #: Sort key: higher is worse. Unknown numeric codes sort by their number, others last.
    severity: int
    #: A symbol that reads without colour.
    symbol: str
    #: A semantic level the UI maps to a colour: "success" | "warning" | "error" | "critical" | "unknown".
    level: str

    @property
    def is_failure(self) -> bool:
        return self.code != "0"


OUTCOMES: dict[str, OutcomeInfo] = {
    "0": OutcomeInfo(
        "0",
        "Success",
        "The operation completed successfully (whether with warnings or not).",
        0,
        "✓",
        "success",
    ),
    "4": OutcomeInfo(
        "4",
        "Minor failure",
        "The action was not successful due to some kind of minor failure "
        "(often equivalent to an HTTP 400 response).",
        4,
        "▲",
        "warning",
    ),
    "8": OutcomeInfo(
        "8",
        "Serious Failure",
        "The action was not successful due to some kind of unexpected error "
        "(often equivalent to an HTTP 500 response).",
        8,
        "✗",
        "error",
    ),
    "12": OutcomeInfo(
        "12",
        "Major failure",
        "An error of such magnitude occurred that the system is no longer available for use "
        "(i.e. the system died).",
        12,
        "✖",
        "critical",
    ),
}

#: The codes ``--failures`` and "recent failures" count: everything but Success.
FAILURE_CODES: tuple[str, ...] = ("4", "8", "12")


def outcome_info(code: str | None) -> OutcomeInfo:
    """The table row for ``code``; an unknown code is shown as itself and never raises."""
    if code is None or code == "":
        return OutcomeInfo("", "(none)", "The event has no outcome.", -1, "·", "unknown")
    known = OUTCOMES.get(code)
    if known is not None:
        return known
    severity = int(code) if code.isdigit() and len(code) < 6 else 99
    return OutcomeInfo(code, code, f"Unknown outcome code {code!r}.", severity, "?", "unknown")


# --------------------------------------------------------------------------------------------
# Instants
# --------------------------------------------------------------------------------------------


def parse_instant(value: str | None) -> datetime | None:
    """Parse a FHIR instant/dateTime into an aware UTC datetime; ``None`` when absent or unreadable."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_instant(value: datetime) -> str:
    """The FHIR instant form Medplum writes: ``2025-03-14T09:26:54.120Z`` (UTC, milliseconds)."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


# --------------------------------------------------------------------------------------------
# FHIR data types
# --------------------------------------------------------------------------------------------


class FhirModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=False)


class Coding(FhirModel):
    system: str | None = None
    code: str | None = None
    display: str | None = None


class CodeableConcept(FhirModel):
    coding: list[Coding] | None = None
    text: str | None = None


class Reference(FhirModel):
    reference: str | None = None
    display: str | None = None


class Meta(FhirModel):
    versionId: str | None = None
    lastUpdated: str | None = None
    project: str | None = None


class Period(FhirModel):
    start: str | None = None
    end: str | None = None


class Resource(FhirModel):
    resourceType: str
    id: str
    meta: Meta | None = None

    @field_validator("id")
    @classmethod
    def _id_not_empty(cls, value: str) -> str:
        if not value:
            raise ValueError("empty id")
        return value

    @property
    def last_updated_raw(self) -> str | None:
        return self.meta.lastUpdated if self.meta else None

    @property
    def last_updated(self) -> datetime | None:
        return parse_instant(self.last_updated_raw)


# --------------------------------------------------------------------------------------------
# Bot
# --------------------------------------------------------------------------------------------

DEFAULT_AUDIT_TRIGGER = "always"
DEFAULT_AUDIT_DESTINATION: tuple[str, ...] = ("resource",)


class Bot(Resource):
    resourceType: Literal["Bot"] = "Bot"
    name: str | None = None
    description: str | None = None
    identifier: list[dict[str, Any]] | None = None
    runtimeVersion: str | None = None
    timeout: float | None = None
    cronString: str | None = None
    cronTiming: dict[str, Any] | None = None
    category: list[CodeableConcept] | None = None
    system: bool | None = None
    auditEventTrigger: str | None = None
    auditEventDestination: list[str] | None = None

    @property
    def reference(self) -> str:
        return f"Bot/{self.id}"

    @property
    def display_name(self) -> str:
        return self.name or self.id

    @property
    def audit_trigger(self) -> str:
        return self.auditEventTrigger or DEFAULT_AUDIT_TRIGGER

    @property
    def audit_destination(self) -> tuple[str, ...]:
        """The effective destinations: unset (or empty) means ``["resource"]``."""
        return tuple(self.auditEventDestination) if self.auditEventDestination else DEFAULT_AUDIT_DESTINATION

    @property
    def writes_audit_events(self) -> bool:
        """False when this bot's settings mean no AuditEvent resource will ever appear."""
        return "resource" in self.audit_destination and self.audit_trigger != "never"

    @property
    def schedule(self) -> str | None:
        """A short human form of the bot's schedule (cron string, or a note that cronTiming is set)."""
        if self.cronString:
            return self.cronString
        if self.cronTiming:
            repeat = self.cronTiming.get("repeat") if isinstance(self.cronTiming, dict) else None
            if isinstance(repeat, dict) and repeat.get("period") and repeat.get("periodUnit"):
                return f"every {repeat['period']} {repeat['periodUnit']}"
            return "cronTiming"
        return None


# --------------------------------------------------------------------------------------------
# AuditEvent
# --------------------------------------------------------------------------------------------


class AuditAgent(FhirModel):
    type: CodeableConcept | None = None
    who: Reference | None = None
    requestor: bool | None = None


class AuditSource(FhirModel):
    observer: Reference | None = None
    site: str | None = None


class AuditEntity(FhirModel):
    what: Reference | None = None
    role: Coding | None = None
    name: str | None = None


# --------------------------------------------------------------------------------------------
# What a bot run writes about its context (Medplum's createBotAuditEvent)
# --------------------------------------------------------------------------------------------

#: ``entity[].role`` codes Medplum writes for a bot run (``getAuditEventEntityRole``; no system).
ROLE_PATIENT = "1"
ROLE_DOMAIN = "4"
ROLE_SUBSCRIBER = "9"
_ROLE_DISPLAYS = {"patient": ROLE_PATIENT, "domain": ROLE_DOMAIN, "subscriber": ROLE_SUBSCRIBER}
#: The extension with the run's ``requestId`` and ``traceId`` (sub-extensions, ``valueId``).
TRACING_EXTENSION = "https://medplum.com/fhir/StructureDefinition/tracing"


def _type_of(entity: AuditEntity) -> str | None:
    ref = entity.what.reference if entity.what else None
    return ref.split("/", 1)[0] if ref and "/" in ref else None


def entity_role(entity: AuditEntity) -> str | None:
    """The role code of a run's entity: ``role.code`` (with or without a system), else what its
    display or, with no role at all (older servers), its resource type says, as Medplum assigns it."""
    role = entity.role
    if role is not None:
        if role.code:
            return role.code.strip()
        if role.display:
            return _ROLE_DISPLAYS.get(role.display.strip().casefold())
    kind = _type_of(entity)
    if kind is None:
        return None
    return ROLE_PATIENT if kind == "Patient" else ROLE_SUBSCRIBER if kind == "Subscription" else ROLE_DOMAIN


def run_input(others: list[AuditEntity]) -> AuditEntity | None:
    """The run's input resource among its entities other than the bot's own (``other_entities``):
    the first with role 1 (a Patient) or 4 (anything else: the Bot itself for a cron run, a Cron or
    a Parameters resource for a run a Cron resource started). Medplum writes the bot, the input, the
    subscription, the agent and the device, in that order: an Agent (and the Device after it) is
    where the run came from, not its input (an HL7 message through an agent is no resource).
    Another role code (``3`` Report, from another writer) is read as an input too; only the
    subscription's (9) is not."""
    for entity in others:
        kind = _type_of(entity)
        if kind == "Agent":
            return None
        if kind is not None and entity_role(entity) != ROLE_SUBSCRIBER:
            return entity
    return None


def run_subscription(others: list[AuditEntity]) -> AuditEntity | None:
    """The Subscription that started the run (role 9), if one did."""
    return next((e for e in others if _type_of(e) and entity_role(e) == ROLE_SUBSCRIBER), None)


class RunEntities:
    """The input and the subscription of a run, read from its ``other_entities`` (the AuditEvent
    model and the Event tab's compact ``FeedEvent`` alike)."""

    __slots__ = ()

    @property
    def other_entities(self) -> list[AuditEntity]:  # pragma: no cover - given by each class
        raise NotImplementedError

    @property
    def input_entity(self) -> AuditEntity | None:
        """The resource the run processed (see :func:`run_input`)."""
        return run_input(self.other_entities)

    @property
    def subscription_entity(self) -> AuditEntity | None:
        """The Subscription that started the run (see :func:`run_subscription`)."""
        return run_subscription(self.other_entities)


class Tracing(NamedTuple):
    """The keys to a run in CloudWatch or a log search (the server's request id and trace id)."""

    request_id: str | None
    trace_id: str | None


NO_TRACING = Tracing(None, None)
#: Longest id kept (a ``valueId`` is at most 64 characters; a traceparent 55).
_MAX_ID_CHARS = 256


def _value(extension: dict[str, Any]) -> str | None:
    for key, value in extension.items():
        if key.startswith("value") and isinstance(value, str) and value.strip():
            return value.strip()[:_MAX_ID_CHARS]
    return None


def tracing_of(extensions: Any) -> Tracing:
    """The tracing extension's ``requestId`` and ``traceId`` from ``AuditEvent.extension``, read
    tolerantly (``valueId`` or any other ``value[x]`` string; one level of nesting, which some
    server versions write)."""
    if not isinstance(extensions, list):
        return NO_TRACING
    flat = [item for entry in extensions for item in (entry if isinstance(entry, list) else [entry])]
    for entry in flat:
        if not isinstance(entry, dict) or entry.get("url") != TRACING_EXTENSION:
            continue
        found: dict[str, str] = {}
        for sub in entry.get("extension") or []:
            if isinstance(sub, dict) and sub.get("url") in ("requestId", "traceId"):
                value = _value(sub)
                if value is not None:
                    found.setdefault(str(sub["url"]), value)
        if found:
            return Tracing(found.get("requestId"), found.get("traceId"))
    return NO_TRACING


class AuditEvent(Resource, RunEntities):
    resourceType: Literal["AuditEvent"] = "AuditEvent"
    type: Coding | None = None
    subtype: list[Coding] | None = None
    action: str | None = None
    period: Period | None = None
    recorded: str | None = None
    outcome: str | None = None
    outcomeDesc: str | None = None
    agent: list[AuditAgent] | None = None
    source: AuditSource | None = None
    entity: list[AuditEntity] | None = None
    #: Kept as sent (any shape): :attr:`tracing` reads what it knows.
    extension: Any = None

    @field_validator("outcome", mode="before")
    @classmethod
    def _outcome_as_text(cls, value: Any) -> Any:
        # Keep any code as text; a number (a non-conformant server) is kept as its digits.
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, int | float):
            return str(int(value)) if float(value).is_integer() else str(value)
        return value

    @property
    def outcome_info(self) -> OutcomeInfo:
        return outcome_info(self.outcome)

    @property
    def when_raw(self) -> str | None:
        """Last Updated as the server wrote it (falls back to ``recorded``)."""
        return self.last_updated_raw or self.recorded

    @property
    def when(self) -> datetime | None:
        return parse_instant(self.when_raw)

    @property
    def started(self) -> datetime | None:
        return parse_instant(self.period.start) if self.period else None

    @property
    def ended(self) -> datetime | None:
        return parse_instant(self.period.end) if self.period else None

    @property
    def duration(self) -> timedelta | None:
        start, end = self.started, self.ended
        if start is None or end is None:
            return None
        return end - start

    @property
    def bot_id(self) -> str | None:
        """The Bot this event is about: ``entity[].what`` first, then ``source.observer``, then agents."""
        refs: list[Reference | None] = [e.what for e in self.entity or []]
        refs.append(self.source.observer if self.source else None)
        refs.extend(a.who for a in self.agent or [])
        for ref in refs:
            if ref is not None and ref.reference and ref.reference.startswith("Bot/"):
                bot_id = ref.reference[4:].split("/", 1)[0]
                if bot_id:
                    return bot_id
        return None

    @property
    def other_entities(self) -> list[AuditEntity]:
        """Entities other than the bot's own (its first mention): the input resource (the Bot
        again for a cron run), the subscription, the agent, ..."""
        own = f"Bot/{self.bot_id}" if self.bot_id else None
        entities = list(self.entity or [])
        for index, entity in enumerate(entities):
            if entity.what is not None and entity.what.reference == own:
                del entities[index]
                break
        return entities

    @property
    def tracing(self) -> Tracing:
        """The run's request id and trace id (the tracing extension; see :func:`tracing_of`)."""
        return tracing_of(self.extension)


# --------------------------------------------------------------------------------------------
# Bundle and OperationOutcome
# --------------------------------------------------------------------------------------------


class BundleLink(FhirModel):
    relation: str
    url: str


class BundleEntry(FhirModel):
    fullUrl: str | None = None
    resource: dict[str, Any] | None = None
    search: dict[str, Any] | None = None


class Bundle(FhirModel):
    resourceType: Literal["Bundle"]
    type: str | None = None
    total: int | None = None
    link: list[BundleLink] | None = None
    entry: list[BundleEntry] | None = None


class Issue(FhirModel):
    severity: str | None = None
    code: str | None = None
    details: CodeableConcept | None = None
    diagnostics: str | None = None


class OperationOutcome(FhirModel):
    resourceType: Literal["OperationOutcome"]
    id: str | None = None
    issue: list[Issue] | None = None

    def message(self) -> str:
        """``issue[].details.text`` falling back to ``diagnostics``, several joined with ``; ``."""
        texts: list[str] = []
        for issue in self.issue or []:
            text = (issue.details.text if issue.details else None) or issue.diagnostics or issue.code
            if text and text not in texts:
                texts.append(text)
        return "; ".join(texts)

    def codes(self) -> list[str]:
        return [i.code for i in self.issue or [] if i.code]


# --------------------------------------------------------------------------------------------
# Search results
# --------------------------------------------------------------------------------------------

R = TypeVar("R", bound=Resource)


@dataclass(slots=True)
class SearchPage(Generic[R]):
    """One page of a search: the resources that parsed, and what could not be read."""

    resources: list[R]
    #: The resources exactly as the server sent them (for ``--json``), same order as ``resources``.
    raw: list[dict[str, Any]] = field(default_factory=list)
    next_url: str | None = None
    total: int | None = None
    #: Entries of the wanted type that could not be read (broken shape), and entries of other types.
    invalid: int = 0
    #: Size of the response body in bytes (for benchmarks and the status line).
    nbytes: int = 0


def parse_search_page(data: Any, model: type[R]) -> SearchPage[R]:
    """Parse a searchset Bundle, keeping the good entries when some are broken.

    Raises ``ValueError`` when ``data`` is not a Bundle at all.
    """
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        kind = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"expected a Bundle, got {str(kind)[:40]}")
    entries = data.get("entry")
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise ValueError("Bundle.entry is not a list")
    links = data.get("link")
    next_url: str | None = None
    if isinstance(links, list):
        for link in links:
            if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
                next_url = link["url"]
                break
    total = data.get("total")
    page: SearchPage[R] = SearchPage(
        resources=[], next_url=next_url, total=total if isinstance(total, int) else None
    )
    wanted = model.model_fields["resourceType"].default
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            page.invalid += 1
            continue
        if resource.get("resourceType") != wanted:
            # OperationOutcome entries (search.mode = outcome) are warnings, not rows.
            if resource.get("resourceType") != "OperationOutcome":
                page.invalid += 1
            continue
        try:
            page.resources.append(model.model_validate(resource))
        except ValidationError:
            page.invalid += 1
            continue
        page.raw.append(resource)
    return page


# --------------------------------------------------------------------------------------------
# References and history
# --------------------------------------------------------------------------------------------

#: A relative reference to one resource, ``Type/id`` or ``Type/id/_history/vid``: a FHIR resource
#: type and FHIR ids (``[A-Za-z0-9\-.]{1,64}``). Anything else (an absolute URL, a search, a
#: contained ``#id``, a path with more segments) is never turned into a request.
_REFERENCE_RE = re.compile(
    r"([A-Z][A-Za-z]{0,63})/([A-Za-z0-9\-.]{1,64})(?:/_history/([A-Za-z0-9\-.]{1,64}))?"
)


def parse_reference(reference: object) -> tuple[str, str, str | None]:
    """``(type, id, version or None)`` of a reference taken from a server's answer (untrusted);
    ``ValueError`` when it is not a plain relative reference to one resource."""
    if not isinstance(reference, str) or not _REFERENCE_RE.fullmatch(reference):
        raise ValueError("not a reference to one resource (Type/id)")
    match = _REFERENCE_RE.fullmatch(reference)
    assert match is not None
    resource_type, resource_id, version = match.groups()
    if resource_id in (".", "..") or version in (".", ".."):
        raise ValueError("not a reference to one resource (Type/id)")
    return resource_type, resource_id, version


@dataclass(frozen=True, slots=True)
class BotVersion:
    """One version of a Bot, from ``Bot/<id>/_history``."""

    version_id: str
    #: ``meta.lastUpdated``: when the version was saved.
    when: datetime
    #: ``meta.author``: who saved it (its display, else its reference), as sent.
    author: str | None = None


def parse_history(data: Any) -> list[BotVersion]:
    """The versions in a history Bundle, newest first (deleted versions, which have no resource,
    and entries without a time are left out). ``ValueError`` when ``data`` is not a Bundle."""
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise ValueError("expected a Bundle")
    entries = data.get("entry") or []
    if not isinstance(entries, list):
        raise ValueError("Bundle.entry is not a list")
    versions: list[BotVersion] = []
    seen: set[str] = set()
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        meta = resource.get("meta") if isinstance(resource, dict) else None
        if not isinstance(meta, dict):
            continue
        version_id, when = meta.get("versionId"), parse_instant(meta.get("lastUpdated"))
        if not isinstance(version_id, str) or not version_id or when is None or version_id in seen:
            continue
        seen.add(version_id)
        author = meta.get("author")
        who = (author.get("display") or author.get("reference")) if isinstance(author, dict) else None
        versions.append(
            BotVersion(
                version_id[:_MAX_ID_CHARS], when, who[:_MAX_ID_CHARS] if isinstance(who, str) else None
            )
        )
    versions.sort(key=lambda version: version.when, reverse=True)
    return versions
