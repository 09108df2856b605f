"""Drive the sandbox control API (``/_sandbox``) from tests and the demo."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from typing import Any


def to_iso(value: datetime | str) -> str:
    """Return an ISO-8601 UTC string for an aware datetime (strings pass through).

    :param value: aware datetime or ISO string.
    """
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class SandboxClient:
    """A small stdlib client for the sandbox control API."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        """Point the client at a running sandbox.

        :param base_url: e.g. ``http://127.0.0.1:8900`` (no vendor prefix).
        :param timeout: per-call timeout in seconds.
        """
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Any = None,
              params: dict[str, str] | None = None) -> Any:
        url = f"{self.base_url}/_sandbox{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise RuntimeError(f"sandbox {method} {path} -> {exc.code}: {detail}") from None
        return json.loads(payload) if payload else None

    def health(self) -> dict[str, Any]:
        """Return the health document."""
        return self._call("GET", "/health")

    def add_fault(self, vendor: str, kind: str, *, path: str | None = None,
                  method: str | None = None, after: int = 0, times: int = 1,
                  retry_after: int | None = None, delay: float | None = None,
                  status: int | None = None, count: int | None = None, cap: int | None = None,
                  param: str | None = None, params: list[str] | None = None) -> str:
        """Register a fault and return its id (kinds and fields: ``sandbox/README.md``).

        :param vendor: e.g. ``leadconduit``.
        :param kind: 429, 500, 502, 503, reset, slow, malformed, html, truncated,
            redirect_loop, redirect_host, echo, echo_html, empty, duplicates, page_cap or
            ignore_window.
        :param path: prefix of the path after the vendor prefix; None = any.
        :param method: HTTP method; None = any.
        :param after: let this many matching requests through first.
        :param times: how many requests to fault; -1 = forever.
        :param retry_after: Retry-After seconds for 429.
        :param delay: seconds to stall for ``slow``.
        :param status: status for ``html`` (default 502), ``echo``/``echo_html`` (default 500).
        :param count: records repeated by ``duplicates`` (default 5).
        :param cap: the most records ``page_cap`` lets through (default 100).
        :param param: the query parameter ``page_cap`` caps (default ``limit``).
        :param params: the query parameters ``ignore_window`` drops (default: the vendor's).
        """
        spec: dict[str, Any] = {"vendor": vendor, "kind": str(kind), "after": after,
                                "times": times}
        optional = {"path": path, "method": method, "retry_after": retry_after,
                    "delay": delay, "status": status, "count": count, "cap": cap,
                    "param": param, "params": params}
        spec.update({k: v for k, v in optional.items() if v is not None})
        return self._call("POST", "/faults", spec)["id"]

    def clear_faults(self) -> None:
        """Remove every fault."""
        self._call("DELETE", "/faults")

    def requests(self, vendor: str) -> list[dict[str, Any]]:
        """Return the request log for a vendor, in arrival order.

        :param vendor: e.g. ``leadconduit``.
        """
        return self._call("GET", "/requests", params={"vendor": vendor})

    def clear_requests(self) -> None:
        """Empty the request log."""
        self._call("DELETE", "/requests")

    def truth(self, vendor: str, start: datetime | str, end: datetime | str, *,
              stream: str | None = None) -> dict[str, Any]:
        """Return a vendor's ground truth for [start, end): at least ``ids``, the window's record ids.

        :param vendor: e.g. ``leadconduit``.
        :param start: aware datetime or ISO string (inclusive).
        :param end: aware datetime or ISO string (exclusive).
        :param stream: the stream, for vendors with more than one.
        """
        params = {"start": to_iso(start), "end": to_iso(end)}
        if stream:
            params["stream"] = stream
        return self._call("GET", f"/{vendor}/truth", params=params)

    def people(self, vendor: str, start: datetime | str, end: datetime | str) -> dict[str, str]:
        """Return ``{record id: person key}`` for a vendor's records of [start, end) made by shared people.

        Records with the same person key are the same person (see :mod:`sandbox.people`), however
        each form wrote their email and phone: the answer the downstream identity join is tested on.

        :param vendor: e.g. ``leadconduit``.
        :param start: aware datetime or ISO string (inclusive).
        :param end: aware datetime or ISO string (exclusive).
        """
        return self._call("GET", f"/{vendor}/people", params={"start": to_iso(start), "end": to_iso(end)})

    def leadconduit_truth(self, start: datetime | str, end: datetime | str) -> dict[str, Any]:
        """Return the ids and counts of LeadConduit events created in [start, end).

        :param start: aware datetime or ISO string (inclusive).
        :param end: aware datetime or ISO string (exclusive).
        """
        return self._call("GET", "/leadconduit/truth",
                          params={"start": to_iso(start), "end": to_iso(end)})

    def leadconduit_revise(self, revision: int, fraction: float = 0.2) -> dict[str, Any]:
        """Serve about ``fraction`` of events changed; revision 0 restores the data.

        :param revision: the revision number (0 = original).
        :param fraction: the share of events revised.
        """
        return self._call("POST", "/leadconduit/revise",
                          {"revision": revision, "fraction": fraction})

    def leadconduit_inject(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Inject records that ``/events`` serves byte for byte among the generated events.

        Each record: ``raw`` (the exact JSON text; ``bytes`` are sent as ``raw_b64``) or
        ``raw_b64``, ``ts`` (epoch ms, ISO string or aware datetime) and optionally ``sort_id``
        (24 hex). Returns ``{"count", "records": [{"sort_id", "ts", "id"}], "total"}``.

        :param records: the records to add.
        """
        body = []
        for record in records:
            record = dict(record)
            if isinstance(record.get("raw"), (bytes, bytearray)):
                record["raw_b64"] = base64.b64encode(record.pop("raw")).decode()
            if isinstance(record.get("ts"), datetime):
                record["ts"] = to_iso(record["ts"])
            body.append(record)
        return self._call("POST", "/leadconduit/inject", {"records": body})

    def leadconduit_clear_injected(self) -> None:
        """Drop every injected record."""
        self._call("DELETE", "/leadconduit/inject")

    def reset(self) -> None:
        """Clear faults, the request log, revisions, saved reports and injected records."""
        self._call("POST", "/reset")
