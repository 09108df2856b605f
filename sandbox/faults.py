"""Injectable transport faults and the request log, shared by every vendor."""

from __future__ import annotations

import base64
import binascii
import html
import itertools
import json
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from urllib.parse import quote, quote_plus

import orjson

from sandbox.web import JSON_TYPE, Request, Response, VendorApp

#: Kinds that rewrite the request before the app sees it. They combine with each other and with
#: one response-shaping fault (every other kind) on the same request.
MODIFIER_KINDS = ("page_cap", "ignore_window")
#: ``lost_response``: the app handles the request as usual (a write is applied), then the answer is
#: held ``delay`` seconds and the connection reset, so the client times out or sees a reset: the
#: vendor acted, the caller cannot know it (a create or a send whose response was lost).
KINDS = ("429", "500", "502", "503", "reset", "slow", "malformed", "html", "truncated",
         "redirect_loop", "redirect_host", "echo", "echo_html", "empty", "duplicates", "lost_response",
         *MODIFIER_KINDS)
#: Query parameters a careless client may carry a secret in (``echo`` reflects them).
SECRET_PARAMS = ("api_key", "apikey", "key", "token", "access_token")
REDIRECT_HOST = "http://redirected.invalid"

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
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
    count: int = 5
    cap: int = 100
    param: str = "limit"
    params: list[str] | None = None
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


class NotApplicable(Exception):
    """Raised by :func:`render_fault` when a fault does not apply to this request."""


def _int(spec: dict[str, Any], name: str, default: int, low: int, high: int | None = None) -> int:
    value = spec.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{name} must be an integer")
    number = int(value)
    if number < low or (high is not None and number > high):
        raise ValueError(f"{name} must be between {low} and {high}" if high is not None
                         else f"{name} must be at least {low}")
    return number


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
        if not isinstance(spec, dict):
            raise ValueError("the fault must be a JSON object")
        kind = str(spec.get("kind", ""))
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        if not spec.get("vendor"):
            raise ValueError("vendor is required")
        param = spec.get("param")
        if param is not None and (not isinstance(param, str) or not param):
            raise ValueError("param must be a non-empty string")
        params = spec.get("params")
        if params is not None and (not isinstance(params, list)
                                   or not all(isinstance(x, str) and x for x in params)):
            raise ValueError("params must be a list of parameter names")
        default_status = 500 if kind in ("echo", "echo_html") else 502
        fault = Fault(
            id="",
            vendor=str(spec["vendor"]),
            kind=kind,
            path=spec.get("path"),
            method=spec.get("method"),
            after=_int(spec, "after", 0, 0),
            times=_int(spec, "times", 1, -1),
            # -1: a 429 without any Retry-After header (the client falls back to its own backoff).
            retry_after=_int(spec, "retry_after", 1, -1),
            delay=float(5.0 if spec.get("delay") is None else spec["delay"]),
            status=_int(spec, "status", default_status, 100, 599),
            count=_int(spec, "count", 5, 1),
            cap=_int(spec, "cap", 100, 1),
            param=param or "limit",
            params=None if params is None else list(params),
        )
        with self._lock:
            fault.id = f"f{next(self._ids)}"
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

    def pick(self, vendor: str, method: str, path: str) -> list[Fault]:
        """Consume budget and return the faults to apply to a request, in the order registered.

        Every matching request-rewriting fault (:data:`MODIFIER_KINDS`) with budget left applies,
        plus the first matching other fault with budget left.

        :param vendor: the vendor name.
        :param method: the HTTP method.
        :param path: the path after the vendor prefix.
        """
        picked: list[Fault] = []
        shaping = False
        with self._lock:
            for fault in self._faults:
                modifier = fault.kind in MODIFIER_KINDS
                if (not modifier and shaping) or fault.exhausted() \
                        or not fault.matches(vendor, method, path):
                    continue
                if fault.seen < fault.after:
                    fault.seen += 1
                    continue
                fault.applied += 1
                picked.append(fault)
                shaping = shaping or not modifier
        return picked

    def refund(self, fault: Fault) -> None:
        """Give back the budget a fault used on a request it turned out not to apply to.

        :param fault: a fault returned by :meth:`pick`.
        """
        with self._lock:
            fault.applied = max(0, fault.applied - 1)


def rewrite_request(fault: Fault, request: Request, app: VendorApp) -> Request:
    """Return the request the app sees under a request-rewriting fault.

    :param fault: a fault whose kind is in :data:`MODIFIER_KINDS`.
    :param request: the request as received (or as rewritten by earlier faults).
    :param app: the vendor app (``ignore_window`` asks it for ``window_params``).
    """
    query = {name: list(values) for name, values in request.query.items()}
    if fault.kind == "page_cap":
        values = query.get(fault.param)
        if not values:
            query[fault.param] = [str(fault.cap)]
        else:
            try:
                query[fault.param] = [str(min(int(values[-1]), fault.cap))]
            except ValueError:
                pass  # not a number: let the app reject it as it would anyway
    elif fault.kind == "ignore_window":
        names = fault.params if fault.params is not None else getattr(app, "window_params", ())
        for name in names:
            query.pop(name, None)
    return replace(request, query=query)


def _call(handler: Any, *args: Any) -> Response | None:
    try:
        return handler(*args)
    except Exception as exc:  # a simulator bug must still answer, like a real 500
        return Response.json(500, {"error": "Internal Server Error", "message": repr(exc)})


def answer(app: VendorApp, request: Request) -> Response:
    """Return the app's normal answer; a simulator exception becomes a JSON 500.

    :param app: the vendor app.
    :param request: the request.
    """
    return _call(app.handle, request)  # type: ignore[return-value]


def render_fault(fault: Fault, request: Request | None = None,
                 app: VendorApp | None = None) -> Response | None:
    """Build the response a fault sends; None means answer normally (after a ``slow`` delay).

    :param fault: the fault that applies.
    :param request: the request (needed by every kind added after ``html``).
    :param app: the vendor app (``truncated``, ``empty`` and ``duplicates`` ask it).
    :raises NotApplicable: when ``empty``/``duplicates`` do not apply to this request.
    """
    kind = fault.kind
    if kind == "slow":
        time.sleep(fault.delay)
        return None
    if kind in MODIFIER_KINDS or kind == "lost_response":
        return None
    if kind in ("truncated", "redirect_loop", "redirect_host", "echo", "echo_html", "empty",
                "duplicates"):
        if request is None or app is None:
            raise ValueError(f"fault kind {kind} needs the request and the app")
        return _render_request_fault(fault, request, app)
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
    headers = {"Retry-After": str(fault.retry_after)} if status == 429 and fault.retry_after >= 0 else None
    return Response.json(status, {"error": reason, "message": message}, headers)


def _render_request_fault(fault: Fault, request: Request, app: VendorApp) -> Response:
    kind = fault.kind
    if kind == "truncated":
        response = answer(app, request)
        response.truncate_at = len(response.body) // 2
        return response
    if kind == "redirect_loop":
        return _redirect(request.target or request.path)
    if kind == "redirect_host":
        return _redirect(REDIRECT_HOST + (request.target or request.path))
    if kind in ("echo", "echo_html"):
        return _echo(fault, request)
    if kind == "empty":
        hook = getattr(app, "empty_page", None)
        response = _call(hook, request) if hook else None
    else:  # duplicates
        hook = getattr(app, "overlap_page", None)
        response = _call(hook, request, fault.count) if hook else None
    if response is None:
        raise NotApplicable(kind)
    return response


def _redirect(location: str) -> Response:
    body = (f"<html>\r\n<head><title>302 Found</title></head>\r\n<body>\r\n"
            f"<center><h1>302 Found</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n").encode()
    return Response.raw(302, body, "text/html", {"Location": location})


@dataclass
class Credential:
    """One secret a request carried, and where."""

    source: str  # basic, bearer, token, authorization, x-api-key, query:<name>
    user: str
    secret: str
    encoding: str = "utf-8"
    forms: dict[str, str] = field(default_factory=dict)


def _forms(user: str, secret: str, encoding: str = "utf-8") -> dict[str, str]:
    """Return every rendering of a secret a careless server or proxy might send back.

    :param user: the Basic username ("" when there is none).
    :param secret: the secret.
    :param encoding: how the client encoded it (base64 forms encode the same bytes).
    """
    return {
        "raw": secret,
        "percent": quote(secret, safe=""),
        "plus": quote_plus(secret),
        "html": html.escape(secret),
        "json": json.dumps(secret)[1:-1],
        "b64": base64.b64encode(secret.encode(encoding)).decode(),
        "basic_b64": base64.b64encode(f"{user}:{secret}".encode(encoding)).decode(),
    }


def credentials(request: Request) -> list[Credential]:
    """Return the secrets a request carries: Authorization, X-Api-Key, secret-ish query params.

    :param request: the request.
    """
    found: list[Credential] = []
    header = request.header("Authorization")
    if header:
        scheme, _, param = header.strip().partition(" ")
        param = param.strip()
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(param, validate=True)
            except (binascii.Error, ValueError):
                found.append(Credential("authorization", "", param))
            else:
                encoding = "utf-8"
                try:
                    text = decoded.decode(encoding)
                except UnicodeDecodeError:
                    encoding = "latin-1"  # what requests sends for non-ASCII str credentials
                    text = decoded.decode(encoding)
                user, colon, password = text.partition(":")
                found.append(Credential("basic", user, password, encoding) if colon
                             else Credential("basic", "", text, encoding))
        elif scheme.lower() in ("bearer", "token"):
            found.append(Credential(scheme.lower(), "", param))
        else:
            found.append(Credential("authorization", "", param or scheme))
    api_key = request.header("X-Api-Key")
    if api_key:
        found.append(Credential("x-api-key", "", api_key))
    for name, values in request.query.items():
        if name.lower() in SECRET_PARAMS:
            found.extend(Credential(f"query:{name}", "", v) for v in values if v)
    for cred in found:
        cred.forms = _forms(cred.user, cred.secret, cred.encoding)
    return found


def _header_safe(value: str) -> str:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return quote(value, safe="")
    return quote(value, safe="") if any(c in value for c in "\r\n\0") else value


def _echo(fault: Fault, request: Request) -> Response:
    status = fault.status
    reason = _REASONS.get(status, "Error")
    creds = credentials(request)
    authorization = request.header("Authorization")
    host = request.header("Host") or "localhost"
    url = f"http://{host}{request.target or request.path}"
    message = (f"upstream rejected key {creds[0].secret}" if creds
               else "upstream rejected a request without credentials")
    debug = {
        "authorization": authorization,
        "x_api_key": request.header("X-Api-Key"),
        "url": url,
        "credentials": [{"source": c.source, "user": c.user, **c.forms} for c in creds],
    }
    headers = {}
    reflected = authorization or (creds[0].secret if creds else None)
    if reflected:
        headers["X-Debug-Authorization"] = _header_safe(reflected)
    if fault.kind == "echo":
        # orjson writes non-ASCII as UTF-8 and json.dumps escapes it: "detail" is written with
        # json.dumps, so both spellings of every secret appear verbatim in the body text.
        detail = "rejected credentials: " + " ".join(c.secret for c in creds)
        body = (b'{"error":' + orjson.dumps(reason) + b',"message":' + orjson.dumps(message)
                + b',"detail":' + json.dumps(detail).encode() + b',"debug":'
                + orjson.dumps(debug) + b"}")
        return Response.raw(status, body, JSON_TYPE, headers)
    esc = html.escape
    rows = "".join(
        f"<tr><th>{esc(c.source)} {esc(name)}</th><td>{esc(value)}</td></tr>\n"
        for c in creds for name, value in c.forms.items()
    )
    pre = "".join(f"{c.source} {name}: {value}\n" for c in creds for name, value in c.forms.items())
    page = (
        f"<!DOCTYPE html>\n<html>\n<head><title>{status} {esc(reason)}</title></head>\n<body>\n"
        f"<h1>{status} {esc(reason)}</h1>\n<p>{esc(message)}</p>\n"
        f"<p>Authorization: {esc(authorization or '')}</p>\n<p>URL: {esc(url)}</p>\n"
        f"<table>\n{rows}</table>\n"
        f"<pre>\n{message}\nAuthorization: {authorization or ''}\nURL: {url}\n{pre}</pre>\n"
        "</body>\n</html>\n"
    )
    return Response.raw(status, page.encode("utf-8"), "text/html; charset=utf-8", headers)


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
