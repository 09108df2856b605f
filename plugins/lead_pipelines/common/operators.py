"""The operator every source's landing task builds on: read the window, page, land, report counts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from lead_pipelines.common.landing import field_record_id
from lead_pipelines.common.sync import RunInfo, sync_window
from lead_pipelines.common.warehouse import WAREHOUSE_CONN_ID
from lead_pipelines.common.windows import Window

if TYPE_CHECKING:
    from airflow.sdk import Context

    from lead_pipelines.common.http_hook import VendorHttpHook
    from lead_pipelines.common.settings import SourceSettings, StreamSettings


class VendorToWarehouseOperator(BaseOperator):
    """Land one stream of one vendor for the run's data interval into ``raw.<vendor>_<stream>``.

    Subclasses set ``source`` and ``stream`` and implement :meth:`make_hook` and :meth:`pages`.
    Returns counts (never records) to XCom.

    :param conn_id: The vendor's Airflow connection (templated); defaults to the source's.
    :param warehouse_conn_id: The warehouse's postgres connection (templated).
    """

    template_fields: Sequence[str] = ("conn_id", "warehouse_conn_id")
    ui_color = "#e8f4ea"

    source: ClassVar[SourceSettings]
    stream: ClassVar[StreamSettings]

    def __init__(self, *, conn_id: str | None = None, warehouse_conn_id: str = WAREHOUSE_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id or self.source.conn_id
        self.warehouse_conn_id = warehouse_conn_id

    @cached_property
    def hook(self) -> VendorHttpHook:
        """Return the vendor hook, built on first use (never at parse time)."""
        return self.make_hook()

    def make_hook(self) -> VendorHttpHook:
        """Build the vendor hook for ``conn_id``."""
        raise NotImplementedError

    def pages(self, window: Window) -> Iterator[list[Any]]:
        """Yield the stream's records for ``window``, one page at a time."""
        raise NotImplementedError

    def execute(self, context: Context) -> dict[str, Any]:
        """Land the run's window and return its counts."""
        window = Window.from_context(context)
        table = self.source.raw_table(self.stream)
        self.log.info("Landing %s %s for window %s into raw.%s", self.source.display_name, self.stream.name, window, table)
        try:
            summary = sync_window(
                vendor=self.source.vendor,
                stream=self.stream.name,
                table=table,
                window=window,
                pages=lambda: self.pages(window),
                record_id=field_record_id(self.stream.record_id_field),
                http_stats=self.hook.stats,
                run_info=RunInfo.from_context(context),
                warehouse_conn_id=self.warehouse_conn_id,
            )
        finally:
            self.hook.close()
        counts = summary.as_dict()
        self.log.info(
            "%s %s %s: %d pages, %d records: %d inserted, %d updated, %d unchanged; "
            "%d HTTP requests, %d retries, %.1fs waited; %.2fs (ops.sync_runs run_id %d)",
            self.source.display_name, self.stream.name, window, counts["pages"], counts["records"],
            counts["inserted"], counts["updated"], counts["unchanged"], counts["http_requests"],
            counts["http_retries"], counts["http_wait_seconds"], counts["duration_seconds"], counts["run_id"],
        )
        return counts
