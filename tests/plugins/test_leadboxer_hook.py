"""LeadBoxerHook: day filters, the connection's extras, the 429's wait, paging and the fan-out's checks."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import requests

from devtools.testing import vendor_conn
from lead_pipelines.common.errors import VendorAPIError, VendorConfigError
from lead_pipelines.common.windows import Window
from lead_pipelines.leadboxer.hook import LeadBoxerHook, day_filter
from lead_pipelines.leadboxer.settings import SOURCE

UTC = timezone.utc
HOUR_5 = Window(datetime(2024, 6, 1, 5, tzinfo=UTC), datetime(2024, 6, 1, 6, tzinfo=UTC))
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.mark.parametrize(("start", "end", "expected"), [
    # 22:00Z is already the next day in Amsterdam (UTC+2 in summer).
    (datetime(2024, 6, 1, 21, tzinfo=UTC), datetime(2024, 6, 1, 23, tzinfo=UTC), "01/06/2024-02/06/2024"),
    (datetime(2024, 6, 1, 4, tzinfo=UTC), datetime(2024, 6, 1, 6, tzinfo=UTC), "01/06/2024-01/06/2024"),
    # An end at local midnight does not ask for the day it opens.
    (datetime(2024, 1, 1, 22, tzinfo=UTC), datetime(2024, 1, 1, 23, tzinfo=UTC), "01/01/2024-01/01/2024"),
])
def test_day_filter_covers_the_range_in_the_vendor_zone(start, end, expected):
    assert day_filter(start, end, AMSTERDAM) == f"eventEsTimestamp|between|{expected}"


def hook_with(monkeypatch, sandbox, **extra) -> LeadBoxerHook:
    monkeypatch.setenv("AIRFLOW_CONN_LEADBOXER_DEFAULT", vendor_conn("leadboxer", sandbox.vendor_url("leadboxer"),
                                                                     **extra))
    return LeadBoxerHook()


def test_extras_give_site_zone_and_rate_limit_with_documented_defaults(monkeypatch, sandbox):
    monkeypatch.setenv("AIRFLOW_CONN_LEADBOXER_DEFAULT", json.dumps(
        {"conn_type": "leadboxer", "host": "https://api.leadboxer.com", "password": "k", "extra": {"site": "abc"}}))
    hook = LeadBoxerHook()
    assert (hook.site, hook.time_zone.key) == ("abc", "Europe/Amsterdam")
    limit = hook.rate_limit()
    assert (limit.calls, limit.period_seconds, limit.per_endpoint) == (10, 60, True)
    assert "site" not in hook.session.headers, "extras never travel as headers"


def test_a_connection_without_site_fails_clearly(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_LEADBOXER_DEFAULT", json.dumps(
        {"conn_type": "leadboxer", "host": "https://api.leadboxer.com", "password": "k"}))
    with pytest.raises(VendorConfigError, match="no dataset id"):
        LeadBoxerHook().connection  # noqa: B018


def test_connection_form_hides_login_and_declares_the_extras():
    behaviour = SOURCE.connection_form.ui_field_behaviour()
    assert {"login", "schema", "port"} <= set(behaviour["hidden_fields"])
    assert {"site", "time_zone", "rate_limit_per_minute"} <= set(SOURCE.connection_form.conn_fields())


def problem_response(header: str | None, body: dict) -> requests.Response:
    response = requests.Response()
    response.status_code = 429
    response.headers["Content-Type"] = "application/problem+json"
    if header is not None:
        response.headers["Retry-After"] = header
    response._content = json.dumps(body).encode()  # noqa: SLF001 - a response built by hand
    return response


@pytest.mark.parametrize(("header", "body", "expected"), [
    ("3", {"retry-after": 7}, 7),
    ("9", {"retry-after": 2}, 9),
    (None, {"retry-after": 4}, 4),
    ("5", {}, 5),
])
def test_retry_after_is_the_longer_of_header_and_body(header, body, expected):
    assert LeadBoxerHook.retry_after(LeadBoxerHook.__new__(LeadBoxerHook), problem_response(header, body)) == expected


def test_leads_of_the_hour_and_its_lookback_only(monkeypatch, clean_sandbox):
    hook = hook_with(monkeypatch, clean_sandbox)

    pages = list(hook.iter_leads(HOUR_5, lookback=timedelta(hours=1), page_size=7))

    ids = [r["use_id"] for p in pages for r in p.records]
    truth = clean_sandbox.client.truth("leadboxer", HOUR_5.start - timedelta(hours=1), HOUR_5.end, stream="leads")
    assert sorted(ids) == truth["ids"] and len(ids) == len(set(ids))
    sent = [r["query"] for r in clean_sandbox.client.requests("leadboxer")]
    assert {q["limit"][0] for q in sent} == {"7"}


def test_children_of_another_parent_fail_the_window(monkeypatch, clean_sandbox):
    hook = hook_with(monkeypatch, clean_sandbox)
    lead = clean_sandbox.client.truth("leadboxer", HOUR_5.start, HOUR_5.end, stream="leads")["ids"][0]
    clean_sandbox.client.add_fault("leadboxer", "ignore_window", path="/v1/leads/sessions", times=-1,
                                   params=["leadId"])

    with pytest.raises(VendorAPIError, match="ignored the leadId filter"):
        list(hook.iter_children(HOUR_5, iter([(lead, 1)]), kind="sessions"))


def test_a_short_answer_is_asked_again(monkeypatch, clean_sandbox):
    hook = hook_with(monkeypatch, clean_sandbox)
    lead = clean_sandbox.client.truth("leadboxer", HOUR_5.start, HOUR_5.end, stream="leads")["ids"][0]
    clean_sandbox.client.add_fault("leadboxer", "empty", path="/v1/leads/sessions")

    pages = list(hook.iter_children(HOUR_5, iter([(lead, 1)]), kind="sessions"))

    assert [len(p) for p in pages][0] == 0 and sum(len(p) for p in pages) >= 1
    assert all(r["use_id"] == lead for p in pages for r in p.records)
