"""`make bench-parse`: what parsing each DAG file costs a task, the way Airflow's task runner pays it.

Every task process parses its DAG file before ``execute``. For each file under ``dags/`` (those
Airflow's heuristic would parse) and each repeat, a fresh interpreter:

- ``task``: first imports what the task runner has loaded before it parses (``airflow.sdk``, its
  ``task_runner`` and the DagBag), then times ``DagBag(dag_folder=<file>)``: what the DAG file adds
  to every task, the package's imports included. The headline, against a target of 0.5 s.
- ``cold``: times the same ``DagBag`` as the process's first act (Airflow's own imports included),
  for scale.

The ``task`` process also lists the heavy modules (database driver, HTTP, retry, JSON, phone
numbers, SQL providers) the file pulled in: those belong inside ``execute``, not at parse time.
Medians over ``--repeats`` go to ``<results-dir>/<name>.md`` and ``.json`` and are printed.
Module bytecode is compiled first, as in a deployment.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from devtools.paths import DAGS, ROOT

RESULTS = ROOT / "bench" / "results"
TARGET_SECONDS = 0.5
MODES = ("task", "cold")
#: Top-level modules (or module prefixes) a DAG file must not import at parse time unless unavoidable.
HEAVY = ("psycopg", "requests", "tenacity", "orjson", "phonenumbers", "sqlparse", "urllib3",
         "airflow.providers.common.sql", "airflow.providers.http", "airflow.providers.postgres.hooks",
         "lead_pipelines.common.landing", "lead_pipelines.common.sync", "lead_pipelines.common.http_hook")
RESULT_PREFIX = "PARSE-RESULT "

#: The child: a fresh interpreter timing one DagBag of one file.
CHILD = """
import json, sys, time
began = time.perf_counter()
path, mode, prefix, heavy = sys.argv[1], sys.argv[2], sys.argv[3], tuple(sys.argv[4].split(","))
runner = 0.0
if mode == "task":
    import airflow.sdk  # noqa: F401
    import airflow.dag_processing.dagbag  # noqa: F401
    import airflow.sdk.execution_time.task_runner  # noqa: F401
    runner = time.perf_counter() - began
before = set(sys.modules)
start = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=path)
seconds = time.perf_counter() - start
added = set(sys.modules) - before
found = sorted({h for h in heavy for m in added if m == h or m.startswith(h + ".")})
print(prefix + json.dumps({"seconds": seconds, "runner_seconds": runner, "dags": sorted(bag.dag_ids),
                           "errors": {k: str(v)[-500:] for k, v in bag.import_errors.items()},
                           "modules_added": len(added), "heavy": found if mode == "task" else []}))
"""


def dag_files(folder: Path = DAGS) -> list[Path]:
    """Return the DAG files Airflow would parse: those that mention both "airflow" and "dag"."""
    found = []
    for path in sorted(folder.glob("*.py")):
        text = path.read_text().lower()
        if "airflow" in text and "dag" in text:
            found.append(path)
    return found


def child_env(home: Path, dags: Path = DAGS) -> dict[str, str]:
    """Return the environment of a parse process: a private Airflow home, no connections, nothing to scan."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
    })
    return env


def measure(path: Path, mode: str, env: dict[str, str]) -> dict[str, Any]:
    """Parse one DAG file in a fresh interpreter and return its timings (or ``{"error": ...}``).

    :param path: The DAG file.
    :param mode: ``task`` (after the task runner's imports) or ``cold``.
    :param env: The process environment.
    """
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, str(path), mode, RESULT_PREFIX, ",".join(HEAVY)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        return {"error": (done.stderr or done.stdout)[-1500:] or f"exit status {done.returncode}"}
    result = json.loads(lines[-1][len(RESULT_PREFIX):])
    result["process_seconds"] = time.perf_counter() - began
    return result


def run(files: list[Path], repeats: int, say=print) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Measure every file in every mode, ``repeats`` rounds interleaved (a slow moment hits all files alike)."""
    found: dict[str, dict[str, list[dict[str, Any]]]] = {p.name: {m: [] for m in MODES} for p in files}
    with tempfile.TemporaryDirectory(prefix="parse-dags-") as home:
        env = child_env(Path(home), files[0].parent if files else DAGS)
        for round_ in range(1, repeats + 1):
            for path in files:
                for mode in MODES:
                    result = measure(path, mode, env)
                    found[path.name][mode].append(result)
                    shown = result.get("error", "").splitlines()[-1:] or [f"{result['seconds']:.3f} s"]
                    say(f"[{round_}/{repeats}] {path.name} {mode}: {shown[0]}")
    return found


def summarise(found: dict[str, dict[str, list[dict[str, Any]]]], target: float = TARGET_SECONDS) -> dict[str, Any]:
    """Return the medians per file and mode, the heavy imports, and whether each file meets the target."""
    files = {}
    for name, modes in found.items():
        entry: dict[str, Any] = {}
        for mode, runs in modes.items():
            good = [r for r in runs if "error" not in r]
            entry[mode] = {key: _stats([r[key] for r in good]) for key in ("seconds", "runner_seconds", "process_seconds")}
            entry[mode]["errors"] = [r["error"] for r in runs if "error" in r] + [
                f"{k}: {v}" for r in good for k, v in r["errors"].items()]
        task_runs = [r for r in modes.get("task", []) if "error" not in r]
        entry["heavy"] = sorted({h for r in task_runs for h in r["heavy"]})
        entry["dags"] = sorted({d for r in task_runs for d in r["dags"]})
        median = (entry.get("task", {}).get("seconds") or {}).get("median")
        entry["met"] = None if median is None else median < target and not entry["task"]["errors"]
        files[name] = entry
    return {"target_seconds": target, "repeats": max((len(r) for m in found.values() for r in m.values()), default=0),
            "python": platform.python_version(), "machine": _machine(), "load_average": _load(), "files": files,
            "ok": all(f["met"] for f in files.values())}


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _stats(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores"


def _fmt(stats: dict[str, float] | None) -> str:
    if stats is None:
        return "—"
    spread = f" ({stats['min']:.3f}–{stats['max']:.3f})" if stats["n"] > 1 else ""
    return f"{stats['median']:.3f} s{spread}"


def table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Return the per-file table: header and rows."""
    header = ["DAG file", "DAGs", "parse in a task process (DagBag, after the runner's imports)",
              "runner's own imports", "cold: DagBag first thing", f"< {summary['target_seconds']} s?",
              "heavy modules imported at parse time"]
    rows = []
    for name, entry in summary["files"].items():
        task, cold = entry.get("task", {}), entry.get("cold", {})
        verdict = {True: "met", False: "MISSED", None: "not measured"}[entry["met"]]
        rows.append([name, ", ".join(entry["dags"]) or "—", _fmt(task.get("seconds")), _fmt(task.get("runner_seconds")),
                     _fmt(cold.get("seconds")), verdict, ", ".join(entry["heavy"]) or "none"])
    return header, rows


def markdown(summary: dict[str, Any]) -> str:
    """Render the results as markdown: the table, then any errors."""
    header, rows = table(summary)
    load = summary.get("load_average")
    lines = [f"# DAG parse time ({summary['repeats']} repeats, medians; Python {summary['python']}, "
             f"{summary['machine']})", "",
             "Each file parsed by `DagBag` in a fresh interpreter; the target is per file. "
             + (f"Load average at the end: {', '.join(map(str, load))} (1, 5, 15 min)." if load else ""), "",
             "| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    errors = [f"- {name} ({mode}): {err.strip().splitlines()[-1] if err.strip() else err}"
              for name, entry in summary["files"].items() for mode in MODES for err in entry.get(mode, {}).get("errors", [])]
    if errors:
        lines += ["", "## Errors", "", *errors]
    return "\n".join(lines) + "\n"


def text(summary: dict[str, Any]) -> str:
    """Render the table as fixed-width text, for the terminal."""
    header, rows = table(summary)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in [header, *rows])


def write(summary: dict[str, Any], folder: Path, name: str) -> tuple[Path, Path]:
    """Write ``<name>.md`` and ``<name>.json`` under ``folder``; return both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    md, js = folder / f"{name}.md", folder / f"{name}.json"
    md.write_text(markdown(summary))
    js.write_text(json.dumps(summary, indent=2) + "\n")
    return md, js


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.parse_dags", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="fresh interpreters per file and mode (default 5)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--name", default="parse", help="results file stem (default parse)")
    parser.add_argument("--target", type=float, default=TARGET_SECONDS, help="seconds per file (default 0.5)")
    parser.add_argument("--no-compile", action="store_true", help="skip compiling bytecode first")
    parser.add_argument("--dags", type=Path, default=DAGS,
                        help="the DAG folder (default dags/; the package is imported from PYTHONPATH or the venv)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table, write the results; exit 1 when a file fails to parse (a missed target is reported)."""
    args = parse_args(argv)
    if not args.no_compile:
        from bench.run import compile_bytecode

        compile_bytecode()
    summary = summarise(run(dag_files(args.dags), args.repeats), args.target)
    md, js = write(summary, args.results_dir, args.name)
    print(text(summary))
    print(f"results: {md}, {js}")
    failed = [name for name, entry in summary["files"].items() if any(entry[m]["errors"] for m in MODES)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
