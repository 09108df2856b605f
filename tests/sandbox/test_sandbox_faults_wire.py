"""Fault kinds that shape the wire: truncation, redirects, credential echo, data faults."""

from __future__ import annotations

import base64
import html
import json
import socket
from urllib.parse import quote, quote_plus, urlsplit

import pytest
import requests

from sandbox.process import SandboxProcess

HOUR = {"start": "2024-06-01T05:00:00.000Z", "end": "2024-06-01T05:59:59.999Z"}


def _raw_get(sandbox_proc: SandboxProcess, target: str, api_key: str) -> tuple[bytes, bytes]:
    """Send one GET over a fresh socket; return (head, everything after it until EOF)."""
    host, port = urlsplit(sandbox_proc.url).netloc.split(":")
    auth = base64.b64encode(f"API:{api_key}".encode()).decode()
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Basic "
                     f"{auth}\r\nAccept: application/json\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def _header(head: bytes, name: str) -> str:
    for line in head.decode("latin-1").split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    raise KeyError(name)


# -- truncated ---------------------------------------------------------------------------------


def test_truncated_sends_half_the_real_body_then_closes(sandbox_proc: SandboxProcess,
                                                        api_key: str) -> None:
    target = "/leadconduit/events?sort=asc&limit=20&start=2024-06-01T05:00:00Z"
    _, full = _raw_get(sandbox_proc, target, api_key)
    sandbox_proc.client.add_fault("leadconduit", "truncated", path="/events")
    head, partial = _raw_get(sandbox_proc, target, api_key)
    assert head.startswith(b"HTTP/1.1 200")
    assert int(_header(head, "Content-Length")) == len(full) > 1000
    assert partial == full[: len(full) // 2]  # the real response, cut, then EOF (FIN)
    assert sandbox_proc.client.requests("leadconduit")[-1]["fault"] == "truncated"


def test_truncated_is_a_chunked_encoding_error_for_requests(lc: requests.Session,
                                                            sandbox_proc: SandboxProcess) -> None:
    sandbox_proc.client.add_fault("leadconduit", "truncated", path="/events", after=1)
    assert lc.get(f"{lc.base}/events", params={"limit": 5}).status_code == 200
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
        lc.get(f"{lc.base}/events", params={"limit": 5})
    assert len(lc.get(f"{lc.base}/events", params={"limit": 5}).json()) == 5
    assert [e["fault"] for e in sandbox_proc.client.requests("leadconduit")] == [
        None, "truncated", None]


# -- redirects ---------------------------------------------------------------------------------


def test_redirect_loop_points_at_the_request_itself(lc: requests.Session,
                                                    sandbox_proc: SandboxProcess) -> None:
    sandbox_proc.client.add_fault("leadconduit", "redirect_loop", times=-1)
    r = lc.get(f"{lc.base}/events?limit=2&type=source&type=filter", allow_redirects=False)
    assert r.status_code == 302
    assert r.headers["Location"] == "/leadconduit/events?limit=2&type=source&type=filter"
    with pytest.raises(requests.TooManyRedirects):
        lc.get(f"{lc.base}/events", params={"limit": 2})
    log = sandbox_proc.client.requests("leadconduit")
    assert len(log) == 1 + 31 and {e["status"] for e in log} == {302}
    assert {e["fault"] for e in log} == {"redirect_loop"}


def test_redirect_loop_once_then_the_followed_request_is_answered(
        lc: requests.Session, sandbox_proc: SandboxProcess) -> None:
    sandbox_proc.client.add_fault("leadconduit", "redirect_loop")
    r = lc.get(f"{lc.base}/events", params={"limit": 2})
    assert r.status_code == 200 and len(r.json()) == 2 and len(r.history) == 1


def test_redirect_host_points_at_another_host(lc: requests.Session,
                                              sandbox_proc: SandboxProcess) -> None:
    sandbox_proc.client.add_fault("leadconduit", "redirect_host")
    r = lc.get(f"{lc.base}/events", params={"limit": 1, "sort": "asc"}, allow_redirects=False)
    assert r.status_code == 302
    assert r.headers["Location"] == "http://redirected.invalid/leadconduit/events?limit=1&sort=asc"
    assert sandbox_proc.client.requests("leadconduit")[0]["fault"] == "redirect_host"


# -- echo --------------------------------------------------------------------------------------

SECRET = "p@ss wörd/<&>+"  # every rendering differs from the raw value


def _forms(user: str, secret: str) -> dict[str, str]:
    return {
        "raw": secret,
        "percent": quote(secret, safe=""),
        "plus": quote_plus(secret),
        "html": html.escape(secret),
        "json": json.dumps(secret)[1:-1],
        "b64": base64.b64encode(secret.encode()).decode(),
        "basic_b64": base64.b64encode(f"{user}:{secret}".encode()).decode(),
    }


def test_echo_reflects_basic_credentials_in_every_form(sandbox_proc: SandboxProcess) -> None:
    sandbox_proc.client.add_fault("leadconduit", "echo")
    r = requests.get(f"{sandbox_proc.vendor_url('leadconduit')}/events", params={"limit": 1},
                     auth=(b"someone", SECRET.encode()), timeout=5)  # bytes: sent as UTF-8
    assert r.status_code == 500 and r.headers["Content-Type"].startswith("application/json")
    sent = r.request.headers["Authorization"]
    assert r.headers["X-Debug-Authorization"] == sent
    body = r.json()
    assert body["error"] == "Internal Server Error"
    assert body["message"] == f"upstream rejected key {SECRET}"
    assert body["debug"]["authorization"] == sent
    assert body["debug"]["url"] == r.request.url
    assert r.request.url.endswith("/leadconduit/events?limit=1")
    forms = _forms("someone", SECRET)
    cred = body["debug"]["credentials"][0]
    assert cred == {"source": "basic", "user": "someone", **forms}
    for name, value in forms.items():  # each spelling appears verbatim in the body text
        assert value in r.text, name
    assert sent in r.text
    assert sent == "Basic " + forms["basic_b64"]
    log = sandbox_proc.client.requests("leadconduit")
    assert log[0]["fault"] == "echo" and log[0]["status"] == 500
    logged = json.dumps(log, ensure_ascii=False)
    assert all(v not in logged for v in forms.values()) and sent not in logged


def test_echo_base64_forms_use_the_bytes_the_client_sent(sandbox_proc: SandboxProcess) -> None:
    sandbox_proc.client.add_fault("leadconduit", "echo")
    # requests encodes str Basic credentials as Latin-1.
    r = requests.get(f"{sandbox_proc.vendor_url('leadconduit')}/events", auth=("u", SECRET), timeout=5)
    cred = r.json()["debug"]["credentials"][0]
    assert cred["raw"] == SECRET
    assert "Basic " + cred["basic_b64"] == r.request.headers["Authorization"]
    assert base64.b64decode(cred["b64"]) == SECRET.encode("latin-1")


def test_echo_with_status_reflects_bearer_header_and_query_secrets(
        sandbox_proc: SandboxProcess) -> None:
    sandbox_proc.client.add_fault("leadconduit", "echo", status=401)
    url = f"{sandbox_proc.vendor_url('leadconduit')}/events"
    r = requests.get(url, params={"api_key": "q-key é", "token": "q-token", "limit": 1},
                     headers={"Authorization": "Bearer tok.en-1", "X-Api-Key": "x-key"},
                     timeout=5)
    assert r.status_code == 401
    assert r.headers["X-Debug-Authorization"] == "Bearer tok.en-1"
    body = r.json()
    assert body["error"] == "Unauthorized" and body["message"] == "upstream rejected key tok.en-1"
    creds = {c["source"]: c for c in body["debug"]["credentials"]}
    assert set(creds) == {"bearer", "x-api-key", "query:api_key", "query:token"}
    assert creds["bearer"]["raw"] == "tok.en-1"
    assert creds["x-api-key"] == {"source": "x-api-key", "user": "", **_forms("", "x-key")}
    assert creds["query:api_key"]["raw"] == "q-key é"
    assert creds["query:api_key"]["json"] == "q-key \\u00e9" and "q-key \\u00e9" in r.text
    assert body["debug"]["url"] == r.request.url and "api_key=q-key+%C3%A9" in r.request.url
    assert body["debug"]["x_api_key"] == "x-key"


def test_echo_html_escapes_in_markup_and_is_raw_in_pre(sandbox_proc: SandboxProcess) -> None:
    sandbox_proc.client.add_fault("leadconduit", "echo_html", status=400)
    r = requests.get(f"{sandbox_proc.vendor_url('leadconduit')}/events", auth=(b"u", SECRET.encode()),
                     timeout=5)
    assert r.status_code == 400 and r.headers["Content-Type"].startswith("text/html")
    assert r.headers["X-Debug-Authorization"] == r.request.headers["Authorization"]
    text = r.text
    markup, _, pre = text.partition("<pre>")
    assert f"<p>upstream rejected key {html.escape(SECRET)}</p>" in markup
    assert SECRET not in markup
    assert f"upstream rejected key {SECRET}\n" in pre
    for name, value in _forms("u", SECRET).items():
        assert f"<td>{html.escape(value)}</td>" in markup, name
        assert f"basic {name}: {value}\n" in pre, name
    assert r.request.headers["Authorization"] in pre and r.request.url in pre


# -- data-shaped faults ------------------------------------------------------------------------


def test_empty_serves_the_vendors_empty_page(lc: requests.Session,
                                             sandbox_proc: SandboxProcess) -> None:
    sandbox_proc.client.add_fault("leadconduit", "empty", times=2)
    # Not an endpoint with an empty page: answered normally, budget kept.
    assert lc.get(f"{lc.base}/reports").status_code == 200
    r = lc.get(f"{lc.base}/events", params={"limit": 5, **HOUR})
    assert r.status_code == 200 and r.content == b"[]"
    assert r.headers["Content-Type"].startswith("application/json")
    assert lc.get(f"{lc.base}/events", params={"limit": "x"}).status_code == 422  # still checked
    assert len(lc.get(f"{lc.base}/events", params={"limit": 5}).json()) == 5
    assert [e["fault"] for e in sandbox_proc.client.requests("leadconduit")] == [
        None, "empty", "empty", None]


def test_duplicates_repeats_the_end_of_the_previous_page(lc: requests.Session,
                                                         sandbox_proc: SandboxProcess) -> None:
    first = lc.get(f"{lc.base}/events", params={"sort": "asc", "limit": 10, **HOUR}).json()
    params = {"sort": "asc", "limit": 10, "after_id": first[-1]["id"]}
    clean = lc.get(f"{lc.base}/events", params=params).json()
    sandbox_proc.client.add_fault("leadconduit", "duplicates", path="/events", count=3)
    # The first page of a chain (no after_id) is answered normally and keeps the budget.
    assert lc.get(f"{lc.base}/events", params={"sort": "asc", "limit": 10, **HOUR}).json() == first
    dup = lc.get(f"{lc.base}/events", params=params).json()
    assert dup == first[-3:] + clean
    assert lc.get(f"{lc.base}/events", params=params).json() == clean  # budget spent
    assert [e["fault"] for e in sandbox_proc.client.requests("leadconduit")][-3:] == [
        None, "duplicates", None]


def test_duplicates_default_count_and_descending_chain(lc: requests.Session,
                                                       sandbox_proc: SandboxProcess) -> None:
    first = lc.get(f"{lc.base}/events", params={"limit": 10, **HOUR}).json()  # desc
    params = {"limit": 10, "before_id": first[-1]["id"], **HOUR}
    clean = lc.get(f"{lc.base}/events", params=params).json()
    sandbox_proc.client.add_fault("leadconduit", "duplicates")
    assert lc.get(f"{lc.base}/events", params=params).json() == first[-5:] + clean


def test_page_cap_serves_fewer_than_asked(lc: requests.Session,
                                          sandbox_proc: SandboxProcess) -> None:
    sandbox_proc.client.add_fault("leadconduit", "page_cap", path="/events", cap=7, times=-1)
    assert len(lc.get(f"{lc.base}/events", params={"limit": 10, **HOUR}).json()) == 7
    assert len(lc.get(f"{lc.base}/events", params={"limit": 5, **HOUR}).json()) == 5
    assert len(lc.get(f"{lc.base}/events", params=HOUR).json()) == 7  # the default is capped too
    # Combines with a response fault; the log keeps the query the client sent.
    sandbox_proc.client.add_fault("leadconduit", "503", path="/events")
    assert lc.get(f"{lc.base}/events", params={"limit": 10}).status_code == 503
    log = sandbox_proc.client.requests("leadconduit")
    assert log[0]["query"]["limit"] == ["10"]
    assert [(e["fault"], e["faults"]) for e in log] == [
        ("page_cap", ["page_cap"])] * 3 + [("503", ["page_cap", "503"])]


def test_page_cap_other_param(lc: requests.Session, sandbox_proc: SandboxProcess) -> None:
    sandbox_proc.client.add_fault("leadconduit", "page_cap", param="limit", cap=2)
    assert len(lc.get(f"{lc.base}/events", params={"limit": 10}).json()) == 2


def test_ignore_window_drops_start_and_end(lc: requests.Session,
                                           sandbox_proc: SandboxProcess) -> None:
    windowed = lc.get(f"{lc.base}/events", params={"sort": "asc", "limit": 5, **HOUR}).json()
    unbounded = lc.get(f"{lc.base}/events", params={"sort": "asc", "limit": 5}).json()
    assert windowed != unbounded
    sandbox_proc.client.add_fault("leadconduit", "ignore_window", path="/events")
    assert lc.get(f"{lc.base}/events",
                  params={"sort": "asc", "limit": 5, **HOUR}).json() == unbounded
    sandbox_proc.client.add_fault("leadconduit", "ignore_window", params=["end"])
    only_start = lc.get(f"{lc.base}/events", params={"sort": "desc", "limit": 1, **HOUR}).json()
    assert only_start[0]["end_timestamp"] > 1717221599999  # past the window's end
    assert sandbox_proc.client.requests("leadconduit")[-1]["fault"] == "ignore_window"


@pytest.mark.parametrize("spec", [
    {"kind": "duplicates", "count": 0}, {"kind": "page_cap", "cap": "many"},
    {"kind": "ignore_window", "params": "start"}, {"kind": "page_cap", "param": ""},
    {"kind": "echo", "status": 99}, {"kind": "echo", "times": -2},
])
def test_bad_fault_fields_are_400(spec: dict, sandbox_proc: SandboxProcess) -> None:
    r = requests.post(f"{sandbox_proc.url}/_sandbox/faults",
                      json={"vendor": "leadconduit", **spec}, timeout=5)
    assert r.status_code == 400


def test_fault_listing_shows_new_fields(sandbox_proc: SandboxProcess) -> None:
    sandbox_proc.client.add_fault("leadconduit", "ignore_window", params=["start"], times=-1)
    sandbox_proc.client.add_fault("leadconduit", "echo")
    listed = sandbox_proc.client._call("GET", "/faults")  # noqa: SLF001
    assert listed[0]["params"] == ["start"] and listed[0]["times"] == -1
    assert listed[1]["status"] == 500 and listed[1]["count"] == 5 and listed[1]["cap"] == 100
