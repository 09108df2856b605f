"""GetLandyHook over the sandbox: read-only paging under both bound readings, token renewal, the form."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from devtools.testing import vendor_conn
from lead_pipelines.common.errors import VendorAPIError, VendorRejectedError
from lead_pipelines.common.windows import Window
from lead_pipelines.getlandy.hook import GetLandyHook
from lead_pipelines.getlandy.settings import SOURCE

UTC = timezone.utc
HOUR_5 = Window(datetime(2024, 6, 1, 5, tzinfo=UTC), datetime(2024, 6, 1, 6, tzinfo=UTC))


def leads_log(sandbox) -> list[dict]:
    return [r for r in sandbox.client.requests("getlandy") if r["path"] == "/leads"]


def set_bounds(sandbox, inclusive: bool) -> None:
    sandbox.client._call("POST", "/getlandy/bounds", {"inclusive": inclusive})


def control(sandbox, action: str, body=None, **params):
    return sandbox.client._call("GET" if body is None else "POST", f"/getlandy/{action}", body, params or None)


def ids_of(pages) -> list[str]:
    return [lead["id"] for page in pages for lead in page]


@pytest.mark.parametrize("inclusive", [True, False], ids=["inclusive", "exclusive"])
def test_iter_leads_reads_the_window_once_without_marking_anything(clean_sandbox, inclusive):
    set_bounds(clean_sandbox, inclusive)
    hook = GetLandyHook(sleep=pytest.fail)

    pages = list(hook.iter_leads(HOUR_5, page_size=700))

    truth = clean_sandbox.client.truth("getlandy", HOUR_5.start, HOUR_5.end)["ids"]
    assert len(truth) > 3 * 700, "the hour spans several pages"
    assert ids_of(pages) == truth, "every lead of the window, once, oldest first"
    sent = leads_log(clean_sandbox)
    for request in sent:
        query = request["query"]
        assert (query["withReaded"], query["markReaded"], query["limit"]) == (["1"], ["0"], ["700"])
        # The log holds the decoded query: a '+' sent unencoded would read as a space here.
        assert query["to"] == ["2024-06-01T06:00:00+0000"] and query["from"][0].endswith("+0000")
        assert request["status"] == 200 and request["auth"] == "ok"
    assert sent[0]["query"]["from"] == ["2024-06-01T04:59:59+0000"], "one second before the window"
    # Each next page starts one second before the latest lead seen (so leads sharing it come again), or
    # at it once a lead dated exactly at 'from' proved the vendor includes that bound.
    shifts = []
    for request, page in zip(sent[1:], pages, strict=False):
        last = datetime.strptime(page[-1]["date"], "%Y-%m-%dT%H:%M:%S%z").timestamp()
        asked = datetime.strptime(request["query"]["from"][0], "%Y-%m-%dT%H:%M:%S%z").timestamp()
        shifts.append(last - asked)
    assert set(shifts) <= ({0, 1} if inclusive else {1}) and (0 in shifts) == inclusive
    state = control(clean_sandbox, "read-state", start="2024-06-01T04:00:00Z", end="2024-06-01T07:00:00Z")
    assert state["marked"] == [], "reading marked no lead read"
    assert hook.stats.retries == 0


@pytest.mark.parametrize("inclusive", [True, False], ids=["inclusive", "exclusive"])
def test_tiny_pages_through_shared_seconds_lose_and_repeat_nothing(clean_sandbox, inclusive):
    set_bounds(clean_sandbox, inclusive)
    window = Window(datetime(2024, 6, 1, 7, 0, tzinfo=UTC), datetime(2024, 6, 1, 7, 6, tzinfo=UTC))
    truth = clean_sandbox.client.truth("getlandy", window.start, window.end)["ids"]
    seconds = [int(i[:8], 16) for i in truth]
    assert len(seconds) - len(set(seconds)) >= 5, "several leads share a second in this window"

    assert ids_of(GetLandyHook(sleep=pytest.fail).iter_leads(window, page_size=10)) == truth


def test_more_leads_in_one_second_than_the_page_holds_fails_clearly(clean_sandbox):
    hook = GetLandyHook(sleep=pytest.fail)

    with pytest.raises(VendorAPIError, match=r"GetLandy GET /leads failed for window .*more than 0 leads share one second"):
        list(hook.iter_leads(HOUR_5, page_size=1))


def test_a_single_empty_page_is_read_again_before_the_window_ends(clean_sandbox):
    clean_sandbox.client.add_fault("getlandy", "empty", path="/leads", after=1, times=1)

    ids = ids_of(GetLandyHook(sleep=pytest.fail).iter_leads(HOUR_5))

    assert ids == clean_sandbox.client.truth("getlandy", HOUR_5.start, HOUR_5.end)["ids"]
    empty, again = [r for r in leads_log(clean_sandbox)][1:3]
    assert empty["fault"] == "empty" and again["fault"] is None and again["query"] == empty["query"]


def test_a_token_used_up_mid_window_is_renewed_once_and_the_window_completes(clean_sandbox):
    control(clean_sandbox, "tokens", {"expire_after": 1})
    hook = GetLandyHook(sleep=pytest.fail)

    ids = ids_of(hook.iter_leads(HOUR_5, page_size=1000))

    assert ids == clean_sandbox.client.truth("getlandy", HOUR_5.start, HOUR_5.end)["ids"]
    log = clean_sandbox.client.requests("getlandy")
    assert [(r["path"], r["status"]) for r in log[:4]] == [("/leads", 200), ("/leads", 401), ("/oauth/token", 200),
                                                         ("/leads", 200)]
    assert log[2]["method"] == "POST" and log[2]["auth"] == "ok"
    assert hook.stats.renewals == 1 and hook.stats.retries == 0
    assert all(s for s in hook.secrets()), "the new access and refresh tokens are redacted too"


def test_a_token_about_to_expire_is_renewed_before_the_call(clean_sandbox):
    now = [1000.0]
    control(clean_sandbox, "tokens", {"ttl": 100, "expire_after": 0})
    hook = GetLandyHook(sleep=pytest.fail, clock=lambda: now[0])
    pages = hook.iter_leads(HOUR_5, page_size=1000)
    next(pages)  # 401, renewed (expires_in 100), resent
    now[0] += 95  # within the margin of a tenth of its life

    list(pages)

    statuses = [(r["path"], r["status"]) for r in clean_sandbox.client.requests("getlandy")]
    assert statuses.count(("/oauth/token", 200)) == 2 and statuses.count(("/leads", 401)) == 1
    assert statuses[3] == ("/oauth/token", 200), "renewed before the second page was asked"
    assert hook.stats.renewals == 2


def test_without_renewal_settings_a_401_fails_at_once(clean_sandbox, monkeypatch):
    conn = json.loads(vendor_conn("getlandy", clean_sandbox.vendor_url("getlandy"), "expired-token"))
    conn["extra"] = {k: v for k, v in conn["extra"].items() if k not in ("token_url", "refresh_token")}
    monkeypatch.setenv("AIRFLOW_CONN_GETLANDY_DEFAULT", json.dumps(conn))

    with pytest.raises(VendorRejectedError, match="HTTP 401: API access ERROR") as caught:
        list(GetLandyHook(sleep=pytest.fail).iter_leads(HOUR_5))

    assert "expired-token" not in str(caught.value)
    assert [r["status"] for r in clean_sandbox.client.requests("getlandy")] == [401]


def test_mark_read_marks_the_window_only(clean_sandbox):
    hook = GetLandyHook(sleep=pytest.fail)

    marked = ids_of(hook.iter_leads(HOUR_5, mark_read=True, page_size=1000))

    truth = clean_sandbox.client.truth("getlandy", HOUR_5.start, HOUR_5.end)["ids"]
    assert marked == truth
    state = control(clean_sandbox, "read-state", start="2024-06-01T04:00:00Z", end="2024-06-01T07:00:00Z")
    assert state["marked"] == truth
    assert {r["query"]["markReaded"][0] for r in leads_log(clean_sandbox)} == {"1"}


def test_connection_form_hides_unused_fields_and_masks_renewal_secrets():
    behaviour = GetLandyHook.get_ui_field_behaviour()
    assert set(behaviour["hidden_fields"]) == {"login", "schema", "port"}
    assert behaviour["relabeling"] == {"host": "API base URL", "password": "Access token"}
    fields = SOURCE.connection_form.conn_fields()
    assert set(fields) == {"token_url", "client_id", "client_secret", "refresh_token"}
    assert {k for k, f in fields.items() if f["schema"].get("format") == "password"} == {"client_secret", "refresh_token"}
