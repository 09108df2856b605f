"""Hook for giosg's workflow APIs: the paged workflow list and the per-interval sidedata query."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from requests.auth import AuthBase

from lead_pipelines.common.errors import VendorAPIError, VendorConfigError
from lead_pipelines.common.http_hook import VendorHttpHook
from lead_pipelines.common.records import Page, PageDecodeError, decode_page, natural_key
from lead_pipelines.giosg.settings import SOURCE

if TYPE_CHECKING:
    from requests import PreparedRequest

    from lead_pipelines.common.windows import Window

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
DAY = timedelta(days=1)


class GiosgTokenAuth(AuthBase):
    """Send ``Authorization: Token <api token>``, giosg's scheme for user API tokens.

    :param token: The API token.
    """

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        request.headers["Authorization"] = f"Token {self.token}"
        return request


def iso(moment: datetime) -> str:
    """Return a moment as ISO 8601 in UTC with an explicit offset, e.g. ``2024-06-01T00:00:00+00:00``.

    :param moment: An aware datetime.
    """
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def daily_intervals(window: Window) -> list[tuple[datetime, datetime]]:
    """Cut a window at UTC midnights: one sidedata interval per day (or part of a day) it covers.

    :param window: The half-open data interval.
    """
    pieces, cursor, end = [], window.start.astimezone(timezone.utc), window.end.astimezone(timezone.utc)
    while cursor < end:
        midnight = datetime(cursor.year, cursor.month, cursor.day, tzinfo=timezone.utc) + DAY
        pieces.append((cursor, min(midnight, end)))
        cursor = min(midnight, end)
    return pieces


def sidedata_key(workflow_id: str, start: datetime, end: datetime) -> str:
    """Return the record id of one workflow's sidedata for one interval.

    :param workflow_id: The workflow's UUID.
    :param start: The interval's start.
    :param end: The interval's end (exclusive).
    """
    return natural_key(workflow_id, iso(start), iso(end))


def _one_object(body: bytes) -> Page:
    """Decode a body that is one JSON object as a one-record page, keeping its exact bytes."""
    page = decode_page(b"[" + body.strip(b" \t\r\n") + b"]")
    if len(page) != 1 or not isinstance(page.records[0], dict):
        raise PageDecodeError("expected one JSON object")
    return page


class GiosgHook(VendorHttpHook):
    """Interact with giosg's workflow list and workflow reporting APIs.

    :param giosg_conn_id: Connection whose host is the API base URL (``https://api.giosg.com``), whose
        password is an API token and whose extra ``organization_id`` is the organisation's UUID.
    """

    conn_name_attr = "giosg_conn_id"
    default_conn_name = "giosg_default"
    conn_type = "giosg"
    hook_name = "giosg"
    vendor_name = "giosg"
    default_headers = {"Accept": "application/json"}
    source = SOURCE

    def __init__(self, giosg_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(giosg_conn_id, **kwargs)
        self.giosg_conn_id = giosg_conn_id

    def _extract_auth(self, connection) -> GiosgTokenAuth:
        return GiosgTokenAuth(connection.password)

    def validate_connection(self, conn) -> None:
        """Raise :class:`VendorConfigError` without an API token or a UUID ``organization_id`` extra."""
        if not conn.password:
            raise VendorConfigError(f"giosg connection {self.giosg_conn_id!r} has no API token in its password field")
        org = conn.extra_dejson.get("organization_id") or conn.extra_dejson.get("extra__giosg__organization_id")
        if not isinstance(org, str) or not _UUID.match(org):
            raise VendorConfigError(f"giosg connection {self.giosg_conn_id!r} needs the extra organization_id: "
                                    "the organisation's UUID")

    @property
    def organization_id(self) -> str:
        """Return the organisation's UUID, lower-cased as giosg writes ids."""
        self.connection  # noqa: B018 - validated there
        return str(self.extra("organization_id")).lower()

    def workflows_path(self) -> str:
        """Return the organisation's workflow list path."""
        return f"/api/objectives/v1/orgs/{self.organization_id}/workflows"

    def sidedata_path(self, workflow_id: str) -> str:
        """Return a workflow's sidedata path.

        :param workflow_id: The workflow's UUID.
        """
        return f"/api/reporting/workflow/v1/orgs/{self.organization_id}/workflows/{workflow_id}/sidedata/"

    def iter_workflows(self, window: Window | None = None) -> Iterator[Page]:
        """Yield the organisation's workflows, one page at a time, following ``next`` until it is null.

        ``next`` is a full URL: it is followed only on the connection's own scheme, host and port, so
        the token never goes elsewhere. A page reached through ``next`` that holds nothing means the
        list changed under the reader (giosg never links to an empty page): the call fails so a retry
        reads the list again.

        :param window: The run's data interval, named in errors.
        """
        url: str | None = self.workflows_path()
        number = 0
        seen: set[str] = set()
        while url:
            number += 1
            page = self.request_page("GET", url, records_at=("results",), window=window, page=number)
            if number > 1 and not len(page):
                raise VendorAPIError(self.vendor_name, "GET", self.workflows_path(), window, 200,
                                     "a page linked by 'next' holds no workflow: the list changed while it was "
                                     "read; read it again", page=number)
            yield page
            following = page.envelope.get("next") if isinstance(page.envelope, dict) else None
            if following is not None and not isinstance(following, str):
                raise VendorAPIError(self.vendor_name, "GET", self.workflows_path(), window, 200,
                                     "'next' is neither a URL nor null", page=number)
            if following and urlsplit(following)[:2] != urlsplit(self.url_from_endpoint(""))[:2]:
                raise VendorAPIError(self.vendor_name, "GET", self.workflows_path(), window, 200,
                                     "'next' points at another host; not followed, so the token stays with the "
                                     "configured host", page=number)
            if following in seen:
                raise VendorAPIError(self.vendor_name, "GET", self.workflows_path(), window, 200,
                                     "'next' repeats a page already read; refusing to loop", page=number)
            if following:
                seen.add(following)
            url = following

    def iter_sidedata(self, workflow_id: str, window: Window) -> Iterator[Page]:
        """Yield a workflow's sidedata, one call (a one-record page) per day of the window, as giosg sent it.

        Each interval is sent with explicit UTC offsets (giosg does not document how it reads a bare
        time); the record id is (workflow, interval start, interval end). A page-navigation answer whose
        ``day_in_week`` counts visits on weekdays the interval cannot reach (a day of slack either side
        for the time zone giosg reads it in) answered another interval: the call fails clearly.

        :param workflow_id: The workflow's UUID.
        :param window: The half-open data interval.
        """
        path = self.sidedata_path(workflow_id)
        for number, (start, end) in enumerate(daily_intervals(window), start=1):
            body = {"interval": {"start": iso(start), "end": iso(end)}}
            page = self.request("POST", path, _one_object, json_body=body, window=window,
                                idempotent=True, page=number)
            page.number = number
            page.ids = [sidedata_key(workflow_id, start, end)]
            stray = _stray_weekdays(page.records[0], start, end)
            if stray:
                raise VendorAPIError(self.vendor_name, "POST", path, window, 200,
                                     f"day_in_week counts visits on weekdays {stray}, outside the interval "
                                     f"{iso(start)} to {iso(end)}: giosg answered another interval", page=number)
            yield page

    def test_connection(self) -> tuple[bool, str]:
        """List the first page of workflows to check the base URL, the token and the organisation."""
        try:
            self.request_json("GET", self.workflows_path())
        except Exception as exc:  # the UI shows the message; it is already free of secrets
            return False, str(exc)
        return True, "Connection to giosg works."


def _stray_weekdays(record: Any, start: datetime, end: datetime) -> list[int]:
    """Return ISO weekdays with visits in ``timeframe_stat.day_in_week`` that ``[start, end)`` cannot reach."""
    stat = record.get("timeframe_stat") if isinstance(record, dict) else None
    pairs = stat.get("day_in_week") if isinstance(stat, dict) else None
    if not isinstance(pairs, list) or end - start > 5 * DAY:
        return []
    reachable, cursor = set(), start - DAY
    while cursor < end + DAY:
        reachable.add(cursor.isoweekday())
        cursor += timedelta(hours=1)
    return sorted({p[1] for p in pairs if isinstance(p, list) and len(p) == 2 and isinstance(p[1], int)
                   and p[0] and p[1] not in reachable})
