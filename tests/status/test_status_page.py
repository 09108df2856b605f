"""The "Lead pipelines" status page: behind Airflow's login, one statement per panel, what each panel shows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from airflow.exceptions import AirflowNotFoundException
from fastapi.testclient import TestClient

from lead_pipelines.registry import SOURCES
from lead_pipelines.status import app as status_app
from lead_pipelines.status.panels import PANELS

UTC = timezone.utc
HOUR = timedelta(hours=1)
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
ERROR = "VendorAPIError: getlandy GET /leads answered 503 for window 2024-06-01T00:00Z\nTraceback (most recent call last):"


class CountingConnection:
    """A warehouse connection that records every statement sent through it (``execute``, or a cursor's)."""

    def __init__(self, conn) -> None:
        self._conn = conn
        self.statements: list = []

    def execute(self, query, params=None, **kwargs):
        self.statements.append(query)
        return self._conn.execute(query, params, **kwargs)

    def cursor(self, *args, **kwargs):
        counter = self

        class Cursor:
            def __init__(self, cursor) -> None:
                self._cursor = cursor

            def execute(self, query, params=None, **kw):
                counter.statements.append(query)
                return self._cursor.execute(query, params, **kw)

            def __getattr__(self, name):
                return getattr(self._cursor, name)

        return Cursor(self._conn.cursor(*args, **kwargs))

    def __getattr__(self, name):
        return getattr(self._conn, name)


def run(warehouse, vendor: str, stream: str, start: datetime, status: str = "success", records: int = 0,
        inserted: int = 0, updated: int = 0, quarantined: int = 0, error: str | None = None, length=HOUR,
        try_number: int = 1, landed: bool = True) -> None:
    """Record one try of a window in ops.sync_runs (and, for a success, the window and the stream's state)."""
    (run_id,) = warehouse.query(
        "INSERT INTO ops.sync_runs (vendor, stream, window_start, window_end, dag_id, task_id, try_number, status, "
        "finished_at, records, inserted, updated, quarantined, error) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now(), %s, %s, %s, %s, %s) RETURNING run_id",
        (vendor, stream, start, start + length, f"{vendor}_sync", f"land_{stream}", try_number, status, records,
         inserted, updated, quarantined, error))[0]
    if status == "success" and landed:
        warehouse.execute(
            "INSERT INTO ops.sync_windows (vendor, stream, window_start, window_end, last_run_id, records) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (vendor, stream, window_start, window_end) "
            "DO UPDATE SET last_run_id = EXCLUDED.last_run_id, records = EXCLUDED.records",
            (vendor, stream, start, start + length, run_id, records))
        warehouse.execute(
            "INSERT INTO ops.sync_state (vendor, stream, watermark, last_success_run_id) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (vendor, stream) DO UPDATE SET watermark = greatest(ops.sync_state.watermark, "
            "EXCLUDED.watermark), last_success_run_id = EXCLUDED.last_success_run_id",
            (vendor, stream, start + length, run_id))


def outbox_row(warehouse, key: str, state: str, created_at: datetime, target: str = "pirsch") -> None:
    """Put one push in ops.push_outbox."""
    warehouse.execute(
        "INSERT INTO ops.push_outbox (push_key, target, aggregate_key, version, kind, grain, period_start, payload, "
        "content_hash, state, created_at, sent_at) VALUES (%s, %s, %s, 1, 'aggregate', 'hour', %s, '{}', 'h', %s, %s, "
        "CASE WHEN %s = 'sent' THEN %s END)",
        (key, target, key, created_at, state, created_at, state, created_at))


@pytest.fixture
def history(clean_warehouse):
    """Recent windows of LeadConduit (fresh, read into the marts), GetLandy (late, a failure retried), LeadBoxer
    (an unresolved failure), giosg sidedata partitions, drift on LeadConduit, and a Pirsch outbox."""
    wh = clean_warehouse
    for hours_ago, records in ((3, 100), (2, 120), (1, 90)):
        run(wh, "leadconduit", "events", NOW - hours_ago * HOUR, records=records, inserted=records - 10,
            updated=10, quarantined=1)
    # An old window outside the recent span (48 h before the newest) is not counted.
    run(wh, "leadconduit", "events", NOW - 100 * HOUR, records=7, inserted=7)
    (last_run,) = wh.query("SELECT max(run_id) FROM ops.sync_runs WHERE vendor = 'leadconduit'")[0]
    wh.execute("INSERT INTO mart.build_state (raw_table, last_run_id) VALUES ('leadconduit_events', %s)", (last_run,))

    run(wh, "getlandy", "leads", NOW - 6 * HOUR, status="failed", error=ERROR)
    run(wh, "getlandy", "leads", NOW - 6 * HOUR, records=40, inserted=40, try_number=2)
    run(wh, "leadboxer", "leads", NOW - 2 * HOUR, status="failed", error="WarehouseError: deadlock detected")

    day = timedelta(days=1)
    for workflow, records in (("wf1", 5), ("wf2", 7)):
        run(wh, "giosg", f"sidedata/{workflow}", NOW - 2 * day, records=records, inserted=records, length=day)

    (drift_run,) = wh.query("SELECT max(run_id) FROM ops.sync_runs WHERE vendor = 'leadconduit'")[0]
    for change, path, old, new in (("new", "vars.lead.utm_term", None, "string"),
                                   ("retyped", "vars.lead.age", "number", "string")):
        wh.execute("INSERT INTO ops.schema_drift (vendor, stream, window_start, window_end, run_id, change, path, "
                   "old_type, new_type) VALUES ('leadconduit', 'events', %s, %s, %s, %s, %s, %s, %s)",
                   (NOW - HOUR, NOW, drift_run, change, path, old, new))

    for i, state in enumerate(("sent", "sent", "sent", "sending", "pending", "pending")):
        outbox_row(wh, f"agg-{i}", state, NOW - timedelta(hours=10 - i))
    outbox_row(wh, "report-0", "sent", NOW - HOUR, target="leadconduit")
    return wh


@pytest.fixture
def client():
    """The app with Airflow's authorization overridden (a signed-in reader)."""
    status_app.app.dependency_overrides[status_app.require_reader] = lambda: None
    try:
        yield TestClient(status_app.app)
    finally:
        status_app.app.dependency_overrides.clear()


def panel(client, name: str) -> dict:
    response = client.get(f"/panels/{name}")
    assert response.status_code == 200, response.text
    return response.json()


def by_stream(rows: list[dict]) -> dict[str, dict]:
    return {row["stream"]: row for row in rows}


def test_without_airflow_login_every_route_is_refused(clean_warehouse):
    anonymous = TestClient(status_app.app)

    for route in ("/", "/panels", "/panels/freshness", "/panels/outbox", "/panels/nope"):
        response = anonymous.get(route)
        assert response.status_code == 401, route
        assert "Lead pipelines" not in response.text


def test_an_airflow_token_is_checked_by_airflow_itself(clean_warehouse):
    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.utils import db

    db.initdb()  # Airflow's metadata: the token check reads its revoked tokens
    manager = create_auth_manager()
    manager.init()
    token = manager.generate_jwt(SimpleAuthManagerUser(username="viewer", role="viewer"))
    browser = TestClient(status_app.app)

    assert browser.get("/panels/freshness", headers={"Authorization": "Bearer not-a-token"}).status_code == 403
    assert browser.get("/panels/freshness", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    browser.cookies.set("_token", token)
    assert browser.get("/").status_code == 200


def test_freshness_shows_each_streams_newest_window_against_its_target(history, client):
    rows = by_stream(panel(client, "freshness")["rows"])

    assert list(rows) == [f"{s.vendor}.{st.name}" for s in SOURCES for st in s.streams]
    events = rows["leadconduit.events"]
    assert events["window_start"] == (NOW - HOUR).isoformat() and events["window_end"] == NOW.isoformat()
    assert events["records"] == 90 and events["late"] is False and events["in_marts"] is True
    assert events["freshness"] == 2 * 3600
    getlandy = rows["getlandy.leads"]
    assert getlandy["late"] is True and getlandy["window_end"] == (NOW - 5 * HOUR).isoformat()
    assert getlandy["age"] >= 5 * 3600
    assert rows["giosg.sidedata"]["records"] in (5, 7)
    assert rows["leadboxer.leads"]["window_end"] is None and rows["leadboxer.leads"]["late"] is True


def test_recent_windows_count_records_inserted_updated_quarantined(history, client):
    rows = by_stream(panel(client, "recent")["rows"])

    events = rows["leadconduit.events"]
    assert (events["windows"], events["runs"], events["failed"]) == (3, 3, 0)
    assert (events["records"], events["inserted"], events["updated"], events["quarantined"]) == (310, 280, 30, 3)
    getlandy = rows["getlandy.leads"]
    assert (getlandy["windows"], getlandy["runs"], getlandy["failed"], getlandy["records"]) == (1, 2, 1, 40)
    sidedata = rows["giosg.sidedata"]
    assert (sidedata["windows"], sidedata["runs"], sidedata["records"]) == (1, 2, 12)
    assert (rows["pirsch.visitor"]["windows"], rows["pirsch.visitor"]["runs"], rows["pirsch.visitor"]["records"]) == (0, 0, 0)


def test_failures_show_the_error_line_and_whether_a_retry_succeeded(history, client):
    rows = by_stream(panel(client, "failures")["rows"])

    assert set(rows) == {"getlandy.leads", "leadboxer.leads"}
    assert rows["getlandy.leads"]["error_line"] == ERROR.splitlines()[0]
    assert rows["getlandy.leads"]["resolved"] is True
    assert rows["leadboxer.leads"]["error_line"] == "WarehouseError: deadlock detected"
    assert rows["leadboxer.leads"]["resolved"] is False and rows["leadboxer.leads"]["status"] == "failed"


def test_drift_lists_each_change_of_a_stream(history, client):
    rows = panel(client, "drift")["rows"]

    assert {(r["stream"], r["change"], r["path"], r["old_type"], r["new_type"]) for r in rows} == {
        ("leadconduit.events", "new", "vars.lead.utm_term", None, "string"),
        ("leadconduit.events", "retyped", "vars.lead.age", "number", "string"),
    }


def test_outbox_counts_states_per_target_and_names_the_oldest_unresolved(history, client):
    rows = {row["target"]: row for row in panel(client, "outbox")["rows"]}

    pirsch = rows["pirsch"]
    assert (pirsch["pending"], pirsch["sending"], pirsch["sent"]) == (2, 1, 3)
    assert pirsch["oldest_unresolved"] == "agg-3" and pirsch["oldest_unresolved_state"] == "sending"
    assert rows["leadconduit"]["sent"] == 1 and rows["leadconduit"]["oldest_unresolved"] is None


@pytest.fixture
def counted(client):
    """The app on a warehouse connection that counts its statements."""
    connections: list[CountingConnection] = []

    def counting_warehouse():
        for conn in status_app.warehouse():
            connections.append(CountingConnection(conn))
            yield connections[-1]

    status_app.app.dependency_overrides[status_app.warehouse] = counting_warehouse
    return client, connections


@pytest.mark.parametrize("name", [p.name for p in PANELS])
def test_each_panel_is_one_statement(history, counted, name):
    client, connections = counted

    panel(client, name)

    assert len(connections) == 1 and len(connections[0].statements) == 1


def test_the_page_runs_one_statement_per_panel_and_shows_them_all(history, counted):
    client, connections = counted

    response = client.get("/")

    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert len(connections[0].statements) == len(PANELS)
    html = response.text
    assert "<h1>Lead pipelines</h1>" in html
    streams = sum(len(source.streams) for source in SOURCES)  # all late but leadconduit.events, giosg.sidedata
    assert (f'<p class="summary">{streams - 2} of {streams} streams late · 1 unresolved failure · '
            "2 schema changes · 3 pushes not sent</p>") in html
    for p in PANELS:
        assert f"<h2>{p.title}</h2>" in html
    for stream in ("leadconduit.events", "getlandy.leads", "giosg.sidedata", "pirsch.visitor"):
        assert f"<td>{stream}</td>" in html
    assert "VendorAPIError: getlandy GET /leads answered 503" in html and "Traceback" not in html
    assert "vars.lead.utm_term" in html and "<td>pirsch</td>" in html


def test_the_page_escapes_what_vendors_and_errors_say(clean_warehouse, client):
    run(clean_warehouse, "leadboxer", "leads", NOW - HOUR, status="failed", error="<script>alert(1)</script>")

    html = client.get("/").text

    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_drift_panel_says_so_when_the_warehouse_has_no_drift_table(history, counted):
    client, connections = counted
    history.execute("ALTER TABLE ops.schema_drift RENAME TO schema_drift_hidden")
    try:
        drift = panel(client, "drift")
        page = client.get("/")
    finally:
        history.execute("ALTER TABLE ops.schema_drift_hidden RENAME TO schema_drift")

    assert drift["rows"] == [] and "ops.schema_drift does not exist" in drift["note"]
    assert len(connections[0].statements) == 1
    assert page.status_code == 200 and "ops.schema_drift does not exist" in page.text
    assert "VendorAPIError: getlandy GET /leads answered 503" in page.text


def test_the_page_reads_read_only_without_jit_and_with_a_statement_timeout(clean_warehouse):
    for conn in status_app.warehouse():
        settings = conn.execute("SELECT current_setting('jit'), current_setting('statement_timeout'), "
                                "current_setting('transaction_read_only')").fetchone()
        assert settings == ("off", status_app.STATEMENT_TIMEOUT, "on")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO ops.sync_state (vendor, stream, watermark, last_success_run_id) "
                         "VALUES ('x', 'y', now(), 1)")


@pytest.mark.parametrize("error", [psycopg.OperationalError("connection refused"),
                                   AirflowNotFoundException("The conn_id `leads_warehouse` isn't defined")])
def test_an_unreachable_warehouse_is_503_naming_why(client, monkeypatch, error):
    def refuse():
        raise error

    monkeypatch.setattr(status_app, "connect", refuse)

    response = client.get("/panels/freshness")

    assert response.status_code == 503 and str(error) in response.json()["detail"]


def test_an_unknown_panel_is_404(clean_warehouse, client):
    response = client.get("/panels/nope")

    assert response.status_code == 404 and "freshness" in response.json()["detail"]
