"""Injectable transport faults and the request log, shared by every vendor."""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from sandbox.web import JSON_TYPE, Response

KINDS = ("429", "500", "502", "503", "reset", "slow", "malformed", "html")

_REASONS = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Fault:
    """One fault rule; ``after`` requests pass untouched, then ``times`` are faulted."""

    id: str
    vendor: str
    kind: str
    path: str | None = None
    method: str | None = None
    after: int = 0
    times: int = 1
    retry_after: int = 1
    delay: float = 5.0
    status: int = 502
    seen: int = 0
    applied: int = 0

    def matches(self, vendor: str, method: str, path: str) -> bool:
        """Tell whether the rule covers a request.

        :param vendor: the vendor name.
        :param method: the HTTP method.
        :param path: the path after the vendor prefix.
        """
        if self.vendor != vendor:
            return False
        if self.method and self.method.upper() != method:
            return False
        return self.path is None or path.startswith(self.path)

    def exhausted(self) -> bool:
        """Tell whether the rule has no budget left."""
        return self.times >= 0 and self.applied >= self.times


class FaultStore:
    """Thread-safe list of active faults, applied first-match-with-budget."""

    def __init__(self) -> None:
        """Create an empty store."""
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, spec: dict[str, Any]) -> Fault:
        """Validate and register a fault.

        :param spec: the JSON body posted to ``/_sandbox/faults``.
        :raises ValueError: on an unknown kind or a bad field.
        """
        kind = str(spec.get("kind", ""))
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        if not spec.get("vendor"):
            raise ValueError("vendor is required")
        with self._lock:
            fault = Fault(
                id=f"f{next(self._ids)}",
                vendor=str(spec["vendor"]),
                kind=kind,
                path=spec.get("path"),
                method=spec.get("method"),
                after=int(spec.get("after") or 0),
                times=int(1 if spec.get("times") is None else spec["times"]),
                retry_after=int(1 if spec.get("retry_after") is None else spec["retry_after"]),
                delay=float(5.0 if spec.get("delay") is None else spec["delay"]),
                status=int(spec.get("status") or 502),
            )
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    def list(self) -> list[dict[str, Any]]:
        """Return the faults as dicts."""
        with self._lock:
            return [asdict(f) for f in self._faults]

    def pick(self, vendor: str, method: str, path: str) -> Fault | None:
        """Consume budget and return the fault to apply to a request, if any.

        :param vendor: the vendor name.
        :param method: the HTTP method.
        :param path: the path after the vendor prefix.
        """
        with self._lock:
            for fault in self._faults:
                if fault.exhausted() or not fault.matches(vendor, method, path):
                    continue
                if fault.seen < fault.after:
                    fault.seen += 1
                    continue
                fault.applied += 1
                return fault
        return None


def render_fault(fault: Fault) -> Response | None:
    """Build the response a fault sends; None for ``slow`` (answer normally after a delay).

    :param fault: the fault that applies.
    """
    kind = fault.kind
    if kind == "slow":
        time.sleep(fault.delay)
        return None
    if kind == "reset":
        return Response(0, reset=True)
    if kind == "malformed":
        # A body cut mid-stream, as a proxy dropping the upstream connection would leave it.
        body = b'[{"id":"5fd4371e940df5a34a3888b2","type":"source","outcome":"succ'
        return Response.raw(200, body, JSON_TYPE)
    if kind == "html":
        status = fault.status
        title = f"{status} {_REASONS.get(status, 'Error')}"
        body = (
            f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n"
        ).encode()
        return Response.raw(status, body, "text/html")
    status = int(kind)
    if status == 502:
        return Response.raw(502, b"Bad Gateway", "text/plain; charset=utf-8")
    reason = _REASONS[status]
    message = {
        429: "Rate limit exceeded, retry later",
        500: "An unexpected error occurred",
        503: "The API service is currently unavailable, probably due to high load",
    }[status]
    headers = {"Retry-After": str(fault.retry_after)} if status == 429 else None
    return Response.json(status, {"error": reason, "message": message}, headers)


class RequestLog:
    """Bounded, thread-safe log of vendor requests in arrival order."""

    def __init__(self, maxlen: int = 100_000) -> None:
        """Create an empty log.

        :param maxlen: the oldest entries are dropped past this size.
        """
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=maxlen)

    def record(self, entry: dict[str, Any]) -> None:
        """Append one entry.

        :param entry: the already-sanitized log entry.
        """
        with self._lock:
            self._entries.append(entry)

    def entries(self, vendor: str | None = None) -> list[dict[str, Any]]:
        """Return the entries, optionally for one vendor.

        :param vendor: keep only this vendor's entries.
        """
        with self._lock:
            return [e for e in self._entries if vendor is None or e["vendor"] == vendor]

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._entries.clear()


def parse_body_for_log(body: bytes) -> Any:
    """Return a JSON body for the log, or None when it is absent or not JSON.

    :param body: the raw request body.
    """
    if not body:
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
