"""The cost of reading a run's log (issue #18): ``python benchmarks/runlog.py``.

In-process and quick (~10 s), no demo server process: the demo project's own logs (every run of
every bot, as the demo writes them) and the logs Medplum writes for Lambda and vmcontext bots, at
their realistic sizes, plus the 200 kB log of a bot that prints too much. Prints one table:

* ``summary_line`` per log (what every new run costs the Event tab: ``FeedEvent`` calls it once);
  ``summarize``, the same scan that also numbers the line (the pane opens on it), when present;
* ``parse_log`` (what the pane costs to show a run, once per run shown);
* the ``/`` filter's scan over 10,000 held logs (``EventScreen.matches``), whole logs.

Run it on two checkouts to compare (``summary_line`` exists in both): the figures are the median
of ``--repeat`` passes, in microseconds per log (ms for the filter's pass).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RID = "6f1a1c54-1c4e-4d1e-9b3b-0d1f2e3c4b5a"


def lambda_log(lines: int, *, error: bool) -> str:
    rows = [
        f"2025-12-09T23:57:{n % 60:02d}.{n % 1000:03d}Z\t{RID}\tINFO\tProcessing item {n} of the batch"
        for n in range(lines)
    ]
    if error:
        blob = {
            "errorType": "TypeError",
            "errorMessage": "Cannot read properties of undefined (reading 'reference')",
            "stack": [
                "TypeError: Cannot read properties of undefined (reading 'reference')",
                "    at handler (/var/task/index.js:41:37)",
                "    at async Runtime.handler (file:///var/runtime/index.mjs:1173:22)",
            ],
        }
        rows.append(f"2025-12-09T23:57:59.999Z\t{RID}\tERROR\tInvoke Error \t{json.dumps(blob)}")
    return "\n".join(rows)


def vmcontext_log(lines: int) -> str:
    rows = [f"Processing QuestionnaireResponse/{n:08x}" for n in range(lines)]
    rows += [
        "Unhandled error: Cannot read properties of undefined (reading 'reference')",
        "TypeError: Cannot read properties of undefined (reading 'reference')",
        "    at exports.handler (evalmachine.<anonymous>:41:37)",
        "    at Script.runInContext (node:vm:149:12)",
        "Error Cannot read properties of undefined (reading 'reference')",
    ]
    return "\n".join(rows)


def demo_logs() -> list[str]:
    from botmon_tui.demo import DemoConfig, DemoServer

    server = DemoServer(DemoConfig(seed=7, live=False))
    store = server.store
    logs: list[str] = []
    for bot in store.bots:
        for event in store.events_for(bot["id"]):
            logs.append(str(event.get("outcomeDesc") or ""))
    return logs


def per_call_us(fn: Callable[[str], Any], logs: list[str], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        for log in logs:
            fn(log)
        runs.append((time.perf_counter() - started) / len(logs) * 1e6)
    return statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    import botmon_tui.formatting as formatting

    corpora = {
        "demo project (every run)": demo_logs(),
        "Lambda, 4 KB, Invoke Error": [lambda_log(40, error=True)] * 200,
        "Lambda, 4 KB, no error": [lambda_log(44, error=False)] * 200,
        "vmcontext, 10 KiB, Unhandled error": [vmcontext_log(250)] * 100,
        "200 kB log, error on its last line": [lambda_log(2_200, error=True)] * 10,
    }
    import importlib

    summarize: Callable[[str], Any] | None = getattr(formatting, "summarize", None)
    parse_log: Callable[[str], Any] | None = None
    with contextlib.suppress(ImportError):  # (an older checkout, for comparison)
        parse_log = importlib.import_module("botmon_tui.runlog").parse_log
    header = f"{'logs':<38} {'n':>5} {'size':>9} {'summary_line':>13} {'summarize':>10} {'parse_log':>10}"
    print(header)
    print("-" * len(header))
    for name, logs in corpora.items():
        size = statistics.median(len(log) for log in logs)
        line = per_call_us(formatting.summary_line, logs, args.repeat)
        both = per_call_us(summarize, logs, args.repeat) if summarize is not None else None
        parsed = per_call_us(parse_log, logs, max(1, args.repeat // 2)) if parse_log is not None else None
        print(
            f"{name:<38} {len(logs):>5} {size:>8,.0f}B {line:>10.1f} µs "
            + (f"{both:>7.1f} µs" if both is not None else f"{'—':>10}")
            + (f" {parsed:>7.1f} µs" if parsed is not None else f" {'—':>10}")
        )
    # The / filter over 10,000 held logs of ~1 KiB and one of 200 kB (whole logs).
    held = [lambda_log(10, error=n % 20 == 0) for n in range(9_999)] + [lambda_log(2_200, error=True)]
    passes = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        found = sum(1 for log in held if "reading 'reference'" in log.casefold())
        passes.append((time.perf_counter() - started) * 1000)
    size = sum(map(len, held)) / 1e6
    print(f"/ filter, 10,000 held logs ({size:.1f} MB): {statistics.median(passes):.1f} ms ({found} match)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
