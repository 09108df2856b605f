"""giosg end to end (real HTTP, real PostgreSQL): a day lands once, re-runs converge, 429 waited, one 403 fails alone."""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
import requests

from lead_pipelines.common.windows import Window
from sandbox.vendors.giosg import DEFAULT_API_KEY, DEFAULT_ORGANIZATION_ID, forbid, revise

DAG_ID = "giosg_sync"
DAY = Window(datetime(2024, 6, 1, tzinfo=timezone.utc), datetime(2024, 6, 2, tzinfo=timezone.utc))


def truth(sandbox, stream: str) -> list[str]:
    return sandbox.client.truth("giosg", DAY.start, DAY.end, stream=stream)["ids"]


def ids(warehouse, table: str) -> list[str]:
    return [r for (r,) in warehouse.query(f"SELECT record_id FROM raw.{table} ORDER BY record_id")]


def sidedata_task_states(dag_run_window: Window) -> dict[str, str]:
    """Return the mapped sidedata tasks' states of the window's latest run, by their rendered label."""
    from airflow.models import DagRun, TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        run = (session.query(DagRun).filter(DagRun.dag_id == DAG_ID, DagRun.data_interval_start == dag_run_window.start)
               .order_by(DagRun.id.desc()).first())
        tis = session.query(TaskInstance).filter(TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == run.run_id,
                                                 TaskInstance.task_id == "land_sidedata").all()
        return {ti.rendered_map_index: str(ti.state) for ti in tis}


def test_day_lands_each_stream_once_reruns_change_nothing_and_changes_are_counted(runner, clean_warehouse, clean_sandbox):
    first = runner.run_window(DAG_ID, DAY)

    assert first.state == "success", first.task_states
    workflows = truth(clean_sandbox, "workflows")
    assert ids(clean_warehouse, "giosg_workflows") == workflows and len(workflows) == 5
    assert ids(clean_warehouse, "giosg_sidedata") == truth(clean_sandbox, "sidedata")
    assert sidedata_task_states(DAY) == dict.fromkeys(workflows, "success")
    # Stored exactly as giosg answers the same query.
    wf = workflows[0]
    sent = requests.post(f"{clean_sandbox.vendor_url('giosg')}/api/reporting/workflow/v1/orgs/"
                         f"{DEFAULT_ORGANIZATION_ID}/workflows/{wf}/sidedata/",
                         headers={"Authorization": f"Token {DEFAULT_API_KEY}"},
                         json={"interval": {"start": "2024-06-01T00:00:00+00:00", "end": "2024-06-02T00:00:00+00:00"}})
    key = orjson.dumps([wf, "2024-06-01T00:00:00+00:00", "2024-06-02T00:00:00+00:00"]).decode()
    (payload,) = clean_warehouse.query("SELECT payload FROM raw.giosg_sidedata WHERE record_id = %s", (key,))[0]
    assert payload == sent.json()
    audits = {r["stream"] for r in clean_warehouse.runs()}
    assert audits == {"workflows", *(f"sidedata/{w}" for w in workflows)}
    before = (clean_warehouse.snapshot("raw.giosg_workflows"), clean_warehouse.snapshot("raw.giosg_sidedata"))

    again = runner.run_window(DAG_ID, DAY)

    assert again.state == "success"
    assert (clean_warehouse.snapshot("raw.giosg_workflows"), clean_warehouse.snapshot("raw.giosg_sidedata")) == before
    revise(clean_sandbox.client, wf)
    third = runner.run_window(DAG_ID, DAY)
    assert third.state == "success"
    changed = clean_warehouse.query("SELECT record_id FROM raw.giosg_sidedata WHERE change_count = 1")
    assert changed == [(key,)]
    assert clean_warehouse.query("SELECT record_id FROM raw.giosg_workflows WHERE change_count = 1") == [(wf,)]
    last = {r["stream"]: r for r in clean_warehouse.runs()}
    assert (last[f"sidedata/{wf}"]["updated"], last["workflows"]["updated"]) == (1, 1)
    assert {last[f"sidedata/{w}"]["unchanged"] for w in workflows[1:]} == {1}


def test_429_with_retry_after_is_honoured_on_the_wire(runner, clean_warehouse, clean_sandbox):
    client = clean_sandbox.client
    client.add_fault("giosg", "429", path="/api/reporting", after=2, times=1, retry_after=1)

    run = runner.run_window(DAG_ID, DAY)

    assert run.state == "success"
    calls = [r for r in client.requests("giosg") if r["method"] == "POST"]
    throttled = next(i for i, r in enumerate(calls) if r["status"] == 429)
    retry = calls[throttled + 1]
    assert (retry["status"], retry["path"], retry["body"]) == (200, calls[throttled]["path"], calls[throttled]["body"])
    assert retry["ts"] - calls[throttled]["ts"] >= 1.0, "the retry waited out Retry-After"
    assert ids(clean_warehouse, "giosg_sidedata") == truth(clean_sandbox, "sidedata")
    assert sum(r["http_retries"] for r in clean_warehouse.runs()) == 1


def test_a_workflow_answering_403_fails_only_its_own_mapped_task(runner, clean_warehouse, clean_sandbox):
    workflows = truth(clean_sandbox, "workflows")
    refused = workflows[2]
    forbid(clean_sandbox.client, refused)

    run = runner.run_window(DAG_ID, DAY)

    assert run.state == "failed"
    assert sidedata_task_states(DAY) == {w: "failed" if w == refused else "success" for w in workflows}
    landed = {orjson.loads(k)[0] for k in ids(clean_warehouse, "giosg_sidedata")}
    assert landed == set(workflows) - {refused}
    refused_calls = [r for r in clean_sandbox.client.requests("giosg") if refused in r["path"]]
    assert [r["status"] for r in refused_calls] == [403], "refused at once, no retries"
    (error,) = [r["error"] for r in clean_warehouse.runs() if r["stream"] == f"sidedata/{refused}"]
    assert error.startswith("giosg") and "HTTP 403" in error and refused in error and str(DAY) in error
