"""Pirsch simulator over HTTP: 401 bodies, the limit cap, null lists, both date forms, event_meta limits."""

from __future__ import annotations

import pytest
import requests

from sandbox.vendors.pirsch import ACCESS_KEY, CLIENT_ID, DEFAULT_API_KEY
from sandbox.vendors.pirsch.data import DOMAIN_ID

UNAUTHORIZED = {"validation": {}, "error": ["unauthorized"]}
HIT = {"url": "https://shop.example.com/", "ip": "198.51.100.1", "user_agent": "Mozilla/5.0"}


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
