"""HTTP behaviour of the LeadConduit API: auth, content negotiation, routing, errors."""

from __future__ import annotations

import base64
import binascii
import csv
import io
import itertools
import json
import re
import threading
import time
from typing import Any, Callable

import orjson

from sandbox.people import shared_people
from sandbox.server import SandboxConfig
from sandbox.timeutil import iso_ms, parse_timestamp
from sandbox.vendors.leadconduit import aggregate, query
from sandbox.vendors.leadconduit.data import TYPES, EventStore, Revision
from sandbox.vendors.leadconduit.injected import InjectedRecords
from sandbox.vendors.leadconduit.query import ValidationError
from sandbox.vendors.leadconduit.rules import RuleSet, parse_rules
from sandbox.web import JSON_TYPE, Request, Response

_VND = re.compile(r"^application/vnd\.com\.leadconduit\.[a-z-]+\+json$")
_REPORT_PATH = re.compile(r"^/reports/([0-9a-f]{24})(/run)?$")
_FLOW_PATH = re.compile(r"^/flows/([0-9a-fA-F]{24})$")
#: Report fields the server keeps itself: a body may carry them (the doc's PUT sends ``id``), they
#: are never taken from it.
_SERVER_FIELDS = ("id", "token", "created_at", "updated_at")


def _error(status: int, error: str, message: str) -> Response:
    return Response.json(status, {"error": error, "message": message})


def _accepts(request: Request, extra: tuple[str, ...] = ()) -> str | None:
    """Return the media type to answer with, or None for a 406.

    :param request: the request.
    :param extra: media types besides JSON this route can produce.
    """
    header = request.header("Accept")
    if not header:
        return "application/json"
    for item in header.split(","):
        media = item.split(";")[0].strip().lower()
        if media in extra:
            return media
        if media in ("application/json", "*/*", "application/*") or _VND.match(media):
            return "application/json"
    return None


class LeadConduitApp:
    """The LeadConduit simulator mounted at ``/leadconduit``."""

    name = "leadconduit"
    #: Query parameters bounding the time window (the ``ignore_window`` fault drops them).
    window_params = ("start", "end")

    def __init__(self, config: SandboxConfig, api_key: str) -> None:
        """Create the app.

        :param config: the shared settings (seed, range, volume).
        :param api_key: the password HTTP Basic auth must carry.
        """
        self._api_key = api_key
        self.seed = config.seed
        self.store = EventStore(config.seed, config.start_ms, config.end_ms,
                                config.events_per_hour,
                                config.options.get("leadconduit_max_cached_events", 200_000))
        self.revision = Revision()
        self.injected = InjectedRecords()
        self._reports: dict[str, dict[str, Any]] = {}
        self._reports_lock = threading.Lock()
        self._report_seq = itertools.count(1)

    # -- framework hooks -------------------------------------------------------------------

    def auth_state(self, request: Request) -> str:
        """Return ``ok``, ``missing`` or ``bad``; any username, the key is the password.

        :param request: the request.
        """
        header = request.header("Authorization")
        if not header:
            return "missing"
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic":
            return "bad"
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return "bad"
        # The legacy doc's example header is base64 of the bare key (no "user:"); accept both.
        password = decoded.partition(":")[2] if ":" in decoded else decoded
        return "ok" if password == self._api_key else "bad"

    def handle(self, request: Request) -> Response:
        """Answer one LeadConduit API request.

        :param request: the request, path relative to ``/leadconduit``.
        """
        return self._handle(request, None)

    def empty_page(self, request: Request) -> Response | None:
        """Answer as if there were no data (``empty`` fault): ``[]`` for ``GET /events``.

        Auth, negotiation and validation still apply. None for any other endpoint.

        :param request: the request.
        """
        if not self._is_events(request):
            return None
        return self._handle(request, "empty")

    def overlap_page(self, request: Request, count: int) -> Response | None:
        """Answer ``GET /events`` normally, preceded by ``count`` records the client already has.

        Applies to ascending pages with ``after_id`` (repeats the records at and before it) and
        descending pages with ``before_id`` (the records at and after it); None otherwise.

        :param request: the request.
        :param count: how many records to repeat.
        """
        if not self._is_events(request):
            return None
        sort = request.arg("sort", "desc")
        if not ((sort == "asc" and request.arg("after_id"))
                or (sort == "desc" and request.arg("before_id"))):
            return None
        return self._handle(request, count)

    @staticmethod
    def _is_events(request: Request) -> bool:
        return request.method == "GET" and (request.path.rstrip("/") or "/") == "/events"

    def _handle(self, request: Request, mode: str | int | None) -> Response:
        if self.auth_state(request) != "ok":
            return _error(401, "Unauthorized",
                          "The API key is missing, incorrect, or specified incorrectly")
        route = self._route(request, mode)
        if route is None:
            return _error(404, "Not Found", "The resource being requested does not exist")
        handler, extra_types = route
        media = _accepts(request, extra_types)
        if media is None:
            return _error(406, "Not Acceptable",
                          "An unsupported MIME type has been requested in the Accept header")
        try:
            return handler(request, media)
        except ValidationError as exc:
            return Response.json(422, {"message": "Validation failed", "errors": exc.errors})

    def control(self, action: str, request: Request) -> Response | None:
        """Answer ``/_sandbox/leadconduit/{truth,revise,inject}``.

        :param action: the path after ``/_sandbox/leadconduit/``.
        :param request: the control request.
        """
        if action == "inject" and request.method == "POST":
            # stdlib json: lenient about what orjson rejects (e.g. integers past 64 bits).
            body = json.loads(request.body) if request.body else None
            if not isinstance(body, dict) or "records" not in body:
                raise ValueError('body must be {"records": [...]}')
            added = self.injected.add(body["records"])
            return Response.json(200, {
                "count": len(added),
                "records": [{"sort_id": r.sort_id, "ts": r.ts, "id": r.own_id} for r in added],
                "total": len(self.injected.snapshot().records),
            })
        if action == "inject" and request.method == "DELETE":
            self.injected.clear()
            return Response.json(200, {"ok": True})
        if action == "truth" and request.method == "GET":
            return Response.json(200, self.truth(request.arg("start"), request.arg("end")))
        if action == "people" and request.method == "GET":
            return Response.json(200, self.people(request.arg("start"), request.arg("end")))
        if action == "revise" and request.method == "POST":
            body = request.json() or {}
            self.revision.set(int(body.get("revision", 0)), float(body.get("fraction", 0.2)))
            return Response.json(200, {"revision": self.revision.revision,
                                       "fraction": self.revision.fraction})
        return None

    def reset(self) -> None:
        """Drop revisions, saved reports and injected records."""
        self.revision.set(0, 0.0)
        self.injected.clear()
        with self._reports_lock:
            self._reports.clear()

    def truth(self, start: str | None, end: str | None) -> dict[str, Any]:
        """Return the ground truth for events created in [start, end).

        ``count``, ``ids``, ``by_type`` and ``revised_ids`` describe generated events only;
        ``injected`` lists the injected records in the range, in serving (ascending) order.

        :param start: ISO or epoch-ms start (inclusive); None = data start.
        :param end: ISO or epoch-ms end (exclusive); None = data end.
        """
        lo = self.store.start_ms if start is None else parse_timestamp(start)
        hi = self.store.end_ms if end is None else parse_timestamp(end)
        ids: list[str] = []
        by_type: dict[str, int] = {}
        for bucket, i in self.store.iter_range(lo, hi - 1):
            ids.append(bucket.ids[i])
            by_type[bucket.types[i]] = by_type.get(bucket.types[i], 0) + 1
        revised = [i for i in ids if self.revision.revised(i)]
        snap = self.injected.snapshot()
        injected = [{"sort_id": r.sort_id, "ts": r.ts, "raw_b64": base64.b64encode(r.raw).decode()}
                    for r in snap.records if lo <= r.ts < hi]
        return {"count": len(ids), "ids": ids, "by_type": by_type, "revised_ids": revised,
                "injected": injected}

    def people(self, start: str | None, end: str | None) -> dict[str, str]:
        """Return ``{event id: person key}`` for the range's events whose lead is a shared person.

        A lead is a shared person (:func:`sandbox.people.shared_people`) when its email, as typed, is
        theirs; the other leads are people seen only here.

        :param start: ISO or epoch-ms start (inclusive); None = data start.
        :param end: ISO or epoch-ms end (exclusive); None = data end.
        """
        keys = {p.email: p.key for p in shared_people(self.seed)}
        lo = self.store.start_ms if start is None else parse_timestamp(start)
        hi = self.store.end_ms if end is None else parse_timestamp(end)
        found = {}
        for bucket, i in self.store.iter_range(lo, hi - 1):
            event = orjson.loads(bucket.blobs[i])
            key = keys.get(event["vars"]["lead"]["email"]["raw"])
            if key is not None:
                found[bucket.ids[i]] = key
        return found

    # -- routes ----------------------------------------------------------------------------

    def _route(self, request: Request, mode: str | int | None = None
               ) -> tuple[Callable[[Request, str], Response], tuple[str, ...]] | None:
        path, method = request.path.rstrip("/") or "/", request.method
        if path == "/events" and method == "GET":
            return (lambda r, m: self._events(r, m, mode)), ()
        if path == "/events/stats" and method == "GET":
            return self._stats, ("text/csv",)
        if path == "/flows" and method == "GET":
            return self._list_flows, ()
        flow = _FLOW_PATH.match(path)
        if flow and method == "GET":
            return (lambda r, m: self._flow(flow.group(1).lower())), ()
        if path == "/reports":
            if method == "GET":
                return self._list_reports, ()
            if method == "POST":
                return self._create_report, ()
        if path == "/reports/preview" and method == "POST":
            return self._preview_report, ()
        match = _REPORT_PATH.match(path)
        if match:
            report_id, run = match.groups()
            if run and method in ("GET", "POST"):  # the legacy table says POST, its curl GET
                return lambda r, m: self._run_report(r, report_id), ()
            if not run and method in ("GET", "PUT", "DELETE"):
                return lambda r, m: self._report(r, report_id), ()
        return None

    def _events(self, request: Request, media: str, mode: str | int | None = None) -> Response:
        """Serve /events; ``mode`` is "empty" (no records) or a count of records to repeat."""
        q = query.EventQuery.parse(request)
        for name in ("rules", "rule"):
            if request.args(name):
                # The current docs add rules to /events; not simulated here, and never ignored.
                raise ValidationError({name: ["rule filters on /events are not supported by the sandbox; "
                                              "use type, outcome, flow_id, source_id, ..."]})
        if mode == "empty":
            parts: list[bytes] = []
        else:
            parts = query.select(self.store, self.revision, q, self.injected)
            if isinstance(mode, int):
                parts = (query.overlap(self.store, self.revision, q, self.injected, mode)
                         or []) + parts
        return Response.raw(200, b"[" + b",".join(parts) + b"]", JSON_TYPE,
                            {"Vary": "Accept, Accept-Encoding"})

    def _stats(self, request: Request, media: str) -> Response:
        types = request.args("type") or ["source"]
        bad = [t for t in types if t not in TYPES]
        if bad:
            raise ValidationError({"type": [f"{t!r} is not a valid event type" for t in bad]})
        interval = request.arg("interval") or None
        if interval is not None and interval not in aggregate.INTERVALS:
            raise ValidationError({"interval": [f"must be one of {', '.join(aggregate.INTERVALS)}"]})
        columns = request.args("column")
        errors = aggregate.check_columns(columns)
        if errors:
            raise ValidationError({"column": errors})
        tz = aggregate.parse_timezone(request.arg("timezone"))
        lo, hi = self._range(request, aggregate.today_bounds(tz))
        by_lead = (request.arg("by_lead") or "true").lower() not in ("false", "0", "no")
        rules = self._query_rules(request)
        rows = aggregate.stats(self.store, self.revision, types=types,
                               group_by=request.args("group_by"), columns=columns,
                               interval=interval, tz=tz, lo_ms=lo, hi_ms=hi, by_lead=by_lead,
                               injected=self.injected, rules=rules)
        if media == "text/csv":
            return Response.raw(200, _csv(rows), "text/csv; charset=utf-8")
        return Response.json(200, rows)

    @staticmethod
    def _query_rules(request: Request, body_rules: Any = None) -> RuleSet | None:
        """Return the rules of a definition and the query (``rule`` repeatable, ``rules`` an array)."""
        return parse_rules(body_rules, request.args("rule"), request.arg("rules"))

    def _list_flows(self, request: Request, media: str) -> Response:
        return Response.json(200, [self._flow_object(f) for f in self.store.catalog.flows])

    def _flow(self, flow_id: str) -> Response:
        for flow in self.store.catalog.flows:
            if flow["id"] == flow_id:
                return Response.json(200, self._flow_object(flow))
        return _error(404, "Not Found", "The resource being requested does not exist")

    def _flow_object(self, flow: dict[str, str]) -> dict[str, Any]:
        """Return a flow as listed: id and name, plus the sources that submit to it (all of them here)."""
        return {"id": flow["id"], "name": flow["name"], "enabled": True,
                "sources": [{"id": s["id"], "name": s["name"]} for s in self.store.catalog.sources]}

    def _range(self, request: Request, default: tuple[int, int]) -> tuple[int, int]:
        lo = query.timestamp_arg(request, "start")
        hi = query.timestamp_arg(request, "end")
        return (default[0] if lo is None else lo), (default[1] if hi is None else hi)

    # -- reports ---------------------------------------------------------------------------

    def _definition(self, request: Request, current: dict[str, Any] | None = None) -> dict[str, Any]:
        """Return the validated definition a body describes; for a PUT, merged onto ``current``.

        Fields the body does not send keep their value (the legacy doc's PUT omits ``group_by``
        and the answer keeps it); fields the server keeps (``id``, ``token``, timestamps) are never
        taken from the body. A 422 maps each error onto the submitted JSON.

        :param request: a POST or PUT with a JSON body.
        :param current: the saved report a PUT updates; None for a create or a preview.
        """
        try:
            body = request.json()
        except orjson.JSONDecodeError:
            raise ValidationError({"body": ["is not valid JSON"]}) from None
        if not isinstance(body, dict):
            raise ValidationError({"body": ["must be a JSON object"]})
        if current is not None and body.get("id") not in (None, current["id"]):
            raise ValidationError({"id": [f"does not match the report being updated ({current['id']})"]})
        sent = {k: v for k, v in body.items() if k not in _SERVER_FIELDS}
        merged = {**{k: v for k, v in (current or {}).items() if k not in _SERVER_FIELDS}, **sent}
        merged.setdefault("group_by", [])
        errors = _definition_errors(merged)
        if errors:
            raise ValidationError(errors)
        return merged
    def _list_reports(self, request: Request, media: str) -> Response:
        with self._reports_lock:
            return Response.json(200, list(self._reports.values()))

    def _create_report(self, request: Request, media: str) -> Response:
        definition = self._definition(request)
        now = int(time.time() * 1000)
        # Deliberately not idempotent, like the real API: same name twice = two reports.
        report_id = f"{now // 1000:08x}{0x5E5E5E:06x}{next(self._report_seq):010x}"
        report = {"id": report_id, **definition, "token": None,
                  "created_at": iso_ms(now), "updated_at": iso_ms(now)}
        with self._reports_lock:
            self._reports[report_id] = report
        return Response.json(201, report)

    def _report(self, request: Request, report_id: str) -> Response:
        with self._reports_lock:
            report = self._reports.get(report_id)
        if report is None:
            return _error(404, "Not Found", "The resource being requested does not exist")
        if request.method == "GET":
            return Response.json(200, report)
        if request.method == "DELETE":
            with self._reports_lock:
                self._reports.pop(report_id, None)
            return Response.json(200, report)
        definition = self._definition(request, report)
        # A new updated_at even within the millisecond of the last change.
        now = max(int(time.time() * 1000), parse_timestamp(report["updated_at"]) + 1)
        updated = {"id": report_id, **definition, "token": report.get("token"),
                   "created_at": report["created_at"], "updated_at": iso_ms(now)}
        with self._reports_lock:
            self._reports[report_id] = updated
        return Response.json(200, updated)

    def _preview_report(self, request: Request, media: str) -> Response:
        definition = self._definition(request)
        return self._run(request, definition)

    def _run_report(self, request: Request, report_id: str) -> Response:
        with self._reports_lock:
            report = self._reports.get(report_id)
        if report is None:
            return _error(404, "Not Found", "The resource being requested does not exist")
        return self._run(request, report)

    def _run(self, request: Request, definition: dict[str, Any]) -> Response:
        """Count a definition over ``[start, end]`` (both inclusive, UTC unless the timestamp says)."""
        lo, hi = self._range(request, aggregate.today_bounds(aggregate.parse_timezone(None)))
        rules = self._query_rules(request, definition.get("rules"))
        return Response.json(200, aggregate.run_report(self.store, self.revision, definition,
                                                       lo, hi, self.injected, rules))


def _definition_errors(definition: dict[str, Any]) -> dict[str, Any]:
    """Return the validation errors of a report definition, keyed like its JSON."""
    errors: dict[str, Any] = {}
    if not isinstance(definition.get("name"), str) or not definition["name"].strip():
        errors["name"] = ["is required"]
    columns = definition.get("columns")
    if not isinstance(columns, list) or not columns:
        errors["columns"] = ["is required"]
    elif aggregate.check_columns(columns):
        errors["columns"] = aggregate.check_columns(columns)
    group_by = definition.get("group_by")
    if not isinstance(group_by, list) or not all(isinstance(g, str) for g in group_by):
        errors["group_by"] = ["must be an array of field names"]
    if definition.get("rules") is not None:
        try:
            parse_rules(definition["rules"])
        except ValidationError as exc:
            errors.update(exc.errors)
    return errors


def _csv(rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    fields: list[str] = []
    for row in rows:
        fields.extend(k for k in row if k not in fields)
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()
