"""The giosg hook against its simulator over HTTP: token header, next links, offsets, ids, 429, 403, redaction."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timezone

import orjson
import pytest

from lead_pipelines.common.errors import VendorAPIError, VendorConfigError, VendorRejectedError
from lead_pipelines.common.http_hook import RetryPolicy
from lead_pipelines.common.windows import Window
from lead_pipelines.giosg.hook import GiosgHook, daily_intervals, sidedata_key
from sandbox.client import SandboxClient
from sandbox.server import Sandbox, SandboxConfig, SandboxHTTPServer
from sandbox.vendors import giosg
from sandbox.vendors.giosg import forbid, settings

DAY = Window(datetime(2024, 6, 1, tzinfo=timezone.utc), datetime(2024, 6, 2, tzinfo=timezone.utc))


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, SandboxClient]]:
    config = SandboxConfig(seed=7, start_ms=1717200000000, end_ms=1717372800000)
    server = SandboxHTTPServer(("127.0.0.1", 0), Sandbox(config, {"giosg": giosg.build(config)}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield f"{base}/giosg", SandboxClient(base)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def client(served) -> SandboxClient:
    served[1].reset()
    return served[1]


def workflow_ids(client: SandboxClient) -> list[str]:
    return client.truth("giosg", "2024-06-01T00:00:00Z", "2024-06-02T00:00:00Z")["ids"]


def make_hook(monkeypatch, served, password=giosg.DEFAULT_API_KEY, **extra) -> tuple[GiosgHook, list[float]]:
    conn = giosg.connection(served[0])
    conn["password"] = password
    conn["extra"] = {**conn["extra"], **extra}
    monkeypatch.setenv("AIRFLOW_CONN_GIOSG_TEST", json.dumps(conn))
    waits: list[float] = []
    return GiosgHook("giosg_test", retry_policy=RetryPolicy(max_attempts=3), sleep=waits.append), waits


def test_workflows_follow_next_with_the_token_header(monkeypatch, served, client):
    hook, _ = make_hook(monkeypatch, served)
    pages = list(hook.iter_workflows(DAY))
    assert [len(p) for p in pages] == [2, 2, 1] and [p.number for p in pages] == [1, 2, 3]
    ids = [r["id"] for p in pages for r in p.records]
    assert sorted(ids) == client.truth("giosg", "2024-06-01T00:00:00Z", "2024-06-02T00:00:00Z")["ids"]
    log = client.requests("giosg")
    assert [r["query"].get("page") for r in log] == [None, ["2"], ["3"]]
    assert {r["auth"] for r in log} == {"ok"} and {r["accept"] for r in log} == {"application/json"}


def test_sidedata_one_call_per_day_with_offsets_exact_bytes_and_natural_key(monkeypatch, served, client):
    hook, _ = make_hook(monkeypatch, served)
    wf = workflow_ids(client)[0]
    two_days = Window(DAY.start, datetime(2024, 6, 3, tzinfo=timezone.utc))
    pages = list(hook.iter_sidedata(wf, two_days))
    bodies = [r["body"] for r in client.requests("giosg")]
    assert bodies == [{"interval": {"start": "2024-06-01T00:00:00+00:00", "end": "2024-06-02T00:00:00+00:00"}},
                      {"interval": {"start": "2024-06-02T00:00:00+00:00", "end": "2024-06-03T00:00:00+00:00"}}]
    assert [p.ids for p in pages] == [[sidedata_key(wf, a, b)] for a, b in daily_intervals(two_days)]
    assert orjson.loads(pages[0].ids[0]) == [wf, "2024-06-01T00:00:00+00:00", "2024-06-02T00:00:00+00:00"]
    sent = hook.request_json("POST", hook.sidedata_path(wf), json_body=bodies[0])
    assert orjson.loads(pages[0].raw[0]) == sent and len(pages[0]) == 1
    assert sorted(p.ids[0] for p in pages) == [k for k in client.truth("giosg", "2024-06-01T00:00:00Z",
                                                                       "2024-06-03T00:00:00Z", stream="sidedata")["ids"]
                                               if orjson.loads(k)[0] == wf]


def test_429_retry_after_is_waited_out(monkeypatch, served, client):
    hook, waits = make_hook(monkeypatch, served)
    client.add_fault("giosg", "429", path="/api/reporting", times=1, retry_after=2)
    wf = workflow_ids(client)[0]
    assert len(list(hook.iter_sidedata(wf, DAY))) == 1
    assert [r["status"] for r in client.requests("giosg")] == [429, 200]
    assert waits == [2.0] and hook.stats.retries == 1


def test_forbidden_workflow_fails_at_once_naming_its_path(monkeypatch, served, client):
    hook, waits = make_hook(monkeypatch, served)
    wf = workflow_ids(client)[1]
    forbid(client, wf)
    with pytest.raises(VendorRejectedError) as caught:
        list(hook.iter_sidedata(wf, DAY))
    assert "HTTP 403" in str(caught.value) and wf in str(caught.value) and not waits
    assert len(client.requests("giosg")) == 1


def test_an_answer_for_another_interval_fails_clearly(monkeypatch, served, client):
    hook, _ = make_hook(monkeypatch, served)
    settings(client, body_window="ignore")
    navigation = [w for w in workflow_ids(client)
                  if "timeframe_stat" in hook.request_json("POST", hook.sidedata_path(w), json_body={
                      "interval": {"start": "2024-06-01T00:00:00+00:00", "end": "2024-06-02T00:00:00+00:00"}})]
    assert navigation
    with pytest.raises(VendorAPIError, match="answered another interval"):
        list(hook.iter_sidedata(navigation[0], DAY))


def test_empty_page_linked_by_next_fails_and_token_is_redacted(monkeypatch, served, client):
    token = "Zq7/k+y&v=1<x>\"w'%~lp"
    hook, _ = make_hook(monkeypatch, served, password=token)
    with pytest.raises(VendorRejectedError) as caught:
        list(hook.iter_workflows(DAY))
    assert "HTTP 401" in str(caught.value)
    hook, _ = make_hook(monkeypatch, served)
    client.add_fault("giosg", "empty", after=1)
    with pytest.raises(VendorAPIError, match="holds no workflow"):
        list(hook.iter_workflows(DAY))
    client.add_fault("giosg", "echo", status=400)
    with pytest.raises(VendorRejectedError) as caught:
        hook.request_json("GET", hook.workflows_path())
    assert giosg.DEFAULT_API_KEY not in str(caught.value)


def test_connection_needs_a_uuid_organization(monkeypatch, served):
    hook, _ = make_hook(monkeypatch, served, organization_id="acme")
    with pytest.raises(VendorConfigError, match="organization_id"):
        hook.connection  # noqa: B018
    assert GiosgHook.get_ui_field_behaviour()["relabeling"] == {"host": "API base URL", "password": "API token"}
