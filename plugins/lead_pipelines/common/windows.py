"""Data intervals: the one place that maps a window to what each Airflow runner needs.

Airflow 3 gives the same logical date different windows by run type: a manual run
(``dag.test``, ``airflow dags test``, the UI's trigger button) covers ``[L - interval, L)``,
a scheduled or backfill run covers ``[L, L + interval)``. Task code reads only the window.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

MANUAL_RUN_TYPES = frozenset({"manual"})
INTERVAL_START_RUN_TYPES = frozenset({"scheduled", "backfill"})


@dataclass(frozen=True, order=True)
class Window:
    """A half-open data interval ``[start, end)`` in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError(f"window bounds must be timezone-aware, got {self.start!r} and {self.end!r}")
        if self.end <= self.start:
            raise ValueError(f"window end {self.end.isoformat()} is not after its start {self.start.isoformat()}")
        object.__setattr__(self, "start", self.start.astimezone(timezone.utc))
        object.__setattr__(self, "end", self.end.astimezone(timezone.utc))

    def __str__(self) -> str:
        return f"[{_iso(self.start)}, {_iso(self.end)})"

    @classmethod
    def from_context(cls, context) -> Window:
        """Read the run's data interval from an Airflow task context.

        :param context: The task context Airflow passes to ``execute``.
        """
        start, end = context.get("data_interval_start"), context.get("data_interval_end")
        if start is None or end is None:
            raise ValueError(
                "this run has no data interval: the DAG needs a CronDataIntervalTimetable, "
                "not a cron string (which gives CronTriggerTimetable)"
            )
        return cls(_as_datetime(start), _as_datetime(end))


def _as_datetime(value) -> datetime:
    # Airflow hands out pendulum DateTimes; the window stays plain datetime for psycopg and JSON.
    return datetime.fromtimestamp(value.timestamp(), tz=timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def split_windows(start: datetime, end: datetime, step: timedelta) -> Iterator[Window]:
    """Yield consecutive windows of length ``step`` covering ``[start, end)``.

    :param start: First window's start; aligned by the caller.
    :param end: Last window's end; a trailing partial window is not yielded.
    :param step: Window length, e.g. one hour.
    """
    cursor = start
    while cursor + step <= end:
        yield Window(cursor, cursor + step)
        cursor += step


def logical_date_for(window: Window, run_type: str) -> datetime:
    """Return the logical date that makes a run of ``run_type`` cover ``window``.

    :param window: The data interval the run must cover.
    :param run_type: ``manual`` (dag.test, CLI test, UI trigger), ``scheduled`` or ``backfill``.
    """
    if run_type in MANUAL_RUN_TYPES:
        return window.end
    if run_type in INTERVAL_START_RUN_TYPES:
        return window.start
    raise ValueError(f"unknown run type {run_type!r}; expected manual, scheduled or backfill")
