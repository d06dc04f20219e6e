"""What the demo's bots print: one :class:`~botmon_tui.demo.runtime.Output` a run.

Each style is ``(rng, ctx) -> Output``: the ``console.*`` calls of a run of that bot and how the run
ended (:mod:`.runtime` writes them as the bot's runtime and Medplum do). The text imitates what real
Medplum bots print: short success logs, errors thrown from the bot's own bundled code, chalk-style
ANSI colours, raw HL7/MLLP frames with control characters, text that looks like Rich markup
(``[/ZPD]``), patient names with accents (which a Lambda log mangles: Medplum decodes it as 7-bit
ASCII). Everything is deterministic given the ``random.Random``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from botmon_tui.demo.resources import LAB_CODES, derived_uuid
from botmon_tui.demo.runtime import Output, Thrown, render

__all__ = ["LOG_STYLES", "LogStyle", "RunContext", "RunLog", "empi_outage", "short_id"]


@dataclass(slots=True)
class RunContext:
    """What a log style may mention about one run, and how the run must end."""

    bot_name: str
    runtime: str
    input_ref: str | None
    run_index: int
    special: str | None = None
    #: The outcome code decided for the run ("0" succeeds).
    outcome: str = "0"
    #: How a failed run fails: "crash" (an uncaught error) or "timeout"; None when it succeeds.
    failure: str | None = None
    #: The error a story decided (instead of one of the style's own).
    thrown: Thrown | None = None
    #: The input's display (a Patient's name), as the AuditEvent writes it.
    input_display: str | None = None
    #: The Patient the input is about (the input itself, or its subject).
    patient_ref: str | None = None


def short_id(rng: random.Random) -> str:
    a, b, c, d, e = (rng.getrandbits(n) for n in (32, 16, 12, 12, 48))
    return f"{a:08x}-{b:04x}-4{c:03x}-a{d:03x}-{e:012x}"


_CYAN, _GREEN, _RED, _YELLOW, _DIM, _RESET, _UNDIM = (
    "\x1b[36m",
    "\x1b[32m",
    "\x1b[31m",
    "\x1b[33m",
    "\x1b[2m",
    "\x1b[39m",
    "\x1b[22m",
)
#: A frame of ``@medplum/core`` bundled into the bot.
_MEDPLUM_REQUEST = "at MedplumClient.request ({file}:48211:13)"
_TICKS = "at process.processTicksAndRejections (node:internal/process/task_queues:105:5)"


def _failed(ctx: RunContext, output: Output, own: Thrown) -> Output:
    """End ``output`` as the run must: the story's error or ``own``, or a timeout."""
    if ctx.failure == "timeout":
        output.timed_out = True
    else:
        output.thrown = ctx.thrown or own
    return output


def empi_outage(patient_ref: str) -> Thrown:
    """The master patient index's outage (#16's "one cause across bots"): the same shared client,
    the same frames, a different Patient each time."""
    return Thrown(
        "Error",
        f"EMPI lookup failed: status code 503 for {patient_ref}",
        (
            "at EmpiClient.match ({file}:812:11)",
            _TICKS,
            "at async resolvePatient ({file}:1603:18)",
        ),
    )


# --------------------------------------------------------------------------------------------------
# Styles
# --------------------------------------------------------------------------------------------------

_HL7_ERRORS = [
    Thrown(
        "Error",
        "PID-3 (patient identifier list) is empty",
        (
            "at parsePid ({file}:2211:13)",
            "at toPatient ({file}:1841:22)",
            "at Object.handler ({file}:1527:18)",
        ),
    ),
    Thrown(
        "Error",
        "Unexpected segment [/ZPD] after PV1 (custom Z-segments are not mapped)",
        ("at readSegments ({file}:1933:15)", "at parseMessage ({file}:1857:10)"),
    ),
    Thrown(
        "OperationOutcomeError",
        "Precondition Failed",
        (_MEDPLUM_REQUEST, _TICKS, "at async upsertPatient ({file}:1577:5)"),
    ),
    Thrown(
        "TypeError",
        "Cannot read properties of undefined (reading 'family')",
        ("at toHumanName ({file}:1912:31)", "at toPatient ({file}:1844:15)"),
    ),
]


def _hl7(rng: random.Random, ctx: RunContext) -> Output:
    msg_type = rng.choice(["A01", "A03", "A04", "A08", "A08", "A08", "A31"])
    sender = rng.choice(["EPIC-PROD", "CERNER-ED", "MEDITECH-RAD"])
    control = f"MSG{rng.randint(10_000_000, 99_999_999)}"
    out = Output()
    out.log(f"{_CYAN}[hl7]{_RESET} Received ADT^{msg_type} {control} from {sender}")
    if ctx.failure is None:
        out.log(f"{_CYAN}[hl7]{_RESET} Matched {ctx.input_ref} (MRN {rng.randint(1_000_000, 9_999_999)})")
        if rng.random() < 0.15:
            ward = rng.choice(["4W-ICU", "ED-HALL", "MAT-2", "ONC^B^12"])
            out.log(
                f"{_YELLOW}PV1-3 location {ward} not in the location map; kept the raw value{_RESET}", "WARN"
            )
        if msg_type == "A08" and ctx.input_display and rng.random() < 0.3:
            out.log(f"{_CYAN}[hl7]{_RESET} Name on file: {ctx.input_display}")
        out.log(f"{_GREEN}[hl7] Updated{_RESET} {ctx.input_ref} in {rng.randint(40, 420)} ms")
        return out
    if ctx.thrown is not None:  # a story's error: thrown before the message is looked at
        return _failed(ctx, out, ctx.thrown)
    out.log(f"{_RED}[hl7] Rejecting {control}{_RESET}", "ERROR")
    out.log(f"{_DIM}MSH|^~\\&|{sender}|HOSP|MEDPLUM|DEMO|{control}|ADT^{msg_type}|2.5.1{_UNDIM}", "ERROR")
    return _failed(ctx, out, rng.choice(_HL7_ERRORS))


def _lab(rng: random.Random, ctx: RunContext) -> Output:
    code, display = next((c for c in LAB_CODES if c[1] == ctx.input_display), rng.choice(LAB_CODES))
    out = Output()
    out.log(f"Routing {ctx.input_ref} (LOINC {code} {display})")
    if ctx.thrown is not None:
        return _failed(ctx, out, ctx.thrown)
    if ctx.failure is None:
        n = rng.randint(1, 18)
        out.log(f"Result status: final; {n} observation{'s' if n != 1 else ''}")
        if rng.random() < 0.2:
            out.log("Critical value flagged: notifying on-call via Communication", "WARN")
        out.log(f"Delivered to the ordering provider's inbox (Task/{short_id(rng)})")
        return out
    kind = rng.random()
    if kind < 0.6:
        out.log("Posting acknowledgement to the LIS")
        own = Thrown(
            "FetchError",
            "request to https://lis.example.org/api/v2/ack failed, reason: connect ETIMEDOUT 10.12.4.21:443",
            (
                "at ClientRequest.<anonymous> ({file}:31505:11)",
                "at ClientRequest.emit (node:events:519:28)",
                "at TLSSocket.socketErrorListener (node:_http_client:500:9)",
            ),
        )
    else:
        own = Thrown(
            "OperationOutcomeError",
            "Forbidden",
            (_MEDPLUM_REQUEST, _TICKS, "at async createCommunication ({file}:1388:3)"),
        )
    return _failed(ctx, out, own)


#: lab-results-router's regression after its deploy 35 minutes before "now" (#18).
LAB_REGRESSION = Thrown(
    "TypeError",
    "Cannot read properties of undefined (reading 'coding')",
    (
        "at mapPerformerRole ({file}:1342:40)",
        "at findOrderingProvider ({file}:1318:24)",
        "at Object.handler ({file}:1290:10)",
    ),
)

_PAYERS = ["AETNA", "BCBS-IL", "CIGNA", "HUMANA", "MEDICARE-B", "MEDICAID-OH", "UHC", "KAISER", "ANTHEM"]


def _claims(rng: random.Random, ctx: RunContext) -> Output:
    day = rng.choice(["2025-03-11", "2025-03-12", "2025-03-13"])
    batches = rng.randint(18, 44)
    out = Output()
    out.log(f"Exporting claims for service date {day} (batch size 500)")
    for i in range(1, batches + 1):
        size = 500 if i < batches else rng.randint(20, 499)
        out.log(
            f"  batch {i:03d}/{batches:03d}: {size} claims -> s3://claims-export/{day}/part-{i:03d}.x12"
            f" ({rng.randint(600, 1900) / 1000:.1f} MB)"
        )
        for payer in _PAYERS:
            out.log(
                f"    payer {payer:<12} claims={rng.randint(10, 90):>3} "
                f"billed=${rng.randint(2_000, 90_000):>6}.{rng.randint(0, 99):02d}",
                "DEBUG",
            )
    if ctx.failure is None:
        out.log(f"Uploaded {batches} files to sftp://edi.clearinghouse.example.com/inbound/")
        out.log(f"Done in {rng.randint(38, 95)} s")
        return out
    out.log("Uploading to sftp://edi.clearinghouse.example.com/inbound/")
    own = Thrown(
        "Error",
        "SFTP upload failed: 553 Permission denied (inbound/ is read-only until 02:30 UTC)",
        ("at SftpClient.put ({file}:22729:19)", _TICKS, "at async uploadAll ({file}:1441:7)"),
    )
    return _failed(ctx, out, own)


def _welcome(rng: random.Random, ctx: RunContext) -> Output:
    out = Output()
    if ctx.failure is None:
        if rng.random() < 0.35:
            return out  # no email on file: the bot returns without logging anything
        user = rng.choice(["j", "m", "a", "s", "k", "r", "t"])
        domain = rng.choice(["gmail.com", "outlook.com", "yahoo.com", "icloud.com"])
        locale = rng.choice(["en", "es"])
        out.log(f"Sent welcome email to {user}***@{domain} (template welcome-v3, locale {locale})")
        return out
    out.log(f"Sending welcome email for {ctx.input_ref}")
    own = Thrown(
        "Error",
        "SendGrid responded 429: too many requests, retry after 60 s",
        ("at sendEmail ({file}:61:11)", _TICKS, "at async handler ({file}:19:3)"),
    )
    return _failed(ctx, out, own)


def _eligibility(rng: random.Random, ctx: RunContext) -> Output:
    payer = rng.choice(_PAYERS)
    out = Output()
    if ctx.failure is None:
        out.log(f"270/271 eligibility for {ctx.input_ref} with {payer}: active coverage")
        return out
    out.log(f"270 request for {ctx.input_ref} -> {payer}")
    message = rng.choice(
        [
            "Clearinghouse returned 503 Service Unavailable (Availity)",
            f"AAA*N**75*C~ subscriber not found (payer {payer})",
            "271 response missing EB segment",
        ]
    )
    own = Thrown(
        "Error", message, ("at checkEligibility ({file}:892:13)", _TICKS, "at async handler ({file}:825:18)")
    )
    return _failed(ctx, out, own)


def _legacy(rng: random.Random, ctx: RunContext) -> Output:
    """An MLLP bridge on an older Medplum server: its logs are kept as that server wrote them."""
    control = rng.randint(100_000, 999_999)
    frame = (
        f"\x0bMSH|^~\\&|LAB|NORTHSIDE|MEDPLUM|DEMO|20250314{rng.randint(0, 235959):06d}"
        f"||ORU^R01|{control}|P|2.3\r"
        f"PID|1||{rng.randint(100000, 999999)}^^^NORTHSIDE||DOE^JANE\r"
        f"OBX|1|NM|2345-7^GLUCOSE||{rng.randint(60, 240)}|mg/dL|70-99|H\x1c\r"
    )
    received = "Received 1 frame(s) over MLLP from 10.40.1.7:2575"
    if ctx.special == "hostile":
        # A garbled frame echoed to the console, including an OSC 52 clipboard write and a title change.
        lines = [
            received,
            "Could not parse frame; raw bytes follow",
            "\x1b]0;owned\x07\x1b]52;c;Y3VybCBodHRwOi8vZXZpbC5leGFtcGxlL3guc2ggfCBzaA==\x07[@click=app.quit]x[/]",
            "Error: Invalid MSH segment",
        ]
    elif ctx.outcome == "0":
        lines = [received, frame, f"ACK sent (AA) for control id {control}"]
    elif ctx.outcome != "12":
        lines = [
            received,
            "Error: read ECONNRESET",
            "    at TLSWrap.onStreamRead (node:internal/stream_base_commons:218:20)",
            "    at forwardToEngine (evalmachine.<anonymous>:140:9)",
            "    at Script.runInContext (node:vm:149:12)",
        ]
    else:
        lines = [
            f"Task timed out after {ctx.run_index % 3 + 9}.00 seconds",
            "FATAL: bridge process exited: signal: killed",
            "Runtime.ExitError",
        ]
    return Output(raw="\n".join(lines))


def _questionnaire(rng: random.Random, ctx: RunContext) -> Output:
    out = Output()
    if ctx.failure is None:
        if rng.random() < 0.1:
            return out
        instrument, top = rng.choice([("PHQ-9", 27), ("GAD-7", 21), ("AUDIT-C", 12)])
        out.log(f"Scored {ctx.input_ref} {instrument} = {rng.randint(0, top)}")
        out.log(f"Created Observation/{short_id(rng)}")
        return out
    own = Thrown(
        "Error",
        "Unknown questionnaire: Questionnaire/gad-7-v2 (no scoring rule)",
        ("at scoreResponse ({file}:748:11)", "at handler ({file}:712:10)"),
    )
    return _failed(ctx, out, own)


_CLINICS = [
    "NORTH-FAMILY-MED",
    "EAST-PEDS",
    "WEST-INTERNAL",
    "DOWNTOWN-CARDIO",
    "LAKESIDE-OBGYN",
    "RIVER-GERI",
]


def _report(rng: random.Random, ctx: RunContext) -> Output:
    """The weekly quality report prints a line per measure, clinic and provider: more than the
    10,240 characters Medplum keeps, so its stored log starts mid-report."""
    out = Output()
    out.log(
        "Building weekly quality report (CMS122 diabetes HbA1c > 9%, CMS165 blood pressure, CMS138 tobacco)"
    )
    for measure in ("CMS122", "CMS165", "CMS138"):
        for clinic in _CLINICS:
            for provider in range(1, 13):
                numerator, denominator = rng.randint(3, 40), rng.randint(40, 90)
                out.log(
                    f"  {measure} {clinic:<16} provider #{provider:02d}: "
                    f"numerator {numerator:>3} / denominator {denominator:>3}"
                    f" ({100 * numerator / denominator:.1f}%)"
                )
    if ctx.failure is None:
        out.log(f"Wrote DocumentReference/{short_id(rng)} (PDF, {rng.randint(80, 400)} KB)")
        return out
    own = Thrown(
        "RangeError", "Invalid time value", ("at formatPeriod ({file}:17:22)", "at handler ({file}:9:5)")
    )
    return _failed(ctx, out, own)


def _erx(rng: random.Random, ctx: RunContext) -> Output:
    out = Output()
    medication = ctx.input_display or "medication"
    out.log(f"NewRx for {ctx.input_ref} ({medication}) -> Surescripts")
    if ctx.thrown is not None:
        return _failed(ctx, out, ctx.thrown)
    if ctx.failure is None:
        out.log(f"Surescripts accepted: Status 010 (message id SS{rng.randint(10**9, 10**10 - 1)})")
        return out
    out.log(f"POST https://gateway.surescripts.example/v6.1/NewRx (attempt {1 + ctx.run_index % 3})")
    own = Thrown(
        "Error",
        "Surescripts rejected the message: 900 Transaction rejected (prescriber NPI not on file)",
        ("at sendNewRx ({file}:2117:15)", _TICKS, "at async Object.handler ({file}:2033:7)"),
    )
    return _failed(ctx, out, own)


def _fax(rng: random.Random, ctx: RunContext) -> Output:
    out = Output()
    if ctx.failure is not None:
        own = Thrown(
            "Error",
            "IMAP login failed: AUTHENTICATIONFAILED (fax-intake@northside.example)",
            ("at ImapFlow.connect ({file}:30112:19)", _TICKS, "at async pollInbox ({file}:912:5)"),
        )
        return _failed(ctx, out, own)
    new = rng.choice([0, 0, 0, 1, 1, 2, 3])
    out.log(f"Polled fax-intake@northside.example: {new or 'nothing'} new")
    for _ in range(new):
        out.log(
            f"Created DocumentReference/{short_id(rng)} from fax +1614555{rng.randint(1000, 9999)}"
            f" ({rng.randint(1, 14)} pages)"
        )
    return out


_UNITS = [
    "4W-MEDSURG",
    "5E-CARDIO",
    "6N-ONC",
    "ICU-1",
    "ICU-2",
    "ED",
    "L&D",
    "NICU",
    "PEDS",
    "REHAB",
    "PSYCH",
    "OBS",
]


def _census(rng: random.Random, ctx: RunContext) -> Output:
    out = Output()
    out.log("Census snapshot")
    for unit in _UNITS:
        beds = rng.randint(8, 36)
        used = rng.randint(beds // 2, beds)
        out.log(f"  {unit:<11} {used:>2}/{beds:>2} beds ({100 * used / beds:.1f}%)")
    if ctx.failure is None:
        if rng.random() < 0.3:
            out.log(f"ED boarding: {rng.randint(2, 9)} patients waiting > 4 h", "WARN")
        out.log(f"Wrote MeasureReport/{short_id(rng)}")
        return out
    own = Thrown(
        "OperationOutcomeError",
        "Encounter search timed out",
        (_MEDPLUM_REQUEST, _TICKS, "at async countInpatients ({file}:1201:19)"),
    )
    return _failed(ctx, out, own)


def _cgm(rng: random.Random, ctx: RunContext) -> Output:
    out = Output()
    if ctx.failure is None:
        value = rng.randint(55, 260)
        trend = rng.choice(["flat", "flat", "rising", "falling", "rising fast"])
        out.log(f"Stored glucose {value} mg/dL for {ctx.patient_ref or ctx.input_ref} (trend {trend})")
        if value < 70:
            out.log(f"LOW glucose {value} mg/dL: paging the diabetes team", "WARN")
        return out
    own = Thrown(
        "TypeError",
        "Cannot read properties of null (reading 'valueQuantity')",
        ("at toReading ({file}:88:29)", "at Array.map (<anonymous>)", "at handler ({file}:41:27)"),
    )
    return _failed(ctx, out, own)


def _cohort(rng: random.Random, ctx: RunContext) -> Output:
    out = Output()
    for cohort in ("diabetes-a1c-over-9", "chf-readmit-risk", "overdue-mammogram"):
        out.log(f"Refreshing cohort '{cohort}'")
        if ctx.failure is not None and cohort == "chf-readmit-risk":
            own = Thrown(
                "OperationOutcomeError",
                "Search offset exceeds maximum (got 10020, max 10000)",
                (_MEDPLUM_REQUEST, _TICKS, "at async listMembers ({file}:301:22)"),
            )
            return _failed(ctx, out, own)
        out.log(f"  added {rng.randint(0, 12)}, removed {rng.randint(0, 6)}; {rng.randint(80, 900)} members")
    return out


_GENERIC_ERRORS = [
    Thrown("AxiosError", "Request failed with status code 500", ("at settle ({file}:4121:12)", _TICKS)),
    Thrown("TypeError", "fetch failed", ("at node:internal/deps/undici/undici:13502:13", _TICKS)),
    Thrown("Error", "Missing required setting API_KEY", ("at handler ({file}:12:11)",)),
]


def _generic(rng: random.Random, ctx: RunContext) -> Output:
    out = Output()
    if ctx.failure is None:
        out.log(
            rng.choice(
                [
                    f"Processed {rng.randint(1, 40)} resources",
                    "OK",
                    f"Synced {rng.randint(1, 12)} records in {rng.randint(20, 900)} ms",
                    "Nothing to do",
                ]
            )
        )
        return out
    return _failed(ctx, out, rng.choice(_GENERIC_ERRORS))


LogStyle = Callable[[random.Random, RunContext], Output]

LOG_STYLES: dict[str, LogStyle] = {
    "hl7": _hl7,
    "lab": _lab,
    "claims": _claims,
    "welcome": _welcome,
    "eligibility": _eligibility,
    "legacy": _legacy,
    "questionnaire": _questionnaire,
    "report": _report,
    "erx": _erx,
    "fax": _fax,
    "census": _census,
    "cgm": _cgm,
    "cohort": _cohort,
    "generic": _generic,
}


@dataclass(frozen=True, slots=True)
class RunLog:
    """Everything a run's ``outcomeDesc`` is made from, to write it when it is first read.

    A generated history holds thousands of runs whose logs are mostly never read: each keeps
    this recipe (its own random seed and context) and the same text comes out every time.
    """

    style: str
    seed: int
    ctx: RunContext
    runtime: str
    start_ms: int
    duration_ms: int
    timeout_s: int | None
    max_chars: int | None
    server_failure: str | None = None

    def text(self) -> str:
        rng = random.Random(self.seed)
        if self.server_failure is not None:
            output = Output(server_failure=self.server_failure)
        else:
            output = LOG_STYLES.get(self.style, _generic)(rng, self.ctx)
        return render(
            output,
            self.runtime,
            request_id=derived_uuid(f"lambda:{self.seed}"),
            start_ms=self.start_ms,
            duration_ms=self.duration_ms,
            timeout_s=self.timeout_s,
            max_chars=self.max_chars,
        )
