"""The demo project: which bots exist, how often they run, and what they print.

Everything here is deterministic given a ``random.Random``. The console output imitates what real
Medplum bots print: short success logs, JavaScript stack traces on failure (AWS Lambda frames for
``awslambda`` bots, ``vm`` frames for ``vmcontext`` bots), chalk-style ANSI colours in one bot, raw HL7/MLLP
frames with control characters in an old bridge, and text that looks like Rich markup (``[/ZPD]``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BIG_BOT",
    "BOT_SPECS",
    "LOG_STYLES",
    "BotSpec",
    "RunContext",
    "extra_bot_spec",
]


@dataclass(frozen=True)
class BotSpec:
    """How a demo bot behaves. Only ``name`` .. ``destination`` end up in the Bot resource."""

    name: str
    description: str
    runtime: str = "awslambda"
    category: tuple[str, str] = ("integration", "Integration")
    timeout: int = 10
    cron: str | None = None
    cron_timing: dict[str, Any] | None = field(default=None, hash=False, compare=False)
    trigger: str | None = None
    destination: tuple[str, ...] | None = None
    #: Event-driven runs per hour at busy hours (history and live mode); 0 = only the cron schedule.
    rate_per_hour: float = 0.0
    #: Mean seconds between runs in live mode (None = the bot is not run by the live thread).
    live_interval_s: float | None = None
    fail_rate: float = 0.05
    #: Older server: ``type`` without system, ``agent`` without ``who``, outcomes 8 and 12.
    legacy: bool = False
    #: The resource type that triggers the bot (entity role 1/3/4), or None.
    input_type: str | None = None
    subscription: bool = False
    #: The Subscription's ``criteria`` (default: ``input_type``) and its supported interaction
    #: (``create``/``update``/``delete``; None: every one).
    criteria: str | None = None
    interaction: str | None = None
    duration_ms: tuple[int, int] = (80, 900)
    created_days_ago: float = 90.0
    updated_days_ago: float | None = None
    #: When the bot was deployed since its creation (days ago; default: ``updated_days_ago``).
    deploys_days_ago: tuple[float, ...] = ()
    #: Probability that a trigger is a burst of 2-4 runs stored in the same millisecond.
    burst_prob: float = 0.0
    logs: str = "generic"
    #: Who asks for the run: "integration" (a ClientApplication), "clinician" (a Practitioner), "cron".
    requestor: str = "integration"


@dataclass(slots=True)
class RunContext:
    """What a log generator may mention about one run."""

    bot_name: str
    runtime: str
    input_ref: str | None
    run_index: int
    special: str | None = None
    outcome: str = "0"


# --------------------------------------------------------------------------------------------------
# Stack traces
# --------------------------------------------------------------------------------------------------

_LAMBDA_TAIL = ["at async Runtime.handler (file:///var/runtime/index.mjs:1173:22)"]
_VM_TAIL = [
    "at Script.runInContext (node:vm:149:12)",
    "at runInContext (node:vm:301:6)",
    "at runInVmContext (/usr/src/medplum/packages/server/dist/bots/vmcontext.js:97:28)",
]


def _stack(ctx: RunContext, error: str, frames: list[str]) -> list[str]:
    if ctx.runtime == "vmcontext":
        own = [f.replace("/var/task/index.js", "evalmachine.<anonymous>") for f in frames]
        tail = _VM_TAIL
    else:
        own, tail = frames, _LAMBDA_TAIL
    return [error] + ["    " + f for f in own + tail]


_MEDPLUM_REQUEST = (
    "at MedplumClient.request (/var/task/node_modules/@medplum/core/dist/cjs/index.cjs:1:196824)"
)

# --------------------------------------------------------------------------------------------------
# Log styles: (rng, ok, ctx) -> console output joined with "\n"
# --------------------------------------------------------------------------------------------------

_CYAN, _GREEN, _RED, _YELLOW, _DIM, _RESET, _UNDIM = (
    "\x1b[36m",
    "\x1b[32m",
    "\x1b[31m",
    "\x1b[33m",
    "\x1b[2m",
    "\x1b[39m",
    "\x1b[22m",
)

_HL7_ERRORS = [
    (
        "Error: PID-3 (patient identifier list) is empty",
        ["at parsePid (/var/task/hl7/segments.js:88:13)", "at toPatient (/var/task/hl7/adt.js:41:22)"],
    ),
    (
        "Error: Unexpected segment [/ZPD] after PV1 (custom Z-segments are not mapped)",
        [
            "at readSegments (/var/task/hl7/parser.js:133:15)",
            "at parseMessage (/var/task/hl7/parser.js:57:10)",
        ],
    ),
    (
        "OperationOutcomeError: Precondition Failed",
        [_MEDPLUM_REQUEST, "at async upsertPatient (/var/task/index.js:77:5)"],
    ),
    (
        "TypeError: Cannot read properties of undefined (reading 'family')",
        ["at toHumanName (/var/task/hl7/adt.js:112:31)", "at toPatient (/var/task/hl7/adt.js:44:15)"],
    ),
]


def _hl7_logs(rng: random.Random, ok: bool, ctx: RunContext) -> str:
    msg_type = rng.choice(["A01", "A03", "A04", "A08", "A08", "A08", "A31"])
    sender = rng.choice(["EPIC-PROD", "CERNER-ED", "MEDITECH-RAD"])
    control = f"MSG{rng.randint(10_000_000, 99_999_999)}"
    lines = [f"{_CYAN}[hl7]{_RESET} Received ADT^{msg_type} {control} from {sender}"]
    if ok:
        lines.append(
            f"{_CYAN}[hl7]{_RESET} Matched {ctx.input_ref} (MRN {rng.randint(1_000_000, 9_999_999)})"
        )
        if rng.random() < 0.15:
            ward = rng.choice(["4W-ICU", "ED-HALL", "MAT-2", "ONC^B^12"])
            lines.append(
                f"{_YELLOW}⚠ PV1-3 location {ward} not in the location map; kept the raw value{_RESET}"
            )
        lines.append(f"{_GREEN}✔{_RESET} Updated {ctx.input_ref} in {rng.randint(40, 420)} ms")
    else:
        error, frames = rng.choice(_HL7_ERRORS)
        lines.append(f"{_RED}✖ {error}{_RESET}")
        lines.append(f"{_DIM}MSH|^~\\&|{sender}|HOSP|MEDPLUM|DEMO|{control}|ADT^{msg_type}|2.5.1{_UNDIM}")
        lines.extend(_stack(ctx, error, [*frames, "at Object.handler (/var/task/index.js:27:18)"]))
    return "\n".join(lines)


_LOINC = [
    ("24323-8", "Comprehensive metabolic panel"),
    ("58410-2", "CBC panel"),
    ("57698-3", "Lipid panel"),
    ("4548-4", "Hemoglobin A1c"),
    ("2160-0", "Creatinine"),
    ("94500-6", "SARS-CoV-2 RNA NAA+probe"),
]


def _lab_logs(rng: random.Random, ok: bool, ctx: RunContext) -> str:
    code, display = rng.choice(_LOINC)
    lines = [f"Routing {ctx.input_ref} (LOINC {code} {display})"]
    if ok:
        n = rng.randint(1, 18)
        lines.append(f"Result status: final; {n} observation{'s' if n != 1 else ''}")
        if rng.random() < 0.2:
            lines.append("Critical value flagged: notifying on-call via Communication")
        lines.append(f"Delivered to the ordering provider's inbox (Task/{_short(rng)})")
    else:
        kind = rng.random()
        if kind < 0.5:
            lines.extend(
                _stack(
                    ctx,
                    "TypeError: Cannot read properties of undefined (reading 'reference')",
                    [
                        "at findOrderingProvider (/var/task/routing.js:54:40)",
                        "at routeReport (/var/task/routing.js:21:24)",
                        "at Object.handler (/var/task/index.js:14:10)",
                    ],
                )
            )
        elif kind < 0.85:
            lines.append("Posting acknowledgement to the LIS")
            lines.extend(
                _stack(
                    ctx,
                    "FetchError: request to https://lis.example.org/api/v2/ack failed, "
                    "reason: connect ETIMEDOUT 10.12.4.21:443",
                    [
                        "at ClientRequest.<anonymous> (/var/task/node_modules/node-fetch/lib/index.js:1505:11)",  # noqa: E501
                        "at ClientRequest.emit (node:events:519:28)",
                        "at TLSSocket.socketErrorListener (node:_http_client:500:9)",
                    ],
                )
            )
        else:
            lines.extend(
                _stack(
                    ctx,
                    "OperationOutcomeError: Forbidden",
                    [_MEDPLUM_REQUEST, "at async createCommunication (/var/task/routing.js:88:3)"],
                )
            )
    return "\n".join(lines)


_PAYERS = ["AETNA", "BCBS-IL", "CIGNA", "HUMANA", "MEDICARE-B", "MEDICAID-OH", "UHC", "KAISER", "ANTHEM"]


def _claims_logs(rng: random.Random, ok: bool, ctx: RunContext) -> str:
    day = f"{rng.choice(['2025-03-11', '2025-03-12', '2025-03-13'])}"
    batches = rng.randint(18, 44)
    lines = [f"Exporting claims for service date {day} (batch size 500)"]
    verbose = ctx.special == "verbose"
    for i in range(1, batches + 1):
        size = 500 if i < batches else rng.randint(20, 499)
        lines.append(
            f"  batch {i:03d}/{batches:03d}: {size} claims -> s3://claims-export/{day}/part-{i:03d}.x12"
            f" ({rng.randint(600, 1900) / 1000:.1f} MB)"
        )
        if verbose:
            for payer in _PAYERS:
                lines.append(
                    f"    payer {payer:<12} claims={rng.randint(10, 90):>3} "
                    f"billed=${rng.randint(2_000, 90_000):>6}.{rng.randint(0, 99):02d}"
                )
    if ok:
        lines.append(f"Uploaded {batches} files to sftp://edi.clearinghouse.example.com/inbound/")
        lines.append(f"Done in {rng.randint(38, 95)} s")
    else:
        lines.append("Uploading to sftp://edi.clearinghouse.example.com/inbound/")
        lines.extend(
            _stack(
                ctx,
                "Error: SFTP upload failed: 553 Permission denied (inbound/ is read-only until 02:30 UTC)",
                [
                    "at SftpClient.put (/var/task/node_modules/ssh2-sftp-client/src/index.js:729:19)",
                    "at async uploadAll (/var/task/export.js:141:7)",
                    "at async Object.handler (/var/task/index.js:33:3)",
                ],
            )
        )
    return "\n".join(lines)


def _welcome_logs(rng: random.Random, ok: bool, ctx: RunContext) -> str:
    if ok:
        if rng.random() < 0.35:
            return ""  # no email on file: the bot returns without logging anything
        user = rng.choice(["j", "m", "a", "s", "k", "r", "t"])
        domain = rng.choice(["gmail.com", "outlook.com", "yahoo.com", "icloud.com"])
        locale = rng.choice(["en", "es"])
        return f"Sent welcome email to {user}***@{domain} (template welcome-v3, locale {locale})"
    return "\n".join(
        [
            f"Sending welcome email for {ctx.input_ref}",
            *_stack(
                ctx,
                "Error: SendGrid responded 429: too many requests, retry after 60 s",
                ["at sendEmail (/var/task/index.js:61:11)", "at async handler (/var/task/index.js:19:3)"],
            ),
        ]
    )


def _eligibility_logs(rng: random.Random, ok: bool, ctx: RunContext) -> str:
    payer = rng.choice(_PAYERS)
    if ok:
        return f"270/271 eligibility for {ctx.input_ref} with {payer}: active coverage"
    reason = rng.choice(
        [
            "Error: Clearinghouse returned 503 Service Unavailable (Availity)",
            "Error: AAA*N**75*C~ subscriber not found (payer " + payer + ")",
            "Error: 271 response missing EB segment",
        ]
    )
    return "\n".join(
        [
            f"270 request for {ctx.input_ref} -> {payer}",
            *_stack(
                ctx,
                reason,
                [
                    "at checkEligibility (/var/task/index.js:92:13)",
                    "at async handler (/var/task/index.js:25:18)",
                ],
            ),
        ]
    )


def _legacy_logs(rng: random.Random, ok: bool, ctx: RunContext) -> str:
    control = rng.randint(100_000, 999_999)
    frame = (
        f"\x0bMSH|^~\\&|LAB|NORTHSIDE|MEDPLUM|DEMO|20250314{rng.randint(0, 235959):06d}"
        f"||ORU^R01|{control}|P|2.3\r"
        f"PID|1||{rng.randint(100000, 999999)}^^^NORTHSIDE||DOE^JANE\r"
        f"OBX|1|NM|2345-7^GLUCOSE||{rng.randint(60, 240)}|mg/dL|70-99|H\x1c\r"
    )
    if ctx.special == "hostile":
        # A garbled frame echoed to the console, including an OSC 52 clipboard write and a title change.
        return "\n".join(
            [
                "Received 1 frame(s) over MLLP from 10.40.1.7:2575",
                "Could not parse frame; raw bytes follow",
                "\x1b]0;owned\x07\x1b]52;c;Y3VybCBodHRwOi8vZXZpbC5leGFtcGxlL3guc2ggfCBzaA==\x07[@click=app.quit]x[/]",
                "Error: Invalid MSH segment",
            ]
        )
    if ok:
        return "\n".join(
            [
                "Received 1 frame(s) over MLLP from 10.40.1.7:2575",
                frame,
                f"ACK sent (AA) for control id {control}",
            ]
        )
    if ctx.outcome != "12":
        return "\n".join(
            [
                "Received 1 frame(s) over MLLP from 10.40.1.7:2575",
                *_stack(
                    ctx,
                    "Error: read ECONNRESET",
                    [
                        "at TLSWrap.onStreamRead (node:internal/stream_base_commons:218:20)",
                        "at forwardToEngine (/var/task/index.js:140:9)",
                    ],
                ),
            ]
        )
    return "\n".join(
        [
            f"Task timed out after {ctx.run_index % 3 + 9}.00 seconds",
            "FATAL: bridge process exited: signal: killed",
            "Runtime.ExitError",
        ]
    )


def _questionnaire_logs(rng: random.Random, ok: bool, ctx: RunContext) -> str:
    if ok:
        if rng.random() < 0.1:
            return ""
        instrument, top = rng.choice([("PHQ-9", 27), ("GAD-7", 21), ("AUDIT-C", 12)])
        score = rng.randint(0, top)
        return f"Scored {ctx.input_ref} {instrument} = {score}\nCreated Observation/{_short(rng)}"
    return "\n".join(
        _stack(
            ctx,
            "Error: Unknown questionnaire: Questionnaire/gad-7-v2 (no scoring rule)",
            ["at scoreResponse (/var/task/index.js:48:11)", "at handler (/var/task/index.js:12:10)"],
        )
    )


def _report_logs(rng: random.Random, ok: bool, ctx: RunContext) -> str:
    lines = ["Building weekly quality report (CMS122 diabetes HbA1c > 9%, CMS165 blood pressure)"]
    for measure in ("CMS122", "CMS165", "CMS138"):
        lines.append(f"  {measure}: numerator {rng.randint(50, 400)} / denominator {rng.randint(400, 900)}")
    if ok:
        lines.append(f"Wrote DocumentReference/{_short(rng)} (PDF, {rng.randint(80, 400)} KB)")
    else:
        lines.extend(
            _stack(ctx, "RangeError: Invalid time value", ["at formatPeriod (/var/task/report.js:17:22)"])
        )
    return "\n".join(lines)


def _generic_logs(rng: random.Random, ok: bool, ctx: RunContext) -> str:
    if ok:
        return rng.choice(
            [
                f"Processed {rng.randint(1, 40)} resources",
                "OK",
                f"Synced {rng.randint(1, 12)} records in {rng.randint(20, 900)} ms",
                "Nothing to do",
            ]
        )
    return "\n".join(
        _stack(
            ctx,
            rng.choice(
                [
                    "Error: Request failed with status code 500",
                    "TypeError: fetch failed",
                    "Error: Missing required setting API_KEY",
                ]
            ),
            ["at handler (/var/task/index.js:12:11)"],
        )
    )


#: Medplum keeps the last 10 KiB of a run's console output in ``outcomeDesc``.
LOG_CAP_BYTES = 10 * 1024


def bulk_log(seq: int, ok: bool, typical_bytes: int = 0) -> str:
    """The bulk importer's output, computed from the event's sequence number (no stored string).

    ``typical_bytes`` 0: one line (or a short stack trace). Otherwise realistic sizes around it:
    half the runs log ``typical/4..typical``, a third up to 3x, one in eight up to 6x, and 3 %
    fill Medplum's 10 KiB cap (only the tail is kept, as the server does).
    """
    h = (seq * 2_654_435_761) & 0xFFFFFFFF
    batch = 10_000 + seq % 90_000
    if ok:
        last = f"Imported batch {batch}: {200 + h % 300} rows (skipped {h % 7}) in {40 + h % 900} ms"
    else:
        last = "\n".join(
            [
                f"Importing batch {batch}",
                f"Error: CSV parse error at line {1 + h % 499}: unterminated quoted field",
                "    at Parser.__onRow (/var/task/node_modules/csv-parse/dist/cjs/index.cjs:955:16)",
                "    at async Runtime.handler (file:///var/runtime/index.mjs:1173:22)",
            ]
        )
    if typical_bytes <= 0:
        return last
    roll = h % 100
    spread = 1 + (h >> 8) % 1000
    if roll < 50:
        target = typical_bytes // 4 + (typical_bytes * 3 // 4) * spread // 1000
    elif roll < 85:
        target = typical_bytes + 2 * typical_bytes * spread // 1000
    elif roll < 97:
        target = 3 * typical_bytes + 3 * typical_bytes * spread // 1000
    else:
        target = LOG_CAP_BYTES + 1
    target = min(target, LOG_CAP_BYTES + 1)
    lines = [f"Importing batch {batch} from s3://lake-drop/batches/{batch}.csv"]
    size = len(lines[0]) + 1 + len(last)
    row = 0
    while size < target:
        row += 1
        g = (h + row * 40_503) & 0xFFFF
        line = (
            f"row {row}: Patient/{g:04x}{seq & 0xFFFF:04x}-{row:04x} upserted"
            f" (Observation x{1 + g % 9}, {3 + g % 60} ms)"
        )
        lines.append(line)
        size += len(line) + 1
    lines.append(last)
    return "\n".join(lines)[-LOG_CAP_BYTES:]  # ASCII: characters are bytes


def _short(rng: random.Random) -> str:
    a, b, c, d, e = (rng.getrandbits(n) for n in (32, 16, 12, 12, 48))
    return f"{a:08x}-{b:04x}-4{c:03x}-a{d:03x}-{e:012x}"


LogStyle = Callable[[random.Random, bool, RunContext], str]

LOG_STYLES: dict[str, LogStyle] = {
    "hl7": _hl7_logs,
    "lab": _lab_logs,
    "claims": _claims_logs,
    "welcome": _welcome_logs,
    "eligibility": _eligibility_logs,
    "legacy": _legacy_logs,
    "questionnaire": _questionnaire_logs,
    "report": _report_logs,
    "generic": _generic_logs,
}

# --------------------------------------------------------------------------------------------------
# The project
# --------------------------------------------------------------------------------------------------

BOT_SPECS: tuple[BotSpec, ...] = (
    BotSpec(
        name="hl7-adt-ingest",
        description="Turns inbound HL7v2 ADT messages from the interface engine into Patient updates.",
        category=("integration", "Integration"),
        timeout=30,
        rate_per_hour=20.0,
        live_interval_s=4.0,
        fail_rate=0.05,
        input_type="Patient",
        subscription=True,
        duration_ms=(120, 1400),
        destination=("resource", "log"),
        burst_prob=0.04,
        logs="hl7",
        created_days_ago=410,
        updated_days_ago=3.2,
    ),
    BotSpec(
        name="lab-results-router",
        description="Routes final DiagnosticReports to the ordering provider and acknowledges the LIS.",
        category=("integration", "Integration"),
        timeout=20,
        trigger="always",
        destination=("resource",),
        rate_per_hour=10.0,
        live_interval_s=8.0,
        fail_rate=0.09,
        input_type="DiagnosticReport",
        subscription=True,
        duration_ms=(200, 2500),
        logs="lab",
        created_days_ago=300,
    ),
    BotSpec(
        name="daily-claims-export",
        description="Exports yesterday's claims as X12 837 files and uploads them to the clearinghouse.",
        category=("billing", "Billing"),
        timeout=900,
        cron="0 2 * * *",
        fail_rate=0.2,
        duration_ms=(38_000, 95_000),
        logs="claims",
        requestor="cron",
        created_days_ago=220,
    ),
    BotSpec(
        name="patient-welcome-email",
        description="Sends a welcome email to newly registered patients (logs only when it sends something).",
        runtime="vmcontext",
        category=("engagement", "Patient engagement"),
        trigger="on-output",
        rate_per_hour=2.5,
        live_interval_s=25.0,
        fail_rate=0.04,
        input_type="Patient",
        subscription=True,
        duration_ms=(60, 600),
        logs="welcome",
        created_days_ago=120,
    ),
    BotSpec(
        name="eligibility-check",
        description="Runs a 270/271 eligibility check when Coverage changes; audits failures only.",
        category=("billing", "Billing"),
        trigger="on-error",
        rate_per_hour=6.0,
        live_interval_s=9.0,
        fail_rate=0.1,
        input_type="Coverage",
        subscription=True,
        duration_ms=(400, 4000),
        logs="eligibility",
        created_days_ago=160,
    ),
    BotSpec(
        name="appointment-reminders",
        description="Texts tomorrow's appointment reminders every 15 minutes; audits to the server log only.",
        runtime="vmcontext",
        category=("engagement", "Patient engagement"),
        cron="*/15 * * * *",
        destination=("log",),
        fail_rate=0.03,
        duration_ms=(300, 3000),
        logs="generic",
        requestor="cron",
        created_days_ago=75,
    ),
    BotSpec(
        name="stale-task-cleanup",
        description="Closes Tasks untouched for 30 days. Hourly; AuditEvents switched off to save storage.",
        category=("maintenance", "Maintenance"),
        cron="0 * * * *",
        trigger="never",
        fail_rate=0.02,
        duration_ms=(500, 6000),
        logs="generic",
        requestor="cron",
        created_days_ago=200,
    ),
    BotSpec(
        name="legacy-hl7-bridge",
        description="Old MLLP bridge to the Northside lab; still on the older server's audit format.",
        runtime="vmcontext",
        category=("integration", "Integration"),
        cron_timing={"repeat": {"period": 30, "periodUnit": "min"}},
        rate_per_hour=2.0,
        live_interval_s=20.0,
        fail_rate=0.18,
        legacy=True,
        duration_ms=(150, 9500),
        logs="legacy",
        requestor="cron",
        created_days_ago=900,
    ),
    BotSpec(
        name="sms-opt-out-handler",
        description="Handles STOP/START replies from the SMS gateway. New; not deployed yet.",
        category=("engagement", "Patient engagement"),
        fail_rate=0.0,
        logs="generic",
        created_days_ago=0.08,
    ),
    BotSpec(
        name="questionnaire-scorer",
        description="Scores PHQ-9, GAD-7 and AUDIT-C QuestionnaireResponses into Observations.",
        category=("clinical", "Clinical"),
        rate_per_hour=1.5,
        live_interval_s=30.0,
        fail_rate=0.04,
        input_type="QuestionnaireResponse",
        subscription=True,
        duration_ms=(50, 400),
        logs="questionnaire",
        requestor="clinician",
        created_days_ago=45,
        updated_days_ago=1.5,
    ),
    BotSpec(
        name="weekly-quality-report",
        description="Builds the weekly quality-measure PDF on Monday mornings.",
        category=("reporting", "Reporting"),
        timeout=300,
        cron="0 6 * * 1",
        fail_rate=0.1,
        duration_ms=(20_000, 60_000),
        logs="report",
        requestor="cron",
        created_days_ago=365,
    ),
)

#: Bot added when ``DemoConfig.big_bot_events`` > 0 (its events are generated compactly).
BIG_BOT = BotSpec(
    name="bulk-importer",
    description="Imports CSV batches from the data-lake drop; very chatty (benchmarks).",
    category=("integration", "Integration"),
    timeout=60,
    live_interval_s=15.0,
    fail_rate=0.03,
    duration_ms=(40, 900),
    logs="bulk",
    created_days_ago=30,
)

_EXTRA_TEAMS = ["ops", "rcm", "care", "lab", "rx", "intake", "hie", "billing", "portal", "analytics"]
_EXTRA_VERBS = [
    "sync",
    "notify",
    "export",
    "import",
    "reconcile",
    "score",
    "route",
    "archive",
    "dedupe",
    "audit",
]


def extra_bot_spec(index: int, rng: random.Random) -> BotSpec:
    """One of the generated bots of ``DemoConfig.extra_bots`` (cheap: few runs each)."""
    team = _EXTRA_TEAMS[index % len(_EXTRA_TEAMS)]
    verb = _EXTRA_VERBS[(index // len(_EXTRA_TEAMS)) % len(_EXTRA_VERBS)]
    roll = rng.random()
    cron = None
    rate = 0.0
    trigger = None
    destination: tuple[str, ...] | None = None
    if roll < 0.25:
        cron = f"{rng.randint(0, 59)} {rng.randint(0, 23)} * * *"
    elif roll < 0.35:
        cron = f"{rng.randint(0, 59)} */{rng.choice([4, 6, 8, 12])} * * *"
    else:
        rate = rng.choice([0.05, 0.1, 0.2, 0.3, 0.5])
    if rng.random() < 0.05:
        trigger = rng.choice(["on-error", "never", "on-output"])
    if rng.random() < 0.03:
        destination = ("log",)
    return BotSpec(
        name=f"{team}-{verb}-{index:04d}",
        description=f"Generated bot #{index} ({team} team).",
        runtime="vmcontext" if rng.random() < 0.3 else "awslambda",
        category=(team, team.upper()),
        cron=cron,
        trigger=trigger,
        destination=destination,
        rate_per_hour=rate,
        fail_rate=rng.choice([0.0, 0.02, 0.05, 0.1, 0.3]),
        duration_ms=(50, 2000),
        logs="generic",
        requestor="cron" if cron else "integration",
        created_days_ago=rng.uniform(1, 500),
    )
