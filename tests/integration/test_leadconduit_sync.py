"""leadconduit_sync end to end: Airflow runs the DAG, the sandbox serves HTTP, PostgreSQL keeps the rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest
from pathlib import Path

from devtools.paths import ROOT
from devtools.testing import vendor_conn
from lead_pipelines.common.windows import Window
from lead_pipelines.leadconduit.settings import RAW_TABLE

DAG_ID = "leadconduit_sync"
EVENT_TYPES = {"source", "recipient", "filter", "feedback-received", "feedback-sent"}


def hour(day: int, h: int) -> Window:
    start = datetime(2024, 6, day, h, tzinfo=timezone.utc)
    return Window(start, start.replace(hour=h + 1) if h < 23 else datetime(2024, 6, day + 1, tzinfo=timezone.utc))


def run_ok(runner, window: Window):
    run = runner.run_window(DAG_ID, window)
    assert run.state == "success", run
    return run


def raw_ids(warehouse) -> list[str]:
    return [rid for (rid,) in warehouse.query(f"SELECT record_id FROM {RAW_TABLE} ORDER BY record_id")]


def events_requests(sandbox, window: Window | None = None) -> list[dict]:
    """Return the logged ``/events`` calls, of ``window`` only when given.

    A call that an earlier test left waiting on a slow answer is logged when answered, maybe after
    this test's reset: filtering by window keeps each test to its own calls.
    """
    start = None if window is None else [window.start.strftime("%Y-%m-%dT%H:%M:%S.000Z")]
    return [r for r in sandbox.client.requests("leadconduit")
            if r["path"] == "/events" and (start is None or r["query"].get("start") == start)]


def test_window_lands_every_event_once(runner, clean_warehouse, clean_sandbox):
    window = hour(1, 5)
    run_ok(runner, window)

    truth = clean_sandbox.client.leadconduit_truth(window.start, window.end)
    assert truth["count"] > 1000, "the window should span several pages"
    assert raw_ids(clean_warehouse) == truth["ids"]
    types = {t for (t,) in clean_warehouse.query(f"SELECT DISTINCT payload->>'type' FROM {RAW_TABLE}")}
    assert types == EVENT_TYPES
    email = clean_warehouse.query(f"SELECT payload#>'{{vars,lead,email}}' FROM {RAW_TABLE} LIMIT 1")[0][0]
    assert {"raw", "normal", "domain", "valid"} <= set(email)

    sent = events_requests(clean_sandbox, window)
    assert [r["query"]["sort"] for r in sent] == [["asc"]] * len(sent)
    assert all(r["query"]["limit"] == ["1000"] for r in sent)
    assert sent[0]["query"]["start"] == ["2024-06-01T05:00:00.000Z"]
    assert all(r["query"]["end"] == ["2024-06-01T05:59:59.999Z"] for r in sent)
    assert "after_id" not in sent[0]["query"]
    # Each next page starts after the last id of the previous one, so the chain follows the truth;
    # only an empty page ends the window.
    after_ids = [r["query"]["after_id"][0] for r in sent[1:]]
    pages = -(-truth["count"] // 1000)
    assert after_ids == [truth["ids"][min(1000 * k, truth["count"]) - 1] for k in range(1, pages + 1)]
    assert len(sent) == pages + 1
    # The vendor's own count of the window was asked once and matched.
    (stats,) = [r for r in clean_sandbox.client.requests("leadconduit")
                if r["path"] == "/events/stats" and r["query"]["start"] == sent[0]["query"]["start"]]
    assert stats["query"]["by_lead"] == ["false"] and stats["query"]["start"] == sent[0]["query"]["start"]

    (audit,) = clean_warehouse.runs()
    assert audit["status"] == "success"
    assert (audit["records"], audit["inserted"], audit["updated"], audit["unchanged"]) == (truth["count"], truth["count"], 0, 0)
    assert audit["pages"] == pages
    assert audit["http_requests"] == len(sent) + 1 and audit["http_retries"] == 0
    assert audit["vendor_count"] == audit["counted"] > 0 and audit["quarantined"] == 0
    assert (audit["window_start"], audit["window_end"]) == (window.start, window.end)
    assert audit["dag_id"] == DAG_ID and audit["task_id"] == "land_events"
    assert audit["duration_seconds"] > 0
    state = clean_warehouse.query("SELECT watermark, cursor->>'last_record_id' FROM ops.sync_state")
    assert state == [(window.end, truth["ids"][-1])]
    assert clean_warehouse.query("SELECT records FROM ops.sync_windows") == [(truth["count"],)]


def test_rerunning_a_window_changes_no_rows(runner, clean_warehouse, clean_sandbox):
    window = hour(1, 6)
    run_ok(runner, window)
    before = clean_warehouse.snapshot(RAW_TABLE)
    run_ok(runner, window)

    assert clean_warehouse.snapshot(RAW_TABLE) == before
    first, second = clean_warehouse.runs()
    assert (second["inserted"], second["updated"], second["unchanged"]) == (0, 0, first["inserted"])


def test_changed_payloads_are_updated_and_counted(runner, clean_warehouse, clean_sandbox):
    window = hour(1, 7)
    run_ok(runner, window)
    clean_sandbox.client.leadconduit_revise(2, fraction=0.25)
    truth = clean_sandbox.client.leadconduit_truth(window.start, window.end)
    revised = set(truth["revised_ids"]) & set(truth["ids"])
    assert revised

    run_ok(runner, window)

    second = clean_warehouse.runs()[-1]
    assert (second["inserted"], second["updated"]) == (0, len(revised))
    assert second["unchanged"] == truth["count"] - len(revised)
    changed = clean_warehouse.query(
        f"SELECT record_id FROM {RAW_TABLE} WHERE change_count = 1 AND payload#>>'{{vars,lead,revision}}' = '2'"
    )
    assert {rid for (rid,) in changed} == revised
    assert raw_ids(clean_warehouse) == truth["ids"]


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "429", "retry_after": 1},
        {"kind": "500"},
        {"kind": "502"},
        {"kind": "503"},
        {"kind": "reset"},
        {"kind": "slow", "delay": 4},
        {"kind": "malformed"},
        {"kind": "html"},
    ],
    ids=lambda f: f["kind"],
)
def test_transient_fault_mid_window_is_retried_with_nothing_lost(runner, clean_warehouse, clean_sandbox, fault):
    window = hour(1, 8)
    # The second page fails once: the fault lands between pages, after data was already staged.
    options = {k: v for k, v in fault.items() if k != "kind"}
    clean_sandbox.client.add_fault("leadconduit", fault["kind"], path="/events", after=1, times=1, **options)
    run_ok(runner, window)

    truth = clean_sandbox.client.leadconduit_truth(window.start, window.end)
    assert raw_ids(clean_warehouse) == truth["ids"]
    (audit,) = clean_warehouse.runs()
    assert audit["status"] == "success" and audit["http_retries"] == 1
    assert audit["inserted"] == truth["count"]
    deadline = time.monotonic() + 10  # a slow response is logged once the sandbox finishes sleeping
    while not (faulted := [r for r in events_requests(clean_sandbox, window) if r["fault"]]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [r["fault"] for r in faulted] == [fault["kind"]]
    if fault["kind"] == "429":
        assert audit["http_wait_seconds"] == pytest.approx(1.0)


def test_persistent_fault_fails_clearly_keeps_warehouse_and_rerun_completes(runner, clean_warehouse, clean_sandbox):
    earlier, window = hour(1, 9), hour(1, 10)
    run_ok(runner, earlier)
    before = clean_warehouse.snapshot(RAW_TABLE)
    clean_sandbox.client.add_fault("leadconduit", "503", path="/events", after=1, times=-1)

    run = runner.run_window(DAG_ID, window)

    assert run.state == "failed"
    assert clean_warehouse.snapshot(RAW_TABLE) == before, "a failed run must leave the warehouse as it was"
    failed = [r for r in clean_warehouse.runs() if r["window_start"] == window.start]
    assert len(failed) == 4, "Airflow tried the task 1 + 3 retries times"
    assert {r["status"] for r in failed} == {"failed"}
    assert "LeadConduit GET /leadconduit/events failed for window [2024-06-01T10:00:00Z, 2024-06-01T11:00:00Z)" in failed[0]["error"]
    assert "HTTP 503" in failed[0]["error"] and "gave up after 3 attempts" in failed[0]["error"]
    assert clean_warehouse.query("SELECT watermark FROM ops.sync_state") == [(earlier.end,)]

    clean_sandbox.client.clear_faults()
    run_ok(runner, window)
    truth = clean_sandbox.client.leadconduit_truth(earlier.start, window.end)
    assert raw_ids(clean_warehouse) == truth["ids"]
    assert clean_warehouse.query("SELECT watermark FROM ops.sync_state") == [(window.end,)]


def test_wrong_credentials_fail_at_once_without_leaking_the_key(runner, clean_warehouse, clean_sandbox, monkeypatch, capfd, caplog):
    wrong_key = "wrong-key-7c1e9a4b2d"
    monkeypatch.setenv("AIRFLOW_CONN_LEADCONDUIT_DEFAULT", vendor_conn("leadconduit", clean_sandbox.vendor_url("leadconduit"), wrong_key))
    window = hour(1, 11)

    run = runner.run_window(DAG_ID, window)

    assert run.state == "failed"
    sent = events_requests(clean_sandbox, window)
    assert len(sent) == 1 and sent[0]["status"] == 401 and sent[0]["auth"] == "bad", "no retry of a 401"
    (audit,) = clean_warehouse.runs()
    assert audit["status"] == "failed"
    assert "LeadConduit GET /leadconduit/events failed for window [2024-06-01T11:00:00Z" in audit["error"]
    assert "HTTP 401" in audit["error"]
    assert raw_ids(clean_warehouse) == []
    out, err = capfd.readouterr()
    logged = out + err + caplog.text
    assert "HTTP 401" in logged
    assert wrong_key not in logged and wrong_key not in audit["error"]
    for path in Path(os.environ["AIRFLOW_HOME"]).rglob("*.log"):
        assert wrong_key not in path.read_text(errors="replace"), path


def test_task_killed_mid_window_then_rerun_gives_the_same_rows(runner, clean_warehouse, clean_sandbox, tmp_path):
    window = hour(1, 12)
    # Page 2 hangs long enough for the kill to land while page 1 sits in the open transaction.
    clean_sandbox.client.add_fault("leadconduit", "slow", path="/events", after=1, times=1, delay=30)
    (tmp_path / "airflow").mkdir()
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow"),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow' / 'airflow.db'}",
           "AIRFLOW_CONN_LEADCONDUIT_DEFAULT": vendor_conn("leadconduit", clean_sandbox.vendor_url("leadconduit"), timeout=120)}
    log_path = tmp_path / "run_window.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtools.run_window", DAG_ID, window.start.isoformat(), window.end.isoformat()],
        cwd=ROOT, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        # Page 1 is staged in the open transaction and page 2 is on the wire (the sandbox logs it only
        # once answered), so the kill lands between pages.
        while "page 1 staged" not in log_path.read_text(errors="replace"):
            assert proc.poll() is None, f"the run ended before it was killed: {log_path.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "the run never staged its first page"
            time.sleep(0.2)
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    assert raw_ids(clean_warehouse) == [], "nothing of the killed window may be visible"
    assert [r["status"] for r in clean_warehouse.runs()] == ["running"]

    clean_sandbox.client.clear_faults()
    run_ok(runner, window)

    truth = clean_sandbox.client.leadconduit_truth(window.start, window.end)
    assert raw_ids(clean_warehouse) == truth["ids"]
    killed, rerun = clean_warehouse.runs()
    assert (killed["status"], rerun["status"]) == ("abandoned", "success")
    assert rerun["inserted"] == truth["count"]


def test_backfilled_older_window_does_not_move_the_watermark_back(runner, clean_warehouse, clean_sandbox):
    later, older = hour(2, 3), hour(2, 1)
    run_ok(runner, later)
    run_ok(runner, older)

    assert clean_warehouse.query("SELECT watermark FROM ops.sync_state") == [(later.end,)]
    windows = clean_warehouse.query("SELECT window_start FROM ops.sync_windows ORDER BY 1")
    assert windows == [(older.start,), (later.start,)]
    truth = clean_sandbox.client.leadconduit_truth(older.start, older.end)["ids"] + \
        clean_sandbox.client.leadconduit_truth(later.start, later.end)["ids"]
    assert raw_ids(clean_warehouse) == sorted(truth)


@pytest.mark.slow
def test_airflow_cli_runs_the_dag_for_a_window(clean_warehouse, clean_sandbox, tmp_path):
    # One run through the real `airflow dags test` CLI (~10 s), as a user would debug a window.
    window = hour(1, 15)
    home = tmp_path / "airflow"
    home.mkdir()
    env = {**os.environ, "AIRFLOW_HOME": str(home),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}"}
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, cwd=ROOT, check=True,
                   capture_output=True, timeout=300)
    from lead_pipelines.common.windows import logical_date_for

    out = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", DAG_ID, logical_date_for(window, "manual").isoformat()],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    truth = clean_sandbox.client.leadconduit_truth(window.start, window.end)
    assert raw_ids(clean_warehouse) == truth["ids"]
    (audit,) = clean_warehouse.runs()
    assert (audit["status"], audit["window_start"], audit["window_end"]) == ("success", window.start, window.end)
