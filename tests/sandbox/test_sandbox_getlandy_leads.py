"""GetLandy simulator over HTTP: Bearer auth, the documented envelope, bounds, read flags, tokens."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests

from sandbox.process import SandboxProcess
from sandbox.vendors.getlandy import CLIENT_ID, CLIENT_SECRET, DEFAULT_API_KEY, REFRESH_TOKEN

AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}


@pytest.fixture()
def gl(sandbox_proc: SandboxProcess) -> str:
    return sandbox_proc.vendor_url("getlandy")


def leads(gl: str, headers=AUTH, **params) -> requests.Response:
    return requests.get(f"{gl}/leads", params=params, headers=headers, timeout=10)


def control(sandbox_proc: SandboxProcess, action: str, body=None, **params):
    method = "GET" if body is None else "POST"
    return sandbox_proc.client._call(method, f"/getlandy/{action}", body, params or None)


def test_missing_or_wrong_token_is_401_in_the_error_envelope(gl, sandbox_proc):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {DEFAULT_API_KEY}"}):
        r = leads(gl, headers=headers)
        assert r.status_code == 401
        assert r.json() == {"infos": {"nbResults": 0, "nbResultsMore": 0, "state": "error", "error": (
            "API access ERROR - The resource owner or authorization server denied the request.")}, "leads": []}
    assert [e["auth"] for e in sandbox_proc.client.requests("getlandy")] == ["missing", "bad", "bad"]


def test_leads_ascend_with_documented_shape_and_varied_forms(gl):
    body = leads(gl, withReaded=1, markReaded=0, limit=1000).json()
    assert body["infos"]["state"] == "ok" and body["infos"]["nbResults"] == len(body["leads"])
    got = body["leads"]
    assert len(got) > 30
    instants = [datetime.strptime(x["date"], "%Y-%m-%dT%H:%M:%S%z") for x in got]
    assert instants == sorted(instants), "ascending by date"
    assert {x["date"][-5:] for x in got} >= {"+0200", "+0000"}, "mixed +hhmm offsets"
    keys = {k for x in got for k in x["data"]}
    assert {"email", "e-mail", "courriel", "mail", "nom", "prenom", "firstname", "tel", "telephone"} <= keys
    assert any(isinstance(v, list) for x in got for v in x["data"].values()), "multi-choice answers are arrays"
    assert {frozenset(x) for x in got} == {frozenset({"id", "date", "url", "pageName", "data"})} and all(isinstance(x["id"], str) for x in got)


def test_several_leads_share_a_second_and_people_recur(sandbox_proc):
    truth = sandbox_proc.client.truth("getlandy", "2024-06-01T00:00:00Z", "2024-06-02T00:00:00Z")
    people = control(sandbox_proc, "people", start="2024-06-01T00:00:00Z", end="2024-06-02T00:00:00Z")
    assert truth["count"] > 500
    assert len(set(people.values())) < len(people) < truth["count"], "known people recur; some are new"


@pytest.mark.parametrize("offset", ["+0200", "+02:00"])
def test_from_and_to_accept_offsets_with_and_without_colon_and_z(gl, sandbox_proc, offset):
    a = leads(gl, withReaded=1, markReaded=0, limit=1000, **{"from": f"2024-06-01T07:00:00{offset}",
                                                              "to": f"2024-06-01T09:00:00{offset}"}).json()
    z = leads(gl, withReaded=1, markReaded=0, limit=1000, **{"from": "2024-06-01T05:00:00Z",
                                                              "to": "2024-06-01T07:00:00Z"}).json()
    truth = sandbox_proc.client.truth("getlandy", "2024-06-01T05:00:00Z", "2024-06-01T07:00:00Z")["ids"]
    assert [x["id"] for x in a["leads"]] == [x["id"] for x in z["leads"]] == truth


def test_an_unencoded_plus_is_refused(sandbox_proc):
    url = f"{sandbox_proc.vendor_url('getlandy')}/leads?withReaded=1&markReaded=0&from=2024-06-01T07:00:00+0200"
    r = requests.get(url, headers=AUTH, timeout=10)
    assert r.status_code == 400 and r.json()["infos"]["state"] == "error" and "%2B" in r.json()["infos"]["error"]


@pytest.mark.parametrize("inclusive", [True, False])
def test_bounds_include_or_exclude_their_instant_as_configured(gl, sandbox_proc, inclusive):
    control(sandbox_proc, "bounds", {"inclusive": inclusive})
    day = leads(gl, withReaded=1, markReaded=0, limit=1000).json()["leads"]
    at = day[5]["date"]
    got = leads(gl, withReaded=1, markReaded=0, limit=1000, **{"from": at, "to": at}).json()["leads"]
    instant = datetime.strptime(at, "%Y-%m-%dT%H:%M:%S%z")
    same_second = [x["id"] for x in day if datetime.strptime(x["date"], "%Y-%m-%dT%H:%M:%S%z") == instant]
    assert len(same_second) >= 1
    assert [x["id"] for x in got] == (same_second if inclusive else [])


def test_default_call_marks_read_and_with_readed_brings_them_back(gl, sandbox_proc):
    window = {"from": "2024-06-01T03:00:00Z", "to": "2024-06-01T04:00:00Z"}
    everything = leads(gl, withReaded=1, markReaded=0, limit=1000, **window).json()["leads"]
    state = control(sandbox_proc, "read-state", start="2024-06-01T03:00:00Z", end="2024-06-01T04:00:00Z")
    assert state["marked"] == [], "markReaded=0 marks nothing"
    pre_read = set(state["read"])
    assert pre_read, "another consumer read some leads already"

    first = leads(gl, limit=5, **window).json()
    assert [x["id"] for x in first["leads"]] == [x["id"] for x in everything if x["id"] not in pre_read][:5]
    unread_total = len(everything) - len(pre_read)
    assert first["infos"]["nbResultsMore"] == unread_total - 5
    second = leads(gl, limit=5, **window).json()
    assert not {x["id"] for x in first["leads"]} & {x["id"] for x in second["leads"]}, "two calls, two batches"
    after = control(sandbox_proc, "read-state", start="2024-06-01T03:00:00Z", end="2024-06-01T04:00:00Z")
    assert after["marked"] == [x["id"] for x in first["leads"] + second["leads"]]
    again = leads(gl, withReaded=1, markReaded=0, limit=1000, **window).json()["leads"]
    assert again == everything, "withReaded=1 still returns read leads"

    sandbox_proc.client.reset()
    assert control(sandbox_proc, "read-state", start="2024-06-01T03:00:00Z", end="2024-06-01T04:00:00Z")["marked"] == []


@pytest.mark.parametrize("limit", ["0", "1001", "x"])
def test_limit_outside_1_to_1000_is_refused(gl, limit):
    r = leads(gl, limit=limit)
    assert r.status_code == 400 and r.json()["infos"]["state"] == "error"


def test_only_from_url_filters_by_landing_page(gl):
    url = "https://landing.example.com/webinar"
    got = leads(gl, withReaded=1, markReaded=0, limit=1000, onlyFromUrl=url).json()["leads"]
    assert got and {x["url"] for x in got} == {url}


def token(gl, **form) -> requests.Response:
    base = {"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN, "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET}
    return requests.post(f"{gl}/oauth/token", data={**base, **form}, timeout=10)


def test_tokens_expire_and_the_refresh_grant_issues_new_ones(gl, sandbox_proc):
    control(sandbox_proc, "tokens", {"expire_after": 1})
    assert leads(gl, limit=1, withReaded=1, markReaded=0).status_code == 200
    assert leads(gl, limit=1, withReaded=1, markReaded=0).status_code == 401, "used up"

    assert token(gl, client_secret="wrong").status_code == 401
    assert token(gl, refresh_token="wrong").json()["error"] == "invalid_grant"
    grant = token(gl).json()
    assert set(grant) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert grant["expires_in"] == 3600 and grant["refresh_token"] != REFRESH_TOKEN
    fresh = {"Authorization": f"Bearer {grant['access_token']}"}
    assert leads(gl, headers=fresh, limit=1, withReaded=1, markReaded=0).status_code == 200
    assert token(gl, refresh_token=grant["refresh_token"]).status_code == 200, "the rotated refresh token works"

    control(sandbox_proc, "tokens", {"expire_now": True})
    assert leads(gl, headers=fresh, limit=1).status_code == 401
    assert control(sandbox_proc, "tokens")["grants"] == 2
    sandbox_proc.client.reset()
    assert leads(gl, limit=1, withReaded=1, markReaded=0).status_code == 200, "reset restores the first token"
    assert control(sandbox_proc, "tokens")["grants"] == 0
