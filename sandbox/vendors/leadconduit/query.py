"""Validate /events query parameters and select matching events from the store."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any

import orjson

from sandbox.timeutil import parse_timestamp
from sandbox.vendors.leadconduit.data import TYPES, EventStore, Revision
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


def _id_seconds_ms(object_id: str) -> int:
    return int(object_id[:8], 16) * 1000


def select(store: EventStore, revision: Revision, q: EventQuery) -> list[bytes]:
    """Return the serialized events a query selects, in the requested order.

    Both id and time bounds are applied together, which is what "the greater (lesser) of the
    two wins" amounts to when ids grow with creation time.

    :param store: the event store.
    :param revision: the active revision.
    :param q: the parsed query.
    """
    lo_ms = q.start_ms
    if q.after_id is not None:
        lo_ms = max(lo_ms or 0, _id_seconds_ms(q.after_id))
    hi_ms = q.end_ms
    if q.before_id is not None:
        id_hi = _id_seconds_ms(q.before_id) + 999
        hi_ms = id_hi if hi_ms is None else min(hi_ms, id_hi)
    hours = store.hours(lo_ms, hi_ms)
    if q.descending:
        hours.reverse()
    filtered = bool(q.types or q.outcome or q.lead_id or q.reference or q.flow_id
                    or q.source_id or q.recipient_id)
    out: list[bytes] = []
    for hour in hours:
        b = store.bucket(hour)
        i = 0 if q.start_ms is None else bisect.bisect_left(b.ts, q.start_ms)
        if q.after_id is not None:
            i = max(i, bisect.bisect_right(b.ids, q.after_id))
        j = len(b) if q.end_ms is None else bisect.bisect_right(b.ts, q.end_ms)
        if q.before_id is not None:
            j = min(j, bisect.bisect_left(b.ids, q.before_id))
        indexes = range(j - 1, i - 1, -1) if q.descending else range(i, j)
        for k in indexes:
            if filtered and not _matches(b, k, q, revision):
                continue
            out.append(_render(b, k, q, revision))
            if len(out) >= q.limit:
                return out
    return out


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
