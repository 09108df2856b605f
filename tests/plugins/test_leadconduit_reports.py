"""LeadConduit reports kept at the vendor (found by name, created once, updated, deduplicated) and reconciled."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

import psycopg
import pytest

from lead_pipelines.common.http_hook import RetryPolicy
from lead_pipelines.common.windows import Window
from lead_pipelines.leadconduit.hook import LeadConduitHook
from lead_pipelines.leadconduit.reports import PREFIX, REPORTS, ReportDefinition, sync_reports

UTC = timezone.utc
#: A minute keeps report runs small where only the definitions are under test.
MINUTE = Window(datetime(2024, 6, 1, 5, tzinfo=UTC), datetime(2024, 6, 1, 5, 1, tzinfo=UTC))
HOUR = Window(datetime(2024, 6, 1, 9, tzinfo=UTC), datetime(2024, 6, 1, 10, tzinfo=UTC))
NAMES = sorted(d.name for d in REPORTS)


@pytest.fixture
def conn(clean_warehouse):
    """A warehouse connection as the loader role the DAG tasks use."""
    with psycopg.connect(clean_warehouse.loader_conninfo) as connection:
        yield connection


def reports_log(sandbox, method: str | None = None) -> list[dict]:
    return [r for r in sandbox.client.requests("leadconduit")
            if r["path"].startswith("/reports") and (method is None or r["method"] == method)]


def ours(hook: LeadConduitHook) -> list[dict]:
    return sorted((r for r in hook.list_reports() if r["name"].startswith(PREFIX)), key=lambda r: r["name"])


def test_each_definition_exists_once_after_three_runs(conn, clean_warehouse, clean_sandbox):
    hook = LeadConduitHook(sleep=pytest.fail)
    users = hook.create_report({"name": "leads by source", "columns": ["source"], "group_by": ["vars.source.id"]})

    summaries = [sync_reports(conn, hook, MINUTE) for _ in range(3)]

    assert [(s.created, s.updated, s.deduplicated, s.unchanged) for s in summaries] == [
        (2, 0, 0, 0), (0, 0, 0, 2), (0, 0, 0, 2)]
    kept = ours(hook)
    assert [r["name"] for r in kept] == NAMES
    assert {r["id"] for r in kept} == set(summaries[0].report_ids.values()) == set(summaries[2].report_ids.values())
    posts = reports_log(clean_sandbox, "POST")
    assert sorted(p["body"]["name"] for p in posts if p["path"] == "/reports") == sorted([*NAMES, "leads by source"])
    assert not reports_log(clean_sandbox, "PUT") and not reports_log(clean_sandbox, "DELETE")
    assert hook.list_reports()[0] == users, "a report without the prefix is the user's: untouched"
    rows = clean_warehouse.query("SELECT name, report_id, state, length(definition_hash) FROM ops.vendor_reports "
                                 "ORDER BY name")
    assert rows == [(r["name"], r["id"], "synced", 64) for r in kept]
    runs = [r for r in reports_log(clean_sandbox, "GET") if r["path"].endswith("/run")]
    assert len(runs) == 6
    assert {(r["query"]["start"][0], r["query"]["end"][0]) for r in runs} == {
        ("2024-06-01T05:00:00.000Z", "2024-06-01T05:00:59.999Z")}


def test_a_create_whose_answer_is_lost_is_adopted_not_repeated(conn, clean_warehouse, clean_sandbox):
    clean_sandbox.client.add_fault("leadconduit", "lost_response", path="/reports", method="POST", delay=1.5)
    hook = LeadConduitHook(retry_policy=RetryPolicy(read_timeout=0.5, max_attempts=3), sleep=pytest.fail)

    first = sync_reports(conn, hook, MINUTE)
    later = [sync_reports(conn, hook, MINUTE) for _ in range(2)]

    assert (first.created, first.adopted, first.deduplicated) == (2, 1, 0)
    assert all((s.created, s.unchanged) == (0, 2) for s in later)
    assert [r["name"] for r in ours(hook)] == NAMES
    # The lost create is logged once its held answer is dropped.
    deadline = time.monotonic() + 5
    while len([p for p in reports_log(clean_sandbox, "POST") if p["path"] == "/reports"]) < 2:
        assert time.monotonic() < deadline, "the lost POST never reached the log"
        time.sleep(0.1)
    posts = [p for p in reports_log(clean_sandbox, "POST") if p["path"] == "/reports"]
    assert sorted(p["body"]["name"] for p in posts) == NAMES, "one POST per name: none repeated blindly"
    assert [p["fault"] for p in posts].count("lost_response") == 1
    assert clean_warehouse.query("SELECT DISTINCT state FROM ops.vendor_reports") == [("synced",)]


def test_a_duplicate_pair_is_reduced_to_the_oldest(conn, clean_sandbox):
    hook = LeadConduitHook(sleep=pytest.fail)
    by_source = REPORTS[0]
    older = hook.create_report(by_source.body())
    newer = hook.create_report(by_source.body())

    summary = sync_reports(conn, hook, MINUTE)

    assert (summary.created, summary.deduplicated, summary.unchanged) == (1, 1, 1)
    assert summary.report_ids[by_source.name] == older["id"]
    assert [r["id"] for r in hook.list_reports() if r["name"] == by_source.name] == [older["id"]]
    assert [d["path"] for d in reports_log(clean_sandbox, "DELETE")] == [f"/reports/{newer['id']}"]


def test_a_definition_changed_in_code_is_put_and_vendor_fields_are_kept(conn, clean_sandbox):
    hook = LeadConduitHook(sleep=pytest.fail)
    sync_reports(conn, hook, MINUTE)
    by_flow = next(r for r in ours(hook) if r["name"] == f"{PREFIX}leads by flow")
    # Someone notes what the report is for, at the vendor.
    noted = hook.update_report(by_flow["id"], {"description": "reconciled by lead-pipelines"})
    changed = (REPORTS[0], ReportDefinition(by_flow["name"], ("vars.flow.id",),
                                            ("source", "source-success", "source-submitted")))

    summary = sync_reports(conn, hook, MINUTE, reports=changed)

    assert (summary.updated, summary.unchanged, summary.created) == (1, 1, 0)
    (put,) = [p for p in reports_log(clean_sandbox, "PUT") if p["body"].get("name") == by_flow["name"]]
    assert put["path"] == f"/reports/{by_flow['id']}"
    assert put["body"] == {"id": by_flow["id"], "name": by_flow["name"], "description": "reconciled by lead-pipelines",
                           "columns": ["source", "source-success", "source-submitted"], "group_by": ["vars.flow.id"]}
    after = hook.list_reports()
    now = next(r for r in after if r["id"] == by_flow["id"])
    assert now["columns"] == ["source", "source-success", "source-submitted"]
    assert now["description"] == "reconciled by lead-pipelines" and now["created_at"] == by_flow["created_at"]
    assert now["updated_at"] > noted["updated_at"]
    assert len(after) == 2


def test_reconciliation_matches_the_landed_window_and_records_mismatches(
        runner, conn, clean_warehouse, clean_sandbox, caplog):
    run = runner.run_window("leadconduit_sync", HOUR)
    assert run.state == "success", run
    hook = LeadConduitHook(sleep=pytest.fail)

    summary = sync_reports(conn, hook, HOUR)

    cells = clean_warehouse.query(
        "SELECT report_name, group_key, column_name, vendor_value, warehouse_value, difference, within_tolerance "
        "FROM ops.report_reconciliation ORDER BY 1, 2, 3")
    assert len(cells) == summary.rows_reconciled == (5 + 3) * 4 and summary.mismatches == 0
    assert all(c[5] == 0 and c[3] == c[4] and c[6] for c in cells)
    assert {c[1].split("=")[0] for c in cells} == {"vars.source.id", "vars.flow.id"}
    truth = clean_sandbox.client.leadconduit_truth(HOUR.start, HOUR.end)["by_type"]["source"]
    for name in NAMES:
        assert sum(c[3] for c in cells if c[0] == name and c[2] == "source") == truth
    runs = [r for r in reports_log(clean_sandbox, "GET") if r["path"].endswith("/run")]
    assert {(r["query"]["start"][0], r["query"]["end"][0]) for r in runs} == {
        ("2024-06-01T09:00:00.000Z", "2024-06-01T09:59:59.999Z")}

    # The vendor now serves a quarter of the outcomes changed; the warehouse still holds what landed.
    clean_sandbox.client.leadconduit_revise(2, fraction=0.25)
    caplog.set_level(logging.WARNING, logger="lead_pipelines.leadconduit.reports")
    tolerance = 0.05
    again = sync_reports(conn, hook, HOUR, tolerance=tolerance)

    cells = clean_warehouse.query(
        "SELECT group_key, column_name, vendor_value, warehouse_value, difference, tolerance, within_tolerance "
        "FROM ops.report_reconciliation")
    assert len(cells) == again.rows_reconciled == 32, "re-checking a window replaces its cells"
    assert all(float(c[5]) == tolerance and c[4] == c[2] - c[3] for c in cells)
    assert all(c[6] == (abs(c[4]) <= c[5] * max(c[2], 1)) for c in cells)
    outside = [c for c in cells if not c[6]]
    assert outside and again.mismatches == len(outside)
    assert all(c[4] == 0 for c in cells if c[1] == "source"), "totals do not move when outcomes flip"
    warned = [r.getMessage() for r in caplog.records if "vendor" in r.getMessage() and "warehouse" in r.getMessage()
              and r.levelno == logging.WARNING]
    assert len(warned) == len(outside)
    group, column, vendor, warehouse = outside[0][:4]
    assert any(f"group {group} column {column}: vendor {vendor}, warehouse {warehouse}" in m for m in warned)
    assert not any("@" in m for m in warned), "no personal data in the log"
