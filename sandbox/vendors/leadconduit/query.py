"""Validate /events query parameters and select matching events from the store."""

from __future__ import annotations

import bisect
import heapq
import re
from dataclasses import dataclass
from typing import Any, Iterator

import orjson

from sandbox.timeutil import parse_timestamp
from sandbox.vendors.leadconduit.data import TYPES, Bucket, EventStore, Revision
from sandbox.vendors.leadconduit.injected import ID_MAX, InjectedRecords, Record, Snapshot, span
from sandbox.web import Request

OBJECT_ID = re.compile(r"^[0-9a-fA-F]{24}$")
OUTCOMES = ("success", "failure", "error", "stop", "continue")
MAX_LIMIT = 1000


class ValidationError(Exception):
    """A 422: ``errors`` maps each offending parameter or field to its messages."""

    def __init__(self, errors: dict[str, Any]) -> None:
        """Keep the field -> messages map.

        :param errors: the field -> messages map.
        """
        super().__init__(errors)
        self.errors = errors


def timestamp_arg(request: Request, name: str) -> int | None:
    """Return a timestamp parameter in epoch ms, or None when absent.

    :param request: the request.
    :param name: the parameter name.
    :raises ValidationError: if the value is not a timestamp.
    """
    value = request.arg(name)
    if value is None or value == "":
        return None
    try:
        return parse_timestamp(value)
    except (ValueError, OverflowError, OSError):
        raise ValidationError({name: [f"{value!r} is not a valid timestamp"]}) from None


def object_id_arg(request: Request, name: str) -> str | None:
    """Return a BSON id parameter (lowercased), or None when absent.

    :param request: the request.
    :param name: the parameter name.
    :raises ValidationError: if the value is not 24 hex digits.
    """
    value = request.arg(name)
    if value is None or value == "":
        return None
    if not OBJECT_ID.match(value):
        raise ValidationError({name: [f"{value!r} is not a valid BSON id"]})
    return value.lower()


@dataclass
class EventQuery:
    """A parsed /events request."""

    after_id: str | None = None
    before_id: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    types: frozenset[str] = frozenset()
    outcome: str | None = None
    lead_id: str | None = None
    reference: str | None = None
    flow_id: str | None = None
    source_id: str | None = None
    recipient_id: str | None = None
    limit: int = MAX_LIMIT  # the legacy doc's default; the current docs say 100
    descending: bool = True
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @classmethod
    def parse(cls, request: Request) -> EventQuery:
        """Parse and validate the query string.

        :param request: the request.
        :raises ValidationError: on any invalid parameter.
        """
        q = cls(
            after_id=object_id_arg(request, "after_id"),
            before_id=object_id_arg(request, "before_id"),
            start_ms=timestamp_arg(request, "start"),
            end_ms=timestamp_arg(request, "end"),
        )
        types = request.args("type")
        bad = [t for t in types if t not in TYPES]
        if bad:
            raise ValidationError({"type": [f"{t!r} is not a valid event type" for t in bad]})
        q.types = frozenset(types)
        q.outcome = request.arg("outcome") or None
        if q.outcome is not None and q.outcome not in OUTCOMES:
            raise ValidationError({"outcome": [f"{q.outcome!r} is not a valid outcome"]})
        for name in ("lead_id", "reference", "flow_id", "source_id", "recipient_id"):
            setattr(q, name, request.arg(name) or None)
        raw_limit = request.arg("limit")
        if raw_limit is not None:
            try:
                q.limit = int(raw_limit)
            except ValueError:
                q.limit = 0
            if not 1 <= q.limit <= MAX_LIMIT:
                raise ValidationError({"limit": [f"must be an integer from 1 to {MAX_LIMIT}"]})
        sort = request.arg("sort", "desc")
        if sort not in ("asc", "desc"):
            raise ValidationError({"sort": ["must be asc or desc"]})
        q.descending = sort == "desc"
        q.include = tuple(f for f in request.args("include") if f)
        q.exclude = tuple(f for f in request.args("exclude") if f)
        if q.include and q.exclude:
            raise ValidationError({"include": ["cannot be used with exclude"],
                                   "exclude": ["cannot be used with include"]})
        return q


@dataclass(frozen=True)
class Bound:
    """A paging bound on the sort key ``(creation ms, id)``."""

    ts: int
    sid: str
    inclusive: bool = False

    @property
    def key(self) -> tuple[int, str]:
        """Return ``(ts, sid)``."""
        return self.ts, self.sid


def id_key(object_id: str) -> tuple[int, str]:
    """Return the sort key a 24-hex id stands for: its creation ms (seconds, then ms) and itself.

    Generated ids carry the ms within the second in hex digits 9-11; for any other id a value
    above 999 is read as 999, which keeps "sorts after X" equal to "id > X" for generated events.

    :param object_id: 24 lowercase hex digits.
    """
    return int(object_id[:8], 16) * 1000 + min(int(object_id[8:11], 16), 999), object_id


def resolve_id(store: EventStore, snap: Snapshot | None, object_id: str,
               last: bool) -> tuple[int, str]:
    """Return the sort key of the record an ``after_id``/``before_id`` names.

    In order: an injected record's ``sort_id``; a generated event's id; an injected record's own
    24-hex ``id`` field (if several records carry it, the last in ascending order when ``last``,
    else the first); otherwise the id read as a position (:func:`id_key`).

    :param store: the event store.
    :param snap: the injected records, or None when nothing is injected.
    :param object_id: the lowercased id from the query.
    :param last: pick the last of several injected records with this own id.
    """
    key = id_key(object_id)
    if snap is None:
        return key
    record = snap.by_sort_id.get(object_id)
    if record is not None:
        return record.key
    owners = snap.by_own_id.get(object_id)
    if owners and not store.contains(object_id):
        return (owners[-1] if last else owners[0]).key
    return key


def _position(b: Bucket, bound: Bound, lower: bool) -> int:
    """Return the index in a bucket where a bound cuts it (bucket order = key order)."""
    i0 = bisect.bisect_left(b.ts, bound.ts)
    i1 = bisect.bisect_right(b.ts, bound.ts, i0)
    if lower == bound.inclusive:
        return bisect.bisect_left(b.ids, bound.sid, i0, i1)
    return bisect.bisect_right(b.ids, bound.sid, i0, i1)


def _generated(store: EventStore, q: EventQuery, lower: Bound | None, upper: Bound | None,
               descending: bool) -> Iterator[tuple[Bucket, int]]:
    """Yield (bucket, index) of generated events within the window and bounds, in order."""
    lo_ms = q.start_ms
    if lower is not None:
        lo_ms = lower.ts if lo_ms is None else max(lo_ms, lower.ts)
    hi_ms = q.end_ms
    if upper is not None:
        hi_ms = upper.ts if hi_ms is None else min(hi_ms, upper.ts)
    hours = store.hours(lo_ms, hi_ms)
    if descending:
        hours.reverse()
    for hour in hours:
        b = store.bucket(hour)
        i = 0 if q.start_ms is None else bisect.bisect_left(b.ts, q.start_ms)
        if lower is not None:
            i = max(i, _position(b, lower, True))
        j = len(b) if q.end_ms is None else bisect.bisect_right(b.ts, q.end_ms)
        if upper is not None:
            j = min(j, _position(b, upper, False))
        if descending:
            for k in range(j - 1, i - 1, -1):
                yield b, k
        else:
            for k in range(i, j):
                yield b, k


def _injected(snap: Snapshot, q: EventQuery, lower: Bound | None, upper: Bound | None,
              descending: bool, filtered: bool) -> list[Record]:
    """Return the injected records within the window and bounds that pass the filters, in order."""
    lo: tuple[int, str] | None = None if q.start_ms is None else (q.start_ms, "")
    lo_inclusive = True
    if lower is not None and (lo is None or lower.key >= lo):
        lo, lo_inclusive = lower.key, lower.inclusive
    hi: tuple[int, str] | None = None if q.end_ms is None else (q.end_ms, ID_MAX)
    hi_inclusive = True
    if upper is not None and (hi is None or upper.key <= hi):
        hi, hi_inclusive = upper.key, upper.inclusive
    i, j = span(snap, lo, lo_inclusive, hi, hi_inclusive)
    records = snap.records[i:j]
    if filtered:
        records = tuple(r for r in records if _record_matches(r, q))
    return list(reversed(records)) if descending else list(records)


def _page(store: EventStore, revision: Revision, q: EventQuery, snap: Snapshot | None,
          lower: Bound | None, upper: Bound | None, descending: bool, limit: int) -> list[bytes]:
    filtered = bool(q.types or q.outcome or q.lead_id or q.reference or q.flow_id
                    or q.source_id or q.recipient_id)
    injected = _injected(snap, q, lower, upper, descending, filtered) if snap else []
    out: list[bytes] = []
    if not injected:
        for b, k in _generated(store, q, lower, upper, descending):
            if filtered and not _matches(b, k, q, revision):
                continue
            out.append(_render(b, k, q, revision))
            if len(out) >= limit:
                break
        return out
    generated = ((b.ts[k], b.ids[k], b, k) for b, k in _generated(store, q, lower, upper,
                                                                   descending)
                 if not filtered or _matches(b, k, q, revision))
    records = ((r.ts, r.sort_id, r) for r in injected)
    for item in heapq.merge(generated, records, key=lambda x: (x[0], x[1]), reverse=descending):
        # Injected records are spliced in byte for byte: no revision, include or exclude.
        out.append(item[2].raw if len(item) == 3 else _render(item[2], item[3], q, revision))
        if len(out) >= limit:
            break
    return out


def _snapshot(injected: InjectedRecords | None) -> Snapshot | None:
    snap = injected.snapshot() if injected is not None else None
    return snap if snap is not None and snap.records else None


def select(store: EventStore, revision: Revision, q: EventQuery,
           injected: InjectedRecords | None = None) -> list[bytes]:
    """Return the serialized events a query selects, in the requested order.

    Both id and time bounds are applied together, which is what "the greater (lesser) of the
    two wins" amounts to when ids grow with creation time. Injected records are merged in by
    their ``(ts, sort_id)`` key.

    :param store: the event store.
    :param revision: the active revision.
    :param q: the parsed query.
    :param injected: records injected through the control API, if any.
    """
    snap = _snapshot(injected)
    lower = upper = None
    if q.after_id is not None:
        lower = Bound(*resolve_id(store, snap, q.after_id, last=True))
    if q.before_id is not None:
        upper = Bound(*resolve_id(store, snap, q.before_id, last=False))
    return _page(store, revision, q, snap, lower, upper, q.descending, q.limit)


def overlap(store: EventStore, revision: Revision, q: EventQuery,
            injected: InjectedRecords | None, count: int) -> list[bytes] | None:
    """Return the ``count`` records a paging chain's previous page ended with, in page order.

    Ascending with ``after_id=X``: the records at and before X; descending with
    ``before_id=X``: the records at and after X; same window and filters. None for a request
    that does not continue a paging chain.

    :param store: the event store.
    :param revision: the active revision.
    :param q: the parsed query.
    :param injected: records injected through the control API, if any.
    :param count: how many records to repeat.
    """
    snap = _snapshot(injected)
    if not q.descending and q.after_id is not None:
        key = resolve_id(store, snap, q.after_id, last=True)
        nearest = _page(store, revision, q, snap, None, Bound(*key, inclusive=True), True, count)
    elif q.descending and q.before_id is not None:
        key = resolve_id(store, snap, q.before_id, last=False)
        nearest = _page(store, revision, q, snap, Bound(*key, inclusive=True), None, False, count)
    else:
        return None
    nearest.reverse()
    return nearest


def _record_matches(r: Record, q: EventQuery) -> bool:
    """Apply the /events filters to an injected record's parsed fields (no fields: no match)."""
    if not isinstance(r.parsed, dict):
        return False
    if q.types:
        etype = r.parsed.get("type")
        if not isinstance(etype, str) or etype not in q.types:
            return False
    if q.outcome and r.parsed.get("outcome") != q.outcome:
        return False
    for value, path in ((q.lead_id, "vars.lead.id"), (q.reference, "vars.lead.reference"),
                        (q.flow_id, "vars.flow.id"), (q.source_id, "vars.source.id"),
                        (q.recipient_id, "vars.recipient.id")):
        if value and r.field(path) != value:
            return False
    return True


def _matches(b: Any, k: int, q: EventQuery, revision: Revision) -> bool:
    if q.types and b.types[k] not in q.types:
        return False
    if q.outcome and revision.outcome(b.ids[k], b.outcomes[k]) != q.outcome:
        return False
    if q.lead_id and b.lead_ids[k] != q.lead_id:
        return False
    if q.reference and b.references[k] != q.reference:
        return False
    if q.flow_id and b.flow_ids[k] != q.flow_id:
        return False
    if q.source_id and b.source_ids[k] != q.source_id:
        return False
    return not (q.recipient_id and b.recipient_ids[k] != q.recipient_id)


def _render(b: Any, k: int, q: EventQuery, revision: Revision) -> bytes:
    revised = revision.revised(b.ids[k])
    if not (revised or q.include or q.exclude):
        return b.blobs[k]
    event = orjson.loads(b.blobs[k])
    if revised:
        revision.apply(event)
    if q.include:
        event = project(event, q.include)
    elif q.exclude:
        for path in q.exclude:
            _drop(event, path.split("."))
    return orjson.dumps(event)


def lookup(event: dict[str, Any], path: str) -> Any:
    """Return the value at a dotted path, or None.

    :param event: the event dict.
    :param path: e.g. ``vars.lead.state.abbr``.
    """
    node: Any = event
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def project(event: dict[str, Any], paths: tuple[str, ...]) -> dict[str, Any]:
    """Keep only the given dotted paths (and ``id``, as a Mongo projection would).

    :param event: the event dict.
    :param paths: dotted field paths.
    """
    out: dict[str, Any] = {"id": event["id"]}
    for path in paths:
        parts = path.split(".")
        if not _has(event, parts):
            continue
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = lookup(event, path)
    return out


def _has(event: dict[str, Any], parts: list[str]) -> bool:
    node: Any = event
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _drop(node: Any, parts: list[str]) -> None:
    for part in parts[:-1]:
        if not isinstance(node, dict) or part not in node:
            return
        node = node[part]
    if isinstance(node, dict):
        node.pop(parts[-1], None)
