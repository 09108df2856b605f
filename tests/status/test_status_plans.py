"""The status page's panels on a year of history: each reads the audit tables through their indexes."""

from __future__ import annotations

import json

import psycopg
import pytest

from lead_pipelines.common.warehouse import statement
from lead_pipelines.status.panels import PANELS

#: Tables that grow with every window or push: a panel must never read them whole.
GROWING = ("sync_runs", "sync_windows", "schema_drift", "push_outbox")


@pytest.fixture
def year_of_history(clean_warehouse):
    """Every registered stream's windows of a year (hourly and daily; giosg sidedata in 10 partitions),
    each window with one success and every 50th with a failed try first, drift, and a year of pushes."""
    from lead_pipelines.registry import SOURCES

    wh = clean_warehouse
    for source in SOURCES:
        step = f"{int(source.interval.total_seconds())} seconds"
        for stream in source.streams:
            names = [f"{stream.name}/wf{i}" for i in range(10)] if stream.partitioned_by else [stream.name]
            for name in names:
                wh.execute(
                    "INSERT INTO ops.sync_runs (vendor, stream, window_start, window_end, status, records, inserted, error) "
                    "SELECT %(vendor)s, %(stream)s, w, w + %(step)s::interval, s, 10, 10, "
                    "       CASE WHEN s = 'failed' THEN 'boom' END "
                    "FROM generate_series(now() - interval '365 days', now(), %(step)s::interval) WITH ORDINALITY AS g(w, n) "
                    "CROSS JOIN LATERAL (SELECT 'success' AS s UNION ALL SELECT 'failed' WHERE n %% 50 = 0) AS t",
                    {"vendor": source.vendor, "stream": name, "step": step})
                wh.execute(
                    "INSERT INTO ops.sync_windows (vendor, stream, window_start, window_end, last_run_id, records) "
                    "SELECT vendor, stream, window_start, window_end, max(run_id), 10 FROM ops.sync_runs "
                    "WHERE vendor = %(vendor)s AND stream = %(stream)s AND status = 'success' "
                    "GROUP BY vendor, stream, window_start, window_end",
                    {"vendor": source.vendor, "stream": name})
                wh.execute(
                    "INSERT INTO ops.sync_state (vendor, stream, watermark, last_success_run_id) "
                    "SELECT vendor, stream, max(window_end), max(run_id) FROM ops.sync_runs "
                    "WHERE vendor = %(vendor)s AND stream = %(stream)s GROUP BY vendor, stream",
                    {"vendor": source.vendor, "stream": name})
                wh.execute(
                    "INSERT INTO ops.schema_drift (vendor, stream, window_start, window_end, run_id, change, path, "
                    "new_type, detected_at) SELECT %(vendor)s, %(stream)s, d, d + interval '1 hour', 1, 'new', "
                    "'f' || n, 'string', d FROM generate_series(now() - interval '365 days', now(), interval '1 day') "
                    "WITH ORDINALITY AS g(d, n)",
                    {"vendor": source.vendor, "stream": name})
    wh.execute(
        "INSERT INTO ops.push_outbox (push_key, target, aggregate_key, version, kind, grain, period_start, payload, "
        "content_hash, state, sent_at) SELECT 'k' || n, 'pirsch', 'k' || n, 1, 'aggregate', 'hour', p, '{}', 'h', "
        "CASE WHEN n % 1000 = 0 THEN 'pending' ELSE 'sent' END, p FROM generate_series(now() - interval '365 days', "
        "now(), interval '5 minutes') WITH ORDINALITY AS g(p, n)")
    wh.execute("ANALYZE ops.sync_runs, ops.sync_windows, ops.sync_state, ops.schema_drift, ops.push_outbox")
    return wh


def scans(plan: dict) -> list[tuple[str, str]]:
    """Return ``(node type, relation)`` of every scan in an EXPLAIN (FORMAT JSON) plan."""
    found = [(plan["Node Type"], plan["Relation Name"])] if "Relation Name" in plan else []
    for child in plan.get("Plans", []):
        found.extend(scans(child))
    return found


@pytest.mark.parametrize("panel", PANELS, ids=lambda p: p.name)
def test_no_panel_reads_a_growing_table_whole(year_of_history, panel):
    with psycopg.connect(year_of_history.loader_conninfo) as conn:
        explained = conn.execute(psycopg.sql.SQL("EXPLAIN (FORMAT JSON) ") + statement(f"status/{panel.name}"),
                                 panel.params()).fetchone()[0]
        rows = conn.execute(statement(f"status/{panel.name}"), panel.params()).fetchall()
    plan = (explained if isinstance(explained, list) else json.loads(explained))[0]["Plan"]

    whole = [(node, table) for node, table in scans(plan) if table in GROWING and node == "Seq Scan"]
    assert not whole, f"{panel.name} reads {whole} whole"
    assert rows, f"{panel.name} found nothing in a year of history"
