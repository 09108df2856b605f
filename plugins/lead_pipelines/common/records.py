"""Decode a vendor's page exactly: each record's decoded value beside the bytes the vendor sent.

The warehouse stores what the vendor sent, so the landing never re-serialises a decoded record.
Most pages take the fast path: orjson decodes the page, and re-encoding it gives back the body byte
for byte, which proves nothing was lost (no float rounding, no integer beyond 64 bits, no duplicate
key) and hands over each record's bytes. Any other page takes the exact path: the standard library's
scanner walks the body record by record, with decimals for floats and Python's unbounded integers,
and each record keeps its own slice of the body. Records the warehouse cannot hold faithfully are
flagged with a reason (the landing quarantines them); a body that is not JSON raises
:class:`PageDecodeError` (a transport problem: the hook retries it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from json import JSONDecodeError
from json.decoder import JSONDecoder
from typing import Any

import orjson

#: Deepest nesting the landing decodes; a deeper record is quarantined (orjson stops at 1024).
MAX_DEPTH = 1000
#: PostgreSQL's numeric (inside jsonb) holds up to 131072 digits before the point, 16383 after.
_NUMERIC_MAX_EXPONENT = 131071
_NUMERIC_MIN_EXPONENT = -16383
#: Python refuses to convert longer digit strings to int (sys.int_info.default_max_str_digits).
_INT_DIGITS = 4300

_WS = re.compile(r"[ \t\n\r]*")
# A JSON \u0000 escape not itself preceded by an escaped backslash (an even run of backslashes).
_NUL_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]", re.ASCII)
_HIGH = rb"\\u[dD][89abAB][0-9a-fA-F]{2}"
_LOW = rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
_LONE_SURROGATE = re.compile(rb"(?<!\\)((?:\\\\)*)(?:" + _HIGH + rb"(?!" + _LOW + rb")|(?<!" + _HIGH + rb")" + _LOW + rb")")
# Bytes that are not UTF-8 survive decoding as lone low surrogates (errors="surrogateescape").
_NOT_UTF8 = re.compile("[\udc80-\udcff]")

REASON_NUL = "a NUL character (\\u0000), which jsonb cannot store"
REASON_SURROGATE = "an unpaired UTF-16 surrogate escape, which jsonb cannot store"
REASON_UTF8 = "bytes that are not UTF-8"
REASON_DEPTH = f"nesting deeper than the landing decodes (about {MAX_DEPTH} levels)"
REASON_DUPLICATE_KEY = "a duplicate key in one object (jsonb keeps only the last value)"
REASON_NUMBER = "a number outside PostgreSQL's numeric range"


def natural_key(*parts: Any) -> str:
    """Return a record id from a natural key's parts, e.g. ``natural_key(domain, day, path)``.

    The parts are written as a JSON array, so no two different keys give the same id whatever the
    parts hold (separators included). The id never depends on a record's position.

    :param parts: Text, numbers, booleans or None.
    """
    return orjson.dumps(list(parts)).decode()


class PageDecodeError(ValueError):
    """The body is not the JSON the vendor promised (cut off, HTML, wrong shape).

    :param detail: What is wrong, with the record position where known; never record content.
    """


@dataclass
class Page:
    """One page of records: decoded values, the vendor's bytes of each, and any reason not to land one.

    :param records: Decoded records (floats as :class:`~decimal.Decimal` on the exact path); None where
        a record could not be decoded at all.
    :param raw: Each record's bytes exactly as the vendor sent them.
    :param problems: Per record, why the warehouse cannot hold it faithfully, or None; None for all.
    :param envelope: The decoded page around the records (e.g. its counts or next-page token).
    :param ids: Record ids the caller derived where records carry none (a natural key built with
        :func:`natural_key` from the request and the record's dimensions); they replace the stream's
        id field. None where a record's key could not be derived.
    """

    records: list[Any]
    raw: list[bytes]
    problems: list[str | None] | None = None
    envelope: Any = None
    #: Filled by the caller that knows it: the page's number in its window, from 1.
    number: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    ids: list[str | None] | None = None

    def __len__(self) -> int:
        """Return the number of records."""
        return len(self.raw)

    def __iter__(self):
        """Iterate over the decoded records."""
        return iter(self.records)

    def __getitem__(self, index: int) -> Any:
        """Return decoded record ``index``."""
        return self.records[index]

    def problem(self, index: int) -> str | None:
        """Return why record ``index`` cannot be landed faithfully, or None."""
        return None if self.problems is None else self.problems[index]

    @classmethod
    def from_records(cls, records: Sequence[Any]) -> Page:
        """Build a page from decoded records (tests, vendors without raw bodies): bytes are orjson's.

        :param records: JSON-serialisable records.
        """
        return cls(list(records), [orjson.dumps(r) for r in records])


def decode_page(body: bytes, records_at: Sequence[str] = ()) -> Page:
    """Decode a page body and split out its records, keeping each record's exact bytes.

    :param body: The response body.
    :param records_at: Keys leading from the top-level object to the records array; empty when the
        body itself is the array.
    :raises PageDecodeError: If the body is not JSON of that shape.
    """
    stripped = body.strip(b" \t\r\n")
    if b"\\u0000" not in stripped:
        fast = _decode_fast(stripped, tuple(records_at))
        if fast is not None:
            return fast
    return _decode_exact(stripped, tuple(records_at))


def _records_in(doc: Any, records_at: tuple[str, ...]) -> list[Any]:
    node = doc
    for depth, key in enumerate(records_at):
        if not isinstance(node, dict):
            where = ".".join(records_at[:depth]) or "the body"
            raise PageDecodeError(f"expected a JSON object at {where}, got {_kind(node)}")
        if key not in node:
            raise PageDecodeError(f"the page has no {'.'.join(records_at[: depth + 1])!r} field")
        node = node[key]
    if node is None:
        return []  # some vendors send null for an empty list
    if not isinstance(node, list):
        where = ".".join(records_at) or "the body"
        raise PageDecodeError(f"expected a JSON array of records at {where}, got {_kind(node)}")
    return node


def _decode_fast(body: bytes, records_at: tuple[str, ...]) -> Page | None:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None  # maybe a number orjson cannot hold, a lone surrogate, or deep nesting
    records = _records_in(doc, records_at)
    raw = [orjson.dumps(r) for r in records]
    if records_at:
        exact = orjson.dumps(doc) == body
    else:
        exact = b"[" + b",".join(raw) + b"]" == body
    if not exact:
        return None
    return Page(records, raw, None, doc if records_at else None)


class _Exact:
    """The standard library's scanner with exact numbers and a per-record problem slot."""

    def __init__(self) -> None:
        self.problem: str | None = None
        decoder = JSONDecoder(parse_float=self._float, parse_int=self._int, object_pairs_hook=self._object)
        self.scan = decoder.scan_once

    def _float(self, text: str) -> Decimal:
        value = Decimal(text)
        if value and not _NUMERIC_MIN_EXPONENT <= value.adjusted() <= _NUMERIC_MAX_EXPONENT:
            self.problem = self.problem or REASON_NUMBER
        return value

    def _int(self, text: str) -> int | Decimal:
        if len(text) > _INT_DIGITS:
            return self._float(text)
        return int(text)

    def _object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            self.problem = self.problem or REASON_DUPLICATE_KEY
        return obj


def _decode_exact(body: bytes, records_at: tuple[str, ...]) -> Page:
    text = body.decode("utf-8", "surrogateescape")
    exact = _Exact()
    page = Page([], [], [])
    try:
        end = _value(text, _ws(text, 0), exact, page, records_at, ())
    except (JSONDecodeError, StopIteration, IndexError) as exc:
        raise PageDecodeError(f"the body is not valid JSON{_at(page, exc)}") from None
    if _ws(text, end) != len(text):
        raise PageDecodeError(f"the body has data after its JSON value{_at(page, None)}")
    if not any(page.problems):
        page.problems = None
    return page


def _at(page: Page, exc: BaseException | None) -> str:
    where = f" (after record {len(page.raw)} of the page)" if page.raw else ""
    if isinstance(exc, JSONDecodeError):
        return f"{where}: {exc.msg} at character {exc.pos}"
    return where


def _ws(text: str, index: int) -> int:
    return _WS.match(text, index).end()


def _value(text: str, index: int, exact: _Exact, page: Page, path: tuple[str, ...], seen: tuple[str, ...]) -> int:
    """Walk the value at ``index`` towards the records array; return the index after it."""
    if not path:
        if text.startswith("null", index) and seen:
            return index + 4  # some vendors send null for an empty list
        if text[index] != "[":
            raise PageDecodeError(f"expected a JSON array of records at {'.'.join(seen) or 'the body'}")
        return _array(text, index, exact, page)
    if text[index] != "{":
        raise PageDecodeError(f"expected a JSON object at {'.'.join(seen) or 'the body'}")
    envelope: dict[str, Any] = {}
    if not seen:
        page.envelope = envelope
    index = _ws(text, index + 1)
    found = False
    if text[index] == "}":
        index += 1
    else:
        while True:
            key, index = exact.scan(text, index)
            if not isinstance(key, str):
                raise PageDecodeError("an object key is not a string")
            index = _ws(text, index)
            if text[index] != ":":
                raise PageDecodeError("expected ':' after an object key")
            index = _ws(text, index + 1)
            if key == path[0] and not found:
                found = True
                index = _value(text, index, exact, page, path[1:], (*seen, key))
                envelope[key] = page.records
            else:
                envelope[key], index = exact.scan(text, index)
            index = _ws(text, index)
            if text[index] == ",":
                index = _ws(text, index + 1)
                continue
            if text[index] != "}":
                raise PageDecodeError("expected ',' or '}' in an object")
            index += 1
            break
    if not found:
        raise PageDecodeError(f"the page has no {'.'.join((*seen, path[0]))!r} field")
    return index


def _array(text: str, index: int, exact: _Exact, page: Page) -> int:
    index = _ws(text, index + 1)
    if text[index] == "]":
        return index + 1
    while True:
        exact.problem = None
        try:
            record, end = exact.scan(text, index)
        except RecursionError:
            record, end = None, _skip(text, index)
            exact.problem = REASON_DEPTH
        piece = text[index:end]
        raw = piece.encode("utf-8", "surrogateescape")
        problem = exact.problem
        if _NOT_UTF8.search(piece):
            problem = REASON_UTF8
        elif b"\\u0000" in raw and _NUL_ESCAPE.search(raw):
            problem = REASON_NUL
        elif _SURROGATE_ESCAPE.search(raw) and _LONE_SURROGATE.search(raw):
            problem = REASON_SURROGATE
        elif problem is None and _depth(raw) > MAX_DEPTH:
            problem = REASON_DEPTH
        page.records.append(record)
        page.raw.append(raw)
        page.problems.append(problem)
        index = _ws(text, end)
        if text[index] == ",":
            index = _ws(text, index + 1)
            continue
        if text[index] == "]":
            return index + 1
        raise PageDecodeError(f"expected ',' or ']' after record {len(page.raw)} of the page")


def _depth(raw: bytes) -> int:
    """Return an upper bound of a record's nesting depth, cheaply (brackets inside strings count too)."""
    opened = raw.count(b"[") + raw.count(b"{")
    if opened <= MAX_DEPTH:
        return opened
    return _true_depth(raw.decode("utf-8", "surrogateescape"))


def _brackets(text: str, start: int = 0) -> Iterator[tuple[int, int]]:
    """Yield ``(position, depth after it)`` for each bracket outside strings, from ``start``."""
    depth = 0
    in_string = escaped = False
    for position in range(start, len(text)):
        char = text[position]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            yield position, depth
        elif char in "]}":
            depth -= 1
            yield position, depth


def _true_depth(text: str) -> int:
    return max((depth for _, depth in _brackets(text)), default=0)


def _skip(text: str, index: int) -> int:
    """Return the index after the JSON value at ``index`` without decoding it (too deep to decode)."""
    for position, depth in _brackets(text, index):
        if depth == 0:
            return position + 1
    raise PageDecodeError("a record is cut off")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float, Decimal)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def kind_of(value: Any) -> str:
    """Name a JSON value's type for messages (``an object``, ``a number``...), never its content."""
    return _kind(value)
