"""getlandy_sync end to end: Airflow runs the DAG, the sandbox serves HTTP, PostgreSQL keeps the rows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from lead_pipelines.common.windows import Window
from lead_pipelines.getlandy.settings import PARAM_MARK_READ, RAW_TABLE

DAG_ID = "getlandy_sync"


def hour(h: int) -> Window:
    start = datetime(2024, 6, 1, h, tzinfo=timezone.utc)
    return Window(start, start + timedelta(hours=1))


def raw_ids(warehouse) -> list[str]:
    return [rid for (rid,) in warehouse.query(f"SELECT record_id FROM {RAW_TABLE} ORDER BY record_id")]


def truth(sandbox, window: Window) -> list[str]:
    return sandbox.client.truth("getlandy", window.start, window.end)["ids"]


def marked(sandbox) -> list[str]:
    return sandbox.client._call("GET", "/getlandy/read-state")["marked"]


def leads_requests(sandbox) -> list[dict]:
    return [r for r in sandbox.client.requests("getlandy") if r["path"] == "/leads"]


def test_window_lands_every_lead_once_and_consumes_none(runner, clean_warehouse, clean_sandbox):
    window = hour(5)

    run = runner.run_window(DAG_ID, window)

    assert run.state == "success" and run.task_states["land_leads"] == "success"
    assert run.task_states[PARAM_MARK_READ] == "skipped", "marking read is opt-in"
    ids = truth(clean_sandbox, window)
    assert len(ids) > 2000 and raw_ids(clean_warehouse) == sorted(ids)
    sent = leads_requests(clean_sandbox)
    assert len(sent) >= 3 and all(r["query"]["withReaded"] == ["1"] and r["query"]["markReaded"] == ["0"] for r in sent)
    assert marked(clean_sandbox) == [], "no read flag changed"
    keys = {k for (k,) in clean_warehouse.query(f"SELECT DISTINCT jsonb_object_keys(payload->'data') FROM {RAW_TABLE}")}
    assert {"email", "e-mail", "courriel", "mail", "tel", "telephone"} <= keys
    (audit,) = clean_warehouse.runs()
    assert (audit["status"], audit["inserted"], audit["records"]) == ("success", len(ids), len(ids))
    assert audit["pages"] >= 3 and audit["task_id"] == "land_leads"


def test_rerunning_a_window_changes_no_rows(runner, clean_warehouse, clean_sandbox):
    window = hour(6)
    assert runner.run_window(DAG_ID, window).state == "success"
    before = clean_warehouse.snapshot(RAW_TABLE)

    assert runner.run_window(DAG_ID, hour(7)).state == "success"
    assert runner.run_window(DAG_ID, window).state == "success"

    after = clean_warehouse.snapshot(RAW_TABLE)
    assert [row for row in after if row[0] in set(truth(clean_sandbox, window))] == before
    assert raw_ids(clean_warehouse) == sorted(truth(clean_sandbox, hour(6)) + truth(clean_sandbox, hour(7)))
    first, _, again = clean_warehouse.runs()
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, first["inserted"])


def test_a_run_failing_after_the_vendor_answered_loses_no_lead(runner, clean_warehouse, clean_sandbox):
    window = hour(8)
    # Page 1 is answered, then the vendor fails for good: every try of the task dies mid-window.
    clean_sandbox.client.add_fault("getlandy", "503", path="/leads", after=1, times=-1)

    failed = runner.run_window(DAG_ID, window, conf={PARAM_MARK_READ: True})

    assert failed.state == "failed" and failed.task_states[PARAM_MARK_READ] == "upstream_failed"
    assert raw_ids(clean_warehouse) == []
    assert any(r["status"] == 200 and r["query"]["markReaded"] == ["0"] for r in leads_requests(clean_sandbox))
    assert marked(clean_sandbox) == [], "the leads the vendor returned are still unread"
    clean_sandbox.client.clear_faults()
    assert runner.run_window(DAG_ID, window).state == "success"
    assert raw_ids(clean_warehouse) == sorted(truth(clean_sandbox, window))


def test_opt_in_marks_the_window_read_only_after_it_committed(runner, clean_warehouse, clean_sandbox):
    window = hour(9)

    run = runner.run_window(DAG_ID, window, conf={PARAM_MARK_READ: True})

    assert run.state == "success" and run.task_states[PARAM_MARK_READ] == "success"
    ids = truth(clean_sandbox, window)
    assert marked(clean_sandbox) == ids and raw_ids(clean_warehouse) == sorted(ids)
    flags = [r["query"]["markReaded"][0] for r in leads_requests(clean_sandbox)]
    first_mark = flags.index("1")
    assert set(flags[:first_mark]) == {"0"} and set(flags[first_mark:]) == {"1"}, "reads first, marks after"
    (audit,) = clean_warehouse.runs()
    finished = audit["finished_at"].timestamp()
    marks = [r["ts"] for r in leads_requests(clean_sandbox) if r["query"]["markReaded"] == ["1"]]
    assert min(marks) > finished, "the window had committed before the first lead was marked"


@pytest.mark.parametrize("inclusive", [True, False], ids=["inclusive", "exclusive"])
def test_a_token_expiring_mid_window_is_renewed_without_a_failed_try(runner, clean_warehouse, clean_sandbox, inclusive):
    window = hour(10)
    clean_sandbox.client._call("POST", "/getlandy/bounds", {"inclusive": inclusive})
    clean_sandbox.client._call("POST", "/getlandy/tokens", {"expire_after": 1})

    run = runner.run_window(DAG_ID, window)

    assert run.state == "success"
    (audit,) = clean_warehouse.runs()
    assert audit["status"] == "success" and audit["http_retries"] == 0, "succeeded on its first try"
    log = [(r["path"], r["status"]) for r in clean_sandbox.client.requests("getlandy")]
    assert ("/leads", 401) in log and log[log.index(("/leads", 401)) + 1] == ("/oauth/token", 200)
    assert raw_ids(clean_warehouse) == sorted(truth(clean_sandbox, window))
