"""pirsch_sync end to end: Airflow runs the DAG, the sandbox serves Pirsch over HTTP, PostgreSQL keeps the rows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from lead_pipelines.common.windows import Window
from lead_pipelines.pirsch import hook as pirsch_hook
from lead_pipelines.pirsch.settings import SOURCE, STREAMS
from sandbox.vendors.pirsch import CLIENT_ID, DEFAULT_API_KEY

DAG_ID = "pirsch_sync"
VISITOR = "/api/v1/statistics/visitor"


def day(d: int) -> Window:
    start = datetime(2024, 6, d, tzinfo=timezone.utc)
    return Window(start, start + timedelta(days=1))


def truth(sandbox, window: Window, stream: str, lookback: timedelta = timedelta(days=2)) -> list[str]:
    return sandbox.client.truth("pirsch", window.start - lookback, window.end, stream=stream)["ids"]


def landed(warehouse, stream: str) -> list[str]:
    return [r for (r,) in warehouse.query(f"SELECT record_id FROM raw.pirsch_{stream} ORDER BY record_id")]


def payloads(warehouse, stream: str) -> dict[str, str]:
    return dict(warehouse.query(f"SELECT record_id, payload::text FROM raw.pirsch_{stream}"))


def stats_requests(sandbox) -> list[dict]:
    return [r for r in sandbox.client.requests("pirsch") if "/statistics/" in r["path"]]


def late(sandbox, *days: str) -> None:
    sandbox.client._call("POST", "/pirsch/late", {"days": list(days)})


def test_a_daily_window_lands_every_stream_once(runner, clean_warehouse, clean_sandbox):
    window = day(1)

    run = runner.run_window(DAG_ID, window)

    assert run.state == "success"
    assert {t for t, s in run.task_states.items() if s == "success"} >= {f"land_{s.name}" for s in STREAMS}
    for stream in STREAMS:
        ids = truth(clean_sandbox, window, stream.name)
        assert ids and landed(clean_warehouse, stream.name) == sorted(ids), stream.name
    assert len(truth(clean_sandbox, window, "page")) > 300, "a day of pages spans several pages of 100"
    sent = stats_requests(clean_sandbox)
    assert {r["query"]["from"][0] for r in sent} == {"2024-05-30", "2024-05-31", "2024-06-01"}
    assert all(r["query"]["from"] == r["query"]["to"] and r["query"]["tz"] == ["Europe/Berlin"]
               and int(r["query"]["limit"][0]) == 100 for r in sent)
    pages = [r for r in sent if r["path"].endswith("/statistics/page")]
    assert sorted({int(r["query"]["offset"][0]) for r in pages}) == [0, 100, 200]
    runs = clean_warehouse.runs()
    assert len(runs) == len(STREAMS) and all(r["status"] == "success" and r["updated"] == 0 for r in runs)
    row = payloads(clean_warehouse, "visitor")
    assert '"day": "2024-06-01T00:00:00Z"' in row['["Sbx7pIrsch","2024-06-01"]']


def test_rerun_and_trailing_pull_update_only_rows_that_changed(runner, clean_warehouse, clean_sandbox):
    assert runner.run_window(DAG_ID, day(1)).state == "success"
    first = {s.name: payloads(clean_warehouse, s.name) for s in STREAMS}
    assert runner.run_window(DAG_ID, day(1)).state == "success"
    again = clean_warehouse.runs()[len(STREAMS):]
    assert all((r["inserted"], r["updated"]) == (0, 0) for r in again), "a re-run changes nothing"

    # Late data arrives for 31 May (a trailing day of 2 June's run) and 1 June.
    late(clean_sandbox, "2024-05-31", "2024-06-01")
    assert runner.run_window(DAG_ID, day(2)).state == "success"

    runs = {r["stream"]: r for r in clean_warehouse.runs()[2 * len(STREAMS):]}
    total_changed = 0
    for stream in STREAMS:
        now = payloads(clean_warehouse, stream.name)
        changed = [k for k, v in first[stream.name].items() if now[k] != v]
        assert all('"2024-05-30"' not in k for k in changed), "untouched days stay as they were"
        new_day = [k for k in now if '"2024-06-02"' in k]
        assert runs[stream.name]["updated"] == len(changed), stream.name
        assert runs[stream.name]["inserted"] == len(new_day), stream.name
        assert sorted(now) == sorted(set(truth(clean_sandbox, day(1), stream.name))
                                     | set(truth(clean_sandbox, day(2), stream.name))), stream.name
        total_changed += len(changed)
    page_rows = [k for k in first["page"] if '"2024-05-31"' in k or '"2024-06-01"' in k]
    assert 0 < total_changed and len([k for k in page_rows if first["page"][k] != payloads(
        clean_warehouse, "page")[k]]) < len(page_rows), "late data changes some rows, not all"


def test_a_token_expiring_mid_run_is_renewed_on_401_without_a_failed_task(runner, clean_warehouse, clean_sandbox,
                                                                          monkeypatch):
    client = clean_sandbox.client
    # The run starts with no token in this process; the one it obtains authorizes two calls (the
    # domain, the first day's visitors) and then answers 401 although its expires_at is an hour ahead.
    monkeypatch.setattr(pirsch_hook, "_TOKENS", {})
    client._call("POST", "/pirsch/tokens", {"expire_after": 2})

    run = runner.run_window(DAG_ID, day(1), only="land_visitor")

    assert run.state == "success" and all(s == "success" for s in run.task_states.values())
    (audit,) = clean_warehouse.runs()
    assert (audit["status"], audit["try_number"], audit["http_retries"]) == ("success", 1, 0), "no failed try"
    assert landed(clean_warehouse, "visitor") == sorted(truth(clean_sandbox, day(1), "visitor"))
    wire = [(r["method"], r["path"], r["status"], r["query"].get("from", [None])[0])
            for r in client.requests("pirsch")]
    assert wire == [
        ("POST", "/api/v1/token", 200, None),
        ("GET", "/api/v1/domain", 200, None),
        ("GET", VISITOR, 200, "2024-05-30"),
        ("GET", VISITOR, 401, "2024-05-31"),
        ("POST", "/api/v1/token", 200, None),
        ("GET", VISITOR, 200, "2024-05-31"),
        ("GET", VISITOR, 200, "2024-06-01"),
    ], "the 401 is followed by one token request and the same call again"
    sent = client.requests("pirsch")
    assert sent[3]["query"] == sent[5]["query"]
    assert sent[4]["body"] == {"client_id": CLIENT_ID, "client_secret": DEFAULT_API_KEY}, "client id and secret as JSON"
    assert sent[4]["auth"] == "ok"


def test_a_429_with_retry_after_is_waited_out(runner, clean_warehouse, clean_sandbox):
    client = clean_sandbox.client
    client.add_fault("pirsch", "429", path=VISITOR, after=1, times=2, retry_after=1)

    run = runner.run_window(DAG_ID, day(1))

    assert run.state == "success"
    sent = [r for r in client.requests("pirsch") if r["path"] == VISITOR]
    assert [r["status"] for r in sent] == [200, 429, 429, 200, 200]
    assert sent[1]["query"] == sent[2]["query"] == sent[3]["query"], "the same page was asked again"
    assert sent[2]["ts"] - sent[1]["ts"] >= 1 and sent[3]["ts"] - sent[2]["ts"] >= 1, "Retry-After: 1 was honoured"
    (visitor,) = [r for r in clean_warehouse.runs() if r["stream"] == "visitor"]
    assert visitor["http_retries"] == 2 and visitor["http_wait_seconds"] >= 2
    assert landed(clean_warehouse, "visitor") == sorted(truth(clean_sandbox, day(1), "visitor"))


def test_source_settings_match_the_contract():
    assert (SOURCE.dag_id, SOURCE.conn_id, SOURCE.cron, SOURCE.interval) == ("pirsch_sync", "pirsch_default",
                                                                              "0 0 * * *", timedelta(days=1))
    assert all(s.lookback == timedelta(days=2) for s in STREAMS)
    assert [SOURCE.raw_table(s) for s in STREAMS][:3] == ["pirsch_visitor", "pirsch_total", "pirsch_page"]
