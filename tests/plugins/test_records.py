"""decode_page: each record's exact bytes beside its value, on the fast path and the exact one."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lead_pipelines.common.records import REASON_DUPLICATE_KEY, PageDecodeError, decode_page


def test_compact_array_takes_the_fast_path_and_keeps_each_records_bytes():
    page = decode_page(b'[{"id":"a","n":1.5},{"id":"b","s":"caf\xc3\xa9"}]\n')

    assert page.records == [{"id": "a", "n": 1.5}, {"id": "b", "s": "café"}]
    assert page.raw == [b'{"id":"a","n":1.5}', b'{"id":"b","s":"caf\xc3\xa9"}']
    assert page.problems is None and page.envelope is None


def test_pretty_printed_body_keeps_the_vendors_own_bytes():
    body = b'[\n  {\n    "id": "a",\n    "n": 1.50\n  },\n  {"id": "b"}\n]'

    page = decode_page(body)

    assert page.raw == [b'{\n    "id": "a",\n    "n": 1.50\n  }', b'{"id": "b"}']
    assert page.records[0]["n"] == Decimal("1.50"), "numbers are exact on the exact path"


@pytest.mark.parametrize("body", [
    b'{"infos":{"nbResults":2},"leads":[{"id":1},{"id":2}]}',
    b'{ "infos": {"nbResults": 2}, "leads": [ {"id": 1}, {"id": 2} ] }',
], ids=["fast", "exact"])
def test_records_inside_an_envelope(body):
    page = decode_page(body, ("leads",))

    assert page.records == [{"id": 1}, {"id": 2}]
    assert [r.replace(b" ", b"") for r in page.raw] == [b'{"id":1}', b'{"id":2}']
    assert page.envelope["infos"] == {"nbResults": 2}


def test_a_null_records_field_is_an_empty_page():
    assert len(decode_page(b'{"data":null,"next":null}', ("data",))) == 0
    assert len(decode_page(b'{"data": null, "x": 1.10}', ("data",))) == 0


def test_exact_path_flags_what_jsonb_cannot_hold_per_record():
    page = decode_page(b'[{"id":"x","a":1,"a":2},{"id":"y"}]')

    assert page.problems == [REASON_DUPLICATE_KEY, None]


@pytest.mark.parametrize(("body", "records_at", "message"), [
    (b'[{"id":"a"},{"id":"b"', (), "not valid JSON"),
    (b'<html>502</html>', (), "expected a JSON array of records at the body"),
    (b'{"error":"x"}', (), "expected a JSON array of records at the body"),
    (b'{"infos":{}}', ("leads",), "no 'leads' field"),
    (b'{"leads":{"id":1}}', ("leads",), "expected a JSON array of records at leads"),
    (b'[{"id":"a"}] trailing', (), "data after its JSON value"),
], ids=["cut-off", "html", "object-not-array", "missing-field", "field-not-array", "trailing"])
def test_a_body_of_the_wrong_shape_is_a_decode_error(body, records_at, message):
    with pytest.raises(PageDecodeError, match=message):
        decode_page(body, records_at)
