"""Operators that land LeadBoxer leads, then their sessions, then those sessions' events, for one data interval."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from lead_pipelines.common.operators import VendorToWarehouseOperator
from lead_pipelines.leadboxer.settings import EVENTS, LEADS, SESSIONS, SOURCE

if TYPE_CHECKING:
    from lead_pipelines.common.records import Page
    from lead_pipelines.common.windows import Window
    from lead_pipelines.leadboxer.hook import LeadBoxerHook

#: Parent rows fetched from the warehouse at a time: the fan-out's memory stays flat.
PARENT_BATCH = 500


class _LeadBoxerOperator(VendorToWarehouseOperator):
    """Build the LeadBoxer hook; subclasses say which stream they land."""

    source = SOURCE

    def make_hook(self) -> LeadBoxerHook:
        """Build the LeadBoxer hook for ``conn_id``."""
        from lead_pipelines.leadboxer.hook import LeadBoxerHook

        return LeadBoxerHook(leadboxer_conn_id=self.conn_id)


class LeadBoxerLeadsOperator(_LeadBoxerOperator):
    """Land the leads whose last event lies in the window (and the lookback before it) into ``raw.leadboxer_leads``.

    :param page_size: Leads per request; the connection's ``page_size`` when None.
    """

    stream = LEADS

    def __init__(self, *, page_size: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.page_size = page_size

    def pages(self, window: Window) -> Iterator[Page]:
        """Yield the window's leads, one page at a time."""
        return self.hook.iter_leads(window, lookback=self.stream.lookback, page_size=self.page_size)


class _FanOutOperator(_LeadBoxerOperator):
    """Read parents landed for the window from the warehouse and land their children."""

    #: The SQL file (include/sql) selecting ``(parent id, children it counts)`` for ``lo`` and ``hi``.
    parents_sql: str
    kind: str

    def pages(self, window: Window) -> Iterator[Page]:
        """Yield the children of the window's parents, one parent's page at a time."""
        return self.hook.iter_children(window, self.parents(window), kind=self.kind)

    def parents(self, window: Window) -> Iterator[tuple[str, int | None]]:
        """Stream the parents landed for the window (its lookback included) with a server-side cursor.

        :param window: The run's data interval.
        """
        from lead_pipelines.common.warehouse import connect, statement

        bounds = {"lo": window.start - self.stream.lookback, "hi": window.end}
        conn = connect(self.warehouse_conn_id)
        try:
            cur = conn.cursor(name=f"leadboxer_{self.kind}_parents")
            cur.itersize = PARENT_BATCH
            cur.execute(statement(self.parents_sql), bounds)
            for row in cur:
                yield row[0], row[-1]
        finally:
            # Closing the connection drops its cursor too: no round trip when the landing stops early.
            conn.close()


class LeadBoxerSessionsOperator(_FanOutOperator):
    """Land the sessions of the window's leads into ``raw.leadboxer_sessions``, each as LeadBoxer sent it."""

    stream = SESSIONS
    parents_sql = "select_leadboxer_leads"
    kind = "sessions"


class LeadBoxerEventsOperator(_FanOutOperator):
    """Land the events of the window's sessions into ``raw.leadboxer_events``, each as LeadBoxer sent it."""

    stream = EVENTS
    parents_sql = "select_leadboxer_sessions"
    kind = "events"
