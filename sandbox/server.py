"""The sandbox server: routes vendor prefixes, applies faults, logs requests, serves /_sandbox."""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from sandbox.faults import (
    MODIFIER_KINDS,
    FaultStore,
    NotApplicable,
    RequestLog,
    answer,
    parse_body_for_log,
    render_fault,
    rewrite_request,
)
from sandbox.timeutil import iso_seconds
from sandbox.web import Request, Response, VendorApp

CONTROL_PREFIX = "/_sandbox"


@dataclass
class SandboxConfig:
    """Settings shared by every vendor simulator."""

    seed: int = 7
    start_ms: int = 1717200000000  # 2024-06-01T00:00:00Z
    end_ms: int = 1717286400000  # 2024-06-02T00:00:00Z
    events_per_hour: int = 40
    #: Vendor-specific settings, e.g. ``{"leadconduit_api_key": "..."}``.
    options: dict[str, Any] = field(default_factory=dict)


class Sandbox:
    """All vendor apps plus the shared fault store and request log."""

    def __init__(self, config: SandboxConfig, apps: dict[str, VendorApp]) -> None:
        """Bind vendor apps to their prefixes (``/<name>``).

        :param config: the shared settings.
        :param apps: vendor name -> app.
        """
        self.config = config
        self.apps = apps
        self.faults = FaultStore()
        self.log = RequestLog()

    def dispatch(self, method: str, target: str, headers: Message, body: bytes) -> Response:
        """Answer one request.

        :param method: the HTTP method.
        :param target: the request target (path and query).
        :param headers: the request headers.
        :param body: the request body.
        """
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        path = parts.path or "/"
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            request = Request(method, path[len(CONTROL_PREFIX):] or "/", query, headers, body,
                              target)
            try:
                return self._control(request)
            except (ValueError, TypeError, RecursionError, orjson.JSONDecodeError) as exc:
                return Response.json(400, {"error": "Bad Request", "message": str(exc)})
        name, _, rest = path.lstrip("/").partition("/")
        app = self.apps.get(name)
        if app is None:
            return Response.json(404, {"error": "Not Found", "message": f"no vendor at /{name}"})
        request = Request(method, "/" + rest, query, headers, body, target)
        return self._vendor(app, request)

    def _vendor(self, app: VendorApp, request: Request) -> Response:
        faults = self.faults.pick(app.name, request.method, request.path)
        served = request
        for fault in faults:
            if fault.kind in MODIFIER_KINDS:
                served = rewrite_request(fault, served, app)
        shaping = next((f for f in faults if f.kind not in MODIFIER_KINDS), None)
        response = None
        if shaping is not None:
            try:
                response = render_fault(shaping, served, app)
            except NotApplicable:
                self.faults.refund(shaping)
                faults.remove(shaping)
                shaping = None
        if response is None:
            response = answer(app, served)
            if shaping is not None and shaping.kind == "lost_response":
                time.sleep(shaping.delay)  # the vendor acted; its answer never reaches the caller
                response = Response(0, reset=True)
        primary = shaping or (faults[0] if faults else None)
        self.log.record(
            {
                "vendor": app.name,
                "method": request.method,
                "path": request.path,
                "query": request.query,
                "status": None if response.reset else response.status,
                "fault": primary.kind if primary else None,
                "faults": [f.kind for f in faults],
                "auth": app.auth_state(request),
                "accept": request.header("Accept"),
                "body": parse_body_for_log(request.body),
                "ts": time.time(),
            }
        )
        return response

    def _control(self, request: Request) -> Response:
        method, path = request.method, request.path.rstrip("/") or "/"
        if path == "/health" and method == "GET":
            return Response.json(
                200,
                {
                    "ok": True,
                    "vendors": sorted(self.apps),
                    "seed": self.config.seed,
                    "start": iso_seconds(self.config.start_ms),
                    "end": iso_seconds(self.config.end_ms),
                },
            )
        if path == "/faults":
            if method == "POST":
                fault = self.faults.add(request.json() or {})
                return Response.json(201, {"id": fault.id})
            if method == "DELETE":
                self.faults.clear()
                return Response.json(200, {"ok": True})
            if method == "GET":
                return Response.json(200, self.faults.list())
        if path == "/requests":
            if method == "GET":
                return Response.json(200, self.log.entries(request.arg("vendor")))
            if method == "DELETE":
                self.log.clear()
                return Response.json(200, {"ok": True})
        if path == "/reset" and method == "POST":
            self.faults.clear()
            self.log.clear()
            for app in self.apps.values():
                app.reset()
            return Response.json(200, {"ok": True})
        name, _, action = path.lstrip("/").partition("/")
        app = self.apps.get(name)
        if app is not None and action:
            response = app.control(action, request)
            if response is not None:
                return response
        return Response.json(404, {"error": "Not Found", "message": f"no control endpoint {path}"})


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive handler delegating to the bound :class:`Sandbox`."""

    protocol_version = "HTTP/1.1"
    # Two small writes (headers, body) plus Nagle and delayed ACKs cost ~40 ms per request.
    disable_nagle_algorithm = True
    # Idle keep-alive connections release their thread after this many seconds.
    timeout = 120
    server: SandboxHTTPServer

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        response = self.server.sandbox.dispatch(self.command, self.path, self.headers, body)
        if response.reset:
            self._reset_connection()
            return
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if response.truncate_at is not None:
                # Announce the whole body, send part of it, then close (FIN): the client reads
                # an incomplete body (urllib3 IncompleteRead, requests ChunkedEncodingError).
                if self.command != "HEAD":
                    self.wfile.write(response.body[:response.truncate_at])
                    self.wfile.flush()
                self.close_connection = True
            elif self.command != "HEAD" and response.body:
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (e.g. its read timeout fired during a ``slow`` fault).
            self.close_connection = True

    def _reset_connection(self) -> None:
        # SO_LINGER (1, 0) makes close() send RST instead of FIN; drop the makefile ref first so
        # close() really closes the descriptor now rather than after the handler returns.
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()
        self.connection.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Keep stderr quiet; the request log is the record."""


class SandboxHTTPServer(ThreadingHTTPServer):
    """Threading HTTP server carrying the :class:`Sandbox` it serves."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        """Bind the server.

        :param address: (host, port); port 0 picks a free port.
        :param sandbox: the sandbox to serve.
        """
        self.sandbox = sandbox
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore client disconnects (resets and timeouts are part of the game)."""
