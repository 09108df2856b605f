"""The LeadBoxer simulator over HTTP: auth, day filters, nextToken, the 429's RFC 7807 body, returns, truth."""

from __future__ import annotations

import time

import pytest
import requests

from sandbox.vendors.leadboxer import DEFAULT_API_KEY, DEFAULT_SITE, come_back, settings

DAY = "eventEsTimestamp%7Cbetween%7C01%2F06%2F2024-01%2F06%2F2024"


@pytest.fixture()
def lb(sandbox_proc):
    with requests.Session() as session:
        session.headers["x-api-key"] = DEFAULT_API_KEY
        session.base = sandbox_proc.vendor_url("leadboxer")  # type: ignore[attr-defined]
        yield session


def leads(lb, query: str = "", **params):
    return lb.get(f"{lb.base}/v1/leads?site={DEFAULT_SITE}{query}", params=params)


def test_missing_or_wrong_key_is_401_with_the_documented_body(sandbox_proc):
    for headers in ({}, {"x-api-key": "nope"}):
        response = requests.get(f"{sandbox_proc.vendor_url('leadboxer')}/v1/leads", params={"site": DEFAULT_SITE},
                                headers=headers)
        assert response.status_code == 401
        assert response.json() == {"error": "Unauthorized", "message": "Invalid or missing API key"}


def test_day_filter_sent_url_encoded_pages_with_next_token_in_order(lb):
    first = leads(lb, f"&criteriaTimeFilter={DAY}&sortBy=lastEvent%7Casc&limit=5").json()
    assert len(first["data"]) == 5 and first["total"] > 5 and first["nextToken"]
    rest = []
    token = first["nextToken"]
    while token:
        page = leads(lb, f"&criteriaTimeFilter={DAY}&sortBy=lastEvent%7Casc&limit=5", nextToken=token).json()
        rest += page["data"]
        token = page["nextToken"]
    every = first["data"] + rest
    assert len(every) == first["total"] and len({r["use_id"] for r in every}) == len(every)
    assert [r["lastEvent"] for r in every] == sorted(r["lastEvent"] for r in every)
    lead = every[0]
    assert isinstance(lead["lastEvent"], int) and lead["eventEsTimestamp"] == str(lead["lastEvent"])
    ms, digits = lead["use_id"].split(".")
    assert ms.isdigit() and digits.isdigit() and lead["total_number_visits"] >= 1


def test_sessions_and_events_belong_to_the_parent_asked_for(lb, sandbox_proc):
    lead = leads(lb, f"&criteriaTimeFilter={DAY}&limit=1").json()["data"][0]
    sessions = lb.get(f"{lb.base}/v1/leads/sessions", params={"site": DEFAULT_SITE, "leadId": lead["use_id"]}).json()
    assert len(sessions["data"]) == lead["total_number_visits"]
    assert {s["use_id"] for s in sessions["data"]} == {lead["use_id"]}
    session = sessions["data"][-1]
    events = lb.get(f"{lb.base}/v1/leads/events", params={"site": DEFAULT_SITE,
                                                         "sessionId": session["session_id"]}).json()["data"]
    assert len(events) == session["event_count"] and {e["session_id"] for e in events} == {session["session_id"]}
    assert events[-1]["event_id"] == lead["event_id"]


def test_an_expired_next_token_is_a_400_problem(lb, sandbox_proc):
    settings(sandbox_proc.client, token_ttl=0.2)
    token = leads(lb, f"&criteriaTimeFilter={DAY}&limit=2").json()["nextToken"]
    time.sleep(0.4)
    response = leads(lb, f"&criteriaTimeFilter={DAY}&limit=2", nextToken=token)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert "expired" in response.json()["detail"]


def test_rate_limit_answers_429_in_rfc_7807_form_with_retry_after_header(lb, sandbox_proc):
    settings(sandbox_proc.client, rate_limit=3, rate_limit_period=30)
    statuses = [leads(lb, f"&criteriaTimeFilter={DAY}&limit=1").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = leads(lb, f"&criteriaTimeFilter={DAY}&limit=1")
    body = response.json()
    assert body["title"] == "Rate Limit Exceeded" and body["status"] == 429 and body["instance"] == "/v1/leads"
    assert body["rate-limit"] == 3 and body["rate-limit-remaining"] == 0 and body["rate-limit-reset"] > time.time()
    assert int(response.headers["Retry-After"]) == body["retry-after"] >= 1
    # Per endpoint: the sessions endpoint has its own budget.
    assert lb.get(f"{lb.base}/v1/leads/sessions", params={"site": DEFAULT_SITE, "leadId": "x"}).status_code == 200
    sandbox_proc.client.reset()
    assert leads(lb, f"&criteriaTimeFilter={DAY}&limit=1").status_code == 200


def test_a_returning_lead_moves_and_truth_follows(lb, sandbox_proc):
    client = sandbox_proc.client
    (lead_id, *_) = client.truth("leadboxer", "2024-06-01T05:00:00Z", "2024-06-01T06:00:00Z")["ids"]
    back = come_back(client, lead_id, at=1717225200000, events=2)  # 2024-06-01T07:00Z
    assert back["lead"]["lastEvent"] >= 1717225200000 and back["lead"]["last_session_id"] == back["session"]["session_id"]
    assert lead_id not in client.truth("leadboxer", "2024-06-01T05:00:00Z", "2024-06-01T06:00:00Z")["ids"]
    assert lead_id in client.truth("leadboxer", "2024-06-01T07:00:00Z", "2024-06-01T08:00:00Z")["ids"]
    sessions = client.truth("leadboxer", "2024-06-01T07:00:00Z", "2024-06-01T08:00:00Z", stream="sessions")["ids"]
    assert back["session"]["session_id"] in sessions
    client.reset()
    assert lead_id in client.truth("leadboxer", "2024-06-01T05:00:00Z", "2024-06-01T06:00:00Z")["ids"]


def test_identified_leads_carry_shared_people_in_several_spellings(lb, sandbox_proc):
    people = sandbox_proc.client.people("leadboxer", "2024-06-01T00:00:00Z", "2024-06-02T00:00:00Z")
    assert people and all(key.startswith("p") for key in people.values())
    every, token = [], None
    while True:
        page = leads(lb, f"&criteriaTimeFilter={DAY}&limit=100", **({"nextToken": token} if token else {})).json()
        every += page["data"]
        token = page["nextToken"]
        if not token:
            break
    identified = [r for r in every if r["use_id"] in people]
    assert all("phone" in r for r in identified)
    assert any("email" not in r for r in identified) or len(identified) < 10
    assert not any("phone" in r for r in every if r["use_id"] not in people)
