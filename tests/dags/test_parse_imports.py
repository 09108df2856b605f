"""Parsing the DAG files imports nothing heavy: every task pays its DAG file's imports before ``execute``.

The time itself is the bench's (``make bench-parse``); here, what the files pull in at parse time.
"""

from __future__ import annotations

from bench.parse_dags import HEAVY, child_env, dag_files, markdown, measure, summarise
from devtools.paths import DAGS

#: unified_leads' quality gate is made of the common-sql check operators: they are its tasks.
GATE_OPERATORS = {"airflow.providers.common.sql", "sqlparse"}


def test_the_dag_files_import_no_heavy_module_at_parse_time(tmp_path):
    result = measure(DAGS, "task", child_env(tmp_path))

    assert "error" not in result and result["errors"] == {}, result
    assert {"leadconduit_sync", "getlandy_sync", "leadboxer_sync", "pirsch_sync", "giosg_sync",
            "unified_leads"} <= set(result["dags"])
    assert set(result["heavy"]) <= GATE_OPERATORS, f"imported at parse time: {result['heavy']}"
    assert "psycopg" in HEAVY and "requests" in HEAVY


def test_the_parse_report_names_each_file_its_verdict_and_heavy_imports():
    runs = {"a_sync.py": {"task": [{"seconds": s, "runner_seconds": 1.0, "process_seconds": 2.0, "dags": ["a"],
                                    "errors": {}, "heavy": []} for s in (0.02, 0.03, 0.9)],
                          "cold": [{"seconds": 1.3, "runner_seconds": 0.0, "process_seconds": 1.6, "dags": ["a"],
                                    "errors": {}, "heavy": []}]},
            "b_sync.py": {"task": [{"seconds": 0.7, "runner_seconds": 1.0, "process_seconds": 2.0, "dags": ["b"],
                                    "errors": {}, "heavy": ["psycopg"]}],
                          "cold": [{"error": "boom"}]}}

    summary = summarise(runs, target=0.5)

    assert summary["files"]["a_sync.py"]["task"]["seconds"]["median"] == 0.03
    assert summary["files"]["a_sync.py"]["met"] is True
    assert summary["files"]["b_sync.py"]["met"] is False and not summary["ok"]
    text = markdown(summary)
    assert "| a_sync.py | a | 0.030 s (0.020–0.900) |" in text
    assert "MISSED" in text and "psycopg" in text and "b_sync.py (cold): boom" in text
    assert [p.name for p in dag_files()] == sorted(p.name for p in DAGS.glob("*.py"))
