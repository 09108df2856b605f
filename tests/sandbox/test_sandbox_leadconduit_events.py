"""LeadConduit /events: auth, negotiation, paging, filters, validation, revisions."""

from __future__ import annotations

import re

import requests

from sandbox.process import SandboxProcess

DAY = {"start": "2024-06-01T00:00:00.000Z", "end": "2024-06-02T00:00:00.000Z"}


def page_all(lc: requests.Session, start: str, **params: str) -> list[dict]:
    """Page ascending with after_id from ``start`` until a short page."""
    events: list[dict] = []
    query = {"sort": "asc", "limit": "1000", "start": start, **params}
    while True:
        page = lc.get(f"{lc.base}/events", params=query, timeout=30).json()
        events.extend(page)
        if len(page) < 1000:
            return events
        query = {"sort": "asc", "limit": "1000", "after_id": page[-1]["id"], **params}


def test_missing_and_wrong_key_are_401_without_echoing_key(sandbox_proc: SandboxProcess,
                                                          api_key: str) -> None:
    url = f"{sandbox_proc.vendor_url('leadconduit')}/events"
    missing = requests.get(url, timeout=5)
    wrong = requests.get(url, auth=("API", "not-the-key"), timeout=5)
    assert missing.status_code == 401 and wrong.status_code == 401
    assert missing.json()["error"] == "Unauthorized"
    assert api_key not in wrong.text and "not-the-key" not in wrong.text
    ok = requests.get(url, auth=("anything", api_key), params={"limit": 1}, timeout=5)
    assert ok.status_code == 200
    auths = [r["auth"] for r in sandbox_proc.client.requests("leadconduit")]
    assert auths == ["missing", "bad", "ok"]


def test_accept_negotiation(lc: requests.Session) -> None:
    for accept in ("application/json", "application/vnd.com.leadconduit.event+json", "*/*"):
        r = lc.get(f"{lc.base}/events", params={"limit": 1}, headers={"Accept": accept})
        assert r.status_code == 200, accept
        assert r.headers["Content-Type"].startswith("application/json")
    assert lc.get(f"{lc.base}/events", headers={"Accept": "application/xml"}).status_code == 406


def test_default_sort_is_desc_and_ids_follow_creation_time(lc: requests.Session) -> None:
    page = lc.get(f"{lc.base}/events", params={"limit": 50}).json()
    ids = [e["id"] for e in page]
    assert len(ids) == 50 and ids == sorted(ids, reverse=True)
    for event in page:
        assert re.fullmatch(r"[0-9a-f]{24}", event["id"])
        assert int(event["id"][:8], 16) == event["end_timestamp"] // 1000
    assert page[0]["end_timestamp"] < 1717286400000  # nothing at or after the range end


def test_ascending_paging_matches_truth(lc: requests.Session, sandbox_proc: SandboxProcess) -> None:
    start, end = "2024-06-01T03:00:00Z", "2024-06-01T09:00:00Z"
    truth = sandbox_proc.client.leadconduit_truth(start, end)
    events: list[dict] = []
    query = {"sort": "asc", "limit": "25", "start": start, "end": "2024-06-01T08:59:59.999Z"}
    while True:
        page = lc.get(f"{lc.base}/events", params=query).json()
        events.extend(page)
        if len(page) < 25:
            break
        query = {**query, "after_id": page[-1]["id"]}
    ids = [e["id"] for e in events]
    assert ids == truth["ids"] and len(set(ids)) == truth["count"] > 100
    assert sum(truth["by_type"].values()) == truth["count"]


def test_start_and_end_are_inclusive(lc: requests.Session) -> None:
    first = lc.get(f"{lc.base}/events", params={"sort": "asc", "limit": 3, **DAY}).json()
    created = first[1]["end_timestamp"]
    both = lc.get(f"{lc.base}/events", params={"start": created, "end": created}).json()
    assert first[1]["id"] in [e["id"] for e in both]
    after = lc.get(f"{lc.base}/events", params={"start": created + 1, "end": created + 1}).json()
    assert first[1]["id"] not in [e["id"] for e in after]


def test_after_id_and_before_id_are_exclusive(lc: requests.Session) -> None:
    first = lc.get(f"{lc.base}/events", params={"sort": "asc", "limit": 5, **DAY}).json()
    mid = first[2]["id"]
    after = lc.get(f"{lc.base}/events", params={"sort": "asc", "limit": 2, "after_id": mid}).json()
    assert [e["id"] for e in after] == [first[3]["id"], first[4]["id"]]
    before = lc.get(f"{lc.base}/events", params={"before_id": mid, "limit": 5}).json()
    assert [e["id"] for e in before] == [first[1]["id"], first[0]["id"]]


def test_greater_lower_bound_wins(lc: requests.Session) -> None:
    first = lc.get(f"{lc.base}/events", params={"sort": "asc", "limit": 10, **DAY}).json()
    params = {"sort": "asc", "limit": 1, "after_id": first[1]["id"],
              "start": first[6]["end_timestamp"]}
    assert lc.get(f"{lc.base}/events", params=params).json()[0]["id"] == first[6]["id"]


def test_timestamp_formats(lc: requests.Session) -> None:
    results = []
    for start in ("2024-06-01T05:00:00.000Z", "2024-06-01T05:00:00Z",
                  "2024-06-01T05:00:00+00:00", "1717218000000"):
        page = lc.get(f"{lc.base}/events", params={"sort": "asc", "limit": 5, "start": start})
        results.append([e["id"] for e in page.json()])
    assert all(r == results[0] for r in results) and results[0]


def test_validation_errors_are_422(lc: requests.Session) -> None:
    cases = [({"limit": 1001}, "limit"), ({"limit": 0}, "limit"), ({"limit": "ten"}, "limit"),
             ({"sort": "up"}, "sort"), ({"after_id": "xyz"}, "after_id"),
             ({"start": "yesterday"}, "start"), ({"include": "id", "exclude": "vars"}, "include"),
             ({"type": "bogus"}, "type")]
    for params, field in cases:
        r = lc.get(f"{lc.base}/events", params=params)
        assert r.status_code == 422, params
        assert field in r.json()["errors"], params


def test_type_outcome_and_vars_filters(lc: requests.Session) -> None:
    both = lc.get(f"{lc.base}/events",
                  params={"type": ["recipient", "filter"], "limit": 200, **DAY}).json()
    assert {e["type"] for e in both} == {"recipient", "filter"}
    assert all("recipient" in e["vars"] for e in both if e["type"] == "recipient")
    failures = lc.get(f"{lc.base}/events",
                      params={"type": "source", "outcome": "failure", **DAY}).json()
    assert failures and all(e["outcome"] == "failure" and e["type"] == "source" for e in failures)
    lead = both[0]["vars"]["lead"]
    by_lead = lc.get(f"{lc.base}/events", params={"lead_id": lead["id"], **DAY}).json()
    assert {e["vars"]["lead"]["id"] for e in by_lead} == {lead["id"]}
    assert "source" in {e["type"] for e in by_lead} and len(by_lead) >= 2
    by_ref = lc.get(f"{lc.base}/events", params={"reference": lead["reference"], **DAY}).json()
    assert [e["id"] for e in by_ref] == [e["id"] for e in by_lead]


def test_event_shape(lc: requests.Session) -> None:
    events = lc.get(f"{lc.base}/events", params={"limit": 1000, **DAY}).json()
    types = {e["type"] for e in events}
    assert types == {"source", "recipient", "filter", "feedback-received", "feedback-sent"}
    event = next(e for e in events if e["type"] == "recipient")
    for key in ("id", "type", "outcome", "reason", "host", "start_timestamp", "end_timestamp",
                "ms", "wait_ms", "overhead_ms", "lag_ms", "total_ms", "handler_version",
                "version", "cap_reached", "ping_limit_reached", "expires_at", "module_id"):
        assert key in event
    lead = event["vars"]["lead"]
    assert set(lead["email"]) >= {"raw", "normal", "user", "domain", "host", "tld", "is_free",
                                  "is_disposable", "valid"}
    assert set(lead["phone_1"]) >= {"raw", "normal", "area", "exchange", "line", "is_tollfree"}
    assert lead["state"]["abbr"] == lead["state"]["abbr"].upper()
    assert set(event["vars"]["recipient"]) == {"id", "name"}
    # People recur across leads: the identity join downstream relies on it.
    leads_by_email: dict[str, set[str]] = {}
    for e in events:
        leads_by_email.setdefault(e["vars"]["lead"]["email"]["normal"], set()).add(
            e["vars"]["lead"]["id"])
    assert any(len(v) > 1 for v in leads_by_email.values())


def test_include_and_exclude(lc: requests.Session) -> None:
    inc = lc.get(f"{lc.base}/events",
                 params={"limit": 3, "include": ["type", "vars.lead.email.normal"]}).json()
    assert set(inc[0]) == {"id", "type", "vars"}
    assert set(inc[0]["vars"]) == {"lead"} and set(inc[0]["vars"]["lead"]) == {"email"}
    exc = lc.get(f"{lc.base}/events", params={"limit": 3, "exclude": ["vars", "host"]}).json()
    assert "vars" not in exc[0] and "host" not in exc[0] and "outcome" in exc[0]


def test_unknown_path_is_404_json(lc: requests.Session) -> None:
    r = lc.get(f"{lc.base}/nope")
    assert r.status_code == 404 and r.json()["error"] == "Not Found"


def test_revise_changes_about_fraction(lc: requests.Session, sandbox_proc: SandboxProcess) -> None:
    before = {e["id"]: e for e in page_all(lc, DAY["start"])}
    assert sandbox_proc.client.leadconduit_revise(2, 0.2) == {"revision": 2, "fraction": 0.2}
    after = {e["id"]: e for e in page_all(lc, DAY["start"])}
    assert before.keys() == after.keys()
    changed = {i for i in before if before[i] != after[i]}
    assert 0.15 < len(changed) / len(before) < 0.25
    sample = after[next(iter(changed))]
    assert sample["vars"]["lead"]["revision"] == 2
    assert sample["outcome"] != before[sample["id"]]["outcome"]
    truth = sandbox_proc.client.leadconduit_truth(DAY["start"], DAY["end"])
    assert set(truth["revised_ids"]) == changed
    sandbox_proc.client.leadconduit_revise(0)
    assert {e["id"]: e for e in page_all(lc, DAY["start"])} == before
