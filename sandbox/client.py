"""Drive the sandbox control API (``/_sandbox``) from tests and the demo."""

from __future__ import annotations

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
                  status: int | None = None) -> str:
        """Register a fault and return its id.

        :param vendor: e.g. ``leadconduit``.
        :param kind: 429, 500, 502, 503, reset, slow, malformed or html.
        :param path: prefix of the path after the vendor prefix; None = any.
        :param method: HTTP method; None = any.
        :param after: let this many matching requests through first.
        :param times: how many requests to fault; -1 = forever.
        :param retry_after: Retry-After seconds for 429.
        :param delay: seconds to stall for ``slow``.
        :param status: status for ``html`` (default 502).
        """
        spec: dict[str, Any] = {"vendor": vendor, "kind": str(kind), "after": after,
                                "times": times}
        optional = {"path": path, "method": method, "retry_after": retry_after,
                    "delay": delay, "status": status}
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

    def reset(self) -> None:
        """Clear faults, the request log, revisions and saved reports."""
        self._call("POST", "/reset")
