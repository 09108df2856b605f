"""Operator that lands LeadConduit events for one data interval."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from lead_pipelines.common.operators import VendorToWarehouseOperator
from lead_pipelines.leadconduit.settings import EVENTS, MAX_PAGE_SIZE, SOURCE, counted_by_stats

if TYPE_CHECKING:
    from lead_pipelines.leadconduit.hook import LeadConduitHook
    from lead_pipelines.common.records import Page
    from lead_pipelines.common.windows import Window


class LeadConduitEventsOperator(VendorToWarehouseOperator):
    """Land the LeadConduit events created in the run's data interval into ``raw.leadconduit_events``.

    :param event_types: Event types to land (templated); all five when None.
    :param page_size: Events per request, at most 1000.
    """

    template_fields: Sequence[str] = (*VendorToWarehouseOperator.template_fields, "event_types")
    source = SOURCE
    stream = EVENTS

    def __init__(self, *, event_types: Sequence[str] | None = None, page_size: int = MAX_PAGE_SIZE, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.event_types = event_types
        self.page_size = page_size

    def make_hook(self) -> LeadConduitHook:
        """Build the LeadConduit hook for ``conn_id``."""
        from lead_pipelines.leadconduit.hook import LeadConduitHook

        return LeadConduitHook(leadconduit_conn_id=self.conn_id)

    def pages(self, window: Window) -> Iterator[Page]:
        """Yield the window's events, one page at a time."""
        return self.hook.iter_events(window, types=self.event_types, page_size=self.page_size)

    def vendor_count(self, window: Window) -> int:
        """Return ``/events/stats``'s count of the window's events with a counted outcome."""
        return self.hook.count_events(window, types=self.event_types)

    def counted(self, record: dict[str, Any]) -> bool:
        """Tell whether ``/events/stats`` counts the event (success, failure or error outcome)."""
        return counted_by_stats(record)
