"""HTTP behaviour of the Pirsch API v1: client tokens that expire, the domain, statistics per day, writes.

Statistics take the shared filter (``id``, ``from``/``to`` as ``YYYY-MM-DD`` or full ISO timestamps,
as the official client sends them, ``tz``, ``offset``/``limit`` hard-capped at 100). Empty lists are
``null``. Writes (hits, events, sessions and their batches) are checked (``event_meta``: 20 pairs,
100-character keys, 2000-character values), recorded for the ``writes`` control action, and answered
200 with an empty body.

Events received are read back as Pirsch shows them: on the day (in ``tz``) of their batch ``time`` or,
sent alone, of their arrival, they are added to ``/statistics/events``, ``/event/meta`` and
``/event/list`` (``visitors`` = distinct ``ip`` + ``user_agent``, ``count`` = events). ``/event/list``
honours the filters ``event`` and ``meta_<key>`` (repeated = OR; ``!`` not, ``~`` contains, ``^`` does
not contain). The landing's truth (:meth:`PirschApp.truth_ids`) reads the same rows, so what is served
and what a correct landing holds stay equal whatever was received.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from lead_pipelines.common.records import natural_key
from lead_pipelines.pirsch.settings import STATISTICS_STREAMS
from sandbox.server import SandboxConfig
from sandbox.vendors.pirsch.data import DOMAIN_ID, EVENTS, HOSTNAME, TIME_ZONE, Stats
from sandbox.web import JSON_TYPE, Request, Response

API = "/api/v1"
MAX_LIMIT = 100
META_PAIRS, META_KEY_CHARS, META_VALUE_CHARS = 20, 100, 2000
WRITES = ("hit", "hit/batch", "event", "event/batch", "session", "session/batch")
#: Statistics endpoints the official client reads; the landed ones are in ``STATISTICS_STREAMS``.
OTHER_STATISTICS = ("duration/session", "duration/page", "goals", "event/page", "growth", "active", "hours",
                    "language", "os", "os/version", "browser", "browser/version", "region", "city", "platform",
                    "screen", "keywords", "tags", "tag/details", "funnel")


class BadRequest(Exception):
    """A request Pirsch would refuse with its validation body.

    :param field: The field named in ``validation``, or None.
    :param message: The message.
    :param status: The HTTP status.
    """

    def __init__(self, field: str | None, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field, self.message, self.status = field, message, status


def error(status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None) -> Response:
    """Return Pirsch's error body: ``{"validation": {...}, "error": [...]}``.

    :param status: The HTTP status.
    :param message: The message.
    :param field: A field for ``validation`` (the message goes there instead of ``error``).
    :param headers: Extra headers.
    """
    body = {"validation": {field: message} if field else {}, "error": [] if field else [message]}
    return Response.json(status, body, headers)


def parse_day(name: str, value: str | None, zone: ZoneInfo) -> date:
    """Read ``YYYY-MM-DD`` or a full ISO timestamp (the official client's ``Date``) as a day in ``zone``.

    :param name: The parameter, named in the error.
    :param value: The value sent.
    :param zone: The zone of ``tz`` (a timestamp is converted to it).
    """
    if not value:
        raise BadRequest(name, "required")
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
    except ValueError:
        raise BadRequest(name, f"invalid date {value!r}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(zone).date()


@dataclass(frozen=True)
class ReceivedEvent:
    """An event a write delivered: what the statistics endpoints count.

    :param at: When it happened (its batch ``time``, else its arrival), UTC.
    :param name: ``event_name``.
    :param meta: ``event_meta`` as sorted (key, string value) pairs.
    :param visitor: What tells visitors apart (``ip`` and ``user_agent``; Pirsch hashes them).
    :param duration: ``event_duration`` in seconds.
    """

    at: datetime
    name: str
    meta: tuple[tuple[str, str], ...]
    visitor: str
    duration: float

    @classmethod
    def of(cls, item: dict[str, Any], received: datetime, batch: bool) -> ReceivedEvent:
        """Read one checked event item.

        :param item: The event as sent (single or batch item).
        :param received: When it arrived.
        :param batch: The item came in a batch: its ``time`` says when it happened.
        """
        at = _instant(str(item["time"])) if batch else received
        meta = tuple(sorted((k, _meta_text(v)) for k, v in (item.get("event_meta") or {}).items()))
        duration = item.get("event_duration")
        return cls(at.astimezone(timezone.utc), item["event_name"], meta, f"{item['ip']}|{item['user_agent']}",
                   float(duration) if isinstance(duration, (int, float)) and not isinstance(duration, bool) else 0.0)


def _meta_text(value: Any) -> str:
    """Return a metadata value as Pirsch keeps it: a string (``true``/``false`` for booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def days_between(start: datetime, end: datetime, zone: ZoneInfo) -> list[date]:
    """Return the days a correct landing of ``[start, end)`` holds: the zone's date of each whole day from ``start``.

    :param start: First instant.
    :param end: First instant not covered.
    :param zone: The domain's zone.
    """
    days, moment = [], start
    while moment < end:
        days.append(moment.astimezone(zone).date())
        moment += timedelta(days=1)
    return list(dict.fromkeys(days))


class PirschApp:
    """The Pirsch simulator mounted at ``/pirsch``."""

    name = "pirsch"
    #: Query parameters bounding the days (the ``ignore_window`` fault drops them).
    window_params = ("from", "to")

    def __init__(self, config: SandboxConfig, *, client_id: str, client_secret: str, access_key: str,
                 token_ttl: float) -> None:
        """Create the app.

        :param config: The shared settings (seed, volume).
        :param client_id: The oAuth client id the token endpoint accepts.
        :param client_secret: Its secret.
        :param access_key: A ``pa_`` access key (write-only).
        :param token_ttl: Lifetime of access tokens, in seconds.
        """
        self.config = config
        self.client = (client_id, client_secret)
        self.access_key = access_key
        self._ttl = token_ttl
        self.zone = ZoneInfo(TIME_ZONE)
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Restore the seeded state: statistics, tokens, their lifetime, writes and the rate limit."""
        with self._lock:
            self.stats = Stats(self.config.seed, self.config.events_per_hour)
            self.ttl = self._ttl
            self.tokens: dict[str, float] = {}
            #: Calls each token may still authorize (absent: no limit); ``expire_after`` sets it.
            self.uses_left: dict[str, int] = {}
            #: Uses the next token granted gets (``expire_after`` sent before it exists), or None.
            self.next_uses: int | None = None
            self.grants = 0
            self.writes: list[dict[str, Any]] = []
            #: Events received, counted by the statistics (the ``writes`` control's DELETE keeps them).
            self.events: list[ReceivedEvent] = []
            self.limit: tuple[int, float] | None = None
            self.calls: deque[float] = deque()

    # -- auth --------------------------------------------------------------------------------

    def _bearer(self, request: Request) -> str | None:
        header = request.header("Authorization")
        if header is None:
            return None
        scheme, _, token = header.strip().partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""

    def auth_state(self, request: Request) -> str:
        """Return ``ok``, ``missing`` or ``bad``: the client's credentials at ``/token``, else the Bearer.

        :param request: The request.
        """
        if request.path.rstrip("/") == f"{API}/token":
            try:
                body = request.json() or {}
            except orjson.JSONDecodeError:
                return "bad"
            if not isinstance(body, dict) or not body.get("client_secret"):
                return "missing"
            return "ok" if (body.get("client_id"), body.get("client_secret")) == self.client else "bad"
        token = self._bearer(request)
        if not token:
            return "missing"
        if token == self.access_key:
            return "ok"
        expires = self.tokens.get(token)
        return "ok" if expires is not None and time.time() < expires else "bad"

    def _use(self, token: str | None) -> None:
        """Count one call of a token limited by ``expire_after``; one beyond its uses expires it now."""
        with self._lock:
            left = self.uses_left.get(token or "")
            if left is None:
                return
            if left <= 0:
                self.tokens[token or ""] = time.time()
                del self.uses_left[token or ""]
            else:
                self.uses_left[token or ""] = left - 1

    def _grant(self, request: Request) -> Response:
        if request.method != "POST":
            return error(405, "method not allowed")
        if self.auth_state(request) != "ok":
            return error(401, "client not found or secret wrong")
        with self._lock:
            token = "eyJ" + secrets.token_urlsafe(48)
            expires = time.time() + self.ttl
            self.tokens[token] = expires
            if self.next_uses is not None:
                self.uses_left[token], self.next_uses = self.next_uses, None
            self.grants += 1
        stamp = datetime.fromtimestamp(expires, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
        return Response.json(200, {"access_token": token, "expires_at": stamp})

    # -- routes ------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one Pirsch API request.

        :param request: The request, path relative to ``/pirsch``.
        """
        limited = self._rate_limit()
        if isinstance(limited, Response):
            return limited
        response = self._route(request, None)
        response.headers.update(limited)
        return response

    def empty_page(self, request: Request) -> Response | None:
        """Answer a statistics list as if it had no row (``empty`` fault): ``null``.

        :param request: The request.
        """
        return Response.raw(200, b"null", JSON_TYPE) if self._statistic(request) in _LISTS else None

    def overlap_page(self, request: Request, count: int) -> Response | None:
        """Answer a statistics page preceded by the ``count`` rows the previous page ended with.

        :param request: The request; one at offset 0 continues no paging chain (None).
        :param count: How many rows to repeat.
        """
        if self._statistic(request) not in _LISTS or int(request.arg("offset") or 0) <= 0:
            return None
        return self._route(request, count)

    def _statistic(self, request: Request) -> str | None:
        path = _path(request)
        return path[len(f"{API}/statistics/"):] if path.startswith(f"{API}/statistics/") else None

    def _route(self, request: Request, overlap: int | None) -> Response:
        path = _path(request)
        if path == f"{API}/token":
            return self._grant(request)
        token = self._bearer(request)
        self._use(token)
        state = self.auth_state(request)
        if state != "ok":
            # An empty "Bearer " (the client's first write) must be 401: the client then fetches a token.
            return error(401, "unauthorized")
        try:
            if request.method == "POST" and path[len(API) + 1:] in WRITES:
                return self._write(path[len(API) + 1:], request, "access_key" if token == self.access_key else "oauth")
            if token == self.access_key:
                return error(403, "access keys may only send data")
            if request.method == "GET" and path == f"{API}/domain":
                return Response.json(200, [self.domain()])
            if request.method == "GET" and path == f"{API}/funnel":
                return Response.raw(200, b"null", JSON_TYPE)
            statistic = self._statistic(request)
            if request.method == "GET" and statistic is not None and (statistic in _LISTS or statistic == "total"
                                                                       or statistic in OTHER_STATISTICS):
                return self._statistics(statistic, request, overlap)
        except BadRequest as exc:
            return error(exc.status, exc.message, exc.field)
        return error(404, f"not found: {request.method} {path}")

    def domain(self) -> dict[str, Any]:
        """Return the domain object the sandbox's client sees."""
        return {"id": DOMAIN_ID, "def_time": "2023-01-05T10:11:12.123456Z", "mod_time": "2024-01-05T10:11:12.123456Z",
                "user_id": "Sbx7user01", "organization_id": None, "hostname": HOSTNAME, "subdomain": "shop",
                "identification_code": "a" * 32, "public": False, "google_user_id": None, "google_user_email": None,
                "gsc_domain": None, "new_owner": None, "timezone": TIME_ZONE, "group_by_title": False,
                "active_visitors_seconds": 600, "disable_scripts": False, "statistics_start": None,
                "imported_statistics": False, "theme_id": "", "theme": {}, "custom_domain": None,
                "display_name": "Shop", "user_role": "Owner", "settings": {}, "theme_settings": {},
                "pinned": False, "subscription_active": True, "metadata": {}}

    def _statistics(self, statistic: str, request: Request, overlap: int | None) -> Response:
        if request.arg("id") != DOMAIN_ID:
            raise BadRequest("id", "domain not found", 404 if request.arg("id") else 400)
        zone_name = request.arg("tz") or TIME_ZONE
        try:
            zone = ZoneInfo(zone_name)
        except (KeyError, ValueError):
            raise BadRequest("tz", f"unknown time zone {zone_name!r}") from None
        if request.arg("start") and not request.arg("from"):
            first = last = datetime.now(zone).date()
        else:
            first, last = parse_day("from", request.arg("from"), zone), parse_day("to", request.arg("to"), zone)
        if last < first:
            raise BadRequest("to", "must not be before from")
        if (last - first).days > 366 * 3:
            raise BadRequest("to", "the range is too long")
        try:
            offset = int(request.arg("offset") or 0)
            limit = int(request.arg("limit") or MAX_LIMIT)
        except ValueError:
            raise BadRequest("limit", "offset and limit must be integers") from None
        if offset < 0 or limit < 0:
            raise BadRequest("limit", "offset and limit must not be negative")
        limit = min(limit or MAX_LIMIT, MAX_LIMIT)  # hard cap, whatever was asked
        args = {"event": request.arg("event") or "", "event_meta_key": request.arg("event_meta_key") or ""}
        if statistic == "event/meta" and not (args["event"] and args["event_meta_key"]):
            raise BadRequest("event", "event and event_meta_key are required")
        filters = _event_filters(request) if statistic == "event/list" else {}
        with self._lock:
            days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
            if statistic == "total" or statistic == "growth" or statistic == "active" or statistic == "platform":
                return Response.json(200, self._object(statistic, days))
            if statistic == "visitor" or statistic.startswith("duration/") or len(days) == 1:
                rows = [r for d in days for r in self._rows(statistic, d, args, zone)]
            else:
                rows = _merge([self._rows(statistic, d, args, zone) for d in days])
        if filters:
            rows = [r for r in rows if _matches(r, filters)]
        if statistic in ("goals",):
            rows = []
        served = rows[offset:offset + limit]
        if overlap:
            served = rows[max(0, offset - overlap):offset] + served
        return Response.raw(200, orjson.dumps(served) if served else b"null", JSON_TYPE)

    def _rows(self, statistic: str, day: date, args: dict[str, str], zone: ZoneInfo) -> list[dict[str, Any]]:
        """Return one day's rows: the seeded statistics, with the events received that day (in ``zone``) added.

        :param statistic: The endpoint key (``events``, ``event/list``...).
        :param day: The day.
        :param args: ``event`` and ``event_meta_key`` (for ``event/meta``).
        :param zone: The zone the day is read in (``tz``).
        """
        rows = self.stats.rows(statistic, day, args)
        if statistic not in _EVENT_STATISTICS:
            return rows
        received = [e for e in self.events if e.at.astimezone(zone).date() == day]
        if not received:
            return rows
        return _with_received(statistic, rows, received, args)

    def _object(self, statistic: str, days: list[date]) -> dict[str, Any]:
        if statistic == "total":
            rows = [self.stats.rows("total", d, {})[0] for d in days]
            merged = {k: sum(r[k] for r in rows) if isinstance(rows[0][k], int) else rows[0][k] for k in rows[0]}
            merged["bounce_rate"] = round(merged["bounces"] / merged["sessions"], 4) if merged["sessions"] else 0
            return merged
        if statistic == "growth":
            return {"visitors_growth": 0.1, "views_growth": 0.05, "sessions_growth": 0.02, "bounces_growth": -0.1,
                    "time_spent_growth": 0.0, "cr_growth": 0.0, "custom_metric_avg_growth": 0.0,
                    "custom_metric_total_growth": 0.0}
        if statistic == "platform":
            return {"platform_desktop": 60, "platform_mobile": 35, "platform_unknown": 5,
                    "relative_platform_desktop": 0.6, "relative_platform_mobile": 0.35, "relative_platform_unknown": 0.05}
        return {"stats": None, "countries": None, "visitors": 0}

    # -- writes ------------------------------------------------------------------------------

    def _write(self, endpoint: str, request: Request, auth: str) -> Response:
        try:
            body = request.json()
        except orjson.JSONDecodeError:
            raise BadRequest(None, "the body is not JSON") from None
        batch = endpoint.endswith("/batch")
        items = body if batch else [body]
        if not isinstance(items, list) or (batch and not items):
            raise BadRequest(None, "a batch is a non-empty JSON array" if batch else "the body is a JSON object")
        kind = endpoint.split("/")[0]
        for item in items:
            _check_write(kind, item, batch)
        received = datetime.now(timezone.utc)
        with self._lock:
            self.writes += [{"endpoint": endpoint, "auth": auth, "body": item} for item in items]
            if kind == "event":
                self.events += [ReceivedEvent.of(item, received, batch) for item in items]
        return Response(200, b"", {})

    # -- rate limit --------------------------------------------------------------------------

    def _rate_limit(self) -> dict[str, str] | Response:
        """Count the call under the configured limit; X-RateLimit-* on every answer, 429 with Retry-After beyond."""
        with self._lock:
            if self.limit is None:
                return {}
            calls, period = self.limit
            now = time.time()
            while self.calls and self.calls[0] <= now - period:
                self.calls.popleft()
            reset = (self.calls[0] + period) if self.calls else now + period
            headers = {"X-RateLimit-Limit": str(calls), "X-RateLimit-Reset": str(int(math.ceil(reset)))}
            if len(self.calls) >= calls:
                wait = max(1, math.ceil(reset - now))
                headers.update({"X-RateLimit-Remaining": "0", "Retry-After": str(wait)})
                return error(429, "too many requests", headers=headers)
            self.calls.append(now)
            headers["X-RateLimit-Remaining"] = str(calls - len(self.calls))
            return headers

    # -- control -----------------------------------------------------------------------------

    def truth_ids(self, stream: str, start: datetime, end: datetime) -> list[str]:
        """Return the record ids a correct landing of ``[start, end)`` holds for ``stream``, as the hook derives them.

        :param stream: A landed stream (``visitor``, ``page_entry``, ``event_meta``...).
        :param start: First instant.
        :param end: First instant not covered.
        """
        from lead_pipelines.pirsch.hook import row_key

        statistic = STATISTICS_STREAMS[stream][0].split("/statistics/", 1)[1]
        ids: list[str] = []
        with self._lock:
            for day in days_between(start, end, self.zone):
                if stream == "event_meta":
                    # The (event, key) pairs the hook finds in /statistics/events: seeded and received ones.
                    for event in self._rows("events", day, {}, self.zone):
                        for key in event.get("meta_keys") or []:
                            args = {"event": event["name"], "event_meta_key": key}
                            ids += [row_key(stream, DOMAIN_ID, day, r, args)
                                    for r in self._rows(statistic, day, args, self.zone)]
                else:
                    ids += [row_key(stream, DOMAIN_ID, day, r) for r in self._rows(statistic, day, {}, self.zone)]
        return ids

    def control(self, action: str, request: Request) -> Response | None:
        """Answer ``/_sandbox/pirsch/{truth,tokens,late,writes,rate-limit}``.

        ``tokens`` takes ``ttl`` (seconds new tokens live), ``expire_now`` and ``expire_after`` (calls the
        live tokens and the next one granted still authorize before they answer 401).

        :param action: The path after ``/_sandbox/pirsch/``.
        :param request: The control request.
        """
        if action == "truth" and request.method == "GET":
            start = _instant(request.arg("start") or "2024-06-01T00:00:00Z")
            end = _instant(request.arg("end") or "2024-06-02T00:00:00Z")
            stream = request.arg("stream") or "visitor"
            if stream not in STATISTICS_STREAMS:
                raise ValueError(f"stream must be one of {', '.join(STATISTICS_STREAMS)}")
            ids = self.truth_ids(stream, start, end)
            return Response.json(200, {"count": len(ids), "ids": ids,
                                       "days": [d.isoformat() for d in days_between(start, end, self.zone)]})
        if action == "tokens":
            with self._lock:
                if request.method == "POST":
                    body = request.json() or {}
                    if "ttl" in body:
                        self.ttl = float(body["ttl"])
                    if body.get("expire_now"):
                        self.tokens = dict.fromkeys(self.tokens, time.time())
                    if body.get("expire_after") is not None:
                        # Live tokens, and the next one granted, authorize this many more calls, then
                        # answer 401 although their expires_at lies ahead (the client cannot foresee it).
                        uses = int(body["expire_after"])
                        self.uses_left.update(dict.fromkeys(self.tokens, uses))
                        self.next_uses = uses
                live = sum(1 for k, t in self.tokens.items() if t > time.time() and self.uses_left.get(k) != 0)
                return Response.json(200, {"ttl": self.ttl, "grants": self.grants, "live": live})
        if action == "late" and request.method == "POST":
            body = request.json() or {}
            with self._lock:
                for day in body.get("days") or []:
                    key = date.fromisoformat(day)
                    self.stats.revisions[key] = self.stats.revisions.get(key, 0) + int(body.get("times", 1))
                return Response.json(200, {d.isoformat(): r for d, r in sorted(self.stats.revisions.items())})
        if action == "writes":
            with self._lock:
                if request.method == "DELETE":
                    self.writes = []
                return Response.json(200, {"writes": list(self.writes)})
        if action == "rate-limit" and request.method == "POST":
            body = request.json() or {}
            with self._lock:
                self.limit = (int(body["limit"]), float(body.get("period", 60))) if body.get("limit") else None
                self.calls.clear()
            return Response.json(200, {"limit": body.get("limit"), "period": body.get("period", 60)})
        return None


_LISTS = frozenset(v[0].split("/statistics/", 1)[1] for v in STATISTICS_STREAMS.values()) - {"total"}
_EVENT_STATISTICS = frozenset({"events", "event/meta", "event/list"})


def _with_received(statistic: str, rows: list[dict[str, Any]], received: list[ReceivedEvent],
                   args: dict[str, str]) -> list[dict[str, Any]]:
    """Add one day's received events to that day's seeded rows of an event statistic, in Pirsch's order.

    :param statistic: ``events``, ``event/meta`` or ``event/list``.
    :param rows: The seeded rows of the day.
    :param received: The events received that day.
    :param args: ``event`` and ``event_meta_key`` (for ``event/meta``).
    """
    groups: dict[Any, list[ReceivedEvent]] = {}
    for event in received:
        meta = dict(event.meta)
        if statistic == "events":
            key: Any = event.name
        elif statistic == "event/meta":
            if event.name != args.get("event") or args.get("event_meta_key") not in meta:
                continue
            key = meta[args["event_meta_key"]]
        else:
            key = (event.name, event.meta)
        groups.setdefault(key, []).append(event)
    merged = [dict(r) for r in rows]
    for key, events in groups.items():
        row = _received_row(statistic, key, events, args)
        same = next((r for r in merged if _identity(statistic, r) == _identity(statistic, row)), None)
        if same is None:
            merged.append(row)
            continue
        for name in ("visitors", "count", "views"):
            if name in same:
                same[name] += row[name]
        if statistic == "events":
            same["meta_keys"] = list(dict.fromkeys([*(same.get("meta_keys") or []), *(row["meta_keys"] or [])])) or None
    merged.sort(key=lambda r: (-r.get("visitors", 0), str(sorted(r.items()))))
    return merged


def _received_row(statistic: str, key: Any, events: list[ReceivedEvent], args: dict[str, str]) -> dict[str, Any]:
    """Return the row a group of received events makes in an event statistic."""
    visitors, count = len({e.visitor for e in events}), len(events)
    duration = round(sum(e.duration for e in events) / count)
    if statistic == "events":
        keys = list(dict.fromkeys(k for e in events for k, _ in e.meta))
        return {"name": key, "count": count, "visitors": visitors, "views": count, "cr": 0.0,
                "average_duration_seconds": duration, "meta_keys": keys or None}
    if statistic == "event/meta":
        return {"name": args["event"], "meta_value": key, "count": count, "visitors": visitors, "views": count,
                "cr": 0.0, "average_duration_seconds": duration}
    name, meta = key
    return {"name": name, "meta": dict(meta) or None, "visitors": visitors, "count": count}


def _identity(statistic: str, row: dict[str, Any]) -> Any:
    """Return what makes a row of an event statistic one row: its name, meta value or meta."""
    if statistic == "events":
        return row["name"]
    if statistic == "event/meta":
        return row["name"], row["meta_value"]
    return row["name"], tuple(sorted((row.get("meta") or {}).items()))


def _event_filters(request: Request) -> dict[str, list[str]]:
    """Return ``/event/list``'s filters: ``event`` (the name) and each ``meta_<key>``, every value sent."""
    filters = {name: request.args(name) for name in request.query
               if (name == "event" or name.startswith("meta_")) and request.args(name)}
    return {name: [v for v in values if v] for name, values in filters.items() if any(values)}


def _matches(row: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    """Tell whether an ``/event/list`` row passes every filter; the values of one filter are alternatives."""
    meta = row.get("meta") or {}
    for name, wanted in filters.items():
        value = str(row.get("name") or "") if name == "event" else str(meta.get(name[len("meta_"):], ""))
        if not any(_match(value, w) for w in wanted):
            return False
    return True


def _match(value: str, wanted: str) -> bool:
    """Compare a value with one filter value: ``!`` not equal, ``~`` contains, ``^`` does not contain."""
    if wanted.startswith("!"):
        return value != wanted[1:]
    if wanted.startswith("~"):
        return wanted[1:] in value
    if wanted.startswith("^"):
        return wanted[1:] not in value
    return value == wanted


def _merge(per_day: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Sum the visitors of rows with the same dimensions across days (the client asks ranges)."""
    merged: dict[bytes, dict[str, Any]] = {}
    for rows in per_day:
        for row in rows:
            key = orjson.dumps({k: v for k, v in row.items() if not isinstance(v, (int, float)) or isinstance(v, bool)},
                               option=orjson.OPT_SORT_KEYS)
            if key not in merged:
                merged[key] = dict(row)
            else:
                for k, v in row.items():
                    if isinstance(v, int) and not isinstance(v, bool):
                        merged[key][k] += v
    return sorted(merged.values(), key=lambda r: -r.get("visitors", 0))


def _path(request: Request) -> str:
    """Return the request's path without a trailing slash, and with the official client's doubled prefix undone.

    pirsch-sdk 2.9.1 joins ``/api/v1/`` with its funnel endpoints, which already start with ``/api/v1/``:
    it asks ``/api/v1//api/v1/funnel``. The simulator accepts both spellings (the document's and the client's).

    :param request: The request.
    """
    path = request.path.rstrip("/")
    doubled = f"{API}/{API}/"
    return path[len(API) + 1:] if path.startswith(doubled) else path


def _instant(value: str) -> datetime:
    moment = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _check_write(kind: str, item: Any, batch: bool) -> None:
    """Raise :class:`BadRequest` where Pirsch would refuse one hit, event or session."""
    if not isinstance(item, dict):
        raise BadRequest(None, "each item is a JSON object")
    required = ("ip", "user_agent") if kind == "session" else ("url", "ip", "user_agent")
    for name in required:
        if not isinstance(item.get(name), str) or not item[name]:
            raise BadRequest(name, "required")
    if batch:
        try:
            _instant(str(item.get("time") or ""))
        except ValueError:
            raise BadRequest("time", "an RFC 3339 time is required in a batch") from None
    if kind != "event":
        return
    if not isinstance(item.get("event_name"), str) or not item["event_name"].strip():
        raise BadRequest("event_name", "required")
    meta = item.get("event_meta")
    if meta is None:
        return
    if not isinstance(meta, dict):
        raise BadRequest("event_meta", "must be an object")
    if len(meta) > META_PAIRS:
        raise BadRequest("event_meta", f"at most {META_PAIRS} key/value pairs")
    for key, value in meta.items():
        if len(key) > META_KEY_CHARS:
            raise BadRequest("event_meta", f"keys are at most {META_KEY_CHARS} characters")
        # The document (older) allows scalars; the client sends strings: accept both.
        if not isinstance(value, (str, int, float, bool)) or len(str(value)) > META_VALUE_CHARS:
            raise BadRequest("event_meta", f"values are scalars of at most {META_VALUE_CHARS} characters")
