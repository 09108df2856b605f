"""Seeded, lazily generated LeadConduit events, one hour bucket at a time.

The creation time of an event is its ``end_timestamp`` (epoch ms): ids, ``start``/``end``
filtering and the truth endpoint all use it.
"""

from __future__ import annotations

import bisect
import hashlib
import random
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Iterator

import orjson

from sandbox.people import Person, make_person, person_pool
from sandbox.timeutil import iso_ms, iso_seconds

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
TYPES = ("source", "recipient", "filter", "feedback-received", "feedback-sent")
# Leads start no later than this before the hour ends, so all of a lead's steps stay in its bucket.
_LEAD_MARGIN_MS = 60_000
_FLIPPED = {"success": "failure", "failure": "success", "error": "success", "stop": "continue",
            "continue": "stop"}
#: (created_ms, type, outcome, lead id, reference, flow id, source id, recipient id, JSON tail)
Row = tuple[int, str, str, str, str, str, str, "str | None", bytes]
_NULL_ID = b'{"id":null'

_FREE = {"gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com"}


def object_id(seconds: int, rng: random.Random) -> str:
    """Return a BSON-like id whose first 8 hex digits are ``seconds``.

    :param seconds: epoch seconds.
    :param rng: the random source for the rest.
    """
    return f"{seconds & 0xFFFFFFFF:08x}{rng.getrandbits(64):016x}"


def email_value(raw: str) -> dict[str, Any]:
    """Return the typed email value LeadConduit stores for a raw address.

    :param raw: the address as submitted.
    """
    normal = raw.lower()
    user, _, domain = normal.partition("@")
    host, _, tld = domain.rpartition(".")
    return {"raw": raw, "normal": normal, "user": user, "domain": domain, "host": host,
            "tld": tld, "is_free": domain in _FREE, "is_disposable": domain == "mailinator.com",
            "valid": True}


def phone_value(raw: str) -> dict[str, Any]:
    """Return the typed phone value LeadConduit stores for a raw 10-digit US number.

    :param raw: the number as submitted.
    """
    area, exchange, line = raw[:3], raw[3:6], raw[6:10]
    return {"raw": raw, "normal": raw, "prefix": "1", "area": area, "exchange": exchange,
            "line": line, "number": exchange + line, "extension": None, "country_code": "US",
            "is_tollfree": area in ("800", "888"), "type": None, "valid": True}


def state_value(raw: str) -> dict[str, Any]:
    """Return the typed state value.

    :param raw: the state as submitted.
    """
    return {"raw": raw, "normal": raw.upper(), "abbr": raw.upper(), "valid": True}


@dataclass(frozen=True)
class Catalog:
    """The account's fixed entities: flows, sources and recipients."""

    account: dict[str, str]
    flows: tuple[dict[str, str], ...]
    sources: tuple[dict[str, str], ...]
    recipients: tuple[dict[str, str], ...]
    machine: int

    @classmethod
    def for_seed(cls, seed: int) -> Catalog:
        """Build the catalog for a seed.

        :param seed: the sandbox seed.
        """
        rng = random.Random(f"leadconduit-catalog:{seed}")
        base = 1524156000  # 2018-04-19, when the account was set up

        def entity(name: str) -> dict[str, str]:
            return {"id": object_id(base + rng.randrange(86400 * 30), rng), "name": name}

        return cls(
            account=entity("Acme Lending"),
            flows=tuple(entity(n) for n in ("Sales Leads", "Mortgage Leads", "Auto Insurance")),
            sources=tuple(entity(n) for n in ("Vendor A", "Vendor B", "Web Form", "Partner API",
                                                "Call Center")),
            recipients=tuple(entity(n) for n in ("CRM", "Dialer", "Email Nurture", "Buyer X")),
            machine=rng.getrandbits(28),
        )


@dataclass
class Bucket:
    """One hour of events, sorted by creation time, with columns for cheap filtering."""

    hour_ms: int
    ids: list[str] = field(default_factory=list)
    ts: list[int] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    lead_ids: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    flow_ids: list[str] = field(default_factory=list)
    source_ids: list[str] = field(default_factory=list)
    recipient_ids: list[str | None] = field(default_factory=list)
    blobs: list[bytes] = field(default_factory=list)

    def __len__(self) -> int:
        """Return the number of events."""
        return len(self.ids)


class _HourGenerator:
    """Build one hour of leads and their events from the seed."""

    def __init__(self, seed: int, events_per_hour: int, catalog: Catalog) -> None:
        self.seed = seed
        self.events_per_hour = events_per_hour
        self.catalog = catalog
        self.pool = person_pool(seed)

    def build(self, hour_ms: int) -> list[Row]:
        rng = random.Random(f"leadconduit:{self.seed}:{hour_ms}")
        # Volume swings up to +-50% per hour so that hourly windows are not all alike.
        target = round(self.events_per_hour * rng.uniform(0.5, 1.5))
        rows: list[Row] = []
        while len(rows) < target:
            rows.extend(self._serialize(e) for e in self._lead(rng, hour_ms))
        rows.sort(key=lambda r: r[0])  # stable: a lead's steps keep their order
        return rows

    @staticmethod
    def _serialize(event: dict[str, Any]) -> Row:
        # Serialize at once (dicts cost ~10x their JSON); the id is spliced in after sorting.
        vars_ = event["vars"]
        recipient = vars_.get("recipient")
        return (event["end_timestamp"], event["type"], event["outcome"], vars_["lead"]["id"],
                vars_["lead"]["reference"], vars_["flow"]["id"], vars_["source"]["id"],
                recipient["id"] if recipient else None, orjson.dumps(event)[len(_NULL_ID):])

    def _lead(self, rng: random.Random, hour_ms: int) -> list[dict[str, Any]]:
        cat = self.catalog
        t = hour_ms + rng.randrange(HOUR_MS - _LEAD_MARGIN_MS)
        person: Person = rng.choice(self.pool) if rng.random() < 0.35 else make_person(rng)
        flow = rng.choice(cat.flows)
        source = rng.choice(cat.sources)
        lead = {
            "id": object_id(t // 1000, rng),
            "first_name": person.first_name,
            "last_name": person.last_name,
            "reference": f"ref-{rng.getrandbits(32):08x}",
            "email": email_value(person.email),
            "phone_1": phone_value(person.phone),
            "state": state_value(person.state),
        }
        base_vars = {"account": cat.account, "flow": flow, "source": source,
                     "submission": {"timestamp": iso_ms(t)}, "lead": lead}
        steps: list[tuple[str, str, str | None, dict[str, Any]]] = []
        stopped = False
        if rng.random() < 0.6:
            stopped = rng.random() < 0.15
            steps.append(("filter", "stop" if stopped else "continue",
                          "Duplicate lead" if stopped else None, {}))
        outcomes = []
        if not stopped:
            for recipient in rng.sample(cat.recipients, rng.choice((1, 1, 2))):
                roll = rng.random()
                outcome = "success" if roll < 0.8 else "failure" if roll < 0.95 else "error"
                reason = {"success": None, "failure": "Rejected by buyer",
                          "error": "Connection timed out"}[outcome]
                outcomes.append(outcome)
                steps.append(("recipient", outcome, reason, {"recipient": recipient}))
        if stopped:
            src = ("failure", "Duplicate lead")
        elif "success" in outcomes:
            src = ("success", None)
        elif "error" in outcomes:
            src = ("error", "Recipient error")
        else:
            src = ("failure", "No recipient accepted the lead")
        steps.append(("source", src[0], src[1], {}))
        if src[0] == "success" and rng.random() < 0.06:
            kind = rng.choice(("return", "conversion"))
            steps.append(("feedback-received", "success", None, {"feedback": {"type": kind}}))
            steps.append(("feedback-sent", "success", None, {"feedback": {"type": kind}}))
        out = []
        for etype, outcome, reason, extra in steps:
            ms = rng.randint(20, 900)
            wait = rng.randint(0, ms)
            start = t
            end = t + ms
            t = end + rng.randint(1, 50)
            vars_ = dict(base_vars)
            vars_.update(extra)
            out.append({
                "id": None,  # assigned after sorting the hour; keeps "id" the first key
                "type": etype,
                "outcome": outcome,
                "reason": reason,
                "host": "app.leadconduit.com",
                "start_timestamp": start,
                "end_timestamp": end,
                "ms": ms,
                "wait_ms": wait,
                "overhead_ms": ms - wait,
                "lag_ms": 0,
                "total_ms": ms,
                "handler_version": "3.1.0",
                "version": "3.0.0",
                "cap_reached": False,
                "ping_limit_reached": False,
                "expires_at": iso_seconds(end + 90 * DAY_MS),
                "module_id": _MODULES[etype],
                "vars": vars_,
            })
        return out


_MODULES = {
    "source": "leadconduit-default.inbound",
    "recipient": "leadconduit-custom.outbound.json",
    "filter": "leadconduit-default.filter",
    "feedback-received": "leadconduit-default.feedback.inbound",
    "feedback-sent": "leadconduit-default.feedback.outbound",
}


class EventStore:
    """Serve events in [start_ms, end_ms) from lazily built, LRU-cached hour buckets."""

    def __init__(self, seed: int, start_ms: int, end_ms: int, events_per_hour: int,
                 max_cached_events: int = 200_000) -> None:
        """Configure the store.

        :param seed: the sandbox seed.
        :param start_ms: first creation time that exists (inclusive).
        :param end_ms: creation times from here on do not exist.
        :param events_per_hour: the mean hourly volume.
        :param max_cached_events: evict old buckets past this many cached events.
        """
        self.seed = seed
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.catalog = Catalog.for_seed(seed)
        self._gen = _HourGenerator(seed, events_per_hour, self.catalog)
        self._cache: OrderedDict[int, Bucket] = OrderedDict()
        self._cached = 0
        self._max_cached = max_cached_events
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()

    def hours(self, lo_ms: int | None = None, hi_ms: int | None = None) -> list[int]:
        """Return the bucket hours overlapping [lo_ms, hi_ms] within the data range.

        :param lo_ms: lower creation time bound (inclusive), or None.
        :param hi_ms: upper creation time bound (inclusive), or None.
        """
        lo = self.start_ms if lo_ms is None else max(lo_ms, self.start_ms)
        hi = self.end_ms - 1 if hi_ms is None else min(hi_ms, self.end_ms - 1)
        if hi < lo:
            return []
        return list(range(lo - lo % HOUR_MS, hi - hi % HOUR_MS + 1, HOUR_MS))

    def bucket(self, hour_ms: int) -> Bucket:
        """Return the bucket for an hour, building it on first use.

        :param hour_ms: the hour's start in epoch ms.
        """
        with self._lock:
            bucket = self._cache.get(hour_ms)
            if bucket is not None:
                self._cache.move_to_end(hour_ms)
                return bucket
        with self._build_lock:  # one build at a time keeps peak memory bounded
            with self._lock:
                bucket = self._cache.get(hour_ms)
            if bucket is None:
                bucket = self._build(hour_ms)
            with self._lock:
                if hour_ms not in self._cache:
                    self._cache[hour_ms] = bucket
                    self._cached += len(bucket)
                self._cache.move_to_end(hour_ms)
                while self._cached > self._max_cached and len(self._cache) > 1:
                    _, old = self._cache.popitem(last=False)
                    self._cached -= len(old)
            return bucket

    def _build(self, hour_ms: int) -> Bucket:
        bucket = Bucket(hour_ms)
        machine = self.catalog.machine
        seq = 0
        for created, etype, outcome, lead_id, ref, flow_id, source_id, recipient_id, tail in (
            self._gen.build(hour_ms)
        ):
            if not self.start_ms <= created < self.end_ms:
                continue
            # BSON-style: 8 hex epoch seconds, then ms, a fixed "machine" part and a per-hour
            # counter, so ids strictly increase with creation time across the whole range.
            event_id = f"{created // 1000:08x}{created % 1000:03x}{machine:07x}{seq:06x}"
            seq += 1
            bucket.ids.append(event_id)
            bucket.ts.append(created)
            bucket.types.append(etype)
            bucket.outcomes.append(outcome)
            bucket.lead_ids.append(lead_id)
            bucket.references.append(ref)
            bucket.flow_ids.append(flow_id)
            bucket.source_ids.append(source_id)
            bucket.recipient_ids.append(recipient_id)
            bucket.blobs.append(b'{"id":"' + event_id.encode() + b'"' + tail)
        return bucket

    def contains(self, event_id: str) -> bool:
        """Tell whether a generated event has this id (builds its hour if needed).

        :param event_id: 24 lowercase hex digits.
        """
        created = int(event_id[:8], 16) * 1000 + int(event_id[8:11], 16)
        if not self.start_ms <= created < self.end_ms:
            return False
        b = self.bucket(created - created % HOUR_MS)
        i = bisect.bisect_left(b.ids, event_id)
        return i < len(b) and b.ids[i] == event_id

    def iter_range(self, lo_ms: int, hi_ms: int) -> Iterator[tuple[Bucket, int]]:
        """Yield (bucket, index) for events created in [lo_ms, hi_ms], ascending.

        :param lo_ms: inclusive lower bound.
        :param hi_ms: inclusive upper bound.
        """
        for hour in self.hours(lo_ms, hi_ms):
            b = self.bucket(hour)
            for i in range(bisect.bisect_left(b.ts, lo_ms), bisect.bisect_right(b.ts, hi_ms)):
                yield b, i


class Revision:
    """Which events are served changed, chosen by a stable hash of the id."""

    def __init__(self) -> None:
        """Start with the original data (revision 0)."""
        self.revision = 0
        self.fraction = 0.0
        self._threshold = 0

    def set(self, revision: int, fraction: float) -> None:
        """Switch revision; 0 restores the original data.

        :param revision: the revision number written into revised events.
        :param fraction: the share of events revised, 0..1.
        """
        if not 0.0 <= fraction <= 1.0:
            raise ValueError("fraction must be between 0 and 1")
        self.revision = revision
        self.fraction = fraction if revision else 0.0
        self._threshold = int(self.fraction * 2**32) if revision else 0

    def revised(self, event_id: str) -> bool:
        """Tell whether an event is served revised.

        :param event_id: the event id.
        """
        if not self._threshold:
            return False
        digest = hashlib.blake2b(event_id.encode(), digest_size=4).digest()
        return int.from_bytes(digest, "big") < self._threshold

    def outcome(self, event_id: str, outcome: str) -> str:
        """Return the outcome as currently served.

        :param event_id: the event id.
        :param outcome: the original outcome.
        """
        return _FLIPPED.get(outcome, outcome) if self.revised(event_id) else outcome

    def apply(self, event: dict[str, Any]) -> dict[str, Any]:
        """Return the revised form of an event dict (mutated in place).

        :param event: a freshly parsed event.
        """
        event["outcome"] = _FLIPPED.get(event["outcome"], event["outcome"])
        event["vars"]["lead"] = dict(event["vars"]["lead"], revision=self.revision)
        return event
