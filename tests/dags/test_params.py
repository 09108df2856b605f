"""Manual re-pulls by date range: the ``start``/``end`` params, checked by ``check_params`` before any vendor call."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from lead_pipelines.common.windows import InvalidRangeError, Window, check_range, requested_range
from lead_pipelines.downstream.dag import run_window
from lead_pipelines.leadconduit.settings import RAW_TABLE

HOURLY = "leadconduit_sync"
DAILY = "pirsch_sync"
FIRST_LANDING = {HOURLY: "land_events", DAILY: "land_visitor"}
HOUR = Window(datetime(2024, 6, 1, 5, tzinfo=timezone.utc), datetime(2024, 6, 1, 6, tzinfo=timezone.utc))
DAY = Window(datetime(2024, 6, 1, tzinfo=timezone.utc), datetime(2024, 6, 2, tzinfo=timezone.utc))

#: (DAG, its run's window, start, end, words the message must carry)
INVALID = [
    pytest.param(HOURLY, HOUR, "2024-06-01T05:00:00Z", None, ["only 'start' was given", "both"], id="start-only"),
    pytest.param(HOURLY, HOUR, None, "2024-06-01T07:00:00Z", ["only 'end' was given"], id="end-only"),
    pytest.param(HOURLY, HOUR, "2024-06-01T07:00:00Z", "2024-06-01T05:00:00Z",
                 ["end 2024-06-01T05:00:00Z is not after start 2024-06-01T07:00:00Z"], id="end-before-start"),
    pytest.param(HOURLY, HOUR, "2024-06-01T05:00:00Z", "2024-06-01T05:00:00Z", ["is not after start"], id="empty"),
    pytest.param(HOURLY, HOUR, "2024-06-01T00:00:00Z", "2099-01-01T00:00:00Z",
                 ["ends in the future", "use an end at or before"], id="future"),
    pytest.param(HOURLY, HOUR, "2024-05-01T00:00:00Z", "2024-06-02T00:00:00Z",
                 ["spans 32 days", "at most 31 days", "split it"], id="too-large-hourly"),
    pytest.param(DAILY, DAY, "2023-01-01T00:00:00Z", "2024-06-02T00:00:00Z",
                 ["at most 366 days"], id="too-large-daily"),
    pytest.param(HOURLY, HOUR, "2024-06-01T05:30:00Z", "2024-06-01T07:00:00Z",
                 ["start 2024-06-01T05:30:00Z is not on a whole hour", "use start 2024-06-01T05:00:00Z"],
                 id="unaligned-hour"),
    pytest.param(DAILY, DAY, "2024-06-01T00:00:00Z", "2024-06-02T06:00:00Z",
                 ["end 2024-06-02T06:00:00Z is not on a midnight", "use end 2024-06-03T00:00:00Z"],
                 id="unaligned-day"),
    pytest.param(HOURLY, HOUR, "yesterday", "2024-06-01T07:00:00Z", ["is not a date-time", "ISO 8601"],
                 id="not-a-date"),
]


def context(start, end, run_type: str = "manual", window: Window = HOUR) -> dict:
    """Return a task context as Airflow builds it for a run with these params."""
    return {"params": {"start": start, "end": end}, "dag_run": SimpleNamespace(run_type=run_type),
            "data_interval_start": window.start, "data_interval_end": window.end}


@pytest.mark.parametrize(("dag_id", "window", "start", "end", "words"), INVALID)
def test_check_params_names_what_is_wrong_and_what_to_use(runner, dag_id, window, start, end, words):
    check = runner.dagbag.get_dag(dag_id).get_task("check_params")
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException) as failed:
        check.python_callable(**context(start, end, window=window))
    message = str(failed.value)
    assert message.startswith("Invalid params: ")
    for word in words:
        assert word in message


@pytest.mark.parametrize(("dag_id", "window", "start", "end", "words"), INVALID)
def test_an_invalid_range_fails_the_run_before_any_vendor_call(runner, clean_warehouse, clean_sandbox, dag_id,
                                                               window, start, end, words):
    vendor = dag_id.removesuffix("_sync")
    # The first landing task and what it depends on: the DAG's teardown would add a second of dag.test's
    # polling to every failed run.
    first = FIRST_LANDING[dag_id]
    run = runner.run_window(dag_id, window, conf={"start": start, "end": end}, only=first)

    assert run.state == "failed"
    assert run.task_states["check_params"] == "failed"
    assert run.task_states["migrate_warehouse"] == run.task_states[first] == "upstream_failed"
    assert clean_sandbox.client.requests(vendor) == []
    assert clean_warehouse.runs() == []


def test_check_params_passes_a_run_without_a_range_even_one_without_a_data_interval(runner):
    # An asset-triggered unified_leads run has no data interval; without start/end it has nothing to check.
    check = runner.dagbag.get_dag("unified_leads").get_task("check_params")
    triggered = {"params": {"start": None, "end": None}, "dag_run": SimpleNamespace(run_type="asset_triggered"),
                 "data_interval_start": None, "data_interval_end": None}
    assert check.python_callable(**triggered) is None
    asked = context("2024-06-01T05:00:00Z", "2024-06-01T07:00:00Z")
    assert runner.dagbag.get_dag(HOURLY).get_task("check_params").python_callable(**asked) == {
        "window_start": "2024-06-01T05:00:00+00:00", "window_end": "2024-06-01T07:00:00+00:00"}


def test_a_range_on_a_scheduled_or_backfill_run_is_refused():
    for run_type in ("scheduled", "backfill", "asset_triggered"):
        with pytest.raises(InvalidRangeError, match=f"manual run only; this {run_type} run"):
            requested_range(context("2024-06-01T05:00:00Z", "2024-06-01T07:00:00Z", run_type))


def test_no_range_keeps_the_data_interval_and_a_range_replaces_it():
    assert Window.from_context(context(None, None), interval=timedelta(hours=1)) == HOUR
    assert Window.from_context(context("", ""), interval=timedelta(hours=1)) == HOUR
    wanted = Window(HOUR.start, HOUR.start + timedelta(hours=2))
    asked = context("2024-06-01T05:00:00Z", "2024-06-01T07:00:00Z")
    assert Window.from_context(asked, interval=timedelta(hours=1)) == wanted
    # No offset means UTC; an offset is honoured.
    assert requested_range(context("2024-06-01T05:00:00", "2024-06-01T09:00:00+02:00")) == wanted


def test_a_range_that_ends_now_is_accepted():
    now = datetime(2024, 6, 1, 7, 30, tzinfo=timezone.utc)
    check_range(Window(HOUR.start, now.replace(minute=0)), timedelta(hours=1), now)
    with pytest.raises(InvalidRangeError, match="use an end at or before 2024-06-01T07:00:00Z"):
        check_range(Window(HOUR.start, now.replace(minute=0) + timedelta(hours=1)), timedelta(hours=1), now)


def test_unified_leads_honours_the_range_too():
    asked = context("2024-06-01T05:00:00Z", "2024-06-01T08:00:00Z")
    assert run_window(asked) == Window(HOUR.start, HOUR.start + timedelta(hours=3))
    with pytest.raises(InvalidRangeError, match="not on a whole hour"):
        run_window(context("2024-06-01T05:00:00Z", "2024-06-01T08:15:00Z"))


def test_every_dag_offers_start_and_end_on_its_trigger_form(runner):
    for dag_id in ("leadconduit_sync", "getlandy_sync", "leadboxer_sync", "pirsch_sync", "giosg_sync",
                   "unified_leads"):
        dag = runner.dagbag.get_dag(dag_id)
        for name in ("start", "end"):
            param = dag.params.get_param(name)
            assert param.schema["type"] == ["null", "string"] and param.schema["format"] == "date-time", dag_id
            assert len(param.description) > 80, dag_id
        assert dag.params["start"] is None and dag.params["end"] is None
        first = dag.get_task("check_params")
        assert first.upstream_task_ids == set() and "migrate_warehouse" in first.downstream_task_ids, dag_id


def test_a_manual_run_re_pulls_exactly_the_range_it_names(runner, clean_warehouse, clean_sandbox):
    start, end = datetime(2024, 6, 1, 9, tzinfo=timezone.utc), datetime(2024, 6, 1, 11, tzinfo=timezone.utc)

    run = runner.run_window(HOURLY, HOUR, conf={"start": "2024-06-01T09:00:00Z", "end": "2024-06-01T11:00:00Z"})

    assert run.state == "success", run.task_states
    truth = clean_sandbox.client.truth("leadconduit", start, end)["ids"]
    landed = [rid for (rid,) in clean_warehouse.query(f"SELECT record_id FROM {RAW_TABLE}")]
    assert sorted(landed) == sorted(truth)
    first_hour = clean_sandbox.client.truth("leadconduit", start, start + timedelta(hours=1))["ids"]
    assert 0 < len(first_hour) < len(truth), "both hours landed"
    (audit,) = clean_warehouse.runs()
    assert (audit["window_start"], audit["window_end"]) == (start, end)
    sent = [r for r in clean_sandbox.client.requests("leadconduit") if r["path"] == "/events"]
    assert {r["query"]["start"][0] for r in sent} == {"2024-06-01T09:00:00.000Z"}
