"""Hook for the Pirsch API v1: oAuth client tokens (renewed), statistics per day in the domain's zone, offset paging."""

from __future__ import annotations

import hashlib

import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from lead_pipelines.common.auth import BearerAuth, NoAuthorization
from lead_pipelines.common.errors import VendorAPIError, VendorConfigError
from lead_pipelines.common.http_hook import VendorHttpHook
from lead_pipelines.common.records import Page, decode_page, natural_key
from lead_pipelines.pirsch.settings import API, DEFAULT_TRAILING_DAYS, MAX_PAGE_SIZE, SOURCE, STATISTICS, STATISTICS_STREAMS

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from lead_pipelines.common.windows import Window

TOKEN_PATH = f"{API}/token"
DOMAIN_PATH = f"{API}/domain"
EVENT_BATCH_PATH = f"{API}/event/batch"
EVENT_LIST_PATH = f"{STATISTICS}/event/list"
#: Tokens obtained in this process, by (base URL, client id, digest of the secret): tasks run in one
#: process (``dag.test``, a test session) share one instead of each asking for its own, and a
#: connection with another secret (a wrong one in "Test connection") never borrows it.
#: Value: (token, expiry in epoch seconds).
_TOKENS: dict[tuple[str, str, str], tuple[str, float | None]] = {}


def days_of(window: Window, zone: ZoneInfo, trailing_days: int) -> list[date]:
    """Return the days (in ``zone``) a run of ``window`` reads: its own, and ``trailing_days`` before them.

    A window's days are the dates of its start and of each whole day after it that still lies in the
    window, so consecutive daily windows read consecutive days whatever the zone's offset.

    :param window: The run's data interval.
    :param zone: The domain's time zone.
    :param trailing_days: Days re-read before the window's first day.
    """
    own: list[date] = []
    moment = window.start
    while moment < window.end:
        own.append(moment.astimezone(zone).date())
        moment += timedelta(days=1)
    first = own[0]
    trailing = [first - timedelta(days=n) for n in range(trailing_days, 0, -1)]
    return list(dict.fromkeys([*trailing, *own]))


def row_key(stream: str, domain_id: str, day: date, row: Any, request: dict[str, str] | None = None) -> str | None:
    """Return a statistics row's record id: its domain, day and dimension values; None where one is missing.

    :param stream: The stream name.
    :param domain_id: The domain asked for.
    :param day: The day asked for (``from`` = ``to``).
    :param row: The decoded row.
    :param request: The extra filter the row was asked with (``event_meta_key`` of ``event_meta``).
    """
    if not isinstance(row, dict):
        return None
    fields = STATISTICS_STREAMS[stream][1]
    parts: list[Any] = [domain_id, day.isoformat()]
    if stream == "event_meta":
        parts.append((request or {}).get("event_meta_key"))
    for name in fields:
        value = row.get(name)
        if name == "country_code" and value is None:
            value = row.get("country")  # the document's spelling; the client and the API send country_code
        if name == "meta":
            if value is None:
                value = {}
            if not isinstance(value, dict):
                return None
            parts.extend(x for pair in sorted(value.items()) for x in pair)
            continue
        if value is None or isinstance(value, (dict, list)):
            return None
        parts.append(value)
    return natural_key(*parts)


def _decode(body: bytes) -> Page:
    """Decode a statistics body: an array, an object (``total``) or ``null`` (an empty list)."""
    stripped = body.strip(b" \t\r\n")
    if stripped == b"null":
        return Page([], [])
    if stripped.startswith(b"{"):
        return decode_page(b"[" + stripped + b"]")
    return decode_page(stripped)


class PirschHook(VendorHttpHook):
    """Interact with the Pirsch API v1 as an oAuth client (statistics scope).

    :param pirsch_conn_id: Connection whose host is the API base URL (``https://api.pirsch.io``), whose
        login is the client id and password the client secret; extras ``domain_id`` (or ``hostname``),
        ``time_zone`` and ``trailing_days``.
    """

    conn_name_attr = "pirsch_conn_id"
    default_conn_name = "pirsch_default"
    conn_type = "pirsch"
    hook_name = "Pirsch"
    vendor_name = "Pirsch"
    default_headers = {"Accept": "application/json"}
    source = SOURCE

    def __init__(self, pirsch_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(pirsch_conn_id, **kwargs)
        self.pirsch_conn_id = pirsch_conn_id
        self._bearer = BearerAuth()
        self._access_token: str | None = None
        self.renew_before_first_call()
        self._domain: dict[str, Any] | None = None
        self._reused = False

    def validate_connection(self, conn: Connection) -> None:
        """Raise :class:`VendorConfigError` unless the client id and secret are set."""
        if not conn.login or not conn.password:
            raise VendorConfigError(
                f"Pirsch connection {self.http_conn_id!r} needs the client id in its login field and the "
                "client secret in its password field"
            )

    def _extract_auth(self, connection: Connection) -> BearerAuth:
        return self._bearer

    def secrets(self) -> tuple[str | None, ...]:
        """Return the client secret and the access token obtained with it."""
        return (self.connection.password, self._access_token)

    def credentials_expiring(self) -> bool:
        """Tell whether there is no token yet, or the one in use expires within the renewal margin."""
        if not self._reused:
            self._reused = True
            self._reuse_token()
        return super().credentials_expiring()

    def _token_key(self) -> tuple[str, str, str]:
        conn = self.connection
        secret = hashlib.sha256((conn.password or "").encode()).hexdigest()
        return conn.host or "", conn.login or "", secret

    def _reuse_token(self) -> None:
        """Take the token this process obtained last with the same client, where it is still valid."""
        cached = _TOKENS.get(self._token_key())
        if cached is None or self._access_token is not None:
            return
        token, expires = cached
        left = None if expires is None else expires - time.time()
        if left is not None and left <= self._margin:
            return
        self._access_token = self._bearer.token = token
        self._expires_at = None if left is None else self._clock() + left
        self.redactor  # noqa: B018 - mask the token before anything can log it

    def renew_credentials(self) -> bool:
        """Obtain an access token from ``POST /api/v1/token`` with the client id and secret (JSON body)."""
        self.session  # noqa: B018 - the session (and the Bearer auth it carries) exists before it is renewed
        conn = self.connection
        # Idempotent in effect: a token request creates nothing that a second one would duplicate.
        body = self.request("POST", TOKEN_PATH, orjson.loads, json_body={"client_id": conn.login,
                            "client_secret": conn.password}, auth=NoAuthorization(), idempotent=True)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise VendorAPIError(self.vendor_name, "POST", TOKEN_PATH, None, 200,
                                 "the token endpoint answered without an access_token")
        self._access_token = token
        self.redactor  # noqa: B018 - mask the new token before anything can log it
        self._bearer.token = token
        lifetime = _seconds_until(body.get("expires_at"))
        self.remember_lifetime(lifetime)
        _TOKENS[self._token_key()] = (token, None if self._expires_at is None else time.time() + lifetime)
        self._reused = True
        return True

    # -- domain ------------------------------------------------------------------------------

    def domain(self) -> dict[str, Any]:
        """Return the domain this connection lands (from ``GET /api/v1/domain``), found by id or hostname."""
        if self._domain is None:
            wanted_id, hostname = self.extra("domain_id"), self.extra("hostname")
            found = self.request_json("GET", DOMAIN_PATH)
            domains = found if isinstance(found, list) else [found] if isinstance(found, dict) else []
            domains = [d for d in domains if isinstance(d, dict)]
            match = [d for d in domains if (wanted_id and d.get("id") == wanted_id)
                     or (not wanted_id and hostname and d.get("hostname") == hostname)]
            if not wanted_id and not hostname and len(domains) == 1:
                match = domains
            if not match:
                if wanted_id and not (self.extra("time_zone")):
                    raise VendorConfigError(f"Pirsch connection {self.http_conn_id!r}: the client sees no domain "
                                            f"{wanted_id!r}; set time_zone or check domain_id")
                if not wanted_id:
                    raise VendorConfigError(f"Pirsch connection {self.http_conn_id!r}: no domain with hostname "
                                            f"{hostname!r} among the {len(domains)} the client sees; set domain_id")
                match = [{"id": wanted_id}]
            self._domain = match[0]
        return self._domain

    @property
    def domain_id(self) -> str:
        """Return the domain id sent as ``id``."""
        return str(self.extra("domain_id") or self.domain()["id"])

    @property
    def time_zone(self) -> ZoneInfo:
        """Return the zone days are read in: the connection's ``time_zone``, else the domain's."""
        name = self.extra("time_zone") or self.domain().get("timezone") or "UTC"
        try:
            return ZoneInfo(str(name))
        except (ZoneInfoNotFoundError, ValueError):
            raise VendorConfigError(f"Pirsch connection {self.http_conn_id!r}: unknown time_zone {name!r}") from None

    @property
    def trailing_days(self) -> int:
        """Return how many days before the window each run reads again."""
        try:
            days = int(self.extra("trailing_days", DEFAULT_TRAILING_DAYS))
        except (TypeError, ValueError):
            days = -1
        if days < 0:
            raise VendorConfigError(f"Pirsch connection {self.http_conn_id!r}: trailing_days must be a whole "
                                    "number of days, 0 or more")
        return days

    # -- statistics --------------------------------------------------------------------------

    def iter_stream(self, stream: str, window: Window, *, trailing_days: int | None = None) -> Iterator[Page]:
        """Yield one stream's rows for the window's days and the trailing days before, a page at a time.

        Each day is asked on its own (``from`` = ``to`` = the day, ``tz`` = the domain's zone) and paged
        with ``offset``/``limit`` (at most 100) until a short page; every row gets its natural key as
        record id, and a row repeated across pages is landed once.

        :param stream: A key of ``STATISTICS_STREAMS``.
        :param window: The run's data interval.
        :param trailing_days: Days re-read before the window; the connection's ``trailing_days`` when None.
        """
        zone = self.time_zone
        domain_id = self.domain_id
        trailing = self.trailing_days if trailing_days is None else trailing_days
        for day in days_of(window, zone, trailing):
            base = {"id": domain_id, "from": day.isoformat(), "to": day.isoformat(), "tz": zone.key}
            if stream == "event_meta":
                for event, key in self._event_meta_keys(base, window):
                    yield from self._day_pages(stream, day, {**base, "event": event, "event_meta_key": key},
                                               window, domain_id)
            else:
                yield from self._day_pages(stream, day, base, window, domain_id)

    def _event_meta_keys(self, base: dict[str, str], window: Window) -> list[tuple[str, str]]:
        """Return the (event, metadata key) pairs of one day, from ``/statistics/events``."""
        pairs: list[tuple[str, str]] = []
        for page in self._paged(f"{STATISTICS}/events", base, window):
            for row in page.records:
                if isinstance(row, dict) and isinstance(row.get("name"), str):
                    pairs += [(row["name"], k) for k in row.get("meta_keys") or [] if isinstance(k, str)]
        return list(dict.fromkeys(pairs))

    def _day_pages(self, stream: str, day: date, params: dict[str, str], window: Window,
                   domain_id: str) -> Iterator[Page]:
        endpoint = STATISTICS_STREAMS[stream][0]
        seen: set[str] = set()
        for page in self._paged(endpoint, params, window):
            ids = [row_key(stream, domain_id, day, r, params) for r in page.records]
            keep = [n for n, rid in enumerate(ids) if rid is None or rid not in seen]
            seen.update(rid for rid in ids if rid is not None)
            if len(keep) != len(page):
                page = _subset(page, keep)
                ids = [ids[n] for n in keep]
            page.ids = ids
            if len(page):
                yield page

    def _paged(self, endpoint: str, params: dict[str, str], window: Window) -> Iterator[Page]:
        """Yield the pages of one query: ``offset`` grows by 100 until a page brings fewer new rows.

        An empty page is asked once more before it ends the query (one empty answer may be a hiccup).
        """
        offset = 0
        previous: set[bytes] = set()
        number = 0
        while True:
            number += 1
            query = {**params, "offset": offset, "limit": MAX_PAGE_SIZE}
            page = self.request("GET", endpoint, _decode, params=query, window=window, idempotent=True, page=number)
            if not len(page):
                page = self.request("GET", endpoint, _decode, params=query, window=window, idempotent=True,
                                    page=number)
            # Rows the previous page ended with, sent again (a shifting offset), do not count as new.
            fresh = sum(1 for raw in page.raw if raw not in previous)
            previous = set(page.raw)
            page.number = number
            yield page
            if fresh < MAX_PAGE_SIZE:
                return
            offset += MAX_PAGE_SIZE

    # -- events: sent in batches, read back ----------------------------------------------------

    def send_events(self, items: Sequence[Mapping[str, Any]]) -> None:
        """Send events in one ``POST /api/v1/event/batch`` (each item with its RFC 3339 ``time``).

        Pirsch has no idempotency key: the call is not retried where the vendor may have acted (only a
        429, a refused connection, and a 401 answered by renewing the token, are sent again). A timeout
        or a reset raises :class:`VendorAPIError` with the outcome unknown: read back with
        :meth:`find_events` before sending again.

        :param items: The events, sorted by ``time`` (Pirsch orders sessions by arrival across batches).
        """
        self.request("POST", EVENT_BATCH_PATH, _no_body, json_body=list(items), idempotent=False)

    def find_events(self, day: date, name: str, meta: Mapping[str, str | Sequence[str]]) -> list[dict[str, Any]]:
        """Return the ``/statistics/event/list`` rows of event ``name`` on ``day`` whose metadata matches ``meta``.

        :param day: The day, in the domain's zone (the zone is sent as ``tz``).
        :param name: The event name (filter ``event``).
        :param meta: ``meta_<key>`` filters; a sequence of values means any of them (the parameter repeated).
        """
        zone = self.time_zone
        query: list[tuple[str, Any]] = [("id", self.domain_id), ("from", day.isoformat()), ("to", day.isoformat()),
                                        ("tz", zone.key), ("event", name)]
        for key, wanted in meta.items():
            query += [(f"meta_{key}", v) for v in ([wanted] if isinstance(wanted, str) else wanted)]
        rows: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self.request("GET", EVENT_LIST_PATH, _decode, idempotent=True,
                                params=[*query, ("offset", offset), ("limit", MAX_PAGE_SIZE)])
            rows += [r for r in page.records if isinstance(r, dict)]
            if len(page) < MAX_PAGE_SIZE:
                return rows
            offset += MAX_PAGE_SIZE

    def test_connection(self) -> tuple[bool, str]:
        """Obtain a token and read the domain, to check the base URL, the client and the domain."""
        try:
            self.domain()
        except Exception as exc:  # the UI shows the message; it is already free of secrets
            return False, str(exc)
        return True, "Connection to Pirsch works."


def _no_body(body: bytes) -> None:
    """Accept a write's answer: Pirsch sends 200 with an empty (undocumented) body."""
    return None


def _subset(page: Page, keep: list[int]) -> Page:
    """Return the page with only the records at ``keep`` (their bytes as sent)."""
    problems = None if page.problems is None else [page.problems[n] for n in keep]
    return Page([page.records[n] for n in keep], [page.raw[n] for n in keep], problems, page.envelope,
                number=page.number)


def _seconds_until(value: Any) -> float | None:
    """Return the seconds from now to an RFC 3339 ``expires_at`` (nanoseconds allowed), or None."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    head, dot, rest = text.partition(".")
    if dot:
        digits = "".join(c for c in rest if c.isdigit())
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest[len(digits):]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp() - time.time()
