"""The resources that bot runs reference: inputs (Patient, DiagnosticReport, ...), Subscriptions, Crons.

An AuditEvent names its run's input and subscription (``entity``); ``GET <fhir><Type>/<id>`` reads
them. The demo does not store a body for each of the thousands of inputs: it notes each reference
(when it was last changed, whether it still exists) and writes a small, realistic body when one is
read, the same every time for a seed (names, codes and values come from a hash of the id).

What a read answers, as Medplum does:

* **200** with the resource (``ETag``, ``Last-Modified``), for a reference the demo knows;
* **403** ``Forbidden`` for a type the demo client's access policy does not grant
  (:data:`FORBIDDEN_TYPES`: billing data, ``Coverage``, ``Claim``, ``ExplanationOfBenefit``); Medplum
  checks the type before it looks for the resource, so any id of those types is 403;
* **410** ``Gone`` for a deleted resource (a few DiagnosticReports and QuestionnaireResponses are
  deleted some minutes after their run, as results entered in error are);
* **404** ``Not found`` for a reference the demo does not know, or one expunged (``$expunge``
  removes the history too).

The ``display`` an AuditEvent writes for an entity is Medplum's ``createReference``: the
resource's display string (a Patient's name, a report's code, a Subscription's criteria), left
out when there is none. :meth:`ResourceRegistry.display` gives the same text the body holds.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from botmon_tui.demo import outcomes
from botmon_tui.demo.fhirtime import format_ms
from botmon_tui.demo.versions import Version

__all__ = [
    "FORBIDDEN_TYPES",
    "READABLE_TYPES",
    "ResourceRegistry",
    "derived_uuid",
]

JsonDict = dict[str, Any]
T = TypeVar("T")

#: Types the demo client's access policy ("botmon read-only") does not grant: reads and searches are 403.
FORBIDDEN_TYPES = frozenset({"Claim", "Coverage", "ExplanationOfBenefit"})
#: Types the demo answers reads for (besides Bot and AuditEvent, which the store holds itself).
READABLE_TYPES = frozenset(
    {
        "Binary",
        "ClientApplication",
        "Communication",
        "Cron",
        "DiagnosticReport",
        "DocumentReference",
        "Encounter",
        "MedicationRequest",
        "Observation",
        "Organization",
        "Patient",
        "Practitioner",
        "Project",
        "ProjectMembership",
        "QuestionnaireResponse",
        "Subscription",
        "Task",
    }
)
#: Inputs that may be deleted (410) or expunged (404) after their run.
_CHURN_TYPES = frozenset({"DiagnosticReport", "QuestionnaireResponse", "Observation", "MedicationRequest"})
_MINUTE_MS = 60_000
_DAY_MS = 86_400_000


_M64 = (1 << 64) - 1


def _digest(text: str) -> int:
    """64 well-mixed bits of ``text`` (CRC-32 spread by splitmix64's finalizer): cheap, deterministic."""
    n = (zlib.crc32(text.encode()) + 0x9E3779B97F4A7C15) & _M64
    n = ((n ^ (n >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    n = ((n ^ (n >> 27)) * 0x94D049BB133111EB) & _M64
    return n ^ (n >> 31)


def _pick(options: Sequence[T], h: int, shift: int) -> T:
    """An option chosen by some bits of a hash."""
    return options[(h >> shift) % len(options)]


def derived_uuid(text: str) -> str:
    """A version-4-shaped UUID derived from ``text`` (deterministic)."""
    n = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=16).digest(), "big")
    n = (n & ~(0xF << 76)) | (0x4 << 76)
    n = (n & ~(0x3 << 62)) | (0x2 << 62)
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# --------------------------------------------------------------------------------------------------
# Bodies
# --------------------------------------------------------------------------------------------------

_GIVEN = [
    ("Jane", "female"),
    ("Maria", "female"),
    ("Aisha", "female"),
    ("Zoë", "female"),
    ("Mei", "female"),
    ("Olga", "female"),
    ("Priya", "female"),
    ("Renée", "female"),
    ("John", "male"),
    ("José", "male"),
    ("Kwame", "male"),
    ("Liam", "male"),
    ("Dmitri", "male"),
    ("Hiroshi", "male"),
    ("Omar", "male"),
    ("Björn", "male"),
]
_FAMILY = [
    "Doe",
    "Garcia",
    "Okafor",
    "Nguyen",
    "Peña",
    "Müller",
    "Kowalski",
    "O'Brien",
    "Haddad",
    "Tanaka",
    "Johnson",
    "Mensah",
    "Novak",
    "Fitzgerald",
    "Ivanova",
    "Larsen",
]
_CITIES = [("Springfield", "IL", "62704"), ("Columbus", "OH", "43215"), ("Dayton", "OH", "45402")]
LAB_CODES = [
    ("24323-8", "Comprehensive metabolic panel"),
    ("58410-2", "CBC panel"),
    ("57698-3", "Lipid panel"),
    ("4548-4", "Hemoglobin A1c"),
    ("2160-0", "Creatinine"),
    ("94500-6", "SARS-CoV-2 RNA NAA+probe"),
]
_MEDICATIONS = [
    ("314076", "lisinopril 10 MG Oral Tablet"),
    ("860975", "metformin hydrochloride 500 MG Oral Tablet"),
    ("617312", "atorvastatin 20 MG Oral Tablet"),
    ("197361", "amlodipine 5 MG Oral Tablet"),
    ("312961", "simvastatin 20 MG Oral Tablet"),
    ("198211", "simvastatin 40 MG Oral Tablet"),
]
_QUESTIONNAIRES = [
    ("http://loinc.org/q/44249-1", "PHQ-9", 9),
    ("http://loinc.org/q/69737-5", "GAD-7", 7),
    ("http://loinc.org/q/72109-2", "AUDIT-C", 3),
]
GLUCOSE = ("2339-0", "Glucose [Mass/volume] in Blood")


@dataclass(slots=True)
class _Noted:
    """What the demo knows of one referenced resource."""

    created_ms: int
    updated_ms: int
    #: "ok", "deleted" (410) or "expunged" (404).
    state: str = "ok"
    deleted_ms: int = 0
    #: A stored body (Subscriptions, Crons, hand-made resources); None: written when read.
    body: JsonDict | None = None


class ResourceRegistry:
    """The referenced resources of the demo project (the store calls it under its lock)."""

    def __init__(self, seed: int, project_id: str, patients: Sequence[str], present_ms: int) -> None:
        self.seed = seed
        self.project_id = project_id
        self.patients = list(patients)
        self.present_ms = present_ms
        self._noted: dict[str, _Noted] = {}
        for ref in self.patients:
            h = self._hash(ref)
            created = present_ms - (30 + h % 3000) * _DAY_MS // 10
            updated = min(created + (h >> 20) % (5 * _DAY_MS), present_ms - _DAY_MS // 24)
            self._noted[ref] = _Noted(created, updated)

    def _hash(self, ref: str) -> int:
        return _digest(f"{self.seed}:{ref}")

    # ------------------------------------------------------------------ noting

    def note(self, ref: str, at_ms: int) -> str | None:
        """A run's input changed at ``at_ms`` (its trigger). Returns the entity's display.

        A churning input noted in the generated history (not later) may be deleted or expunged some
        minutes after its run, decided by a hash of the reference (about 3 % and 2 %).
        """
        noted = self._noted.get(ref)
        if noted is None:
            noted = _Noted(at_ms, at_ms)
            self._noted[ref] = noted
            rtype = ref.split("/", 1)[0]
            if rtype in _CHURN_TYPES and at_ms <= self.present_ms:
                roll = self._hash(ref) % 100
                if roll < 5:
                    noted.state = "deleted" if roll < 3 else "expunged"
                    later = at_ms + (2 + self._hash(ref + "#") % 90) * _MINUTE_MS
                    noted.deleted_ms = max(at_ms + 1000, min(later, self.present_ms - _MINUTE_MS))
        elif noted.state == "ok":
            noted.updated_ms = max(noted.updated_ms, at_ms)
        return self.display(ref)

    def add(self, resource: JsonDict, lu_ms: int) -> None:
        """Keep ``resource`` as it is (its ``meta`` is filled in here)."""
        ref = f"{resource['resourceType']}/{resource['id']}"
        body = dict(resource)
        given = dict(body.get("meta") or {})
        meta: JsonDict = {
            "project": given.pop("project", self.project_id),
            "versionId": derived_uuid(f"{ref}@{lu_ms}"),
            "lastUpdated": format_ms(lu_ms),
        }
        meta.update((k, v) for k, v in given.items() if k not in ("versionId", "lastUpdated"))
        body["meta"] = meta
        self._noted[ref] = _Noted(lu_ms, lu_ms, body=body)

    def delete(self, ref: str, at_ms: int, *, expunge: bool = False) -> None:
        """Delete a noted resource at ``at_ms`` (410 afterwards), or expunge it (404)."""
        noted = self._noted.get(ref)
        if noted is None:
            noted = _Noted(at_ms, at_ms)
            self._noted[ref] = noted
        noted.state = "expunged" if expunge else "deleted"
        noted.deleted_ms = max(at_ms, noted.updated_ms + 1)

    def state(self, ref: str) -> str:
        """``ok``, ``deleted``, ``expunged`` (as reads see it: 200, 410, 404), ``forbidden`` (403)
        or ``unknown`` (404)."""
        if ref.split("/", 1)[0] in FORBIDDEN_TYPES:
            return "forbidden"
        noted = self._noted.get(ref)
        return "unknown" if noted is None else noted.state

    # ------------------------------------------------------------------ reading

    def _lookup(self, rtype: str, ref: str) -> _Noted | tuple[int, JsonDict]:
        """What the demo knows of ``ref``, or why a read finds nothing: 403 (a type the demo client
        may not read, whatever the id), 404 (unknown, or expunged)."""
        if rtype in FORBIDDEN_TYPES:
            return 403, outcomes.FORBIDDEN
        noted = self._noted.get(ref)
        if noted is None or noted.state == "expunged":
            return 404, outcomes.NOT_FOUND
        return noted

    def read(self, rtype: str, rid: str) -> tuple[int, JsonDict]:
        """``(status, body)``: the resource (200) or the OperationOutcome (403, 404, 410)."""
        ref = f"{rtype}/{rid}"
        noted = self._lookup(rtype, ref)
        if isinstance(noted, tuple):
            return noted
        if noted.state == "deleted":
            return 410, outcomes.GONE
        return 200, self._body(ref, noted)

    def history(self, rtype: str, rid: str) -> tuple[int, list[Version] | JsonDict]:
        """``(200, versions newest first)`` or ``(status, OperationOutcome)``; a deleted resource
        has its deletion on top of its one version."""
        ref = f"{rtype}/{rid}"
        noted = self._lookup(rtype, ref)
        if isinstance(noted, tuple):
            return noted
        body = self._body(ref, noted)
        versions = [Version(body["meta"]["versionId"], noted.updated_ms, body)]
        if noted.state == "deleted":
            versions.insert(0, Version(derived_uuid(f"{ref}#deleted"), noted.deleted_ms, None))
        return 200, versions

    def subject(self, ref: str) -> str | None:
        """The Patient an input is about (its ``subject``), as its body names it; None if none."""
        if ref.split("/", 1)[0] not in _CHURN_TYPES or not self.patients:
            return None
        return self.patients[self._hash(ref) % len(self.patients)]

    def display(self, ref: str) -> str | None:
        """What ``createReference`` writes as the reference's ``display`` (None: none)."""
        noted = self._noted.get(ref)
        if noted is not None and noted.body is not None:
            return _display_of(noted.body)
        rtype = ref.partition("/")[0]
        h = self._hash(ref)
        if rtype == "Patient":
            given, family = self._name(h)
            return f"{given} {family}"
        if rtype == "DiagnosticReport":
            return _pick(LAB_CODES, h, 16)[1]
        if rtype == "Observation":
            return GLUCOSE[1]
        if rtype == "MedicationRequest":
            return _pick(_MEDICATIONS, h, 16)[1]
        return None

    # ------------------------------------------------------------------ bodies

    @staticmethod
    def _name(h: int) -> tuple[str, str]:
        return _pick(_GIVEN, h, 0)[0], _pick(_FAMILY, h, 8)

    def _meta(self, ref: str, noted: _Noted) -> JsonDict:
        return {
            "project": self.project_id,
            "versionId": derived_uuid(f"{ref}@{noted.updated_ms}"),
            "lastUpdated": format_ms(noted.updated_ms),
        }

    def _patient_of(self, ref: str) -> JsonDict:
        patient = self.subject(ref) or "Patient/unknown"
        return {"reference": patient, "display": self.display(patient)}

    def _body(self, ref: str, noted: _Noted) -> JsonDict:
        if noted.body is not None:
            return noted.body
        rtype, _, rid = ref.partition("/")
        h = self._hash(ref)
        body: JsonDict = {"resourceType": rtype, "id": rid, "meta": self._meta(ref, noted)}
        when = format_ms(noted.updated_ms)
        if rtype == "Patient":
            given, family = self._name(h)
            gender = next(g for name, g in _GIVEN if name == given)
            city, state, postal = _pick(_CITIES, h, 24)
            body.update(
                identifier=[
                    {
                        "system": "https://northside.example/fhir/mrn",
                        "value": f"MRN{1_000_000 + h % 9_000_000}",
                    }
                ],
                active=True,
                name=[{"given": [given], "family": family}],
                telecom=[{"system": "phone", "value": f"555-01{h % 100:02d}", "use": "mobile"}],
                gender=gender,
                birthDate=f"{1935 + h % 70}-{1 + (h >> 8) % 12:02d}-{1 + (h >> 16) % 28:02d}",
                address=[{"city": city, "state": state, "postalCode": postal}],
            )
        elif rtype == "DiagnosticReport":
            code, display = _pick(LAB_CODES, h, 16)
            body.update(
                status="final",
                category=[
                    {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}
                ],
                code={
                    "coding": [{"system": "http://loinc.org", "code": code, "display": display}],
                    "text": display,
                },
                subject=self._patient_of(ref),
                effectiveDateTime=format_ms(noted.created_ms - (30 + h % 600) * _MINUTE_MS),
                issued=format_ms(noted.created_ms),
                performer=[{"display": "Northside Hospital Laboratory"}],
                result=[
                    {"reference": f"Observation/{derived_uuid(f'{ref}/obs{i}')}"} for i in range(1 + h % 4)
                ],
            )
        elif rtype == "Observation":
            body.update(
                status="final",
                category=[
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                "code": "laboratory",
                            }
                        ]
                    }
                ],
                code={"coding": [{"system": "http://loinc.org", "code": GLUCOSE[0], "display": GLUCOSE[1]}]},
                subject=self._patient_of(ref),
                effectiveDateTime=when,
                valueQuantity={
                    "value": 70 + h % 160,
                    "unit": "mg/dL",
                    "system": "http://unitsofmeasure.org",
                    "code": "mg/dL",
                },
                device={"display": "Dexcom G7 (via the CGM gateway)"},
            )
        elif rtype == "MedicationRequest":
            code, display = _pick(_MEDICATIONS, h, 16)
            body.update(
                status="active",
                intent="order",
                medicationCodeableConcept={
                    "coding": [
                        {
                            "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                            "code": code,
                            "display": display,
                        }
                    ],
                    "text": display,
                },
                subject=self._patient_of(ref),
                authoredOn=when,
                dosageInstruction=[{"text": "1 tablet by mouth once daily"}],
                dispenseRequest={
                    "numberOfRepeatsAllowed": h % 4,
                    "quantity": {"value": 30, "unit": "tablet"},
                },
            )
        elif rtype == "QuestionnaireResponse":
            url, _name, items = _pick(_QUESTIONNAIRES, h, 16)
            body.update(
                questionnaire=url,
                status="completed",
                subject=self._patient_of(ref),
                authored=when,
                item=[
                    {"linkId": f"q{i + 1}", "answer": [{"valueInteger": (h >> (2 * i)) % 4}]}
                    for i in range(items)
                ],
            )
        else:
            body["status"] = "active"
        return body


def _display_of(body: JsonDict) -> str | None:
    """``getDisplayString`` for the stored bodies the demo holds (Subscriptions, Crons, ...)."""
    if body.get("resourceType") == "Subscription" and isinstance(body.get("criteria"), str):
        criteria: str = body["criteria"]
        return criteria
    name = body.get("name")
    return name if isinstance(name, str) else None
