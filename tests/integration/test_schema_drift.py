"""Schema drift: a stream's fields per window against what it has seen, recorded in ops, never failing a load.

The DAG test lands a LeadConduit window through Airflow and the sandbox; the others land small
windows straight through ``sync_window`` (as the loader role), which is what every landing task runs.
"""

from __future__ import annotations

import base64
import logging
from datetime import datetime, timezone

from psycopg import sql

from lead_pipelines.common import drift
from lead_pipelines.common.http_hook import HttpStats
from lead_pipelines.common.landing import Target
from lead_pipelines.common.sync import sync_window
from lead_pipelines.common.windows import Window

DAG_ID = "leadconduit_sync"
WINDOW = Window(datetime(2024, 6, 1, 7, tzinfo=timezone.utc), datetime(2024, 6, 1, 8, tzinfo=timezone.utc))
TS = int(WINDOW.start.timestamp() * 1000) + 10 * 60_000


def fields(warehouse, stream="events") -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path, json_type in warehouse.query(
            "SELECT path, json_type FROM ops.stream_fields WHERE stream = %s", (stream,)):
        found.setdefault(path, set()).add(json_type)
    return found


def drift_rows(warehouse, stream="events") -> list[tuple]:
    return sorted(warehouse.query(
        "SELECT change, path, old_type, new_type FROM ops.schema_drift WHERE stream = %s", (stream,)))


def test_leadconduit_window_sets_a_baseline_then_new_and_retyped_fields_are_recorded(runner, clean_warehouse,
                                                                                    clean_sandbox, caplog):
    caplog.set_level(logging.INFO, logger="lead_pipelines.common.drift")
    first = runner.run_window(DAG_ID, WINDOW)

    assert first.state == "success", first.task_states
    baseline = fields(clean_warehouse)
    assert baseline["id"] == {"string"} and baseline["end_timestamp"] == {"number"}
    assert any("." in path for path in baseline), "nested paths are walked"
    assert drift_rows(clean_warehouse) == [], "the first window is the baseline, not drift"
    assert any("schema baseline recorded" in r.getMessage() for r in caplog.records)

    clean_sandbox.client.leadconduit_inject([
        {"raw_b64": base64.b64encode(raw).decode(), "ts": TS + i} for i, raw in enumerate([
            b'{"id":"drift-probe-1","end_timestamp":%d,"drift_probe":{"nested":[1,"x"],"flag":true}}' % TS,
            b'{"id":987654321,"end_timestamp":%d}' % (TS + 1),
        ])
    ])
    caplog.clear()
    second = runner.run_window(DAG_ID, WINDOW)

    assert second.state == "success" and second.task_states["land_events"] == "success"
    run_id = clean_warehouse.query("SELECT max(run_id) FROM ops.sync_runs WHERE status = 'success'")[0][0]
    assert drift_rows(clean_warehouse) == [
        ("new", "drift_probe", None, "object"),
        ("new", "drift_probe.flag", None, "boolean"),
        ("new", "drift_probe.nested", None, "array"),
        ("new", "drift_probe.nested[]", None, "number,string"),
        ("retyped", "id", "string", "number"),
    ]
    assert clean_warehouse.query(
        "SELECT DISTINCT vendor, window_start, window_end, run_id FROM ops.schema_drift"
    ) == [("leadconduit", WINDOW.start, WINDOW.end, run_id)]
    assert clean_warehouse.query(
        "SELECT first_seen_run_id, last_seen_run_id FROM ops.stream_fields WHERE path = 'drift_probe.nested[]' "
        "AND json_type = 'string'") == [(run_id, run_id)]
    line = next(r.getMessage() for r in caplog.records if "schema drift:" in r.getMessage())
    assert "4 new, 1 retyped" in line and "new drift_probe.nested[]: number,string" in line
    assert "retyped id: string -> number" in line


def land(records, window=WINDOW, stream="probe"):
    target = Target("drifttest", "DriftTest", stream, f"/{stream}", "leadconduit_events", window)
    return sync_window(target=target, pages=lambda: [records], http_stats=HttpStats())


def test_vanished_is_a_path_every_one_of_the_last_windows_carried(clean_warehouse):
    steady = [{"id": "a", "kept": 1, "going": {"deep": "x"}}, {"id": "b", "kept": 2, "going": {"deep": "y"}}]
    for _ in range(drift.VANISH_AFTER):
        land(steady)
    assert drift_rows(clean_warehouse, "probe") == []

    summary = land([{"id": "a", "kept": 1}])

    assert summary.status == "success"
    assert drift_rows(clean_warehouse, "probe") == [
        ("vanished", "going", "object", None), ("vanished", "going.deep", "string", None),
    ]
    land([{"id": "a", "kept": 1}])
    assert len(drift_rows(clean_warehouse, "probe")) == 2, "a vanished field is reported once"


def test_an_optional_field_that_comes_and_goes_and_null_values_are_not_drift(clean_warehouse):
    land([{"id": "a", "name": "x", "opt": 1}])
    land([{"id": "a", "name": None}])
    land([{"id": "a", "name": "y", "opt": 2}])
    land([{"id": "a", "name": None}])

    assert drift_rows(clean_warehouse, "probe") == []
    assert fields(clean_warehouse, "probe")["name"] == {"string", "null"}


def test_paths_name_array_elements_and_the_walk_stops_at_its_depth(clean_warehouse):
    nested: dict = {"leaf": 1}
    for level in range(12):
        nested = {f"l{level}": nested}
    land([{"id": "a", "tags": ["t"], "rows": [{"k": [[1]]}], "deep": nested}])

    seen = fields(clean_warehouse, "probe")
    assert seen["tags"] == {"array"} and seen["tags[]"] == {"string"}
    assert seen["rows[].k[][]"] == {"number"}
    assert max(len(p.split(".")) for p in seen if p.startswith("deep")) == drift.MAX_DEPTH


def test_a_failing_drift_step_is_logged_and_the_window_lands_all_the_same(clean_warehouse, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="lead_pipelines.common.drift")
    monkeypatch.setattr(drift, "statement", lambda name, **ids: sql.SQL("SELECT 1 / 0"))

    summary = land([{"id": "a"}, {"id": "b"}])

    assert summary.status == "success" and summary.landing.inserted == 2
    assert clean_warehouse.query("SELECT status FROM ops.sync_runs") == [("success",)]
    assert clean_warehouse.query("SELECT count(*) FROM raw.leadconduit_events") == [(2,)]
    assert clean_warehouse.query("SELECT count(*) FROM ops.stream_fields") == [(0,)]
    assert any("schema drift not checked (the warehouse failed (DivisionByZero" in r.getMessage()
               for r in caplog.records)


def test_the_drift_line_names_at_most_ten_changes():
    found = drift.Drift(30, False, True, [("new", f"f{i:02d}", None, "string") for i in range(25)])

    line = found.describe()

    assert line.startswith("schema drift: 25 new: new f00: string, ") and line.count("new f") == 10
    assert "and 15 more (ops.schema_drift)" in line
    assert drift.Drift(0, True, True, []).describe() == "no fields to profile (no records)"
    assert drift.Drift(7, True, True, []).describe() == "schema baseline recorded: 7 fields"
