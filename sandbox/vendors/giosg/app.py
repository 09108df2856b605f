"""HTTP behaviour of giosg's workflow APIs: token auth, the paged workflow list, info, and sidedata queries.

Decisions where giosg's docs are silent (see ``plugins/lead_pipelines/giosg/README.md``):

- the workflow list pages like giosg's other collections, ``{"next", "previous", "results"}`` with
  full-URL links and a page size the client does not choose (``--giosg-page-size``);
- errors are Django REST framework's ``{"detail": ...}``: 401 without or with a wrong token, 403 for
  a workflow whose reporting is forbidden, 404 for an unknown organisation or workflow, 400 for an
  interval that is missing, not ISO 8601 with an explicit offset, or empty;
- sidedata answers the page-navigation shape for ``giosg-default`` workflows and the interaction shape
  for the others; ``timeframe_stat`` holds ``hour_in_day`` and, for an interval longer than a day,
  ``day_in_week`` (ISO weekdays 1-7, as read in UTC);
- with ``body_window`` set to ``ignore`` sidedata answers for the last seven days of the sandbox's
  data whatever interval the body asks for (a vendor ignoring its window filter).
"""

from __future__ import annotations

import random
import re
import threading
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import orjson

from sandbox.server import SandboxConfig
from sandbox.web import Request, Response

_LIST = re.compile(r"^/api/objectives/v1/orgs/([^/]+)/workflows/?$")
_ITEM = re.compile(r"^/api/objectives/v1/orgs/([^/]+)/workflows/([^/]+)/?$")
_REPORT = re.compile(r"^/api/reporting/workflow/v1/orgs/([^/]+)/workflows/([^/]+)/(info|sidedata)/?$")
TYPES = ("giosg-default", "interaction", "user-generated")
GOALS = ("Interaction view shown", "Interaction button clicked", "System: Visitor purchased", "Cart locked")
DAY = timedelta(days=1)


def iso(moment: datetime) -> str:
    """Return a moment as ISO 8601 in UTC with an explicit offset: ``2024-06-01T00:00:00+00:00``.

    :param moment: An aware datetime.
    """
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def interval_key(workflow_id: str, start: datetime, end: datetime) -> str:
    """Return the record id of one workflow's sidedata for one interval, as the hook derives it.

    :param workflow_id: The workflow.
    :param start: The interval's start.
    :param end: The interval's end (exclusive).
    """
    return orjson.dumps([workflow_id, iso(start), iso(end)]).decode()


def daily_pieces(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Cut ``[start, end)`` at UTC midnights: one interval per day (or part of a day) it covers.

    :param start: Inclusive start.
    :param end: Exclusive end.
    """
    pieces, cursor = [], start.astimezone(timezone.utc)
    end = end.astimezone(timezone.utc)
    while cursor < end:
        midnight = datetime(cursor.year, cursor.month, cursor.day, tzinfo=timezone.utc) + DAY
        pieces.append((cursor, min(midnight, end)))
        cursor = min(midnight, end)
    return pieces


def _detail(status: int, detail: str) -> Response:
    return Response.json(status, {"detail": detail})


class BadInterval(ValueError):
    """The sidedata body's interval is missing or unusable (answered 400)."""


class GiosgApp:
    """The giosg simulator mounted at ``/giosg``.

    :param config: The shared settings (seed, range, ``giosg_*`` options).
    """

    name = "giosg"
    #: The sidedata interval travels in the POST body, not the query: nothing for ``ignore_window``
    #: to drop (the ``body_window`` setting plays that fault instead).
    window_params: tuple[str, ...] = ()

    def __init__(self, config: SandboxConfig) -> None:
        opts = config.options
        self.config = config
        self.api_key = str(opts["giosg_api_key"])
        self.org = str(opts["giosg_organization_id"])
        self.page_size = max(1, int(opts["giosg_page_size"]))
        self.start = datetime.fromtimestamp(config.start_ms / 1000, timezone.utc)
        self.end = datetime.fromtimestamp(config.end_ms / 1000, timezone.utc)
        rng = random.Random(f"giosg:{config.seed}")
        self.workflow_ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4))
                             for _ in range(int(opts["giosg_workflows"]))]
        self.types = {wf: TYPES[n % len(TYPES)] for n, wf in enumerate(self.workflow_ids)}
        self._users = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(2)]
        self._goals = {name: str(uuid.UUID(int=rng.getrandbits(128), version=4)) for name in GOALS}
        self._default_forbidden = {self._workflow_ref(ref) for ref in opts.get("giosg_forbidden") or []}
        self._lock = threading.Lock()
        self.reset()

    def _workflow_ref(self, ref: str) -> str:
        return self.workflow_ids[int(ref)] if str(ref).isdigit() else str(ref)

    # -- framework hooks -------------------------------------------------------------------

    def auth_state(self, request: Request) -> str:
        """Return ``ok``, ``missing`` or ``bad`` for ``Authorization: Token <t>`` (or ``Bearer <t>``)."""
        header = (request.header("Authorization") or "").strip()
        if not header:
            return "missing"
        scheme, _, token = header.partition(" ")
        return "ok" if scheme.lower() in ("token", "bearer") and token.strip() == self.api_key else "bad"

    def handle(self, request: Request) -> Response:
        """Answer one giosg API request (path relative to ``/giosg``)."""
        return self._handle(request, None)

    def empty_page(self, request: Request) -> Response | None:
        """Answer a workflow-list page as if the organisation had no more workflows; None elsewhere."""
        return self._handle(request, "empty") if self._is_list(request) else None

    def overlap_page(self, request: Request, count: int) -> Response | None:
        """Answer a later workflow-list page preceded by the ``count`` workflows the previous page ended with."""
        if not self._is_list(request) or self._page_number(request) < 2:
            return None
        return self._handle(request, count)

    def _is_list(self, request: Request) -> bool:
        return request.method == "GET" and bool(_LIST.match(request.path))

    def _handle(self, request: Request, mode: str | int | None) -> Response:
        state = self.auth_state(request)
        if state == "missing":
            return _detail(401, "Authentication credentials were not provided.")
        if state == "bad":
            return _detail(401, "Invalid token.")
        path = request.path
        if match := _LIST.match(path):
            if request.method != "GET":
                return _detail(405, f'Method "{request.method}" not allowed.')
            if match.group(1) != self.org:
                return _detail(403, "You do not have access to this organization.")
            return self._list(request, mode)
        if match := _ITEM.match(path):
            if match.group(1) != self.org:
                return _detail(403, "You do not have access to this organization.")
            workflow = self.workflows.get(match.group(2))
            return Response.json(200, workflow) if workflow else _detail(404, "Not found.")
        if match := _REPORT.match(path):
            org, workflow_id, what = match.groups()
            if org != self.org:
                return _detail(403, "You do not have access to this organization.")
            if workflow_id not in self.workflows:
                return _detail(404, "Not found.")
            if workflow_id in self.forbidden:
                return _detail(403, "You do not have permission to perform this action.")
            if what == "info":
                return Response.json(200, self.info(workflow_id)) if request.method == "GET" \
                    else _detail(405, f'Method "{request.method}" not allowed.')
            if request.method != "POST":
                return _detail(405, f'Method "{request.method}" not allowed.')
            try:
                start, end = self._interval(request)
            except BadInterval as exc:
                return Response.json(400, {"interval": [str(exc)]})
            if self.settings["body_window"] == "ignore":
                start, end = self.end - 7 * DAY, self.end
            return Response.json(200, self.sidedata(workflow_id, start, end))
        return _detail(404, "Not found.")

    # -- workflow list ---------------------------------------------------------------------

    def _page_number(self, request: Request) -> int:
        try:
            return max(1, int(request.arg("page") or 1))
        except ValueError:
            return 1

    def _list(self, request: Request, mode: str | int | None) -> Response:
        number = self._page_number(request)
        ids = self.workflow_ids
        offset = (number - 1) * self.page_size
        if offset and offset >= len(ids):
            return _detail(404, "Invalid page.")
        start = max(0, offset - mode) if isinstance(mode, int) else offset
        chunk = [] if mode == "empty" else [self.workflows[i] for i in ids[start:offset + self.page_size]]
        more = offset + self.page_size < len(ids) and mode != "empty"
        body = {"next": self._link(request, number + 1) if more else None,
                "previous": self._link(request, number - 1) if number > 1 else None,
                "results": chunk}
        return Response.json(200, body)

    def _link(self, request: Request, number: int) -> str:
        host = request.header("Host") or "localhost"
        query = [(k, v) for k, values in request.query.items() if k != "page" for v in values]
        if number > 1:
            query.append(("page", str(number)))
        suffix = f"?{urlencode(query)}" if query else ""
        return f"http://{host}/{self.name}{request.path}{suffix}"

    # -- records ---------------------------------------------------------------------------

    def _make_workflow(self, n: int, workflow_id: str, revision: int) -> dict[str, Any]:
        created = self.start - timedelta(days=30 + 7 * n)
        modified = created + timedelta(days=3, hours=n) + timedelta(minutes=revision)
        kind = self.types[workflow_id]
        suffix = f" (rev {revision})" if revision else ""
        return {"id": workflow_id, "organization_id": self.org, "created_by_user": self._users[0],
                "updated_by_user": self._users[revision % 2], "name": f"Workflow {n + 1}: {kind}{suffix}",
                "description": f"Sandbox {kind} workflow number {n + 1}",
                "created_at": iso(created), "modified_at": iso(modified)}

    def info(self, workflow_id: str) -> dict[str, Any]:
        """Return ``/info/`` of a workflow: its type decides the sidedata shape.

        :param workflow_id: The workflow.
        """
        workflow = self.workflows[workflow_id]
        return {"id": workflow_id, "org_id": self.org, "type": self.types[workflow_id], "name": workflow["name"],
                "description": workflow["description"], "modified_at": workflow["modified_at"],
                "is_published": True, "start_date": workflow["created_at"], "end_date": None}

    def _interval(self, request: Request) -> tuple[datetime, datetime]:
        try:
            body = request.json()
        except orjson.JSONDecodeError:
            raise BadInterval("The request body is not JSON.") from None
        interval = body.get("interval") if isinstance(body, dict) else None
        if not isinstance(interval, dict):
            raise BadInterval("This field is required.")
        bounds = []
        for name in ("start", "end"):
            value = interval.get(name)
            try:
                moment = datetime.fromisoformat(value) if isinstance(value, str) else None
            except ValueError:
                moment = None
            if moment is None or moment.tzinfo is None:
                raise BadInterval(f"{name} must be an ISO 8601 datetime with an explicit UTC offset.")
            bounds.append(moment)
        if bounds[0] >= bounds[1]:
            raise BadInterval("start must be before end.")
        return bounds[0], bounds[1]

    def sidedata(self, workflow_id: str, start: datetime, end: datetime) -> dict[str, Any]:
        """Return a workflow's sidedata for ``[start, end)``: deterministic per seed, revision and interval.

        :param workflow_id: The workflow.
        :param start: The interval's start.
        :param end: The interval's end.
        """
        revision = self.revisions.get(workflow_id, 0)
        rng = random.Random(f"giosg:{self.config.seed}:{workflow_id}:{revision}:{iso(start)}:{iso(end)}")
        kind = self.types[workflow_id]
        # Figures for every hour asked for (the sandbox's range does not bound a workflow's history).
        lo, hi = start, min(end, start + timedelta(days=400))
        hours: dict[int, int] = {}
        days: dict[int, int] = {}
        cursor = lo
        while cursor < hi:
            step = min(cursor.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1), hi)
            count = int(rng.randrange(20, 400) * (step - cursor).total_seconds() / 3600)
            utc = cursor.astimezone(timezone.utc)
            hours[utc.hour] = hours.get(utc.hour, 0) + count
            days[utc.isoweekday()] = days.get(utc.isoweekday(), 0) + count
            cursor = step
        visits = sum(hours.values())
        if kind == "giosg-default":
            stat: dict[str, Any] = {}
            if end - start > DAY:
                stat["day_in_week"] = [[days.get(d, 0), d] for d in range(1, 8)]
            stat["hour_in_day"] = [[hours.get(h, 0), h] for h in range(24)]
            return {"timeframe_stat": stat, "unique_visitors_count": visits * 3 // 4,
                    "unique_sessions_count": visits}
        started = visits // 6
        purchases = rng.randrange(0, max(1, started // 10) + 1)
        sums = [{"value": round(purchases * rng.uniform(20, 90), 2), "currency": "EUR"}] if purchases else []
        if purchases > 3:
            sums.append({"value": round(rng.uniform(15, 60), 2), "currency": "USD"})
        return {"unique_visitors_count": visits // 2, "started_workflows_count": started,
                "visitor_purchase_sums": sums,
                "triggered_goals": [{"uuid": self._goals[GOALS[0]], "name": GOALS[0], "metrics": {"count": started}},
                                    {"uuid": self._goals[GOALS[1]], "name": GOALS[1],
                                     "metrics": {"count": started // 3}}],
                "affected_goals": [{"uuid": self._goals[GOALS[2]], "metrics": {"count": purchases}, "name": GOALS[2]},
                                   {"uuid": self._goals[GOALS[3]], "metrics": {"count": purchases + started // 20},
                                    "name": GOALS[3]}]}

    # -- control ---------------------------------------------------------------------------

    def control(self, action: str, request: Request) -> Response | None:
        """Answer ``/_sandbox/giosg/{truth,forbid,revise,settings}``."""
        if action == "truth" and request.method == "GET":
            return Response.json(200, self.truth(request.arg("start"), request.arg("end"),
                                                 request.arg("stream") or "workflows"))
        body = (request.json() or {}) if request.method == "POST" else {}
        if action == "forbid" and request.method == "POST":
            workflow_id = self._workflow_ref(str(body["workflow_id"]))
            if workflow_id not in self.workflows:
                raise ValueError(f"unknown workflow {workflow_id}")
            with self._lock:
                (self.forbidden.add if body.get("forbidden", True) else self.forbidden.discard)(workflow_id)
            return Response.json(200, {"forbidden": sorted(self.forbidden)})
        if action == "revise" and request.method == "POST":
            workflow_id = self._workflow_ref(str(body["workflow_id"]))
            with self._lock:
                revision = self.revisions[workflow_id] = self.revisions.get(workflow_id, 0) + 1
                self.workflows[workflow_id] = self._make_workflow(self.workflow_ids.index(workflow_id), workflow_id,
                                                                  revision)
            return Response.json(200, self.workflows[workflow_id])
        if action == "settings":
            if request.method == "POST":
                if set(body) - set(self.settings) or body.get("body_window", "honour") not in ("honour", "ignore"):
                    raise ValueError("settings: body_window must be honour or ignore")
                with self._lock:
                    self.settings.update(body)
            return Response.json(200, self.settings)
        return None

    def reset(self) -> None:
        """Restore the seeded workflows, lift 403s set by control, honour the body's interval again."""
        with self._lock:
            self.revisions: dict[str, int] = {}
            self.workflows = {wf: self._make_workflow(n, wf, 0) for n, wf in enumerate(self.workflow_ids)}
            self.forbidden = set(self._default_forbidden)
            self.settings = {"body_window": "honour"}

    def truth(self, start: str | None, end: str | None, stream: str) -> dict[str, Any]:
        """Return the ids of a stream: every workflow, or each workflow's sidedata per day piece of [start, end).

        :param start: ISO start (inclusive); the sandbox's start when None.
        :param end: ISO end (exclusive); the sandbox's end when None.
        :param stream: ``workflows`` or ``sidedata``.
        """
        if stream == "workflows":
            ids = list(self.workflow_ids)
        elif stream == "sidedata":
            lo = self.start if start is None else _parse(start)
            hi = self.end if end is None else _parse(end)
            ids = [interval_key(wf, a, b) for wf in self.workflow_ids for a, b in daily_pieces(lo, hi)]
        else:
            raise ValueError("stream must be workflows or sidedata")
        return {"count": len(ids), "ids": sorted(ids)}


def _parse(value: str) -> datetime:
    from sandbox.timeutil import parse_timestamp

    return datetime.fromtimestamp(parse_timestamp(value) / 1000, timezone.utc)
