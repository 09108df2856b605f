"""A DAG file's parse time in a fresh interpreter, the way a task process pays it before ``execute``.

``cold``: import the DAG file first thing, so its time includes Airflow's own SDK. ``task`` (the
default): first import what Airflow's task runner has loaded before it parses (its module and the
DagBag), then import the DAG file as the DagBag does: what the DAG file itself adds to every task.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

from bench.lines.measure import report, spec_from_argv  # noqa: E402 - the clock starts first


def main() -> None:
    """Import the DAG file and report how long each step took."""
    spec = spec_from_argv()
    runner_seconds = 0.0
    if spec["mode"] == "task":
        import airflow.dag_processing.dagbag  # noqa: F401 - the task runner's parse() imports it
        import airflow.sdk.execution_time.task_runner  # noqa: F401

        runner_seconds = time.perf_counter() - STARTED
    began = time.perf_counter()
    from bench.lines.project import load_dag_file

    module = load_dag_file(spec["dag_file"])
    seconds = time.perf_counter() - began
    dags = sorted(getattr(v, "dag_id", "") for v in vars(module).values() if type(v).__name__ == "DAG")
    report(seconds=seconds, runner_seconds=runner_seconds, total_seconds=time.perf_counter() - STARTED, dags=dags)


if __name__ == "__main__":
    main()
