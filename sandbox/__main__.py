"""Run the sandbox: ``python -m sandbox --port 8900 --seed 7 ...``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from sandbox.server import Sandbox, SandboxConfig, SandboxHTTPServer
from sandbox.timeutil import parse_timestamp
from sandbox.vendors import add_arguments, build_apps, vendor_options


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the CLI flags.

    :param argv: the arguments (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", default="2024-06-01T00:00:00Z", help="first instant with data")
    parser.add_argument("--end", default="2024-06-02T00:00:00Z", help="data stops before this")
    parser.add_argument("--events-per-hour", type=int, default=40)
    parser.add_argument("--ready-file", help="write the base URL here once listening")
    add_arguments(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT, then exit 0.

    :param argv: the arguments (default: ``sys.argv[1:]``).
    """
    args = parse_args(argv)
    config = SandboxConfig(
        seed=args.seed,
        start_ms=parse_timestamp(args.start),
        end_ms=parse_timestamp(args.end),
        events_per_hour=args.events_per_hour,
        options=vendor_options(args),
    )
    server = SandboxHTTPServer((args.host, args.port), Sandbox(config, build_apps(config)))
    host, port = server.server_address[:2]
    url = f"http://{host}:{port}"
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    # serve_forever runs in a thread: shutdown() from the main thread would deadlock otherwise.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              daemon=True)
    thread.start()
    if args.ready_file:
        tmp = f"{args.ready_file}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(url + "\n")
        os.replace(tmp, args.ready_file)
    print(f"sandbox listening on {url}", flush=True)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
