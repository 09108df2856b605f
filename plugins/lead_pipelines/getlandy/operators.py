"""Operators for GetLandy: land a window's leads, and (opt-in) mark them read at GetLandy afterwards."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from lead_pipelines.common.operators import VendorToWarehouseOperator
from lead_pipelines.common.settings import WAREHOUSE_CONN_ID
from lead_pipelines.getlandy.settings import LEADS, MAX_PAGE_SIZE, PARAM_MARK_READ, RAW_TABLE, SOURCE

if TYPE_CHECKING:
    from airflow.sdk import Context

    from lead_pipelines.common.records import Page
    from lead_pipelines.common.windows import Window
    from lead_pipelines.getlandy.hook import GetLandyHook


def _hook(conn_id: str) -> GetLandyHook:
    from lead_pipelines.getlandy.hook import GetLandyHook

    return GetLandyHook(getlandy_conn_id=conn_id)


class GetLandyLeadsOperator(VendorToWarehouseOperator):
    """Land the GetLandy leads dated in the run's data interval into ``raw.getlandy_leads``, reading only.

    :param page_size: Leads per request, at most 1000.
    :param only_from_url: Only leads from this landing page (templated); all pages when None.
    """

    template_fields: Sequence[str] = (*VendorToWarehouseOperator.template_fields, "only_from_url")
    source = SOURCE
    stream = LEADS

    def __init__(self, *, page_size: int = MAX_PAGE_SIZE, only_from_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.page_size = page_size
        self.only_from_url = only_from_url

    def make_hook(self) -> GetLandyHook:
        """Build the GetLandy hook for ``conn_id``."""
        return _hook(self.conn_id)

    def pages(self, window: Window) -> Iterator[Page]:
        """Yield the window's leads, one page at a time, without marking any read."""
        return self.hook.iter_leads(window, page_size=self.page_size, only_from_url=self.only_from_url)


class GetLandyMarkReadOperator(BaseOperator):
    """Mark the window's leads read at GetLandy once they are landed; skipped unless the DAG param is on.

    GetLandy has no "mark these ids" call: the window is asked again with ``markReaded=1``, and every
    lead that call marked must already be in ``raw.getlandy_leads`` (a lead that arrived since stays
    readable with ``withReaded=1``; the task fails so someone re-runs the window).

    :param conn_id: The GetLandy connection (templated).
    :param warehouse_conn_id: The warehouse's postgres connection (templated).
    :param page_size: Leads per request, at most 1000.
    """

    template_fields: Sequence[str] = ("conn_id", "warehouse_conn_id")
    ui_color = "#fbeee6"

    def __init__(self, *, conn_id: str = SOURCE.conn_id, warehouse_conn_id: str = WAREHOUSE_CONN_ID,
                 page_size: int = MAX_PAGE_SIZE, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.warehouse_conn_id = warehouse_conn_id
        self.page_size = page_size

    def execute(self, context: Context) -> dict[str, Any]:
        """Mark the landed window's leads read and return how many; skip when the opt-in is off."""
        from airflow.sdk.exceptions import AirflowSkipException

        from lead_pipelines.common.errors import RecordError
        from lead_pipelines.common.warehouse import connect, statement
        from lead_pipelines.common.windows import Window

        if not (context.get("params") or {}).get(PARAM_MARK_READ):
            raise AirflowSkipException(f"{PARAM_MARK_READ} is off: GetLandy's read flags are left as they are")
        window = Window.from_context(context)
        hook = _hook(self.conn_id)
        try:
            marked = [r.get("id") for page in hook.iter_leads(window, page_size=self.page_size, mark_read=True)
                      for r in page if isinstance(r, dict)]
        finally:
            hook.close()
        with connect(self.warehouse_conn_id) as conn:
            landed = {rid for (rid,) in conn.execute(statement("select_getlandy_landed_ids"), {"ids": marked})}
        missing = [i for i in marked if i not in landed]
        if missing:
            raise RecordError(
                "GetLandy", "GET /leads (markReaded=1)", window,
                f"{len(missing)} of the {len(marked)} leads marked read are not in {RAW_TABLE} (they arrived "
                "after the landing); they stay readable with withReaded=1: re-run the window",
            )
        self.log.info("GetLandy: marked %d leads of window %s read; every one is in %s", len(marked), window,
                      RAW_TABLE)
        return {"marked": len(marked)}
