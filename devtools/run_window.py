"""Run a DAG over a range of windows in this process: ``python -m devtools.run_window DAG START END``.

Airflow's environment (AIRFLOW_HOME, connections) comes from the caller. Exits 1 if a window fails.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run each hourly window of ``[start, end)``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dag_id")
    parser.add_argument("start", type=datetime.fromisoformat, help="first window start, ISO 8601 with offset")
    parser.add_argument("end", type=datetime.fromisoformat, help="last window end, ISO 8601 with offset")
    parser.add_argument("--hours", type=float, default=1.0, help="window length in hours")
    args = parser.parse_args(argv)

    from devtools.runner import InProcessRunner
    from lead_pipelines.common.windows import split_windows

    runner = InProcessRunner()
    failed = 0
    for window in split_windows(args.start, args.end, timedelta(hours=args.hours)):
        run = runner.run_window(args.dag_id, window)
        print(f"{args.dag_id} {window}: {run.state}", flush=True)
        failed += run.state != "success"
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
