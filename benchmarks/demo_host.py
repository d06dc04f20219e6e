"""The benchmark's backend: the demo server with large data, in its own process.

Started by ``benchmarks/run.py``; kept out of the measured process so that its CPU time, its
memory and its GIL hold never count against the app. Prints one JSON line (addresses, ids, sizes)
and serves until stdin closes.

A small control server on another loopback port lets the benchmark change the data and read the
server's own request log::

    GET /add?bot=<id>&n=100      store n new AuditEvents of the bot (realistic logs), now
    GET /add_log?bot=<id>&bytes=200000&needle=<text>
                                 store one failed run whose log is that long, <text> on its last line
    GET /mark                    {"count": requests recorded so far}
    GET /requests?since=<k>      the requests recorded from index k: [[method, path, status, bytes], ...]
    GET /latency?s=0.05          answer every FHIR request that much later (a server farther away)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from botmon_tui.demo import DemoConfig, DemoServer
from botmon_tui.demo.catalog import bulk_log

#: The seed of the generated data: the same project in every run.
SEED = 42


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bots", type=int, default=1000)
    parser.add_argument("--big-events", type=int, default=100_000)
    parser.add_argument("--log-bytes", type=int, default=1024)
    args = parser.parse_args()

    started = time.perf_counter()
    cfg = DemoConfig(
        seed=SEED,
        live=False,
        extra_bots=args.bots,
        big_bot_events=args.big_events,
        big_bot_log_bytes=args.log_bytes,
        # The benchmark sends thousands of requests a minute (the naive baselines): no 429s.
        rate_limit=10**12,
        requests_rate_limit=10**9,
        auth_rate_limit=10**6,
    )
    server = DemoServer(cfg)
    server.start()
    generated = time.perf_counter() - started
    store = server.store
    big = store.bot_id("bulk-importer")
    added = [0]
    lock = threading.Lock()

    class Control(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *a: Any) -> None:
            pass

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            body: Any
            if url.path == "/add":
                bot_id, n = query["bot"], int(query.get("n", "100"))
                # ``fail_last``: the newest run fails (the bot is failing after it: an incident).
                fail_last = query.get("fail_last") == "1"
                now = datetime.now(UTC)
                ids = []
                with lock:
                    for i in range(n):
                        seq = 50_000_000 + added[0]
                        added[0] += 1
                        ok = seq % 20 != 0 and not (fail_last and i == n - 1)
                        ids.append(
                            store.add_event(
                                bot_id,
                                outcome="0" if ok else "4",
                                desc=bulk_log(seq, ok, args.log_bytes),
                                # One millisecond apart, the newest now.
                                at=now - timedelta(milliseconds=n - 1 - i),
                            )["id"]
                        )
                body = {"ids": ids}
            elif url.path == "/add_log":
                size, needle = int(query.get("bytes", "200000")), query.get("needle", "needle")
                rows, total, n = [], 0, 0
                while total < size:
                    row = f"2025-03-14T11:00:00.000Z row {n:06d} imported from the nightly batch"
                    rows.append(row)
                    total += len(row) + 1
                    n += 1
                rows.append(f"Error: {needle}")
                with lock:
                    # A server configured to keep longer logs (maxBotLogLengthForResource): whole.
                    kept, store.cfg = store.cfg, dataclasses.replace(store.cfg, max_log_bytes=None)
                    try:
                        event = store.add_event(
                            query["bot"], outcome="4", desc="\n".join(rows), at=datetime.now(UTC)
                        )
                    finally:
                        store.cfg = kept
                body = {"id": event["id"]}
            elif url.path == "/latency":
                server.faults.latency = float(query.get("s", "0"))
                body = {"latency": server.faults.latency}
            elif url.path == "/mark":
                body = {"count": len(server.requests)}
            elif url.path == "/requests":
                body = [list(r) for r in server.requests[int(query.get("since", "0")) :]]
            else:
                self.send_error(404)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    control = ThreadingHTTPServer(("127.0.0.1", 0), Control)
    control.daemon_threads = True
    threading.Thread(target=control.serve_forever, daemon=True).start()
    info = {
        "base_url": server.base_url,
        "client_id": server.client_id,
        "client_secret": server.client_secret,
        "control_url": f"http://127.0.0.1:{control.server_address[1]}/",
        "big_bot": big,
        "bots": len(store.bots),
        "events": store.event_count(),
        "big_bot_events": args.big_events,
        "log_bytes": args.log_bytes,
        "generated_s": round(generated, 3),
    }
    print(json.dumps(info), flush=True)
    try:
        sys.stdin.read()  # until the benchmark closes our stdin (or exits)
    finally:
        control.shutdown()
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
