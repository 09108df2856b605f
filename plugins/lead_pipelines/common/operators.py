"""The operator every source's landing task builds on: read the window, page, land, check, report counts."""

from __future__ import annotations

import traceback
from collections.abc import Iterator, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from lead_pipelines.common.settings import WAREHOUSE_CONN_ID

if TYPE_CHECKING:
    from airflow.sdk import Context

    from lead_pipelines.common.http_hook import VendorHttpHook
    from lead_pipelines.common.landing import RecordRules
    from lead_pipelines.common.records import Page
    from lead_pipelines.common.settings import SourceSettings, StreamSettings
    from lead_pipelines.common.windows import Window

#: DAG params every sync DAG offers (the trigger form shows them): the run's checks.
PARAM_FAIL_ON_QUARANTINE = "fail_on_quarantine"
PARAM_ON_COUNT_MISMATCH = "on_count_mismatch"


class VendorToWarehouseOperator(BaseOperator):
    """Land one stream of one vendor for the run's data interval into ``raw.<vendor>_<stream>``.

    Subclasses set ``source`` and ``stream`` and implement :meth:`make_hook` and :meth:`pages`;
    where the vendor publishes a count for the window they implement :meth:`vendor_count` and
    :meth:`counted`. Returns counts (never records) to XCom. Every failure is raised inside the one
    error contract (:class:`~lead_pipelines.common.errors.LandingError`), free of secrets.

    A stream with ``partitioned_by`` set is landed by one mapped task per partition (e.g. per
    workflow): the factory asks :meth:`plan_partitions` for them and maps this operator over
    ``partition``. Each partition of a window has its own lock and audit rows, under the stream
    name ``<stream>/<partition>``.

    :param conn_id: The vendor's Airflow connection (templated); defaults to the source's.
    :param warehouse_conn_id: The warehouse's postgres connection (templated).
    :param partition: The partition this task lands (mapped streams only).
    """

    template_fields: Sequence[str] = ("conn_id", "warehouse_conn_id", "partition")
    ui_color = "#e8f4ea"

    source: ClassVar[SourceSettings]
    stream: ClassVar[StreamSettings]

    def __init__(self, *, conn_id: str | None = None, warehouse_conn_id: str = WAREHOUSE_CONN_ID,
                 partition: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id or self.source.conn_id
        self.warehouse_conn_id = warehouse_conn_id
        self.partition = partition

    @classmethod
    def plan_partitions(cls, window: Window, *, conn_id: str, warehouse_conn_id: str) -> list[str]:
        """Return the partitions a mapped stream lands for ``window`` (e.g. the workflow ids landed).

        :param window: The run's data interval.
        :param conn_id: The vendor's connection.
        :param warehouse_conn_id: The warehouse's connection.
        """
        raise NotImplementedError(f"{cls.__name__} lands a mapped stream: implement plan_partitions")

    def audit_stream(self) -> str:
        """Return the stream's name in the run audit and its window lock: ``<stream>/<partition>`` when mapped."""
        return f"{self.stream.name}/{self.partition}" if self.partition else self.stream.name

    def endpoint_for(self) -> str:
        """Return the endpoint named in errors (a mapped stream names its partition's path)."""
        return self.stream.endpoint or f"/{self.stream.name}"

    def lookback(self) -> timedelta:
        """Return how far before the window this run re-reads (the stream's setting unless overridden)."""
        return self.stream.lookback

    @cached_property
    def hook(self) -> VendorHttpHook:
        """Return the vendor hook, built on first use (never at parse time).

        Its calls take their slots under the vendor's rate limit from the warehouse, so parallel
        tasks and backfill runs share one budget.
        """
        from lead_pipelines.common.pacing import WarehousePacer

        hook = self.make_hook()
        hook.pacer = WarehousePacer(self.warehouse_conn_id)
        return hook

    def make_hook(self) -> VendorHttpHook:
        """Build the vendor hook for ``conn_id``."""
        raise NotImplementedError

    def pages(self, window: Window) -> Iterator[Page | list[Any]]:
        """Yield the stream's records for ``window``, one page at a time."""
        raise NotImplementedError

    def vendor_count(self, window: Window) -> int | None:
        """Return the vendor's own count of the window's records, or None where it publishes none."""
        return None

    def counted(self, record: dict[str, Any]) -> bool:
        """Tell whether the vendor's count includes ``record`` (all records unless overridden)."""
        return True

    def record_rules(self) -> RecordRules:
        """Return the stream's id, time and count rules, from its settings."""
        from lead_pipelines.common.landing import RecordRules

        stream = self.stream
        has_count = type(self).vendor_count is not VendorToWarehouseOperator.vendor_count
        return RecordRules(
            id_field=stream.record_id_field,
            time_field=stream.time_field,
            time_unit=stream.time_unit,
            updated_field=stream.updated_field,
            updated_unit=stream.updated_unit,
            counted=self.counted if has_count else None,
            max_pages=stream.max_pages,
            lookback=self.lookback(),
        )

    def execute(self, context: Context) -> dict[str, Any]:
        """Land the run's window and return its counts."""
        # Imported here, not at module level: every task parses its DAG file before it starts.
        from lead_pipelines.common.errors import LeadPipelinesError
        from lead_pipelines.common.landing import Target
        from lead_pipelines.common.sync import Checks, RunInfo, sync_window
        from lead_pipelines.common.windows import Window

        window = Window.from_context(context, interval=self.source.interval)
        table = self.source.raw_table(self.stream)
        target = Target(self.source.vendor, self.source.display_name, self.audit_stream(), self.endpoint_for(),
                        table, window)
        params = context.get("params") or {}
        rules = self.record_rules()
        checks = Checks(
            vendor_count=(lambda: self.vendor_count(window)) if rules.counted is not None else None,
            on_count_mismatch=str(params.get(PARAM_ON_COUNT_MISMATCH) or "fail"),
            fail_on_quarantine=bool(params.get(PARAM_FAIL_ON_QUARANTINE, False)),
            lock_wait_seconds=self.source.lock_wait_seconds,
        )
        self.log.info("Landing %s %s for window %s into raw.%s", self.source.display_name, self.audit_stream(), window, table)
        try:
            summary = sync_window(
                target=target,
                pages=lambda: self.pages(window),
                http_stats=self.hook.stats,
                rules=rules,
                checks=checks,
                run_info=RunInfo.from_context(context),
                warehouse_conn_id=self.warehouse_conn_id,
                redact=self._redact,
            )
        except LeadPipelinesError as exc:
            # Messages are built redacted; drop the chain so no library exception (with a URL or
            # a response body) is printed under it in the task log.
            exc.__cause__ = None
            exc.__suppress_context__ = True
            raise
        except Exception as exc:
            self.log.error("Unexpected failure, traceback follows (secrets removed):\n%s",
                           self._redact("".join(traceback.format_exception(exc))))
            raise target.error(self._redact(f"{type(exc).__name__}: {exc}")) from None
        finally:
            self.hook.close()
            close_pacer = getattr(self.hook.pacer, "close", None)
            if close_pacer is not None:
                close_pacer()
        counts = summary.as_dict()
        quarantined = f", {counts['quarantined']} quarantined" if counts["quarantined"] else ""
        stale = f", {counts['stale']} stale (older than stored)" if counts["stale"] else ""
        vendor = f"; vendor count {counts['vendor_count']} matches" if counts["vendor_count"] is not None else ""
        self.log.info(
            "%s %s %s: %d pages, %d records: %d inserted, %d updated, %d unchanged%s%s%s; "
            "%d HTTP requests, %d retries, %.1fs waited, %.1fs paced under the rate limit; %.2fs "
            "(ops.sync_runs run_id %d)",
            self.source.display_name, self.audit_stream(), window, counts["pages"], counts["records"],
            counts["inserted"], counts["updated"], counts["unchanged"], stale, quarantined,
            vendor if not summary.warning else f"; {summary.warning}", counts["http_requests"],
            counts["http_retries"], counts["http_wait_seconds"], counts["http_paced_seconds"],
            counts["duration_seconds"], counts["run_id"],
        )
        self._describe_asset_events(context, window, counts)
        return counts

    def _describe_asset_events(self, context: Context, window: Any, counts: dict[str, Any]) -> None:
        """Put the window and its counts in the extra of each outlet's asset event.

        A consumer (``unified_leads``, whose asset-triggered runs have no data interval of their own)
        reads the window from there; a person in the UI can tell a window that changed rows from one
        that changed none.
        """
        extra = {"window_start": window.start.isoformat(), "window_end": window.end.isoformat(),
                 **{k: counts[k] for k in ("records", "inserted", "updated", "unchanged", "quarantined")
                    if k in counts}}
        events = context.get("outlet_events")
        for outlet in self.outlets or ():
            if events is not None:
                events[outlet].extra.update(extra)

    def _redact(self, text: str) -> str:
        try:
            return self.hook.redact(text)
        except Exception:  # the connection itself may be what failed: redact without its secrets
            from lead_pipelines.common.secrets import Redactor

            return Redactor(()).redact(text)

