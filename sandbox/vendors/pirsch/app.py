"""HTTP behaviour of the Pirsch API v1: client tokens that expire, the domain, statistics per day, writes.

Statistics take the shared filter (``id``, ``from``/``to`` as ``YYYY-MM-DD`` or full ISO timestamps,
as the official client sends them, ``tz``, ``offset``/``limit`` hard-capped at 100). Empty lists are
``null``. Writes (hits, events, sessions and their batches) are checked (``event_meta``: 20 pairs,
100-character keys, 2000-character values), recorded for the ``writes`` control action, and answered
200 with an empty body.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import deque
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
        with self._lock:
            days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
            if statistic == "total" or statistic == "growth" or statistic == "active" or statistic == "platform":
                return Response.json(200, self._object(statistic, days))
            if statistic == "visitor" or statistic.startswith("duration/") or len(days) == 1:
                rows = [r for d in days for r in self.stats.rows(statistic, d, args)]
            else:
                rows = _merge([self.stats.rows(statistic, d, args) for d in days])
        if statistic in ("goals",):
            rows = []
        served = rows[offset:offset + limit]
        if overlap:
            served = rows[max(0, offset - overlap):offset] + served
        return Response.raw(200, orjson.dumps(served) if served else b"null", JSON_TYPE)

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
        with self._lock:
            self.writes += [{"endpoint": endpoint, "auth": auth, "body": item} for item in items]
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
                    for name, meta in EVENTS.items():
                        for key in meta:
                            args = {"event": name, "event_meta_key": key}
                            ids += [row_key(stream, DOMAIN_ID, day, r, args)
                                    for r in self.stats.rows(statistic, day, args)]
                else:
                    ids += [row_key(stream, DOMAIN_ID, day, r) for r in self.stats.rows(statistic, day, {})]
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
