"""Every DAG imports cleanly, carries the metadata a user relies on, and does no I/O at parse time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from devtools.paths import DAGS, PLUGINS, ROOT

PUBLIC_SYNC_DAGS = {"leadconduit_sync"}


@pytest.fixture(scope="session")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


@pytest.fixture(scope="session")
def dags(dagbag):
    return sorted(dagbag.dags.values(), key=lambda d: d.dag_id)


def test_every_dag_file_imports_without_error(dagbag):
    assert dagbag.import_errors == {}
    assert PUBLIC_SYNC_DAGS <= set(dagbag.dag_ids)


def test_every_dag_has_tags_owner_docs_and_retries(dags):
    for dag in dags:
        assert dag.tags and {"lead-pipelines"} <= set(dag.tags), dag.dag_id
        assert dag.owner not in ("", "airflow"), dag.dag_id
        assert dag.doc_md and len(dag.doc_md.strip()) > 100, dag.dag_id
        assert dag.default_args.get("retries", 0) >= 2, dag.dag_id
        for task in dag.tasks:
            assert task.retries >= 2, f"{dag.dag_id}.{task.task_id}"
            assert task.owner == dag.owner


def test_every_task_has_docs_of_its_own(dags):
    # The task's page in the UI: what it reads and writes, its window, how it fails.
    for dag in dags:
        for task in dag.tasks:
            doc = (task.doc_md or "").strip()
            where = f"{dag.dag_id}.{task.task_id}"
            assert len(doc) >= 120, f"{where} has no real doc_md: {doc!r}"
            assert doc != dag.doc_md.strip(), f"{where} repeats the DAG's docs"
            assert "fail" in doc.lower(), f"{where} does not say how it fails"


def test_sync_dags_run_on_data_intervals_one_at_a_time(dags):
    from airflow.sdk import CronDataIntervalTimetable

    for dag in (d for d in dags if d.dag_id in PUBLIC_SYNC_DAGS):
        # A cron string would give CronTriggerTimetable, whose runs have no data interval.
        assert isinstance(dag.timetable, CronDataIntervalTimetable), dag.dag_id
        assert dag.catchup is False and dag.max_active_runs == 1


def test_land_tasks_publish_their_raw_table_as_an_asset(dagbag):
    dag = dagbag.dags["leadconduit_sync"]
    land = dag.get_task("land_events")
    assert [(a.name, a.uri) for a in land.outlets] == [
        ("raw.leadconduit_events", "postgres://leads-warehouse:5432/leads/raw/leadconduit_events")
    ]
    assert land.upstream_task_ids == {"migrate_warehouse"}


def test_land_task_returns_counts_never_records(dagbag):
    from lead_pipelines.common.sync import SyncSummary

    summary = SyncSummary("leadconduit", "events", "a", "b", 1, "success").as_dict()
    assert set(summary) == {
        "vendor", "stream", "window_start", "window_end", "run_id", "status", "pages", "records", "inserted",
        "updated", "unchanged", "stale", "quarantined", "counted", "vendor_count", "http_requests", "http_retries",
        "http_wait_seconds", "http_paced_seconds", "lock_wait_seconds", "duration_seconds",
    }
    assert all(isinstance(v, (int, float, str, type(None))) for v in summary.values())


def test_airflow_plugin_scan_skips_the_package():
    # Airflow imports each plugins/ file as a top-level module named after the file; the package's
    # hook.py and settings.py (one per vendor) would collide, so .airflowignore hides it.
    from airflow._shared.module_loading.file_discovery import find_path_from_directory

    assert list(find_path_from_directory(str(PLUGINS), ".airflowignore", "glob")) == []


def scan_like_a_task(tmp_path, plugins_folder=None) -> dict:
    """In a fresh interpreter set up as the project's Airflow is, scan plugins and parse the DAGs as a task does.

    Returns the modules the scan left in ``sys.modules`` under a vendor file's name, the plugins
    found, and whatever the process printed about pathspec.
    """
    probe = textwrap.dedent(
        """
        import json, os, sys
        from pathlib import Path
        from devtools.airflow_env import configure
        configure(Path(sys.argv[1]))
        if sys.argv[2]:
            os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = sys.argv[2]
        from airflow.sdk import plugins_manager
        plugins_manager.integrate_macros_plugins()
        from airflow.dag_processing.dagbag import DagBag
        DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
        plugins, _ = plugins_manager._get_plugins()
        clashes = sorted(m for m in ("hook", "settings", "operators", "registry") if m in sys.modules)
        print(json.dumps({"plugins": sorted(p.name for p in plugins), "clashes": clashes}))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    out = subprocess.run([sys.executable, "-c", probe, str(tmp_path), str(plugins_folder or "")], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    printed = out.stdout + out.stderr
    report["pathspec_warnings"] = [line for line in printed.splitlines() if "GitWildMatchPattern" in line]
    return report


def test_a_task_process_logs_no_pathspec_deprecation(tmp_path):
    report = scan_like_a_task(tmp_path)
    assert report["pathspec_warnings"] == []
    assert report["clashes"] == []


def test_scanning_the_package_folder_would_warn_but_not_import_it(tmp_path):
    # Why the project's Airflow does not scan plugins/: Airflow 3.3.2 compiles the ignore file's glob
    # lines with pathspec's deprecated GitWildMatchPattern. The ignore file still keeps the package out.
    report = scan_like_a_task(tmp_path, PLUGINS)
    assert report["pathspec_warnings"], "the probe should see the warning where it is printed"
    assert report["clashes"] == []


def parse_with_io_blocked(folder, tmp_path) -> dict:
    """Parse ``folder`` in a fresh interpreter where network, connection, variable and DB calls raise."""
    probe = textwrap.dedent(
        """
        import json, socket, sys
        calls = []

        def refuse(name):
            def blocked(*args, **kwargs):
                calls.append(name)
                raise RuntimeError(f"parse-time I/O: {name}")
            return blocked

        real_connect = socket.socket.connect
        def connect(sock, address):
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                return refuse("socket.connect")(address)
            return real_connect(sock, address)
        socket.socket.connect = connect

        import psycopg, requests
        psycopg.connect = refuse("psycopg.connect")
        requests.Session.request = refuse("requests")
        from airflow.sdk import BaseHook, Variable
        BaseHook.get_connection = classmethod(refuse("BaseHook.get_connection"))
        Variable.get = staticmethod(refuse("Variable.get"))

        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag(dag_folder=sys.argv[1])
        print(json.dumps({"dags": sorted(bag.dag_ids), "errors": {k: str(v) for k, v in bag.import_errors.items()},
                          "calls": calls}))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    env.update({"AIRFLOW_HOME": str(tmp_path), "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/a.db"})
    out = subprocess.run([sys.executable, "-c", probe, str(folder)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_parsing_dags_does_no_io(tmp_path):
    report = parse_with_io_blocked(DAGS, tmp_path)
    assert report["errors"] == {}
    assert PUBLIC_SYNC_DAGS <= set(report["dags"])
    assert report["calls"] == []


def test_the_io_probe_catches_a_dag_that_reads_a_variable_at_parse_time(tmp_path):
    bad = tmp_path / "dags"
    bad.mkdir()
    (bad / "bad_dag.py").write_text(
        "from airflow.sdk import DAG, Variable\n"
        "window = Variable.get('window')\n"
        "dag = DAG(dag_id='bad', schedule=None)\n"
    )
    report = parse_with_io_blocked(bad, tmp_path)
    assert report["calls"] == ["Variable.get"]
    assert list(report["errors"]) and "parse-time I/O: Variable.get" in next(iter(report["errors"].values()))


def test_unified_leads_runs_on_the_raw_assets_with_a_time_fallback_and_gates_its_pushes(dagbag):
    from airflow.sdk import AssetOrTimeSchedule, CronDataIntervalTimetable

    dag = dagbag.dags["unified_leads"]
    assert isinstance(dag.timetable, AssetOrTimeSchedule)
    assert isinstance(dag.timetable.timetable, CronDataIntervalTimetable)
    watched = {a.name for a in dag.timetable.asset_condition.objects}
    assert {"raw.leadconduit_events", "raw.getlandy_leads", "raw.leadboxer_leads", "raw.pirsch_visitor",
            "raw.giosg_sidedata"} <= watched
    assert {a.name for a in dag.get_task("build_marts").outlets} == {
        "mart.lead_links", "mart.unified_leads", "mart.touchpoints", "mart.lead_aggregates"}
    checks = {t.task_id for t in dag.tasks if t.task_id.startswith("check_") and t.task_id != "check_params"}
    assert len(checks) == 5
    for push, asset in (("push_pirsch_events", "push.pirsch_events"),
                        ("sync_leadconduit_reports", "push.leadconduit_reports")):
        task = dag.get_task(push)
        assert checks <= task.upstream_task_ids and [a.name for a in task.outlets] == [asset]
