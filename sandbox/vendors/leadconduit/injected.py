"""Records injected verbatim into /events: payload shapes the generator cannot produce.

Each record is kept as the exact bytes to serve, a creation time ``ts`` (epoch ms) and a
``sort_id`` (24 lowercase hex). Records sort with the generated events by ``(ts, sort_id)``,
generated events by ``(ts, id)``.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from sandbox.timeutil import parse_timestamp

HEX24 = re.compile(r"^[0-9a-fA-F]{24}$")
# Used when the raw text is too deep for the stdlib parser: a leading "id" field.
_LEADING_ID = re.compile(rb'^\s*\{\s*"id"\s*:\s*"([0-9a-fA-F]{24})"')
#: Sorts after every 24-hex id at the same ``ts``.
ID_MAX = "~"
_MAX_TS = 0xFFFFFFFF * 1000 + 999
_UNPARSED = object()


@dataclass
class Record:
    """One injected record."""

    ts: int
    sort_id: str
    raw: bytes
    #: The record's own ``id`` field when it is a 24-hex string (lowercased), else None.
    own_id: str | None = None
    _parsed: Any = field(default=_UNPARSED, repr=False)

    @property
    def key(self) -> tuple[int, str]:
        """Return the sort key ``(ts, sort_id)``."""
        return self.ts, self.sort_id

    @property
    def parsed(self) -> Any:
        """Return the raw text parsed with the stdlib ``json`` module, or None if it does not parse.

        (A record whose JSON is literally ``null`` also gives None; it has no fields either way.)
        """
        if self._parsed is _UNPARSED:
            try:
                self._parsed = json.loads(self.raw)
            except (ValueError, RecursionError):
                self._parsed = None
        return self._parsed

    def field(self, path: str) -> Any:
        """Return the value at a dotted path of the parsed record, or None.

        :param path: e.g. ``vars.lead.id``.
        """
        node = self.parsed
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node


@dataclass(frozen=True)
class Snapshot:
    records: tuple[Record, ...] = ()
    keys: tuple[tuple[int, str], ...] = ()
    by_sort_id: dict[str, Record] = field(default_factory=dict)
    by_own_id: dict[str, list[Record]] = field(default_factory=dict)


def _ts(value: Any) -> int:
    if isinstance(value, bool) or value is None:
        raise ValueError("ts is required (epoch ms or ISO-8601)")
    if isinstance(value, (int, float)):
        ms = int(value)
    elif isinstance(value, str):
        ms = parse_timestamp(value)
    else:
        raise ValueError("ts must be epoch ms or an ISO-8601 string")
    if not 0 <= ms <= _MAX_TS:
        raise ValueError("ts is out of range")
    return ms


def _raw(spec: dict[str, Any]) -> bytes:
    has_raw, has_b64 = "raw" in spec, "raw_b64" in spec
    if has_raw == has_b64:
        raise ValueError("each record needs exactly one of raw and raw_b64")
    if has_raw:
        if not isinstance(spec["raw"], str):
            raise ValueError("raw must be a string (the exact JSON text)")
        try:
            return spec["raw"].encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("raw is not encodable as UTF-8; send raw_b64 instead") from None
    if not isinstance(spec["raw_b64"], str):
        raise ValueError("raw_b64 must be a base64 string")
    try:
        return base64.b64decode(spec["raw_b64"], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("raw_b64 is not valid base64") from None


def _own_id(record: Record) -> str | None:
    parsed = record.parsed
    if isinstance(parsed, dict):
        value = parsed.get("id")
        return value.lower() if isinstance(value, str) and HEX24.match(value) else None
    if parsed is None:
        match = _LEADING_ID.match(record.raw)
        if match:
            return match.group(1).decode().lower()
    return None


class InjectedRecords:
    """Thread-safe, copy-on-write sorted list of injected records."""

    def __init__(self) -> None:
        """Start empty."""
        self._lock = threading.Lock()
        self._snap = Snapshot()
        self._seq = itertools.count()

    def __bool__(self) -> bool:
        """Tell whether anything is injected."""
        return bool(self._snap.records)

    def snapshot(self) -> Snapshot:
        """Return the current immutable view (readers take one and use only it)."""
        return self._snap

    def add(self, specs: Any) -> list[Record]:
        """Validate and add records; all or nothing.

        :param specs: ``[{"raw" | "raw_b64", "ts", "sort_id"?}, ...]``.
        :raises ValueError: on a bad record or a sort_id already in use.
        """
        if not isinstance(specs, list):
            raise ValueError("records must be a list")
        parsed: list[tuple[int, str | None, bytes]] = []
        for i, spec in enumerate(specs):
            if not isinstance(spec, dict):
                raise ValueError(f"records[{i}] must be an object")
            try:
                sort_id = spec.get("sort_id")
                if sort_id is not None and (not isinstance(sort_id, str)
                                            or not HEX24.match(sort_id)):
                    raise ValueError("sort_id must be 24 hex digits")
                parsed.append((_ts(spec.get("ts")), sort_id and sort_id.lower(), _raw(spec)))
            except (ValueError, OverflowError) as exc:
                raise ValueError(f"records[{i}]: {exc}") from None
        with self._lock:
            snap = self._snap
            by_sort_id = dict(snap.by_sort_id)
            added: list[Record] = []
            for ts, sort_id, raw in parsed:
                if sort_id is None:
                    # Same layout as generated ids, with the "machine" part all f's: after every
                    # generated event of the same millisecond, in injection order.
                    sort_id = f"{ts // 1000:08x}{ts % 1000:03x}fffffff{next(self._seq) % 2**24:06x}"
                if sort_id in by_sort_id:
                    raise ValueError(f"sort_id {sort_id} is already used by an injected record")
                record = Record(ts, sort_id, raw)
                record.own_id = _own_id(record)
                by_sort_id[sort_id] = record
                added.append(record)
            records = tuple(sorted((*snap.records, *added), key=lambda r: r.key))
            by_own_id: dict[str, list[Record]] = {}
            for record in records:
                if record.own_id is not None:
                    by_own_id.setdefault(record.own_id, []).append(record)
            self._snap = Snapshot(records, tuple(r.key for r in records), by_sort_id, by_own_id)
        return added

    def clear(self) -> None:
        """Drop every injected record."""
        with self._lock:
            self._snap = Snapshot()


def span(snap: Snapshot, lower: tuple[int, str] | None, lower_inclusive: bool,
         upper: tuple[int, str] | None, upper_inclusive: bool) -> tuple[int, int]:
    """Return the index range of records whose key lies within the bounds.

    :param snap: the snapshot.
    :param lower: the lower key bound, or None.
    :param lower_inclusive: whether a key equal to ``lower`` is in.
    :param upper: the upper key bound, or None.
    :param upper_inclusive: whether a key equal to ``upper`` is in.
    """
    keys = snap.keys
    i = 0 if lower is None else (bisect.bisect_left(keys, lower) if lower_inclusive
                                 else bisect.bisect_right(keys, lower))
    j = len(keys) if upper is None else (bisect.bisect_right(keys, upper) if upper_inclusive
                                         else bisect.bisect_left(keys, upper))
    return i, max(i, j)
