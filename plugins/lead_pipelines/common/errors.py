"""Exceptions that name the vendor, the endpoint, the window and where in it, never a record or a secret.

The one error contract: whatever goes wrong while a window lands is raised as a
:class:`LeadPipelinesError` whose message reads ``<Vendor> <endpoint> failed for window [a, b):
page P, record R: what happened``. Messages carry no record content (records hold email addresses
and phone numbers) and no secret; they are built from the fields below, already redacted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk.exceptions import AirflowException, AirflowFailException

if TYPE_CHECKING:
    from lead_pipelines.common.windows import Window


class LeadPipelinesError(AirflowException):
    """Base class of the package's own errors."""


class VendorConfigError(LeadPipelinesError, AirflowFailException):
    """A connection is missing something the vendor needs; retrying cannot help."""


class LandingError(LeadPipelinesError):
    """Landing a window failed: names the vendor, the endpoint, the window and the position.

    :param vendor: Display name of the vendor, e.g. ``LeadConduit``.
    :param endpoint: The endpoint (path without query), e.g. ``/events``, optionally after a method.
    :param window: The data interval, if any.
    :param detail: What went wrong, already free of secrets and record content.
    :param page: The page of the window (from 1) where it happened, if known.
    :param position: The record's position in that page (from 1), if known.
    """

    def __init__(
        self,
        vendor: str,
        endpoint: str,
        window: Window | None,
        detail: str,
        *,
        page: int | None = None,
        position: int | None = None,
        label: str | None = None,
    ) -> None:
        self.label = label or endpoint
        self.vendor = vendor
        self.endpoint = endpoint
        self.window = window
        self.detail = detail
        self.page = page
        self.position = position
        super().__init__(self.message())

    def message(self) -> str:
        """Return the one-line message from the fields."""
        where = f" for window {self.window}" if self.window else ""
        spot = []
        if self.page is not None:
            spot.append(f"page {self.page}")
        if self.position is not None:
            spot.append(f"record {self.position}")
        at = f" ({', '.join(spot)})" if spot else ""
        return f"{self.vendor} {self.label} failed{where}{at}: {self.detail}"

    def at_page(self, page: int) -> LandingError:
        """Name the page this error happened on, when the raiser did not know it."""
        if self.page is None:
            self.page = page
            self.args = (self.message(),)
        return self

    def __str__(self) -> str:
        return self.message()


class VendorAPIError(LandingError):
    """A vendor call failed after the retry policy gave up.

    :param vendor: Display name of the vendor, e.g. ``LeadConduit``.
    :param method: HTTP method of the failed call.
    :param endpoint: Path of the failed call, without query string.
    :param window: The data interval the call served, if any.
    :param status: HTTP status, or None when no response came back.
    :param detail: What went wrong, already free of secrets.
    :param page: The page of the window the call fetched, if known.
    """

    def __init__(
        self,
        vendor: str,
        method: str,
        endpoint: str,
        window: Window | None,
        status: int | None,
        detail: str,
        *,
        page: int | None = None,
    ) -> None:
        self.method = method
        self.status = status
        self.vendor_detail = detail
        status_text = f"HTTP {status}: " if status is not None else ""
        super().__init__(vendor, endpoint, window, f"{status_text}{detail}", page=page, label=f"{method} {endpoint}")


class VendorRejectedError(VendorAPIError, AirflowFailException):
    """The vendor refused the request itself (401, 403, 422...): retrying the task cannot help."""


class RecordError(LandingError, AirflowFailException):
    """The vendor's data breaks a promise of the stream (e.g. records outside the window); retrying cannot help."""


class QuarantineError(LandingError, AirflowFailException):
    """Records were quarantined and the DAG was told to fail rather than land around them."""


class IncompleteWindowError(LandingError):
    """What landed does not match the vendor's own count for the window (a retry may complete it)."""


class WarehouseError(LandingError):
    """The warehouse failed or refused the landing; described by error class, never by record content."""


class ConcurrentRunError(LandingError):
    """Another run of the same window held it for longer than this run would wait."""
