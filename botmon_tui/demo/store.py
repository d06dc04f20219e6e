"""The demo's data: Bots, their AuditEvents, indexes for fast search, and the run simulator.

AuditEvents are held as compact :class:`EventRecord` objects (a few slots each; the console output is a
shared string or computed on demand) and turned into AuditEvent JSON only when served. Every record sits
in sorted indexes keyed by ``lastUpdated`` (then insertion order): one for the whole project, one per Bot
referenced in ``entity`` and one per Bot in ``source.observer``. A page of the newest events of a bot, or
``_lastUpdated=gt...`` on the whole project, is then a ``bisect`` and a slice.

The JSON follows Medplum's bot AuditEvent (see ``botmon_tui/demo/__init__.py`` for the shape); older
server versions wrote ``type`` without a system and an ``agent`` without ``who``, which the
``legacy-hl7-bridge`` bot reproduces.
"""

from __future__ import annotations

import copy
import random
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botmon_tui.demo.catalog import BIG_BOT, BOT_SPECS, EMPI, BotSpec, bulk_log, extra_bot_spec
from botmon_tui.demo.consoles import RunContext, RunLog, empi_outage
from botmon_tui.demo.fhirtime import format_ms, now_ms, parse_search_instant_us, to_ms
from botmon_tui.demo.resources import ResourceRegistry
from botmon_tui.demo.runtime import keep_last_chars
from botmon_tui.demo.simulate import BotState, Planned, Run, plan_history
from botmon_tui.demo.versions import Version, VersionLog

if TYPE_CHECKING:
    from botmon_tui.demo.config import DemoConfig

__all__ = [
    "AUDIT_EVENT_SYSTEM",
    "BotRecord",
    "DemoStore",
    "EventRecord",
    "Index",
    "new_uuid",
]

JsonDict = dict[str, Any]

AUDIT_EVENT_SYSTEM = "https://medplum.com/CodeSystem/audit-event"
CATEGORY_SYSTEM = "https://demo.botmon.dev/CodeSystem/bot-category"
IDENTIFIER_SYSTEM = "https://demo.botmon.dev/bot-name"
SEQ_BITS = 24
_SEQ_LIMIT = 1 << SEQ_BITS
_DAY_MS = 86_400_000
_HOUR_MS = 3_600_000
_MINUTE_MS = 60_000

_ROLES: dict[str, tuple[str, str]] = {
    "Patient": ("1", "Patient"),
    "Subscription": ("9", "Subscriber"),
}
TRACING_EXTENSION = "https://medplum.com/fhir/StructureDefinition/tracing"


def new_uuid(rng: random.Random) -> str:
    """A version-4 UUID drawn from ``rng`` (deterministic for a seeded generator)."""
    n = rng.getrandbits(128)
    n = (n & ~(0xF << 76)) | (0x4 << 76)
    n = (n & ~(0x3 << 62)) | (0x2 << 62)
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _derived_uuid(source: str, salt: int) -> str:
    n = int(source.replace("-", ""), 16) ^ (salt * 0x9E3779B97F4A7C15_F39CC0605CEDC834)
    n &= (1 << 128) - 1
    n = (n & ~(0xF << 76)) | (0x4 << 76)
    n = (n & ~(0x3 << 62)) | (0x2 << 62)
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def keep_tail(text: str, limit: int | None) -> str:
    """What Medplum keeps of a run's log: its last ``limit`` characters (None: all of it)."""
    return keep_last_chars(text, limit)


# --------------------------------------------------------------------------------------------------
# Records and indexes
# --------------------------------------------------------------------------------------------------


class EventRecord:
    """One stored AuditEvent. Immutable once indexed (a generated log is written when first read);
    ``res`` is set only for hand-made events."""

    __slots__ = (
        "bot_id",
        "bot_name",
        "id",
        "input_display",
        "input_ref",
        "key",
        "legacy",
        "log",
        "log_bytes",
        "lu_ms",
        "outcome",
        "rec_ms",
        "recipe",
        "requestor",
        "res",
        "seq",
        "start_ms",
        "sub_display",
        "sub_ref",
        "trace",
        "who_display",
    )

    def __init__(
        self,
        seq: int,
        event_id: str,
        bot_id: str | None,
        bot_name: str | None,
        lu_ms: int,
        rec_ms: int,
        start_ms: int,
        outcome: str | None,
        *,
        legacy: bool = False,
        input_ref: str | None = None,
        sub_ref: str | None = None,
        requestor: str | None = None,
        log: str | None = "",
        res: JsonDict | None = None,
        log_bytes: int = 0,
        input_display: str | None = None,
        sub_display: str | None = None,
        who_display: str | None = None,
        trace: tuple[str, str] | None = None,
        recipe: RunLog | None = None,
    ) -> None:
        if seq >= _SEQ_LIMIT:
            raise OverflowError("too many events for the demo store")
        self.seq = seq
        self.key = (lu_ms << SEQ_BITS) | seq
        self.id = event_id
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.lu_ms = lu_ms
        self.rec_ms = rec_ms
        self.start_ms = start_ms
        self.outcome = outcome
        self.legacy = legacy
        self.input_ref = input_ref
        self.sub_ref = sub_ref
        self.requestor = requestor
        self.log = log
        #: With ``log=None``: the typical size of the computed bulk log (0: one line).
        self.log_bytes = log_bytes
        self.res = res
        #: The ``display`` Medplum's ``createReference`` gives the input, the subscription and the requester.
        self.input_display = input_display
        self.sub_display = sub_display
        self.who_display = who_display
        #: ``(requestId, traceId)`` of the tracing extension; None: the run had no request context (cron).
        self.trace = trace
        #: With ``log=None``: how to write the log when it is first read (else: the bulk log).
        self.recipe = recipe

    def log_text(self) -> str:
        """``outcomeDesc``: the stored log, or one written from the run's recipe (kept once written)
        or computed (the bulk importer's)."""
        if self.log is not None:
            return self.log
        if self.recipe is not None:
            self.log = text = self.recipe.text()  # the same text whichever thread writes it
            return text
        return bulk_log(self.seq, self.outcome == "0", self.log_bytes)

    def resource(self, project_id: str) -> JsonDict:
        """The AuditEvent JSON as served (a fresh dict each call)."""
        if self.res is not None:
            return copy.deepcopy(self.res)
        return self.view(project_id)

    def view(self, project_id: str, *, log: bool = True) -> JsonDict:
        """The AuditEvent JSON for serializing right away (may share the stored dict: do not modify).

        ``log=False``: without ``outcomeDesc``, for ``_elements`` that leave it out (a computed bulk
        log is most of the cost of a compact event).
        """
        if self.res is not None:
            return self.res
        bot_ref = f"Bot/{self.bot_id}"
        recorded = format_ms(self.rec_ms)
        entity: list[JsonDict] = [
            {
                "what": {"reference": bot_ref, "display": self.bot_name},
                "role": {"code": "4", "display": "Domain"},
            }
        ]
        if self.input_ref:  # a cron run's input is the Bot itself: it is there twice
            entity.append(_entity(self.input_ref, self.input_display))
        if self.sub_ref:
            entity.append(_entity(self.sub_ref, self.sub_display))
        if self.legacy:
            event_type: JsonDict = {"code": "execute"}
            agent: list[JsonDict] = [{"type": {"text": "bot"}, "requestor": False}]
        else:
            event_type = {"system": AUDIT_EVENT_SYSTEM, "code": "execute"}
            requester: JsonDict = {"requestor": True}  # no requester (a scheduled run): no "who"
            if self.requestor:
                requester = {"who": _reference(self.requestor, self.who_display), "requestor": True}
            agent = [requester, {"who": {"reference": bot_ref, "display": self.bot_name}, "requestor": False}]
        resource: JsonDict = {
            "resourceType": "AuditEvent",
            "id": self.id,
            "meta": {
                "project": project_id,
                "versionId": _derived_uuid(self.id, 1),
                "lastUpdated": format_ms(self.lu_ms),
            },
            "type": event_type,
            "period": {"start": format_ms(self.start_ms), "end": recorded},
            "recorded": recorded,
            "agent": agent,
            "source": {"observer": {"reference": bot_ref, "display": self.bot_name}},
            "entity": entity,
            "outcome": self.outcome,
        }
        if log:
            resource["outcomeDesc"] = self.log_text()
        if self.trace is not None:
            request_id, trace_id = self.trace
            resource["extension"] = [
                {
                    "url": TRACING_EXTENSION,
                    "extension": [
                        {"url": "requestId", "valueId": request_id},
                        {"url": "traceId", "valueId": trace_id},
                    ],
                }
            ]
        return resource


def _reference(ref: str, display: str | None) -> JsonDict:
    """``createReference``: the display only when there is one."""
    return {"reference": ref, "display": display} if display else {"reference": ref}


def _entity(ref: str, display: str | None) -> JsonDict:
    """``createAuditEventEntity``: roles Patient 1, Subscription 9, anything else 4 (Domain)."""
    code, role = _ROLES.get(ref.split("/", 1)[0], ("4", "Domain"))
    return {"what": _reference(ref, display), "role": {"code": code, "display": role}}


class BotRecord:
    """One Bot as held by the store (the dict is never handed out without a copy)."""

    __slots__ = ("id", "key", "lu_ms", "res", "seq")

    def __init__(self, seq: int, res: JsonDict, lu_ms: int) -> None:
        self.seq = seq
        self.id: str = res["id"]
        self.res = res
        self.lu_ms = lu_ms
        self.key = (lu_ms << SEQ_BITS) | seq

    def resource(self, project_id: str) -> JsonDict:
        return copy.deepcopy(self.res)

    def view(self, project_id: str) -> JsonDict:
        """The stored dict itself, for serializing right away (never modify it)."""
        return self.res


class Index:
    """Records sorted by ``(lastUpdated, seq)``, with the sort keys in a parallel list for bisect."""

    __slots__ = ("keys", "recs")

    def __init__(self, recs: Iterable[Any] = ()) -> None:
        self.recs: list[Any] = sorted(recs, key=lambda r: r.key)
        self.keys: list[int] = [r.key for r in self.recs]

    def __len__(self) -> int:
        return len(self.recs)

    def insert(self, rec: Any) -> None:
        if not self.keys or rec.key > self.keys[-1]:
            self.keys.append(rec.key)
            self.recs.append(rec)
            return
        i = bisect_right(self.keys, rec.key)
        self.keys.insert(i, rec.key)
        self.recs.insert(i, rec)

    def bounds(self, lo_ms: int | None, hi_ms: int | None) -> tuple[int, int]:
        """Positions ``[i, j)`` of the records with ``lo_ms <= lastUpdated < hi_ms`` (None = open)."""
        i = 0 if lo_ms is None else bisect_left(self.keys, lo_ms << SEQ_BITS)
        j = len(self.keys) if hi_ms is None else bisect_left(self.keys, hi_ms << SEQ_BITS)
        return i, max(i, j)


# --------------------------------------------------------------------------------------------------
# The simulator
# --------------------------------------------------------------------------------------------------


def _run_record(
    seq: int, event_id: str, bot_id: str, bot_name: str | None, run: Run, legacy: bool
) -> EventRecord:
    """The stored AuditEvent of a simulated run."""
    return EventRecord(
        seq,
        event_id,
        bot_id,
        bot_name,
        run.lu_ms,
        run.rec_ms,
        run.start_ms,
        run.outcome,
        legacy=legacy,
        input_ref=run.input_ref,
        sub_ref=run.sub_ref,
        requestor=run.requestor,
        log=None if run.recipe is not None else run.log,
        recipe=run.recipe,
        input_display=run.input_display,
        sub_display=run.sub_display,
        who_display=run.who_display,
        trace=run.trace,
    )


_DEFAULT_SPEC = BotSpec(name="(custom)", description="", fail_rate=0.1, logs="generic", calm_min=0.0)


def writes_audit_event(bot: JsonDict, outcome: str, log: str) -> bool:
    """Whether Medplum writes an AuditEvent resource for a run of ``bot`` (trigger and destination)."""
    destination = bot.get("auditEventDestination") or ["resource"]
    if "resource" not in destination:
        return False
    trigger = bot.get("auditEventTrigger") or "always"
    if trigger == "never":
        return False
    if trigger == "on-error":
        return outcome != "0"
    if trigger == "on-output":
        return log != ""
    return True


class DemoStore:
    """Thread-safe store of the demo project (one lock for everything).

    Public API (used by tests, benchmarks and the live thread)::

        store.bots -> list[dict]                      copies, in creation order
        store.bot(id) -> dict | None
        store.add_bot(dict) -> dict; store.update_bot(id, **fields) -> dict; store.delete_bot(id)
        store.add_event(bot_id, outcome="0", desc="...", at=None, **kw) -> dict
        store.run_bot(bot_id, at=None) -> dict | None
        store.events_for(bot_id) -> list[dict]        newest first
        store.event(id) -> dict | None; store.event_count() -> int
        store.deploy_bot(bot_id, at=None) -> list[dict]   a deploy: two new versions seconds apart
        store.bot_history(bot_id) -> list[Version] | None   newest first (None: no such bot)
        store.bot_state(bot_id) -> "ok" | "deleted" | None
        store.read_resource(type, id) -> (status, dict)   an input, a Subscription, ... (200/403/404/410)
        store.resource_state("Type/id") -> "ok" | "deleted" | "expunged" | "forbidden" | "unknown"
    """

    def __init__(self, cfg: DemoConfig) -> None:
        self.cfg = cfg
        self.lock = threading.RLock()
        self._rng = random.Random(f"{cfg.seed}:store")
        self.project_id = new_uuid(random.Random(f"{cfg.seed}:project"))
        people = random.Random(f"{cfg.seed}:people")
        self.integration_client = f"ClientApplication/{new_uuid(people)}"
        self.clinicians = [f"Practitioner/{new_uuid(people)}" for _ in range(6)]
        self.admin = f"Practitioner/{new_uuid(people)}"
        #: The demo client's access policy: it grants no billing types (``resources.FORBIDDEN_TYPES``).
        self.access_policy = f"AccessPolicy/{new_uuid(random.Random(f'{cfg.seed}:policy'))}"
        #: Who deploys bots (``meta.author`` of their versions): people and the CI's client.
        self.developers: list[JsonDict] = [
            {"reference": self.admin, "display": "Dana Whitfield"},
            {"reference": f"Practitioner/{new_uuid(people)}", "display": "Sam Okafor"},
            {"reference": f"ClientApplication/{new_uuid(people)}", "display": "ci-deploy (GitHub Actions)"},
        ]
        self.patients = [f"Patient/{new_uuid(people)}" for _ in range(400)]
        self.device_client = f"ClientApplication/{new_uuid(people)}"
        #: How the people and clients who ask for runs are named (``agent[0].who.display``).
        self.names: dict[str, str] = {
            self.integration_client: "Rhapsody interface engine",
            self.device_client: "CGM device gateway",
            self.admin: "Dana Whitfield",
            **{
                ref: name
                for ref, name in zip(
                    self.clinicians,
                    [
                        "Dr. Amara Osei",
                        "Dr. Luis Romero",
                        "Dr. Hannah Berg",
                        "Dr. Kenji Watanabe",
                        "Dr. Fatima Rahman",
                        "Dr. Paul Novak",
                    ],
                    strict=True,
                )
            },
        }
        self.present_ms = to_ms(cfg.now) if cfg.now is not None else now_ms()
        #: Every version of every Bot (``GET Bot/<id>/_history``); a soft-deleted bot keeps its own.
        self.bot_versions = VersionLog()
        self._deleted_bots: set[str] = set()
        #: The resources runs reference (inputs, Subscriptions), readable with ``GET <Type>/<id>``.
        self.resources = ResourceRegistry(cfg.seed, self.project_id, self.patients, self.present_ms)
        self._bots: dict[str, BotRecord] = {}
        self._states: dict[str, BotState] = {}
        self._bot_seq = 0
        self._seq = 0
        self._events: dict[str, EventRecord] = {}
        self.all_events = Index()
        self._by_entity: dict[str, Index] = {}
        self._by_source: dict[str, Index] = {}
        self._generate()

    # ------------------------------------------------------------------ clock

    @staticmethod
    def now_ms() -> int:
        return now_ms()

    # ------------------------------------------------------------------ bots

    @property
    def bots(self) -> list[JsonDict]:
        with self.lock:
            return [copy.deepcopy(b.res) for b in self._bots.values()]

    def bot(self, bot_id: str) -> JsonDict | None:
        with self.lock:
            rec = self._bots.get(bot_id)
            return copy.deepcopy(rec.res) if rec else None

    def bot_id(self, name: str) -> str | None:
        """The id of the bot called ``name`` (first match), for tests and examples."""
        with self.lock:
            for rec in self._bots.values():
                if rec.res.get("name") == name:
                    return rec.id
        return None

    def bot_records(self) -> list[BotRecord]:
        with self.lock:
            return list(self._bots.values())

    def add_bot(self, bot: JsonDict, *, spec: BotSpec | None = None) -> JsonDict:
        """Store a Bot (``id`` filled in when absent); as on a server's create, ``meta.versionId`` and
        ``meta.lastUpdated`` are new whatever was given (a restored bot is stamped now: what
        ``_lastUpdated`` searches match on is what the bot says). Returns the stored copy."""
        with self.lock:
            res = copy.deepcopy(bot)
            res["resourceType"] = "Bot"
            bot_id = res.get("id") or new_uuid(self._rng)
            if bot_id in self._bots:
                raise ValueError(f"Bot/{bot_id} exists")
            self._deleted_bots.discard(bot_id)  # a deleted bot restored (a PUT with its id)
            res["id"] = bot_id
            lu = self.now_ms()
            meta = res.get("meta") or {}
            meta.setdefault("project", self.project_id)
            meta["versionId"] = new_uuid(self._rng)
            meta["lastUpdated"] = format_ms(lu)
            res["meta"] = meta
            res = {"resourceType": "Bot", "id": bot_id, **{k: v for k, v in res.items() if k not in ("id",)}}
            self._put_bot(res, lu, spec)
            return copy.deepcopy(res)

    def _put_bot(self, res: JsonDict, lu_ms: int, spec: BotSpec | None) -> None:
        self._bot_seq += 1
        self._bots[res["id"]] = BotRecord(self._bot_seq, res, lu_ms)
        self.bot_versions.record(res["id"], res["meta"]["versionId"], lu_ms, copy.deepcopy(res))
        if spec is not None:
            rng = random.Random(f"{self.cfg.seed}:live:{spec.name}")
            sub = f"Subscription/{new_uuid(rng)}" if spec.subscription else None
            state = BotState(spec, rng, sub)
            if sub is not None:
                body = _subscription(sub, res, spec)
                self.resources.add(body, min(lu_ms, self.present_ms))
                state.sub_display = body["criteria"]
            if spec.cron_resource:
                cron = _cron(new_uuid(rng), res, spec.cron_resource, new_uuid(rng))
                state.cron_ref = f"Cron/{cron['id']}"
                self.resources.add(cron, min(lu_ms, self.present_ms))
            for episode in spec.episodes:
                if episode.live_s > 0 and episode.end_min <= 1:
                    state.live_episode = episode
                    state.live_until_ms = self.present_ms + int(episode.live_s * 1000 / self.cfg.live_speed)
                    state.fix_pending = episode.fixed_by_deploy
            self._states[res["id"]] = state

    def update_bot(self, bot_id: str, **fields: Any) -> JsonDict:
        """Set (``None`` removes) top-level fields; bumps ``meta.versionId`` and ``meta.lastUpdated``."""
        with self.lock:
            rec = self._bots.get(bot_id)
            if rec is None:
                raise KeyError(bot_id)
            res = copy.deepcopy(rec.res)
            for key, value in fields.items():
                if value is None:
                    res.pop(key, None)
                else:
                    res[key] = value
            lu = max(self.now_ms(), rec.lu_ms + 1)
            return self._new_version(rec, res, lu, self._rng)

    def _new_version(self, rec: BotRecord, res: JsonDict, lu_ms: int, rng: random.Random) -> JsonDict:
        """Store ``res`` as the bot's next version, stamped ``lu_ms`` (under the lock)."""
        meta = dict(res.get("meta") or {})
        meta["versionId"] = new_uuid(rng)
        meta["lastUpdated"] = format_ms(lu_ms)
        res["meta"] = meta
        self._bot_seq += 1
        self._bots[rec.id] = BotRecord(self._bot_seq, res, lu_ms)
        self.bot_versions.record(rec.id, meta["versionId"], lu_ms, copy.deepcopy(res))
        return copy.deepcopy(res)

    def deploy_bot(
        self,
        bot_id: str,
        at: datetime | None = None,
        *,
        gap_ms: int | None = None,
        author: JsonDict | None = None,
    ) -> list[JsonDict]:
        """A deploy at ``at`` (default now), as ``medplum bot deploy`` makes it: the bot saved with a
        new ``sourceCode`` (a new version), then ``$deploy`` with a new ``executableCode`` (another
        version, ``gap_ms`` later: 1.5 to 4 s by default). Returns both versions, oldest first.

        ``at`` may be in the past, but not before the bot's newest version (ValueError): a deploy
        goes on top of the history. ``author`` (a Reference) becomes ``meta.author``.
        Raises KeyError for an unknown bot.
        """
        with self.lock:
            rec = self._bots.get(bot_id)
            if rec is None:
                raise KeyError(bot_id)
            start = to_ms(at) if at is not None else max(self.now_ms(), rec.lu_ms + 1)
            if start <= rec.lu_ms:
                raise ValueError(f"a deploy of Bot/{bot_id} must come after its newest version")
            return self._deploy(rec, start, gap_ms, self._rng, author)

    def _deploy(
        self, rec: BotRecord, start: int, gap_ms: int | None, rng: random.Random, author: JsonDict | None
    ) -> list[JsonDict]:
        """``medplum bot deploy``'s two versions (under the lock)."""
        gap = gap_ms if gap_ms is not None else rng.randint(1500, 4000)
        saved = copy.deepcopy(rec.res)
        if author is not None:
            saved["meta"] = {**saved.get("meta", {}), "author": copy.deepcopy(author)}
        saved["sourceCode"] = {
            "contentType": "text/typescript",
            "title": str((rec.res.get("sourceCode") or {}).get("title") or "index.ts"),
            "url": f"Binary/{new_uuid(rng)}",
        }
        first = self._new_version(rec, saved, start, rng)
        deployed = copy.deepcopy(first)
        deployed["executableCode"] = {
            "contentType": "application/javascript",
            "title": str((rec.res.get("executableCode") or {}).get("title") or "index.js"),
            "url": f"Binary/{new_uuid(rng)}",
        }
        second = self._new_version(self._bots[rec.id], deployed, start + max(gap, 1), rng)
        return [first, second]

    def delete_bot(self, bot_id: str, *, expunge: bool = True) -> None:
        """Remove the Bot (its AuditEvents stay, as on a real server).

        ``expunge`` (the default, as ``$expunge``): the bot and its history are gone; reads are 404.
        ``expunge=False``, as a ``DELETE``: the history keeps a deleted version, reads are 410
        ``Gone``, and :meth:`add_bot` with its id restores it.
        """
        with self.lock:
            rec = self._bots.pop(bot_id, None)
            if rec is None:
                raise KeyError(bot_id)
            self._states.pop(bot_id, None)
            if expunge:
                self.bot_versions.forget(bot_id)
                self._deleted_bots.discard(bot_id)
            else:
                at = max(self.now_ms(), rec.lu_ms + 1)
                self.bot_versions.record(bot_id, new_uuid(self._rng), at, None)
                self._deleted_bots.add(bot_id)

    def bot_state(self, bot_id: str) -> str | None:
        """``ok``, ``deleted`` (a read is 410), or None (no such bot: 404)."""
        with self.lock:
            if bot_id in self._bots:
                return "ok"
            return "deleted" if bot_id in self._deleted_bots else None

    def bot_history(self, bot_id: str) -> list[Version] | None:
        """The bot's versions, newest first (a soft-deleted bot's too); None for an unknown bot.
        Versions share their resource dicts with the store: do not modify them."""
        with self.lock:
            if bot_id not in self._bots and bot_id not in self._deleted_bots:
                return None
            return self.bot_versions.newest_first(bot_id)

    # ------------------------------------------------------------------ referenced resources

    def read_resource(self, rtype: str, rid: str) -> tuple[int, JsonDict]:
        """``GET <rtype>/<rid>`` of a resource runs reference: ``(status, body)``, the resource (200)
        or an OperationOutcome (403 a type the demo client may not read, 404, 410 deleted)."""
        with self.lock:
            status, body = self.resources.read(rtype, rid)
            return status, copy.deepcopy(body)

    def resource_history(self, rtype: str, rid: str) -> tuple[int, list[Version] | JsonDict]:
        with self.lock:
            return self.resources.history(rtype, rid)

    def resource_state(self, ref: str) -> str:
        """How a read of ``ref`` ("Type/id") goes: ``ok`` (200), ``deleted`` (410), ``expunged`` or
        ``unknown`` (404), ``forbidden`` (403)."""
        with self.lock:
            return self.resources.state(ref)

    # ------------------------------------------------------------------ events

    def event_count(self) -> int:
        with self.lock:
            return len(self.all_events)

    def event_record(self, event_id: str) -> EventRecord | None:
        with self.lock:
            return self._events.get(event_id)

    def event(self, event_id: str) -> JsonDict | None:
        rec = self.event_record(event_id)
        return rec.resource(self.project_id) if rec else None

    def events_for(self, bot_id: str) -> list[JsonDict]:
        """AuditEvents whose ``entity`` references ``Bot/<bot_id>``, newest first."""
        with self.lock:
            index = self._by_entity.get(bot_id)
            recs = list(reversed(index.recs)) if index else []
        return [r.resource(self.project_id) for r in recs]

    def entity_index(self, bot_id: str) -> Index | None:
        return self._by_entity.get(bot_id)

    def source_index(self, bot_id: str) -> Index | None:
        return self._by_source.get(bot_id)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _index(self, rec: EventRecord, entity_bots: Iterable[str], source_bot: str | None) -> None:
        self._events[rec.id] = rec
        self.all_events.insert(rec)
        for bot_id in set(entity_bots):
            self._by_entity.setdefault(bot_id, Index()).insert(rec)
        if source_bot:
            self._by_source.setdefault(source_bot, Index()).insert(rec)

    def _record_run(
        self, bot_id: str, bot_name: str | None, run: Run, legacy: bool, seq: int | None = None
    ) -> EventRecord:
        rec = _run_record(
            self._next_seq() if seq is None else seq, new_uuid(self._rng), bot_id, bot_name, run, legacy
        )
        self._index(rec, (bot_id,), bot_id)
        return rec

    def add_event(
        self,
        bot_id: str,
        outcome: Any = "0",
        desc: str = "",
        at: datetime | None = None,
        **kw: Any,
    ) -> JsonDict:
        """Store one AuditEvent of a run of ``Bot/<bot_id>`` and return its JSON as served.

        ``at`` is when the event is stored (``meta.lastUpdated``; default now, millisecond precision:
        two calls with the same ``at`` make a tie). ``desc`` keeps only its last ``max_log_chars``.

        Keyword options: ``legacy=True`` (old server format), ``patient=`` / ``input=`` (a reference or a
        Patient id), ``subscription=`` (a reference or id), ``duration_ms=``, ``requestor=`` (a reference),
        ``id=``; and any other AuditEvent field name (``type``, ``agent``, ``entity``, ``source``,
        ``period``, ``recorded``, ``extension``, ...) replaces that field as given (``None`` removes it).
        """
        with self.lock:
            lu = to_ms(at) if at is not None else self.now_ms()
            bot = self._bots.get(bot_id)
            name = bot.res.get("name") if bot else None
            duration = int(kw.pop("duration_ms", 250))
            patient = kw.pop("patient", None)
            input_ref = kw.pop("input", None) or patient
            if input_ref and "/" not in input_ref:
                input_ref = f"Patient/{input_ref}"
            sub = kw.pop("subscription", None)
            if sub and "/" not in sub:
                sub = f"Subscription/{sub}"
            legacy = bool(kw.pop("legacy", False))
            if input_ref:
                self.resources.note(input_ref, lu - 15 - duration)
            requestor = kw.pop("requestor", self.integration_client)
            event_id = kw.pop("id", None) or new_uuid(self._rng)
            if event_id in self._events:
                raise ValueError(f"AuditEvent/{event_id} exists")
            rec_ms = lu - 15
            base = EventRecord(
                0,
                event_id,
                bot_id,
                name,
                lu,
                rec_ms,
                rec_ms - duration,
                None if outcome is None else str(outcome),
                legacy=legacy,
                input_ref=input_ref,
                sub_ref=sub,
                requestor=requestor,
                log=keep_tail(desc, self.cfg.max_log_chars),
                who_display=self.names.get(requestor) if requestor else None,
            )
            res = base.resource(self.project_id)
            res["outcome"] = outcome
            if outcome is None:
                res.pop("outcome")
            for key, value in kw.items():
                if value is None:
                    res.pop(key, None)
                else:
                    res[key] = copy.deepcopy(value)
            rec = _record_from_resource(self._next_seq(), res, lu)
            entity_bots, source_bot = _bot_refs(res)
            self._index(rec, entity_bots, source_bot)
            return copy.deepcopy(res)

    def run_bot(self, bot_id: str, at: datetime | None = None, *, fail_scale: float = 1.0) -> JsonDict | None:
        """Simulate one run of the bot ending at ``at`` (default now); it fails ``fail_scale`` times
        as often as the bot's own failure rate.

        Honours ``auditEventTrigger`` and ``auditEventDestination``: returns the AuditEvent written, or
        None when the bot's settings mean none is written. Raises KeyError for an unknown bot.
        """
        result = self.execute_bot(bot_id, at, fail_scale=fail_scale)
        return result[1]

    def execute_bot(
        self, bot_id: str, at: datetime | None = None, *, fail_scale: float = 1.0
    ) -> tuple[Run, JsonDict | None]:
        """Like :meth:`run_bot`, also returning the run itself (outcome and log) for ``$execute``."""
        with self.lock:
            rec = self._bots.get(bot_id)
            if rec is None:
                raise KeyError(bot_id)
            state = self._states.get(bot_id)
            if state is None:
                state = BotState(_DEFAULT_SPEC, random.Random(f"{self.cfg.seed}:live:{bot_id}"), None)
                self._states[bot_id] = state
            end_ms = to_ms(at) if at is not None else self.now_ms()
            plan = Planned(end_ms)
            episode = state.live_episode
            if episode is not None and end_ms < state.live_until_ms:
                plan.failure, plan.thrown = episode.outcome, episode.thrown  # the story goes on
            elif state.fix_pending and end_ms >= state.live_until_ms:
                state.fix_pending = False  # the fix is deployed after the last failure, before this run
                deployed_at = min(max(state.live_until_ms, end_ms - 60_000), end_ms - 2_000)
                if rec.lu_ms < deployed_at:
                    gap = min(2_700, (end_ms - deployed_at) // 2)  # both versions before the run
                    self._deploy(rec, deployed_at, gap, self._rng, self.developers[1])
                rec = self._bots[bot_id]
            run = self._simulate(state, rec.res, plan, ends_at=True, fail_scale=fail_scale)
            if not writes_audit_event(rec.res, run.outcome, run.log):
                return run, None
            event = self._record_run(bot_id, rec.res.get("name"), run, state.spec.legacy)
            return run, event.resource(self.project_id)

    # ------------------------------------------------------------------ simulation

    def _simulate(
        self,
        state: BotState,
        bot: JsonDict,
        plan: Planned,
        *,
        ends_at: bool = False,
        lu_ms: int | None = None,
        fail_scale: float = 1.0,
        defer_log: bool = False,
    ) -> Run:
        """One run as ``plan`` says. ``plan.t_ms`` is when it was asked for (``period.start``), or
        when its AuditEvent is stored when ``ends_at`` is set (a run of now). ``defer_log``: the
        run keeps the recipe of its log (``Run.recipe``), written when it is first read."""
        spec, rng = state.spec, state.rng
        state.runs += 1
        failure, outcome = plan.failure, plan.outcome
        if plan.server_failure is not None:
            failure, outcome = "server", "4"
        elif outcome is not None:
            if outcome != "0" and not spec.legacy:
                failure = "timeout" if rng.random() < spec.timeout_share else "crash"
        elif failure is None:
            if rng.random() >= spec.fail_rate * fail_scale:
                failure = "ok"
            else:
                failure = "timeout" if rng.random() < spec.timeout_share else "crash"
        if outcome is None:
            if failure == "ok":
                outcome = "0"
            elif spec.legacy:
                outcome = "12" if rng.random() < 0.2 else "8"
            else:
                outcome = "4"
        bot_ref = f"Bot/{bot['id']}"
        name = str(bot.get("name") or bot["id"])
        # The input: the triggering resource; a Cron resource's run has the Cron, a scheduled run the Bot.
        input_ref: str | None = None
        if spec.input_type == "Patient":
            input_ref = rng.choice(self.patients)
        elif spec.input_type:
            input_ref = f"{spec.input_type}/{new_uuid(rng)}"
        elif state.cron_ref:
            input_ref = state.cron_ref
        elif spec.requestor == "cron" and not spec.legacy:
            input_ref = bot_ref
        requestor: str | None = None
        if spec.requestor == "clinician":
            requestor = self.clinicians[int(rng.random() * len(self.clinicians))]
        elif spec.requestor == "device":
            requestor = self.device_client
        elif spec.requestor == "integration":
            requestor = self.integration_client
        trace: tuple[str, str] | None = None
        if requestor is not None and not spec.legacy:  # a scheduled run has no request context
            request_id = new_uuid(rng)
            if spec.requestor == "clinician":
                trace = (request_id, new_uuid(rng))  # the web app's X-Trace-Id
            else:
                trace = (request_id, f"1-{rng.getrandbits(32):08x}-{rng.getrandbits(96):024x}")  # the ALB's
        # Timing: the queue (a subscription's job waits), then the execution.
        queue = rng.randint(*spec.queue_ms) if spec.subscription else rng.randint(1, 12)
        timeout_s = bot.get("timeout") if isinstance(bot.get("timeout"), int) else None
        exec_ms = plan.exec_ms if plan.exec_ms is not None else rng.randint(*spec.duration_ms)
        if failure == "timeout":
            exec_ms = (timeout_s or 10) * 1000 + rng.randint(15, 240)
        elif failure == "server":
            exec_ms = rng.randint(3, 60)
        if ends_at:
            lu = plan.t_ms
            rec = lu - rng.randint(5, 40)
            exec_start = rec - rng.randint(1, 4) - exec_ms
            start = exec_start - queue
        else:
            start = plan.t_ms
            exec_start = start + queue
            rec = exec_start + exec_ms + rng.randint(1, 4)
            lu = rec + rng.randint(5, 40) if lu_ms is None else lu_ms
        input_display: str | None = name if input_ref == bot_ref else None
        patient_ref = input_ref if input_ref and input_ref.startswith("Patient/") else None
        if input_ref and input_ref != bot_ref:
            input_display = self.resources.note(input_ref, start)
            patient_ref = patient_ref or self.resources.subject(input_ref)
        # The log.
        thrown = plan.thrown
        if thrown is EMPI:
            thrown = empi_outage(patient_ref or "Patient/unknown")
        ctx = RunContext(
            name,
            spec.runtime,
            input_ref,
            state.runs,
            plan.special,
            outcome,
            failure=None if failure in ("ok", "server") else failure,
            thrown=thrown,
            input_display=input_display,
            patient_ref=patient_ref,
        )
        recipe = RunLog(
            spec.logs,
            rng.getrandbits(64),
            ctx,
            str(bot.get("runtimeVersion") or spec.runtime),
            exec_start,
            exec_ms,
            timeout_s,
            self.cfg.max_log_chars,
            plan.server_failure if failure == "server" else None,
        )
        deferred = defer_log and bot.get("auditEventTrigger") != "on-output"  # its log decides
        return Run(
            outcome,
            "" if deferred else recipe.text(),
            start,
            min(rec, lu),
            lu,
            input_ref,
            state.subscription,
            requestor,
            input_display=input_display,
            sub_display=state.sub_display,
            who_display=self.names.get(requestor) if requestor else None,
            trace=trace,
            recipe=recipe if deferred else None,
        )

    # ------------------------------------------------------------------ history

    def _generate(self) -> None:
        cfg = self.cfg
        now = self.present_ms
        start = now - int(cfg.history_days * _DAY_MS)
        specs: list[BotSpec] = list(BOT_SPECS)
        if cfg.big_bot_events > 0:
            specs.append(BIG_BOT)
        extra_rng = random.Random(f"{cfg.seed}:extra")
        specs.extend(extra_bot_spec(i + 1, extra_rng) for i in range(cfg.extra_bots))
        pending: list[EventRecord] = []
        for spec in specs:
            bot_id = self._create_bot(spec, now)
            if spec is BIG_BOT:
                pending.extend(self._bulk_history(bot_id, spec, start, now, cfg.big_bot_events))
            else:
                pending.extend(self._bot_history(bot_id, spec, start, now))
        # One sort for the project-wide index; per-bot indexes were filled in time order.
        self.all_events = Index(pending)

    def _create_bot(self, spec: BotSpec, now: int) -> str:
        """The Bot of ``spec``, created ``created_days_ago`` with its deploys since (each two
        versions seconds apart, as ``medplum bot deploy`` makes them) as its history."""
        rng = random.Random(f"{self.cfg.seed}:bot:{spec.name}")
        bot_id = new_uuid(rng)
        created = now - int(spec.created_days_ago * _DAY_MS)
        res: JsonDict = {
            "resourceType": "Bot",
            "id": bot_id,
            "meta": {
                "project": self.project_id,
                "versionId": new_uuid(rng),
                "lastUpdated": format_ms(created),
                "author": {"reference": self.admin, "display": "Dana Whitfield"},
            },
            "identifier": [{"system": IDENTIFIER_SYSTEM, "value": spec.name}],
            "name": spec.name,
            "description": spec.description,
            "runtimeVersion": spec.runtime,
        }
        if spec.timeout is not None:
            res["timeout"] = spec.timeout
        res["category"] = [
            {"coding": [{"system": CATEGORY_SYSTEM, "code": spec.category[0], "display": spec.category[1]}]}
        ]
        if spec.cron:
            res["cronString"] = spec.cron
        if spec.cron_timing:
            res["cronTiming"] = copy.deepcopy(spec.cron_timing)
        if spec.trigger:
            res["auditEventTrigger"] = spec.trigger
        if spec.destination:
            res["auditEventDestination"] = list(spec.destination)
        res["sourceCode"] = {
            "contentType": "text/typescript",
            "title": "index.ts",
            "url": f"Binary/{new_uuid(rng)}",
        }
        executable = {
            "contentType": "application/javascript",
            "title": "index.js",
            "url": f"Binary/{new_uuid(rng)}",
        }
        if spec.deployed:
            res["executableCode"] = executable
        self._put_bot(res, created, spec)
        deploys = spec.deploys_days_ago or (
            (spec.updated_days_ago,) if spec.updated_days_ago is not None else ()
        )
        for days_ago in sorted(deploys, reverse=True):
            at = now - int(days_ago * _DAY_MS)
            rec = self._bots[bot_id]
            if rec.lu_ms < at < now:
                author = self.developers[rng.randrange(len(self.developers))]
                self._deploy(rec, at, None, rng, author)
        if spec.update_min is not None:  # an edit in the web app: one version
            rec = self._bots[bot_id]
            edited = copy.deepcopy(rec.res)
            edited["meta"] = {**edited["meta"], "author": copy.deepcopy(self.developers[0])}
            edited["description"] = f"{spec.description} Owner: integrations team."
            self._new_version(rec, edited, now - int(spec.update_min * _MINUTE_MS), rng)
        if spec.deploy_min is not None:
            at = now - int(spec.deploy_min * _MINUTE_MS)
            self._deploy(self._bots[bot_id], at, 2_700, rng, self.developers[1])
        return bot_id

    def _bot_history(self, bot_id: str, spec: BotSpec, start: int, now: int) -> list[EventRecord]:
        created = now - int(spec.created_days_ago * _DAY_MS)
        if self.cfg.history_days >= 1:
            start = min(start, now - int(spec.min_history_days * _DAY_MS))
        begin = max(start, created)
        state = self._states[bot_id]
        rng = random.Random(f"{self.cfg.seed}:history:{spec.name}")
        state.rng = rng
        bot = self._bots[bot_id].res
        out: list[EventRecord] = []
        legacy = spec.legacy
        name = spec.name
        for plan in plan_history(spec, rng, begin, now):
            burst = 1
            if spec.burst_prob and rng.random() < spec.burst_prob:
                burst = rng.randint(2, 4)
            shared_lu: int | None = None
            for _ in range(burst):
                run = self._simulate(state, bot, plan, lu_ms=shared_lu, defer_log=True)
                if burst > 1 and shared_lu is None:
                    # A batch of messages stored together: every run of the burst shares this instant.
                    shared_lu = run.lu_ms + rng.randint(400, 2500)
                    run.lu_ms = shared_lu
                    run.rec_ms = min(run.rec_ms, shared_lu)
                if run.lu_ms >= now:
                    continue
                if not writes_audit_event(bot, run.outcome, run.log):
                    continue
                out.append(_run_record(self._next_seq(), new_uuid(rng), bot_id, name, run, legacy))
        out.sort(key=lambda r: r.key)
        for rec in out:
            self._events[rec.id] = rec
        index = Index()
        index.recs, index.keys = out, [r.key for r in out]
        if out:
            self._by_entity[bot_id] = index
            source = Index()
            source.recs, source.keys = list(out), list(index.keys)
            self._by_source[bot_id] = source
        state.rng = random.Random(f"{self.cfg.seed}:live:{spec.name}")
        return out

    def _bulk_history(self, bot_id: str, spec: BotSpec, start: int, now: int, n: int) -> list[EventRecord]:
        """``n`` compact events spread over the history window (log text computed when served)."""
        rng = random.Random(f"{self.cfg.seed}:bulk")
        getrandbits, rand = rng.getrandbits, rng.random
        gap = max(1, (now - 1 - start) // n)
        out: list[EventRecord] = []
        t = start
        fail = spec.fail_rate
        name = spec.name
        log_bytes = self.cfg.big_bot_log_bytes
        for i in range(n):
            if i % 997 != 0:  # every 997th event shares its predecessor's instant (a tie)
                t += 1 + int(rand() * 2 * gap)
            lu = min(t, now - 1)
            hexid = f"{(getrandbits(128) & ~(0xF << 76) & ~(0x3 << 62)) | (0x4 << 76) | (0x2 << 62):032x}"
            event_id = f"{hexid[:8]}-{hexid[8:12]}-{hexid[12:16]}-{hexid[16:20]}-{hexid[20:]}"
            rec_ms = lu - 12
            out.append(
                EventRecord(
                    self._next_seq(),
                    event_id,
                    bot_id,
                    name,
                    lu,
                    rec_ms,
                    rec_ms - 40 - (i * 37) % 860,
                    "0" if rand() >= fail else "4",
                    requestor=self.integration_client,
                    log=None,
                    log_bytes=log_bytes,
                )
            )
        out.sort(key=lambda r: r.key)
        for rec in out:
            self._events[rec.id] = rec
        index = Index()
        index.recs, index.keys = out, [r.key for r in out]
        self._by_entity[bot_id] = index
        source = Index()
        source.recs, source.keys = list(out), list(index.keys)
        self._by_source[bot_id] = source
        return out

    # ------------------------------------------------------------------ live mode

    def live_schedule(self) -> list[tuple[str, BotSpec]]:
        """Bots the live thread runs: ``(bot_id, spec)`` of every bot with a live interval or a
        schedule, except the ones whose story is that they stopped (they stay silent)."""
        with self.lock:
            return [
                (bot_id, st.spec)
                for bot_id, st in self._states.items()
                if bot_id in self._bots
                and (st.spec.live_interval_s or st.spec.schedule)
                and st.spec.stopped_min is None
            ]


# --------------------------------------------------------------------------------------------------
# Hand-made events: derive the searchable fields from the JSON
# --------------------------------------------------------------------------------------------------


def _ref(value: Any) -> str | None:
    if isinstance(value, dict):
        ref = value.get("reference")
        return ref if isinstance(ref, str) else None
    return None


def _bot_refs(res: JsonDict) -> tuple[list[str], str | None]:
    entity_bots: list[str] = []
    for entity in res.get("entity") or []:
        ref = _ref(entity.get("what")) if isinstance(entity, dict) else None
        if ref and ref.startswith("Bot/"):
            entity_bots.append(ref[4:])
    source = res.get("source")
    observer = _ref(source.get("observer")) if isinstance(source, dict) else None
    source_bot = observer[4:] if observer and observer.startswith("Bot/") else None
    return entity_bots, source_bot


def _record_from_resource(seq: int, res: JsonDict, lu_ms: int) -> EventRecord:
    entity_bots, source_bot = _bot_refs(res)
    recorded = res.get("recorded")
    rec_ms = lu_ms
    if isinstance(recorded, str):
        try:
            rec_ms = parse_search_instant_us(recorded) // 1000
        except ValueError:
            rec_ms = lu_ms
    outcome = res.get("outcome")
    return EventRecord(
        seq,
        str(res["id"]),
        entity_bots[0] if entity_bots else source_bot,
        None,
        lu_ms,
        rec_ms,
        rec_ms,
        None if outcome is None else str(outcome),
        res=res,
    )


def _subscription(ref: str, bot: JsonDict, spec: BotSpec) -> JsonDict:
    """The rest-hook Subscription that runs ``bot`` (Medplum: ``channel.endpoint`` is ``Bot/<id>``)."""
    criteria = spec.criteria or spec.input_type or "Patient"
    body: JsonDict = {
        "resourceType": "Subscription",
        "id": ref.split("/", 1)[1],
        "meta": {"author": copy.deepcopy(bot["meta"].get("author"))},
        "status": "active",
        "reason": f"Run {bot.get('name')} on {criteria.split('?', 1)[0]} changes",
        "criteria": criteria,
        "channel": {"type": "rest-hook", "endpoint": f"Bot/{bot['id']}", "payload": "application/fhir+json"},
    }
    if spec.interaction:
        body["extension"] = [
            {
                "url": "https://medplum.com/fhir/StructureDefinition/subscription-supported-interaction",
                "valueCode": spec.interaction,
            }
        ]
    return body


def _cron(cron_id: str, bot: JsonDict, cron_string: str, membership_id: str) -> JsonDict:
    """A ``Cron`` resource that runs ``bot`` on ``cron_string`` (Medplum's ``cron`` feature)."""
    return {
        "resourceType": "Cron",
        "id": cron_id,
        "active": True,
        "cronString": cron_string,
        "targetReference": {"reference": f"Bot/{bot['id']}", "display": bot.get("name")},
        "onBehalfOf": {"reference": f"ProjectMembership/{membership_id}"},
    }
