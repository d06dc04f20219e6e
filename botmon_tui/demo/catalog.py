"""The demo project: which bots exist, how they are triggered, what they print, and their stories.

Each :class:`BotSpec` says how a bot behaves; the store (``store.py``) generates its history from
it, deterministically for a seed, relative to the demo's "now" (``DemoConfig.now``, or the time the
server started). What they print is in ``consoles.py``; how the runtime and Medplum turn that into
``outcomeDesc`` is in ``runtime.py``.

The stories (each for the TUI's incident, silence and deploy views; minutes before "now"):

* **one cause across bots** (#16): the master patient index answers 503 from 58 to 41 minutes ago;
  ``hl7-adt-ingest``, ``questionnaire-scorer`` and ``erx-surescripts-send`` each fail with
  ``EMPI lookup failed: status code 503 for Patient/<a different id>``, then recover.
* **recovered**: ``hl7-adt-ingest`` and ``questionnaire-scorer`` (their last failure ~41 and ~46
  minutes ago, successes since).
* **failing now, timeouts** (#16, #17): ``erx-surescripts-send`` (Lambda, 30 s timeout) has timed out
  14 times in a row for ~20 minutes: each failed run lasts about its timeout, and its log stops
  before Lambda's "Task timed out" line, as Medplum keeps it.
* **a deploy followed by failures** (#18): ``lab-results-router`` was deployed 35 minutes ago (two
  versions seconds apart) and each of its 7 runs since has crashed with a new TypeError.
* **flaky** (#16): ``legacy-hl7-bridge``'s last 10 runs hold three failure streaks; the last succeeded.
* **cron schedules** (#17): ``fax-inbox-poller`` (``*/5 * * * *``) was updated 42 minutes ago and
  has not run since its run 40 minutes ago; ``hourly-census-snapshot`` (``0 * * * *``, its last runs
  near its 60 s timeout); ``legacy-hl7-bridge`` (``cronTiming`` every 30 (min), which Medplum's
  conversion makes ``*/48 * * * *``); ``daily-claims-export`` (``0 2 * * *``, runs creeping towards
  their 300 s timeout); ``weekly-quality-report``; ``nightly-cohort-refresh``, run by a ``Cron``
  resource (its input is the Cron).
* **quiet** (#17): ``cgm-device-sync`` ran every 10 minutes for days, and not once in the last ~2 h.
* **bursty, not quiet**: ``questionnaire-scorer`` runs in bursts during clinic hours.
* **a log at the cap**: ``weekly-quality-report`` prints more than the 10,240 characters Medplum
  keeps; ``daily-claims-export``'s and ``hourly-census-snapshot``'s Lambda logs are LogResult's
  last 4 KB.
* **what writes no AuditEvent** (the TUI's banners): ``appointment-reminders`` (``["log"]``),
  ``stale-task-cleanup`` (``never``), ``eligibility-check`` (``on-error``),
  ``patient-welcome-email`` (``on-output``), ``sms-opt-out-handler`` (never deployed, never ran).

Live mode (``--demo``) goes on from there: the stopped cron bot and the quiet bot stay silent;
``erx-surescripts-send`` keeps timing out for 6 more minutes (live time), then the gateway is back;
``lab-results-router`` keeps crashing for 10 minutes, then a fix is deployed (two new versions) and
it recovers; everything else fails rarely (``DemoConfig.live_fail_scale``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from botmon_tui.demo.consoles import LAB_REGRESSION
from botmon_tui.demo.cron import convert_timing_to_cron
from botmon_tui.demo.runtime import MAX_LOG_CHARS, Thrown

__all__ = [
    "BIG_BOT",
    "BOT_SPECS",
    "EMPI",
    "BotSpec",
    "Episode",
    "bulk_log",
    "extra_bot_spec",
]

#: Stands for "the EMPI outage's error, for this run's Patient" in an :class:`Episode`.
EMPI = Thrown("Error", "EMPI lookup failed: status code 503 for {patient}")


@dataclass(frozen=True, slots=True)
class Episode:
    """A scripted stretch of a bot's recent history: from ``start_min`` to ``end_min`` minutes
    before "now", every run ends as ``outcome`` says."""

    start_min: float
    end_min: float = 0.0
    #: "ok" (every run succeeds), "crash" (an uncaught error: ``thrown``, or the bot's own) or
    #: "timeout" (the run uses its whole timeout).
    outcome: str = "crash"
    thrown: Thrown | None = None
    #: This many runs, evenly spread over the stretch, instead of the bot's own trigger times.
    count: int | None = None
    #: An ongoing stretch (``end_min`` 0) goes on this many seconds of live time (``--demo``).
    live_s: float = 0.0
    #: When the live stretch is over, a deploy (two new versions) fixes it.
    fixed_by_deploy: bool = False


@dataclass(frozen=True)
class BotSpec:
    """How a demo bot behaves. Only ``name`` .. ``destination`` end up in the Bot resource."""

    name: str
    description: str
    runtime: str = "awslambda"
    category: tuple[str, str] = ("integration", "Integration")
    #: ``Bot.timeout`` in seconds; None: unset (Lambda 10 s, vmcontext 10,000 ms).
    timeout: int | None = None
    cron: str | None = None
    cron_timing: dict[str, Any] | None = field(default=None, hash=False, compare=False)
    trigger: str | None = None
    destination: tuple[str, ...] | None = None
    #: Event-driven runs per hour at busy hours (history and live mode); 0 = only the schedule.
    rate_per_hour: float = 0.0
    #: A steady rhythm instead: one run every this many seconds (± 7 %), day and night.
    every_s: float | None = None
    #: Runs come in bursts (a clinic session: 2-6 runs in a few minutes, then 15 min to hours).
    bursty: bool = False
    #: Mean seconds between runs in live mode (None = the bot is not run by the live thread,
    #: except on its schedule).
    live_interval_s: float | None = None
    fail_rate: float = 0.05
    #: The share of failures that are timeouts (the rest crash).
    timeout_share: float = 0.0
    #: Older server: ``type`` without system, ``agent`` without ``who``, outcomes 8 and 12.
    legacy: bool = False
    #: The resource type that triggers the bot (its input), or None.
    input_type: str | None = None
    subscription: bool = False
    #: The Subscription's ``criteria`` (default: ``input_type``) and its supported interaction
    #: (``create``/``update``/``delete``; None: every one).
    criteria: str | None = None
    interaction: str | None = None
    #: Execution time (ms), without the wait in the subscription queue.
    duration_ms: tuple[int, int] = (80, 900)
    #: Time in the subscription queue before the run starts (ms): part of ``period``.
    queue_ms: tuple[int, int] = (30, 900)
    created_days_ago: float = 90.0
    updated_days_ago: float | None = None
    #: When the bot was deployed since its creation (days ago; default: ``updated_days_ago``).
    deploys_days_ago: tuple[float, ...] = ()
    #: Probability that a trigger is a burst of 2-4 runs stored in the same millisecond.
    burst_prob: float = 0.0
    logs: str = "generic"
    #: Who asks for the run: "integration" (a ClientApplication), "clinician" (a Practitioner),
    #: "device" (the CGM gateway's ClientApplication), "cron" (nobody: a scheduled run).
    requestor: str = "integration"
    #: ``executableCode`` is set (False: saved but never deployed).
    deployed: bool = True
    #: The ``cronString`` of a ``Cron`` resource that runs the bot (its runs' input is the Cron).
    cron_resource: str | None = None
    #: Runs in the last this many minutes succeed, except in an episode (so that each bot is in the
    #: state its story says, not in one a random failure made).
    calm_min: float = 60.0
    episodes: tuple[Episode, ...] = ()
    #: The bot stopped running this many minutes before "now" (and stays stopped in live mode).
    stopped_min: float | None = None
    #: A plain update of the bot (one new version) this many minutes before "now".
    update_min: float | None = None
    #: A deploy this many minutes before "now" (two versions seconds apart).
    deploy_min: float | None = None
    #: The outcomes ("0"/"4", or "8"/"12" on the older server) of its last runs, oldest first.
    last_outcomes: tuple[str, ...] = ()
    #: The execution times (s) of its last runs, oldest first.
    last_durations_s: tuple[float, ...] = ()
    #: Runs that ended in a failure of the server's own: ``(days ago, message)``.
    server_failures: tuple[tuple[float, str], ...] = ()
    #: Its history goes back at least this many days when the demo's goes back a day or more (a
    #: weekly bot's last run is in it whatever the day of the week).
    min_history_days: float = 0.0

    @property
    def schedule(self) -> str | None:
        """The cron pattern the server schedules the bot with (``cronTiming`` wins, converted the
        server's way; a ``Cron`` resource's otherwise), or None."""
        if self.cron_timing:
            converted = convert_timing_to_cron(self.cron_timing)
            if converted:
                return converted
        return self.cron or self.cron_resource


# --------------------------------------------------------------------------------------------------
# The project
# --------------------------------------------------------------------------------------------------

BOT_SPECS: tuple[BotSpec, ...] = (
    BotSpec(
        name="hl7-adt-ingest",
        description="Turns inbound HL7v2 ADT messages from the interface engine into Patient updates.",
        category=("integration", "Integration"),
        timeout=30,
        rate_per_hour=16.0,
        live_interval_s=4.0,
        fail_rate=0.04,
        input_type="Patient",
        subscription=True,
        duration_ms=(120, 1400),
        destination=("resource", "log"),
        burst_prob=0.04,
        logs="hl7",
        created_days_ago=410,
        deploys_days_ago=(40.0, 11.0, 3.2),
        # The EMPI outage, then good runs even at night (when ADT messages are few).
        episodes=(Episode(58, 41, "crash", EMPI, count=4), Episode(38, 30, "ok", count=2)),
    ),
    BotSpec(
        name="lab-results-router",
        description="Routes final DiagnosticReports to the ordering provider and acknowledges the LIS.",
        category=("integration", "Integration"),
        timeout=20,
        trigger="always",
        destination=("resource",),
        rate_per_hour=10.0,
        live_interval_s=120.0,  # its failures come one at a time, not as a stream of alerts
        fail_rate=0.08,
        input_type="DiagnosticReport",
        subscription=True,
        criteria="DiagnosticReport?status=final",
        duration_ms=(200, 2500),
        logs="lab",
        created_days_ago=300,
        deploys_days_ago=(60.0, 21.0, 6.0),
        deploy_min=35.0,
        calm_min=120.0,
        episodes=(
            Episode(45, 36, "ok", count=2),  # its last runs before the deploy went well
            Episode(35, 0, "crash", LAB_REGRESSION, count=7, live_s=600, fixed_by_deploy=True),
        ),
    ),
    BotSpec(
        name="daily-claims-export",
        description="Exports yesterday's claims as X12 837 files and uploads them to the clearinghouse.",
        category=("billing", "Billing"),
        timeout=300,
        cron="0 2 * * *",
        fail_rate=0.2,
        duration_ms=(150_000, 200_000),
        logs="claims",
        requestor="cron",
        created_days_ago=220,
        deploys_days_ago=(30.0,),
        last_outcomes=("0", "4", "0", "0", "0"),
        last_durations_s=(171.4, 196.2, 224.9, 248.7, 268.3),
    ),
    BotSpec(
        name="patient-welcome-email",
        description="Sends a welcome email to newly registered patients (logs only when it sends something).",
        runtime="vmcontext",
        category=("engagement", "Patient engagement"),
        trigger="on-output",
        rate_per_hour=4.0,
        live_interval_s=25.0,
        fail_rate=0.04,
        input_type="Patient",
        subscription=True,
        interaction="create",
        duration_ms=(60, 600),
        logs="welcome",
        created_days_ago=120,
        deploys_days_ago=(45.0,),
        server_failures=(
            (3.40, "VM Context bots not enabled on this server"),
            (3.39, "VM Context bots not enabled on this server"),
        ),
    ),
    BotSpec(
        name="eligibility-check",
        description="Runs a 270/271 eligibility check when Coverage changes; audits failures only.",
        category=("billing", "Billing"),
        timeout=15,
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
        fail_rate=0.18,
        legacy=True,
        duration_ms=(150, 9500),
        logs="legacy",
        requestor="cron",
        created_days_ago=900,
        last_outcomes=("0", "8", "0", "0", "12", "0", "0", "8", "0", "0"),
    ),
    BotSpec(
        name="sms-opt-out-handler",
        description="Handles STOP/START replies from the SMS gateway. New; not deployed yet.",
        category=("engagement", "Patient engagement"),
        fail_rate=0.0,
        logs="generic",
        created_days_ago=0.08,
        deployed=False,
    ),
    BotSpec(
        name="questionnaire-scorer",
        description="Scores PHQ-9, GAD-7 and AUDIT-C QuestionnaireResponses into Observations.",
        category=("clinical", "Clinical"),
        bursty=True,
        live_interval_s=30.0,
        fail_rate=0.04,
        input_type="QuestionnaireResponse",
        subscription=True,
        criteria="QuestionnaireResponse?status=completed",
        duration_ms=(50, 400),
        logs="questionnaire",
        requestor="clinician",
        created_days_ago=45,
        deploys_days_ago=(20.0, 1.5),
        episodes=(Episode(53, 45, "crash", EMPI, count=2), Episode(31, 27, "ok", count=3)),
    ),
    BotSpec(
        name="weekly-quality-report",
        description="Builds the weekly quality-measure PDF on Monday mornings.",
        runtime="vmcontext",
        category=("reporting", "Reporting"),
        timeout=300,
        cron="0 6 * * 1",
        fail_rate=0.1,
        duration_ms=(20_000, 60_000),
        logs="report",
        requestor="cron",
        created_days_ago=365,
        last_outcomes=("0",),
        min_history_days=8.0,
    ),
    BotSpec(
        name="erx-surescripts-send",
        description="Sends new prescriptions to Surescripts (NCPDP SCRIPT NewRx) when they are signed.",
        category=("clinical", "Clinical"),
        timeout=30,
        rate_per_hour=9.0,
        live_interval_s=60.0,
        fail_rate=0.03,
        timeout_share=0.5,
        input_type="MedicationRequest",
        subscription=True,
        criteria="MedicationRequest?status=active",
        interaction="create",
        duration_ms=(900, 4200),
        logs="erx",
        requestor="clinician",
        created_days_ago=150,
        deploys_days_ago=(30.0, 9.0),
        episodes=(
            Episode(55, 43, "crash", EMPI, count=2),
            Episode(40, 22, "ok", count=3),
            Episode(20.5, 0.5, "timeout", count=14, live_s=360),
        ),
    ),
    BotSpec(
        name="fax-inbox-poller",
        description="Polls the fax inbox every 5 minutes and files new faxes as DocumentReferences.",
        category=("integration", "Integration"),
        timeout=60,
        cron="*/5 * * * *",
        fail_rate=0.02,
        duration_ms=(1500, 8000),
        logs="fax",
        requestor="cron",
        created_days_ago=200,
        deploys_days_ago=(14.0,),
        update_min=42.0,
        stopped_min=39.5,
    ),
    BotSpec(
        name="hourly-census-snapshot",
        description="Snapshots the inpatient census every hour into a MeasureReport.",
        category=("reporting", "Reporting"),
        timeout=60,
        cron="0 * * * *",
        fail_rate=0.03,
        duration_ms=(18_000, 40_000),
        logs="census",
        requestor="cron",
        created_days_ago=95,
        deploys_days_ago=(12.0,),
        last_durations_s=(41.2, 44.8, 47.1, 49.6, 53.9),
        server_failures=(
            (
                2.2,
                "Lambda error: Runtime.OutOfMemory - RequestId: 2c1f7c2e-93b5-4c3e-9d0e-5b7f0a3c9e11 "
                "Error: Runtime exited with error: signal: killed",
            ),
        ),
    ),
    BotSpec(
        name="cgm-device-sync",
        description="Stores continuous glucose monitor readings from the device gateway (every 10 minutes).",
        runtime="vmcontext",
        category=("clinical", "Clinical"),
        every_s=600.0,
        fail_rate=0.01,
        timeout_share=0.3,
        input_type="Observation",
        subscription=True,
        criteria="Observation?code=http://loinc.org|2339-0",
        duration_ms=(40, 300),
        queue_ms=(20, 400),
        logs="cgm",
        requestor="device",
        created_days_ago=60,
        deploys_days_ago=(8.0,),
        stopped_min=125.0,
    ),
    BotSpec(
        name="nightly-cohort-refresh",
        description="Refreshes the care-management cohorts at 03:30 UTC; scheduled by a Cron resource.",
        runtime="vmcontext",
        category=("clinical", "Clinical"),
        timeout=120,
        fail_rate=0.1,
        duration_ms=(4000, 25_000),
        logs="cohort",
        requestor="cron",
        cron_resource="30 3 * * *",
        created_days_ago=130,
        last_outcomes=("0", "0", "0", "0", "0"),
    ),
)

#: Bot added when ``DemoConfig.big_bot_events`` > 0 (its events are generated compactly; vmcontext:
#: a log of up to 10 KiB is what the server keeps of it).
BIG_BOT = BotSpec(
    name="bulk-importer",
    description="Imports CSV batches from the data-lake drop; very chatty (benchmarks).",
    runtime="vmcontext",
    category=("integration", "Integration"),
    timeout=60,
    live_interval_s=15.0,
    fail_rate=0.03,
    duration_ms=(40, 900),
    logs="bulk",
    created_days_ago=30,
)


def bulk_log(seq: int, ok: bool, typical_bytes: int = 0) -> str:
    """The bulk importer's output, computed from the event's sequence number (no stored string).

    ``typical_bytes`` 0: one line (or a short stack trace). Otherwise realistic sizes around it:
    half the runs log ``typical/4..typical``, a third up to 3x, one in eight up to 6x, and 3 %
    fill the 10,240 characters Medplum keeps (only the tail is kept, as the server does).
    """
    h = (seq * 2_654_435_761) & 0xFFFFFFFF
    batch = 10_000 + seq % 90_000
    if ok:
        last = f"Imported batch {batch}: {200 + h % 300} rows (skipped {h % 7}) in {40 + h % 900} ms"
    else:  # a vmcontext bot's uncaught error: the wrapper's line and stack, then the server's
        message = f"CSV parse error at line {1 + h % 499}: unterminated quoted field"
        last = "\n".join(
            [
                f"Importing batch {batch}",
                f"Unhandled error: {message}",
                f"CsvError: {message}",
                "    at Parser.__onRow (evalmachine.<anonymous>:955:16)",
                "    at async evalmachine.<anonymous>:1311:20",
                f"Error {message}",
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
        target = MAX_LOG_CHARS + 1
    target = min(target, MAX_LOG_CHARS + 1)
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
    return "\n".join(lines)[-MAX_LOG_CHARS:]


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
        calm_min=0.0,
    )
