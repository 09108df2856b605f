"""`make demo`: land a day of LeadConduit events from the sandbox through Airflow into PostgreSQL.

1. Warehouse: the ``leads_warehouse`` connection if you set ``AIRFLOW_CONN_LEADS_WAREHOUSE``, else an
   embedded PostgreSQL under ``.state/pgdata`` (database ``leads_demo``, recreated each run).
2. Sandbox: the LeadConduit simulator on a free loopback port, with a 429 and a 503 injected.
3. Airflow runs ``leadconduit_sync`` once per hourly window, in this process (``dag.test``), then
   runs one window again to show that a re-run changes nothing.
4. Prints a summary from ``ops.sync_runs`` and checks it against the sandbox's ground truth.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import warnings
from datetime import datetime, timedelta, timezone

from devtools.airflow_env import configure
from devtools.paths import STATE
from sandbox.vendors.leadconduit import DEFAULT_API_KEY as LEADCONDUIT_KEY

START = datetime(2024, 6, 1, tzinfo=timezone.utc)
END = START + timedelta(days=1)
EVENTS_PER_HOUR = 400
DEMO_DB = "leads_demo"
#: An id that is a float, and keys jsonb would merge (NUL and U+FFFD): both go to ops.quarantine.
ODD_RECORDS = (b'{"id":1.5,"type":"source"}', b'{"id":"odd-keys","k\\u0000":1,"k\\ufffd":2}')


def _stop_on_sigterm() -> None:
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)


def main() -> int:
    """Run the demo; exit 1 if the warehouse does not match the sandbox's ground truth."""
    began = time.monotonic()
    _stop_on_sigterm()
    # Third-party deprecation notices (starlette, pathspec, platformdirs) say nothing about the demo.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", module="platformdirs")
    from devtools.warehouse import embedded_server
    from sandbox.process import SandboxProcess

    server = None
    (STATE / "demo").mkdir(parents=True, exist_ok=True)
    configured = os.environ.get("AIRFLOW_CONN_LEADS_WAREHOUSE")
    try:
        if configured:
            print("warehouse: the configured leads_warehouse connection")
            warehouse_conn = configured
        else:
            print(f"warehouse: starting the embedded PostgreSQL in {STATE / 'pgdata'} ...", flush=True)
            server = embedded_server()
            server.drop_database(DEMO_DB)
            server.create_database(DEMO_DB)
            warehouse_conn = server.airflow_conn(DEMO_DB)
            print(f"warehouse: embedded PostgreSQL, database {DEMO_DB} (socket {server.host})")
        with SandboxProcess(seed=7, start=START, end=END, events_per_hour=EVENTS_PER_HOUR,
                            leadconduit_api_key=LEADCONDUIT_KEY, log_path=STATE / "demo" / "sandbox.log") as sandbox:
            print(f"sandbox: LeadConduit simulator at {sandbox.leadconduit_url}")
            leadconduit = json.dumps({"conn_type": "leadconduit", "host": sandbox.leadconduit_url,
                                      "password": LEADCONDUIT_KEY})
            configure(STATE / "demo" / "airflow", {"leads_warehouse": warehouse_conn, "leadconduit_default": leadconduit})
            os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
            return _run(sandbox, began)
    except KeyboardInterrupt:
        print("demo: interrupted; stopping what it started", file=sys.stderr)
        return 130
    finally:
        if server is not None:
            server.stop()


def _run(sandbox, began: float) -> int:
    from devtools.runner import InProcessRunner
    from lead_pipelines.common.warehouse import connect, statement
    from lead_pipelines.common.windows import split_windows

    print("airflow: initialising the metadata database and parsing dags/ ...", flush=True)
    runner = InProcessRunner()
    _stop_on_sigterm()
    windows = list(split_windows(START, END, timedelta(hours=1)))
    # Faults a real vendor throws now and then: the hook retries them, honouring Retry-After.
    sandbox.client.add_fault("leadconduit", "429", path="/events", after=3, times=1, retry_after=1)
    sandbox.client.add_fault("leadconduit", "503", path="/events", after=10, times=1)
    # Two records the warehouse cannot hold faithfully: quarantined with their bytes, the window lands.
    sandbox.client.leadconduit_inject([{"raw": raw.decode(), "ts": "2024-06-01T12:30:00Z"} for raw in ODD_RECORDS])
    print(f"airflow: running leadconduit_sync over {len(windows)} hourly windows {windows[0].start:%Y-%m-%d %H:%M} "
          f"to {windows[-1].end:%Y-%m-%d %H:%M} UTC (a 429 and a 503 are injected on the way)", flush=True)
    failed = [w for w in windows if runner.run_window("leadconduit_sync", w).state != "success"]
    rerun = runner.run_window("leadconduit_sync", windows[0])
    print(f"airflow: re-ran window {windows[0]}: {rerun.state}")

    truth = sandbox.client.leadconduit_truth(START, END)
    with connect() as conn:
        rows = conn.execute(statement("select_sync_summary"), {"start": START, "end": END}).fetchall()
        (landed,) = conn.execute("SELECT count(*) FROM raw.leadconduit_events").fetchone()
        last_rerun = conn.execute(
            "SELECT inserted, updated, unchanged FROM ops.sync_runs ORDER BY run_id DESC LIMIT 1"
        ).fetchone()
        quarantined = conn.execute("SELECT raw, reason FROM ops.quarantine ORDER BY quarantine_id").fetchall()

    header = ("stream", "windows", "runs", "records", "inserted", "updated", "unchanged", "quarantined", "retries",
              "waited s", "seconds")
    table = [header] + [
        (r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], f"{r[9]:.1f}", f"{r[10]:.1f}") for r in rows
    ]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    print()
    for n, row in enumerate(table):
        print("  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w) for i, (v, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print()
    print(f"re-run of {windows[0]}: inserted {last_rerun[0]}, updated {last_rerun[1]}, unchanged {last_rerun[2]}")
    records, inserted = (rows[0][3], rows[0][4]) if rows else (0, 0)
    kept = sorted(bytes(raw) for raw, _ in quarantined) == sorted(ODD_RECORDS)
    for raw, reason in quarantined:
        print(f"quarantined ({len(bytes(raw))} bytes, kept as sent): {reason}")
    ok = not failed and kept and landed == truth["count"] == inserted == records - len(ODD_RECORDS)
    verdict = "MATCH" if ok else "MISMATCH"
    print(f"sandbox ground truth: {truth['count']} events + {len(ODD_RECORDS)} odd records; raw.leadconduit_events "
          f"holds {landed} rows, ops.quarantine {len(quarantined)}; summary records {records}, inserted {inserted}: "
          f"{verdict}")
    if failed:
        print(f"failed windows: {', '.join(map(str, failed))}")
    print(f"demo finished in {time.monotonic() - began:.0f}s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
