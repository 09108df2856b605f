"""The base every vendor hook shares: one session, one retry policy, errors that name the window."""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urljoin, urlsplit

import orjson
import requests
import tenacity
from airflow.providers.http.hooks.http import HttpHook

from lead_pipelines.common.errors import VendorAPIError, VendorConfigError, VendorRejectedError
from lead_pipelines.common.pacing import LocalPacer, Pacer, RateLimit
from lead_pipelines.common.records import Page, PageDecodeError, decode_page
from lead_pipelines.common.secrets import Redactor, mask_in_airflow, scrub_personal

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from lead_pipelines.common.settings import SourceSettings
    from lead_pipelines.common.windows import Window

#: Statuses worth another try: throttling, the vendor's own trouble, and gateway failures.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

#: Redirects followed within one attempt, and only to the same scheme, host and port.
MAX_REDIRECTS = 5
_TAGS = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")


@dataclass
class HttpStats:
    """What one hook instance spent on the wire, for the run audit."""

    requests: int = 0
    retries: int = 0
    wait_seconds: float = 0.0
    #: Seconds spent waiting for call slots under the vendor's rate limit (see :mod:`.pacing`).
    paced_seconds: float = 0.0
    #: Times the credentials were renewed (expiring, or answered 401).
    renewals: int = 0


@dataclass(frozen=True)
class RetryPolicy:
    """How a hook retries a call that failed for a reason that may pass.

    :param max_attempts: Attempts per call, the first included.
    :param backoff_base: First backoff in seconds; doubles each attempt.
    :param backoff_max: Longest backoff between two attempts, in seconds.
    :param max_retry_after: Longest ``Retry-After`` the task waits out itself; a longer one fails
        the attempt so Airflow's task retry (minutes later) takes over instead of holding a worker.
    :param connect_timeout: Seconds to open a connection.
    :param read_timeout: Seconds to wait for a response.
    """

    max_attempts: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    max_retry_after: float = 120.0
    connect_timeout: float = 10.0
    read_timeout: float = 60.0

    def backoff(self, attempt: int) -> float:
        """Return the pause before attempt ``attempt + 1``: exponential with jitter."""
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return ceiling * random.uniform(0.5, 1.0)


class _Retryable(Exception):
    """One attempt failed for a reason that may pass; tenacity decides whether to try again."""

    def __init__(self, status: int | None, detail: str, retry_after: float | None = None, *,
                 safe_for_writes: bool = False) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.retry_after = retry_after
        #: The vendor cannot have acted on the call (429, connection refused): a write may be resent.
        self.safe_for_writes = safe_for_writes


def redact(text: str, *secrets: str | None) -> str:
    """Remove secrets from text in every form a server can echo them, and any credential-looking value.

    :param text: Any message that may reach a log, an exception or XCom.
    :param secrets: Values that must never appear, e.g. the connection password.
    """
    return Redactor(secrets).redact(text)


def parse_retry_after(value: str | None) -> float | None:
    """Read a ``Retry-After`` value given in seconds or as an HTTP date.

    :param value: The header (or body field) as sent, or None.
    """
    if value is None or str(value).strip() == "":
        return None
    value = str(value).strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


#: Credentials with a known lifetime are renewed this long before they expire (at most a tenth of it).
RENEW_MARGIN_SECONDS = 60.0


class VendorHttpHook(HttpHook):
    """Talk to one vendor's REST API with a shared retry policy and clear errors.

    Subclasses set ``vendor_name``, ``source`` and the four connection attributes, and override
    :meth:`validate_connection` and :meth:`_extract_auth` for their auth scheme. Where the vendor's
    credentials expire they override :meth:`renew_credentials` (and :meth:`credentials_expiring`):
    the base renews before a call when due and once when a call is answered 401, then sends it again.
    Where the vendor limits calls per minute they override :meth:`rate_limit`: every call waits for
    its slot from ``pacer`` (shared through the warehouse when an operator sets it).

    :param conn_id: Airflow connection whose host (scheme included) is the API base URL.
    :param retry_policy: Overrides the default retry policy.
    :param sleep: Called to wait between attempts; tests pass a recorder.
    :param clock: Monotonic seconds, for the expiry of renewable credentials (tests pass their own).
    """

    vendor_name = "Vendor"
    #: The source's settings: its connection form (labels, extras and their defaults) among them.
    source: ClassVar[SourceSettings | None] = None
    #: Connection extras read by this package, kept out of the request headers.
    extra_option_keys: tuple[str, ...] = ("max_attempts", "max_retry_after", "read_timeout", "backoff_base")

    def __init__(
        self,
        conn_id: str,
        *,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        super().__init__(method="GET", http_conn_id=conn_id, **kwargs)
        self._retry_policy = retry_policy
        self._sleep = sleep
        self._clock = clock
        #: When the credentials in use expire (``clock`` seconds); None: unknown, renewed on 401 only.
        self._expires_at: float | None = None
        self._margin = RENEW_MARGIN_SECONDS
        self.stats = HttpStats()
        #: Hands out call slots under :meth:`rate_limit`; an operator sets a warehouse-backed one.
        self.pacer: Pacer = LocalPacer()
        self._renew_lock = threading.RLock()
        self._renewing = False

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Return the connection form's labels, placeholders and hidden fields, from the source's settings."""
        if cls.source is None:
            return super().get_ui_field_behaviour()
        return cls.source.connection_form.ui_field_behaviour()

    def extra(self, name: str, default: Any = None) -> Any:
        """Return a connection extra, as the form or a JSON extra stores it, else its declared default.

        Airflow's form may store a provider's field as ``extra__<conn_type>__<name>``; a hand-written
        extra uses the bare name. An empty value counts as unset.

        :param name: The field's name, e.g. ``site``.
        :param default: Used when neither the connection nor the form's declaration gives a value.
        """
        extras = self.connection.extra_dejson
        for key in (name, f"extra__{self.conn_type}__{name}"):
            value = extras.get(key)
            if value is not None and value != "":
                return value
        declared = {f.name: f.default for f in self.source.connection_form.extra_fields} if self.source else {}
        return declared.get(name) if declared.get(name) is not None else default

    @cached_property
    def connection(self) -> Connection:
        """Return the Airflow connection, checked once for what the vendor needs."""
        conn = self.get_connection(self.http_conn_id)
        if not conn.host:
            raise VendorConfigError(
                f"{self.vendor_name} connection {self.http_conn_id!r} has no host: "
                "set it to the API base URL, scheme included (e.g. https://app.leadconduit.com)"
            )
        self.validate_connection(conn)
        return conn

    def get_connection(self, conn_id: str) -> Connection:
        """Return the connection, reusing the one already checked so a task looks it up once."""
        if conn_id == self.http_conn_id and "connection" in self.__dict__:
            return self.__dict__["connection"]
        return super().get_connection(conn_id)

    def validate_connection(self, conn: Connection) -> None:
        """Raise :class:`VendorConfigError` when the connection lacks the vendor's secret."""
        if not conn.password:
            raise VendorConfigError(
                f"{self.vendor_name} connection {self.http_conn_id!r} has no API key in its password field"
            )

    @cached_property
    def retry_policy(self) -> RetryPolicy:
        """Return the policy: constructor argument, else connection extras, else defaults."""
        if self._retry_policy is not None:
            return self._retry_policy
        extra = self.connection.extra_dejson
        overrides = {}
        for key, cast in (("max_attempts", int), ("max_retry_after", float), ("read_timeout", float),
                          ("backoff_base", float)):
            if key in extra:
                overrides[key] = cast(extra[key])
        if "timeout" in extra:
            overrides["read_timeout"] = float(extra["timeout"])
        return RetryPolicy(**overrides)

    @cached_property
    def session(self) -> requests.Session:
        """Return one session for all calls of this hook, so connections are reused."""
        self.connection  # noqa: B018 - validate the secret before building anything
        session = self.get_conn()
        # HttpHook sends unknown extras as headers: never the package's own settings (a client secret,
        # a refresh token, a dataset id) to the vendor.
        declared = [f.name for f in self.source.connection_form.extra_fields] if self.source else []
        for key in [*self.extra_option_keys, "timeout", *declared]:
            session.headers.pop(key, None)
        for key in list(session.headers):
            if key.startswith("extra__"):
                session.headers.pop(key, None)
        session.max_redirects = MAX_REDIRECTS
        self.redactor  # noqa: B018 - register the secrets with Airflow's masker before any call
        return session

    def rate_limit(self) -> RateLimit | None:
        """Return the vendor's rate limit for this connection, or None where calls are not paced."""
        return None

    def renew_credentials(self) -> bool:
        """Obtain fresh credentials and apply them to later calls; False where there is nothing to renew.

        Called before a call when :meth:`credentials_expiring` says so, and once when a call is
        answered 401. Calls it makes itself are not renewed again.
        """
        return False

    def credentials_expiring(self) -> bool:
        """Tell whether the credentials in use expire within the renewal margin (see :meth:`remember_lifetime`)."""
        return self._expires_at is not None and self._clock() >= self._expires_at - self._margin

    def remember_lifetime(self, seconds: float | None) -> None:
        """Note how long the credentials just obtained live, so they are renewed before they expire.

        :param seconds: Their lifetime; None (or not positive) when unknown: renewed on a 401 only.
            Renewal comes ``RENEW_MARGIN_SECONDS`` early, at most a tenth of the lifetime.
        """
        if seconds is not None and seconds > 0:
            self._margin = min(RENEW_MARGIN_SECONDS, seconds / 10)
            self._expires_at = self._clock() + seconds
        else:
            self._expires_at = None

    def renew_before_first_call(self) -> None:
        """Have credentials obtained before the first call (there are none yet)."""
        self._expires_at = float("-inf")

    def _renew(self, why: str) -> bool:
        with self._renew_lock:
            if self._renewing:
                return False
            self._renewing = True
            try:
                renewed = self.renew_credentials()
            finally:
                self._renewing = False
        if renewed:
            self.stats.renewals += 1
            self.log.info("%s: credentials renewed (%s)", self.vendor_name, why)
        return renewed

    def secrets(self) -> tuple[str | None, ...]:
        """Return every secret of the connection; subclasses add tokens they obtain."""
        return (self.connection.password,)

    @property
    def redactor(self) -> Redactor:
        """Return the redactor for this hook's secrets, in every form a server can echo them."""
        secrets = tuple(s for s in self.secrets() if s)
        if getattr(self, "_redactor_for", None) != secrets:
            usernames = ("API", "", self.connection.login or "")
            self._redactor = Redactor(secrets, usernames=usernames)
            self._redactor_for = secrets
            mask_in_airflow(*secrets, usernames=usernames)
        return self._redactor

    def redact(self, text: str) -> str:
        """Remove this hook's secrets, and anything credential-like, from ``text``."""
        return self.redactor.redact(text)

    def describe_error(self, response: requests.Response) -> str:
        """Summarise an error response in one line: the vendor's message, or a text excerpt.

        The excerpt is stored in ``ops.sync_runs``: secrets, email addresses and phone numbers are
        removed from it.

        :param response: A response whose status is an error.
        """
        return scrub_personal(self.redact(self._describe(response)))

    def _describe(self, response: requests.Response) -> str:
        content_type = response.headers.get("Content-Type", "")
        if "json" in content_type:
            try:
                body = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                body = None
            if isinstance(body, Mapping):
                parts = [str(body[k]) for k in ("error", "title", "message", "detail") if body.get(k)]
                if parts:
                    return ": ".join(dict.fromkeys(parts))[:300]
            if body is not None:
                return orjson.dumps(body).decode()[:300]
        text = _SPACES.sub(" ", _TAGS.sub(" ", response.text)).strip()
        kind = content_type.split(";")[0] or "no content type"
        return f"{response.reason or 'error'} ({kind}): {text[:200]}"

    def request_json(
        self,
        method: str,
        endpoint: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        json_body: Any = None,
        window: Window | None = None,
        idempotent: bool | None = None,
        page: int | None = None,
    ) -> Any:
        """Send one call under the retry policy and return its decoded JSON body.

        Retries 408/425/429/5xx, every transport failure (refused, reset, timed out, body cut off or
        shorter than its Content-Length) and bodies that are not JSON, honouring ``Retry-After``;
        fails at once on any other error status, on a redirect to another host and on a redirect
        loop. A call that is not idempotent is retried only where the vendor cannot have acted on it
        (429 and connection refused).

        :param method: HTTP method.
        :param endpoint: Path below the connection's base URL.
        :param params: Query parameters; a list of pairs repeats a name.
        :param json_body: Body to send as JSON.
        :param window: The data interval served, named in errors and logs.
        :param idempotent: Defaults to True for GET, HEAD, PUT and DELETE.
        :param page: The page of the window this call fetches, named in errors.
        """
        return self.request(method, endpoint, _decode_json, params=params, json_body=json_body, window=window,
                            idempotent=idempotent, page=page)

    def request_page(
        self,
        method: str,
        endpoint: str,
        *,
        records_at: tuple[str, ...] = (),
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        json_body: Any = None,
        window: Window | None = None,
        page: int | None = None,
    ) -> Page:
        """Fetch one page of records, keeping each record's exact bytes (see :mod:`.records`).

        :param method: HTTP method.
        :param endpoint: Path below the connection's base URL.
        :param records_at: Keys from the body's top-level object to the records array; empty when
            the body is the array.
        :param params: Query parameters.
        :param json_body: Body to send as JSON (a query sent as POST).
        :param window: The data interval served.
        :param page: The page's number in the window, from 1.
        """
        result = self.request(method, endpoint, lambda body: decode_page(body, records_at), params=params,
                              json_body=json_body, window=window, idempotent=True, page=page)
        if page is not None:
            result.number = page
        return result

    def request(
        self,
        method: str,
        endpoint: str,
        decode: Callable[[bytes], Any],
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        json_body: Any = None,
        window: Window | None = None,
        idempotent: bool | None = None,
        page: int | None = None,
        data: Mapping[str, Any] | None = None,
        auth: Any = None,
    ) -> Any:
        """Send one call under the retry policy and return ``decode(body)``.

        A ``decode`` that raises :class:`ValueError` makes the attempt fail as a bad body (retried).

        :param method: HTTP method.
        :param endpoint: Path below the connection's base URL.
        :param decode: Turns a 2xx body into the result.
        :param params: Query parameters.
        :param json_body: Body to send as JSON.
        :param window: The data interval served.
        :param idempotent: Defaults to True for GET, HEAD, PUT and DELETE.
        :param page: The page of the window this call fetches.
        :param data: A form body (``application/x-www-form-urlencoded``), e.g. an OAuth token request.
        :param auth: Replaces the session's auth for this call (a token endpoint's own credentials).
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in {"GET", "HEAD", "PUT", "DELETE"}
        policy = self.retry_policy
        session = self.session
        url = endpoint if endpoint.startswith(("http://", "https://")) else self.url_from_endpoint(endpoint)
        path = urlsplit(url).path
        where = f" {window}" if window else ""
        where += f" page {page}" if page else ""

        def fail(status: int | None, detail: str, cls: type[VendorAPIError] = VendorAPIError) -> VendorAPIError:
            return cls(self.vendor_name, method, path, window, status, detail, page=page)

        def retryable(exc: BaseException) -> bool:
            if not isinstance(exc, _Retryable):
                return False
            if not idempotent and not exc.safe_for_writes:
                return False
            return exc.retry_after is None or exc.retry_after <= policy.max_retry_after

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, _Retryable) and exc.retry_after is not None:
                return exc.retry_after
            return policy.backoff(state.attempt_number)

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception()
            delay = state.next_action.sleep if state.next_action else 0.0
            self.log.warning("%s %s %s%s: %s; retry %d of %d in %.1fs", self.vendor_name, method, path, where,
                             exc.detail, state.attempt_number, policy.max_attempts - 1, delay)
            self.stats.retries += 1
            self.stats.wait_seconds += delay

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(policy.max_attempts),
            wait=wait,
            retry=tenacity.retry_if_exception(retryable),
            before_sleep=before_sleep,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(self._attempt, session, method, url, params, json_body, policy, decode, fail,
                            data, auth)
        except _Retryable as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            if not idempotent and not exc.safe_for_writes:
                raise fail(exc.status, f"{exc.detail} (not retried: the call is not idempotent)") from None
            if exc.retry_after is not None and exc.retry_after > policy.max_retry_after:
                raise fail(
                    exc.status,
                    f"{exc.detail}; the vendor asks to wait {exc.retry_after:.0f}s, longer than the "
                    f"{policy.max_retry_after:.0f}s a task waits: Airflow's task retry takes over",
                ) from None
            raise fail(exc.status, f"{exc.detail} (gave up after {attempts} attempts)") from None

    def _attempt(self, session, method, url, params, json_body, policy, decode, fail, data=None, auth=None) -> Any:
        if auth is None and not self._renewing and self.credentials_expiring():
            self._renew("expiring")
        self.stats.requests += 1
        origin = urlsplit(url)[:2]
        renewed = False
        hops = 0
        while hops <= MAX_REDIRECTS:
            self._pace(url)
            response = self._send(session, method, url, params, json_body, policy, data, auth)
            if response.status_code == 401 and auth is None and not renewed and self._renew("answered 401"):
                # Expired or revoked between two calls: send the same call once more with fresh credentials.
                renewed = True
                self.stats.requests += 1
                continue
            if not response.is_redirect:
                break
            hops += 1
            target = urljoin(url, response.headers.get("Location", ""))
            if urlsplit(target)[:2] != origin:
                where = urlsplit(target)
                raise fail(response.status_code,
                           f"redirected to another host ({self.redact(f'{where.scheme}://{where.netloc}')}); not "
                           "followed, so the credentials stay with the configured host: check the connection's host",
                           VendorRejectedError) from None
            url, params = target, None
            self.stats.requests += 1
        else:
            raise fail(None, f"more than {MAX_REDIRECTS} redirects (a redirect loop); check the connection's host",
                       VendorRejectedError) from None
        status = response.status_code
        if status < 300:
            if not response.content and method != "GET":
                return None
            try:
                return decode(response.content)
            except (ValueError, PageDecodeError) as exc:
                detail = str(exc) if isinstance(exc, PageDecodeError) else "the response body is not valid JSON"
                raise _Retryable(status, f"{self.redact(detail)} ({self.describe_error(response)})") from None
        detail = self.describe_error(response)
        if status in RETRYABLE_STATUSES:
            raise _Retryable(status, detail, self.retry_after(response), safe_for_writes=status == 429)
        raise fail(status, detail, VendorRejectedError) from None

    def _pace(self, url: str) -> None:
        limit = self.rate_limit()
        if limit is None:
            return
        scope = urlsplit(url).path if limit.per_endpoint else "*"
        wait = self.pacer.reserve(f"{self.vendor_name}:{scope}", limit.interval)
        if wait > 0:
            self.stats.paced_seconds += wait
            self._sleep(wait)

    def _send(self, session, method, url, params, json_body, policy, data=None, auth=None) -> requests.Response:
        try:
            return session.request(
                method, url, params=params, json=json_body, data=data, allow_redirects=False,
                timeout=(policy.connect_timeout, policy.read_timeout), **({"auth": auth} if auth is not None else {}),
            )
        except requests.Timeout as exc:
            raise _Retryable(None, f"timed out ({type(exc).__name__}, read timeout {policy.read_timeout:g}s)") from None
        except requests.ConnectionError as exc:
            refused = "refused" in str(exc).lower()
            reason = "connection refused" if refused else "connection error"
            raise _Retryable(None, f"{reason}: {self.redact(str(exc))[:300]}", safe_for_writes=refused) from None
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
            # A body cut off mid-transfer or shorter than its Content-Length: the vendor did not finish.
            raise _Retryable(None, f"the response body was cut off ({type(exc).__name__})") from None
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema) as exc:
            raise VendorConfigError(
                f"{self.vendor_name} connection {self.http_conn_id!r}: the API base URL is not usable "
                f"({type(exc).__name__}); set the host to e.g. https://api.example.com"
            ) from None
        except requests.RequestException as exc:
            raise _Retryable(None, f"request failed ({type(exc).__name__}: {self.redact(str(exc))[:200]})") from None

    def retry_after(self, response: requests.Response) -> float | None:
        """Return how long the vendor asks to wait, from the ``Retry-After`` header.

        :param response: A 429 or 5xx response.
        """
        return parse_retry_after(response.headers.get("Retry-After"))

    def close(self) -> None:
        """Close the pooled connections, if a session was opened."""
        if "session" in self.__dict__:
            self.session.close()


def _decode_json(body: bytes) -> Any:
    return orjson.loads(body)
