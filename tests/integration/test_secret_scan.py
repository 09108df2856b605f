"""Each source's secret, echoed back by its vendor in every form, is found nowhere we write.

For every registered source, the sandbox here expects a distinctive key and echoes it in error responses: raw, percent-encoded,
HTML-escaped, JSON-escaped, as the Basic ``Authorization`` value and inside base64. The DAG runs
through those errors (retried, given up on, rejected) and succeeds once they pass. Then every place
the package writes is scanned for every form of the key: the task logs (captured output and
Airflow's log files), XCom and the rest of Airflow's metadata database, the exceptions recorded in
``ops.sync_runs``, and every table of ``ops`` and ``raw``.
"""

from __future__ import annotations

import base64
import html
import json
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, quote_plus

import psycopg
import pytest

from devtools.testing import vendor_conn
from lead_pipelines.common.secrets import secret_forms
from lead_pipelines.common.windows import Window
from lead_pipelines.registry import SOURCES
from sandbox.process import SandboxProcess

KEY = "Zq7/k+y&v=1<x>\"w'%~lp-9f2c"
WINDOW = Window(datetime(2024, 6, 1, 9, tzinfo=timezone.utc), datetime(2024, 6, 1, 10, tzinfo=timezone.utc))


def forms_of(key: str) -> set[str]:
    """Every form of the key, derived here independently of the redactor, plus its own oracle."""
    basic = base64.b64encode(f"API:{key}".encode()).decode()
    forms = {
        key, quote(key, safe=""), quote(key), quote_plus(key), html.escape(key), html.escape(key, quote=False),
        json.dumps(key)[1:-1], json.dumps(key, ensure_ascii=True)[1:-1], basic, f"Basic {basic}",
        base64.b64encode(key.encode()).decode(), base64.urlsafe_b64encode(key.encode()).decode(),
    }
    return forms | set(secret_forms(key))


@pytest.fixture(params=SOURCES, ids=lambda source: source.vendor)
def echoing_sandbox(request, clean_warehouse, monkeypatch):
    """A sandbox whose simulator of one source expects ``KEY`` (``--<vendor>-api-key``), wired to it."""
    source = request.param
    with SandboxProcess(seed=7, start="2024-06-01T00:00:00Z", end="2024-06-02T00:00:00Z", events_per_hour=1500,
                        options={f"{source.vendor}-api-key": KEY}) as proc:
        monkeypatch.setenv(f"AIRFLOW_CONN_{source.conn_id.upper()}",
                           vendor_conn(source.vendor, proc.vendor_url(source.vendor), KEY))
        proc.source = source
        yield proc


def scan(text: str, where: str, forms: set[str]) -> list[str]:
    return [f"{where}: {form!r}" for form in forms if form in text]


def test_the_key_echoed_in_every_form_is_found_nowhere(runner, echoing_sandbox, clean_warehouse, capfd, caplog):
    client, source = echoing_sandbox.client, echoing_sandbox.source
    vendor, dag_id = source.vendor, source.dag_id
    # Hourly sources run the hour; daily ones the day that holds it.
    day = WINDOW.start.replace(hour=0)
    window = WINDOW if source.interval <= WINDOW.end - WINDOW.start else Window(day, day + source.interval)
    endpoint = source.streams[0].endpoint
    client.add_fault(vendor, "echo", path=endpoint, after=1, times=1, status=500)
    client.add_fault(vendor, "echo_html", path=endpoint, after=1, times=1, status=503)
    if vendor == "leadconduit":
        client.add_fault(vendor, "echo", path="/events/stats", times=1, status=502)
    ok = runner.run_window(dag_id, window)
    client.clear_faults()
    client.add_fault(vendor, "echo", path=endpoint, after=1, times=-1, status=500)
    gave_up = runner.run_window(dag_id, window)
    client.clear_faults()
    client.add_fault(vendor, "echo", path=endpoint, times=-1, status=401)
    rejected = runner.run_window(dag_id, window)
    client.clear_faults()

    assert (ok.state, gave_up.state, rejected.state) == ("success", "failed", "failed")
    echoed = [r for r in client.requests(vendor) if r["fault"] in ("echo", "echo_html")]
    # 2 (+1 on /events/stats) in the run that succeeds, 3 on each of the four tries that give up, and
    # at least one rejected (a hook that renews its credentials on 401 tries once more).
    assert len(echoed) >= 2 + 12 + 1, "the sandbox really echoed the key, on every try"
    errors = [r["error"] for r in clean_warehouse.runs() if r["error"]]
    assert any("HTTP 500" in e and "gave up after 3 attempts" in e for e in errors)
    assert any("HTTP 401" in e for e in errors)

    forms = forms_of(KEY)
    found: list[str] = []
    out, err = capfd.readouterr()
    found += scan(out + err + caplog.text, "task output", forms)
    home = Path(os.environ["AIRFLOW_HOME"])
    for path in home.rglob("*"):
        if path.is_file() and path.suffix in (".log", ".json", ".txt", ""):
            found += scan(path.read_text(errors="replace"), str(path), forms)
    with sqlite3.connect(home / "airflow.db") as meta:
        tables = [t for (t,) in meta.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert "xcom" in tables
        xcoms = meta.execute("SELECT count(*) FROM xcom WHERE dag_id = ?", (dag_id,)).fetchone()[0]
        assert xcoms > 0, "the successful run pushed its counts"
        for table in tables:
            for row in meta.execute(f'SELECT * FROM "{table}"'):
                found += scan(" ".join(map(repr, row)), f"airflow.{table}", forms)
    with psycopg.connect(clean_warehouse.conninfo) as conn:
        tables = conn.execute("SELECT table_schema, table_name FROM information_schema.tables "
                              "WHERE table_schema IN ('ops', 'raw')").fetchall()
        assert ("ops", "sync_runs") in tables and ("ops", "quarantine") in tables
        for schema, table in tables:
            for (row,) in conn.execute(f'SELECT t::text FROM "{schema}"."{table}" AS t'):
                found += scan(row, f"{schema}.{table}", forms)

    assert not found, f"the key leaked: {found[:10]}"
