"""LeadConduit /reports and /events/stats."""

from __future__ import annotations

import csv
import json
import io

import requests

from sandbox.process import SandboxProcess

WINDOW = {"start": "2024-06-01T00:00:00.000Z", "end": "2024-06-01T23:59:59.999Z"}
DEFINITION = {"name": "source report",
              "columns": ["source", "source-success", "source-failure", "source-error"],
              "group_by": ["vars.source.id"]}


def test_report_lifecycle(lc: requests.Session) -> None:
    created = lc.post(f"{lc.base}/reports", json=DEFINITION)
    assert created.status_code == 201
    report = created.json()
    assert len(report["id"]) == 24 and report["token"] is None
    assert report["created_at"] == report["updated_at"] and report["name"] == "source report"
    # Not idempotent: a second POST with the same name makes a second report.
    again = lc.post(f"{lc.base}/reports", json=DEFINITION).json()
    assert again["id"] != report["id"]
    listed = lc.get(f"{lc.base}/reports").json()
    assert [r["id"] for r in listed if r["name"] == "source report"] == [report["id"], again["id"]]
    assert lc.get(f"{lc.base}/reports/{report['id']}").json() == report
    update = {**DEFINITION, "columns": ["recipient", "recipient-success"],
              "group_by": ["vars.recipient.id"]}
    updated = lc.put(f"{lc.base}/reports/{report['id']}", json=update)
    assert updated.status_code == 200
    assert updated.json()["columns"] == ["recipient", "recipient-success"]
    assert updated.json()["created_at"] == report["created_at"]
    assert lc.delete(f"{lc.base}/reports/{report['id']}").status_code in (200, 204)
    missing = lc.get(f"{lc.base}/reports/{report['id']}")
    assert missing.status_code == 404 and missing.json()["error"] == "Not Found"


def test_report_validation(lc: requests.Session) -> None:
    r = lc.post(f"{lc.base}/reports", json={"columns": ["source"]})
    assert r.status_code == 422 and "name" in r.json()["errors"]
    r = lc.post(f"{lc.base}/reports", json={"name": "x"})
    assert r.status_code == 422 and "columns" in r.json()["errors"]
    r = lc.post(f"{lc.base}/reports", json={"name": "x", "columns": ["source", "bogus"]})
    assert r.status_code == 422 and r.json()["errors"]["columns"] == {"1": ["Unknown column 'bogus'"]}


def test_preview_and_run_agree_with_events(lc: requests.Session,
                                           sandbox_proc: SandboxProcess) -> None:
    preview = lc.post(f"{lc.base}/reports/preview", params=WINDOW, json=DEFINITION)
    assert preview.status_code == 200
    rows = preview.json()
    assert rows and set(rows[0]) == {"vars.source.id", *DEFINITION["columns"]}
    for row in rows:
        assert row["source"] == row["source-success"] + row["source-failure"] + row["source-error"]
    by_type = sandbox_proc.client.leadconduit_truth("2024-06-01T00:00:00Z",
                                                    "2024-06-02T00:00:00Z")["by_type"]
    assert sum(r["source"] for r in rows) == by_type["source"]
    report = lc.post(f"{lc.base}/reports", json=DEFINITION).json()
    for method in ("GET", "POST"):  # the docs conflict on the verb
        run = lc.request(method, f"{lc.base}/reports/{report['id']}/run", params=WINDOW)
        assert run.status_code == 200 and run.json() == rows


def test_stats_group_by_interval_and_csv(lc: requests.Session) -> None:
    rows = lc.get(f"{lc.base}/events/stats",
                  params={**WINDOW, "group_by": "vars.lead.state.abbr"}).json()
    assert rows and all({"total", "success", "failure", "error", "vars.lead.state.abbr"} <= set(r)
                        for r in rows)
    assert all(r["total"] == r["success"] + r["failure"] + r["error"] for r in rows)
    hourly = lc.get(f"{lc.base}/events/stats",
                    params={**WINDOW, "interval": "hourly", "timezone": "UTC",
                            "by_lead": "false", "column": "source-success"}).json()
    assert len(hourly) == 24 and hourly[0]["start"] == "2024-06-01T00:00:00.000Z"
    assert all(r["source-success"] == r["success"] for r in hourly)
    daily = lc.get(f"{lc.base}/events/stats",
                   params={**WINDOW, "interval": "daily", "timezone": "-18000"}).json()
    assert [r["start"] for r in daily] == ["2024-05-31T05:00:00.000Z", "2024-06-01T05:00:00.000Z"]
    text = lc.get(f"{lc.base}/events/stats", params=WINDOW, headers={"Accept": "text/csv"}).text
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert parsed and set(parsed[0]) == {"total", "success", "failure", "error"}
    bad = lc.get(f"{lc.base}/events/stats", params={**WINDOW, "interval": "hourlyish"})
    assert bad.status_code == 422


def test_put_keeps_unsent_fields_and_renews_updated_at(lc: requests.Session) -> None:
    created = lc.post(f"{lc.base}/reports", json={**DEFINITION, "description": "kept by the vendor"}).json()
    # As in the legacy doc's example: id, name and columns sent, group_by not.
    sent = {"id": created["id"], "name": "flow report", "columns": ["source", "source-success"]}
    updated = lc.put(f"{lc.base}/reports/{created['id']}", json=sent)
    assert updated.status_code == 200
    body = updated.json()
    assert body["name"] == "flow report" and body["columns"] == ["source", "source-success"]
    assert body["group_by"] == ["vars.source.id"] and body["description"] == "kept by the vendor"
    assert body["token"] is None and body["created_at"] == created["created_at"]
    assert body["updated_at"] > created["updated_at"]
    assert lc.get(f"{lc.base}/reports/{created['id']}").json() == body
    # Server-kept fields are never taken from the body.
    again = lc.put(f"{lc.base}/reports/{created['id']}",
                   json={"created_at": "2000-01-01T00:00:00.000Z", "token": "x"}).json()
    assert again["created_at"] == created["created_at"] and again["token"] is None


def test_put_unknown_id_and_invalid_definitions(lc: requests.Session) -> None:
    missing = lc.put(f"{lc.base}/reports/{'0' * 24}", json=DEFINITION)
    assert missing.status_code == 404 and missing.json()["error"] == "Not Found"
    report = lc.post(f"{lc.base}/reports", json=DEFINITION).json()
    url = f"{lc.base}/reports/{report['id']}"
    bad = lc.put(url, json={"columns": ["source", "cost", "margin"], "group_by": "vars.flow.id"})
    assert bad.status_code == 422
    assert bad.json()["errors"] == {"columns": {"2": ["Unknown column 'margin'"]},
                                    "group_by": ["must be an array of field names"]}
    wrong_id = lc.put(url, json={**DEFINITION, "id": "f" * 24})
    assert wrong_id.status_code == 422 and "id" in wrong_id.json()["errors"]
    bad_rule = lc.put(url, json={"rules": [{"lhv": "vars.flow.id", "op": "matches", "rhv": "x"}]})
    assert bad_rule.status_code == 422
    assert "'matches' is not supported" in bad_rule.json()["errors"]["rules"]["0"]["op"][0]
    assert lc.get(url).json() == report, "a rejected update changes nothing"


def test_more_columns_counted_or_zero(lc: requests.Session) -> None:
    columns = ["source", "source-submitted", "recipient", "recipient-success", "filter",
               "ping", "ping-success", "cost", "revenue", "profit", "avg-cost-per-lead"]
    rows = lc.post(f"{lc.base}/reports/preview", params=WINDOW,
                   json={"name": "all", "columns": columns, "group_by": ["vars.flow.id"]}).json()
    assert len(rows) == 3 and all(set(r) == {"vars.flow.id", *columns} for r in rows)
    for row in rows:
        # Source events always end in success, failure or error: all of them are submitted.
        assert row["source"] == row["source-submitted"] > 0
        assert row["recipient"] >= row["recipient-success"] > 0 and row["filter"] > 0
        assert row["ping"] == row["ping-success"] == 0, "the simulated account takes no pings"
        assert [row[c] for c in ("cost", "revenue", "profit", "avg-cost-per-lead")] == [0.0] * 4


def test_rules_filter_preview_run_and_stats(lc: requests.Session) -> None:
    flows = lc.get(f"{lc.base}/flows").json()
    assert [f["name"] for f in flows] == ["Sales Leads", "Mortgage Leads", "Auto Insurance"]
    assert lc.get(f"{lc.base}/flows/{flows[0]['id']}").json() == flows[0]
    assert lc.get(f"{lc.base}/flows/{'0' * 24}").status_code == 404
    by_flow = {"name": "f", "columns": ["source", "source-success"], "group_by": ["vars.flow.id"]}
    all_rows = {r["vars.flow.id"]: r for r in
                lc.post(f"{lc.base}/reports/preview", params=WINDOW, json=by_flow).json()}
    first, second, third = (f["id"] for f in flows)
    equal = {"lhv": "vars.flow.id", "op": "is equal to", "rhv": first}
    cases = [
        ([equal], [first]),
        ([{"lhv": "vars.flow.id", "op": "is not equal to", "rhv": first}], [second, third]),
        ([{"lhv": "vars.flow.id", "op": "is included in", "rhv": [second, third]}], [second, third]),
        ([{"lhv": "vars.recipient.id", "op": "is blank"}], [first, second, third]),
        ([{"lhv": "vars.recipient.id", "op": "is not blank"}], []),  # source events name no recipient
        ([{"op": "or", "rules": [equal, {"lhv": "vars.flow.id", "op": "is equal to", "rhv": third}]}],
         [first, third]),
    ]
    for rules, kept in cases:
        rows = lc.post(f"{lc.base}/reports/preview", params=WINDOW, json={**by_flow, "rules": rules}).json()
        assert {r["vars.flow.id"]: r for r in rows} == {k: all_rows[k] for k in kept}, rules
    # A saved report's rules apply on run; a query rule narrows further (rules are and-ed).
    saved = lc.post(f"{lc.base}/reports", json={**by_flow, "rules": [cases[1][0][0]]}).json()
    run = lc.get(f"{lc.base}/reports/{saved['id']}/run", params=WINDOW).json()
    assert [r["vars.flow.id"] for r in run] == sorted([second, third])
    narrowed = lc.get(f"{lc.base}/reports/{saved['id']}/run",
                      params={**WINDOW, "rule": json.dumps({"lhv": "vars.flow.id", "op": "is equal to",
                                                            "rhv": second})}).json()
    assert [r["vars.flow.id"] for r in narrowed] == [second]
    stats = lc.get(f"{lc.base}/events/stats", params={**WINDOW, "by_lead": "false", "group_by": "vars.flow.id",
                                                      "rule": json.dumps(equal)}).json()
    assert [(r["vars.flow.id"], r["total"]) for r in stats] == [(first, all_rows[first]["source"])]
    for url, kwargs in ((f"{lc.base}/events/stats", {"params": {**WINDOW, "rule": json.dumps(
                            {"lhv": "type", "op": "is greater than", "rhv": 1})}}),
                        (f"{lc.base}/reports/{saved['id']}/run", {"params": {**WINDOW, "rule": "{nope"}}),
                        (f"{lc.base}/events", {"params": {**WINDOW, "rules": json.dumps([equal])}})):
        refused = lc.get(url, **kwargs)
        assert refused.status_code == 422, url
