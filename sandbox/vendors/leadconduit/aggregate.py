"""Counts behind /events/stats and report preview/run."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Callable, Iterable, NamedTuple

import orjson

from sandbox.timeutil import iso_ms
from sandbox.vendors.leadconduit.data import TYPES, Bucket, EventStore, Revision
from sandbox.vendors.leadconduit.injected import ID_MAX, InjectedRecords, Record, span
from sandbox.vendors.leadconduit.query import ValidationError, lookup
from sandbox.vendors.leadconduit.rules import RuleSet

COUNTED = ("success", "failure", "error")
#: ``ping`` counts pings; the simulated account takes no pings, so its columns are always 0.
COLUMN = re.compile(r"^(%s|ping)(?:-(success|failure|error|submitted))?$" % "|".join(TYPES))
#: Money columns: the generated events carry no purchase or sale price, so every amount is 0.
MONEY_COLUMNS = ("cost", "revenue", "profit", "avg-cost-per-lead")
INTERVALS = ("minutely", "hourly", "daily", "weekly", "monthly", "yearly")


def check_columns(columns: Iterable[Any]) -> dict[str, list[str]]:
    """Return index -> messages for columns that are neither ``<event type|ping>[-<outcome>]`` nor money.

    :param columns: the requested column names.
    """
    return {
        str(i): [f"Unknown column {c!r}"]
        for i, c in enumerate(columns)
        if not isinstance(c, str) or not (COLUMN.match(c) or c in MONEY_COLUMNS)
    }


def _counted_types(columns: Iterable[str]) -> frozenset[str]:
    """Return the event types a report's columns count (money columns are per source event)."""
    found = {m.group(1) for m in map(COLUMN.match, columns) if m}
    if any(c in MONEY_COLUMNS for c in columns):
        found.add("source")
    return frozenset(found & set(TYPES))


def parse_timezone(value: str | None) -> tzinfo:
    """Return a tz for a tz database name or an offset in seconds.

    :param value: ``UTC``, ``America/Chicago``, ``-18000`` ...
    :raises ValidationError: on an unknown zone.
    """
    if not value or value.upper() == "UTC":
        return timezone.utc
    try:
        return timezone(timedelta(seconds=int(value)))
    except ValueError:
        pass
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(value)
    except Exception:
        raise ValidationError({"timezone": [f"{value!r} is not a valid time zone"]}) from None


def today_bounds(tz: tzinfo) -> tuple[int, int]:
    """Return the start and end (inclusive) of today in ``tz``, in epoch ms.

    :param tz: the time zone.
    """
    now = datetime.now(tz)
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return int(start.timestamp() * 1000), int((start + timedelta(days=1)).timestamp() * 1000) - 1


def interval_bounds(ms: int, interval: str, tz: tzinfo) -> tuple[int, int]:
    """Return the [start, end] (ms, inclusive) of the interval holding ``ms``.

    :param ms: epoch ms.
    :param interval: one of :data:`INTERVALS`.
    :param tz: the zone whose calendar defines the interval.
    """
    dt = datetime.fromtimestamp(ms / 1000, tz)
    if interval == "minutely":
        start, step = dt.replace(second=0, microsecond=0), timedelta(minutes=1)
    elif interval == "hourly":
        start, step = dt.replace(minute=0, second=0, microsecond=0), timedelta(hours=1)
    else:
        day = dt.replace(hour=0, minute=0, second=0, microsecond=0)
        if interval == "daily":
            start, step = day, timedelta(days=1)
        elif interval == "weekly":
            start, step = day - timedelta(days=day.weekday()), timedelta(days=7)
        elif interval == "monthly":
            start = day.replace(day=1)
            nxt = (start + timedelta(days=32)).replace(day=1)
            return int(start.timestamp() * 1000), int(nxt.timestamp() * 1000) - 1
        else:
            start = day.replace(month=1, day=1)
            nxt = start.replace(year=start.year + 1)
            return int(start.timestamp() * 1000), int(nxt.timestamp() * 1000) - 1
    return int(start.timestamp() * 1000), int((start + step).timestamp() * 1000) - 1


_FAST = ("vars.flow.id", "vars.source.id", "vars.recipient.id", "vars.lead.id")


class _Item(NamedTuple):
    """One counted event: a generated one or an injected record that looks like an event."""

    ts: int
    type: str
    outcome: str  # as served
    lead: Any  # the unit when counting distinct leads
    unit: Any  # the unit when counting events
    field: Callable[[str], Any]  # dotted path -> value, for group keys

    def value(self, path: str) -> Any:
        """Return the value a rule reads: ``type`` and ``outcome`` as served, else the field."""
        if path == "type":
            return self.type
        if path == "outcome":
            return self.outcome
        return self.field(path)


def _generated_field(bucket: Bucket, i: int, event: dict[str, Any] | None, path: str) -> Any:
    fast = {"vars.flow.id": bucket.flow_ids, "vars.source.id": bucket.source_ids,
            "vars.recipient.id": bucket.recipient_ids, "vars.lead.id": bucket.lead_ids}
    return fast[path][i] if path in fast else lookup(event or {}, path)


def _hashable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _injected_item(record: Record, types: frozenset[str]) -> _Item | None:
    """Count an injected record like an event when it parses as an object with a known string
    ``type`` and an ``outcome``; otherwise not at all."""
    parsed = record.parsed
    if not isinstance(parsed, dict) or "outcome" not in parsed:
        return None
    etype = parsed.get("type")
    if not isinstance(etype, str) or etype not in TYPES or etype not in types:
        return None
    outcome = parsed["outcome"]
    lead = record.field("vars.lead.id")
    unit = ("injected", record.sort_id)
    return _Item(record.ts, etype, outcome if isinstance(outcome, str) else _hashable(outcome),
                 lead if isinstance(lead, str) else unit, unit,
                 lambda path: _hashable(record.field(path)))


def _needs_body(group_by: Iterable[str], rules: RuleSet | None) -> bool:
    paths = {*group_by, *(rules.paths() if rules else ())} - {"type", "outcome"}
    return any(p not in _FAST for p in paths)


def _events(store: EventStore, revision: Revision, lo_ms: int, hi_ms: int,
            types: frozenset[str], needs_body: bool,
            injected: InjectedRecords | None = None, rules: RuleSet | None = None) -> Iterable[_Item]:
    items = _all_events(store, revision, lo_ms, hi_ms, types, needs_body, injected)
    return items if rules is None else (item for item in items if rules.matches(item.value))


def _all_events(store: EventStore, revision: Revision, lo_ms: int, hi_ms: int,
                types: frozenset[str], needs_body: bool,
                injected: InjectedRecords | None = None) -> Iterable[_Item]:
    for bucket, i in store.iter_range(lo_ms, hi_ms):
        if bucket.types[i] in types:
            event = orjson.loads(bucket.blobs[i]) if needs_body else None
            yield _Item(bucket.ts[i], bucket.types[i],
                        revision.outcome(bucket.ids[i], bucket.outcomes[i]),
                        bucket.lead_ids[i], bucket.ids[i],
                        lambda path, b=bucket, k=i, e=event: _generated_field(b, k, e, path))
    if injected:
        snap = injected.snapshot()
        i, j = span(snap, (lo_ms, ""), True, (hi_ms, ID_MAX), True)
        for record in snap.records[i:j]:
            item = _injected_item(record, types)
            if item is not None:
                yield item


def stats(store: EventStore, revision: Revision, *, types: list[str], group_by: list[str],
          columns: list[str], interval: str | None, tz: tzinfo, lo_ms: int, hi_ms: int,
          by_lead: bool, injected: InjectedRecords | None = None,
          rules: RuleSet | None = None) -> list[dict[str, Any]]:
    """Count events by outcome for /events/stats.

    :param store: the event store.
    :param revision: the active revision (outcomes are counted as served).
    :param types: event types counted.
    :param group_by: dotted paths to group by.
    :param columns: extra ``<type>-<outcome>`` columns to add to each row.
    :param interval: split into calendar intervals, or None.
    :param tz: the zone for intervals.
    :param lo_ms: inclusive start.
    :param hi_ms: inclusive end.
    :param by_lead: count distinct leads instead of events.
    :param injected: injected records (counted when they look like events).
    :param rules: only events passing these are counted.
    """
    needs_body = _needs_body(group_by, rules)
    # (interval, group) -> counter name -> set of leads (by_lead) or list of event ids
    cells: dict[tuple[Any, ...], dict[str, set[str] | list[str]]] = defaultdict(
        lambda: defaultdict(set if by_lead else list))
    for item in _events(store, revision, lo_ms, hi_ms, frozenset(types), needs_body, injected, rules):
        key = tuple(item.field(g) for g in group_by)
        if interval:
            key = interval_bounds(item.ts, interval, tz) + key
        outcome = item.outcome
        unit = item.lead if by_lead else item.unit
        names = [outcome, f"{item.type}-{outcome}"]
        if outcome in COUNTED:
            names += ["total", f"{item.type}-submitted"]
        for name in names:
            cell = cells[key][name]
            cell.add(unit) if isinstance(cell, set) else cell.append(unit)
    rows = []
    for key in sorted(cells, key=lambda k: tuple("" if v is None else str(v) for v in k)):
        counts = cells[key]
        row: dict[str, Any] = {n: len(counts.get(n, ())) for n in ("total", *COUNTED)}
        for column in columns:
            row[column] = 0.0 if column in MONEY_COLUMNS else len(counts.get(column, ()))
        groups = key[2:] if interval else key
        row.update(zip(group_by, groups))
        if interval:
            row["start"], row["end"] = iso_ms(key[0]), iso_ms(key[1])
        rows.append(row)
    return rows


def run_report(store: EventStore, revision: Revision, definition: dict[str, Any],
               lo_ms: int, hi_ms: int,
               injected: InjectedRecords | None = None,
               rules: RuleSet | None = None) -> list[dict[str, Any]]:
    """Run a report definition over events created in [lo_ms, hi_ms]: counts of events, not leads.

    :param store: the event store.
    :param revision: the active revision.
    :param definition: ``{"columns": [...], "group_by": [...]}``.
    :param lo_ms: inclusive start.
    :param hi_ms: inclusive end.
    :param injected: injected records (counted when they look like events).
    :param rules: only events passing these are counted (the definition's and the query's rules).
    """
    columns: list[str] = list(definition.get("columns") or [])
    group_by: list[str] = list(definition.get("group_by") or [])
    types = _counted_types(columns)
    needs_body = _needs_body(group_by, rules)
    counts: dict[tuple[Any, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for item in _events(store, revision, lo_ms, hi_ms, types, needs_body, injected, rules):
        etype = item.type
        outcome = item.outcome
        cell = counts[tuple(item.field(g) for g in group_by)]
        cell[etype] += 1
        cell[f"{etype}-{outcome}"] += 1
        if outcome in COUNTED:
            cell[f"{etype}-submitted"] += 1
    if not counts and not group_by:
        counts[()] = defaultdict(int)
    rows = []
    for key in sorted(counts, key=lambda k: tuple("" if v is None else str(v) for v in k)):
        row: dict[str, Any] = dict(zip(group_by, key))
        row.update({c: 0.0 if c in MONEY_COLUMNS else counts[key][c] for c in columns})
        rows.append(row)
    return rows
