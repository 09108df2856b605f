"""land_pages against a real warehouse: COPY into staging, one merge into raw.leadconduit_events."""

from __future__ import annotations

import json

import psycopg
import pytest

from devtools.testing import RAW_TABLE
from lead_pipelines.common.landing import RecordIdError, encode_record, field_record_id, land_pages
from lead_pipelines.common.warehouse import connect

TABLE = "leadconduit_events"
by_id = field_record_id("id")


@pytest.fixture
def conn(clean_warehouse):
    with connect() as connection:
        yield connection


def land(conn, pages, run_id, **kwargs):
    with conn.transaction():
        return land_pages(conn, TABLE, pages, run_id=run_id, record_id=by_id, **kwargs)


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
                                "last_record_id": "ev000007"}
    assert seen == [(1, 3), (2, 3), (3, 2)]
    stored = rows(clean_warehouse)
    assert sorted(stored) == [f"ev{i:06d}" for i in range(8)]
    assert all(first == last == 11 and changes == 0 for _, first, last, changes in stored.values())
    assert stored["ev000004"][0] == {"id": "ev000004", "type": "source", "n": 4}
    hashes = clean_warehouse.query(f"SELECT payload_hash FROM {RAW_TABLE} WHERE record_id = 'ev000004'")
    assert hashes == [(encode_record({"id": "ev000004", "type": "source", "n": 4})[1],)]


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

    # Same content, fresh dicts with keys in another order: the canonical hash is what counts.
    reordered = [[dict(reversed(list(e.items()))) for e in page] for page in pages]
    result = land(conn, reordered, run_id=2)

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


def test_hash_is_canonical_for_key_order():
    one = {"id": "x", "vars": {"b": 1, "a": [1, {"z": 0, "y": 1}]}}
    two = {"vars": {"a": [1, {"y": 1, "z": 0}], "b": 1}, "id": "x"}

    assert encode_record(one) == encode_record(two)
    assert encode_record(one)[1] != encode_record({**one, "vars": {"a": [{"y": 1, "z": 0}, 1], "b": 1}})[1], (
        "array order is content")


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


@pytest.mark.parametrize(
    "bad",
    [{"type": "source"}, {"id": None}, {"id": ""}],
    ids=["missing", "null", "empty"],
)
def test_record_without_id_rolls_back_the_landing(conn, clean_warehouse, bad):
    land(conn, [events(3)], run_id=1)
    before = bookkeeping(clean_warehouse)

    with pytest.raises(RecordIdError, match="has no 'id' field"):
        land(conn, [events(3, start=3), [*events(2, start=6), bad]], run_id=2)

    assert bookkeeping(clean_warehouse) == before
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    # The connection is usable again and the staging table did not outlive the failed transaction.
    assert land(conn, [events(1, start=9)], run_id=3).inserted == 1


def test_field_record_id_rejects_non_mappings():
    with pytest.raises(RecordIdError, match="has no 'use_id' field"):
        field_record_id("use_id")(["not", "a", "record"])
    assert field_record_id("use_id")({"use_id": 5}) == "5"


def test_page_generator_failure_mid_way_rolls_back(conn, clean_warehouse):
    land(conn, [events(2)], run_id=1)
    before = bookkeeping(clean_warehouse)
    produced = []

    def pages():
        for k in range(3):
            produced.append(k)
            yield events(100, start=100 * (k + 1))
        raise ConnectionError("vendor went away on page 4")

    with pytest.raises(ConnectionError, match="page 4"):
        land(conn, pages(), run_id=2)

    assert produced == [0, 1, 2], "three pages were staged before the failure"
    assert bookkeeping(clean_warehouse) == before


def test_two_landings_in_one_transaction(conn, clean_warehouse):
    with conn.transaction():
        first = land_pages(conn, TABLE, [events(3)], run_id=1, record_id=by_id)
        second = land_pages(conn, TABLE, [events(3, start=2)], run_id=2, record_id=by_id)
        staged = conn.execute("SELECT count(*) FROM pg_class WHERE relname = 'stage_leadconduit_events'").fetchone()

    assert (first.inserted, second.inserted, second.unchanged) == (3, 2, 1)
    assert staged == (0,), "the staging table is dropped after each landing"
    assert sorted(rows(clean_warehouse)) == [f"ev{i:06d}" for i in range(5)]
    assert rows(clean_warehouse)["ev000002"][1:] == (1, 1, 0)


def test_nothing_is_visible_before_commit(conn, clean_warehouse):
    with conn.transaction():
        land_pages(conn, TABLE, [events(5)], run_id=1, record_id=by_id)
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

    assert result.as_dict() == {"pages": 0, "records": 0, "inserted": 0, "updated": 0, "unchanged": 0,
                                "last_record_id": None}
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


def test_nul_characters_are_stored_as_replacement_characters_not_failing_the_window(conn, clean_warehouse):
    # jsonb refuses \u0000; one such record must not make its window fail on every run.
    records = [
        {"id": "nul", "s": "a\x00b", "nested": ["\x00"]},
        {"id": "literal", "s": "a\\u0000b"},  # backslash + "u0000" as text: kept as it is
        {"id": "backslash-nul", "s": "a\\\x00"},
    ]

    result = land(conn, [records], run_id=1)

    assert result.inserted == 3
    stored = {rid: payload for rid, (payload, *_rest) in rows(clean_warehouse).items()}
    assert stored["nul"] == {"id": "nul", "s": "a\ufffdb", "nested": ["\ufffd"]}
    assert stored["literal"] == {"id": "literal", "s": "a\\u0000b"}
    assert stored["backslash-nul"] == {"id": "backslash-nul", "s": "a\\\ufffd"}
    again = land(conn, [records], run_id=2)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
