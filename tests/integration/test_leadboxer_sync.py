"""leadboxer_sync end to end: Airflow runs the DAG, the sandbox serves LeadBoxer's v1 API, PostgreSQL keeps the rows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from devtools.testing import vendor_conn
from lead_pipelines.common.windows import Window
from lead_pipelines.leadboxer.settings import EVENTS, LEADS, LOOKBACK, SESSIONS, raw_table
from sandbox.vendors import leadboxer as simulator

DAG_ID = "leadboxer_sync"
STREAMS = (LEADS, SESSIONS, EVENTS)
HOUR_5 = Window(datetime(2024, 6, 1, 5, tzinfo=timezone.utc), datetime(2024, 6, 1, 6, tzinfo=timezone.utc))
HOUR_6 = Window(HOUR_5.end, HOUR_5.end + timedelta(hours=1))


def run(runner, window: Window, state: str = "success"):
    result = runner.run_window(DAG_ID, window)
    assert result.state == state, result
    return result


def landed(warehouse, stream) -> list[str]:
    return [r for (r,) in warehouse.query(f"SELECT record_id FROM {raw_table(stream)} ORDER BY record_id")]


def truth(sandbox, window: Window, stream) -> list[str]:
    return sandbox.client.truth("leadboxer", window.start - LOOKBACK, window.end, stream=stream.name)["ids"]


def calls(sandbox, path: str) -> list[dict]:
    return [r for r in sandbox.client.requests("leadboxer") if r["path"] == path]


def runs_of(warehouse, stream) -> list[dict]:
    return [r for r in warehouse.runs() if r["vendor"] == "leadboxer" and r["stream"] == stream.name]


def test_window_lands_every_lead_session_and_event_once(runner, clean_warehouse, clean_sandbox):
    run(runner, HOUR_5)

    for stream in STREAMS:
        assert landed(clean_warehouse, stream) == truth(clean_sandbox, HOUR_5, stream), stream.name
    leads = set(landed(clean_warehouse, LEADS))
    assert len(leads) > 10
    listing = calls(clean_sandbox, "/v1/leads")
    assert all(r["auth"] == "ok" for r in clean_sandbox.client.requests("leadboxer")), "x-api-key on every call"
    # One day in Amsterdam covers [04:00Z, 06:00Z); the hour is cut out locally.
    assert {r["query"]["criteriaTimeFilter"][0] for r in listing} == {"eventEsTimestamp|between|01/06/2024-01/06/2024"}
    assert {r["query"]["sortBy"][0] for r in listing} == {"lastEvent|asc"}
    assert {r["query"]["timeZone"][0] for r in listing} == {"Europe/Amsterdam"}
    assert "nextToken" not in listing[0]["query"] and all("nextToken" in r["query"] for r in listing[1:])
    # The fan-out asked once for each landed lead and each landed session.
    assert sorted(r["query"]["leadId"][0] for r in calls(clean_sandbox, "/v1/leads/sessions")) == sorted(leads)
    assert sorted(r["query"]["sessionId"][0] for r in calls(clean_sandbox, "/v1/leads/events")) == \
        landed(clean_warehouse, SESSIONS)
    session = clean_warehouse.query(f"SELECT payload FROM {raw_table(SESSIONS)} LIMIT 1")[0][0]
    assert {"session_id", "use_id", "event_count", "session_unix_timestamp"} <= set(session)

    before = {s.name: clean_warehouse.snapshot(raw_table(s)) for s in STREAMS}
    run(runner, HOUR_5)
    run(runner, HOUR_6)  # re-reads HOUR_5 as its lookback
    for stream in STREAMS:
        after = {row[0]: row for row in clean_warehouse.snapshot(raw_table(stream))}
        assert all(after[row[0]] == row for row in before[stream.name]), f"{stream.name}: re-runs change nothing"
        assert sorted(after) == sorted(set(truth(clean_sandbox, HOUR_5, stream)) | set(truth(clean_sandbox, HOUR_6, stream)))
    rerun = runs_of(clean_warehouse, LEADS)[1]
    assert (rerun["inserted"], rerun["updated"], rerun["unchanged"]) == (0, 0, len(leads))


def test_a_returning_lead_is_updated_not_duplicated(runner, clean_warehouse, clean_sandbox):
    run(runner, HOUR_5)
    lo, hi = (int(m.timestamp() * 1000) for m in (HOUR_5.start, HOUR_5.end))
    lead_id, last = next((lid, last) for lid, last in clean_warehouse.query(
        f"SELECT record_id, (payload->>'lastEvent')::bigint FROM {raw_table(LEADS)} ORDER BY 2")
        if lo <= last < hi - 600_000)

    back = simulator.come_back(clean_sandbox.client, lead_id, at=last + 60_000, events=3)
    run(runner, HOUR_5)

    row = clean_warehouse.query(f"SELECT payload, change_count FROM {raw_table(LEADS)} WHERE record_id = %s",
                                (lead_id,))
    assert row[0][0]["lastEvent"] == back["lead"]["lastEvent"] > last and row[0][1] == 1
    assert row[0][0]["total_number_visits"] == back["lead"]["total_number_visits"]
    latest = {s.name: runs_of(clean_warehouse, s)[-1] for s in STREAMS}
    assert (latest["leads"]["inserted"], latest["leads"]["updated"]) == (0, 1)
    assert (latest["sessions"]["inserted"], latest["events"]["inserted"]) == (1, 3)
    for stream in STREAMS:
        ids = landed(clean_warehouse, stream)
        assert ids == truth(clean_sandbox, HOUR_5, stream) and len(ids) == len(set(ids))


def test_more_calls_than_the_limit_allows_are_paced_not_failed(runner, clean_warehouse, clean_sandbox, monkeypatch):
    # A scaled-down "minute": 25 calls per endpoint per second, at the vendor and in the connection.
    simulator.settings(clean_sandbox.client, rate_limit=25, rate_limit_period=1)
    monkeypatch.setenv("AIRFLOW_CONN_LEADBOXER_DEFAULT", vendor_conn(
        "leadboxer", clean_sandbox.vendor_url("leadboxer"), rate_limit_per_minute=25, rate_limit_period_seconds=1))

    result = run(runner, HOUR_5)

    assert result.task_states.pop("check_freshness") == "skipped", "a manual run does not judge freshness"
    assert set(result.task_states.values()) == {"success"}
    assert len(calls(clean_sandbox, "/v1/leads/events")) > 25, "more calls than one period allows"
    for stream in STREAMS:
        assert landed(clean_warehouse, stream) == truth(clean_sandbox, HOUR_5, stream)
        (audit,) = runs_of(clean_warehouse, stream)
        assert audit["status"] == "success" and audit["http_paced_seconds"] > 0, stream.name
    log = clean_sandbox.client.requests("leadboxer")
    throttled = [n for n, r in enumerate(log) if r["status"] == 429]
    # Any 429 (a call landing a hair early) was sent again and answered.
    assert all(any(r["query"] == log[n]["query"] and r["status"] == 200 for r in log[n + 1:]) for n in throttled)


def test_a_next_token_expiring_mid_window_restarts_the_listing(runner, clean_warehouse, clean_sandbox):
    simulator.settings(clean_sandbox.client, token_ttl=1)
    # The second listing call waits out a 429 longer than its token lives.
    clean_sandbox.client.add_fault("leadboxer", "429", path="/v1/leads", method="GET", after=1, retry_after=2)

    run(runner, HOUR_5)

    for stream in STREAMS:
        assert landed(clean_warehouse, stream) == truth(clean_sandbox, HOUR_5, stream)
    listing = calls(clean_sandbox, "/v1/leads")
    assert [r["status"] for r in listing[1:3]] == [429, 400], "the token expired while the task waited"
    assert "nextToken" in listing[2]["query"] and "nextToken" not in listing[3]["query"], "the listing restarted"


def test_a_vendor_ignoring_lead_id_fails_clearly_instead_of_landing_other_leads_sessions(
        runner, clean_warehouse, clean_sandbox):
    clean_sandbox.client.add_fault("leadboxer", "ignore_window", path="/v1/leads/sessions", times=-1,
                                   params=["leadId"])

    run(runner, HOUR_5, state="failed")

    assert landed(clean_warehouse, SESSIONS) == [] and landed(clean_warehouse, EVENTS) == []
    error = runs_of(clean_warehouse, SESSIONS)[-1]["error"]
    assert error.startswith("LeadBoxer GET") and str(HOUR_5) in error and "ignored the leadId filter" in error
    clean_sandbox.client.clear_faults()
    run(runner, HOUR_5)
    assert landed(clean_warehouse, SESSIONS) == truth(clean_sandbox, HOUR_5, SESSIONS)
