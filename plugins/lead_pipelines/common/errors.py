"""Exceptions that name the vendor, the endpoint and the window, and never carry a secret."""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowException, AirflowFailException

from lead_pipelines.common.windows import Window


class LeadPipelinesError(AirflowException):
    """Base class of the package's own errors."""


class VendorConfigError(LeadPipelinesError, AirflowFailException):
    """A connection is missing something the vendor needs; retrying cannot help."""


class VendorAPIError(LeadPipelinesError):
    """A vendor call failed after the retry policy gave up.

    :param vendor: Display name of the vendor, e.g. ``LeadConduit``.
    :param method: HTTP method of the failed call.
    :param endpoint: Path of the failed call, without query string.
    :param window: The data interval the call served, if any.
    :param status: HTTP status, or None when no response came back.
    :param detail: What went wrong, already free of secrets.
    """

    def __init__(
        self,
        vendor: str,
        method: str,
        endpoint: str,
        window: Window | None,
        status: int | None,
        detail: str,
    ) -> None:
        self.vendor = vendor
        self.method = method
        self.endpoint = endpoint
        self.window = window
        self.status = status
        self.detail = detail
        where = f" for window {window}" if window else ""
        status_text = f"HTTP {status}: " if status is not None else ""
        super().__init__(f"{vendor} {method} {endpoint} failed{where}: {status_text}{detail}")


class VendorRejectedError(VendorAPIError, AirflowFailException):
    """The vendor refused the request itself (401, 403, 422...): retrying the task cannot help."""
