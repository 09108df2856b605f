"""A real Airflow, as ``make airflow`` starts it (:class:`devtools.airflow_local.LocalAirflow`), through its REST API.

One ``airflow standalone`` (api-server, scheduler, dag-processor, triggerer, LocalExecutor) for the
module, on a private home, port and databases, with the sandbox behind every connection.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from devtools.airflow_local import LocalAirflow, session_members
from lead_pipelines import get_provider_info
from lead_pipelines.pools import pools
from lead_pipelines.registry import SOURCES

pytestmark = pytest.mark.slow

DAG_IDS = sorted({"leadconduit_sync", "getlandy_sync", "leadboxer_sync", "pirsch_sync", "giosg_sync",
                  "unified_leads", *(s.dag_id for s in SOURCES)})
#: The UI's name for each standard field in ``standard_fields`` (the provider says ``schema``).
STANDARD_FIELDS = {"host": "host", "login": "login", "password": "password", "port": "port",
                   "schema": "url_schema", "description": "description"}
BACKFILL_START = datetime(2024, 6, 1, tzinfo=timezone.utc)
BACKFILL_HOURS = 3


@pytest.fixture(scope="module")
def airflow(pg_server, tmp_path_factory):
    """A running local Airflow with every DAG parsed; stopped (databases dropped) after the module.

    Stopping it must leave nothing running: no process of Airflow's session, not the sandbox.
    """
    with LocalAirflow.private(pg_server, tmp_path_factory.mktemp("local-airflow")) as local:
        local.wait_for_dags(DAG_IDS)
        yield local
        session, sandbox = local.process.pid, local.sandbox.proc
    assert not session_members(session), "stop() left processes of airflow standalone's session running"
    assert sandbox.poll() is not None, "stop() left the sandbox running"


def test_every_dag_is_parsed_without_import_errors(airflow):
    dags = airflow.wait_for_dags(DAG_IDS)
    errors = airflow.api("GET", "/api/v2/importErrors").json()
    assert errors["total_entries"] == 0, errors["import_errors"]
    assert set(DAG_IDS) <= set(dags)
    assert all(dags[d]["is_paused"] for d in DAG_IDS), "new DAGs start paused"


def test_connections_are_stored_in_the_metadata_database(airflow):
    listed = airflow.api("GET", "/api/v2/connections", params={"limit": 100}).json()["connections"]
    by_id = {c["connection_id"]: c for c in listed}
    assert {"leads_warehouse", *(s.conn_id for s in SOURCES)} <= set(by_id)
    assert by_id["leads_warehouse"]["conn_type"] == "postgres"
    for source in SOURCES:
        assert by_id[source.conn_id]["conn_type"] == source.vendor
        assert by_id[source.conn_id]["host"] == airflow.sandbox.vendor_url(source.vendor)


@pytest.mark.parametrize("declared", get_provider_info()["connection-types"], ids=lambda c: c["connection-type"])
def test_connection_form_is_what_the_provider_declares(airflow, declared):
    metas = {m["connection_type"]: m for m in airflow.api("GET", "/ui/connections/hook_meta").json()}
    meta = metas[declared["connection-type"]]
    behaviour = declared["ui-field-behaviour"]
    assert (meta["hook_name"], meta["hook_class_name"]) == (declared["hook-name"], declared["hook-class-name"])
    for field, ui_name in STANDARD_FIELDS.items():
        shown = meta["standard_fields"][ui_name] or {}
        assert bool(shown.get("hidden")) == (field in behaviour["hidden-fields"]), field
        assert shown.get("title") == behaviour["relabeling"].get(field), field
        assert shown.get("placeholder") == behaviour["placeholders"].get(field), field
    extra = meta["extra_fields"] or {}
    assert set(extra) == set(declared["conn-fields"])
    for name, field in declared["conn-fields"].items():
        assert extra[name]["schema"]["title"] == field["label"], name
        assert extra[name]["schema"]["type"] == field["schema"]["type"], name


def test_the_password_field_is_relabelled_for_every_vendor(airflow):
    metas = {m["connection_type"]: m for m in airflow.api("GET", "/ui/connections/hook_meta").json()}
    for source in SOURCES:
        password = metas[source.vendor]["standard_fields"]["password"]
        assert password["title"] and password["title"] != "Password", source.vendor
        assert metas[source.vendor]["standard_fields"]["port"]["hidden"], source.vendor


def _form(airflow, source, wrong_secret: str | None = None) -> dict:
    """Return what the connection form posts to "Test" for ``source``'s stored connection.

    :param wrong_secret: Replace every secret (the password, and secret extras such as a client
        secret that could renew a token) with this, under a connection id of its own.
    """
    conn = json.loads(airflow.connections[source.conn_id])
    extra = conn.get("extra", {})
    if wrong_secret is not None:
        secrets = {f.name for f in source.connection_form.extra_fields if f.secret}
        extra = {k: wrong_secret if k in secrets else v for k, v in extra.items()}
        conn["password"] = wrong_secret
    return {"connection_id": source.conn_id if wrong_secret is None else f"{source.vendor}_typo",
            "conn_type": conn["conn_type"], "host": conn["host"], "login": conn.get("login"),
            "password": conn.get("password"), "extra": json.dumps(extra)}


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.vendor)
def test_test_connection_works_against_the_sandbox(airflow, source):
    answer = airflow.api("POST", "/api/v2/connections/test", json=_form(airflow, source))
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] is True, answer.json()["message"]


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.vendor)
def test_test_connection_fails_clearly_with_a_wrong_key(airflow, source):
    wrong = "wrong-key-5c1f0e"
    answer = airflow.api("POST", "/api/v2/connections/test", json=_form(airflow, source, wrong)).json()
    assert answer["status"] is False
    assert source.display_name in answer["message"], answer["message"]
    assert wrong not in answer["message"]


def test_pools_exist_with_their_sizes(airflow):
    listed = {p["name"]: p for p in airflow.api("GET", "/api/v2/pools", params={"limit": 100}).json()["pools"]}
    expected = pools()
    assert {s.pool for s in SOURCES if s.pool} == set(expected)
    for name, pool in expected.items():
        assert (listed[name]["slots"], listed[name]["description"]) == (pool["slots"], pool["description"])


def test_asset_graph_links_raw_tables_through_unified_leads_to_marts(airflow):
    graph = airflow.api("GET", "/ui/dependencies").json()
    labels = {n["id"]: n["label"] for n in graph["nodes"]}
    edges = {(labels.get(e["source_id"], e["source_id"]), labels.get(e["target_id"], e["target_id"]))
             for e in graph["edges"]}
    feeds = {src for src, dst in edges if dst == "unified_leads"}
    made = {dst for src, dst in edges if src == "unified_leads"}
    assert "raw.leadconduit_events" in feeds and ("leadconduit_sync", "raw.leadconduit_events") in edges
    assert all(f.startswith("raw.") for f in feeds), feeds
    assert "mart.unified_leads" in made and "push.pirsch_events" in made, made


def test_a_backfill_lands_each_window_once_with_its_own_interval(airflow):
    dag_id = "leadconduit_sync"
    windows = [(BACKFILL_START + timedelta(hours=h), BACKFILL_START + timedelta(hours=h + 1))
               for h in range(BACKFILL_HOURS)]
    assert airflow.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False}).status_code == 200
    created = airflow.api("POST", "/api/v2/backfills", json={
        "dag_id": dag_id, "from_date": windows[0][0].isoformat(), "to_date": windows[-1][0].isoformat(),
        "max_active_runs": 2})
    assert created.status_code == 200, created.text
    runs = _wait_for_backfill_runs(airflow, dag_id, created.json()["id"], len(windows))
    assert [r["state"] for r in runs] == ["success"] * len(windows), runs
    intervals = {r["dag_run_id"]: (_ts(r["data_interval_start"]), _ts(r["data_interval_end"])) for r in runs}
    assert sorted(intervals.values()) == windows

    audit = airflow.warehouse_query(
        "SELECT run_id, window_start, window_end, airflow_run_id FROM ops.sync_runs "
        "WHERE vendor = 'leadconduit' AND status = 'success' AND window_start < %s ORDER BY window_start",
        (windows[-1][1],))
    assert [(start, end) for _, start, end, _ in audit] == windows
    assert all(intervals[run] == (start, end) for _, start, end, run in audit)
    for run_id, start, end, _ in audit:
        landed = {r for (r,) in airflow.warehouse_query(
            "SELECT record_id FROM raw.leadconduit_events WHERE first_run_id = %s", (run_id,))}
        truth = {str(i) for i in airflow.sandbox.client.truth("leadconduit", start, end)["ids"]}
        assert landed == truth and truth, (start, len(landed), len(truth))
    (total,) = airflow.warehouse_query("SELECT count(*) FROM raw.leadconduit_events")[0]
    assert total == sum(len(airflow.sandbox.client.truth("leadconduit", s, e)["ids"]) for s, e in windows)


def _wait_for_backfill_runs(airflow, dag_id: str, backfill_id: int, count: int, timeout: float = 240.0) -> list:
    """Wait until the backfill's runs are all finished; return them oldest window first."""
    deadline = time.monotonic() + timeout
    while True:
        listed = airflow.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100}).json()["dag_runs"]
        runs = sorted((r for r in listed if r.get("run_type") == "backfill"), key=lambda r: r["data_interval_start"])
        if len(runs) == count and all(r["state"] in ("success", "failed") for r in runs):
            return runs
        if time.monotonic() > deadline:
            raise TimeoutError(f"backfill {backfill_id} not finished in {timeout:.0f} s: "
                               f"{[(r['dag_run_id'], r['state']) for r in runs]}")
        time.sleep(2)


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
