"""An embedded Medplum-compatible backend with a seeded demo project (standard library only).

Used by ``botmon-tui --demo``, ``botmon-tui demo-server``, the integration tests and the benchmarks::

    from botmon_tui.demo import DemoServer, DemoConfig

    with DemoServer(DemoConfig(seed=42, live=False)) as srv:
        srv.base_url                       # http://127.0.0.1:PORT/  (FHIR base: base_url + "fhir/R4/")
        srv.client_id, srv.client_secret   # client-credentials login (also accepted as HTTP Basic)
        srv.store.add_event(bot_id, outcome="4", desc="boom")
        srv.faults.add(status=503, count=2, path_contains="/fhir/")
        srv.requests                       # [(method, path_with_query, status, response_bytes), ...]

The behaviour follows Medplum's server (checked against its source): token endpoint errors, 401 with
``Token expired``, ``RateLimit`` headers and the exact 429, search parameters and their errors, ``_count``
and ``_offset`` limits, Bundle links with cursor paging, and AuditEvents shaped like the ones Medplum writes
after a bot run::

    {"resourceType": "AuditEvent", "id": "...",
     "meta": {"project": "...", "versionId": "...", "lastUpdated": "2025-03-14T09:26:54.120Z"},
     "type": {"system": "https://medplum.com/CodeSystem/audit-event", "code": "execute"},
     "period": {"start": "...", "end": "..."}, "recorded": "...",
     "agent": [{"who": {"reference": "ClientApplication/..."}, "requestor": true},
               {"who": {"reference": "Bot/<id>", "display": "<name>"}, "requestor": false}],
     "source": {"observer": {"reference": "Bot/<id>", "display": "<name>"}},
     "entity": [{"what": {"reference": "Bot/<id>", ...}, "role": {"code": "4", "display": "Domain"}},
                {"what": {"reference": "Patient/...", "display": "Jane Doe"}, "role": {"code": "1", ...}},
                {"what": {"reference": "Subscription/...", "display": "<criteria>"}, "role": {"code": "9"}}],
     "outcome": "4", "outcomeDesc": "the runtime's log (Lambda or vmcontext), its last 10,240 characters",
     "extension": [{"url": "https://medplum.com/fhir/StructureDefinition/tracing",
                    "extension": [{"url": "requestId", "valueId": "..."},
                                  {"url": "traceId", "valueId": "..."}]}]}

Also: ``GET <fhir>Bot/<id>/_history`` (every version; ``srv.store.deploy_bot(bot_id, at)`` makes a
deploy), ``GET <fhir><Type>/<id>`` of the runs' inputs and Subscriptions (403, 404, 410 too), and the
stories of ``catalog.py`` (incidents, silence, deploys) relative to the demo's "now".

This package never imports Textual or httpx.
"""

from botmon_tui.demo.config import DemoConfig
from botmon_tui.demo.faults import Fault, Faults
from botmon_tui.demo.server import DemoServer, RecordedRequest, serve_forever
from botmon_tui.demo.store import DemoStore

__all__ = ["DemoConfig", "DemoServer", "DemoStore", "Fault", "Faults", "RecordedRequest", "serve_forever"]
