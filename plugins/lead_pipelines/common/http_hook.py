"""The base every vendor hook shares: one session, one retry policy, errors that name the window."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
import requests
from airflow.providers.http.hooks.http import HttpHook

from lead_pipelines.common.errors import VendorAPIError, VendorConfigError, VendorRejectedError

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from lead_pipelines.common.windows import Window

#: Statuses worth another try: throttling, the vendor's own trouble, and gateway failures.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

_SECRET_QUERY = re.compile(
    r"(?i)([?&](?:api[_-]?key|apikey|key|token|access_token|refresh_token|secret|client_secret|password)=)[^&\s'\"]+"
)
_TAGS = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")


@dataclass
class HttpStats:
    """What one hook instance spent on the wire, for the run audit."""

    requests: int = 0
    retries: int = 0
    wait_seconds: float = 0.0


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


@dataclass
class _Failure:
    status: int | None
    detail: str
    retry_after: float | None = None


def redact(text: str, *secrets: str | None) -> str:
    """Remove secrets from text: known secret values and secret-looking query parameters.

    :param text: Any message that may reach a log, an exception or XCom.
    :param secrets: Values that must never appear, e.g. the connection password.
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _SECRET_QUERY.sub(r"\1***", text)


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


class VendorHttpHook(HttpHook):
    """Talk to one vendor's REST API with a shared retry policy and clear errors.

    Subclasses set ``vendor_name`` and the four connection attributes, and override
    :meth:`validate_connection` and :meth:`_extract_auth` for their auth scheme.

    :param conn_id: Airflow connection whose host (scheme included) is the API base URL.
    :param retry_policy: Overrides the default retry policy.
    :param sleep: Called to wait between attempts; tests pass a recorder.
    """

    vendor_name = "Vendor"
    #: Connection extras read by this package, kept out of the request headers.
    extra_option_keys: tuple[str, ...] = ("max_attempts", "max_retry_after", "read_timeout")

    def __init__(
        self,
        conn_id: str,
        *,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        **kwargs: Any,
    ) -> None:
        super().__init__(method="GET", http_conn_id=conn_id, **kwargs)
        self._retry_policy = retry_policy
        self._sleep = sleep
        self.stats = HttpStats()

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
        for key, cast in (("max_attempts", int), ("max_retry_after", float), ("read_timeout", float)):
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
        for key in self.extra_option_keys:
            session.headers.pop(key, None)
        return session

    def _secrets(self) -> tuple[str | None, ...]:
        return (self.connection.password,)

    def describe_error(self, response: requests.Response) -> str:
        """Summarise an error response in one line: the vendor's message, or a text excerpt.

        :param response: A response whose status is an error.
        """
        content_type = response.headers.get("Content-Type", "")
        if "json" in content_type:
            try:
                body = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                body = None
            if isinstance(body, Mapping):
                parts = [str(body[k]) for k in ("error", "title", "message", "detail") if body.get(k)]
                if parts:
                    return ": ".join(dict.fromkeys(parts))
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
    ) -> Any:
        """Send one call under the retry policy and return its decoded JSON body.

        Retries 408/425/429/5xx, connection errors, timeouts and bodies that are not JSON, honouring
        ``Retry-After``; fails at once on any other error status. A call that is not idempotent is
        retried only where the vendor cannot have acted on it (429 and connection refused).

        :param method: HTTP method.
        :param endpoint: Path below the connection's base URL.
        :param params: Query parameters; a list of pairs repeats a name.
        :param json_body: Body to send as JSON.
        :param window: The data interval served, named in errors and logs.
        :param idempotent: Defaults to True for GET, HEAD, PUT and DELETE.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in {"GET", "HEAD", "PUT", "DELETE"}
        policy = self.retry_policy
        session = self.session
        url = self.url_from_endpoint(endpoint)
        path = urlsplit(url).path
        attempt = 0
        while True:
            attempt += 1
            self.stats.requests += 1
            failure = self._attempt(session, method, url, path, params, json_body, window, policy)
            if not isinstance(failure, _Failure):
                return failure
            if not idempotent and not (failure.status == 429 or failure.detail.startswith("connection refused")):
                raise VendorAPIError(
                    self.vendor_name, method, path, window, failure.status,
                    f"{failure.detail} (not retried: the call is not idempotent)",
                )
            if attempt >= policy.max_attempts:
                raise VendorAPIError(
                    self.vendor_name, method, path, window, failure.status,
                    f"{failure.detail} (gave up after {attempt} attempts)",
                )
            if failure.retry_after is not None and failure.retry_after > policy.max_retry_after:
                raise VendorAPIError(
                    self.vendor_name, method, path, window, failure.status,
                    f"{failure.detail}; the vendor asks to wait {failure.retry_after:.0f}s, longer than the "
                    f"{policy.max_retry_after:.0f}s a task waits: Airflow's task retry takes over",
                )
            delay = failure.retry_after if failure.retry_after is not None else policy.backoff(attempt)
            self.log.warning(
                "%s %s %s%s: %s; retry %d of %d in %.1fs",
                self.vendor_name, method, path, f" {window}" if window else "", failure.detail,
                attempt, policy.max_attempts - 1, delay,
            )
            self.stats.retries += 1
            self.stats.wait_seconds += delay
            self._sleep(delay)

    def _attempt(self, session, method, url, path, params, json_body, window, policy) -> Any:
        try:
            response = session.request(
                method, url, params=params, json=json_body,
                timeout=(policy.connect_timeout, policy.read_timeout),
            )
        except requests.Timeout as exc:
            return _Failure(None, f"timed out ({type(exc).__name__}, read timeout {policy.read_timeout:g}s)")
        except requests.ConnectionError as exc:
            reason = "connection refused" if "refused" in str(exc).lower() else "connection error"
            return _Failure(None, f"{reason}: {redact(str(exc), *self._secrets())[:300]}")
        status = response.status_code
        if status < 300:
            if not response.content and method != "GET":
                return None
            try:
                return orjson.loads(response.content)
            except orjson.JSONDecodeError:
                return _Failure(
                    status, f"the response body is not valid JSON: {redact(self.describe_error(response), *self._secrets())}"
                )
        detail = redact(self.describe_error(response), *self._secrets())
        if status in RETRYABLE_STATUSES:
            return _Failure(status, detail, self.retry_after(response))
        raise VendorRejectedError(self.vendor_name, method, path, window, status, detail)

    def retry_after(self, response: requests.Response) -> float | None:
        """Return how long the vendor asks to wait, from the ``Retry-After`` header.

        :param response: A 429 or 5xx response.
        """
        return parse_retry_after(response.headers.get("Retry-After"))

    def close(self) -> None:
        """Close the pooled connections, if a session was opened."""
        if "session" in self.__dict__:
            self.session.close()
