"""This project: the LeadConduit source operator landing windows as Airflow's task runner runs it.

The process first does what a task process has done before ``execute``: imports Airflow's task
runner and parses the DAG file the way the DagBag does (and, with ``preload``, imports the rest of the
package, which ``execute`` would import on first use). Then, per window, it takes a copy of the
DAG's ``land_events`` task (``prepare_for_execution``, as the runner does) and calls ``execute``
with the run's context, inside the executor safeguard's context as the runner sets it. The
connections come from ``AIRFLOW_CONN_*`` variables; the warehouse is migrated already.
"""

from __future__ import annotations

import contextvars
import hashlib
import importlib.machinery
import importlib.util
import sys
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench.lines.measure import Meter, report, spec_from_argv


def load_dag_file(path: str) -> Any:
    """Import a DAG file under a unique module name, as Airflow's DagBag does, and return its module."""
    # airflow.utils.file.get_unique_dag_module_name's rule, without importing Airflow before the file does.
    digest = hashlib.sha1(path.encode(), usedforsecurity=False).hexdigest()
    name = f"unusual_prefix_{digest}_{Path(path).stem.replace('.', '_').replace('-', '_')}"
    loader = importlib.machinery.SourceFileLoader(name, path)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader))
    sys.modules[name] = module
    loader.exec_module(module)
    return module


def preload(package: str) -> None:
    """Import every module of ``package``: what ``execute`` would import on first use, done before the baseline."""
    import pkgutil

    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, f"{package}."):
        importlib.import_module(info.name)


def context_for(dag: Any, task: Any, start: datetime, end: datetime, number: int) -> dict[str, Any]:
    """Return the parts of a task context the operator reads: the data interval, params and run ids."""
    run_id = f"bench__{start.isoformat()}__{number}"
    return {
        "data_interval_start": start,
        "data_interval_end": end,
        "params": dag.params.dump(),
        "run_id": run_id,
        "dag_run": SimpleNamespace(run_id=run_id),
        "ti": SimpleNamespace(dag_id=dag.dag_id, task_id=task.task_id, try_number=1),
    }


def main() -> None:
    """Land each window of the spec in turn and report totals and per-window times."""
    spec = spec_from_argv()
    import airflow.sdk.execution_time.task_runner  # noqa: F401 - loaded in every task process
    from airflow.sdk.bases.operator import ExecutorSafeguard

    dag = load_dag_file(spec["dag_file"]).dag
    if spec.get("preload"):
        # As for every other line, the baseline is taken after all the code is loaded, so the growth is
        # what the records add; the small-window line leaves this off to time a task as it starts.
        preload("lead_pipelines")
    task = dag.get_task(spec["task_id"])
    windows = [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in spec["windows"]]
    profiler = None
    if spec.get("profile"):
        import cProfile

        profiler = cProfile.Profile()
    totals = dict.fromkeys(("records", "inserted", "updated", "unchanged", "stale", "quarantined",
                            "http_requests", "http_retries", "pages"), 0)
    window_seconds = []
    meter = Meter()
    for number, (start, end) in enumerate(windows, 1):
        began = time.perf_counter()
        op = task.prepare_for_execution()
        context = context_for(dag, op, start, end, number)
        run = contextvars.copy_context()
        run.run(ExecutorSafeguard.tracker.set, op)
        if profiler is not None:
            profiler.enable()
        counts = run.run(op.execute, context)
        if profiler is not None:
            profiler.disable()
        window_seconds.append(time.perf_counter() - began)
        for key in totals:
            totals[key] += counts[key]
    measured = meter.stop()
    if profiler is not None:
        profiler.dump_stats(spec["profile"])
    report(**measured, **totals, rows_written=totals["inserted"] + totals["updated"], windows=len(windows),
           window_seconds=window_seconds)


if __name__ == "__main__":
    main()
