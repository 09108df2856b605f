"""One window of one stream, all or nothing: audit row, landing, window record and state.

The landing, the window record, the state and the audit row's success commit in one transaction.
A run that fails rolls all of it back and records why; a run killed outright leaves its audit row
``running`` until the next run of the same window marks it ``abandoned``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg.types.json import Jsonb

from lead_pipelines.common.http_hook import HttpStats
from lead_pipelines.common.landing import LandingResult, land_pages
from lead_pipelines.common.warehouse import WAREHOUSE_CONN_ID, connect, statement
from lead_pipelines.common.windows import Window

log = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 2000


@dataclass(frozen=True)
class RunInfo:
    """Who ran a sync, for the audit row (all optional outside Airflow)."""

    dag_id: str | None = None
    airflow_run_id: str | None = None
    task_id: str | None = None
    try_number: int | None = None

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> RunInfo:
        """Read the DAG, run, task and try number from an Airflow task context."""
        ti = context.get("ti") or context.get("task_instance")
        dag_run = context.get("dag_run")
        return cls(
            dag_id=getattr(ti, "dag_id", None),
            airflow_run_id=getattr(dag_run, "run_id", None) or context.get("run_id"),
            task_id=getattr(ti, "task_id", None),
            try_number=getattr(ti, "try_number", None),
        )


@dataclass
class SyncSummary:
    """What one window sync did; every field is safe for XCom and logs."""

    vendor: str
    stream: str
    window_start: str
    window_end: str
    run_id: int
    status: str
    landing: LandingResult = field(default_factory=LandingResult)
    http: HttpStats = field(default_factory=HttpStats)
    duration_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Return a flat dict of counts for XCom."""
        landing = self.landing.as_dict()
        landing.pop("last_record_id", None)
        return {
            "vendor": self.vendor,
            "stream": self.stream,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "run_id": self.run_id,
            "status": self.status,
            **landing,
            "http_requests": self.http.requests,
            "http_retries": self.http.retries,
            "http_wait_seconds": round(self.http.wait_seconds, 3),
            "duration_seconds": round(self.duration_seconds, 3),
        }


def sync_window(
    *,
    vendor: str,
    stream: str,
    table: str,
    window: Window,
    pages: Callable[[], Iterable[Sequence[Any]]],
    record_id: Callable[[Any], str],
    http_stats: HttpStats,
    cursor: Callable[[LandingResult], Mapping[str, Any]] = lambda result: {"last_record_id": result.last_record_id},
    run_info: RunInfo | None = None,
    warehouse_conn_id: str = WAREHOUSE_CONN_ID,
) -> SyncSummary:
    """Land one window of one stream and record the run; re-running a window converges.

    :param vendor: Vendor key, e.g. ``leadconduit``.
    :param stream: Stream name, e.g. ``events``.
    :param table: Raw table without schema.
    :param window: The data interval this run owns.
    :param pages: Returns the page generator; called once, inside the landing transaction.
    :param record_id: Returns a record's id.
    :param http_stats: The hook's counters, read for the audit row.
    :param cursor: Returns the stream's cursor to commit with the state (vendor-specific).
    :param run_info: Airflow identifiers for the audit row.
    :param warehouse_conn_id: Postgres connection of the warehouse.
    """
    run_info = run_info or RunInfo()
    ids = {"vendor": vendor, "stream": stream, "window_start": window.start, "window_end": window.end}
    started = time.monotonic()
    landing = LandingResult()
    conn = connect(warehouse_conn_id)
    try:
        with conn.transaction():
            (run_id,) = conn.execute(statement("insert_sync_run"), {**ids, **run_info.__dict__}).fetchone()
            stale = conn.execute(statement("abandon_stale_sync_runs"), {**ids, "run_id": run_id}).rowcount
        if stale:
            log.warning("Marked %d earlier run(s) of %s.%s %s that never finished as abandoned", stale, vendor, stream, window)
        summary = SyncSummary(vendor, stream, window.start.isoformat(), window.end.isoformat(), run_id, "running",
                              landing, http_stats)

        def progress(page: int, count: int) -> None:
            landing.pages, landing.records = page, landing.records + count
            log.info("%s.%s %s: page %d staged, %d records (%d so far)", vendor, stream, window, page, count, landing.records)

        try:
            with conn.transaction():
                result = land_pages(conn, table, pages(), run_id=run_id, record_id=record_id, on_page=progress)
                summary.landing = result
                summary.duration_seconds = time.monotonic() - started
                conn.execute(statement("upsert_sync_window"), {**ids, "run_id": run_id, "records": result.records})
                conn.execute(
                    statement("upsert_sync_state"),
                    {**ids, "run_id": run_id, "cursor": Jsonb(dict(cursor(result)))},
                )
                summary.status = "success"
                conn.execute(statement("finish_sync_run"), _audit_values(summary, None))
        except BaseException as exc:
            # BaseException too: Airflow stops a task on SIGTERM with an exception that is not an Exception.
            summary.status = "failed"
            summary.duration_seconds = time.monotonic() - started
            _record_failure(conn, summary, exc)
            raise
        return summary
    finally:
        conn.close()


def _audit_values(summary: SyncSummary, error: str | None) -> dict[str, Any]:
    return {
        "run_id": summary.run_id,
        "status": summary.status,
        "pages": summary.landing.pages,
        "records": summary.landing.records,
        "inserted": summary.landing.inserted,
        "updated": summary.landing.updated,
        "unchanged": summary.landing.unchanged,
        "http_requests": summary.http.requests,
        "http_retries": summary.http.retries,
        "http_wait_seconds": summary.http.wait_seconds,
        "duration_seconds": summary.duration_seconds,
        "error": error,
    }


def _record_failure(conn, summary: SyncSummary, exc: BaseException) -> None:
    error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
    try:
        with conn.transaction():
            conn.execute(statement("finish_sync_run"), _audit_values(summary, error))
    except Exception:  # the original error matters more than a failed audit write
        log.exception("Could not record the failure of run %s", summary.run_id)
