"""The giosg simulator over HTTP: token auth, the paged workflow list, info, sidedata shapes, 403/404/400, truth."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timezone

import orjson
import pytest
import requests

from sandbox.client import SandboxClient
from sandbox.server import Sandbox, SandboxConfig, SandboxHTTPServer
from sandbox.vendors import giosg
from sandbox.vendors.giosg import DEFAULT_API_KEY, DEFAULT_ORGANIZATION_ID, forbid, revise, settings
from sandbox.vendors.giosg.app import daily_pieces, interval_key

ORG = DEFAULT_ORGANIZATION_ID
LIST = f"/api/objectives/v1/orgs/{ORG}/workflows"
DAY = {"start": "2024-06-01T00:00:00+00:00", "end": "2024-06-02T00:00:00+00:00"}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, SandboxClient]]:
    """The giosg simulator alone on a loopback port (seed 7, 2024-06-01 to 2024-06-03)."""
    config = SandboxConfig(seed=7, start_ms=1717200000000, end_ms=1717372800000)
    server = SandboxHTTPServer(("127.0.0.1", 0), Sandbox(config, {"giosg": giosg.build(config)}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield f"{base}/giosg", SandboxClient(base)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def api(served) -> Iterator[requests.Session]:
    url, client = served
    client.reset()
    with requests.Session() as session:
        session.headers.update({"Authorization": f"Token {DEFAULT_API_KEY}", "Accept": "application/json"})
        session.base = url  # type: ignore[attr-defined]
        session.control = client  # type: ignore[attr-defined]
        yield session


def workflows(api) -> list[dict]:
    found, url = [], f"{api.base}{LIST}"
    while url:
        page = api.get(url).json()
        found += page["results"]
        url = page["next"]
    return found


def sidedata(api, workflow_id: str, interval=DAY) -> requests.Response:
    return api.post(f"{api.base}/api/reporting/workflow/v1/orgs/{ORG}/workflows/{workflow_id}/sidedata/",
                    json={"interval": interval})


def test_token_is_required_and_checked(api):
    for headers in ({}, {"Authorization": "Token nope"}, {"Authorization": f"Basic {DEFAULT_API_KEY}"}):
        response = requests.get(f"{api.base}{LIST}", headers=headers)
        assert response.status_code == 401 and "detail" in response.json()
    assert requests.get(f"{api.base}{LIST}", headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"}).ok


def test_workflow_list_pages_with_full_url_next_links(api):
    first = api.get(f"{api.base}{LIST}").json()
    assert first["previous"] is None and len(first["results"]) == 2
    assert first["next"].startswith(f"{api.base}{LIST}?") and "page=2" in first["next"]
    every = workflows(api)
    assert len(every) == 5 and len({w["id"] for w in every}) == 5
    assert every[0].keys() >= {"id", "organization_id", "created_by_user", "updated_by_user", "name", "description"}
    assert {w["organization_id"] for w in every} == {ORG}
    assert api.get(f"{api.base}{LIST}", params={"page": 9}).status_code == 404
    other = api.get(f"{api.base}/api/objectives/v1/orgs/00000000-0000-4000-8000-000000000000/workflows")
    assert other.status_code == 403


def test_info_names_the_type_that_decides_the_sidedata_shape(api):
    shapes = {}
    for workflow in workflows(api):
        info = api.get(f"{api.base}/api/reporting/workflow/v1/orgs/{ORG}/workflows/{workflow['id']}/info/").json()
        assert info["id"] == workflow["id"] and info["org_id"] == ORG
        body = sidedata(api, workflow["id"]).json()
        shapes.setdefault(info["type"], set()).add(frozenset(body))
    assert shapes["giosg-default"] == {frozenset({"timeframe_stat", "unique_visitors_count", "unique_sessions_count"})}
    interaction = frozenset({"unique_visitors_count", "started_workflows_count", "visitor_purchase_sums",
                             "triggered_goals", "affected_goals"})
    assert shapes["interaction"] == shapes["user-generated"] == {interaction}


def test_page_navigation_pairs_cover_the_interval(api):
    navigation = workflows(api)[0]["id"]
    day = sidedata(api, navigation).json()["timeframe_stat"]
    assert list(day) == ["hour_in_day"] and [i for _, i in day["hour_in_day"]] == list(range(24))
    assert all(v > 0 for v, _ in day["hour_in_day"])
    hour = sidedata(api, navigation, {"start": "2024-06-01T07:00:00+02:00", "end": "2024-06-01T08:00:00+02:00"})
    assert [i for v, i in hour.json()["timeframe_stat"]["hour_in_day"] if v] == [5]
    two = sidedata(api, navigation, {"start": "2024-06-01T00:00:00Z", "end": "2024-06-03T00:00:00Z"}).json()
    # 2024-06-01 is a Saturday (6), 2024-06-02 a Sunday (7).
    assert [i for v, i in two["timeframe_stat"]["day_in_week"] if v] == [6, 7]


def test_answers_are_deterministic_and_change_when_revised(api):
    wf = workflows(api)[1]["id"]
    first = sidedata(api, wf).content
    assert sidedata(api, wf).content == first
    revised = revise(api.control, wf)
    assert "(rev 1)" in revised["name"]
    assert sidedata(api, wf).content != first
    api.control.reset()
    assert sidedata(api, wf).content == first


def test_interval_needs_explicit_offsets_and_order(api):
    wf = workflows(api)[0]["id"]
    for interval in ({"start": "2024-06-01T00:00:00", "end": "2024-06-02T00:00:00"},
                     {"start": DAY["end"], "end": DAY["start"]}, None):
        response = api.post(f"{api.base}/api/reporting/workflow/v1/orgs/{ORG}/workflows/{wf}/sidedata/",
                            json={} if interval is None else {"interval": interval})
        assert response.status_code == 400 and "interval" in response.json()
    assert sidedata(api, "00000000-0000-4000-8000-000000000000").status_code == 404


def test_one_workflow_forbidden_answers_403_others_200(api):
    ids = [w["id"] for w in workflows(api)]
    forbid(api.control, ids[2])
    assert [sidedata(api, wf).status_code for wf in ids] == [200, 200, 403, 200, 200]
    assert sidedata(api, ids[2]).json() == {"detail": "You do not have permission to perform this action."}
    api.control.reset()
    assert sidedata(api, ids[2]).status_code == 200


def test_body_window_ignored_answers_another_interval(api):
    navigation = workflows(api)[0]["id"]
    settings(api.control, body_window="ignore")
    body = sidedata(api, navigation).json()
    assert "day_in_week" in body["timeframe_stat"], "a week's figures, not the day asked for"


def test_truth_matches_what_a_client_lists_and_asks_for(api):
    ids = [w["id"] for w in workflows(api)]
    assert api.control.truth("giosg", DAY["start"], DAY["end"], stream="workflows")["ids"] == sorted(ids)
    truth = api.control.truth("giosg", "2024-06-01T00:00:00Z", "2024-06-03T00:00:00Z", stream="sidedata")["ids"]
    assert len(truth) == 10 and interval_key(ids[0], *map(datetime.fromisoformat, DAY.values())) in truth
    assert orjson.loads(truth[0])[1:] in (["2024-06-01T00:00:00+00:00", "2024-06-02T00:00:00+00:00"],
                                         ["2024-06-02T00:00:00+00:00", "2024-06-03T00:00:00+00:00"])
    hour = daily_pieces(datetime(2024, 6, 1, 23, tzinfo=timezone.utc), datetime(2024, 6, 2, 1, tzinfo=timezone.utc))
    assert [(a.hour, b.hour) for a, b in hour] == [(23, 0), (0, 1)]
