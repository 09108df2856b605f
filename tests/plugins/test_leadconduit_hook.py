"""LeadConduitHook over the sandbox: paging, filters, auth, the connection form and provider registration."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from devtools.testing import vendor_conn
from sandbox.vendors.leadconduit import DEFAULT_API_KEY as LEADCONDUIT_KEY
from lead_pipelines.common.windows import Window
from lead_pipelines.leadconduit.hook import EVENT_TYPES, MAX_PAGE_SIZE, LeadConduitAuth, LeadConduitHook, timestamp

UTC = timezone.utc
HOUR_5 = Window(datetime(2024, 6, 1, 5, tzinfo=UTC), datetime(2024, 6, 1, 6, tzinfo=UTC))


def events_log(sandbox) -> list[dict]:
    return [r for r in sandbox.client.requests("leadconduit") if r["path"] == "/events"]


def basic(user: str, key: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{key}".encode()).decode()


def test_iter_events_pages_ascending_by_after_id_and_matches_the_truth(clean_sandbox):
    hook = LeadConduitHook(sleep=pytest.fail)

    pages = list(hook.iter_events(HOUR_5, page_size=700))

    truth = clean_sandbox.client.leadconduit_truth(HOUR_5.start, HOUR_5.end)
    assert truth["count"] > 2 * 700, "the hour should span several pages"
    ids = [e["id"] for page in pages for e in page]
    assert ids == truth["ids"], "every event of the window, once, oldest first"
    assert len(set(ids)) == len(ids)
    assert [len(p) for p in pages[:-1]] == [700] * (len(pages) - 1) and 0 < len(pages[-1]) <= 700
    sent = events_log(clean_sandbox)
    # Only an empty page ends the window (a short one may be the vendor capping the page size).
    assert len(sent) == len(pages) + 1 == hook.stats.requests
    assert sent[-1]["query"]["after_id"] == [truth["ids"][-1]]
    for request in sent:
        query = request["query"]
        assert query["sort"] == ["asc"] and query["limit"] == ["700"]
        assert query["start"] == ["2024-06-01T05:00:00.000Z"]
        assert query["end"] == ["2024-06-01T05:59:59.999Z"]
        assert "type" not in query
        assert request["auth"] == "ok" and request["status"] == 200 and request["method"] == "GET"
    assert "after_id" not in sent[0]["query"]
    assert [r["query"]["after_id"] for r in sent[1:]] == [[page[-1]["id"]] for page in pages[: len(sent) - 1]]
    assert hook.stats.retries == 0


def test_iter_events_edges_are_half_open(clean_sandbox):
    """Events at the window's last millisecond are in; those at its end belong to the next window."""
    window = Window(datetime(2024, 6, 1, 5, 10, tzinfo=UTC), datetime(2024, 6, 1, 5, 20, tzinfo=UTC))
    hook = LeadConduitHook(sleep=pytest.fail)

    ids = [e["id"] for page in hook.iter_events(window) for e in page]

    assert ids == clean_sandbox.client.leadconduit_truth(window.start, window.end)["ids"]
    request, end_of_window = events_log(clean_sandbox)
    assert end_of_window["query"]["after_id"] == [ids[-1]]
    assert request["query"]["limit"] == [str(MAX_PAGE_SIZE)], "the page size is always sent explicitly"
    assert (request["query"]["start"], request["query"]["end"]) == (["2024-06-01T05:10:00.000Z"], ["2024-06-01T05:19:59.999Z"])


def test_iter_events_type_filter_sends_repeated_type_params(clean_sandbox):
    hook = LeadConduitHook(sleep=pytest.fail)
    wanted = ["source", "feedback-sent"]

    events = [e for page in hook.iter_events(HOUR_5, types=wanted, page_size=500) for e in page]

    truth = clean_sandbox.client.leadconduit_truth(HOUR_5.start, HOUR_5.end)
    assert {e["type"] for e in events} == set(wanted)
    assert len(events) == truth["by_type"]["source"] + truth["by_type"]["feedback-sent"]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert set(e["id"] for e in events) <= set(truth["ids"])
    sent = events_log(clean_sandbox)
    assert len(sent) >= 2
    assert all(r["query"]["type"] == wanted for r in sent)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"page_size": 0}, "page_size must be between 1 and 1000"),
        ({"page_size": 1001}, "page_size must be between 1 and 1000"),
        ({"page_size": -5}, "page_size must be between 1 and 1000"),
        ({"types": ["source", "click"]}, r"unknown LeadConduit event types \['click'\]"),
        ({"types": ["Source"]}, "unknown LeadConduit event types"),
    ],
    ids=["zero", "over-max", "negative", "unknown-type", "wrong-case-type"],
)
def test_invalid_arguments_fail_before_any_request(clean_sandbox, kwargs, match):
    hook = LeadConduitHook(sleep=pytest.fail)

    with pytest.raises(ValueError, match=match):
        next(hook.iter_events(HOUR_5, **kwargs))

    assert clean_sandbox.client.requests("leadconduit") == []
    assert hook.stats.requests == 0


def test_iter_events_on_an_empty_window_makes_one_call(clean_sandbox):
    before_data = Window(datetime(2024, 5, 31, 5, tzinfo=UTC), datetime(2024, 5, 31, 6, tzinfo=UTC))
    hook = LeadConduitHook(sleep=pytest.fail)

    assert list(hook.iter_events(before_data)) == []
    assert len(events_log(clean_sandbox)) == 1


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2018, 10, 1, tzinfo=UTC), "2018-10-01T00:00:00.000Z"),
        (datetime(2024, 6, 1, 5, 59, 59, 999999, tzinfo=UTC), "2024-06-01T05:59:59.999Z"),
        (datetime(2024, 6, 1, 8, 0, 0, 1000, tzinfo=timezone(timedelta(hours=3))), "2024-06-01T05:00:00.001Z"),
    ],
    ids=["docs-example", "truncates-micros", "converts-to-utc"],
)
def test_timestamp_format(moment, expected):
    assert timestamp(moment) == expected


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        (LeadConduitAuth("k3y-value"), basic("API", "k3y-value")),
        (LeadConduitAuth("k3y-value", username="ops"), basic("ops", "k3y-value")),
    ],
    ids=["default-username-API", "custom-username"],
)
def test_leadconduit_auth_sets_basic_header(auth, expected):
    prepared = requests.Request("GET", "http://example.invalid/events", auth=auth).prepare()

    assert prepared.headers["Authorization"] == expected


def test_basic_auth_reaches_the_vendor_with_username_api(clean_sandbox):
    hook = LeadConduitHook(sleep=pytest.fail)

    hook.request_json("GET", "/events", params={"limit": 1})

    assert hook.session.auth.username == "API" and hook.session.auth.api_key == LEADCONDUIT_KEY
    prepared = hook.session.prepare_request(requests.Request("GET", hook.url_from_endpoint("/events")))
    assert prepared.headers["Authorization"] == basic("API", LEADCONDUIT_KEY)
    assert [r["auth"] for r in events_log(clean_sandbox)] == ["ok"]


def test_connection_login_becomes_the_username(clean_sandbox, monkeypatch):
    conn = json.loads(vendor_conn("leadconduit", clean_sandbox.vendor_url("leadconduit")))
    monkeypatch.setenv("AIRFLOW_CONN_LEADCONDUIT_DEFAULT", json.dumps({**conn, "login": "reporting"}))
    hook = LeadConduitHook(sleep=pytest.fail)

    hook.request_json("GET", "/events", params={"limit": 1})

    prepared = hook.session.prepare_request(requests.Request("GET", hook.url_from_endpoint("/events")))
    assert prepared.headers["Authorization"] == basic("reporting", LEADCONDUIT_KEY)
    assert [r["auth"] for r in events_log(clean_sandbox)] == ["ok"]


def test_test_connection_with_the_right_key(clean_sandbox):
    ok, message = LeadConduitHook(sleep=pytest.fail).test_connection()

    assert (ok, message) == (True, "Connection to LeadConduit works.")
    (request,) = events_log(clean_sandbox)
    assert request["query"] == {"limit": ["1"], "sort": ["desc"]} and request["auth"] == "ok"


def test_test_connection_with_a_wrong_key(clean_sandbox, monkeypatch):
    wrong_key = "not-the-key-3b8f7d"
    monkeypatch.setenv("AIRFLOW_CONN_LEADCONDUIT_DEFAULT", vendor_conn("leadconduit", clean_sandbox.vendor_url("leadconduit"), wrong_key))

    ok, message = LeadConduitHook(sleep=pytest.fail).test_connection()

    assert ok is False
    assert "LeadConduit GET /leadconduit/events failed" in message and "HTTP 401" in message
    assert wrong_key not in message
    assert [(r["status"], r["auth"]) for r in events_log(clean_sandbox)] == [(401, "bad")]


def test_test_connection_without_a_key_reports_the_config(clean_sandbox, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_LEADCONDUIT_DEFAULT", vendor_conn("leadconduit", clean_sandbox.vendor_url("leadconduit"), ""))

    ok, message = LeadConduitHook(sleep=pytest.fail).test_connection()

    assert ok is False and "no API key" in message
    assert clean_sandbox.client.requests("leadconduit") == []


def test_ui_field_behaviour():
    behaviour = LeadConduitHook.get_ui_field_behaviour()

    assert set(behaviour["hidden_fields"]) == {"schema", "port"}
    assert behaviour["relabeling"]["password"] == "API key"
    assert behaviour["relabeling"]["host"] == "API base URL"
    extra = json.loads(behaviour["placeholders"]["extra"])
    assert set(extra) == {"max_attempts", "max_retry_after", "timeout"}


def test_hook_identity():
    assert (LeadConduitHook.conn_type, LeadConduitHook.default_conn_name, LeadConduitHook.conn_name_attr) == (
        "leadconduit", "leadconduit_default", "leadconduit_conn_id")
    hook = LeadConduitHook("other_conn")
    assert hook.leadconduit_conn_id == hook.http_conn_id == "other_conn"
    assert set(EVENT_TYPES) == {"source", "recipient", "filter", "feedback-received", "feedback-sent"}


def test_providers_manager_resolves_the_connection_type():
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    manager = ProvidersManagerTaskRuntime()
    hook_info = manager.hooks["leadconduit"]

    assert hook_info is not None
    assert hook_info.hook_class_name == "lead_pipelines.leadconduit.hook.LeadConduitHook"
    assert hook_info.connection_id_attribute_name == "leadconduit_conn_id"
    assert "lead-pipelines" in manager.providers
