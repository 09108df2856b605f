"""HTTP behaviour of the GetLandy API: Bearer tokens that expire, the OAuth refresh grant, ``GET /leads``.

``GET /leads`` marks what it returns as read unless ``markReaded=0``, and hides read leads unless
``withReaded=1``: the read flags are kept per lead. Whether ``from``/``to`` include their bounds is not
documented, so the simulator plays either reading (``--getlandy-exclusive-bounds`` or the ``bounds``
control action).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import parse_qs

import orjson

from sandbox.server import SandboxConfig
from sandbox.vendors.getlandy.data import Lead, LeadStore
from sandbox.web import JSON_TYPE, Request, Response

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
AUTH_ERROR = "API access ERROR - The resource owner or authorization server denied the request."
#: Share of leads another consumer already read (they come back only with ``withReaded=1``).
PRE_READ_PERCENT = 10


class BadRequest(Exception):
    """A parameter GetLandy would refuse: answered 400 in the error envelope."""


def envelope(leads: list[bytes], *, more: int = 0, state: str = "ok", error: str = "") -> bytes:
    """Return a ``/leads`` body: ``infos`` then the leads, byte for byte.

    :param leads: Each lead's JSON bytes.
    :param more: ``nbResultsMore``: unread leads left after this response.
    :param state: ``ok`` or ``error``.
    :param error: The error message.
    """
    infos = orjson.dumps({"nbResults": len(leads), "nbResultsMore": more, "state": state, "error": error})
    return b'{"infos":' + infos + b',"leads":[' + b",".join(leads) + b"]}"


def _error(status: int, message: str) -> Response:
    return Response.raw(status, envelope([], state="error", error=message), JSON_TYPE)


def parse_moment(name: str, value: str) -> float:
    """Return epoch seconds for an ISO 8601 value with ``+hhmm``, ``+hh:mm`` or ``Z``.

    :param name: The parameter, named in the error.
    :param value: The decoded value; a space is a ``+`` the client sent unencoded.
    """
    if " " in value:
        raise BadRequest(f"{name}: invalid date {value!r} (a '+' must be sent as %2B)")
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name}: invalid date {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _flag(request: Request, name: str, default: str) -> bool:
    value = request.arg(name, default) or default
    if value not in ("0", "1"):
        raise BadRequest(f"{name} must be 0 or 1")
    return value == "1"


@dataclass
class Token:
    """An access token: when it expires, and how many more calls it may serve (None: no count)."""

    expires_at: float
    uses_left: int | None = None


class GetLandyApp:
    """The GetLandy simulator mounted at ``/getlandy``."""

    name = "getlandy"
    #: Query parameters bounding the time window (the ``ignore_window`` fault drops them).
    window_params = ("from", "to")

    def __init__(self, config: SandboxConfig, access_token: str, *, client_id: str, client_secret: str,
                 refresh_token: str, token_ttl: float, inclusive: bool) -> None:
        """Create the app.

        :param config: The shared settings (seed, range, volume).
        :param access_token: The access token accepted from the start.
        :param client_id: The OAuth client id the token endpoint accepts.
        :param client_secret: Its secret.
        :param refresh_token: The refresh token of the one-time authorization.
        :param token_ttl: Lifetime of access tokens, in seconds.
        :param inclusive: Whether ``from``/``to`` include leads at exactly their instant.
        """
        self.store = LeadStore(config.seed, config.start_ms, config.end_ms, config.events_per_hour)
        self._initial = (access_token, refresh_token, token_ttl, inclusive)
        self._client = (client_id, client_secret)
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        """Restore the seeded state: read flags, tokens, their lifetime and the bounds' reading."""
        access, refresh, ttl, inclusive = self._initial
        with self._lock:
            self.ttl = ttl
            self.inclusive = inclusive
            self.marked: set[str] = set()
            self.tokens = {access: Token(time.monotonic() + ttl)}
            # Refresh tokens rotate on every grant; older ones stay valid (GetLandy's rule is unknown).
            self.refresh_tokens = {refresh}
            self.grants = 0

    # -- auth --------------------------------------------------------------------------------

    def _bearer(self, request: Request) -> str | None:
        header = request.header("Authorization") or ""
        scheme, _, token = header.strip().partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def _token_state(self, request: Request) -> str:
        if not request.header("Authorization"):
            return "missing"
        token = self.tokens.get(self._bearer(request) or "")
        if token is None or time.monotonic() >= token.expires_at or token.uses_left == 0:
            return "bad"
        return "ok"

    def _client_state(self, request: Request) -> str:
        form = self._form(request)
        client_id, secret = form.get("client_id"), form.get("client_secret")
        header = request.header("Authorization") or ""
        if header.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(header[6:].strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return "bad"
        if client_id is None:
            return "missing"
        return "ok" if (client_id, secret) == self._client else "bad"

    def auth_state(self, request: Request) -> str:
        """Return ``ok``, ``missing`` or ``bad``: the client's credentials at the token endpoint, else the Bearer.

        :param request: The request.
        """
        cached = getattr(request, "_getlandy_auth", None)
        if cached is not None:
            return cached
        return self._client_state(request) if self._is_token(request) else self._token_state(request)

    @staticmethod
    def _is_token(request: Request) -> bool:
        return (request.path.rstrip("/") or "/") == "/oauth/token"

    @staticmethod
    def _form(request: Request) -> dict[str, str]:
        try:
            pairs = parse_qs(request.body.decode(), keep_blank_values=True)
        except UnicodeDecodeError:
            return {}
        return {k: v[-1] for k, v in pairs.items()}

    def _authorize(self, request: Request) -> Response | None:
        """Check the Bearer token and count the call against it; a 401 envelope when refused."""
        with self._lock:
            state = self._token_state(request)
            request._getlandy_auth = state  # type: ignore[attr-defined] - the log reports the decision made
            if state != "ok":
                return _error(401, AUTH_ERROR)
            token = self.tokens[self._bearer(request) or ""]
            if token.uses_left is not None:
                token.uses_left -= 1
        return None

    def _grant(self, request: Request) -> Response:
        if request.method != "POST":
            return Response.json(405, {"error": "invalid_request", "error_description": "POST only"})
        client = self._client_state(request)
        request._getlandy_auth = client  # type: ignore[attr-defined]
        if client != "ok":
            return Response.json(401, {"error": "invalid_client", "error_description": "Client authentication failed"})
        form = self._form(request)
        if form.get("grant_type") != "refresh_token":
            return Response.json(400, {"error": "unsupported_grant_type",
                                       "error_description": "the sandbox grants refresh_token only"})
        with self._lock:
            if form.get("refresh_token") not in self.refresh_tokens:
                return Response.json(400, {"error": "invalid_grant", "error_description": "Invalid refresh token"})
            access, refresh = f"glat-{secrets.token_hex(16)}", f"glrt-{secrets.token_hex(16)}"
            self.tokens[access] = Token(time.monotonic() + self.ttl)
            self.refresh_tokens.add(refresh)
            self.grants += 1
            ttl = self.ttl
        return Response.json(200, {"access_token": access, "token_type": "Bearer", "expires_in": int(ttl),
                                   "refresh_token": refresh, "scope": "leads"}, {"Cache-Control": "no-store"})

    # -- routes ------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one GetLandy API request.

        :param request: The request, path relative to ``/getlandy``.
        """
        return self._handle(request, None)

    def empty_page(self, request: Request) -> Response | None:
        """Answer ``GET /leads`` as if there were no lead (``empty`` fault); None for other routes.

        :param request: The request.
        """
        return self._handle(request, "empty") if self._is_leads(request) else None

    def overlap_page(self, request: Request, count: int) -> Response | None:
        """Answer ``GET /leads`` preceded by the ``count`` leads just before ``from`` (``duplicates`` fault).

        :param request: The request; one without ``from`` does not continue a paging chain (None).
        :param count: How many leads to repeat.
        """
        return self._handle(request, count) if self._is_leads(request) and request.arg("from") else None

    @staticmethod
    def _is_leads(request: Request) -> bool:
        return request.method == "GET" and (request.path.rstrip("/") or "/") == "/leads"

    def _handle(self, request: Request, mode: str | int | None) -> Response:
        if self._is_token(request):
            return self._grant(request)
        if not self._is_leads(request):
            return _error(404, f"Unknown resource {request.method} {request.path}")
        refused = self._authorize(request)
        if refused is not None:
            return refused
        try:
            return self._leads(request, mode)
        except BadRequest as exc:
            return _error(400, str(exc))

    def _leads(self, request: Request, mode: str | int | None) -> Response:
        lo = parse_moment("from", request.arg("from")) if request.arg("from") else float(self.store.start)
        hi = parse_moment("to", request.arg("to")) if request.arg("to") else float(self.store.end)
        with_read = _flag(request, "withReaded", "0")
        mark = _flag(request, "markReaded", "1")
        try:
            limit = int(request.arg("limit") or DEFAULT_LIMIT)
        except ValueError:
            raise BadRequest("limit must be an integer") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
        # The docs' example writes the filter as url=...; the table calls it onlyFromUrl.
        url = request.arg("onlyFromUrl") or request.arg("url")
        with self._lock:
            served: list[Lead] = []
            more = 0
            if mode == "empty":
                leads: list[Lead] = []
            else:
                leads = self.store.before(lo, mode) if isinstance(mode, int) else []
                leads = [x for x in leads if (not url or x.url == url) and (with_read or not self.read(x.id))]
            for lead in [] if mode == "empty" else self.store.iter_range(
                    lo, hi, lo_open=not self.inclusive and bool(request.arg("from")),
                    hi_open=not self.inclusive and bool(request.arg("to"))):
                if url and lead.url != url:
                    continue
                unread = not self.read(lead.id)
                if len(served) < limit:
                    if with_read or unread:
                        served.append(lead)
                elif unread:
                    more += 1
            served = leads + served
            if mark:
                self.marked.update(x.id for x in served)
        return Response.raw(200, envelope([x.raw for x in served], more=more), JSON_TYPE)

    def read(self, lead_id: str) -> bool:
        """Tell whether a lead is read: seeded as read by another consumer, or marked through the API.

        :param lead_id: The lead's id.
        """
        return lead_id in self.marked or self.pre_read(lead_id)

    @staticmethod
    def pre_read(lead_id: str) -> bool:
        """Tell whether the seeded state has the lead read already (another consumer took it).

        :param lead_id: The lead's id.
        """
        return hashlib.sha256(lead_id.encode()).digest()[0] * 100 < 256 * PRE_READ_PERCENT

    # -- control -----------------------------------------------------------------------------

    def _range(self, request: Request) -> tuple[float, float]:
        lo = parse_moment("start", request.arg("start")) if request.arg("start") else float(self.store.start)
        hi = parse_moment("end", request.arg("end")) if request.arg("end") else float(self.store.end)
        return lo, hi

    def control(self, action: str, request: Request) -> Response | None:
        """Answer ``/_sandbox/getlandy/{truth,people,read-state,tokens,bounds}``.

        :param action: The path after ``/_sandbox/getlandy/``.
        :param request: The control request.
        """
        if action in ("truth", "people", "read-state") and request.method == "GET":
            try:
                lo, hi = self._range(request)
            except BadRequest as exc:
                raise ValueError(str(exc)) from None
            leads = list(self.store.iter_range(lo, hi, hi_open=True))
            if action == "truth":
                return Response.json(200, {"count": len(leads), "ids": [x.id for x in leads]})
            if action == "people":
                return Response.json(200, {x.id: x.person for x in leads if x.person})
            with self._lock:
                return Response.json(200, {"read": [x.id for x in leads if self.read(x.id)],
                                           "marked": [x.id for x in leads if x.id in self.marked]})
        if action == "tokens":
            return self._tokens(request)
        if action == "bounds":
            if request.method == "POST":
                self.inclusive = bool((request.json() or {}).get("inclusive", True))
            return Response.json(200, {"inclusive": self.inclusive})
        return None

    def _tokens(self, request: Request) -> Response:
        with self._lock:
            if request.method == "POST":
                body = request.json() or {}
                if "ttl" in body:
                    self.ttl = float(body["ttl"])
                now = time.monotonic()
                for token in self.tokens.values():
                    if body.get("expire_now"):
                        token.expires_at = now
                    if body.get("expire_after") is not None:
                        token.uses_left = int(body["expire_after"])
            live = sum(1 for t in self.tokens.values() if t.expires_at > time.monotonic() and t.uses_left != 0)
            return Response.json(200, {"ttl": self.ttl, "grants": self.grants, "live": live})

