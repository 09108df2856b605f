"""Pirsch simulator over HTTP: 401 bodies, limit cap, null lists, both date forms, event_meta limits, events read back."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests

from lead_pipelines.common.windows import Window
from lead_pipelines.pirsch import hook as pirsch_hook
from lead_pipelines.pirsch.hook import PirschHook
from sandbox.vendors.pirsch import ACCESS_KEY, CLIENT_ID, DEFAULT_API_KEY
from sandbox.vendors.pirsch.data import DOMAIN_ID

UNAUTHORIZED = {"validation": {}, "error": ["unauthorized"]}
HIT = {"url": "https://shop.example.com/", "ip": "198.51.100.1", "user_agent": "Mozilla/5.0"}
UTC = timezone.utc
NAME = "lp_test"


@pytest.fixture()
def api(clean_sandbox) -> str:
    return clean_sandbox.vendor_url("pirsch") + "/api/v1"


@pytest.fixture()
def bearer(api) -> dict[str, str]:
    token = requests.post(f"{api}/token", json={"client_id": CLIENT_ID, "client_secret": DEFAULT_API_KEY},
                          timeout=10).json()
    assert token["access_token"].startswith("eyJ") and token["expires_at"].endswith("000Z")
    return {"Authorization": f"Bearer {token['access_token']}"}


def stats(api: str, path: str, headers: dict[str, str], **params) -> requests.Response:
    query = {"id": DOMAIN_ID, "from": "2024-06-01", "to": "2024-06-01", "tz": "Europe/Berlin", **params}
    return requests.get(f"{api}/statistics/{path}", params=query, headers=headers, timeout=10)


def test_missing_empty_or_wrong_credentials_are_401_with_the_error_body(api, clean_sandbox):
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer eyJnope"},
                    {"Authorization": f"Basic {DEFAULT_API_KEY}"}):
        r = stats(api, "visitor", headers)
        assert (r.status_code, r.json()) == (401, UNAUTHORIZED), headers
    r = requests.post(f"{api}/hit", json=HIT, headers={"Authorization": "Bearer "}, timeout=10)
    assert (r.status_code, r.json()) == (401, UNAUTHORIZED), "the client's first write, with an empty Bearer"
    r = requests.post(f"{api}/token", json={"client_id": CLIENT_ID, "client_secret": "wrong"}, timeout=10)
    assert (r.status_code, r.json()) == (401, {"validation": {}, "error": ["client not found or secret wrong"]})
    r = stats(api, "visitor", {"Authorization": f"Bearer {ACCESS_KEY}"})
    assert r.status_code == 403, "an access key only sends data"
    assert [e["auth"] for e in clean_sandbox.client.requests("pirsch")][:4] == ["missing", "missing", "bad", "missing"]


def test_limit_is_capped_at_100_and_offset_pages_on(api, bearer):
    full = stats(api, "page", bearer, limit=1000).json()
    second = stats(api, "page", bearer, limit=100, offset=100).json()

    assert len(full) == 100 and len(second) == 100
    assert {r["path"] for r in full}.isdisjoint(r["path"] for r in second)
    assert stats(api, "page", bearer).json() == full, "no limit means 100"


def test_empty_lists_are_null_and_total_is_an_object(api, bearer):
    r = stats(api, "page", bearer, offset=100_000)
    assert (r.status_code, r.content) == (200, b"null")
    assert stats(api, "goals", bearer).content == b"null"
    total = stats(api, "total", bearer).json()
    assert isinstance(total, dict) and {"visitors", "views", "sessions", "bounces", "bounce_rate"} <= set(total)
    assert stats(api, "event/meta", bearer).status_code == 400, "event and event_meta_key are required"


def test_dates_as_days_or_as_the_clients_iso_timestamps_read_the_same_day(api, bearer):
    by_day = stats(api, "country", bearer).json()
    # The client sends Date objects: midnight UTC on 1 June is 02:00 on 1 June in Berlin.
    by_stamp = stats(api, "country", bearer, **{"from": "2024-06-01T00:00:00.000Z", "to": "2024-06-01T00:00:00.000Z"})
    assert by_stamp.status_code == 200 and by_stamp.json() == by_day
    assert all("country_code" in r for r in by_day)
    assert stats(api, "country", bearer, **{"from": "01/06/2024"}).status_code == 400


@pytest.mark.parametrize(("meta", "accepted"), [
    ({f"k{n}": "v" for n in range(20)}, True),
    ({f"k{n}": "v" for n in range(21)}, False),
    ({"k" * 100: "v"}, True),
    ({"k" * 101: "v"}, False),
    ({"k": "v" * 2000}, True),
    ({"k": "v" * 2001}, False),
    ({"seats": 3, "trial": True}, True),
], ids=["20-pairs", "21-pairs", "key-100", "key-101", "value-2000", "value-2001", "scalars"])
def test_event_meta_limits(api, bearer, clean_sandbox, meta, accepted):
    event = {**HIT, "event_name": "Signup", "event_duration": 1, "event_meta": meta}

    single = requests.post(f"{api}/event", json=event, headers=bearer, timeout=10)
    batch = requests.post(f"{api}/event/batch", json=[{**event, "time": "2024-06-01T10:00:00Z"}], headers=bearer,
                          timeout=10)

    assert [single.status_code, batch.status_code] == ([200, 200] if accepted else [400, 400])
    if accepted:
        assert single.content == b"" and batch.content == b""
    else:
        assert set(single.json()["validation"]) == {"event_meta"}
    writes = clean_sandbox.client._call("GET", "/pirsch/writes")["writes"]
    assert len(writes) == (2 if accepted else 0), "a refused event is not recorded"


# -- events received are read back from the event statistics ---------------------------------


def event(time: str, meta: dict[str, str], **fields) -> dict:
    return {**HIT, "event_name": NAME, "event_meta": meta, "time": time, **fields}


def send(api: str, headers: dict[str, str], items: list[dict]) -> None:
    r = requests.post(f"{api}/event/batch", json=items, headers=headers, timeout=10)
    assert r.status_code == 200, r.text


def event_stats(api: str, path: str, headers: dict[str, str], day: str = "2024-06-01", tz: str = "Europe/Berlin",
                params: list[tuple[str, str]] | None = None):
    query = [("id", DOMAIN_ID), ("from", day), ("to", day), ("tz", tz), *(params or [])]
    r = requests.get(f"{api}/statistics/{path}", params=query, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    return r.json() or []


def test_event_list_groups_received_events_by_name_and_meta_and_honours_the_filters(api, bearer):
    send(api, bearer, [
        event("2024-06-01T08:00:00Z", {"k": "a", "n": "1"}),
        event("2024-06-01T09:00:00Z", {"k": "a", "n": "1"}, ip="192.0.2.2"),
        event("2024-06-01T09:30:00Z", {"k": "a", "n": "1"}),
        event("2024-06-01T10:00:00Z", {"k": "b", "n": "2"}),
        event("2024-06-02T10:00:00Z", {"k": "c", "n": "3"}),
    ])

    rows = event_stats(api, "event/list", bearer, params=[("event", NAME)])
    assert rows == [{"name": NAME, "meta": {"k": "a", "n": "1"}, "visitors": 2, "count": 3},
                    {"name": NAME, "meta": {"k": "b", "n": "2"}, "visitors": 1, "count": 1}]
    assert event_stats(api, "event/list", bearer, params=[("event", NAME), ("meta_k", "b")]) == rows[1:]
    either = [("meta_k", "a"), ("meta_k", "b"), ("meta_n", "2")]
    assert event_stats(api, "event/list", bearer, params=either) == rows[1:]
    assert event_stats(api, "event/list", bearer, params=[("event", NAME), ("meta_k", "!a")]) == rows[1:]
    assert event_stats(api, "event/list", bearer, params=[("event", NAME), ("meta_k", "z")]) == []
    assert event_stats(api, "event/list", bearer, day="2024-06-02", params=[("event", NAME)]) == [
        {"name": NAME, "meta": {"k": "c", "n": "3"}, "visitors": 1, "count": 1}]
    unfiltered = event_stats(api, "event/list", bearer)
    assert rows[0] in unfiltered and any(r["name"] == "Signup" for r in unfiltered), "seeded rows stay"
    assert {r["name"] for r in event_stats(api, "event/list", bearer, params=[("event", "Signup")])} == {"Signup"}


def test_the_day_is_the_batch_time_in_the_zone_asked_and_a_single_event_counts_on_arrival(api, bearer):
    # 22:30 UTC on 1 June is 00:30 on 2 June in Berlin.
    send(api, bearer, [event("2024-06-01T22:30:00Z", {"k": "late"})])
    single = requests.post(f"{api}/event", json={**HIT, "event_name": NAME, "event_meta": {"k": "now"}},
                           headers=bearer, timeout=10)
    assert single.status_code == 200

    late = [("event", NAME), ("meta_k", "late")]
    assert event_stats(api, "event/list", bearer, day="2024-06-01", params=late) == []
    assert len(event_stats(api, "event/list", bearer, day="2024-06-02", params=late)) == 1
    assert len(event_stats(api, "event/list", bearer, day="2024-06-01", tz="UTC", params=late)) == 1
    today = datetime.now(UTC).date().isoformat()
    assert [r["meta"] for r in event_stats(api, "event/list", bearer, day=today, tz="UTC", params=[("event", NAME)])] \
        == [{"k": "now"}]


def test_events_and_event_meta_count_received_events_beside_the_seeded_ones(api, bearer):
    seeded = event_stats(api, "events", bearer)
    send(api, bearer, [event("2024-06-01T08:00:00Z", {"k": "a"}, event_duration=4),
                       event("2024-06-01T09:00:00Z", {"k": "b", "x": "y"}, ip="192.0.2.9", event_duration=8),
                       {**event("2024-06-01T09:00:00Z", {"plan": "enterprise"}), "event_name": "Signup"}])

    rows = {r["name"]: r for r in event_stats(api, "events", bearer)}
    assert rows[NAME] == {"name": NAME, "count": 2, "visitors": 2, "views": 2, "cr": 0.0,
                          "average_duration_seconds": 6, "meta_keys": ["k", "x"]}
    before = next(r for r in seeded if r["name"] == "Signup")
    assert (rows["Signup"]["count"], rows["Signup"]["visitors"]) == (before["count"] + 1, before["visitors"] + 1)
    assert rows["Signup"]["meta_keys"] == ["plan", "source"]
    values = event_stats(api, "event/meta", bearer, params=[("event", NAME), ("event_meta_key", "k")])
    assert sorted((r["meta_value"], r["count"], r["visitors"]) for r in values) == [("a", 1, 1), ("b", 1, 1)]
    plans = event_stats(api, "event/meta", bearer, params=[("event", "Signup"), ("event_meta_key", "plan")])
    assert "enterprise" in [r["meta_value"] for r in plans] and len(plans) >= 2


def test_received_event_rows_page_with_offset_and_limit(api, bearer):
    send(api, bearer, [event("2024-06-01T08:00:00Z", {"n": str(n)}) for n in range(150)])

    first = event_stats(api, "event/list", bearer, params=[("event", NAME), ("limit", "1000")])
    second = event_stats(api, "event/list", bearer, params=[("event", NAME), ("offset", "100"), ("limit", "100")])

    assert len(first) == 100 and len(second) == 50
    assert {r["meta"]["n"] for r in first + second} == {str(n) for n in range(150)}


def test_what_the_hook_lands_equals_the_truth_with_received_events(clean_sandbox, api, bearer, monkeypatch):
    monkeypatch.setattr(pirsch_hook, "_TOKENS", {})
    send(api, bearer, [event("2024-06-01T08:00:00Z", {"k": "a"}), event("2024-06-01T09:00:00Z", {"k": "b"}),
                       {**event("2024-06-01T09:00:00Z", {"plan": "enterprise"}), "event_name": "Signup"}])
    window = Window(datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 6, 2, tzinfo=UTC))
    hook = PirschHook()

    for stream in ("events", "event_meta", "event_list"):
        landed = [i for page in hook.iter_stream(stream, window, trailing_days=0) for i in page.ids]
        truth = clean_sandbox.client.truth("pirsch", window.start, window.end, stream=stream)["ids"]
        assert sorted(landed) == sorted(truth), stream
        assert any(NAME in i for i in truth) and any("enterprise" in i for i in truth) != (stream == "events")
