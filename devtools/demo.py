"""`make demo`: land a day of every registered source from the sandbox through Airflow into PostgreSQL.

1. Warehouse: the ``leads_warehouse`` connection if you set ``AIRFLOW_CONN_LEADS_WAREHOUSE``, else an
   embedded PostgreSQL under ``.state/pgdata`` (database ``leads_demo``, recreated each run).
2. Sandbox: every source's simulator on a free loopback port, with a 429 and a 503 injected on each
   source's first endpoint, and the odd records a simulator offers (``demo_quirks``) to quarantine.
3. Airflow runs each source's sync DAG once per window of the day, in this process (``dag.test``),
   then runs one window again to show that a re-run changes nothing.
4. Runs ``unified_leads`` for every hour of the day: the identity join, the aggregates, the quality gate,
   one Pirsch event per aggregate (through ``ops.push_outbox``) and the LeadConduit reports, reconciled.
5. Prints a summary of every stream from ``ops.sync_runs`` and checks each raw table against the
   sandbox's ground truth; then the unified leads, the cross-source match rate (checked against the
   sandbox's own record of who is who), what was pushed where, and the reconciliation.

Sources come from ``lead_pipelines.registry``: a new one appears here without touching this file.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import time
import warnings
from datetime import datetime, timedelta, timezone

from devtools.airflow_env import configure
from devtools.paths import STATE

START = datetime(2024, 6, 1, tzinfo=timezone.utc)
END = START + timedelta(days=1)
EVENTS_PER_HOUR = 400
DEMO_DB = "leads_demo"


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
                            log_path=STATE / "demo" / "sandbox.log") as sandbox:
            from devtools.testing import sandbox_connections
            from lead_pipelines.registry import SOURCES

            print(f"sandbox: {', '.join(s.display_name for s in SOURCES)} simulators at {sandbox.url}/<vendor>")
            configure(STATE / "demo" / "airflow", {"leads_warehouse": warehouse_conn,
                                                   **sandbox_connections(sandbox.url, timeout=30, max_attempts=5)})
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
    from lead_pipelines.registry import SOURCES

    print("airflow: initialising the metadata database and parsing dags/ ...", flush=True)
    runner = InProcessRunner()
    _stop_on_sigterm()
    failed, quirks, reruns = [], {}, []
    for source in SOURCES:
        windows = list(split_windows(START, END, source.interval))
        simulator = importlib.import_module(f"sandbox.vendors.{source.vendor}")
        endpoint = source.streams[0].endpoint
        # Faults a real vendor throws now and then: the hook retries them, honouring Retry-After.
        sandbox.client.add_fault(source.vendor, "429", path=endpoint, after=3, times=1, retry_after=1)
        sandbox.client.add_fault(source.vendor, "503", path=endpoint, after=10, times=1)
        # Records the warehouse cannot hold faithfully: quarantined with their bytes, the window lands.
        if hasattr(simulator, "demo_quirks"):
            quirks[source.vendor] = simulator.demo_quirks(sandbox.client)
        print(f"airflow: running {source.dag_id} over {len(windows)} windows {windows[0].start:%Y-%m-%d %H:%M} to "
              f"{windows[-1].end:%Y-%m-%d %H:%M} UTC (a 429 and a 503 are injected on the way)", flush=True)
        failed += [f"{source.dag_id} {w}" for w in windows if runner.run_window(source.dag_id, w).state != "success"]
        rerun = runner.run_window(source.dag_id, windows[0])
        reruns.append((source, windows[0], rerun.state))
        _stop_on_sigterm()
    # Ground truth now: once the aggregates are pushed, Pirsch's event statistics count them too.
    truths = {(source.vendor, stream.name): {str(i) for i in sandbox.client.truth(
        source.vendor, START - stream.lookback, END, stream=stream.name)["ids"]}
        for source in SOURCES for stream in source.streams}
    hours = list(split_windows(START, END, timedelta(hours=1)))
    print(f"airflow: running unified_leads over {len(hours)} hourly windows (join, aggregate, check, push)", flush=True)
    failed += [f"unified_leads {w}" for w in hours if runner.run_window("unified_leads", w).state != "success"]
    downstream_rerun = runner.run_window("unified_leads", hours[-1]).state
    _stop_on_sigterm()

    with connect() as conn:
        rows = conn.execute(statement("select_sync_summary"), {"start": START, "end": END}).fetchall()
        # The latest run of each stream (each partition of a mapped stream, summed): the re-run.
        reran = {}
        for vendor, stream, inserted, updated, unchanged in conn.execute(
                "SELECT DISTINCT ON (vendor, stream) vendor, stream, inserted, updated, unchanged FROM ops.sync_runs "
                "ORDER BY vendor, stream, run_id DESC").fetchall():
            key = (vendor, stream.split("/")[0])
            before = reran.get(key, (0, 0, 0))
            reran[key] = (before[0] + inserted, before[1] + updated, before[2] + unchanged)
        landed = {}
        for source in SOURCES:
            for stream in source.streams:
                table = source.raw_table(stream)
                landed[(source, stream)] = {r for (r,) in conn.execute(f"SELECT record_id FROM raw.{table}")}
        quarantined = conn.execute("SELECT vendor, raw, reason FROM ops.quarantine ORDER BY quarantine_id").fetchall()

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
    for source, window, state in reruns:
        for stream in source.streams:
            inserted, updated, unchanged = reran[(source.vendor, stream.name)]
            print(f"re-run of {source.vendor}.{stream.name} {window}: {state}, inserted {inserted}, updated {updated}, "
                  f"unchanged {unchanged}")
    for vendor, raw, reason in quarantined:
        print(f"quarantined from {vendor} ({len(bytes(raw))} bytes, kept as sent): {reason}")
    ok = not failed
    for (source, stream), ids in landed.items():
        truth = truths[(source.vendor, stream.name)]
        match = ids == truth
        ok = ok and match
        print(f"sandbox ground truth {source.vendor}.{stream.name}: {len(truth)} records; raw.{source.raw_table(stream)} "
              f"holds {len(ids)}: {'MATCH' if match else 'MISMATCH'}")
    for vendor, expected in quirks.items():
        kept = sorted(bytes(raw) for v, raw, _ in quarantined if v == vendor) == sorted(expected)
        ok = ok and kept
        print(f"{vendor}: {len(expected)} odd records injected, kept in ops.quarantine byte for byte: "
              f"{'MATCH' if kept else 'MISMATCH'}")
    ok = _downstream_summary(sandbox, downstream_rerun) and ok
    if failed:
        print(f"failed windows: {', '.join(failed)}")
    print(f"demo {'matches' if ok else 'DOES NOT match'} the sandbox; finished in {time.monotonic() - began:.0f}s")
    return 0 if ok else 1


def pirsch_pushes(sandbox, outbox) -> tuple[list[str], list[str]]:
    """Return the push keys the Pirsch simulator received and those ``ops.push_outbox`` marks sent, sorted.

    :param outbox: ``ops.push_outbox`` rows that start with ``(push_key, state)``.
    """
    writes = sandbox.client._call("GET", "/pirsch/writes")["writes"]
    received = sorted(w["body"]["event_meta"]["lp_key"] for w in writes if w["endpoint"].startswith("event"))
    return received, sorted(row[0] for row in outbox if row[1] == "sent")


def _downstream_summary(sandbox, rerun_state: str) -> bool:
    """Print the join, the pushes and the reconciliation; return whether they hold."""
    from collections import defaultdict

    from lead_pipelines.common.warehouse import connect

    with connect() as conn:
        leads, multi = conn.execute("SELECT count(*), count(*) FILTER (WHERE cardinality(sources) >= 2) "
                                    "FROM mart.unified_leads").fetchone()
        combos = conn.execute("SELECT array_to_string(sources, ' + '), count(*) FROM mart.unified_leads "
                              "GROUP BY 1 ORDER BY 2 DESC").fetchall()
        links = {(s, r): u for s, r, u in conn.execute("SELECT source, record_id, unified_id FROM mart.lead_links")}
        outbox = conn.execute("SELECT push_key, state, kind FROM ops.push_outbox").fetchall()
        grains = conn.execute("SELECT grain, kind, count(*) FROM ops.push_outbox GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
        cells = conn.execute("SELECT report_name, count(*), count(*) FILTER (WHERE within_tolerance), "
                             "coalesce(sum(vendor_value), 0), coalesce(sum(warehouse_value), 0) "
                             "FROM ops.report_reconciliation GROUP BY 1 ORDER BY 1").fetchall()
    people = {}
    for vendor in ("leadconduit", "getlandy", "leadboxer"):
        for rid, person in sandbox.client.people(vendor, START - timedelta(days=1), END + timedelta(days=1)).items():
            people[(vendor, rid)] = person
    ids_of = defaultdict(set)
    for key, person in people.items():
        if key in links:
            ids_of[person].add(links[key])
    persons_of = defaultdict(set)
    for person, ids in ids_of.items():
        for uid in ids:
            persons_of[uid].add(person)
    joined = all(len(ids) == 1 for ids in ids_of.values()) and all(len(p) == 1 for p in persons_of.values())
    print()
    print(f"unified leads: {leads} people; seen in two or more sources: {multi} "
          f"(cross-source match rate {multi / leads:.1%})" if leads else "unified leads: none")
    for combo, count in combos:
        print(f"  {combo}: {count}")
    print(f"identity join against the sandbox's record of who is who: {len(ids_of)} planted people, "
          f"{sum(1 for k in people if k in links)} of their {len(people)} records linked: "
          f"{'MATCH' if joined else 'MISMATCH'} (no one split, no two merged)")
    received, sent = pirsch_pushes(sandbox, outbox)
    pushed = received == sent and len(set(received)) == len(received)
    print(f"pushed to Pirsch (/api/v1/event/batch): {len(received)} events, "
          + ", ".join(f"{n} {grain} {kind}s" for grain, kind, n in grains)
          + f"; the simulator received exactly the outbox's sent rows: {'MATCH' if pushed else 'MISMATCH'}")
    print(f"re-run of unified_leads for the last hour: {rerun_state}, nothing sent twice")
    for name, total, within, vendor, warehouse in cells:
        print(f"LeadConduit report '{name}': {total} cells reconciled, {within} within tolerance "
              f"(LeadConduit {vendor:.0f} vs warehouse {warehouse:.0f})")
    reconciled = bool(cells) and all(total == within for _, total, within, _, _ in cells)
    return joined and pushed and reconciled and rerun_state == "success"


if __name__ == "__main__":
    sys.exit(main())
