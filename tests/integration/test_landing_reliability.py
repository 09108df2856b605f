"""Each promise of the landing path under inputs and faults nobody planned for, over HTTP into PostgreSQL.

Records the generator cannot produce are injected into the sandbox's ``/events`` byte for byte; the
DAG runs through Airflow in this process; assertions read the wire log and the tables.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from datetime import datetime, timezone

import psycopg
import pytest

from lead_pipelines.common.errors import ConcurrentRunError
from lead_pipelines.common.http_hook import HttpStats
from lead_pipelines.common.landing import MAX_ID_BYTES, Target
from lead_pipelines.common.sync import Checks, sync_window, window_lock_key
from lead_pipelines.common.windows import Window
from lead_pipelines.leadconduit.settings import RAW_TABLE

DAG_ID = "leadconduit_sync"
WINDOW = Window(datetime(2024, 6, 1, 7, tzinfo=timezone.utc), datetime(2024, 6, 1, 8, tzinfo=timezone.utc))
TS = int(WINDOW.start.timestamp() * 1000) + 10 * 60_000

#: Records that break the warehouse's faithfulness, each with the reason it must be quarantined for.
BAD = {
    b'{"id":"665a6c10aaaaaaaaaaaa0001","k\\u0000":1,"k\\ufffd":2}': "a NUL character (\\u0000), which jsonb cannot store",
    b'{"id":"nul\\u0000id"}': "a NUL character (\\u0000), which jsonb cannot store",
    b'["not", "an", "object"]': "the record is an array, not a JSON object",
    b'{"no_id":true}': "it has no 'id'",
    b'{"id":1.0}': "its 'id' is a number (ids must be text or integers)",
    b'{"id":"665a6c10aaaaaaaaaaaa0002","a":1,"a":2}': "a duplicate key in one object (jsonb keeps only the last value)",
    b'{"id":"lone","s":"\\ud800"}': "an unpaired UTF-16 surrogate escape, which jsonb cannot store",
    b'{"id":"latin1","s":"caf\xe9"}': "bytes that are not UTF-8",
    b'{"id":"deep","v":' + b"[" * 5000 + b"]" * 5000 + b"}": "nesting deeper than the landing decodes (about 1000 levels)",
    b'{"id":"' + b"L" * 3000 + b'"}': f"its 'id' is longer than {MAX_ID_BYTES} bytes",
}
#: Records that must land exactly as sent.
GOOD = [
    b'{"id":123456789012345678901234567890,"precise":0.1000000000000000055511151231257827}',
    b'{"id":123456789012345678901234567891,"precise":1E+400}',
    b'{"id":424242,"v":"number first"}',
    b'{"id":"424242","v":"then text"}',
]


def run(runner, conf=None):
    return runner.run_window(DAG_ID, WINDOW, conf)


def inject(sandbox, raws):
    sandbox.client.leadconduit_inject(
        [{"raw_b64": base64.b64encode(raw).decode(), "ts": TS + i} for i, raw in enumerate(raws)]
    )


def test_unrepresentable_records_are_quarantined_with_their_bytes_and_the_rest_lands(runner, clean_warehouse,
                                                                                     clean_sandbox, capfd, caplog):
    inject(clean_sandbox, [*BAD, *GOOD])

    result = run(runner)

    assert result.state == "success"
    truth = clean_sandbox.client.leadconduit_truth(WINDOW.start, WINDOW.end)
    landed = {rid for (rid,) in clean_warehouse.query(f"SELECT record_id FROM {RAW_TABLE}")}
    big = {"123456789012345678901234567890", "123456789012345678901234567891"}
    assert landed == set(truth["ids"]) | big | {"424242"}, "nothing lost, the integer and its text are one id"
    precise = dict(clean_warehouse.query(
        f"SELECT record_id, payload->>'precise' FROM {RAW_TABLE} WHERE record_id = ANY(%s)", (sorted(big),)))
    assert precise["123456789012345678901234567890"] == "0.1000000000000000055511151231257827"
    assert clean_warehouse.query(
        f"SELECT payload->'precise' = ('1' || repeat('0', 400))::jsonb FROM {RAW_TABLE} "
        "WHERE record_id = '123456789012345678901234567891'") == [(True,)]
    assert clean_warehouse.query(f"SELECT payload->>'v' FROM {RAW_TABLE} WHERE record_id = '424242'") == [("then text",)]

    stored = {bytes(raw): (reason, vendor, stream, start, end) for raw, reason, vendor, stream, start, end in
              clean_warehouse.query("SELECT raw, reason, vendor, stream, window_start, window_end FROM ops.quarantine")}
    assert {raw: row[0] for raw, row in stored.items()} == BAD, "each bad record, byte for byte, with its reason"
    assert {row[1:] for row in stored.values()} == {("leadconduit", "events", WINDOW.start, WINDOW.end)}
    (audit,) = clean_warehouse.runs()
    assert (audit["status"], audit["quarantined"]) == ("success", len(BAD))
    assert audit["vendor_count"] == audit["counted"]
    out, err = capfd.readouterr()
    logged = out + err + caplog.text
    assert f"{len(BAD)} record(s) quarantined in ops.quarantine" in logged
    assert f", {len(BAD)} quarantined" in logged, "the task's summary line shows the quarantined count"

    again = run(runner)
    assert again.state == "success"
    assert clean_warehouse.query("SELECT count(*), min(first_run_id), max(last_run_id) FROM ops.quarantine") == \
        [(len(BAD), 1, 2)]


def test_the_dag_switch_fails_the_run_on_quarantine_and_lands_nothing(runner, clean_warehouse, clean_sandbox):
    inject(clean_sandbox, [b'{"id":1.5}'])

    result = run(runner, {"fail_on_quarantine": True})

    assert result.state == "failed"
    assert clean_warehouse.query(f"SELECT count(*) FROM {RAW_TABLE}") == [(0,)]
    assert clean_warehouse.query("SELECT count(*) FROM ops.quarantine") == [(0,)]
    (audit,) = clean_warehouse.runs()
    assert audit["status"] == "failed", "a QuarantineError is not retried"
    assert audit["error"].startswith("LeadConduit /events failed for window [2024-06-01T07:00:00Z, 2024-06-01T08:00:00Z)")
    assert "1 record(s) cannot be landed faithfully (1 × its 'id' is a number" in audit["error"]
    assert "1.5" not in audit["error"].replace("1 × ", ""), "the record's content is not in the error"

    assert run(runner).state == "success", "without the switch the window lands around the record"


def test_a_mismatch_with_the_vendor_count_can_be_a_warning(runner, clean_warehouse, clean_sandbox):
    clean_sandbox.client.add_fault("leadconduit", "empty", path="/events", after=1, times=-1)

    failed = run(runner)
    clean_sandbox.client.clear_faults()
    clean_sandbox.client.add_fault("leadconduit", "empty", path="/events", after=1, times=1)
    warned = run(runner, {"on_count_mismatch": "warn"})

    assert failed.state == "failed"
    assert warned.state == "success"
    runs = clean_warehouse.runs()
    assert all("the vendor counts" in r["error"] for r in runs)
    assert [r["status"] for r in runs] == ["failed"] * 4 + ["success"]
    assert runs[-1]["error"].startswith("warning: the vendor counts")
    assert runs[-1]["vendor_count"] > runs[-1]["counted"] > 0


def test_a_second_run_of_a_live_window_waits_then_fails_clearly_and_never_abandons_it(clean_warehouse):
    target = Target("leadconduit", "LeadConduit", "events", "/events", "leadconduit_events", WINDOW)
    ids = {"vendor": "leadconduit", "stream": "events", "window_start": WINDOW.start, "window_end": WINDOW.end}
    with psycopg.connect(clean_warehouse.conninfo, autocommit=True) as live:
        # A live run: it holds the window's lock and its audit row says running.
        live.execute("SELECT pg_advisory_lock(%s)", (window_lock_key("leadconduit", "events", WINDOW.start, WINDOW.end),))
        live.execute("INSERT INTO ops.sync_runs (vendor, stream, window_start, window_end, airflow_run_id, status) "
                     "VALUES (%(vendor)s, %(stream)s, %(window_start)s, %(window_end)s, 'scheduled__live', 'running')", ids)
        began = time.monotonic()
        with pytest.raises(ConcurrentRunError) as excinfo:
            sync_window(target=target, pages=lambda: [[{"id": "a"}]], http_stats=HttpStats(),
                        checks=Checks(lock_wait_seconds=1.5))
        waited = time.monotonic() - began

        assert 1.4 < waited < 10
        message = str(excinfo.value)
        assert message.startswith("LeadConduit /events failed for window [2024-06-01T07:00:00Z")
        assert "another run of this window (run_id 1, Airflow run scheduled__live" in message
        assert clean_warehouse.query("SELECT run_id, status FROM ops.sync_runs") == [(1, "running")], \
            "the waiting run neither recorded a try nor judged the live one dead"

        # The live run finishes while a second one waits: the second then lands.
        def finish():
            time.sleep(1)
            live.execute("UPDATE ops.sync_runs SET status = 'success' WHERE run_id = 1")
            live.execute("SELECT pg_advisory_unlock_all()")

        threading.Thread(target=finish).start()
        summary = sync_window(target=target, pages=lambda: [[{"id": "a"}]], http_stats=HttpStats(),
                              checks=Checks(lock_wait_seconds=30))

    assert summary.status == "success" and summary.lock_wait_seconds > 0.5
    assert clean_warehouse.query("SELECT run_id, status FROM ops.sync_runs ORDER BY 1") == [(1, "success"), (2, "success")]


def test_the_warehouse_connection_lost_mid_window_is_recorded_and_the_retry_completes(runner, clean_warehouse,
                                                                                      clean_sandbox):
    clean_sandbox.client.add_fault("leadconduit", "slow", path="/events", after=1, times=1, delay=1.5)

    def cut():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            killed = clean_warehouse.query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'COPY %%stage_%%' AND state = 'active'")
            if killed:
                return
            time.sleep(0.05)

    thread = threading.Thread(target=cut)
    thread.start()
    result = run(runner)
    thread.join()

    assert result.state == "success", "Airflow's retry of the task completed the window"
    first, second = clean_warehouse.runs()
    assert first["status"] == "failed", "the failure was recorded on a fresh connection"
    # The cut lands while page 1 or page 2 streams, as the thread happens to see the COPY.
    assert re.fullmatch(
        r"LeadConduit /events failed for window \[2024-06-01T07:00:00Z, 2024-06-01T08:00:00Z\) \(page [12]\): the "
        r"warehouse connection was lost while staging this page; nothing of this window was landed", first["error"]
    ), first["error"]
    assert second["status"] == "success"
    truth = clean_sandbox.client.leadconduit_truth(WINDOW.start, WINDOW.end)
    assert sorted(r for (r,) in clean_warehouse.query(f"SELECT record_id FROM {RAW_TABLE}")) == truth["ids"]


def test_records_carry_their_window(runner, clean_warehouse, clean_sandbox):
    # A record whose own time lies outside the window the vendor was asked for fails the run.
    clean_sandbox.client.add_fault("leadconduit", "ignore_window", path="/events", times=-1)

    result = run(runner)

    assert result.state == "failed"
    (audit,) = clean_warehouse.runs()
    assert "(page 1, record 1): a record's 'end_timestamp' is before the window starts" in audit["error"]
    assert clean_warehouse.query(f"SELECT count(*) FROM {RAW_TABLE}") == [(0,)]
