"""HTTP behaviour of the LeadBoxer v1 API: x-api-key auth, day filters, nextToken paging, per-endpoint rate limit.

Decisions where LeadBoxer's docs are silent (see ``plugins/lead_pipelines/leadboxer/README.md``):

- the envelope is ``{"data": [...], "nextToken": ..., "total": N}`` on all three endpoints
  (``total`` as in the legacy App API's model); sessions and events page like leads;
- a ``nextToken`` is a snapshot of the listing, valid ``token_ttl`` seconds (10 minutes) from the
  page that returned it; an expired or unknown one answers **400** in RFC 7807 form;
- the sandbox's "today" (``exactly``/``lessthan``) is the last day of its data, in ``timeZone``;
- without ``leadId``/``sessionId`` the children endpoints list every session/event of the dataset.
"""

from __future__ import annotations

import base64
import math
import threading
import time
from collections import OrderedDict, deque
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from sandbox.server import SandboxConfig
from sandbox.timeutil import parse_timestamp
from sandbox.vendors.leadboxer.data import LeadStore
from sandbox.web import JSON_TYPE, Request, Response

LEADS, SESSIONS, EVENTS = "/v1/leads", "/v1/leads/sessions", "/v1/leads/events"
PROBLEM_TYPE = "application/problem+json"
MAX_LIMIT = 1000
MAX_SCROLLS = 5000


class BadRequest(Exception):
    """A parameter LeadBoxer would refuse (answered 400)."""


def _problem(status: int, title: str, detail: str, instance: str, **extra: Any) -> Response:
    body = {"type": f"https://developers.leadboxer.com/docs/{title.lower().replace(' ', '-')}", "title": title,
            "status": status, "detail": detail, "instance": instance, **extra}
    headers = {"Retry-After": str(extra["retry-after"])} if "retry-after" in extra else None
    return Response.raw(status, orjson.dumps(body), PROBLEM_TYPE, headers)


class LeadBoxerApp:
    """The LeadBoxer simulator mounted at ``/leadboxer``.

    :param config: The shared settings (seed, range, volume, ``leadboxer_*`` options).
    """

    name = "leadboxer"
    #: The window filter of ``/v1/leads`` (the ``ignore_window`` fault drops it). The parent filters
    #: (``leadId``, ``sessionId``) are left out on purpose: a fault on ``/v1/leads`` also matches the
    #: children's paths, and a test drops them explicitly to see the hook refuse foreign children.
    window_params = ("criteriaTimeFilter",)

    def __init__(self, config: SandboxConfig) -> None:
        opts = config.options
        self.api_key = opts["leadboxer_api_key"]
        self.site = opts["leadboxer_site"]
        self._defaults = {"rate_limit": int(opts["leadboxer_rate_limit"]),
                          "rate_limit_period": float(opts["leadboxer_rate_limit_period"]),
                          "token_ttl": float(opts["leadboxer_token_ttl"])}
        self.settings = dict(self._defaults)
        self.store = LeadStore(config.seed, config.start_ms, config.end_ms, config.events_per_hour)
        self._lock = threading.Lock()
        self._calls: dict[str, deque[float]] = {}
        self._scrolls: OrderedDict[str, list[str]] = OrderedDict()
        self._scroll_seq = 0

    # -- framework hooks -------------------------------------------------------------------

    def auth_state(self, request: Request) -> str:
        """Return ``ok``, ``missing`` or ``bad`` for the ``x-api-key`` header."""
        key = request.header("x-api-key")
        if not key:
            return "missing"
        return "ok" if key == self.api_key else "bad"

    def handle(self, request: Request) -> Response:
        """Answer one LeadBoxer API request (path relative to ``/leadboxer``)."""
        return self._handle(request, None)

    def empty_page(self, request: Request) -> Response | None:
        """Answer a listing as if LeadBoxer held nothing (``empty`` fault); None off the three listings."""
        return self._handle(request, "empty") if self._listing(request) else None

    def overlap_page(self, request: Request, count: int) -> Response | None:
        """Answer a ``nextToken`` page preceded by the ``count`` records the previous page ended with."""
        if not (self._listing(request) and request.arg("nextToken")):
            return None
        return self._handle(request, count)

    def _listing(self, request: Request) -> bool:
        return request.method == "GET" and request.path.rstrip("/") in (LEADS, SESSIONS, EVENTS)

    def _handle(self, request: Request, mode: str | int | None) -> Response:
        if self.auth_state(request) != "ok":
            return Response.json(401, {"error": "Unauthorized", "message": "Invalid or missing API key"})
        path = request.path.rstrip("/")
        if not self._listing(request):
            return Response.json(404, {"error": "Not Found", "message": f"no route {request.method} {path}"})
        limited = self._throttle(path)
        if limited is not None:
            return limited
        try:
            if request.arg("site") != self.site:
                raise BadRequest("site must be the id of a dataset of this account")
            return self._list(request, path, mode)
        except BadRequest as exc:
            return _problem(400, "Bad Request", str(exc), path)

    def _throttle(self, path: str) -> Response | None:
        limit, period = self.settings["rate_limit"], self.settings["rate_limit_period"]
        now = time.time()
        with self._lock:
            calls = self._calls.setdefault(path, deque())
            while calls and calls[0] <= now - period:
                calls.popleft()
            if len(calls) < limit:
                calls.append(now)
                return None
            reset = calls[0] + period
        wait = max(1, math.ceil(reset - now))
        return _problem(429, "Rate Limit Exceeded", f"More than {limit} requests per {period:g}s to {path}", path,
                        **{"retry-after": wait, "rate-limit": limit, "rate-limit-remaining": 0,
                           "rate-limit-period": "minute" if period == 60 else f"{period:g}s",
                           "rate-limit-reset": math.ceil(reset)})

    # -- listings --------------------------------------------------------------------------

    def _list(self, request: Request, path: str, mode: str | int | None) -> Response:
        limit = self._int(request, "limit", 50)
        token = request.arg("nextToken")
        if token:
            ids, offset = self._resume(token, path)
        else:
            ids, offset = self._query(request, path), 0
        if mode == "empty":
            return Response.raw(200, b'{"data":[],"nextToken":null,"total":0}', JSON_TYPE)
        start = offset - mode if isinstance(mode, int) else offset
        chunk = ids[max(0, start):offset + limit]
        following = offset + limit
        next_token = self._token(token, ids, path, following) if following < len(ids) else None
        records = b",".join(self._serialize(path, i) for i in chunk)
        body = b'{"data":[' + records + b'],"nextToken":' + orjson.dumps(next_token) + b',"total":' + \
            str(len(ids)).encode() + b"}"
        return Response.raw(200, body, JSON_TYPE)

    def _int(self, request: Request, name: str, default: int) -> int:
        raw = request.arg(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise BadRequest(f"{name} must be a whole number") from None
        if value < 1:
            raise BadRequest(f"{name} must be at least 1")
        return min(value, MAX_LIMIT)

    def _query(self, request: Request, path: str) -> list[str]:
        store = self.store
        if path == SESSIONS:
            lead_id = request.arg("leadId")
            leads = [store.leads[lead_id]] if lead_id in store.leads else [] if lead_id else store.leads.values()
            return [s["session_id"] for lead in leads for s in lead.sessions]
        if path == EVENTS:
            session_id = request.arg("sessionId")
            if session_id:
                lead = store.session_lead(session_id)
                return [e["event_id"] for e in lead.events[session_id]] if lead else []
            return [e["event_id"] for lead in store.leads.values() for s in lead.sessions
                    for e in lead.events[s["session_id"]]]
        zone = self._zone(request.arg("timeZone"))
        field = request.arg("timeField") or "eventEsTimestamp"
        bounds = self._time_filter(request.arg("criteriaTimeFilter"), zone)
        sort = (request.arg("sortBy") or "lastEvent|desc").split("|")
        if len(sort) != 2 or sort[0] not in ("lastEvent", "_score") or sort[1] not in ("asc", "desc"):
            raise BadRequest("sortBy must be lastEvent|asc, lastEvent|desc or _score|desc")
        rows = []
        for lead in store.leads.values():
            moment = lead.first_session if (bounds[2] if bounds else field) == "first_session_unix_timestamp" \
                else lead.last_event
            if bounds is None or bounds[0] <= moment < bounds[1]:
                rows.append((lead.last_event, lead.use_id))
        rows.sort(reverse=sort[1] == "desc")
        return [use_id for _, use_id in rows]

    def _zone(self, name: str | None) -> ZoneInfo:
        try:
            return ZoneInfo(name or "Europe/Amsterdam")
        except (ZoneInfoNotFoundError, ValueError):
            raise BadRequest(f"unknown timeZone {name!r}") from None

    def _time_filter(self, spec: str | None, zone: ZoneInfo) -> tuple[int, int, str] | None:
        """Return ``(lo, hi, field)`` in epoch ms for ``field|operator|value``, days read in ``zone``."""
        if not spec:
            return None
        parts = spec.split("|")
        if len(parts) != 3 or parts[0] not in ("eventEsTimestamp", "first_session_unix_timestamp"):
            raise BadRequest("criteriaTimeFilter must read field|operator|value")
        field, op, value = parts
        today = datetime.fromtimestamp((self.store.end_ms - 1) / 1000, zone).date()
        try:
            if op == "between":
                first_text, last_text = value.split("-")
                first = datetime.strptime(first_text, "%d/%m/%Y").date()
                last = datetime.strptime(last_text, "%d/%m/%Y").date()
            elif op == "exactly":
                first = last = today - timedelta(days=int(value))
            elif op == "lessthan":
                first, last = today - timedelta(days=int(value)), today
            else:
                raise ValueError(op)
        except ValueError:
            raise BadRequest("criteriaTimeFilter: use between dd/MM/yyyy-dd/MM/yyyy, exactly N or lessthan N") from None
        return _midnight(first, zone), _midnight(last + timedelta(days=1), zone), field

    def _serialize(self, path: str, record_id: str) -> bytes:
        store = self.store
        if path == LEADS:
            return store.doc(record_id, self.site)
        if path == SESSIONS:
            lead = store.session_lead(record_id)
            return orjson.dumps(next(s for s in lead.sessions if s["session_id"] == record_id))
        return orjson.dumps(store.event(record_id))

    # -- nextToken -------------------------------------------------------------------------

    def _token(self, previous: str | None, ids: list[str], path: str, offset: int) -> str:
        scroll = _decode(previous)["s"] if previous else None
        with self._lock:
            if scroll is None:
                self._scroll_seq += 1
                scroll = f"{self._scroll_seq}"
                self._scrolls[scroll] = ids
                while len(self._scrolls) > MAX_SCROLLS:
                    self._scrolls.popitem(last=False)
        raw = orjson.dumps({"s": scroll, "p": path, "o": offset, "t": int(time.time() * 1000)})
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def _resume(self, token: str, path: str) -> tuple[list[str], int]:
        state = _decode(token)
        with self._lock:
            ids = self._scrolls.get(state.get("s")) if state else None
        if ids is None or state.get("p") != path:
            raise BadRequest("nextToken is not valid for this query; start the query again without it")
        if time.time() * 1000 - state["t"] > self.settings["token_ttl"] * 1000:
            raise BadRequest("nextToken has expired (tokens are valid for 10 minutes); start the query again")
        return ids, int(state["o"])

    # -- control ---------------------------------------------------------------------------

    def control(self, action: str, request: Request) -> Response | None:
        """Answer ``/_sandbox/leadboxer/{truth,people,return,settings}``."""
        if action == "truth" and request.method == "GET":
            return Response.json(200, self.truth(request.arg("start"), request.arg("end"),
                                                 request.arg("stream") or "leads"))
        if action == "people" and request.method == "GET":
            lo, hi = self._range(request.arg("start"), request.arg("end"))
            return Response.json(200, {lead.use_id: lead.person for lead in self.store.leads.values()
                                       if lead.person and lo <= lead.last_event < hi})
        if action == "return" and request.method == "POST":
            body = request.json() or {}
            at = body.get("at")
            lead = self.store.come_back(str(body["use_id"]), None if at is None else parse_timestamp(str(at))
                                        if not isinstance(at, int) else at, int(body.get("events", 2)))
            session = lead.sessions[-1]
            return Response.json(200, {"lead": orjson.loads(self.store.doc(lead.use_id, self.site)),
                                       "session": session, "events": lead.events[session["session_id"]]})
        if action == "settings":
            if request.method == "POST":
                body = request.json() or {}
                unknown = set(body) - set(self.settings)
                if unknown:
                    raise ValueError(f"unknown settings {sorted(unknown)}; expected some of {sorted(self.settings)}")
                with self._lock:
                    self.settings.update({k: float(v) for k, v in body.items()})
                    self._calls.clear()
            return Response.json(200, self.settings)
        return None

    def reset(self) -> None:
        """Restore the seeded leads, the default limit and token life; forget calls and tokens."""
        self.store.reset()
        with self._lock:
            self.settings = dict(self._defaults)
            self._calls.clear()
            self._scrolls.clear()

    def _range(self, start: str | None, end: str | None) -> tuple[int, int]:
        return (self.store.start_ms if start is None else parse_timestamp(start),
                self.store.end_ms if end is None else parse_timestamp(end))

    def truth(self, start: str | None, end: str | None, stream: str) -> dict[str, Any]:
        """Return the ids of a stream for [start, end): leads whose last event lies in it, their sessions, their events.

        :param start: ISO or epoch-ms start (inclusive).
        :param end: ISO or epoch-ms end (exclusive).
        :param stream: ``leads``, ``sessions`` or ``events``.
        """
        lo, hi = self._range(start, end)
        leads = [lead for lead in self.store.leads.values() if lo <= lead.last_event < hi]
        if stream == "leads":
            ids = [lead.use_id for lead in leads]
        elif stream == "sessions":
            ids = [s["session_id"] for lead in leads for s in lead.sessions]
        elif stream == "events":
            ids = [e["event_id"] for lead in leads for s in lead.sessions for e in lead.events[s["session_id"]]]
        else:
            raise ValueError("stream must be leads, sessions or events")
        return {"count": len(ids), "ids": sorted(ids)}


def _midnight(day: date, zone: ZoneInfo) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp() * 1000)


def _decode(token: str) -> dict[str, Any] | None:
    try:
        state = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return None
    return state if isinstance(state, dict) and {"s", "p", "o", "t"} <= set(state) else None
