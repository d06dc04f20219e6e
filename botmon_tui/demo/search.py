"""FHIR search as Medplum does it, over the demo's sorted indexes.

Parsing follows ``@medplum/core`` ``parseSearchRequest``; limits, filters, sorting, totals and links follow
the server's ``searchImpl``:

* ``_count``: default 20, above 1000 silently 1000, ``0`` allowed (no entries); the value is read with
  JavaScript ``parseInt`` rules. ``_offset`` above ``max_offset`` → 400
  ``Search offset exceeds maximum (got X, max 10000)``.
* An unknown parameter (as a filter or in ``_sort``) → 400 ``Unknown search parameter: X``. A date value
  that is not a date → 400 ``Invalid format for date search parameter: X`` (see :mod:`.fhirtime`).
* ``Bundle.total`` only with ``_total=accurate|estimate``; ``_summary=count`` means total, no entries.
* Links: ``self`` always; ``first``/``next``/``previous`` only when the page has entries. ``next`` only
  when one more row exists; ``previous`` when the offset is > 0. With exactly one sort rule
  ``_sort=_lastUpdated`` (ascending), ``_count >= 20`` and no offset, ``next`` carries
  ``_cursor=2-<epoch ms>-<ids already given at that instant>`` instead of an offset. The query string of
  every link is re-formatted from the parsed request (parameters sorted), as Medplum's
  ``formatSearchQuery`` does.
* Rows sharing one ``lastUpdated`` keep insertion order; without ``_sort`` rows come oldest first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from botmon_tui.demo import outcomes
from botmon_tui.demo.fhirtime import DateValueError, parse_search_instant_us
from botmon_tui.demo.store import AUDIT_EVENT_SYSTEM, Index

__all__ = [
    "AUDIT_EVENT_PARAMS",
    "BOT_PARAMS",
    "Filter",
    "ParamDef",
    "SearchError",
    "SearchRequest",
    "SearchResult",
    "build_links",
    "execute",
    "parse_search",
]

JsonDict = dict[str, Any]
Predicate = Callable[[Any], bool]

DEFAULT_COUNT = 20
MAX_COUNT = 1000
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
_MODIFIERS = {
    "contains",
    "exact",
    "above",
    "below",
    "text",
    "not",
    "in",
    "not-in",
    "of-type",
    "missing",
    "identifier",
    "iterate",
}
_IGNORED = {"_include", "_revinclude", "_type", "_format", "_pretty"}


class SearchError(Exception):
    """A search Medplum refuses: ``status`` and the OperationOutcome to send."""

    def __init__(self, status: int, outcome: JsonDict) -> None:
        super().__init__(outcome["issue"][0]["details"]["text"])
        self.status = status
        self.outcome = outcome


def _bad(text: str) -> SearchError:
    return SearchError(400, outcomes.bad_request(text))


# --------------------------------------------------------------------------------------------------
# Search parameter definitions
# --------------------------------------------------------------------------------------------------

Token = tuple[str | None, str]


@dataclass(frozen=True, slots=True)
class ParamDef:
    """One search parameter: its FHIR type and how to read its values from a stored record.

    ``values`` returns, by type: ``token`` → ``[(system, code)]``; ``reference``/``string`` → ``[str]``;
    ``date`` → ``[epoch microseconds]``.
    """

    code: str
    type: str
    values: Callable[[Any], list[Any]]
    #: A bare id is read as this type (Medplum does so for ``subject``/``patient``).
    bare_type: str | None = None
    #: Optional fast predicate builder for plain values (no modifier), used on large scans.
    fast: Callable[[list[str]], Predicate | None] | None = None


def _codings(value: Any) -> list[Token]:
    """Tokens of a Coding, CodeableConcept, code string, or a list of those."""
    out: list[Token] = []
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, str):
            out.append((None, item))
        elif isinstance(item, dict):
            if isinstance(item.get("code"), str):
                system = item.get("system")
                out.append((system if isinstance(system, str) else None, item["code"]))
            for coding in item.get("coding") or []:
                if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                    system = coding.get("system")
                    out.append((system if isinstance(system, str) else None, coding["code"]))
    return out


def _refs(items: Iterable[Any], attr: str) -> list[str]:
    out: list[str] = []
    for item in items:
        if isinstance(item, dict):
            ref = item.get(attr)
            if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
                out.append(ref["reference"])
    return out


def _res(rec: Any) -> JsonDict:
    result: JsonDict = rec.res if rec.res is not None else rec.resource("")
    return result


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _instant_us(value: Any) -> list[int]:
    if isinstance(value, str):
        try:
            return [parse_search_instant_us(value)]
        except DateValueError:
            return []
    return []


# AuditEvent: fast paths read the compact record; hand-made events (rec.res) and rare parameters read JSON.


def _ae_outcome(rec: Any) -> list[Token]:
    return [] if rec.outcome is None else [(None, rec.outcome)]


def _ae_type(rec: Any) -> list[Token]:
    if rec.res is None:
        return [(None, "execute")] if rec.legacy else [(AUDIT_EVENT_SYSTEM, "execute")]
    return _codings(rec.res.get("type"))


def _fast_outcome(wanted: list[str]) -> Predicate | None:
    """``outcome=4,8,12``: compare the stored code directly (hand-made events keep it too)."""
    if any("|" in w for w in wanted):
        return None
    codes = frozenset(wanted)

    def test(rec: Any) -> bool:
        return rec.outcome in codes

    return test


def _fast_type(wanted: list[str]) -> Predicate | None:
    """``type=execute``: generated events have one of two fixed types, decided once."""
    matchers = [_token_matcher(v) for v in wanted]
    modern = any(m([(AUDIT_EVENT_SYSTEM, "execute")]) for m in matchers)
    legacy = any(m([(None, "execute")]) for m in matchers)

    def test(rec: Any) -> bool:
        if rec.res is None:
            return legacy if rec.legacy else modern
        tokens = _codings(rec.res.get("type"))
        return any(m(tokens) for m in matchers)

    return test


def _ae_entity(rec: Any) -> list[str]:
    if rec.res is None:
        refs = [f"Bot/{rec.bot_id}"]
        if rec.input_ref:
            refs.append(rec.input_ref)
        if rec.sub_ref:
            refs.append(rec.sub_ref)
        return refs
    return _refs(_list(rec.res.get("entity")), "what")


def _ae_source(rec: Any) -> list[str]:
    if rec.res is None:
        return [f"Bot/{rec.bot_id}"]
    source = rec.res.get("source")
    return _refs([source], "observer") if isinstance(source, dict) else []


def _ae_agent(rec: Any) -> list[str]:
    if rec.res is None:
        if rec.legacy:
            return []
        return [r for r in (rec.requestor, f"Bot/{rec.bot_id}") if r]  # a cron run has no requester
    return _refs(_list(rec.res.get("agent")), "who")


def _ae_patient(rec: Any) -> list[str]:
    refs = _ae_agent(rec) + _ae_entity(rec)
    return [r for r in refs if r.startswith("Patient/")]


def _ae_date(rec: Any) -> list[int]:
    if rec.res is None:
        return [rec.rec_ms * 1000]
    return _instant_us(rec.res.get("recorded"))


def _ae_json_strings(path: Callable[[JsonDict], list[Any]]) -> Callable[[Any], list[str]]:
    def values(rec: Any) -> list[str]:
        return [v for v in path(_res(rec)) if isinstance(v, str)]

    return values


def _ae_json_tokens(path: Callable[[JsonDict], list[Any]]) -> Callable[[Any], list[Token]]:
    def values(rec: Any) -> list[Token]:
        return _codings(path(_res(rec)))

    return values


def _agents(res: JsonDict) -> list[JsonDict]:
    return [a for a in _list(res.get("agent")) if isinstance(a, dict)]


def _entities(res: JsonDict) -> list[JsonDict]:
    return [e for e in _list(res.get("entity")) if isinstance(e, dict)]


def _site(res: JsonDict) -> list[Any]:
    source = res.get("source")
    return [source.get("site")] if isinstance(source, dict) else []


def _ref_id(rec: Any) -> list[str]:
    return [rec.id]


def _last_updated(rec: Any) -> list[int]:
    return [rec.lu_ms * 1000]


_COMMON: dict[str, ParamDef] = {
    "_id": ParamDef("_id", "id", _ref_id),
    "_lastUpdated": ParamDef("_lastUpdated", "date", _last_updated),
}

#: Every R4 AuditEvent search parameter (plus ``_id`` and ``_lastUpdated``).
AUDIT_EVENT_PARAMS: dict[str, ParamDef] = {
    **_COMMON,
    "action": ParamDef("action", "token", _ae_json_tokens(lambda r: [r.get("action")])),
    "address": ParamDef(
        "address",
        "string",
        _ae_json_strings(lambda r: [(a.get("network") or {}).get("address") for a in _agents(r)]),
    ),
    "agent": ParamDef("agent", "reference", _ae_agent),
    "agent-name": ParamDef(
        "agent-name", "string", _ae_json_strings(lambda r: [a.get("name") for a in _agents(r)])
    ),
    "agent-role": ParamDef(
        "agent-role",
        "token",
        _ae_json_tokens(lambda r: [c for a in _agents(r) for c in _list(a.get("role"))]),
    ),
    "altid": ParamDef("altid", "token", _ae_json_tokens(lambda r: [a.get("altId") for a in _agents(r)])),
    "date": ParamDef("date", "date", _ae_date),
    "entity": ParamDef("entity", "reference", _ae_entity),
    "entity-name": ParamDef(
        "entity-name", "string", _ae_json_strings(lambda r: [e.get("name") for e in _entities(r)])
    ),
    "entity-role": ParamDef(
        "entity-role", "token", _ae_json_tokens(lambda r: [e.get("role") for e in _entities(r)])
    ),
    "entity-type": ParamDef(
        "entity-type", "token", _ae_json_tokens(lambda r: [e.get("type") for e in _entities(r)])
    ),
    "outcome": ParamDef("outcome", "token", _ae_outcome, fast=lambda wanted: _fast_outcome(wanted)),
    "patient": ParamDef("patient", "reference", _ae_patient, bare_type="Patient"),
    "policy": ParamDef(
        "policy", "uri", _ae_json_strings(lambda r: [p for a in _agents(r) for p in _list(a.get("policy"))])
    ),
    "site": ParamDef("site", "token", _ae_json_tokens(_site)),
    "source": ParamDef("source", "reference", _ae_source),
    "subtype": ParamDef("subtype", "token", _ae_json_tokens(lambda r: _list(r.get("subtype")))),
    "type": ParamDef("type", "token", _ae_type, fast=lambda wanted: _fast_type(wanted)),
}


def _bot_field(name: str) -> Callable[[Any], list[Any]]:
    def values(rec: Any) -> list[Any]:
        value = rec.res.get(name)
        return [value] if isinstance(value, str) else []

    return values


def _bot_identifier(rec: Any) -> list[Token]:
    out: list[Token] = []
    for ident in _list(rec.res.get("identifier")):
        if isinstance(ident, dict) and isinstance(ident.get("value"), str):
            system = ident.get("system")
            out.append((system if isinstance(system, str) else None, ident["value"]))
    return out


BOT_PARAMS: dict[str, ParamDef] = {
    **_COMMON,
    "name": ParamDef("name", "string", _bot_field("name")),
    "identifier": ParamDef("identifier", "token", _bot_identifier),
    "category": ParamDef("category", "token", lambda rec: _codings(_list(rec.res.get("category")))),
}

#: Resource properties kept by ``_elements`` besides the ones asked for (the required ones).
MANDATORY_PROPERTIES: dict[str, tuple[str, ...]] = {
    "AuditEvent": ("type", "recorded", "agent", "source"),
    "Bot": (),
}

# --------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Filter:
    code: str
    op: str
    value: str
    param: ParamDef | None
    #: Parsed value of a date filter, epoch microseconds.
    us: int | None = None


@dataclass(slots=True)
class SortRule:
    code: str
    descending: bool


@dataclass
class SearchRequest:
    resource_type: str
    filters: list[Filter] = field(default_factory=list)
    sort: list[SortRule] = field(default_factory=list)
    #: The page size after Medplum's limits; None stands for JavaScript's NaN (an unreadable ``_count``).
    count: int | None = DEFAULT_COUNT
    offset: int = 0
    cursor: str | None = None
    total: str | None = None
    fields: list[str] | None = None
    summary: str | None = None

    @property
    def page_size(self) -> int:
        return self.count if self.count is not None and self.count > 0 else 0


def js_parse_int(text: str) -> int | None:
    """JavaScript ``parseInt(text, 10)``: leading digits after optional space and sign; None for NaN."""
    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match.group(1)) if match else None


def split_on_comma(value: str) -> list[str]:
    """Split a search value on commas, honouring backslash escapes (``splitSearchOnComma``)."""
    result: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in value:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            result.append("".join(current))
            current = []
        else:
            current.append(ch)
    result.append("".join(current))
    return result


def parse_search(
    resource_type: str,
    pairs: Sequence[tuple[str, str]],
    params: dict[str, ParamDef],
    *,
    max_offset: int = 10_000,
) -> SearchRequest:
    """Parse and validate a search, raising :class:`SearchError` as Medplum would."""
    req = SearchRequest(resource_type)
    count: int | str | None = "unset"
    offset: int | None = None
    for key, value in pairs:
        code, _, modifier = key.partition(":")
        if code == "_":
            continue
        if code == "_has" or "." in key:
            raise _bad(f"Chained search is not supported by the demo server: {key}")
        if code == "_sort":
            for text in value.split(","):
                descending = text.startswith("-")
                req.sort.append(SortRule(text[1:] if descending else text, descending))
        elif code == "_cursor":
            req.cursor = value
        elif code == "_count":
            count = js_parse_int(value)
        elif code == "_offset":
            offset = js_parse_int(value)
        elif code == "_total":
            req.total = value
        elif code == "_summary":
            if value == "count":
                req.total = "accurate"
                count = 0
            elif value in ("true", "data", "text"):
                req.summary = value
        elif code in ("_fields", "_elements"):
            req.fields = value.split(",")
        elif code in _IGNORED:
            continue
        else:
            param = params.get(code)
            req.filters.append(_parse_filter(code, modifier, value, param))
    # applyCountAndOffsetLimits
    if count == "unset":
        req.count = DEFAULT_COUNT
    elif count is None or isinstance(count, int):
        req.count = min(count, MAX_COUNT) if isinstance(count, int) else None
    if offset is not None and offset > max_offset:
        raise _bad(f"Search offset exceeds maximum (got {offset}, max {max_offset})")
    req.offset = offset if offset is not None and offset > 0 else 0
    for f in req.filters:
        _validate_filter(f)
    for rule in req.sort:
        if rule.code not in ("_id", "_lastUpdated") and rule.code not in params:
            raise _bad(f"Unknown search parameter: {rule.code}")
    return req


def _parse_filter(code: str, modifier: str, value: str, param: ParamDef | None) -> Filter:
    if param is None:
        op = "eq"
        if modifier:
            op = modifier
        elif len(value) >= 2 and value[:2] in _PREFIXES and (len(value) == 2 or value[2].isdigit()):
            op, value = value[:2], value[2:]
        return Filter(code, op, value, None)
    if modifier in ("missing", "present"):
        return Filter(code, modifier, value, param)
    if param.type == "date":
        op = "eq"
        if value[:2] in _PREFIXES:
            op, value = value[:2], value[2:]
        try:
            us = parse_search_instant_us(value)
        except DateValueError as exc:
            if exc.message.startswith("Invalid format"):
                raise _bad(exc.message) from exc
            return Filter(code, op, value, param, None)  # "Invalid date value" comes later, as in Medplum
        return Filter(code, op, value, param, us)
    op = modifier if modifier in _MODIFIERS else "eq"
    return Filter(code, op, value, param)


def _validate_filter(f: Filter) -> None:
    if f.param is None:
        raise _bad(f"Unknown search parameter: {f.code}")
    if "\0" in f.value:
        raise _bad("Search filter value cannot contain null bytes")
    if f.op in ("in", "not-in") and f.param.type in ("date", "reference", "id"):
        raise _bad(f"Search operator '{f.op}' is not supported for search parameter '{f.code}'")
    if f.param.type == "date" and f.op not in ("missing", "present") and f.us is None:
        raise _bad(f"Invalid date value: {f.value}")
    if f.param.type == "string" and f.op not in ("eq", "contains", "exact", "missing", "present"):
        raise _bad(f"Unsupported string search operator: {f.op}")


# --------------------------------------------------------------------------------------------------
# Predicates
# --------------------------------------------------------------------------------------------------


def _token_matcher(value: str) -> Callable[[list[Token]], bool]:
    if "|" in value:
        system, code = value.split("|", 1)
        if system == "":
            return lambda tokens: any(s is None and c == code for s, c in tokens)
        if code == "":
            return lambda tokens: any(s == system for s, _ in tokens)
        return lambda tokens: any(s == system and c == code for s, c in tokens)
    return lambda tokens: any(c == value for _, c in tokens)


def _presence(f: Filter) -> Predicate:
    values = f.param.values if f.param else (lambda rec: [])
    missing = (f.value == "true") == (f.op == "missing")
    return lambda rec: (len(values(rec)) == 0) == missing


def _date_predicate(op: str, v: int, now_us: int, values: Callable[[Any], list[int]]) -> Predicate:
    if op == "ap":
        slack = max(abs(now_us - v) // 10, 1_000_000)
        return lambda rec: any(abs(t - v) <= slack for t in values(rec))
    compare: dict[str, Callable[[int], bool]] = {
        "eq": lambda t: t == v,
        "ne": lambda t: t != v,
        "gt": lambda t: t > v,
        "sa": lambda t: t > v,
        "ge": lambda t: t >= v,
        "lt": lambda t: t < v,
        "eb": lambda t: t < v,
        "le": lambda t: t <= v,
    }
    test = compare[op]
    return lambda rec: any(test(t) for t in values(rec))


def compile_filter(f: Filter, now_us: int) -> Predicate:
    param = f.param
    if param is None:  # pragma: no cover - rejected by parse_search
        raise _bad(f"Unknown search parameter: {f.code}")
    if f.op in ("missing", "present"):
        return _presence(f)
    values_of = param.values
    negate = f.op in ("not", "ne")
    if param.type == "date":
        assert f.us is not None
        return _date_predicate(f.op, f.us, now_us, values_of)
    wanted = split_on_comma(f.value)
    if f.op == "eq" and param.fast is not None:
        fast = param.fast(wanted)
        if fast is not None:
            return fast
    if param.type == "id":
        base = _id_predicate(wanted)
    elif param.type == "token":
        base = _token_predicate(wanted, values_of)
    elif param.type in ("reference", "uri"):
        base = _reference_predicate(wanted, values_of, param.bare_type)
    else:
        base = _string_predicate(f.op, wanted, values_of)
    if negate:
        return lambda rec: not base(rec)
    return base


def _id_predicate(wanted: list[str]) -> Predicate:
    ids = set()
    for v in wanted:
        v = v.rsplit("/", 1)[-1]
        ids.add(v.lower() if _UUID.match(v) else ZERO_UUID)

    def test(rec: Any) -> bool:
        return rec.id in ids

    return test


def _token_predicate(wanted: list[str], values_of: Callable[[Any], list[Token]]) -> Predicate:
    matchers = [_token_matcher(v) for v in wanted]

    def test(rec: Any) -> bool:
        tokens = values_of(rec)
        return any(m(tokens) for m in matchers)

    return test


def _reference_predicate(
    wanted: list[str], values_of: Callable[[Any], list[str]], bare_type: str | None
) -> Predicate:
    refs = {f"{bare_type}/{v}" if bare_type and "/" not in v else v for v in wanted}

    def test(rec: Any) -> bool:
        return any(r in refs for r in values_of(rec))

    return test


def _string_predicate(op: str, wanted: list[str], values_of: Callable[[Any], list[str]]) -> Predicate:
    if op == "exact":
        exact = set(wanted)

        def test_exact(rec: Any) -> bool:
            return any(s in exact for s in values_of(rec))

        return test_exact
    parts = tuple(w.casefold() for w in wanted)
    if op == "contains":

        def test_contains(rec: Any) -> bool:
            return any(p in s.casefold() for s in values_of(rec) for p in parts)

        return test_contains

    def test_prefix(rec: Any) -> bool:
        return any(s.casefold().startswith(parts) for s in values_of(rec))

    return test_prefix


def lu_bounds(filters: Iterable[Filter]) -> tuple[int | None, int | None, list[Filter]]:
    """Turn ``_lastUpdated`` comparisons into index bounds ``[lo_ms, hi_ms)``; return the other filters."""
    lo: int | None = None
    hi: int | None = None
    rest: list[Filter] = []
    for f in filters:
        if f.code != "_lastUpdated" or f.us is None or f.op not in ("eq", "gt", "sa", "ge", "lt", "eb", "le"):
            rest.append(f)
            continue
        v = f.us
        floor_ms, ceil_ms = v // 1000, -((-v) // 1000)
        if f.op in ("gt", "sa"):
            new_lo, new_hi = floor_ms + 1, None
        elif f.op == "ge":
            new_lo, new_hi = ceil_ms, None
        elif f.op in ("lt", "eb"):
            new_lo, new_hi = None, ceil_ms
        elif f.op == "le":
            new_lo, new_hi = None, floor_ms + 1
        elif v % 1000 == 0:  # eq
            new_lo, new_hi = floor_ms, floor_ms + 1
        else:
            new_lo, new_hi = 0, 0
        if new_lo is not None:
            lo = new_lo if lo is None else max(lo, new_lo)
        if new_hi is not None:
            hi = new_hi if hi is None else min(hi, new_hi)
    return lo, hi, rest


# --------------------------------------------------------------------------------------------------
# Execution
# --------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class SearchResult:
    records: list[Any]
    #: The first row after this page (Medplum reads one extra row to know whether there are more).
    next_record: Any | None
    total: int | None


@dataclass(frozen=True, slots=True)
class Cursor:
    instant_ms: int
    excluded: frozenset[str]


def parse_cursor(text: str) -> Cursor | None:
    """Medplum cursors: ``2-<epoch ms>[-<id>,<id>...]`` (version 1 has no exclusions); else None."""
    version, _, rest = text.partition("-")
    if version not in ("1", "2") or not rest:
        return None
    instant, _, ids = rest.partition("-")
    ms = js_parse_int(instant)
    if ms is None:
        return None
    if version == "1":
        return Cursor(ms, frozenset()) if ids else None
    return Cursor(ms, frozenset(ids.split(",")) if ids else frozenset())


def _sort_value(rec: Any, code: str, params: dict[str, ParamDef]) -> Any:
    if code == "_id":
        return rec.id
    if code == "_lastUpdated":
        return rec.key
    param = params[code]
    values = param.values(rec)
    if not values:
        return None
    first = values[0]
    if isinstance(first, tuple):
        return first[1]
    if isinstance(first, str):
        return first.casefold()
    return first


def _index_order(sort: list[SortRule]) -> bool | None:
    """None when the index order cannot serve ``sort``; else whether to walk it newest first."""
    codes = [(s.code, s.descending) for s in sort]
    deduped = [c for i, c in enumerate(codes) if c not in codes[:i]]
    if not deduped:
        return False
    if len(deduped) == 1 and deduped[0][0] == "_lastUpdated":
        return deduped[0][1]
    return None


def execute(
    req: SearchRequest,
    index: Index,
    filters: list[Filter],
    params: dict[str, ParamDef],
    *,
    now_us: int,
) -> SearchResult:
    """Run ``req`` over ``index``; ``filters`` are those the choice of ``index`` does not satisfy."""
    lo, hi, rest = lu_bounds(filters)
    predicates = _combine([compile_filter(f, now_us) for f in rest])
    cursor = parse_cursor(req.cursor) if req.cursor else None
    if cursor is not None and req.offset > 0:
        raise _bad("Cannot use both offset and cursor")
    sort = list(req.sort)
    page_lo, page_preds = lo, list(predicates)
    if cursor is not None:
        sort.append(SortRule("_lastUpdated", False))
        page_lo = cursor.instant_ms if lo is None else max(lo, cursor.instant_ms)
        if cursor.excluded:
            excluded = cursor.excluded
            page_preds = _combine([*page_preds, lambda rec: rec.id not in excluded])

    records: list[Any] = []
    next_record: Any | None = None
    size = req.page_size
    if size > 0:
        rows = _rows(index, page_lo, hi, page_preds, sort, params, req.offset, size + 1)
        records, next_record = rows[:size], (rows[size] if len(rows) > size else None)

    total: int | None = None
    if req.total in ("accurate", "estimate"):
        i, j = index.bounds(lo, hi)
        if not predicates:
            total = j - i
        else:
            test = predicates[0]
            total = sum(1 for rec in index.recs[i:j] if test(rec))
    return SearchResult(records, next_record, total)


def _combine(predicates: list[Predicate]) -> list[Predicate]:
    """At most one predicate (the conjunction), so scans call one function per row."""
    if len(predicates) <= 1:
        return predicates
    parts = tuple(predicates)

    def test(rec: Any) -> bool:
        return all(p(rec) for p in parts)

    return [test]


def _rows(
    index: Index,
    lo: int | None,
    hi: int | None,
    predicates: list[Predicate],
    sort: list[SortRule],
    params: dict[str, ParamDef],
    offset: int,
    limit: int,
) -> list[Any]:
    i, j = index.bounds(lo, hi)
    recs = index.recs
    newest_first = _index_order(sort)
    if newest_first is not None:
        if not predicates:
            if newest_first:
                start, stop = max(i, j - offset - limit), j - offset
                return list(reversed(recs[start:stop])) if stop > start else []
            start = i + offset
            return recs[start : min(j, start + limit)]
        out: list[Any] = []
        skip = offset
        order = range(j - 1, i - 1, -1) if newest_first else range(i, j)
        test = predicates[0]
        for k in order:
            rec = recs[k]
            if test(rec):
                if skip:
                    skip -= 1
                    continue
                out.append(rec)
                if len(out) >= limit:
                    break
        return out
    keep = predicates[0] if predicates else None
    matches = [rec for rec in recs[i:j] if keep is None or keep(rec)]
    for rule in reversed(sort):
        code, descending = rule.code, rule.descending

        def key(rec: Any, code: str = code) -> tuple[bool, Any]:
            value = _sort_value(rec, code, params)
            return (value is None, value)

        # Postgres puts NULLs last when ascending and first when descending; reverse=True does the same.
        matches.sort(key=key, reverse=descending)
    return matches[offset : offset + limit]


# --------------------------------------------------------------------------------------------------
# Links
# --------------------------------------------------------------------------------------------------


def _encode(value: str) -> str:
    """JavaScript ``encodeURIComponent``."""
    return quote(value, safe="-_.!~*'()")


def _format_filter(f: Filter) -> str:
    modifier = f":{f.op}" if f.op in _MODIFIERS else ""
    prefix = f.op if f.op != "eq" and f.op in _PREFIXES else ""
    return f"{f.code}{modifier}={prefix}{_encode(f.value)}"


def format_query(req: SearchRequest, *, cursor: str | None = None, offset: int | None = None) -> str:
    """``formatSearchQuery``: the request's parameters, each formatted, sorted, joined with ``&``."""
    params: list[str] = []
    if req.fields:
        params.append("_fields=" + ",".join(req.fields))
    params.extend(_format_filter(f) for f in req.filters)
    if req.sort:
        params.append("_sort=" + ",".join(("-" if s.descending else "") + s.code for s in req.sort))
    if cursor is not None:
        params.append("_cursor=" + _encode(cursor))
    if offset:
        params.append(f"_offset={offset}")
    params.append("_count=" + ("NaN" if req.count is None else str(req.count)))
    if req.total is not None:
        params.append(f"_total={req.total}")
    params.sort(key=lambda p: (p.casefold(), p))
    return "?" + "&".join(params)


def can_use_cursor(req: SearchRequest) -> bool:
    return (
        req.offset == 0
        and req.count is not None
        and req.count >= 20
        and len(req.sort) == 1
        and req.sort[0].code == "_lastUpdated"
        and not req.sort[0].descending
    )


def build_links(req: SearchRequest, result: SearchResult, base: str) -> list[JsonDict]:
    """Bundle links for a search page; ``base`` is the FHIR base URL ending in ``/``."""
    url = f"{base}{req.resource_type}"
    links: list[JsonDict] = [
        {"relation": "self", "url": url + format_query(req, cursor=req.cursor, offset=req.offset)}
    ]
    records, nxt = result.records, result.next_record
    if req.page_size == 0 or not records:
        return links
    if can_use_cursor(req):
        if nxt is not None and records[0].lu_ms == nxt.lu_ms:
            raise SearchError(500, outcomes.server_error("Error: Cursor fails to make progress"))
        links.append({"relation": "first", "url": url + format_query(req)})
        if nxt is not None:
            excluded = [r.id for r in records if r.lu_ms == nxt.lu_ms]
            cursor = f"2-{nxt.lu_ms}" + ("-" + ",".join(excluded) if excluded else "")
            links.append({"relation": "next", "url": url + format_query(req, cursor=cursor)})
        return links
    links.append({"relation": "first", "url": url + format_query(req, cursor=req.cursor)})
    if nxt is not None:
        links.append(
            {
                "relation": "next",
                "url": url + format_query(req, cursor=req.cursor, offset=req.offset + req.page_size),
            }
        )
    if req.offset > 0:
        links.append(
            {
                "relation": "previous",
                "url": url + format_query(req, cursor=req.cursor, offset=max(0, req.offset - req.page_size)),
            }
        )
    return links


def subset(resource: JsonDict, fields: list[str], mandatory: Iterable[str]) -> JsonDict:
    """``_elements``: keep ``resourceType``, ``id``, ``meta``, the required and the asked-for properties."""
    keep = {"resourceType", "id", "meta", *mandatory, *fields}
    keep |= {"_" + f for f in fields}
    out = {k: v for k, v in resource.items() if k in keep}
    meta = dict(out.get("meta") or {})
    meta["tag"] = [
        *(meta.get("tag") or []),
        {"system": "http://hl7.org/fhir/v3/ObservationValue", "code": "SUBSETTED"},
    ]
    out["meta"] = meta
    return out
