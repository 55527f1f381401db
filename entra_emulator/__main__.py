"""``python -m entra_emulator --state-dir DIR --port N``: serve until SIGINT/SIGTERM.

Prints ``EmulatorInfo.as_json()`` on one line to stdout once it accepts connections.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from .server import EmulatorServer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m entra_emulator",
                                     description="Local HTTPS stand-in for Entra ID and Microsoft Graph.")
    parser.add_argument("--state-dir", type=Path, required=True, help="directory for keys and state.json")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--bulk-rate-calls", type=int, default=40)
    parser.add_argument("--bulk-rate-period", type=float, default=5.0)
    parser.add_argument("--bulk-daily-quota", type=int, default=2000,
                        help="bulkUpload calls a day (2000 with Entra ID P1/P2, 6000 with Governance)")
    parser.add_argument("--mail-per-minute", type=int, default=30, help="sendMail messages a minute per mailbox")
    parser.add_argument("--processing-delay", type=float, default=2.0,
                        help="seconds before staged bulk uploads are processed")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    server = EmulatorServer(
        args.state_dir,
        host=args.host,
        port=args.port,
        bulk_rate_calls=args.bulk_rate_calls,
        bulk_rate_period=args.bulk_rate_period,
        bulk_daily_quota=args.bulk_daily_quota,
        mail_per_minute=args.mail_per_minute,
        processing_delay=args.processing_delay,
    )
    stopping = threading.Event()

    def request_stop(signum, frame):
        stopping.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    info = server.start()
    try:
        sys.stdout.write(info.as_json() + "\n")
        sys.stdout.flush()
        while not stopping.wait(0.5):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
