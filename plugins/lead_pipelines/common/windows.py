"""Data intervals: the one place that maps a window to what each Airflow runner needs.

Airflow 3 gives the same logical date different windows by run type: a manual run
(``dag.test``, ``airflow dags test``, the UI's trigger button) covers ``[L - interval, L)``,
a scheduled or backfill run covers ``[L, L + interval)``. Task code reads only the window.

A manual run may instead ask for a one-off re-pull of ``[start, end)`` through the DAG params
``start`` and ``end``: :meth:`Window.from_context` is the one place that decides which window a
task covers, and it checks the range before any task calls a vendor.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

MANUAL_RUN_TYPES = frozenset({"manual"})
INTERVAL_START_RUN_TYPES = frozenset({"scheduled", "backfill"})

#: The DAG params of a manual re-pull: both given, the run covers ``[start, end)``, not its interval.
PARAM_START = "start"
PARAM_END = "end"
#: The longest range one re-pull may ask for: a month of an hourly source, a year of a daily one.
MAX_RANGE_HOURLY = timedelta(days=31)
MAX_RANGE_DAILY = timedelta(days=366)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class InvalidRangeError(ValueError):
    """The ``start``/``end`` a run was given cannot be re-pulled; the message says what to use instead."""


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
    def from_context(cls, context, *, interval: timedelta | None = None, now: datetime | None = None) -> Window:
        """Return the window a task covers: the range its manual run asked for, else the run's data interval.

        :param context: The task context Airflow passes to ``execute``.
        :param interval: The source's window length; given, a requested range is also checked against
            it (aligned to it, not too long, not in the future).
        :param now: The time the range is judged at (default: now).
        :raises InvalidRangeError: The params ask for a range that cannot be re-pulled.
        """
        requested = requested_range(context, interval=interval, now=now)
        if requested is not None:
            return requested
        start, end = context.get("data_interval_start"), context.get("data_interval_end")
        if start is None or end is None:
            raise ValueError(
                "this run has no data interval: the DAG needs a CronDataIntervalTimetable, "
                "not a cron string (which gives CronTriggerTimetable)"
            )
        return cls(_as_datetime(start), _as_datetime(end))


def requested_range(context, *, interval: timedelta | None = None, now: datetime | None = None) -> Window | None:
    """Return the ``[start, end)`` a manual run's params ask for, or None when they ask for nothing.

    :param context: A task context (``params``, ``dag_run``).
    :param interval: The source's window length; given, the range is also checked by :func:`check_range`.
    :param now: The time the range is judged at (default: now).
    :raises InvalidRangeError: Only one bound given, a bound that is not a date-time, an end not after
        its start, a range given to a run that is not manual, or (with ``interval``) what
        :func:`check_range` refuses.
    """
    params = context.get("params") or {}
    start, end = params.get(PARAM_START), params.get(PARAM_END)
    if start in (None, "") and end in (None, ""):
        return None
    if start in (None, "") or end in (None, ""):
        given = PARAM_START if end in (None, "") else PARAM_END
        raise InvalidRangeError(
            f"only '{given}' was given: a re-pull needs both '{PARAM_START}' and '{PARAM_END}' "
            f"(e.g. start 2024-06-01T05:00:00Z, end 2024-06-01T07:00:00Z); leave both empty to land the run's own window"
        )
    run_type = _run_type(context)
    if run_type not in MANUAL_RUN_TYPES | {None}:
        raise InvalidRangeError(
            f"'{PARAM_START}'/'{PARAM_END}' apply to a manual run only; this {run_type} run covers its own "
            "data interval: trigger the DAG by hand with the range, or backfill by date range"
        )
    first, last = _parse_bound(PARAM_START, start), _parse_bound(PARAM_END, end)
    if last <= first:
        raise InvalidRangeError(
            f"end {_iso(last)} is not after start {_iso(first)}: the range is [start, end), end excluded"
        )
    window = Window(first, last)
    if interval is not None:
        check_range(window, interval, now or datetime.now(timezone.utc))
    return window


def check_range(window: Window, interval: timedelta, now: datetime) -> None:
    """Check that a requested range is whole windows of the source, not too long and already over.

    :param window: The requested range.
    :param interval: The source's window length (one hour, one day).
    :param now: The time it is judged at.
    :raises InvalidRangeError: What is wrong, and what to use instead.
    """
    unit = _unit_name(interval)
    if window.end > now:
        raise InvalidRangeError(
            f"the range {window} ends in the future (now is {_iso(now)}): only windows that are over can be "
            f"pulled; use an end at or before {_iso(_floor(now, interval))}"
        )
    for name, bound, fixed in ((PARAM_START, window.start, _floor(window.start, interval)),
                               (PARAM_END, window.end, _ceil(window.end, interval))):
        if bound != fixed:
            raise InvalidRangeError(
                f"{name} {_iso(bound)} is not on {unit} (this source lands {_adjective(interval)} "
                f"windows, UTC): use {name} {_iso(fixed)}"
            )
    limit = max_range(interval)
    if window.end - window.start > limit:
        raise InvalidRangeError(
            f"the range {window} spans {_span(window)}; one re-pull of {_adjective(interval)} windows covers "
            f"at most {limit.days} days: split it into several runs, or backfill the dates"
        )


def max_range(interval: timedelta) -> timedelta:
    """Return the longest range one re-pull may ask for, by the source's window length.

    :param interval: The source's window length.
    """
    return MAX_RANGE_DAILY if interval >= timedelta(days=1) else MAX_RANGE_HOURLY


def _run_type(context) -> str | None:
    run = context.get("dag_run")
    run_type = getattr(run, "run_type", None)
    return None if run_type is None else str(getattr(run_type, "value", run_type))


def _parse_bound(name: str, value) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise InvalidRangeError(
                f"{name} {value!r} is not a date-time: write it as ISO 8601, e.g. 2024-06-01T05:00:00Z"
            ) from None
    # A bound without an offset is read as UTC, the time zone every window is kept in.
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _floor(moment: datetime, interval: timedelta) -> datetime:
    return moment - (moment - _EPOCH) % interval


def _ceil(moment: datetime, interval: timedelta) -> datetime:
    floor = _floor(moment, interval)
    return floor if floor == moment else floor + interval


def _unit_name(interval: timedelta) -> str:
    return {timedelta(hours=1): "a whole hour", timedelta(days=1): "a midnight"}.get(
        interval, f"a multiple of {interval} since 1970-01-01")


def _adjective(interval: timedelta) -> str:
    return {timedelta(hours=1): "hourly", timedelta(days=1): "daily"}.get(interval, f"{interval}")


def _span(window: Window) -> str:
    span = window.end - window.start
    return f"{span.days} days" if not span % timedelta(days=1) else f"{span / timedelta(hours=1):g} hours"


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
