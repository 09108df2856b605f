"""LeadConduit /reports and /events/stats."""

from __future__ import annotations

import csv
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
