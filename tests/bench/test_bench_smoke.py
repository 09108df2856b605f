"""`make bench` in its smoke form: every line runs at a tiny size, once, and writes sane results.

The numbers themselves are not judged here (the machine running the tests is busy with other
things); what must not rot is the harness: every line starts, lands the records, is measured and
reported, and the result files are written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LANDING_LINES = {"raw_copy", "project", "project_hourly", "stock_airflow", "dlt"}
READ_LINES = {"http_ceiling", "http_parse"}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """Run ``python -m bench.run --smoke`` once, results in a scratch directory."""
    results = tmp_path_factory.mktemp("bench-results")
    cmd = [sys.executable, "-m", "bench.run", "--smoke", "--results-dir", str(results)]
    if os.environ.get("LEADS_TEST_EMBEDDED") == "1":
        cmd.append("--embedded")
    uv = ROOT / ".state" / "tools" / "bin" / "uv"
    if uv.exists():
        cmd += ["--uv", str(uv)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=280, check=False)
    return done, results


@pytest.mark.slow
def test_every_line_runs_and_the_results_are_written(smoke):
    done, results = smoke
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    summary = json.loads((results / "latest.json").read_text())
    markdown = (results / "latest.md").read_text()
    assert "| line | first load, records/s |" in markdown and "## Targets" in markdown
    assert summary["ok"]
    lines = {entry["key"]: entry for entry in summary["lines"]}
    assert set(lines) == LANDING_LINES | READ_LINES
    records = summary["config"]["records"]
    assert 1000 < records < 3000
    for key, entry in lines.items():
        phases = ("first",) if key in READ_LINES else ("first", "rerun")
        for phase in phases:
            part = entry[phase]
            if key == "dlt" and part["unavailable"]:
                # No network for PyPI: the line says why instead of failing the bench; the rest still counts.
                warnings.warn(f"dlt could not be installed: {part['problems'][0][:300]}", stacklevel=1)
                continue
            assert part["ok"], (key, phase, part["problems"])
            (run,) = part["runs"]
            assert run["records"] == records, (key, phase)
            assert 0 < run["seconds"] < 120, (key, phase, run["seconds"])
            assert 0 < run["baseline_mb"] <= run["peak_mb"] < 4096, (key, phase, run)
            assert run["growth_mb"] == pytest.approx(run["peak_mb"] - run["baseline_mb"])
            assert part["records_per_s"]["median"] > 0 and part["mb_per_s"]["median"] > 0
    # Our unchanged re-run writes nothing; stock Airflow and dlt rewrite every row.
    assert lines["project"]["rerun"]["runs"][0]["rows_written"] == 0
    assert lines["project_hourly"]["rerun"]["runs"][0]["rows_written"] == 0
    assert lines["project_hourly"]["first"]["runs"][0]["windows"] == summary["config"]["hours"]
    assert lines["project"]["ours_ratio_first"] is None and lines["raw_copy"]["ours_ratio_first"] > 0


@pytest.mark.slow
def test_the_extras_and_targets_are_reported(smoke):
    done, results = smoke
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    summary = json.loads((results / "latest.json").read_text())
    parse = summary["dag_parse"]
    assert set(parse) == {p.name for p in (ROOT / "dags").glob("*.py")}
    for modes in parse.values():
        assert not modes["task"]["errors"] and not modes["cold"]["errors"]
        assert 0 < modes["task"]["seconds"]["median"] < modes["cold"]["process_seconds"]["median"]
    small = summary["small_window"]
    assert small["ok"] and 300 <= small["records"] <= 500 and small["seconds"]["median"] > 0
    memory = summary["memory"]
    assert memory["ok"] and memory["records"] > summary["config"]["records"]
    targets = {t["target"]: t for t in summary["targets"]}
    assert len(targets) == 7 and all(t["met"] in (True, False, None) for t in targets.values())
    assert targets["unchanged re-run"]["met"] is not None
    assert "unified_leads" in " ".join(summary["notes"])
    # The same table goes to the terminal.
    assert "== targets ==" in done.stdout and "met?" in done.stdout
