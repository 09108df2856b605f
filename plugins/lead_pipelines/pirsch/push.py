"""Push ``mart.lead_aggregates`` to Pirsch as events: each aggregate sent once, through ``ops.push_outbox``.

Pirsch has no idempotency key and a lost answer leaves a write's outcome unknown, so every event is
committed to the outbox before it is sent and carries its outbox key (``event_meta.lp_key``); an
outcome that never arrived is settled by reading the key back from ``/statistics/event/list`` before
anything is sent again. One push of a target at a time (an advisory lock per target). See the
vendor's README ("Push") for the event and the protocol.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from importlib import metadata
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from lead_pipelines.common.errors import VendorConfigError
from lead_pipelines.common.secrets import scrub_personal
from lead_pipelines.common.warehouse import statement

if TYPE_CHECKING:
    import psycopg

    from lead_pipelines.common.windows import Window
    from lead_pipelines.pirsch.hook import PirschHook

log = logging.getLogger(__name__)

#: The event every aggregate is sent as (both grains; ``event_meta.grain`` tells them apart).
EVENT_NAME = "lead_pipelines_aggregate"
#: The page the events are attributed to, below the domain's hostname: the package's, no lead's.
URL_PATH = "/lead-pipelines/aggregates"
#: Pirsch requires ``ip`` (and ``user_agent``) on every event: it fingerprints a visitor from them
#: (hashed with a daily salt) and looks up a country. The push is not a visitor, and no lead's address
#: may leave the warehouse, so every event carries this fixed loopback placeholder.
PLACEHOLDER_IP = "127.0.0.1"
#: The counts of ``mart.lead_aggregates`` sent as metadata (as strings, Pirsch keeps strings).
COUNTS = ("touchpoints", "new_leads", "multi_source_leads", "outcome_success", "outcome_failure", "outcome_error",
          "visitors", "views", "sessions", "interactions")
#: Metadata values that come from the data (names of sources and channels): checked for personal data.
TEXT_FIELDS = ("source", "channel")
META_PAIRS, META_KEY_CHARS, META_VALUE_CHARS = 20, 100, 2000
#: Outbox keys asked per read-back call (``meta_lp_key`` repeated means any of them).
READBACK_KEYS_PER_CALL = 20
#: Seconds a push waits for another push of the same target to finish.
LOCK_WAIT_SECONDS = 300.0


class PersonalDataError(ValueError):
    """An event's metadata would carry something that looks like an email address or a phone number."""


@dataclass
class PushSummary:
    """What one push did (or, with ``dry_run``, would do).

    :param target: The outbox target, ``pirsch:<domain id>``.
    :param window: The window whose aggregates were planned.
    """

    target: str
    window: str
    dry_run: bool = False
    #: Aggregates seen for the first time (version 1 planned).
    planned: int = 0
    #: Aggregates changed after they were sent (a correction planned).
    corrections: int = 0
    #: Pending, never attempted versions whose payload was replaced by the aggregate's new counts.
    refreshed: int = 0
    #: Aggregates whose latest version was sent with the same counts: nothing to do.
    already_sent: int = 0
    #: Rows left ``sending`` by an earlier push, found at Pirsch: marked sent without a resend.
    resolved_by_readback: int = 0
    #: Rows left ``sending`` by an earlier push, not found at Pirsch: sent again.
    resent_after_readback: int = 0
    sent: int = 0
    batches: int = 0
    #: The events sent (a dry run: the events that would be sent), in order.
    events: list[dict[str, Any]] = field(default_factory=list)

    def line(self) -> str:
        """Return the summary as one log line."""
        mode = "dry run: " if self.dry_run else ""
        verb = "would send" if self.dry_run else "sent"
        return (f"Pirsch push {self.target} {self.window}: {mode}planned {self.planned}, corrections "
                f"{self.corrections}, refreshed {self.refreshed}, already sent {self.already_sent}, resolved by "
                f"read-back {self.resolved_by_readback}, resent after read-back {self.resent_after_readback}, "
                f"{verb} {len(self.events) if self.dry_run else self.sent} in {self.batches} batch(es)")


@dataclass(frozen=True)
class Aggregate:
    """One row of ``mart.lead_aggregates``."""

    grain: str
    period_start: datetime
    source: str
    channel: str
    counts: dict[str, int]

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Aggregate:
        """Read a row of ``select_lead_aggregates_for_push``."""
        return cls(row["grain"], row["period_start"], row["source"], row["channel"], {c: int(row[c]) for c in COUNTS})

    @property
    def key(self) -> str:
        """Return the aggregate's outbox key: ``grain|period start (UTC)|digest of source and channel``."""
        return aggregate_key(self.grain, self.period_start, self.source, self.channel)

    @property
    def content_hash(self) -> str:
        """Return the hash of the counts: a sent aggregate whose hash changed is corrected."""
        return hashlib.sha256(json.dumps(self.counts, sort_keys=True).encode()).hexdigest()


def aggregate_key(grain: str, period_start: datetime, source: str, channel: str) -> str:
    """Return an aggregate's deterministic key, readable up to the digest of its source and channel.

    :param grain: ``hour`` or ``day``.
    :param period_start: The period's start (any zone; written in UTC).
    :param source: The source name.
    :param channel: The channel.
    """
    digest = hashlib.sha256(json.dumps([source, channel]).encode()).hexdigest()[:16]
    return f"{grain}|{rfc3339(period_start)}|{digest}"


def push_key(key: str, version: int) -> str:
    """Return the outbox key of one version of an aggregate (sent as ``event_meta.lp_key``).

    :param key: The aggregate key.
    :param version: 1 for the first send, then one more per correction.
    """
    return f"{key}|v{version}"


def rfc3339(moment: datetime) -> str:
    """Return an instant as RFC 3339 in UTC, to the second (``2024-06-01T00:00:00Z``)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def user_agent() -> str:
    """Return the user agent of every event: ``lead-pipelines/<version>``."""
    try:
        return f"lead-pipelines/{metadata.version('lead-pipelines')}"
    except metadata.PackageNotFoundError:
        return "lead-pipelines/0+unknown"


def event_url(hook: PirschHook) -> str:
    """Return the page the events are attributed to: ``https://<the domain's hostname>/lead-pipelines/aggregates``.

    :param hook: The hook of the domain pushed to.
    """
    hostname = hook.domain().get("hostname")
    if not hostname:
        raise VendorConfigError(f"Pirsch connection {hook.http_conn_id!r}: the domain has no hostname to attribute "
                                "the pushed events to; pass url= to push_aggregates")
    return f"https://{hostname}{URL_PATH}"


def check_meta(meta: Mapping[str, str]) -> None:
    """Refuse metadata Pirsch would refuse (20 pairs, keys of 100, string values of 2000) or that looks personal.

    :param meta: The event's ``event_meta``.
    :raises PersonalDataError: A source or channel looks like an email address or a phone number.
    :raises ValueError: The metadata breaks Pirsch's limits.
    """
    if len(meta) > META_PAIRS:
        raise ValueError(f"event_meta has {len(meta)} pairs; Pirsch takes at most {META_PAIRS}")
    for key, value in meta.items():
        if len(key) > META_KEY_CHARS or not isinstance(value, str) or len(value) > META_VALUE_CHARS:
            raise ValueError(f"event_meta {key[:40]!r}: keys of at most {META_KEY_CHARS} characters and string "
                             f"values of at most {META_VALUE_CHARS} are allowed")
    for key in TEXT_FIELDS:
        if key in meta and scrub_personal(meta[key]) != meta[key]:
            raise PersonalDataError(
                f"refusing to send an aggregate to Pirsch: its {key} looks like an email address or a phone "
                f"number ({scrub_personal(meta[key])[:80]!r}); channels must be source names or UTM values"
            )


def build_event(aggregate: Aggregate, version: int, url: str,
                previous: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Return the Pirsch batch item of one version of an aggregate.

    :param aggregate: The aggregate.
    :param version: Its version; above 1 with ``previous`` it is a correction.
    :param url: The page the event is attributed to.
    :param previous: The counts of the version sent before (a correction).
    """
    key = push_key(aggregate.key, version)
    meta = {"lp_key": key, "kind": "correction" if previous is not None else "aggregate", "version": str(version),
            "grain": aggregate.grain, "period_start": rfc3339(aggregate.period_start), "source": aggregate.source,
            "channel": aggregate.channel, **{c: str(aggregate.counts[c]) for c in COUNTS}}
    if previous is not None:
        meta["previous_version"] = str(version - 1)
        meta["delta"] = ",".join(f"{c}:{aggregate.counts[c] - previous.get(c, 0):+d}" for c in COUNTS
                                 if aggregate.counts[c] != previous.get(c, 0))
    check_meta(meta)
    return {"event_name": EVENT_NAME, "event_meta": meta, "non_interactive": True, "disable_bot_filter": True,
            "url": url, "ip": PLACEHOLDER_IP, "user_agent": user_agent(), "time": rfc3339(aggregate.period_start)}


def push_aggregates(conn: psycopg.Connection, hook: PirschHook, window: Window, *, dry_run: bool = False,
                    batch_size: int = 100, url: str | None = None) -> PushSummary:
    """Send every aggregate of ``window`` (both grains) to Pirsch once, and each later change once as a correction.

    Steps, each committed on its own: resolve the target's rows an earlier push left ``sending`` by
    reading them back (found: sent; not found: pending again); plan the window (new aggregates,
    corrections of changed ones, pending payloads refreshed); send the pending rows in batches by
    event time, each batch marked ``sending`` before the call and ``sent`` on a 2xx. A call that
    fails is read back at once; what is still unknown stays ``sending`` and the error is raised
    (Airflow's retry reads it back again before any resend).

    :param conn: A warehouse connection with no transaction open (each step commits).
    :param hook: The Pirsch hook (its client needs the event write and statistics read scopes).
    :param window: The window whose aggregates are planned; pending rows of any window are sent.
    :param dry_run: Plan in a transaction that is rolled back, send nothing, return the events that would be sent.
    :param batch_size: Events per ``POST /api/v1/event/batch``.
    :param url: The page the events are attributed to; when None,
        ``https://<domain hostname>/lead-pipelines/aggregates``.
    """
    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise ValueError("push_aggregates commits step by step: commit or roll back the connection's transaction first")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    target = f"pirsch:{hook.domain_id}"
    summary = PushSummary(target, str(window), dry_run)
    url = url or event_url(hook)
    if dry_run:
        with conn.transaction(force_rollback=True):
            _plan(conn, target, window, url, summary)
            summary.events = [r["payload"]["event"] for r in _rows(conn, "select_push_outbox_pending", target)]
        log.info(summary.line())
        return summary
    lock = {"lock_key": _lock_key(target)}
    with conn.transaction():
        wait = f"{int(LOCK_WAIT_SECONDS * 1000)}ms"
        conn.execute(statement("lock_push_outbox_target"), {**lock, "lock_timeout": wait})
    try:
        _resolve_open(conn, hook, target, summary)
        with conn.transaction():
            _plan(conn, target, window, url, summary)
        _send_pending(conn, hook, target, batch_size, summary)
    finally:
        _unlock(conn, lock)
    log.info(summary.line())
    return summary


def _plan(conn: psycopg.Connection, target: str, window: Window, url: str, summary: PushSummary) -> None:
    """Write the outbox rows the window's aggregates need (inside the caller's transaction)."""
    cur = conn.cursor(row_factory=dict_row)
    rows = cur.execute(statement("select_lead_aggregates_for_push"),
                       {"window_start": window.start, "window_end": window.end}).fetchall()
    aggregates = [Aggregate.of(r) for r in rows]
    keys = {"target": target, "aggregate_keys": [a.key for a in aggregates]}
    latest = {r["aggregate_key"]: r for r in cur.execute(statement("select_push_outbox_latest"), keys)}
    for aggregate in aggregates:
        current = latest.get(aggregate.key)
        if current is None:
            _insert(conn, target, aggregate, 1, build_event(aggregate, 1, url), None)
            summary.planned += 1
        elif current["state"] == "sent" and current["content_hash"] != aggregate.content_hash:
            version, previous = current["version"] + 1, current["payload"]["counts"]
            _insert(conn, target, aggregate, version, build_event(aggregate, version, url, previous), previous)
            summary.corrections += 1
        elif current["state"] == "sent":
            summary.already_sent += 1
        elif current["state"] == "pending" and current["attempts"] == 0 \
                and current["content_hash"] != aggregate.content_hash:
            previous = current["payload"].get("previous")
            event = build_event(aggregate, current["version"], url, previous)
            conn.execute(statement("update_push_outbox_payload"),
                         {"push_key": current["push_key"], "content_hash": aggregate.content_hash,
                          "payload": Jsonb(_payload(event, aggregate, previous))})
            summary.refreshed += 1
        # A pending row already tried (read back, not found) is sent as planned, and corrected once sent;
        # a sending one was resolved before planning (under the lock no other push leaves one).


def _insert(conn: psycopg.Connection, target: str, aggregate: Aggregate, version: int, event: dict[str, Any],
            previous: Mapping[str, int] | None) -> None:
    conn.execute(statement("insert_push_outbox"), {
        "push_key": event["event_meta"]["lp_key"], "target": target, "aggregate_key": aggregate.key,
        "version": version, "kind": event["event_meta"]["kind"], "grain": aggregate.grain,
        "period_start": aggregate.period_start, "payload": Jsonb(_payload(event, aggregate, previous)),
        "content_hash": aggregate.content_hash})


def _payload(event: dict[str, Any], aggregate: Aggregate, previous: Mapping[str, int] | None) -> dict[str, Any]:
    """Return an outbox row's payload: the event as sent, the counts it carries and those it corrects."""
    return {"event": event, "counts": aggregate.counts, "previous": None if previous is None else dict(previous)}


def _resolve_open(conn: psycopg.Connection, hook: PirschHook, target: str, summary: PushSummary) -> None:
    """Settle the rows an earlier push left ``sending``: sent where Pirsch has them, else pending again."""
    with conn.transaction():
        open_rows = _rows(conn, "select_push_outbox_sending", target)
    if not open_rows:
        return
    found = find_sent(hook, open_rows)
    missing = [r["push_key"] for r in open_rows if r["push_key"] not in found]
    with conn.transaction():
        conn.execute(statement("mark_push_outbox_sent"), {"push_keys": sorted(found), "resolved_by": "readback"})
        conn.execute(statement("mark_push_outbox_pending"), {"push_keys": missing})
    summary.resolved_by_readback += len(found)
    summary.resent_after_readback += len(missing)
    log.info("Pirsch push %s: %d event(s) of an earlier push had no known outcome: %d found at Pirsch (sent), "
             "%d not found (to send again)", target, len(open_rows), len(found), len(missing))


def _send_pending(conn: psycopg.Connection, hook: PirschHook, target: str, batch_size: int,
                  summary: PushSummary) -> None:
    """Send the target's pending rows in batches by event time, each committed as sending before its call."""
    while True:
        with conn.transaction():
            batch = conn.cursor(row_factory=dict_row).execute(
                statement("claim_push_outbox_batch"), {"target": target, "batch_size": batch_size}).fetchall()
        if not batch:
            return
        batch.sort(key=lambda r: (r["period_start"], r["push_key"]))
        events = [r["payload"]["event"] for r in batch]
        for event in events:
            check_meta(event["event_meta"])  # what the outbox holds is checked again on its way out
        summary.batches += 1
        keys = [r["push_key"] for r in batch]
        try:
            hook.send_events(events)
        except Exception:
            if not _settle_failed_batch(conn, hook, target, batch, summary):
                raise  # Airflow's retry reads the unknown ones back before any resend
            continue
        with conn.transaction():
            conn.execute(statement("mark_push_outbox_sent"), {"push_keys": keys, "resolved_by": "response"})
        summary.sent += len(batch)
        summary.events += events
        log.info("Pirsch push %s: batch %d: %d event(s) %s..%s sent", target, summary.batches, len(batch),
                 events[0]["time"], events[-1]["time"])


def _settle_failed_batch(conn: psycopg.Connection, hook: PirschHook, target: str, batch: list[dict[str, Any]],
                         summary: PushSummary) -> bool:
    """Read a batch whose call failed back once; tell whether Pirsch has every event of it.

    Found events are marked sent (``readback``); the others stay ``sending``, their outcome unknown.
    """
    try:
        found = find_sent(hook, batch)
    except Exception:
        log.warning("Pirsch push %s: batch %d failed and could not be read back; its %d event(s) stay 'sending' "
                    "until the next try reads them back", target, summary.batches, len(batch))
        found = set()
    if found:
        with conn.transaction():
            conn.execute(statement("mark_push_outbox_sent"), {"push_keys": sorted(found), "resolved_by": "readback"})
        summary.resolved_by_readback += len(found)
    missing = len(batch) - len(found)
    log.warning("Pirsch push %s: batch %d got no answer: %d of %d event(s) found at Pirsch (marked sent, not "
                "resent), %d unknown (left 'sending' for the next try to read back)", target, summary.batches,
                len(found), len(batch), missing)
    return not missing


def find_sent(hook: PirschHook, rows: Sequence[Mapping[str, Any]]) -> set[str]:
    """Return the outbox keys among ``rows`` that Pirsch shows in ``/statistics/event/list`` on their event's day.

    :param hook: The Pirsch hook.
    :param rows: Outbox rows (``push_key``, ``period_start``, ``payload``).
    """
    zone = hook.time_zone
    wanted = {r["push_key"] for r in rows}
    found: set[str] = set()
    for (day, name), keys in _by_day(rows, zone).items():
        for start in range(0, len(keys), READBACK_KEYS_PER_CALL):
            chunk = keys[start:start + READBACK_KEYS_PER_CALL]
            for row in hook.find_events(day, name, {"lp_key": chunk}):
                key = (row.get("meta") or {}).get("lp_key")
                if key in wanted:
                    found.add(key)
    return found


def _by_day(rows: Iterable[Mapping[str, Any]], zone: ZoneInfo) -> dict[tuple[date, str], list[str]]:
    """Group outbox keys by the day (in the domain's zone) and name of their event."""
    groups: dict[tuple[date, str], list[str]] = {}
    for row in rows:
        day = row["period_start"].astimezone(zone).date()
        groups.setdefault((day, row["payload"]["event"]["event_name"]), []).append(row["push_key"])
    return groups


def _rows(conn: psycopg.Connection, name: str, target: str) -> list[dict[str, Any]]:
    return conn.cursor(row_factory=dict_row).execute(statement(name), {"target": target}).fetchall()


def _lock_key(target: str) -> int:
    """Return the advisory-lock key of a push target (a signed 64-bit integer)."""
    return int.from_bytes(hashlib.sha256(f"lead_pipelines/push/{target}".encode()).digest()[:8], "big", signed=True)


def _unlock(conn: psycopg.Connection, lock: dict[str, Any]) -> None:
    if conn.closed:
        return
    if conn.info.transaction_status != TransactionStatus.IDLE:
        conn.rollback()
    with conn.transaction():
        conn.execute(statement("unlock_push_outbox_target"), lock)
