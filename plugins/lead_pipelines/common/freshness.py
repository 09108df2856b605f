"""Freshness: is each stream's latest landed window recent enough for its source's ``freshness``?

Every sync DAG ends with ``check_freshness``, once every landing task is done (failed ones too). On a
scheduled run it reads, per stream, the end of the latest window landed (``ops.sync_state``; a
mapped stream counts its latest partition), compares ``now - last window end`` with
``SourceSettings.freshness``, records one row per stream in ``ops.freshness_checks`` and fails (no
retry) naming every late stream, so the task turns red and Airflow's failure callbacks and email
alerts fire on it. A stream that never landed is late. Manual and backfill runs re-pull old windows,
whose lag says nothing about the source: the task skips them.

The task is the DAG's teardown: it runs whatever the landing tasks did, and it does not decide the
DAG run's state (a failed landing still fails the run; a late source fails this task only).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow.sdk import task
from airflow.sdk.exceptions import AirflowFailException

if TYPE_CHECKING:
    from lead_pipelines.common.settings import SourceSettings

log = logging.getLogger(__name__)

TASK_ID = "check_freshness"
#: The only run type whose lag tells how late the source is.
JUDGED_RUN_TYPES = frozenset({"scheduled"})


TASK_DOC = """\
**Checks freshness** once every landing task is done (failed ones too), on **scheduled** runs: reads
the end of each stream's latest landed window (`ops.sync_state`), compares its age with the source's
`freshness`, and records one row per stream in `ops.freshness_checks`.

- **Fails without retrying** naming each late stream, its lag and the allowance, so failure
  callbacks and email alerts fire on it. A stream that never landed is late.
- **Skipped** on manual and backfill runs: an old window's lag says nothing about the source.
- It is the DAG's teardown: the run's state follows the landing tasks, not this check.
"""


class StaleDataError(AirflowFailException):
    """A stream's latest landed window is older than its source allows; retrying cannot help."""


@dataclass(frozen=True)
class FreshnessCheck:
    """One stream's freshness at one moment, as recorded in ``ops.freshness_checks``."""

    vendor: str
    stream: str
    checked_at: datetime
    last_window_end: datetime | None
    lag_seconds: float | None
    allowed_seconds: float
    fresh: bool
    dag_run_id: str | None

    def describe(self, display_name: str) -> str:
        """Return one line: the stream, its last window end, its lag against what is allowed."""
        allowed = _duration(self.allowed_seconds)
        if self.last_window_end is None:
            return f"{display_name} {self.stream}: no window has landed yet (allowed lag {allowed})"
        state = "fresh" if self.fresh else "LATE"
        return (f"{display_name} {self.stream}: {state}, last window landed ends "
                f"{self.last_window_end.isoformat()}, lag {_duration(self.lag_seconds)} vs allowed {allowed}")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    whole = int(seconds)
    hours, rest = divmod(abs(whole), 3600)
    text = f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"
    return f"-{text}" if whole < 0 else text


def run_type_of(context: Mapping[str, Any]) -> str:
    """Return the run type of a task context (``scheduled``, ``manual``, ``backfill``, ...)."""
    dag_run = context.get("dag_run")
    value = getattr(dag_run, "run_type", None)
    return str(getattr(value, "value", value) or "")


def judge(source: SourceSettings, last_window_ends: Mapping[str, datetime], now: datetime,
          dag_run_id: str | None) -> list[FreshnessCheck]:
    """Judge every stream of ``source`` at ``now`` from the end of its latest landed window.

    :param source: The source's settings (its streams and ``freshness``).
    :param last_window_ends: Stream name -> end of its latest landed window (missing: never landed).
    :param now: The moment judged.
    :param dag_run_id: The Airflow run that checks, for the record.
    """
    allowed = source.freshness.total_seconds()
    checks = []
    for stream in source.streams:
        end = last_window_ends.get(stream.name)
        lag = (now - end).total_seconds() if end is not None else None
        checks.append(FreshnessCheck(source.vendor, stream.name, now, end, lag, allowed,
                                     lag is not None and lag <= allowed, dag_run_id))
    return checks


def check_freshness(source: SourceSettings, context: Mapping[str, Any], *, warehouse_conn_id: str,
                    now: datetime | None = None) -> list[dict[str, Any]]:
    """Judge, record and report the freshness of every stream of ``source`` for a scheduled run.

    :param source: The source's settings.
    :param context: The task context (its run type and run id).
    :param warehouse_conn_id: The warehouse's postgres connection.
    :param now: The moment judged (default: now).
    :returns: The checks, as dicts (small: one per stream).
    :raises AirflowSkipException: The run is not a scheduled one.
    :raises StaleDataError: A stream is late; the message names each late stream, its lag and allowance.
    """
    run_type = run_type_of(context)
    if run_type not in JUDGED_RUN_TYPES:
        from airflow.sdk.exceptions import AirflowSkipException

        log.info("Freshness is judged on scheduled runs only; this is a %s run (its window may be "
                 "old on purpose): skipped", run_type or "unknown")
        raise AirflowSkipException(f"freshness is judged on scheduled runs only, not on a {run_type or 'unknown'} run")
    dag_run = context.get("dag_run")
    run_id = getattr(dag_run, "run_id", None) or context.get("run_id")
    checks = _judge_and_record(source, warehouse_conn_id, now or datetime.now(timezone.utc), run_id)
    for check in checks:
        log.log(logging.INFO if check.fresh else logging.ERROR, "%s", check.describe(source.display_name))
    late = [check for check in checks if not check.fresh]
    if late:
        lines = "; ".join(check.describe(source.display_name) for check in late)
        raise StaleDataError(f"{len(late)} of {len(checks)} {source.display_name} stream(s) late "
                             f"(freshness {_duration(source.freshness.total_seconds())}): {lines}")
    return [{**asdict(c), "checked_at": c.checked_at.isoformat(),
             "last_window_end": c.last_window_end.isoformat() if c.last_window_end else None} for c in checks]


def _judge_and_record(source: SourceSettings, warehouse_conn_id: str, now: datetime,
                      run_id: str | None) -> list[FreshnessCheck]:
    from lead_pipelines.common.warehouse import connect, statement

    with connect(warehouse_conn_id) as conn:
        rows = conn.execute(statement("select_stream_watermarks"),
                            {"vendor": source.vendor, "streams": [s.name for s in source.streams]}).fetchall()
        checks = judge(source, dict(rows), now, run_id)
        with conn.cursor() as cur:
            cur.executemany(statement("insert_freshness_check"), [asdict(c) for c in checks])
        conn.commit()
    return checks


def freshness_task(source: SourceSettings, warehouse_conn_id: str):
    """Return the DAG's ``check_freshness`` teardown (in the DAG being defined); set it downstream of the landings."""

    @task(task_id=TASK_ID, doc_md=TASK_DOC)
    def check_freshness_task(**context) -> list[dict[str, Any]]:
        """Judge, record and report the freshness of every stream of the source."""
        return check_freshness(source, context, warehouse_conn_id=warehouse_conn_id)

    return check_freshness_task().as_teardown()

