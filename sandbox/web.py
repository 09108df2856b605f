"""Request and response values shared by the server and the vendor apps."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message
from typing import Any, Protocol

import orjson

JSON_TYPE = "application/json; charset=utf-8"


@dataclass
class Request:
    """One HTTP request, with the path relative to the vendor prefix."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes = b""
    #: The request target exactly as received (vendor prefix, path and query).
    target: str = ""

    def header(self, name: str, default: str | None = None) -> str | None:
        """Return a header value (case-insensitive).

        :param name: the header name.
        :param default: the value when the header is absent.
        """
        return self.headers.get(name, default)

    def arg(self, name: str, default: str | None = None) -> str | None:
        """Return the last value of a query parameter.

        :param name: the parameter name.
        :param default: the value when the parameter is absent.
        """
        values = self.query.get(name)
        return values[-1] if values else default

    def args(self, name: str) -> list[str]:
        """Return every value of a repeatable query parameter.

        :param name: the parameter name.
        """
        return list(self.query.get(name, []))

    def json(self) -> Any:
        """Return the body parsed as JSON, or None when there is no body.

        :raises orjson.JSONDecodeError: if the body is not JSON.
        """
        if not self.body:
            return None
        return orjson.loads(self.body)


@dataclass
class Response:
    """One HTTP response; the server always sets Content-Length from ``body``."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: Set by the fault layer: close the socket with a TCP reset instead of answering.
    reset: bool = False
    #: Set by the fault layer: announce the full Content-Length, send only this many bytes of
    #: the body, then close the connection.
    truncate_at: int | None = None

    @classmethod
    def json(cls, status: int, obj: Any, headers: dict[str, str] | None = None) -> Response:
        """Build a JSON response.

        :param status: the HTTP status.
        :param obj: the value to serialize.
        :param headers: extra headers.
        """
        return cls.raw(status, orjson.dumps(obj), JSON_TYPE, headers)

    @classmethod
    def raw(
        cls, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> Response:
        """Build a response from bytes already serialized.

        :param status: the HTTP status.
        :param body: the body bytes.
        :param content_type: the Content-Type value.
        :param headers: extra headers.
        """
        merged = {"Content-Type": content_type}
        merged.update(headers or {})
        return cls(status, body, merged)


class VendorApp(Protocol):
    """What the server needs from one vendor simulator.

    Optional members, looked up with ``getattr`` by the fault layer:

    - ``window_params: tuple[str, ...]`` -- the query parameters that bound a time window
      (dropped by the ``ignore_window`` fault).
    - ``empty_page(request) -> Response | None`` -- the answer the endpoint gives when there is
      no data (``empty`` fault); None when the endpoint has no such page.
    - ``overlap_page(request, count) -> Response | None`` -- the normal answer, preceded by the
      ``count`` records the previous page of the same paging chain ended with (``duplicates``
      fault); None when the request does not continue a paging chain.
    """

    name: str

    def handle(self, request: Request) -> Response:
        """Answer one vendor API request (path relative to the vendor prefix)."""

    def auth_state(self, request: Request) -> str:
        """Return ``ok``, ``missing`` or ``bad`` for the request's credentials."""

    def control(self, action: str, request: Request) -> Response | None:
        """Answer ``/_sandbox/<vendor>/<action>``; None means unknown action."""

    def reset(self) -> None:
        """Drop test-made state (revisions, stores) back to the seeded state."""
