"""PirschHook over the sandbox: the token (JSON body, renewed once on 401), days in the domain's zone, paging, ids."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from devtools.testing import vendor_conn
from lead_pipelines.common.errors import VendorAPIError
from lead_pipelines.common.windows import Window
from lead_pipelines.pirsch import hook as pirsch_hook
from lead_pipelines.pirsch.hook import PirschHook, days_of
from sandbox.vendors.pirsch import CLIENT_ID, DEFAULT_API_KEY
from sandbox.vendors.pirsch.data import DOMAIN_ID

UTC = timezone.utc
JUNE_1 = Window(datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 6, 2, tzinfo=UTC))
PAGE = "/api/v1/statistics/page"


@pytest.fixture()
def fresh(clean_sandbox, monkeypatch):
    """The sandbox, with no token cached in this process from an earlier test."""
    monkeypatch.setattr(pirsch_hook, "_TOKENS", {})
    return clean_sandbox


def use_conn(sandbox, monkeypatch, **extra) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_PIRSCH_DEFAULT", vendor_conn("pirsch", sandbox.vendor_url("pirsch"), **extra))


def log(sandbox) -> list[dict]:
    return sandbox.client.requests("pirsch")


def test_the_token_is_asked_with_a_json_body_and_sent_as_bearer(fresh):
    hook = PirschHook()

    pages = list(hook.iter_stream("visitor", JUNE_1, trailing_days=0))

    sent = log(fresh)
    assert [(r["method"], r["path"], r["status"]) for r in sent] == [
        ("POST", "/api/v1/token", 200), ("GET", "/api/v1/domain", 200),
        ("GET", "/api/v1/statistics/visitor", 200)]
    assert sent[0]["body"] == {"client_id": CLIENT_ID, "client_secret": DEFAULT_API_KEY}
    assert all(r["auth"] == "ok" for r in sent)
    assert [len(p) for p in pages] == [1]
    assert hook.secrets()[0] == DEFAULT_API_KEY and hook.secrets()[1].startswith("eyJ")


def test_a_401_renews_the_token_once_and_sends_the_call_again(fresh):
    hook = PirschHook()
    list(hook.iter_stream("visitor", JUNE_1, trailing_days=0))
    fresh.client.clear_requests()
    fresh.client._call("POST", "/pirsch/tokens", {"expire_now": True})

    list(hook.iter_stream("total", JUNE_1, trailing_days=0))

    sent = [(r["method"], r["path"], r["status"]) for r in log(fresh)]
    assert sent == [("GET", "/api/v1/statistics/total", 401), ("POST", "/api/v1/token", 200),
                    ("GET", "/api/v1/statistics/total", 200)]
    assert log(fresh)[0]["query"] == log(fresh)[2]["query"]


def test_a_second_401_in_a_row_is_not_renewed_again(fresh, monkeypatch):
    hook = PirschHook()
    list(hook.iter_stream("visitor", JUNE_1, trailing_days=0))
    fresh.client.clear_requests()
    # Every token, and the next one granted, authorizes no more call.
    fresh.client._call("POST", "/pirsch/tokens", {"expire_after": 0})

    with pytest.raises(VendorAPIError) as caught:
        list(hook.iter_stream("total", JUNE_1, trailing_days=0))

    assert caught.value.status == 401
    sent = [(r["path"], r["status"]) for r in log(fresh)]
    assert sent == [("/api/v1/statistics/total", 401), ("/api/v1/token", 200), ("/api/v1/statistics/total", 401)]


def test_days_are_asked_in_the_domain_zone_with_the_trailing_days_before(fresh, monkeypatch):
    use_conn(fresh, monkeypatch, trailing_days=3)
    hook = PirschHook()
    # 22:00 UTC on 1 June is midnight on 2 June in Berlin: the window's day is 2 June there.
    window = Window(datetime(2024, 6, 1, 22, tzinfo=UTC), datetime(2024, 6, 2, 22, tzinfo=UTC))

    list(hook.iter_stream("visitor", window))

    assert hook.time_zone == ZoneInfo("Europe/Berlin") and hook.trailing_days == 3
    asked = [r["query"] for r in log(fresh) if r["path"] == "/api/v1/statistics/visitor"]
    assert [(q["from"], q["to"], q["tz"], q["id"]) for q in asked] == [
        ([d], [d], ["Europe/Berlin"], [DOMAIN_ID]) for d in ("2024-05-30", "2024-05-31", "2024-06-01", "2024-06-02")]
    assert days_of(JUNE_1, ZoneInfo("UTC"), 0) == [date(2024, 6, 1)]
    two_days = Window(JUNE_1.start, JUNE_1.start + timedelta(days=2))
    assert days_of(two_days, ZoneInfo("America/New_York"), 1) == [date(2024, 5, 30), date(2024, 5, 31),
                                                                   date(2024, 6, 1)]


def test_pages_of_100_follow_the_offset_until_a_short_page(fresh):
    hook = PirschHook()

    pages = list(hook.iter_stream("page", JUNE_1, trailing_days=0))

    truth = fresh.client.truth("pirsch", JUNE_1.start, JUNE_1.end, stream="page")["ids"]
    asked = [r["query"] for r in log(fresh) if r["path"] == PAGE]
    assert [(q["offset"], q["limit"]) for q in asked] == [([str(n)], ["100"]) for n in range(0, len(asked) * 100, 100)]
    assert [len(p) for p in pages][:-1] == [100] * (len(pages) - 1) and 0 < len(pages[-1]) < 100
    assert [i for p in pages for i in p.ids] == truth and len(set(truth)) == len(truth) > 200


def test_ids_are_natural_keys_of_domain_day_and_dimensions(fresh):
    hook = PirschHook()

    ids = {s: [i for p in hook.iter_stream(s, JUNE_1, trailing_days=0) for i in p.ids]
           for s in ("visitor", "page", "referrer", "event_meta", "event_list")}

    assert ids["visitor"] == [json.dumps([DOMAIN_ID, "2024-06-01"], separators=(",", ":"))]
    assert ids["page"][0].startswith(f'["{DOMAIN_ID}","2024-06-01","/p/')
    assert all(json.loads(i)[:2] == [DOMAIN_ID, "2024-06-01"] and len(json.loads(i)) == 4 for i in ids["referrer"])
    assert all(json.loads(i)[2] in {"plan", "source", "file", "list", "video", "quality"} for i in ids["event_meta"])
    for stream, found in ids.items():
        assert None not in found and len(set(found)) == len(found), stream
        assert sorted(found) == sorted(fresh.client.truth("pirsch", JUNE_1.start, JUNE_1.end, stream=stream)["ids"])


def test_a_connection_with_another_secret_never_borrows_the_cached_token(fresh, monkeypatch):
    ok, _ = PirschHook().test_connection()
    assert ok and len(pirsch_hook._TOKENS) == 1
    use_conn(fresh, monkeypatch, password="not-the-secret")
    fresh.client.clear_requests()

    ok, message = PirschHook().test_connection()

    assert not ok and "not-the-secret" not in message
    token_calls = [r for r in log(fresh) if r["path"] == "/api/v1/token"]
    assert [r["status"] for r in token_calls] == [401], "the wrong secret was sent, not the cached token"
