"""Hook for the LeadBoxer v1 API: leads by day filter and ``nextToken``, then sessions and events per parent."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from requests.auth import AuthBase

from lead_pipelines.common.errors import VendorAPIError, VendorConfigError, VendorRejectedError
from lead_pipelines.common.http_hook import VendorHttpHook, parse_retry_after
from lead_pipelines.common.pacing import RateLimit
from lead_pipelines.common.records import Page
from lead_pipelines.leadboxer.settings import DEFAULT_PAGE_SIZE, MAX_RESTARTS, SOURCE

if TYPE_CHECKING:
    import requests
    from requests import PreparedRequest

    from lead_pipelines.common.windows import Window

LEADS_PATH = "/v1/leads"
SESSIONS_PATH = "/v1/leads/sessions"
EVENTS_PATH = "/v1/leads/events"
#: Calls for one parent's children when LeadBoxer answers fewer than the parent counts.
CHILD_ATTEMPTS = 3


class LeadBoxerAuth(AuthBase):
    """Send the API key in the ``x-api-key`` header, as the v1 API expects.

    :param api_key: The account's API key.
    """

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        request.headers["x-api-key"] = self.api_key
        return request


class TokenExpiredError(Exception):
    """LeadBoxer refused a ``nextToken`` (they live 10 minutes): the listing must start again.

    :param error: The vendor's answer, as the hook raised it.
    """

    def __init__(self, error: VendorAPIError) -> None:
        super().__init__(str(error))
        self.error = error


def day_filter(start: datetime, end: datetime, zone: ZoneInfo, field: str = "eventEsTimestamp") -> str:
    """Return the ``criteriaTimeFilter`` of the days (in ``zone``) covering ``[start, end)``.

    :param start: First instant wanted.
    :param end: First instant not wanted.
    :param zone: The zone LeadBoxer reads the dates in.
    :param field: The time field filtered on.
    """
    first = start.astimezone(zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    return f"{field}|between|{first:%d/%m/%Y}-{last:%d/%m/%Y}"


class LeadBoxerHook(VendorHttpHook):
    """Interact with the LeadBoxer v1 API (``/v1/leads``, ``/v1/leads/sessions``, ``/v1/leads/events``).

    :param leadboxer_conn_id: Connection whose host is the API base URL (e.g. ``https://api.leadboxer.com``),
        whose password is the API key and whose extras hold ``site`` (the dataset id), ``time_zone`` and
        ``rate_limit_per_minute``.
    """

    conn_name_attr = "leadboxer_conn_id"
    default_conn_name = "leadboxer_default"
    conn_type = "leadboxer"
    hook_name = "LeadBoxer"
    vendor_name = "LeadBoxer"
    default_headers = {"Accept": "application/json"}
    source = SOURCE

    def __init__(self, leadboxer_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(leadboxer_conn_id, **kwargs)
        self.leadboxer_conn_id = leadboxer_conn_id
        self._calls = itertools.count(1)

    def validate_connection(self, conn) -> None:
        """Raise :class:`VendorConfigError` when the API key or the dataset id is missing."""
        super().validate_connection(conn)
        extras = conn.extra_dejson
        if not (extras.get("site") or extras.get("extra__leadboxer__site")):
            raise VendorConfigError(
                f"LeadBoxer connection {self.http_conn_id!r} has no dataset id: set the extra 'site'"
            )

    def _extract_auth(self, connection) -> LeadBoxerAuth:
        return LeadBoxerAuth(connection.password)

    @property
    def site(self) -> str:
        """Return the dataset id sent as ``site``."""
        return str(self.extra("site"))

    @property
    def time_zone(self) -> ZoneInfo:
        """Return the zone LeadBoxer reads its date filters in."""
        name = str(self.extra("time_zone"))
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise VendorConfigError(f"LeadBoxer connection {self.http_conn_id!r}: unknown time_zone {name!r}") from None

    def rate_limit(self) -> RateLimit:
        """Return the account's limit per endpoint: ``rate_limit_per_minute`` calls a period (60 s)."""
        calls = float(self.extra("rate_limit_per_minute"))
        period = float(self.extra("rate_limit_period_seconds"))
        if calls <= 0 or period <= 0:
            raise VendorConfigError(f"LeadBoxer connection {self.http_conn_id!r}: rate_limit_per_minute and "
                                    "rate_limit_period_seconds must be positive")
        return RateLimit(calls, period, per_endpoint=True)

    def retry_after(self, response: requests.Response) -> float | None:
        """Return how long LeadBoxer asks to wait: the longer of the header and the RFC 7807 body's ``retry-after``.

        :param response: A 429 or 5xx response.
        """
        waits = [parse_retry_after(response.headers.get("Retry-After"))]
        if "json" in response.headers.get("Content-Type", ""):
            try:
                body = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                body = None
            if isinstance(body, dict):
                waits.append(parse_retry_after(body.get("retry-after")))
                reset = body.get("rate-limit-reset")
                if isinstance(reset, (int, float)) and not isinstance(reset, bool):
                    waits.append(max(0.0, reset - datetime.now(timezone.utc).timestamp()))
        known = [w for w in waits if w is not None]
        return max(known) if known else None

    # -- paging ------------------------------------------------------------------------------

    def _pages(self, endpoint: str, params: list[tuple[str, Any]], window: Window | None,
               id_field: str) -> Iterator[Page]:
        """Yield one listing's pages, following ``nextToken`` until a page has none or no records.

        Records that repeat the previous page (a cursor that overlaps) are left out, so memory stays
        one page. An expired token raises :class:`TokenExpiredError`.
        """
        token: str | None = None
        previous: frozenset[Any] = frozenset()
        while True:
            query = [*params, *([("nextToken", token)] if token else [])]
            try:
                page = self.request_page("GET", endpoint, records_at=("data",), params=query, window=window,
                                         page=next(self._calls))
            except VendorRejectedError as exc:
                if token is not None and exc.status == 400:
                    raise TokenExpiredError(exc) from None
                raise
            ids = [r.get(id_field) if type(r) is dict else None for r in page.records]
            sent = len(page)
            if previous and any(i in previous for i in ids):
                keep = [n for n, i in enumerate(ids) if i is None or i not in previous]
                page = _subset(page, keep)
            previous = frozenset(i for i in ids if isinstance(i, str))
            envelope = page.envelope if isinstance(page.envelope, dict) else {}
            yield page
            token = envelope.get("nextToken")
            if not sent or not isinstance(token, str) or not token:
                return

    def iter_leads(self, window: Window, *, lookback: timedelta = timedelta(0),
                   page_size: int | None = None) -> Iterator[Page]:
        """Yield the leads whose last event lies in ``[window.start - lookback, window.end)``, a page at a time.

        LeadBoxer filters by whole days in its time zone, so this asks for the days covering the
        range sorted by ``lastEvent`` ascending, keeps the range's leads and stops once a page passes
        its end. An expired ``nextToken``, or a listing that ends short of the ``total`` it announced,
        starts the listing again (at most ``MAX_RESTARTS`` times), skipping the leads already yielded.

        :param window: The run's data interval.
        :param lookback: How far before the window to re-read (leads change as visitors return).
        :param page_size: Leads per page (``limit``); the connection's ``page_size`` when None.
        """
        lo_ms = _ms(window.start - lookback)
        hi_ms = _ms(window.end)
        size = int(page_size or self.extra("page_size", DEFAULT_PAGE_SIZE))
        params = [
            ("site", self.site),
            ("timeField", "eventEsTimestamp"),
            ("criteriaTimeFilter", day_filter(window.start - lookback, window.end, self.time_zone)),
            ("timeZone", self.time_zone.key),
            ("sortBy", "lastEvent|asc"),
            ("limit", size),
        ]
        resume = _Resume()
        for attempt in range(MAX_RESTARTS + 1):
            why = None
            try:
                complete = yield from self._lead_pass(params, window, lo_ms, hi_ms, resume)
            except TokenExpiredError as exc:
                why, error = "its nextToken expired", exc.error
            else:
                if complete:
                    return
                why = "it ended short of the total LeadBoxer announced"
                error = VendorAPIError(self.vendor_name, "GET", LEADS_PATH, window, 200,
                                       "the listing kept ending short of the total LeadBoxer announced")
            if attempt == MAX_RESTARTS:
                raise VendorAPIError(self.vendor_name, "GET", LEADS_PATH, window, error.status,
                                     f"{error.vendor_detail}; gave up after {MAX_RESTARTS} restarts of the listing")
            self.log.warning("LeadBoxer %s %s: %s; restarting the listing (%d of %d)", LEADS_PATH, window, why,
                             attempt + 1, MAX_RESTARTS)

    def _lead_pass(self, params, window: Window, lo_ms: int, hi_ms: int, resume: _Resume):
        """Yield one pass over the listing; return whether it was complete."""
        total = received = 0
        ordered, last = True, None
        for page in self._pages(LEADS_PATH, params, window, "use_id"):
            envelope = page.envelope if isinstance(page.envelope, dict) else {}
            if isinstance(envelope.get("total"), int):
                total = max(total, envelope["total"])
            received += len(page)
            keep, passed = [], False
            for n, record in enumerate(page.records):
                moment = _number(record.get("lastEvent")) if type(record) is dict else None
                if moment is None:
                    keep.append(n)  # the landing quarantines or rejects it, with its position
                    continue
                if last is not None and moment < last:
                    ordered = False  # the vendor did not sort: read to the end, skip nothing
                last = moment if last is None else max(last, moment)
                if moment >= hi_ms:
                    passed = True
                elif moment >= lo_ms and not (ordered and resume.seen(moment, record.get("use_id"))):
                    keep.append(n)
            kept = _subset(page, keep)
            if ordered:
                resume.note(kept.records)
            else:
                resume.forget()
            yield kept
            if passed and ordered:
                return True
        return not total or received >= total

    def iter_children(self, window: Window, parents: Iterable[tuple[str, int | None]], *, kind: str) -> Iterator[Page]:
        """Yield the sessions of each lead, or the events of each session, a parent at a time.

        Every child must name the parent it was asked for: a vendor that ignores the parent filter
        fails the window instead of landing other parents' children. A parent answered with fewer
        children than it counts (``total_number_visits``, ``event_count``) is asked again.

        :param window: The run's data interval (named in errors).
        :param parents: ``(parent id, children it counts or None)`` pairs, streamed.
        :param kind: ``sessions`` (parents are leads) or ``events`` (parents are sessions).
        """
        endpoint, param, parent_field, id_field = {
            "sessions": (SESSIONS_PATH, "leadId", "use_id", "session_id"),
            "events": (EVENTS_PATH, "sessionId", "session_id", "event_id"),
        }[kind]
        try:
            for parent, expected in parents:
                params = [("site", self.site), (param, parent), ("limit", DEFAULT_PAGE_SIZE)]
                for attempt in range(1, CHILD_ATTEMPTS + 1):
                    received = yield from self._children(endpoint, params, window, id_field, parent_field, parent)
                    if expected is None or received >= expected:
                        break
                    self.log.warning("LeadBoxer %s %s: %s %s answered %d of the %d it counts; %s", endpoint,
                                     window, param, parent, received, expected,
                                     "asking again" if attempt < CHILD_ATTEMPTS else "keeping what LeadBoxer holds")
        finally:
            # Release the parents' warehouse cursor now, not whenever the generator is collected.
            close = getattr(parents, "close", None)
            if close is not None:
                close()

    def _children(self, endpoint, params, window, id_field, parent_field, parent):
        """Yield one parent's children (restarting on an expired token); return how many arrived."""
        for attempt in range(MAX_RESTARTS + 1):
            received = 0
            try:
                for page in self._pages(endpoint, params, window, id_field):
                    for n, record in enumerate(page.records, 1):
                        if type(record) is dict and record.get(parent_field) != parent:
                            raise VendorAPIError(
                                self.vendor_name, "GET", endpoint, window, 200,
                                f"asked for the {endpoint.rsplit('/', 1)[-1]} of one {parent_field} and got record "
                                f"{n} of another: LeadBoxer ignored the {params[1][0]} filter, so nothing of this "
                                "window was landed", page=page.number)
                    received += len(page)
                    yield page
                return received
            except TokenExpiredError as exc:
                if attempt == MAX_RESTARTS:
                    raise exc.error from None
                self.log.warning("LeadBoxer %s %s: nextToken expired; restarting the listing", endpoint, window)
        return 0

    def test_connection(self) -> tuple[bool, str]:
        """Ask for one lead of today to check the base URL, the API key and the dataset id."""
        try:
            self.request_json("GET", LEADS_PATH, params={
                "site": self.site, "criteriaTimeFilter": "eventEsTimestamp|exactly|0", "limit": 1})
        except Exception as exc:  # the UI shows the message; it is already free of secrets
            return False, str(exc)
        return True, "Connection to LeadBoxer works."


class _Resume:
    """Where a restarted listing picks up: the newest ``lastEvent`` yielded and the leads yielded at it."""

    def __init__(self) -> None:
        self.moment: int | None = None
        self.ids: set[Any] = set()

    def seen(self, moment: int, use_id: Any) -> bool:
        return self.moment is not None and (moment < self.moment or (moment == self.moment and use_id in self.ids))

    def note(self, records: list[Any]) -> None:
        for record in records:
            moment = _number(record.get("lastEvent")) if type(record) is dict else None
            if moment is None:
                continue
            if self.moment is None or moment > self.moment:
                self.moment, self.ids = moment, set()
            if moment == self.moment:
                self.ids.add(record.get("use_id"))

    def forget(self) -> None:
        self.moment, self.ids = None, set()


def _subset(page: Page, keep: list[int]) -> Page:
    """Return the page with only the records at ``keep`` (their bytes as sent)."""
    if len(keep) == len(page):
        return page
    problems = None if page.problems is None else [page.problems[n] for n in keep]
    return Page([page.records[n] for n in keep], [page.raw[n] for n in keep], problems, page.envelope, page.number)


def _number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
