"""Sandbox framework: health, faults, request log, process lifecycle, keep-alive."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from sandbox.process import REPO_ROOT, SandboxProcess
from sandbox.vendors.leadconduit import DEFAULT_API_KEY as API_KEY


def test_health(sandbox_proc: SandboxProcess) -> None:
    from lead_pipelines.registry import SOURCES

    assert sandbox_proc.client.health() == {
        "ok": True, "vendors": sorted(source.vendor for source in SOURCES), "seed": 7,
        "start": "2024-06-01T00:00:00Z", "end": "2024-06-02T00:00:00Z",
    }
    assert sandbox_proc.vendor_url("leadconduit") == sandbox_proc.url + "/leadconduit"


def test_429_with_retry_after_then_recovers(lc: requests.Session,
                                            sandbox_proc: SandboxProcess) -> None:
    sandbox_proc.client.add_fault("leadconduit", "429", path="/events", retry_after=3)
    first = lc.get(f"{lc.base}/events", params={"limit": 1})
    assert first.status_code == 429 and first.headers["Retry-After"] == "3"
    assert first.json()["error"] == "Too Many Requests"
    assert lc.get(f"{lc.base}/events", params={"limit": 1}).status_code == 200


@pytest.mark.parametrize("kind", ["500", "502", "503"])
def test_5xx(kind: str, lc: requests.Session, sandbox_proc: SandboxProcess) -> None:
    sandbox_proc.client.add_fault("leadconduit", kind)
    assert lc.get(f"{lc.base}/events", params={"limit": 1}).status_code == int(kind)
    assert lc.get(f"{lc.base}/events", params={"limit": 1}).status_code == 200


def test_after_and_times(lc: requests.Session, sandbox_proc: SandboxProcess) -> None:
    sandbox_proc.client.add_fault("leadconduit", "503", path="/events", method="GET",
                                  after=2, times=2)
    statuses = [lc.get(f"{lc.base}/events", params={"limit": 1}).status_code for _ in range(6)]
    assert statuses == [200, 200, 503, 503, 200, 200]
    log = sandbox_proc.client.requests("leadconduit")
    assert [e["fault"] for e in log] == [None, None, "503", "503", None, None]


def test_fault_path_and_method_scope(lc: requests.Session, sandbox_proc: SandboxProcess) -> None:
    sandbox_proc.client.add_fault("leadconduit", "500", path="/reports", times=-1)
    assert lc.get(f"{lc.base}/events", params={"limit": 1}).status_code == 200
    assert lc.get(f"{lc.base}/reports").status_code == 500
    assert lc.get(f"{lc.base}/reports").status_code == 500  # forever
    sandbox_proc.client.clear_faults()
    assert lc.get(f"{lc.base}/reports").status_code == 200


def test_reset_fault_is_a_connection_error(lc: requests.Session,
                                           sandbox_proc: SandboxProcess) -> None:
    assert lc.get(f"{lc.base}/events", params={"limit": 1}).status_code == 200  # pooled conn
    sandbox_proc.client.add_fault("leadconduit", "reset")
    with pytest.raises(requests.ConnectionError):
        lc.get(f"{lc.base}/events", params={"limit": 1})
    assert lc.get(f"{lc.base}/events", params={"limit": 1}).status_code == 200
    assert sandbox_proc.client.requests("leadconduit")[1]["fault"] == "reset"


def test_slow_fault_trips_read_timeout(lc: requests.Session, sandbox_proc: SandboxProcess) -> None:
    sandbox_proc.client.add_fault("leadconduit", "slow", delay=1.5)
    with pytest.raises(requests.ReadTimeout):
        lc.get(f"{lc.base}/events", params={"limit": 1}, timeout=(2, 0.3))
    assert lc.get(f"{lc.base}/events", params={"limit": 1}, timeout=5).status_code == 200


def test_malformed_body(lc: requests.Session, sandbox_proc: SandboxProcess) -> None:
    sandbox_proc.client.add_fault("leadconduit", "malformed")
    r = lc.get(f"{lc.base}/events", params={"limit": 1})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    with pytest.raises(ValueError):
        r.json()


def test_html_error_page(lc: requests.Session, sandbox_proc: SandboxProcess) -> None:
    sandbox_proc.client.add_fault("leadconduit", "html", status=504)
    r = lc.get(f"{lc.base}/events", params={"limit": 1})
    assert r.status_code == 504 and r.headers["Content-Type"].startswith("text/html")
    assert "Gateway" in r.text
    sandbox_proc.client.add_fault("leadconduit", "html")
    assert lc.get(f"{lc.base}/events").status_code == 502


def test_bad_fault_kind_is_rejected(sandbox_proc: SandboxProcess) -> None:
    with pytest.raises(RuntimeError, match="400"):
        sandbox_proc.client.add_fault("leadconduit", "teapot")


def test_request_log_records_queries_and_never_the_key(
    lc: requests.Session, sandbox_proc: SandboxProcess, api_key: str
) -> None:
    lc.get(f"{lc.base}/events", params={"sort": "asc", "type": ["source", "filter"], "limit": 5})
    lc.post(f"{lc.base}/reports", json={"name": "r", "columns": ["source"]})
    requests.get(f"{lc.base}/events", auth=("API", "wrong"), timeout=5)
    raw = requests.get(f"{sandbox_proc.url}/_sandbox/requests", timeout=5).text
    assert api_key not in raw and "Authorization" not in raw and "wrong" not in raw
    log = sandbox_proc.client.requests("leadconduit")
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("GET", "/events", 200), ("POST", "/reports", 201), ("GET", "/events", 401)]
    assert log[0]["query"] == {"sort": ["asc"], "type": ["source", "filter"], "limit": ["5"]}
    assert log[0]["accept"] == "application/json" and log[0]["auth"] == "ok"
    assert log[1]["body"] == {"name": "r", "columns": ["source"]}
    assert log[2]["auth"] == "bad" and isinstance(log[2]["ts"], float)
    sandbox_proc.client.clear_requests()
    assert sandbox_proc.client.requests("leadconduit") == []


def test_keep_alive_reuses_one_connection(lc: requests.Session) -> None:
    sockets = set()
    for _ in range(5):
        r = lc.get(f"{lc.base}/events", params={"limit": 2}, stream=True)
        sockets.add(id(r.raw._connection.sock))  # noqa: SLF001 - inspect urllib3 pooling
        r.content  # noqa: B018 - release the connection to the pool
        assert "Content-Length" in r.headers
    assert len(sockets) == 1


def test_cli_prints_ready_line_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", "0", "--ready-file", str(ready)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert line.startswith("sandbox listening on http://127.0.0.1:")
        assert ready.read_text().strip() == line.removeprefix("sandbox listening on ")
        assert requests.get(ready.read_text().strip() + "/_sandbox/health", timeout=5).ok
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_leadconduit_says_which_events_are_shared_people(sandbox_proc):
    from sandbox.people import shared_people

    client = sandbox_proc.client
    people = client.people("leadconduit", "2024-06-01T00:00:00Z", "2024-06-01T03:00:00Z")
    truth = set(client.truth("leadconduit", "2024-06-01T00:00:00Z", "2024-06-01T03:00:00Z")["ids"])

    assert people and set(people) <= truth
    emails = {p.key: p.email for p in shared_people(7)}
    r = requests.get(f"{sandbox_proc.vendor_url('leadconduit')}/events", auth=("API", API_KEY), timeout=10,
                     params={"start": "2024-06-01T00:00:00.000Z", "end": "2024-06-01T02:59:59.999Z", "limit": 1000})
    for event in r.json():
        if event["id"] in people:
            assert event["vars"]["lead"]["email"]["raw"] == emails[people[event["id"]]]
    assert len(set(people.values())) < len(people), "some people come back more than once"
