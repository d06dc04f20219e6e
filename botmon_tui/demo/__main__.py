"""``python -m botmon_tui.demo [--port PORT] ...``: run the demo server until Ctrl-C."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from botmon_tui.demo.config import DemoConfig
from botmon_tui.demo.server import serve_forever

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m botmon_tui.demo", description="Run botmon-tui's Medplum-compatible demo server."
    )
    parser.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: a free port)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated project (default 42)")
    parser.add_argument(
        "--history-days", type=float, default=5.0, help="days of generated history (default 5)"
    )
    parser.add_argument("--no-live", action="store_true", help="do not keep running bots in the background")
    parser.add_argument("--live-speed", type=float, default=1.0, help="run bots this many times as often")
    parser.add_argument("--extra-bots", type=int, default=0, help="add this many generated bots")
    parser.add_argument(
        "--big-bot-events", type=int, default=0, help="add 'bulk-importer' with this many events"
    )
    parser.add_argument(
        "--public-base-url",
        metavar="URL",
        default=None,
        help="write this base URL into Bundle links and tokens, as a server behind a port-forward does",
    )
    parser.add_argument("--verbose", action="store_true", help="print one line per request")
    args = parser.parse_args(argv)
    cfg = DemoConfig(
        seed=args.seed,
        history_days=args.history_days,
        live=not args.no_live,
        live_speed=args.live_speed,
        extra_bots=args.extra_bots,
        big_bot_events=args.big_bot_events,
        verbose=args.verbose,
        public_base_url=args.public_base_url,
    )
    serve_forever(args.port, cfg)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
