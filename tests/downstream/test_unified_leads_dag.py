"""unified_leads end to end: the five sources land, the DAG joins, aggregates, checks and pushes."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from lead_pipelines.common.windows import Window

DAY = Window(datetime(2024, 6, 1, tzinfo=timezone.utc), datetime(2024, 6, 2, tzinfo=timezone.utc))
HOUR = Window(datetime(2024, 6, 1, 23, tzinfo=timezone.utc), datetime(2024, 6, 2, tzinfo=timezone.utc))
LEAD_DAGS = ("leadconduit_sync", "getlandy_sync", "leadboxer_sync")


def received(sandbox) -> list[dict]:
    writes = sandbox.client._call("GET", "/pirsch/writes")["writes"]
    return [w["body"] for w in writes if w["endpoint"].startswith("event")]


def outbox(warehouse) -> list[tuple]:
    return warehouse.query("SELECT push_key, state, kind FROM ops.push_outbox ORDER BY push_key")


def reports(sandbox) -> list[str]:
    from lead_pipelines.leadconduit.hook import LeadConduitHook

    return sorted(r["name"] for r in LeadConduitHook().list_reports())


@pytest.fixture(scope="module")
def landed(runner, warehouse, sandbox):
    """The last hour of a day of every lead source, and that day of Pirsch and giosg, landed."""
    sandbox.client.reset()
    warehouse.reset()
    for dag_id in LEAD_DAGS:
        assert runner.run_window(dag_id, HOUR).state == "success", dag_id
    for dag_id in ("pirsch_sync", "giosg_sync"):
        assert runner.run_window(dag_id, DAY).state == "success", dag_id
    run = runner.run_window("unified_leads", HOUR)
    return {"run": run, "outbox": outbox(warehouse), "received": received(sandbox)}


def test_a_run_builds_checks_and_pushes_each_aggregate_once(landed, warehouse, sandbox):
    run = landed["run"]
    assert run.state == "success", run.task_states
    assert all(state == "success" for state in run.task_states.values()), run.task_states
    keys = [e["event_meta"]["lp_key"] for e in landed["received"]]
    assert len(keys) == len(set(keys)) > 10
    assert sorted(keys) == sorted(k for k, state, _ in landed["outbox"] if state == "sent")
    assert [k for k, state, _ in landed["outbox"] if state != "sent"] == []
    # The hour's aggregates and the whole day's (its last hour ran): lead sources and engagement.
    grains = {(e["event_meta"]["grain"], e["event_meta"]["source"]) for e in landed["received"]}
    assert {("hour", "leadconduit"), ("hour", "getlandy"), ("day", "leadconduit"), ("day", "pirsch"),
            ("day", "giosg")} <= grains
    times = [e["time"] for e in landed["received"]]
    assert times == sorted(times)


def test_no_pushed_event_carries_personal_data(landed, warehouse):
    emails = {e for (e,) in warehouse.query("SELECT email_key FROM mart.lead_links WHERE email_key IS NOT NULL")}
    phones = {p for (p,) in warehouse.query("SELECT phone_key FROM mart.lead_links WHERE phone_key IS NOT NULL")}
    raw_values = {v for (v,) in warehouse.query("""
        SELECT payload #>> '{vars,lead,email,raw}' FROM raw.leadconduit_events
        UNION SELECT payload #>> '{vars,lead,phone_1,raw}' FROM raw.leadconduit_events
        UNION SELECT payload ->> 'email' FROM raw.leadboxer_leads UNION SELECT payload ->> 'phone' FROM raw.leadboxer_leads
        UNION SELECT payload ->> 'last_ip_number' FROM raw.leadboxer_leads
    """) if v}
    assert len(emails) > 100 and len(phones) > 100
    text = repr(landed["received"]).lower()
    digits = re.sub(r"\D", "", text)
    assert not [e for e in emails if e in text]
    assert not [p for p in phones if p.lstrip("+") in digits and len(p) > 11 and p.lstrip("+") in text]
    assert not [v for v in raw_values if len(v) > 6 and v.lower() in text]
    assert all(set(e) <= {"event_name", "event_meta", "time", "url", "ip", "user_agent", "non_interactive",
                          "disable_bot_filter"} for e in landed["received"])


def test_leadconduit_reports_exist_once_and_reconcile(landed, warehouse, sandbox):
    assert reports(sandbox) == ["lead-pipelines: leads by flow", "lead-pipelines: leads by source"]
    rows = warehouse.query("SELECT report_name, group_key, column_name, vendor_value, warehouse_value, within_tolerance "
                           "FROM ops.report_reconciliation WHERE window_start = %s", (HOUR.start,))
    assert len(rows) > 10 and all(r[5] and r[3] == r[4] for r in rows), rows


def test_rerunning_the_window_rebuilds_the_same_marts_and_sends_nothing(landed, runner, warehouse, sandbox):
    before = warehouse.query("SELECT grain, period_start, source, channel, touchpoints, new_leads, "
                             "multi_source_leads, visitors FROM mart.lead_aggregates ORDER BY 1, 2, 3, 4")
    run = runner.run_window("unified_leads", HOUR)
    assert run.state == "success", run.task_states
    after = warehouse.query("SELECT grain, period_start, source, channel, touchpoints, new_leads, "
                            "multi_source_leads, visitors FROM mart.lead_aggregates ORDER BY 1, 2, 3, 4")
    assert after == before
    assert received(sandbox) == landed["received"] and outbox(warehouse) == landed["outbox"]
    assert reports(sandbox) == ["lead-pipelines: leads by flow", "lead-pipelines: leads by source"]


PUSH_SCRIPT = """
import sys
from datetime import datetime
from lead_pipelines.common.warehouse import connect
from lead_pipelines.common.windows import Window
from lead_pipelines.pirsch.hook import PirschHook
from lead_pipelines.pirsch.push import push_aggregates
window = Window(datetime.fromisoformat(sys.argv[1]), datetime.fromisoformat(sys.argv[2]))
with connect() as conn:
    push_aggregates(conn, PirschHook(), window)
"""


def test_a_push_killed_mid_call_then_rerun_sends_each_aggregate_once(landed, runner, warehouse, sandbox):
    import os
    import signal
    import subprocess
    import sys
    import time

    from devtools.paths import PLUGINS, ROOT

    window = Window(HOUR.start - timedelta(hours=1), HOUR.start)
    assert runner.run_window("unified_leads", window, only="build_marts").state == "success"
    # The vendor stalls on the batch; the task is killed (SIGKILL: no clean-up) while it waits.
    sandbox.client.add_fault("pirsch", "slow", path="/api/v1/event/batch", delay=1.5)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PLUGINS), str(ROOT)])}
    proc = subprocess.Popen([sys.executable, "-c", PUSH_SCRIPT, window.start.isoformat(), window.end.isoformat()],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    # The outbox marks a batch 'sending' (committed) just before the call.
    while not warehouse.query("SELECT 1 FROM ops.push_outbox WHERE state = 'sending'"):
        assert time.monotonic() < deadline and proc.poll() is None, "the push never got to the call"
        time.sleep(0.02)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(1.5)  # the vendor finishes the call it was stalling on: the events were accepted
    assert [r for r in sandbox.client.requests("pirsch") if r["path"] == "/api/v1/event/batch"][-1]["fault"] == "slow"

    run = runner.run_window("unified_leads", window)  # the cleared task, run again

    assert run.state == "success", run.task_states
    keys = [e["event_meta"]["lp_key"] for e in received(sandbox)]
    assert len(keys) == len(set(keys)) > len(landed["received"])
    assert sorted(keys) == sorted(k for k, state, _ in outbox(warehouse) if state == "sent")
    assert warehouse.query("SELECT count(*) FROM ops.push_outbox WHERE state <> 'sent'") == [(0,)]
    assert warehouse.query("SELECT count(*) FROM ops.push_outbox WHERE resolved_by = 'readback'")[0][0] > 0


def test_a_backfill_over_the_same_hours_sends_nothing_twice(landed, runner, warehouse, sandbox):
    before = received(sandbox)
    for h in range(20, 24):
        start = datetime(2024, 6, 1, h, tzinfo=timezone.utc)
        assert runner.run_window("unified_leads", Window(start, start + timedelta(hours=1))).state == "success"
    keys = [e["event_meta"]["lp_key"] for e in received(sandbox)]
    assert len(keys) == len(set(keys))
    assert sorted(keys) == sorted(k for k, state, _ in outbox(warehouse) if state == "sent")
    assert {e["event_meta"]["lp_key"] for e in before} <= set(keys)


def test_a_failing_gate_names_the_check_and_stops_the_pushes(landed, runner, warehouse, sandbox):
    # A LeadConduit submission missing from the marts: the aggregates no longer add up to raw.
    before = received(sandbox)
    warehouse.execute("DELETE FROM mart.touchpoints WHERE record_id = (SELECT record_id FROM mart.touchpoints "
                      "WHERE source = 'leadconduit' AND occurred_at >= %s ORDER BY record_id LIMIT 1)", (HOUR.start,))
    try:
        run = runner.run_window("unified_leads", HOUR)
        assert run.state == "failed"
        assert run.task_states["check_outcomes_match_raw"] == "failed"
        assert run.task_states["check_touchpoints_add_up"] == "success"
        assert run.task_states["push_pirsch_events"] == "upstream_failed"
        assert run.task_states["sync_leadconduit_reports"] == "upstream_failed"
        assert received(sandbox) == before
        from airflow.providers.common.sql.operators.sql import SQLCheckOperator  # noqa: F401 - what the gate runs on

        detail = warehouse.query(_rendered("check_outcomes_match_raw"))[0]
        assert detail[0] is False and "off by" in detail[1]
        assert re.search(r"off by (-1, 0, 0|0, -1, 0|0, 0, -1)", detail[1]), detail[1]
    finally:
        # Put the touchpoint back for the tests after this one.
        warehouse.execute("UPDATE mart.build_state SET last_run_id = 0 WHERE raw_table = 'raw.leadconduit_events'")


def _rendered(check: str) -> str:
    from jinja2 import Template

    from lead_pipelines.common.warehouse import sql_dir

    text = (sql_dir() / "gate" / f"{check}.sql").read_text()

    class TI:
        @staticmethod
        def xcom_pull(task_ids):
            return {"window_start": HOUR.start.isoformat(), "window_end": HOUR.end.isoformat()}

    return Template(text).render(ti=TI())


def test_asset_events_carry_the_window_and_its_counts(landed):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        def latest(name: str) -> dict:
            event = (session.query(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                     .filter(AssetModel.name == name).order_by(AssetEvent.id.desc()).first())
            return dict(event.extra)

        raw = latest("raw.getlandy_leads")
        mart = latest("mart.unified_leads")
    assert (raw["window_start"], raw["window_end"]) == (HOUR.start.isoformat(), HOUR.end.isoformat())
    assert raw["records"] > 0 and {"inserted", "updated", "unchanged", "quarantined"} <= set(raw)
    assert mart["window_start"] == HOUR.start.isoformat() and mart["aggregate_rows"] > 0
