"""`make bench`: landing memory and speed, LeadConduit from the sandbox over HTTP into PostgreSQL.

Each landing runs in a fresh process that imports Airflow first, as a task would, then pages one
window through the LeadConduit hook into ``raw.leadconduit_events`` (COPY into staging, one merge).
Peak RSS growth over that baseline must not follow the window's size: the run fails if landing
~100,000 records grows the process more than ``--flat-mb`` beyond what ~10,000 records did.
An unchanged re-run of the large window is timed too (it should write nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import datetime, timedelta

from sandbox.vendors.leadconduit import DEFAULT_API_KEY as KEY

SMALL_START = datetime.fromisoformat("2024-06-01T13:00:00+00:00")
#: Seed 7 gives this hour about 104,000 events at 100,000 an hour.
HOUR_START = datetime.fromisoformat("2024-06-01T14:00:00+00:00")
EVENTS_PER_HOUR = 100_000


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(start: str, end: str) -> None:
    """Land one window in this process and print one JSON line of measurements."""
    import airflow.sdk  # noqa: F401 - a task process has Airflow loaded before it lands anything

    from lead_pipelines.common.landing import RecordRules, Target
    from lead_pipelines.common.sync import sync_window
    from lead_pipelines.common.windows import Window
    from lead_pipelines.leadconduit.hook import LeadConduitHook
    from lead_pipelines.leadconduit.settings import EVENTS, SOURCE

    window = Window(datetime.fromisoformat(start), datetime.fromisoformat(end))
    hook = LeadConduitHook()
    baseline = _rss_mb()
    began = time.perf_counter()
    target = Target(SOURCE.vendor, SOURCE.display_name, EVENTS.name, EVENTS.endpoint, SOURCE.raw_table(EVENTS), window)
    rules = RecordRules(id_field=EVENTS.record_id_field, time_field=EVENTS.time_field, time_unit=EVENTS.time_unit)
    summary = sync_window(target=target, pages=lambda: hook.iter_events(window), http_stats=hook.stats, rules=rules)
    seconds = time.perf_counter() - began
    print(json.dumps({
        "window": str(window), "records": summary.landing.records, "inserted": summary.landing.inserted,
        "unchanged": summary.landing.unchanged, "seconds": seconds, "baseline_mb": baseline,
        "peak_mb": _rss_mb(),
    }))


def _land(env: dict[str, str], start: datetime, end: datetime) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.landing_memory", "--child", start.isoformat(), end.isoformat()],
        env=env, capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"landing {start}..{end} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table; exit 1 if memory follows the window's size."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", nargs=2, metavar=("START", "END"), help=argparse.SUPPRESS)
    parser.add_argument("--flat-mb", type=float, default=50.0, help="allowed extra growth for 10x the records")
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0

    from devtools.warehouse import any_server, scratch_database_name
    from sandbox.process import SandboxProcess

    server = any_server()
    dbname = scratch_database_name("leads_bench")
    server.create_database(dbname)
    try:
        with SandboxProcess(seed=7, start=SMALL_START, end=HOUR_START + timedelta(hours=1),
                            events_per_hour=EVENTS_PER_HOUR, leadconduit_api_key=KEY) as sandbox:
            env = {
                **os.environ,
                "AIRFLOW_CONN_LEADS_WAREHOUSE": server.airflow_conn(dbname),
                "AIRFLOW_CONN_LEADCONDUIT_DEFAULT": json.dumps(
                    {"conn_type": "leadconduit", "host": sandbox.leadconduit_url, "password": KEY}),
            }
            subprocess.run([sys.executable, "-m", "lead_pipelines.common.warehouse", "migrate"], env=env,
                           check=True, capture_output=True)
            small = _land(env, SMALL_START, SMALL_START + timedelta(minutes=6))
            large = _land(env, HOUR_START, HOUR_START + timedelta(hours=1))
            rerun = _land(env, HOUR_START, HOUR_START + timedelta(hours=1))
            truth = sandbox.client.leadconduit_truth(HOUR_START, HOUR_START + timedelta(hours=1))
    finally:
        server.drop_database(dbname)
        server.stop()

    rows = [("first load, small window", small), ("first load, large window", large), ("unchanged re-run, large", rerun)]
    print(f"{'run':<26} {'records':>8} {'seconds':>8} {'records/s':>10} {'baseline MB':>12} {'peak MB':>8} {'growth MB':>10}")
    for name, r in rows:
        growth = r["peak_mb"] - r["baseline_mb"]
        print(f"{name:<26} {r['records']:>8} {r['seconds']:>8.1f} {r['records'] / r['seconds']:>10.0f} "
              f"{r['baseline_mb']:>12.0f} {r['peak_mb']:>8.0f} {growth:>10.1f}")
    extra = (large["peak_mb"] - large["baseline_mb"]) - (small["peak_mb"] - small["baseline_mb"])
    ratio = large["records"] / max(small["records"], 1)
    ok = (extra < args.flat_mb and large["inserted"] == truth["count"] and rerun["unchanged"] == truth["count"])
    print(f"\n{ratio:.1f}x the records grew peak RSS by {extra:+.1f} MB more (limit {args.flat_mb:.0f} MB); "
          f"landed {large['inserted']} of {truth['count']} events; re-run unchanged {rerun['unchanged']}: "
          f"{'FLAT' if ok else 'NOT FLAT'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
