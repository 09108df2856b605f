"""land_pages against a real warehouse: COPY into staging, one merge into raw.leadconduit_events."""

from __future__ import annotations

import json

import psycopg
import pytest

import hashlib
from datetime import datetime, timezone

import orjson

from lead_pipelines.common.errors import LandingError, RecordError, WarehouseError
from lead_pipelines.common.landing import MAX_ID_BYTES, RecordRules, Target, land_pages, record_id_of
from lead_pipelines.common.records import Page, decode_page
from lead_pipelines.common.warehouse import connect
from lead_pipelines.common.windows import Window
from lead_pipelines.leadconduit.settings import RAW_TABLE

TABLE = "leadconduit_events"
WINDOW = Window(datetime(2024, 6, 1, 5, tzinfo=timezone.utc), datetime(2024, 6, 1, 6, tzinfo=timezone.utc))
TARGET = Target("leadconduit", "LeadConduit", "events", "/events", TABLE, WINDOW)


def md5(raw: bytes) -> str:
    return hashlib.md5(raw).hexdigest()


@pytest.fixture
def conn(clean_warehouse):
    with connect() as connection:
        yield connection


def land(conn, pages, run_id, **kwargs):
    with conn.transaction():
        return land_pages(conn, TARGET, pages, run_id=run_id, **kwargs)


def rows(warehouse) -> dict[str, tuple]:
    """Return ``record_id -> (payload, first_run_id, last_run_id, change_count)``."""
    found = warehouse.query(f"SELECT record_id, payload, first_run_id, last_run_id, change_count FROM {RAW_TABLE}")
    return {row[0]: tuple(row[1:]) for row in found}


def bookkeeping(warehouse) -> list[tuple]:
    return warehouse.query(
        f"SELECT record_id, xmin::text, first_loaded_at, first_run_id, last_loaded_at, last_run_id, change_count, payload_hash "
        f"FROM {RAW_TABLE} ORDER BY record_id"
    )


def events(n: int, *, start: int = 0, **extra) -> list[dict]:
    return [{"id": f"ev{i:06d}", "type": "source", "n": i, **extra} for i in range(start, start + n)]


def test_first_landing_inserts_everything_and_counts(conn, clean_warehouse):
    pages = [events(3), events(3, start=3), events(2, start=6)]
    seen = []

    result = land(conn, pages, run_id=11, on_page=lambda number, size: seen.append((number, size)))

    assert result.as_dict() == {"pages": 3, "records": 8, "inserted": 8, "updated": 0, "unchanged": 0,
                                "stale": 0, "quarantined": 0, "counted": 0, "last_record_id": "ev000007",
                                "quarantine_reasons": {}}
    assert seen == [(1, 3), (2, 3), (3, 2)]
    stored = rows(clean_warehouse)
    assert sorted(stored) == [f"ev{i:06d}" for i in range(8)]
    assert all(first == last == 11 and changes == 0 for _, first, last, changes in stored.values())
    assert stored["ev000004"][0] == {"id": "ev000004", "type": "source", "n": 4}
    hashes = clean_warehouse.query(f"SELECT payload_hash FROM {RAW_TABLE} WHERE record_id = 'ev000004'")
    assert hashes == [(md5(orjson.dumps({"id": "ev000004", "type": "source", "n": 4})),)]


def test_duplicate_ids_in_one_landing_last_copy_wins(conn, clean_warehouse):
    pages = [
        [{"id": "a", "v": 1}, {"id": "b", "v": 1}],
        [{"id": "a", "v": 2}, {"id": "c", "v": 1}],
        [{"id": "a", "v": 3}],
    ]

    result = land(conn, pages, run_id=1)

    assert (result.records, result.inserted, result.updated, result.unchanged) == (5, 3, 0, 0)
    stored = rows(clean_warehouse)
    assert stored["a"] == ({"id": "a", "v": 3}, 1, 1, 0)
    assert len(stored) == 3


def test_relanding_identical_records_writes_nothing(conn, clean_warehouse):
    pages = [events(50), events(50, start=50)]
    land(conn, pages, run_id=1)
    before = bookkeeping(clean_warehouse)

    # The same bytes again (fresh dicts): the hash of what the vendor sent is what counts.
    again = [[dict(e) for e in page] for page in pages]
    result = land(conn, again, run_id=2)

    assert (result.records, result.inserted, result.updated, result.unchanged) == (100, 0, 0, 100)
    assert bookkeeping(clean_warehouse) == before, "no row version, timestamp or run id may move"


def test_changed_payload_updates_row_and_keeps_first_seen(conn, clean_warehouse):
    land(conn, [events(4)], run_id=1)
    (first_loaded,) = clean_warehouse.query(f"SELECT first_loaded_at FROM {RAW_TABLE} WHERE record_id = 'ev000002'")[0]
    changed = events(4)
    changed[2]["outcome"] = "failure"

    result = land(conn, [changed], run_id=2)
    again = land(conn, [[{**changed[2], "outcome": "success"}]], run_id=3)

    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 3)
    assert (again.inserted, again.updated, again.unchanged) == (0, 1, 0)
    stored = rows(clean_warehouse)
    assert stored["ev000002"] == ({**changed[2], "outcome": "success"}, 1, 3, 2)
    assert all(stored[f"ev{i:06d}"][1:] == (1, 1, 0) for i in (0, 1, 3))
    row = clean_warehouse.query(
        f"SELECT first_loaded_at, last_loaded_at > first_loaded_at FROM {RAW_TABLE} WHERE record_id = 'ev000002'"
    )
    assert row == [(first_loaded, True)]


def test_hash_is_of_the_vendors_bytes():
    one = decode_page(b'[{"id":"x","vars":{"b":1}}]')
    spaced = decode_page(b'[ {"id": "x", "vars": {"b": 1}} ]')

    assert one.raw == [b'{"id":"x","vars":{"b":1}}']
    assert spaced.raw == [b'{"id": "x", "vars": {"b": 1}}'], "the exact path keeps the vendor's own bytes"
    assert one.records == spaced.records


TRICKY = [
    pytest.param({"s": "back\\slash \\N \\\\ end\\"}, id="backslashes"),
    pytest.param({"s": "tab\there\nnewline\r\nreturn"}, id="control-whitespace"),
    pytest.param({"s": "nul-adjacent \u0001\u001f controls"}, id="low-controls"),
    pytest.param({"s": "quotes \" ' `"}, id="quotes"),
    pytest.param({"s": "ünïcødé ✓ 日本 😀 \u2028"}, id="unicode-emoji"),
    pytest.param({"a": [[1, [2, [3]]], {"k": [None, True, False]}], "n": None}, id="nested-and-null"),
    pytest.param({"f": 1.5, "big": 12345678901234567, "neg": -0.25, "empty": {}, "list": []}, id="numbers-empties"),
    pytest.param({"weird key\t\\": "v", "": "empty key"}, id="odd-keys"),
]


@pytest.mark.parametrize("body", TRICKY)
def test_payload_round_trips_exactly_into_jsonb(conn, clean_warehouse, body):
    record = {"id": "tricky", **body}

    result = land(conn, [[record]], run_id=1)

    assert result.inserted == 1
    ((payload, text),) = clean_warehouse.query(f"SELECT payload, payload::text FROM {RAW_TABLE}")
    assert payload == record
    assert json.loads(text) == record
    # A re-landing of the same record compares equal: nothing was mangled on the way in.
    assert land(conn, [[record]], run_id=2).unchanged == 1


@pytest.mark.parametrize(
    "rid",
    ["tab\tin\tid", "back\\slash\\N", "line\nbreak\r", "üñí 😀", "12345"],
    ids=["tab", "backslash", "newline", "unicode", "numeric-string"],
)
def test_record_ids_round_trip(conn, clean_warehouse, rid):
    result = land(conn, [[{"id": rid, "v": 1}]], run_id=1)

    assert result.last_record_id == rid
    assert clean_warehouse.query(f"SELECT record_id, payload->>'id' FROM {RAW_TABLE}") == [(rid, rid)]


def test_integer_ids_are_stored_as_text(conn, clean_warehouse):
    land(conn, [[{"id": 42}, {"id": 7}]], run_id=1)

    assert clean_warehouse.query(f"SELECT record_id FROM {RAW_TABLE} ORDER BY record_id") == [("42",), ("7",)]


def test_page_generator_failure_mid_way_rolls_back(conn, clean_warehouse):
    land(conn, [events(2)], run_id=1)
    before = bookkeeping(clean_warehouse)
    produced = []

    def pages():
        for k in range(3):
            produced.append(k)
            yield events(100, start=100 * (k + 1))
        raise ConnectionError("vendor went away on page 4")

    with pytest.raises(ConnectionError, match="page 4"):  # not ours: the operator wraps it
        land(conn, pages(), run_id=2)

    assert produced == [0, 1, 2], "three pages were staged before the failure"
    assert bookkeeping(clean_warehouse) == before


def test_two_landings_in_one_transaction(conn, clean_warehouse):
    with conn.transaction():
        first = land_pages(conn, TARGET, [events(3)], run_id=1)
        second = land_pages(conn, TARGET, [events(3, start=2)], run_id=2)
        staged = conn.execute("SELECT count(*) FROM pg_class WHERE relname = 'stage_leadconduit_events'").fetchone()

    assert (first.inserted, second.inserted, second.unchanged) == (3, 2, 1)
    assert staged == (0,), "the staging table is dropped after each landing"
    assert sorted(rows(clean_warehouse)) == [f"ev{i:06d}" for i in range(5)]
    assert rows(clean_warehouse)["ev000002"][1:] == (1, 1, 0)


def test_nothing_is_visible_before_commit(conn, clean_warehouse):
    with conn.transaction():
        land_pages(conn, TARGET, [events(5)], run_id=1)
        assert clean_warehouse.query(f"SELECT count(*) FROM {RAW_TABLE}") == [(0,)]

    assert clean_warehouse.query(f"SELECT count(*) FROM {RAW_TABLE}") == [(5,)]


def test_empty_pages_are_skipped(conn, clean_warehouse):
    seen = []

    result = land(conn, [[], events(2), [], [], events(1, start=2), []], run_id=1,
                  on_page=lambda number, size: seen.append((number, size)))

    assert (result.pages, result.records, result.inserted) == (2, 3, 3)
    assert seen == [(1, 2), (2, 1)]


def test_no_pages_at_all(conn, clean_warehouse):
    result = land(conn, iter(()), run_id=1)

    assert (result.pages, result.records, result.inserted, result.last_record_id) == (0, 0, 0, None)
    assert clean_warehouse.query(f"SELECT count(*) FROM {RAW_TABLE}") == [(0,)]


def test_large_landing(conn, clean_warehouse):
    def pages():
        for p in range(20):
            yield [{"id": f"{p:02d}-{i:04d}", "type": "recipient", "vars": {"lead": {"email": f"u{i}@x.io", "seq": [p, i]}}}
                   for i in range(1000)]

    result = land(conn, pages(), run_id=5)

    assert (result.pages, result.records, result.inserted) == (20, 20_000, 20_000)
    assert result.last_record_id == "19-0999"
    counts = clean_warehouse.query(
        f"SELECT count(*), count(DISTINCT record_id), min(record_id), max(record_id), "
        f"sum((payload#>>'{{vars,lead,seq,1}}')::int) FROM {RAW_TABLE}"
    )
    assert counts == [(20_000, 20_000, "00-0000", "19-0999", 20 * sum(range(1000)))]


def quarantine(warehouse) -> list[tuple]:
    return warehouse.query(
        "SELECT page, position, record_id, reason, raw, first_run_id, last_run_id FROM ops.quarantine ORDER BY page, position"
    )


def body(*records: bytes) -> bytes:
    return b"[" + b",".join(records) + b"]"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"id": "abc"}, ("abc", None)),
        ({"id": " padded "}, (" padded ", None)),
        ({"id": 7}, ("7", None)),
        ({"id": -12}, ("-12", None)),
        ({"id": 123456789012345678901234567890}, ("123456789012345678901234567890", None)),
        ({"id": 1.0}, (None, "its 'id' is a number (ids must be text or integers)")),
        ({"id": True}, (None, "its 'id' is a boolean (ids must be text or integers)")),
        ({"id": []}, (None, "its 'id' is an array (ids must be text or integers)")),
        ({"id": {}}, (None, "its 'id' is an object (ids must be text or integers)")),
        ({"id": None}, (None, "its 'id' is null")),
        ({"id": ""}, (None, "its 'id' is empty")),
        ({"other": 1}, (None, "it has no 'id'")),
        ([1, 2], (None, "the record is an array, not a JSON object")),
        ("text", (None, "the record is a string, not a JSON object")),
        ({"id": "x" * (MAX_ID_BYTES + 1)}, (None, f"its 'id' is longer than {MAX_ID_BYTES} bytes")),
        ({"id": "é" * (MAX_ID_BYTES // 2)}, ("é" * (MAX_ID_BYTES // 2), None)),
    ],
    ids=["text", "text-as-given", "int", "negative", "bigint", "float", "bool", "list", "dict", "null", "empty",
         "missing", "array-record", "string-record", "too-long", "multibyte-at-limit"],
)
def test_the_id_rule(value, expected):
    assert record_id_of(value) == expected


def test_an_integer_id_and_its_text_are_one_record(conn, clean_warehouse):
    land(conn, [decode_page(b'[{"id":7,"v":1}]')], run_id=1)
    result = land(conn, [decode_page(b'[{"id":"7","v":1}]')], run_id=2)

    assert (result.inserted, result.updated) == (0, 1)
    assert clean_warehouse.query(f"SELECT record_id, payload FROM {RAW_TABLE}") == [("7", {"id": "7", "v": 1})]


def test_big_and_precise_numbers_are_stored_exactly_as_sent(conn, clean_warehouse):
    one = b'{"id":123456789012345678901234567890,"x":0.1000000000000000055511151231257827,"e":1E400}'
    two = b'{"id":123456789012345678901234567891,"x":-0.0000000000000000000001}'

    result = land(conn, [decode_page(body(one, two))], run_id=1)

    assert (result.inserted, result.quarantined) == (2, 0), "two distinct ids stay two rows"
    stored = dict(clean_warehouse.query(f"SELECT record_id, payload->>'x' FROM {RAW_TABLE}"))
    assert stored == {"123456789012345678901234567890": "0.1000000000000000055511151231257827",
                      "123456789012345678901234567891": "-0.0000000000000000000001"}
    (exp,) = clean_warehouse.query(f"SELECT payload->'e' = ('1' || repeat('0', 400))::jsonb FROM {RAW_TABLE} "
                                   "WHERE record_id LIKE '%890'")[0]
    assert exp
    hashes = dict(clean_warehouse.query(f"SELECT record_id, payload_hash FROM {RAW_TABLE}"))
    assert hashes["123456789012345678901234567890"] == md5(one), "the hash is of the vendor's bytes"


BAD_RECORDS = [
    pytest.param(b'{"id":"n","k\\u0000":1}', "n", "a NUL character (\\u0000), which jsonb cannot store", id="nul-in-key"),
    pytest.param(b'{"id":"v","s":"a\\u0000b"}', "v", "a NUL character (\\u0000), which jsonb cannot store", id="nul-in-value"),
    pytest.param(b'{"id":"a\\u0000"}', "a\x00", "a NUL character (\\u0000), which jsonb cannot store", id="nul-in-id"),
    pytest.param(b'{"id":"d","a":1,"a":2}', "d", "a duplicate key in one object (jsonb keeps only the last value)", id="duplicate-key"),
    pytest.param(b'{"id":"s","v":"\\ud800"}', "s", "an unpaired UTF-16 surrogate escape, which jsonb cannot store", id="lone-surrogate"),
    pytest.param(b'{"id":"u","v":"\xff"}', "u", "bytes that are not UTF-8", id="not-utf8"),
    pytest.param(b'{"id":"deep","v":' + b"[" * 3000 + b"]" * 3000 + b"}", None,
                 "nesting deeper than the landing decodes (about 1000 levels)", id="deep"),
    pytest.param(b'{"id":1.0}', None, "its 'id' is a number (ids must be text or integers)", id="float-id"),
    pytest.param(b'{"type":"source"}', None, "it has no 'id'", id="no-id"),
    pytest.param(b'["not","an","object"]', None, "the record is an array, not a JSON object", id="array"),
    pytest.param(b'{"id":"' + b"x" * 3000 + b'"}', None, f"its 'id' is longer than {MAX_ID_BYTES} bytes", id="long-id"),
]


@pytest.mark.parametrize(("raw", "rid", "reason"), BAD_RECORDS)
def test_a_record_the_warehouse_cannot_hold_is_quarantined_with_its_bytes(conn, clean_warehouse, raw, rid, reason):
    good = [b'{"id":"g1","v":1}', b'{"id":"g2","v":2}']

    result = land(conn, [decode_page(body(good[0], raw, good[1]))], run_id=3)

    assert (result.inserted, result.quarantined) == (2, 1)
    assert result.quarantine_reasons == {reason: 1}
    assert sorted(r for (r,) in clean_warehouse.query(f"SELECT record_id FROM {RAW_TABLE}")) == ["g1", "g2"]
    (row,) = quarantine(clean_warehouse)
    page, position, stored_id, stored_reason, stored_raw, first_run, last_run = row
    assert (page, position, stored_reason, bytes(stored_raw), first_run, last_run) == (1, 2, reason, raw, 3, 3)
    if rid is not None and "\x00" not in rid:
        assert stored_id == rid
    # A re-run of the window sees the same record: still one quarantine row, refreshed.
    again = land(conn, [decode_page(body(good[0], raw, good[1]))], run_id=4)
    assert (again.unchanged, again.quarantined) == (2, 1)
    assert [(r[5], r[6]) for r in quarantine(clean_warehouse)] == [(3, 4)]


def test_nul_keys_never_merge_two_keys_into_one(conn, clean_warehouse):
    page = decode_page(body(b'{"id":"a","k\\u0000":1,"k\\ufffd":2}', b'{"id":"b","k\\ufffd":2}'))

    result = land(conn, [page], run_id=1)

    assert (result.inserted, result.quarantined) == (1, 1)
    assert clean_warehouse.query(f"SELECT payload FROM {RAW_TABLE}") == [({"id": "b", "k\ufffd": 2},)]


def test_records_outside_the_window_fail_the_landing_naming_the_position(conn, clean_warehouse):
    rules = RecordRules(time_field="ts", time_unit="ms")
    inside = int(WINDOW.start.timestamp() * 1000) + 5
    pages = [[{"id": "a", "ts": inside}], [{"id": "b", "ts": inside}, {"id": "c", "ts": inside - 3_600_000}]]

    with pytest.raises(RecordError) as excinfo:
        land(conn, pages, run_id=1, rules=rules)

    message = str(excinfo.value)
    assert message.startswith("LeadConduit /events failed for window [2024-06-01T05:00:00Z, 2024-06-01T06:00:00Z) "
                              "(page 2, record 2): a record's 'ts' is before the window starts")
    assert clean_warehouse.query(f"SELECT count(*) FROM {RAW_TABLE}") == [(0,)]


def test_a_runaway_cursor_is_stopped_at_max_pages(conn, clean_warehouse):
    def endless():
        n = 0
        while True:
            n += 1
            yield [{"id": f"r{n}"}]

    with pytest.raises(LandingError, match=r"\(page 6\): more than 5 pages in one window"):
        land(conn, endless(), run_id=1, rules=RecordRules(max_pages=5))

    assert clean_warehouse.query(f"SELECT count(*) FROM {RAW_TABLE}") == [(0,)]


def test_an_older_version_never_replaces_a_newer_one(conn, clean_warehouse):
    rules = RecordRules(updated_field="updated_at", updated_unit="iso")
    newer = {"id": "p", "v": "new", "updated_at": "2024-06-01T05:30:00Z"}
    older = {"id": "p", "v": "old", "updated_at": "2024-06-01T05:10:00Z"}

    land(conn, [[newer]], run_id=1, rules=rules)
    late = land(conn, [[older]], run_id=2, rules=rules)

    assert (late.inserted, late.updated, late.stale) == (0, 0, 1)
    assert clean_warehouse.query(f"SELECT payload->>'v', last_run_id FROM {RAW_TABLE}") == [("new", 1)]
    # Within one window the newest version wins whatever the order the pages came in.
    clean_warehouse.reset()
    land(conn, [[newer], [older]], run_id=3, rules=rules)
    assert clean_warehouse.query(f"SELECT payload->>'v' FROM {RAW_TABLE}") == [("new",)]
    newest = {**newer, "v": "newest", "updated_at": "2024-06-01T05:45:00Z"}
    assert land(conn, [[newest]], run_id=4, rules=rules).updated == 1


def test_counted_records_are_counted_once_across_pages(conn, clean_warehouse):
    rules = RecordRules(counted=lambda record: record.get("outcome") == "success")
    pages = [[{"id": "a", "outcome": "success"}, {"id": "b", "outcome": "stop"}],
             [{"id": "a", "outcome": "success"}, {"id": "c", "outcome": "success"}],
             decode_page(body(b'{"id":1.5,"outcome":"success"}'))]

    result = land(conn, pages, run_id=1, rules=rules)

    assert (result.counted, result.quarantined) == (3, 1), "a and c landed once each, plus the quarantined one"


def test_a_warehouse_error_names_the_window_not_the_record(conn, clean_warehouse):
    clean_warehouse.execute(f"ALTER TABLE {RAW_TABLE} ADD CONSTRAINT no_secret CHECK (payload->>'s' <> 'alice@example.com')")
    try:
        with pytest.raises(WarehouseError) as excinfo:
            land(conn, [[{"id": "x", "s": "alice@example.com"}]], run_id=1)
    finally:
        clean_warehouse.execute(f"ALTER TABLE {RAW_TABLE} DROP CONSTRAINT no_secret")

    message = str(excinfo.value)
    assert message.startswith("LeadConduit /events failed for window [2024-06-01T05:00:00Z")
    assert "CheckViolation 23514" in message and "nothing of this window was landed" in message
    assert "alice" not in message


def test_ids_derived_by_the_hook_key_records_that_carry_none(conn, clean_warehouse):
    from lead_pipelines.common.records import natural_key

    rows_ = [{"path": "/", "visitors": 3}, {"path": "/a|b", "visitors": 1}, {"visitors": 9}]
    raws = [orjson.dumps(r) for r in rows_]
    ids = [natural_key("dom", "2024-06-01", "/"), natural_key("dom", "2024-06-01", "/a|b"), None]

    result = land(conn, [Page(rows_, raws, ids=ids)], run_id=5)

    assert (result.inserted, result.quarantined) == (2, 1)
    assert sorted(rows(clean_warehouse)) == sorted(ids[:2])
    assert ids[0] == '["dom","2024-06-01","/"]', "the key is the parts as a JSON array, not their position"
    assert quarantine(clean_warehouse)[0][2:4] == (None, "its natural key could not be derived (a dimension is missing)")
    again = land(conn, [Page([{"path": "/", "visitors": 4}], [b'{"path":"/","visitors":4}'], ids=ids[:1])], run_id=6)
    assert (again.inserted, again.updated) == (0, 1), "a late correction updates the row of its key"
