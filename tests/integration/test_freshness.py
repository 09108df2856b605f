"""Freshness: check_freshness judges scheduled runs, records each stream in ops and fails on a late one."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from airflow.utils.types import DagRunType

from lead_pipelines.common.factory import build_sync_dag
from lead_pipelines.common.freshness import TASK_ID, StaleDataError, check_freshness
from lead_pipelines.common.operators import VendorToWarehouseOperator
from lead_pipelines.common.settings import SourceSettings, StreamSettings, utc
from lead_pipelines.common.windows import Window
from lead_pipelines.giosg.settings import SOURCE as GIOSG
from lead_pipelines.leadconduit.settings import SOURCE as LEADCONDUIT

NOW = datetime(2024, 6, 1, 12, 5, tzinfo=timezone.utc)
RUN_ID = "scheduled__2024-06-01T11:00:00+00:00"


def context(run_type=DagRunType.SCHEDULED, run_id=RUN_ID) -> dict:
    return {"dag_run": SimpleNamespace(run_type=run_type, run_id=run_id), "run_id": run_id}


def landed(warehouse, vendor: str, stream: str, end: datetime) -> None:
    warehouse.execute("INSERT INTO ops.sync_state (vendor, stream, watermark, last_success_run_id) "
                      "VALUES (%s, %s, %s, 1)", (vendor, stream, end))


def checks(warehouse) -> list[tuple]:
    return warehouse.query("SELECT vendor, stream, checked_at, last_window_end, lag_seconds, allowed_seconds, fresh, "
                           "dag_run_id FROM ops.freshness_checks ORDER BY check_id")


def test_a_scheduled_run_with_an_old_last_window_fails_naming_the_lag_and_records_it(clean_warehouse):
    landed(clean_warehouse, "leadconduit", "events", datetime(2024, 6, 1, 8, tzinfo=timezone.utc))

    with pytest.raises(StaleDataError) as excinfo:
        check_freshness(LEADCONDUIT, context(), warehouse_conn_id="leads_warehouse", now=NOW)

    assert isinstance(excinfo.value, AirflowFailException), "a late source fails at once, no retries"
    assert str(excinfo.value) == (
        "1 of 1 LeadConduit stream(s) late (freshness 2h00m): LeadConduit events: LATE, last window landed "
        "ends 2024-06-01T08:00:00+00:00, lag 4h05m vs allowed 2h00m")
    assert checks(clean_warehouse) == [("leadconduit", "events", NOW, datetime(2024, 6, 1, 8, tzinfo=timezone.utc),
                                        4 * 3600 + 300.0, 7200.0, False, RUN_ID)]


def test_a_fresh_source_passes_and_is_recorded(clean_warehouse):
    landed(clean_warehouse, "leadconduit", "events", datetime(2024, 6, 1, 12, tzinfo=timezone.utc))

    result = check_freshness(LEADCONDUIT, context(), warehouse_conn_id="leads_warehouse", now=NOW)

    assert [(r["stream"], r["lag_seconds"], r["fresh"]) for r in result] == [("events", 300.0, True)]
    assert [row[-2:] for row in checks(clean_warehouse)] == [(True, RUN_ID)]


@pytest.mark.parametrize("run_type", [DagRunType.MANUAL, DagRunType.BACKFILL_JOB, DagRunType.ASSET_TRIGGERED])
def test_manual_and_backfill_runs_are_skipped_and_record_nothing(clean_warehouse, run_type, caplog):
    landed(clean_warehouse, "leadconduit", "events", datetime(2024, 1, 1, tzinfo=timezone.utc))

    with pytest.raises(AirflowSkipException, match=f"scheduled runs only, not on a {run_type.value} run"):
        check_freshness(LEADCONDUIT, context(run_type), warehouse_conn_id="leads_warehouse", now=NOW)

    assert checks(clean_warehouse) == []
    assert any("judged on scheduled runs only" in r.getMessage() for r in caplog.records)


def test_a_mapped_stream_counts_its_latest_partition_and_a_stream_never_landed_is_late(clean_warehouse):
    landed(clean_warehouse, "giosg", "sidedata/wf-1", datetime(2024, 5, 25, tzinfo=timezone.utc))
    landed(clean_warehouse, "giosg", "sidedata/wf-2", datetime(2024, 6, 1, tzinfo=timezone.utc))

    with pytest.raises(StaleDataError) as excinfo:
        check_freshness(GIOSG, context(), warehouse_conn_id="leads_warehouse", now=NOW)

    assert "1 of 2 giosg stream(s) late" in str(excinfo.value)
    assert "workflows: no window has landed yet" in str(excinfo.value)
    assert {row[1]: (row[3], row[6]) for row in checks(clean_warehouse)} == {
        "workflows": (None, False), "sidedata": (datetime(2024, 6, 1, tzinfo=timezone.utc), True)}


def test_every_sync_dag_ends_with_the_check_as_a_teardown_of_all_its_landings():
    streams = (StreamSettings(name="parents"), StreamSettings(name="children", after="parents"),
               StreamSettings(name="per_parent", partitioned_by="parents"))
    source = SourceSettings(vendor="fake", display_name="Fake", dag_id="fake_sync", conn_id="fake_default",
                            cron="0 0 * * *", interval=timedelta(days=1), start_date=utc(2024, 1, 1),
                            streams=streams)
    operators = {s.name: type(s.name, (VendorToWarehouseOperator,), {"source": source, "stream": s}) for s in streams}

    check = build_sync_dag(source, operators, doc_md="fake").get_task(TASK_ID)

    assert check.upstream_task_ids == {"land_parents", "land_children", "land_per_parent"}
    assert check.is_teardown and not check.on_failure_fail_dagrun, "a failed landing still fails the DAG run"
    assert getattr(check.trigger_rule, "value", check.trigger_rule) == "all_done_setup_success", \
        "it runs when a landing failed"
    assert "ops.freshness_checks" in check.doc_md


def test_a_manual_run_lands_and_skips_the_check(runner, clean_warehouse, clean_sandbox):
    window = Window(datetime(2024, 6, 1, 3, tzinfo=timezone.utc), datetime(2024, 6, 1, 4, tzinfo=timezone.utc))

    run = runner.run_window("leadconduit_sync", window)

    assert run.state == "success" and run.task_states["land_events"] == "success"
    assert run.task_states[TASK_ID] == "skipped"
    assert checks(clean_warehouse) == []
