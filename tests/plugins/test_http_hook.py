"""VendorHttpHook through LeadConduitHook over real HTTP: retries, errors, secrets and the session."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
import requests
from airflow.sdk.exceptions import AirflowFailException

from devtools.testing import vendor_conn
from sandbox.vendors.leadconduit import DEFAULT_API_KEY as LEADCONDUIT_KEY
from lead_pipelines.common.errors import VendorAPIError, VendorConfigError, VendorRejectedError
from lead_pipelines.common.http_hook import HttpStats, RetryPolicy, parse_retry_after, redact
from lead_pipelines.common.windows import Window
from lead_pipelines.leadconduit.hook import LeadConduitHook

WINDOW = Window(datetime(2024, 6, 1, 5, tzinfo=timezone.utc), datetime(2024, 6, 1, 6, tzinfo=timezone.utc))
PARAMS = {"sort": "asc", "limit": 3, "start": "2024-06-01T05:00:00.000Z", "end": "2024-06-01T05:59:59.999Z"}
WHERE = "LeadConduit GET /leadconduit/events failed for window [2024-06-01T05:00:00Z, 2024-06-01T06:00:00Z)"


@pytest.fixture
def lc(clean_sandbox, monkeypatch):
    """The sandbox, with a helper to rewire ``leadconduit_default`` for one test."""

    def wire(key: str = LEADCONDUIT_KEY, **extra) -> None:
        monkeypatch.setenv("AIRFLOW_CONN_LEADCONDUIT_DEFAULT", vendor_conn("leadconduit", clean_sandbox.vendor_url("leadconduit"), key, **extra))

    wire()
    clean_sandbox.wire = wire
    return clean_sandbox


def events_log(sandbox, *, expect: int = 0) -> list[dict]:
    """Return the logged ``/events`` calls; a slow answer is logged only once the sandbox stops sleeping,
    so wait (a few seconds at most) until ``expect`` calls are in."""
    deadline = time.monotonic() + 5
    while True:
        sent = [r for r in sandbox.client.requests("leadconduit") if r["path"] == "/events"]
        if len(sent) >= expect or time.monotonic() >= deadline:
            return sent
        time.sleep(0.1)


def fetch(hook: LeadConduitHook, **params):
    return hook.request_json("GET", "/events", params={**PARAMS, **params}, window=WINDOW)


FAULTS = [
    pytest.param({"kind": "500"}, id="500-json"),
    pytest.param({"kind": "502"}, id="502-plain-text"),
    pytest.param({"kind": "503"}, id="503-json"),
    pytest.param({"kind": "html"}, id="html-error-page"),
    pytest.param({"kind": "html", "status": 504}, id="html-504"),
    pytest.param({"kind": "malformed"}, id="malformed-200"),
    pytest.param({"kind": "reset"}, id="tcp-reset"),
    pytest.param({"kind": "slow", "delay": 1.5}, id="slow-read-timeout"),
    pytest.param({"kind": "truncated"}, id="body-cut-short-of-content-length"),
    pytest.param({"kind": "429", "retry_after": -1}, id="429-without-retry-after"),
]


@pytest.mark.parametrize("fault", FAULTS)
def test_transient_fault_is_retried_with_backoff_and_the_call_returns(lc, fault):
    lc.wire(timeout=0.4)
    lc.client.add_fault("leadconduit", fault["kind"], path="/events", times=1,
                        **{k: v for k, v in fault.items() if k != "kind"})
    waits: list[float] = []
    hook = LeadConduitHook(sleep=waits.append)

    page = fetch(hook)

    assert isinstance(page, list) and len(page) == 3
    assert [e["id"] for e in page] == sorted(e["id"] for e in page)
    assert len(waits) == 1 and 0.05 <= waits[0] <= 0.1, "first backoff is the base (0.1 s in tests) with jitter in [0.5, 1]"
    assert hook.stats == HttpStats(requests=2, retries=1, wait_seconds=waits[0])
    sent = events_log(lc, expect=2)
    # A slow answer is logged when the sandbox finishes it, after the retry: compare by fault, not order.
    faulted, clean = sorted(sent, key=lambda r: r["fault"] is None)
    assert (len(sent), faulted["fault"], clean["fault"]) == (2, fault["kind"], None), "one faulted call, one clean retry"
    assert clean["status"] == 200 and clean["auth"] == "ok"
    assert faulted["query"] == clean["query"], "the retry repeats the same query"


@pytest.mark.parametrize(("times", "retry_after"), [(1, 1), (2, 7)], ids=["once-1s", "twice-7s"])
def test_429_honours_retry_after_exactly(lc, times, retry_after):
    lc.client.add_fault("leadconduit", "429", path="/events", times=times, retry_after=retry_after)
    waits: list[float] = []
    hook = LeadConduitHook(sleep=waits.append)

    page = fetch(hook)

    assert len(page) == 3
    assert waits == [float(retry_after)] * times
    assert hook.stats == HttpStats(requests=times + 1, retries=times, wait_seconds=float(retry_after * times))
    assert [r["status"] for r in events_log(lc)] == [429] * times + [200]


@pytest.mark.parametrize(
    ("kind", "status", "detail"),
    [("503", 503, "HTTP 503"), ("reset", None, "connection error"), ("malformed", 200, "not valid JSON")],
    ids=["503", "reset", "malformed"],
)
def test_persistent_fault_gives_up_after_max_attempts_naming_the_call(lc, kind, status, detail):
    lc.client.add_fault("leadconduit", kind, path="/events", times=-1)
    waits: list[float] = []
    hook = LeadConduitHook(sleep=waits.append)

    with pytest.raises(VendorAPIError) as excinfo:
        fetch(hook)

    message = str(excinfo.value)
    assert message.startswith(WHERE)
    assert detail in message and "gave up after 3 attempts" in message
    assert not isinstance(excinfo.value, AirflowFailException), "a transient failure leaves Airflow's retry to act"
    assert (excinfo.value.vendor, excinfo.value.method, excinfo.value.endpoint) == ("LeadConduit", "GET", "/leadconduit/events")
    assert excinfo.value.status == status and excinfo.value.window == WINDOW
    assert len(events_log(lc)) == 3
    assert hook.stats.requests == 3 and hook.stats.retries == 2 and len(waits) == 2
    assert hook.stats.wait_seconds == pytest.approx(sum(waits))


def test_retry_after_longer_than_the_limit_fails_at_once(lc):
    lc.wire(max_retry_after=5)
    lc.client.add_fault("leadconduit", "429", path="/events", times=-1, retry_after=60)
    waits: list[float] = []
    hook = LeadConduitHook(sleep=waits.append)

    with pytest.raises(VendorAPIError) as excinfo:
        fetch(hook)

    message = str(excinfo.value)
    assert message.startswith(WHERE) and "HTTP 429" in message
    assert "asks to wait 60s, longer than the 5s a task waits" in message
    assert waits == [] and hook.stats == HttpStats(requests=1, retries=0, wait_seconds=0.0)
    assert len(events_log(lc)) == 1


def test_wrong_key_is_rejected_after_one_request_without_leaking_it(lc, caplog, capfd):
    wrong_key = "wrong-key-5f0c2e9d81"
    lc.wire(wrong_key)
    waits: list[float] = []
    hook = LeadConduitHook(sleep=waits.append)

    with caplog.at_level(logging.DEBUG):
        with pytest.raises(VendorRejectedError) as excinfo:
            fetch(hook)

    assert isinstance(excinfo.value, AirflowFailException)
    assert excinfo.value.status == 401
    message = str(excinfo.value)
    assert message.startswith(WHERE) and "HTTP 401" in message
    out, err = capfd.readouterr()
    assert wrong_key not in message and wrong_key not in caplog.text and wrong_key not in out + err
    assert LEADCONDUIT_KEY not in message
    sent = events_log(lc)
    assert [(r["status"], r["auth"]) for r in sent] == [(401, "bad")]
    assert waits == [] and hook.stats.requests == 1 and hook.stats.retries == 0


def test_unprocessable_request_is_not_retried(lc):
    hook = LeadConduitHook(sleep=pytest.fail)

    with pytest.raises(VendorRejectedError) as excinfo:
        hook.request_json("GET", "/events", params={"limit": 5000}, window=WINDOW)

    assert excinfo.value.status == 422
    assert "HTTP 422" in str(excinfo.value) and str(excinfo.value).startswith(WHERE)
    sent = events_log(lc)
    assert [(r["status"], r["query"]["limit"]) for r in sent] == [(422, ["5000"])]
    assert hook.stats == HttpStats(requests=1, retries=0, wait_seconds=0.0)


def test_post_is_not_retried_after_a_server_error(lc):
    lc.client.add_fault("leadconduit", "503", path="/reports", times=1)
    hook = LeadConduitHook(sleep=pytest.fail)

    with pytest.raises(VendorAPIError, match="not retried: the call is not idempotent"):
        hook.request_json("POST", "/reports", json_body={"name": "x", "columns": ["source"]})

    sent = [r for r in lc.client.requests("leadconduit") if r["path"] == "/reports"]
    assert [(r["method"], r["status"]) for r in sent] == [("POST", 503)]


@pytest.mark.parametrize(
    ("conn", "match"),
    [
        ({"conn_type": "leadconduit", "host": "URL", "extra": {}}, "has no API key in its password field"),
        ({"conn_type": "leadconduit", "host": "URL", "password": "", "extra": {}}, "has no API key"),
        ({"conn_type": "leadconduit", "password": LEADCONDUIT_KEY, "extra": {}}, "has no host"),
    ],
    ids=["no-password", "empty-password", "no-host"],
)
def test_incomplete_connection_is_a_config_error_before_any_request(lc, monkeypatch, conn, match):
    if conn.get("host") == "URL":
        conn["host"] = lc.vendor_url("leadconduit")
    monkeypatch.setenv("AIRFLOW_CONN_LEADCONDUIT_DEFAULT", json.dumps(conn))
    hook = LeadConduitHook(sleep=pytest.fail)

    with pytest.raises(VendorConfigError, match=match) as excinfo:
        fetch(hook)

    assert isinstance(excinfo.value, AirflowFailException)
    assert "'leadconduit_default'" in str(excinfo.value)
    assert LEADCONDUIT_KEY not in str(excinfo.value)
    assert events_log(lc) == []


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        ("GET /events?api_key=abc123&limit=5", (), "GET /events?api_key=***&limit=5"),
        ("https://x/y?limit=5&token=t0k3n", (), "https://x/y?limit=5&token=***"),
        ("url ?API-KEY=Secret1 and &Client_Secret=s2 and &access_token=a.b.c", (),
         "url ?API-KEY=*** and &Client_Secret=*** and &access_token=***"),
        ("?password=hunter2'", (), "?password=***'"),
        ("?monkey=banana&keyboard=1", (), "?monkey=banana&keyboard=1"),
        ("Basic c2VjcmV0 for key sandbox-leadconduit-key!", ("sandbox-leadconduit-key",),
         "Basic *** for key ***!"),
        ("k1 abcd k2 wxyz", ("abcd", "wxyz"), "k1 *** k2 ***"),
        ("short abc stays", ("abc",), "short abc stays"),
        ("nothing secret", (None, ""), "nothing secret"),
    ],
    ids=["api_key", "token", "case-and-variants", "quote-stops", "lookalike-names",
         "secret-value", "two-secrets", "too-short-secret", "no-secret"],
)
def test_redact(text, secrets, expected):
    assert redact(text, *secrets) == expected


def http_date(seconds_from_now: float) -> str:
    return format_datetime(datetime.now(timezone.utc) + timedelta(seconds=seconds_from_now), usegmt=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("-5", 0.0),
        ("soon", None),
        ("", None),
        ("   ", None),
        (None, None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
    ids=["seconds", "padded", "fraction", "zero", "negative", "garbage", "empty", "blank", "none", "past-date"],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value) == expected


def test_parse_retry_after_future_http_date():
    assert parse_retry_after(http_date(90)) == pytest.approx(90, abs=2)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, RetryPolicy(max_attempts=3, read_timeout=2.0, backoff_base=0.1)),
        ({"max_attempts": 7, "max_retry_after": 30, "timeout": 9, "backoff_base": 2},
         RetryPolicy(max_attempts=7, max_retry_after=30.0, read_timeout=9.0, backoff_base=2.0)),
        ({"max_attempts": "2", "max_retry_after": "15.5", "backoff_base": "0.25"},
         RetryPolicy(max_attempts=2, max_retry_after=15.5, read_timeout=2.0, backoff_base=0.25)),
    ],
    ids=["test-defaults", "numbers", "strings"],
)
def test_extras_shape_the_policy_and_stay_off_the_wire(lc, extra, expected):
    lc.wire(**extra)
    hook = LeadConduitHook(sleep=pytest.fail)

    assert hook.retry_policy == expected
    fetch(hook)
    prepared = hook.session.prepare_request(requests.Request("GET", hook.url_from_endpoint("/events")))
    sent_headers = {k.lower() for k in prepared.headers}
    assert not sent_headers & {"max_attempts", "max_retry_after", "timeout", "read_timeout", "backoff_base"}
    assert prepared.headers["Accept"] == "application/json"
    assert prepared.headers["Authorization"].startswith("Basic ")
    (logged,) = events_log(lc)
    assert logged["status"] == 200 and logged["auth"] == "ok" and logged["accept"] == "application/json"


def test_constructor_policy_wins_over_extras(lc):
    lc.wire(max_attempts=9)
    policy = RetryPolicy(max_attempts=2, backoff_base=0.1)
    waits: list[float] = []
    hook = LeadConduitHook(retry_policy=policy, sleep=waits.append)
    lc.client.add_fault("leadconduit", "500", path="/events", times=-1)

    with pytest.raises(VendorAPIError, match="gave up after 2 attempts"):
        fetch(hook)

    assert hook.retry_policy is policy
    assert len(events_log(lc)) == 2 and len(waits) == 1 and 0.05 <= waits[0] <= 0.1


def test_backoff_doubles_up_to_the_ceiling():
    policy = RetryPolicy(backoff_base=1.0, backoff_max=6.0)

    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 6.0), (10, 6.0)]:
        pauses = [policy.backoff(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= p <= ceiling for p in pauses), (attempt, pauses)


def test_one_session_and_one_pooled_connection_for_many_calls(lc):
    hook = LeadConduitHook(sleep=pytest.fail)

    session = hook.session
    for _ in range(4):
        fetch(hook)

    assert hook.session is session
    pools = session.get_adapter(hook.base_url).poolmanager.pools
    assert len(pools.keys()) == 1
    (pool,) = [pools[key] for key in pools.keys()]
    assert pool.num_connections == 1, "keep-alive: four calls share one TCP connection"
    assert hook.stats.requests == 4 and len(events_log(lc)) == 4
    hook.close()
    assert hook.session is session


def test_a_hook_looks_its_connection_up_once(sandbox, monkeypatch):
    # A secrets backend may be a network call: validating the key and building the session share one lookup.
    from airflow.sdk import BaseHook

    lookups = []
    original = BaseHook.get_connection.__func__
    monkeypatch.setattr(BaseHook, "get_connection", classmethod(lambda cls, cid: lookups.append(cid) or original(cls, cid)))
    hook = LeadConduitHook()

    hook.request_json("GET", "/events", params={"limit": 1})
    hook.request_json("GET", "/events", params={"limit": 1})

    assert lookups == ["leadconduit_default"]
    assert hook.stats.requests == 2


def test_a_redirect_loop_fails_clearly_after_a_few_hops(lc):
    lc.client.add_fault("leadconduit", "redirect_loop", path="/events", times=-1)
    hook = LeadConduitHook(sleep=pytest.fail)

    with pytest.raises(VendorRejectedError) as excinfo:
        fetch(hook)

    assert str(excinfo.value).startswith(WHERE)
    assert "more than 5 redirects (a redirect loop)" in str(excinfo.value)
    sent = events_log(lc, expect=6)
    assert len(sent) == 6 and {r["status"] for r in sent} == {302}, "the first call and five hops, then stop"
    assert all(r["auth"] == "ok" for r in sent), "same-host hops keep their credentials"


def test_a_redirect_to_another_host_is_not_followed(lc):
    lc.client.add_fault("leadconduit", "redirect_host", path="/events", times=1)
    hook = LeadConduitHook(sleep=pytest.fail)

    with pytest.raises(VendorRejectedError) as excinfo:
        fetch(hook)

    message = str(excinfo.value)
    assert message.startswith(WHERE) and "HTTP 302: redirected to another host (http://redirected.invalid)" in message
    assert len(events_log(lc)) == 1, "nothing was sent after the redirect"
    assert hook.stats.requests == 1


def test_a_page_body_that_is_not_the_promised_shape_is_retried(lc):
    lc.client.add_fault("leadconduit", "html", path="/events", times=1, status=200)
    waits: list[float] = []
    hook = LeadConduitHook(sleep=waits.append)

    page = hook.request_page("GET", "/events", params=PARAMS, window=WINDOW, page=1)

    assert len(page) == 3 and len(waits) == 1
    assert len(page.raw) == 3 and all(raw.startswith(b'{"id":"') for raw in page.raw)
