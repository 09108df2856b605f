"""Hook for the GetLandy leads API: read-only windows (``withReaded=1&markReaded=0``), Bearer tokens renewed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import orjson

from lead_pipelines.common.auth import BearerAuth, NoAuthorization
from lead_pipelines.common.errors import VendorAPIError, VendorConfigError
from lead_pipelines.common.http_hook import VendorHttpHook
from lead_pipelines.common.records import Page
from lead_pipelines.getlandy.settings import MAX_PAGE_SIZE, SOURCE

if TYPE_CHECKING:
    import requests
    from airflow.sdk import Connection

    from lead_pipelines.common.windows import Window

#: Leads are dated to the second; re-reading from one second before the last date seen keeps every lead
#: that shares that second, whether the vendor's ``from`` includes its instant or not.
OVERLAP = timedelta(seconds=1)


def timestamp(moment: datetime) -> str:
    """Format a moment as GetLandy's docs do: ``2024-06-01T05:00:00+0000`` (UTC, ``+hhmm`` offset)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


def lead_time(record: Any) -> datetime | None:
    """Return a lead's ``date`` as an aware datetime, or None when it has none that parses.

    :param record: A decoded lead.
    """
    value = record.get("date") if isinstance(record, dict) else None
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class GetLandyHook(VendorHttpHook):
    """Interact with the GetLandy leads API without ever consuming a lead.

    :param getlandy_conn_id: Connection whose host is the API base URL (e.g. ``https://api.getlandy.com``)
        and whose password is the access token; the extras ``token_url``, ``client_id``,
        ``client_secret`` and ``refresh_token`` let the hook renew an expired token.
    """

    conn_name_attr = "getlandy_conn_id"
    default_conn_name = "getlandy_default"
    conn_type = "getlandy"
    hook_name = "GetLandy"
    vendor_name = "GetLandy"
    default_headers = {"Accept": "application/json"}
    source = SOURCE

    def __init__(self, getlandy_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(getlandy_conn_id, **kwargs)
        self.getlandy_conn_id = getlandy_conn_id
        self._bearer: BearerAuth | None = None
        self._access_token: str | None = None
        self._refresh_token: str | None = None

    def validate_connection(self, conn: Connection) -> None:
        """Raise :class:`VendorConfigError` unless there is an access token or a way to obtain one."""
        extras = conn.extra_dejson
        renewable = any(extras.get(k) for k in ("refresh_token", "extra__getlandy__refresh_token"))
        if not conn.password and not renewable:
            raise VendorConfigError(
                f"GetLandy connection {self.http_conn_id!r} has no access token in its password field "
                "and no refresh_token extra to obtain one"
            )
        if not conn.password:
            self.renew_before_first_call()

    def _extract_auth(self, connection: Connection) -> BearerAuth:
        self._bearer = BearerAuth(connection.password or "")
        return self._bearer

    def secrets(self) -> tuple[str | None, ...]:
        """Return the connection's secrets and the tokens obtained since."""
        return (self.connection.password, self.extra("client_secret"), self.extra("refresh_token"),
                self._access_token, self._refresh_token)

    def renew_credentials(self) -> bool:
        """Obtain a new access token with the refresh grant at ``token_url``; False where not configured.

        The token endpoint is not confirmed by GetLandy's docs: standard OAuth2 is assumed (form
        ``grant_type=refresh_token``, answer ``access_token``, ``expires_in`` and maybe a rotated
        ``refresh_token``, kept in memory for the next renewal).
        """
        token_url = self.extra("token_url")
        refresh = self._refresh_token or self.extra("refresh_token")
        if not token_url or not refresh:
            return False
        self.session  # noqa: B018 - the session (and the Bearer auth it carries) exists before it is renewed
        form = {"grant_type": "refresh_token", "refresh_token": refresh}
        for name in ("client_id", "client_secret"):
            if self.extra(name):
                form[name] = self.extra(name)
        # Not idempotent: a refresh token may be spent by a call whose answer was lost.
        body = self.request("POST", token_url, orjson.loads, data=form, auth=NoAuthorization(), idempotent=False)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise VendorAPIError(self.vendor_name, "POST", "token_url", None, 200,
                                 "the token endpoint answered without an access_token")
        self._access_token = token
        if isinstance(body.get("refresh_token"), str) and body["refresh_token"]:
            self._refresh_token = body["refresh_token"]
        self.redactor  # noqa: B018 - mask the new tokens before anything can log them
        lifetime = body.get("expires_in")
        self.remember_lifetime(lifetime if isinstance(lifetime, (int, float)) and not isinstance(lifetime, bool)
                               else None)
        if self._bearer is not None:
            self._bearer.token = token
        return True

    def iter_leads(
        self,
        window: Window,
        *,
        page_size: int = MAX_PAGE_SIZE,
        only_from_url: str | None = None,
        mark_read: bool = False,
    ) -> Iterator[Page]:
        """Yield the leads dated in ``window``, oldest first, each once, one page at a time.

        Reads with ``withReaded=1&markReaded=0`` so nothing is consumed. There is no cursor: each next
        page asks ``from`` one second before the latest ``date`` seen, so leads sharing that second come
        back whether ``from`` includes its instant or not (once a lead dated exactly at ``from`` proves it
        does, ``from`` is the latest date itself); ids seen are dropped and the window is kept locally.
        The window ends on a short page with nothing new; an empty page is read once more first.

        :param window: The half-open data interval ``[start, end)``.
        :param page_size: ``limit`` per call, at most 1000.
        :param only_from_url: Only leads from this landing page.
        :param mark_read: Send ``markReaded=1`` and ask ``[start, end - 1 s]`` (the opt-in write-back,
            after the window has landed); leads exactly at the window's edges stay unread where the
            vendor excludes its bounds.
        """
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
        base = [("withReaded", 1), ("markReaded", 1 if mark_read else 0), ("limit", page_size)]
        if only_from_url:
            base.append(("onlyFromUrl", only_from_url))
        cursor = window.start if mark_read else window.start - OVERLAP
        until = window.end - OVERLAP if mark_read else window.end
        seen: set[str] = set()
        inclusive = False
        number = 0
        while True:
            number += 1
            params = [*base, ("from", timestamp(cursor)), ("to", timestamp(until))]
            page = self._leads_page(params, window, number)
            if not len(page):
                # One empty answer may be the vendor's hiccup: the window ends when a second read agrees.
                page = self._leads_page(params, window, number)
                if not len(page):
                    return
            fresh = [i for i, r in enumerate(page.records) if _lead_id(r) not in seen]
            times = [lead_time(r) for r in page.records]
            # A lead dated exactly at 'from' proves the vendor includes that bound: from then on 'from' can
            # be the latest date itself, which still returns every lead sharing that second.
            inclusive = inclusive or cursor in times
            latest = max((t for t in times if t is not None), default=cursor)
            following = max(cursor, latest if inclusive else latest - OVERLAP)
            if not fresh:
                if len(page) < page_size:
                    return
                if following == cursor:
                    raise VendorAPIError(
                        self.vendor_name, "GET", "/leads", window, 200,
                        f"a full page of {len(page)} leads all read already from {timestamp(cursor)}: more "
                        f"than {page_size - 1} leads share one second, or the vendor ignored 'from'; raise the "
                        "page size or shorten the window", page=number,
                    )
                cursor = following
                continue
            seen.update(_lead_id(page.records[i]) for i in fresh)
            keep = [i for i in fresh if times[i] is None or window.start <= times[i] < window.end]
            if keep:
                yield Page([page.records[i] for i in keep], [page.raw[i] for i in keep],
                           None if page.problems is None else [page.problems[i] for i in keep],
                           page.envelope, number=number)
            cursor = following

    def _leads_page(self, params: list[tuple[str, Any]], window: Window, number: int) -> Page:
        """Fetch one ``/leads`` page and check its envelope: ``state`` ok and ``nbResults`` matching."""
        page = self.request_page("GET", "/leads", records_at=("leads",), params=params, window=window, page=number)
        infos = page.envelope.get("infos") if isinstance(page.envelope, dict) else None
        if not isinstance(infos, dict):
            raise VendorAPIError(self.vendor_name, "GET", "/leads", window, 200, "the answer has no 'infos'",
                                 page=number)
        if infos.get("state") != "ok":
            detail = self.redact(str(infos.get("error") or "no message"))[:200]
            raise VendorAPIError(self.vendor_name, "GET", "/leads", window, 200,
                                 f"infos.state is {infos.get('state')!r}: {detail}", page=number)
        if infos.get("nbResults") != len(page):
            raise VendorAPIError(self.vendor_name, "GET", "/leads", window, 200,
                                 f"infos.nbResults says {infos.get('nbResults')!r} but {len(page)} leads came",
                                 page=number)
        return page

    def _describe(self, response: requests.Response) -> str:
        # GetLandy puts its message in the envelope's infos.error, even on a 401.
        try:
            infos = orjson.loads(response.content).get("infos")
        except (orjson.JSONDecodeError, AttributeError):
            infos = None
        if isinstance(infos, dict) and isinstance(infos.get("error"), str) and infos["error"]:
            return infos["error"][:300]
        return super()._describe(response)

    def test_connection(self) -> tuple[bool, str]:
        """Read one lead without marking it, to check the base URL and the token."""
        try:
            self.request_json("GET", "/leads", params={"withReaded": 1, "markReaded": 0, "limit": 1})
        except Exception as exc:  # the UI shows the message; it is already free of secrets
            return False, str(exc)
        return True, "Connection to GetLandy works."


def _lead_id(record: Any) -> Any:
    value = record.get("id") if isinstance(record, dict) else None
    return value if isinstance(value, (str, int)) and not isinstance(value, bool) else repr(record)
