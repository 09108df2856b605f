"""Hook for the LeadConduit REST API (``/events`` paged ascending by ``after_id``)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from requests.auth import AuthBase, _basic_auth_str

from lead_pipelines.common.errors import VendorAPIError
from lead_pipelines.common.http_hook import VendorHttpHook
from lead_pipelines.common.records import Page
from lead_pipelines.leadconduit.settings import EVENT_TYPES, MAX_PAGE_SIZE, SOURCE

if TYPE_CHECKING:
    from requests import PreparedRequest

    from lead_pipelines.common.windows import Window

_OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")


class LeadConduitAuth(AuthBase):
    """HTTP Basic auth with the API key as password; LeadConduit ignores the username.

    :param api_key: The account's API key.
    :param username: Sent as the username; the current docs use ``API``.
    """

    def __init__(self, api_key: str, username: str = "API") -> None:
        self.api_key = api_key
        self.username = username

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        request.headers["Authorization"] = _basic_auth_str(self.username, self.api_key)
        return request


def timestamp(moment: datetime) -> str:
    """Format a moment the way LeadConduit's docs do: ``2018-10-01T00:00:00.000Z``."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


class LeadConduitHook(VendorHttpHook):
    """Interact with the LeadConduit REST API.

    :param leadconduit_conn_id: Connection whose host is the API base URL (e.g.
        ``https://app.leadconduit.com``) and whose password is the API key.
    """

    conn_name_attr = "leadconduit_conn_id"
    default_conn_name = "leadconduit_default"
    conn_type = "leadconduit"
    hook_name = "LeadConduit"
    vendor_name = "LeadConduit"
    default_headers = {"Accept": "application/json"}
    source = SOURCE

    def __init__(self, leadconduit_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(leadconduit_conn_id, **kwargs)
        self.leadconduit_conn_id = leadconduit_conn_id

    def _extract_auth(self, connection) -> LeadConduitAuth:
        return LeadConduitAuth(connection.password, connection.login or "API")

    def iter_events(
        self,
        window: Window,
        *,
        types: Sequence[str] | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[Page]:
        """Yield the events created in ``window``, oldest first, one page at a time.

        ``/events`` sorts descending unless told otherwise and its ``start``/``end`` are inclusive,
        so this asks for ``sort=asc`` between the window's start and one millisecond before its end,
        then follows ``after_id`` until a page comes back empty. A short page does not end the
        window: the vendor may cap the page size below what was asked (the current and legacy
        docs disagree on the default and the cap).

        :param window: The half-open data interval ``[start, end)``.
        :param types: Event types to ask for; all types when None.
        :param page_size: Events per page, at most 1000.
        """
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
        base = [*self._window_params(window, types), ("sort", "asc"), ("limit", page_size)]
        after_id: str | None = None
        number = 0
        while True:
            number += 1
            params = base + ([("after_id", after_id)] if after_id else [])
            page = self.request_page("GET", "/events", params=params, window=window, page=number)
            if not len(page):
                return
            last = _last_event_id(page.records)
            if last is None:
                raise VendorAPIError(
                    self.vendor_name, "GET", "/events", window, 200,
                    "no record on the page has an event id to page on; refusing to loop", page=number,
                )
            yield page
            if after_id is not None and last <= after_id:
                # Only repeats of events already read: the vendor has nothing newer. The vendor's
                # own count for the window, checked before commit, catches a page it skipped.
                return
            after_id = last

    def count_events(self, window: Window, *, types: Sequence[str] | None = None) -> int:
        """Return LeadConduit's own count of the window's events, from ``/events/stats``.

        The stats count events (``by_lead=false``) whose outcome is success, failure or error: compare
        it with the landed events :func:`~lead_pipelines.leadconduit.settings.counted_by_stats` selects.

        :param window: The half-open data interval.
        :param types: Event types counted; all types when None.
        """
        params = [*self._window_params(window, types or EVENT_TYPES), ("by_lead", "false")]
        rows = self.request_json("GET", "/events/stats", params=params, window=window)
        if not isinstance(rows, list) or not all(isinstance(r, dict) and isinstance(r.get("total"), int) for r in rows):
            raise VendorAPIError(self.vendor_name, "GET", "/events/stats", window, 200,
                                 "expected a JSON array of rows with a numeric 'total'")
        return sum(r["total"] for r in rows)

    def list_reports(self) -> list[dict[str, Any]]:
        """Return every saved report of the account (``GET /reports``), the user's own among them."""
        return self._objects("GET", "/reports")

    def create_report(self, definition: dict[str, Any]) -> dict[str, Any]:
        """Create a report (``POST /reports``) and return it with its ``id``.

        Not idempotent: a second call makes a second report, so only a 429 or a refused connection
        is retried here. After any other failure the caller must look the name up before creating again.

        :param definition: ``{"name", "columns", "group_by", ...}``.
        """
        return self._object("POST", "/reports", json_body=definition, idempotent=False)

    def update_report(self, report_id: str, definition: dict[str, Any]) -> dict[str, Any]:
        """Replace a report's definition (``PUT /reports/{id}``) and return the updated report.

        :param report_id: The report's id.
        :param definition: The full definition, the vendor's own fields included.
        """
        return self._object("PUT", f"/reports/{report_id}", json_body=definition)

    def delete_report(self, report_id: str) -> None:
        """Delete a report (``DELETE /reports/{id}``).

        :param report_id: The report's id.
        """
        self.request_json("DELETE", f"/reports/{report_id}")

    def run_report(self, report_id: str, window: Window) -> list[dict[str, Any]]:
        """Run a saved report over a window (``GET /reports/{id}/run``) and return its rows.

        The run's ``start``/``end`` are inclusive, so the end sent is the window's last millisecond.

        :param report_id: The report's id.
        :param window: The half-open data interval.
        """
        return self._objects("GET", f"/reports/{report_id}/run", params=self._window_params(window, ()),
                             window=window)

    def list_flows(self) -> list[dict[str, Any]]:
        """Return the account's flows (``GET /flows``): ``[{"id", "name", ...}]``."""
        return self._objects("GET", "/flows")

    def _object(self, method: str, endpoint: str, **kwargs: Any) -> dict[str, Any]:
        body = self.request_json(method, endpoint, **kwargs)
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise VendorAPIError(self.vendor_name, method, endpoint, kwargs.get("window"), 200,
                                 "expected a JSON object with a string 'id'")
        return body

    def _objects(self, method: str, endpoint: str, **kwargs: Any) -> list[dict[str, Any]]:
        body = self.request_json(method, endpoint, **kwargs)
        if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
            raise VendorAPIError(self.vendor_name, method, endpoint, kwargs.get("window"), 200,
                                 "expected a JSON array of objects")
        return body

    def _window_params(self, window: Window, types: Sequence[str] | None) -> list[tuple[str, Any]]:
        unknown = set(types or ()) - set(EVENT_TYPES)
        if unknown:
            raise ValueError(f"unknown LeadConduit event types {sorted(unknown)}; expected some of {EVENT_TYPES}")
        return [
            ("start", timestamp(window.start)),
            ("end", timestamp(window.end - timedelta(milliseconds=1))),
            *(("type", t) for t in types or ()),
        ]

    def test_connection(self) -> tuple[bool, str]:
        """Ask for one event to check the base URL and the API key."""
        try:
            self.request_json("GET", "/events", params={"limit": 1, "sort": "desc"})
        except Exception as exc:  # the UI shows the message; it is already free of secrets
            return False, str(exc)
        return True, "Connection to LeadConduit works."


def _last_event_id(records: list[Any]) -> str | None:
    """Return the page's last event id usable as ``after_id`` (a record without one is skipped)."""
    for record in reversed(records):
        value = record.get("id") if isinstance(record, dict) else None
        if isinstance(value, str) and _OBJECT_ID.match(value):
            return value
    return None
