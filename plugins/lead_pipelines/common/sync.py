"""One window of one stream, all or nothing: window lock, audit row, landing, window record and state.

A run first takes the window's lock (a PostgreSQL advisory lock on the vendor, stream and window,
held by its session): a second run of the same window waits for it, up to a bound, or fails
clearly. Holding the lock, it marks runs of the window left ``running`` as ``abandoned`` (a live
run holds the lock, so those processes are gone) and records its own try. The landing, the window
record, the state and the audit row's success then commit in one transaction. A run that fails
rolls all of it back and records why, on a fresh connection if the landing connection is gone.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from lead_pipelines.common.drift import profile_window
from lead_pipelines.common.errors import (
    ConcurrentRunError,
    IncompleteWindowError,
    LandingError,
    QuarantineError,
    WarehouseError,
)
from lead_pipelines.common.http_hook import HttpStats
from lead_pipelines.common.landing import LandingResult, RecordRules, Target, describe_warehouse_error, land_pages
from lead_pipelines.common.prefetch import read_ahead
from lead_pipelines.common.records import Page
from lead_pipelines.common.warehouse import WAREHOUSE_CONN_ID, connect, statement

log = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 2000
#: How long a run waits for another run of the same window before it fails.
DEFAULT_LOCK_WAIT_SECONDS = 600.0
COUNT_POLICIES = ("fail", "warn")


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


@dataclass(frozen=True)
class Checks:
    """What a run verifies before it commits, and what it does when a check fails.

    :param vendor_count: Returns the vendor's own count of the window's records (None: no count).
    :param on_count_mismatch: ``fail`` (roll back; a retry re-reads the window) or ``warn``.
    :param fail_on_quarantine: Fail the run instead of landing around quarantined records.
    :param lock_wait_seconds: How long to wait for another run of the same window.
    """

    vendor_count: Callable[[], int | None] | None = None
    on_count_mismatch: str = "fail"
    fail_on_quarantine: bool = False
    lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS

    def __post_init__(self) -> None:
        if self.on_count_mismatch not in COUNT_POLICIES:
            raise ValueError(f"on_count_mismatch must be one of {COUNT_POLICIES}, got {self.on_count_mismatch!r}")


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
    lock_wait_seconds: float = 0.0
    vendor_count: int | None = None
    warning: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return a flat dict of counts for XCom."""
        landing = self.landing.as_dict()
        landing.pop("last_record_id", None)
        landing.pop("quarantine_reasons", None)  # the reasons are in ops.quarantine and the task log
        return {
            "vendor": self.vendor,
            "stream": self.stream,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "run_id": self.run_id,
            "status": self.status,
            **landing,
            "vendor_count": self.vendor_count,
            "http_requests": self.http.requests,
            "http_retries": self.http.retries,
            "http_wait_seconds": round(self.http.wait_seconds, 3),
            "http_paced_seconds": round(self.http.paced_seconds, 3),
            "lock_wait_seconds": round(self.lock_wait_seconds, 3),
            "duration_seconds": round(self.duration_seconds, 3),
        }


def window_lock_key(vendor: str, stream: str, start: Any, end: Any) -> int:
    """Return the advisory-lock key of one window of one stream (a signed 64-bit integer)."""
    text = f"lead_pipelines/{vendor}/{stream}/{start.isoformat()}/{end.isoformat()}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big", signed=True)


def sync_window(
    *,
    target: Target,
    pages: Callable[[], Iterable[Page | Sequence[Any]]],
    http_stats: HttpStats,
    rules: RecordRules = RecordRules(),
    checks: Checks = Checks(),
    cursor: Callable[[LandingResult], Mapping[str, Any]] = lambda result: {"last_record_id": result.last_record_id},
    run_info: RunInfo | None = None,
    warehouse_conn_id: str = WAREHOUSE_CONN_ID,
    redact: Callable[[str], str] = lambda text: text,
) -> SyncSummary:
    """Land one window of one stream and record the run; re-running a window converges.

    :param target: Vendor, stream, endpoint, raw table and window.
    :param pages: Returns the page generator; called once, inside the landing transaction.
    :param http_stats: The hook's counters, read for the audit row.
    :param rules: The stream's id, time and count rules.
    :param checks: The vendor count, the policies, the lock wait.
    :param cursor: Returns the stream's cursor to commit with the state (vendor-specific).
    :param run_info: Airflow identifiers for the audit row.
    :param warehouse_conn_id: Postgres connection of the warehouse.
    :param redact: Removes secrets from an error message before it is stored.
    """
    run_info = run_info or RunInfo()
    window = target.window
    ids = {"vendor": target.vendor, "stream": target.stream, "window_start": window.start, "window_end": window.end}
    lock = {"lock_key": window_lock_key(target.vendor, target.stream, window.start, window.end)}
    started = time.monotonic()
    summary = SyncSummary(target.vendor, target.stream, window.start.isoformat(), window.end.isoformat(), 0,
                          "waiting", LandingResult(), http_stats)
    try:
        conn = connect(warehouse_conn_id)
    except psycopg.OperationalError as exc:
        # libpq's message names the host and the role, never the password; keep its first line.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise target.error(f"could not connect to the warehouse ({warehouse_conn_id!r}): {redact(first)[:300]}",
                           cls=WarehouseError) from None
    try:
        summary.lock_wait_seconds = _lock_window(conn, target, ids, lock, checks.lock_wait_seconds)
        with conn.transaction():
            (summary.run_id,) = conn.execute(statement("insert_sync_run"), {**ids, **run_info.__dict__}).fetchone()
            stale = conn.execute(statement("abandon_stale_sync_runs"), {**ids, "run_id": summary.run_id}).rowcount
        summary.status = "running"
        if stale:
            log.warning("Marked %d earlier run(s) of %s.%s %s that never finished as abandoned",
                        stale, target.vendor, target.stream, window)
        try:
            _land(conn, target, pages, rules, checks, cursor, ids, summary, started)
        except BaseException as exc:
            # BaseException too: Airflow stops a task on SIGTERM with an exception that is not an Exception.
            summary.status = "failed"
            summary.duration_seconds = time.monotonic() - started
            _record_failure(conn, summary, exc, redact, warehouse_conn_id, target)
            raise
        return summary
    except psycopg.Error as exc:
        raise target.error(describe_warehouse_error(exc), cls=WarehouseError) from None
    finally:
        _release(conn, lock)


def _lock_window(conn: psycopg.Connection, target: Target, ids: dict[str, Any], lock: dict[str, Any],
                 wait_seconds: float) -> float:
    began = time.monotonic()
    try:
        with conn.transaction():
            conn.execute(statement("lock_sync_window"), {**lock, "lock_timeout": f"{max(1, int(wait_seconds * 1000))}ms"})
    except psycopg.errors.LockNotAvailable:
        holders = conn.execute(statement("select_running_sync_runs"), ids).fetchall()
        conn.rollback()
        held_by = (f" (run_id {holders[0][0]}, Airflow run {holders[0][1]}, started {holders[0][2]:%Y-%m-%d %H:%M:%S %Z})"
                   if holders else "")
        raise target.error(
            f"another run of this window{held_by} is still landing it; waited {wait_seconds:g}s for it, "
            "nothing was done (a retry waits again)",
            cls=ConcurrentRunError,
        ) from None
    waited = time.monotonic() - began
    if waited >= 1:
        log.info("%s.%s %s: waited %.1fs for another run of the same window to finish",
                 target.vendor, target.stream, target.window, waited)
    return waited


def _release(conn: psycopg.Connection, lock: dict[str, Any]) -> None:
    try:
        if not conn.closed and not conn.broken:
            conn.rollback()
            conn.execute(statement("unlock_sync_window"), lock)
            conn.commit()
    except psycopg.Error:
        pass  # closing the session below releases the lock all the same
    finally:
        conn.close()


def _land(conn, target: Target, pages, rules: RecordRules, checks: Checks, cursor, ids, summary: SyncSummary,
          started: float) -> None:
    landing = summary.landing

    def progress(page: int, count: int) -> None:
        landing.pages, landing.records = page, landing.records + count
        log.info("%s.%s %s: page %d staged, %d records (%d so far)",
                 target.vendor, target.stream, target.window, page, count, landing.records)

    try:
        with conn.transaction():
            # The next page is fetched and decoded while the current one streams into PostgreSQL.
            result = land_pages(conn, target, read_ahead(pages(), name=f"{target.vendor}-{target.stream}-pages"),
                                run_id=summary.run_id, rules=rules, on_page=progress,
                                on_staged=lambda cur, stage: profile_window(cur, stage, target, summary.run_id))
            summary.landing = result
            _check(target, checks, result, summary)
            summary.duration_seconds = time.monotonic() - started
            conn.execute(statement("upsert_sync_window"), {**ids, "run_id": summary.run_id, "records": result.records})
            conn.execute(statement("upsert_sync_state"),
                         {**ids, "run_id": summary.run_id, "cursor": Jsonb(dict(cursor(result)))})
            summary.status = "success"
            conn.execute(statement("finish_sync_run"), _audit_values(summary, summary.warning))
    except psycopg.Error as exc:
        summary.status = "failed"
        raise target.error(f"{describe_warehouse_error(exc)}; nothing of this window was landed", cls=WarehouseError) from None


def _check(target: Target, checks: Checks, result: LandingResult, summary: SyncSummary) -> None:
    if checks.vendor_count is not None:
        expected = checks.vendor_count()
        summary.vendor_count = expected
        if expected is not None and expected != result.counted:
            detail = (
                f"the vendor counts {expected} records in the window but {result.counted} arrived "
                f"({result.counted - min(result.counted, result.quarantined)} landed, {result.quarantined} quarantined; "
                f"{result.pages} pages)"
            )
            if checks.on_count_mismatch == "fail":
                raise target.error(f"{detail}: nothing was landed; a retry reads the window again",
                                   cls=IncompleteWindowError)
            summary.warning = f"warning: {detail}"
            log.warning("%s.%s %s: %s", target.vendor, target.stream, target.window, summary.warning)
    if result.quarantined:
        reasons = "; ".join(f"{n} × {reason}" for reason, n in sorted(result.quarantine_reasons.items()))
        if checks.fail_on_quarantine:
            raise target.error(
                f"{result.quarantined} record(s) cannot be landed faithfully ({reasons}); the DAG fails on "
                "quarantine, so nothing was landed",
                cls=QuarantineError,
            )
        log.warning("%s.%s %s: %d record(s) quarantined in ops.quarantine: %s",
                    target.vendor, target.stream, target.window, result.quarantined, reasons)


def _audit_values(summary: SyncSummary, error: str | None) -> dict[str, Any]:
    landing = summary.landing
    return {
        "run_id": summary.run_id,
        "status": summary.status,
        "pages": landing.pages,
        "records": landing.records,
        "inserted": landing.inserted,
        "updated": landing.updated,
        "unchanged": landing.unchanged,
        "stale": landing.stale,
        "quarantined": landing.quarantined,
        "vendor_count": summary.vendor_count,
        "counted": landing.counted if summary.vendor_count is not None else None,
        "http_requests": summary.http.requests,
        "http_retries": summary.http.retries,
        "http_wait_seconds": summary.http.wait_seconds,
        "http_paced_seconds": summary.http.paced_seconds,
        "lock_wait_seconds": summary.lock_wait_seconds,
        "duration_seconds": summary.duration_seconds,
        "error": error,
    }


def _record_failure(conn: psycopg.Connection, summary: SyncSummary, exc: BaseException,
                    redact: Callable[[str], str], warehouse_conn_id: str, target: Target) -> None:
    """Record the failure on the landing connection, or on a fresh one when that one is gone."""
    text = str(exc) if isinstance(exc, LandingError) else f"{type(exc).__name__}: {exc}"
    values = _audit_values(summary, redact(text)[:MAX_ERROR_LENGTH])
    if not conn.closed and not conn.broken:
        try:
            with conn.transaction():
                conn.execute(statement("finish_sync_run"), values)
            return
        except psycopg.Error:
            pass
    try:
        with connect(warehouse_conn_id) as fresh:
            fresh.execute(statement("finish_sync_run"), values)
        log.warning("Recorded the failure of run %s on a fresh connection: the landing connection was lost",
                    summary.run_id)
    except Exception as second:  # the original error matters more than a failed audit write
        log.error(
            "Could not record the failure of run %s in ops.sync_runs: the warehouse is unreachable (%s). "
            "The run stays 'running' there until the next run of %s.%s %s marks it abandoned.",
            summary.run_id, type(second).__name__, target.vendor, target.stream, target.window,
        )
