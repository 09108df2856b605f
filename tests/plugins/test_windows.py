"""Window: the half-open data interval every task reads, and the logical date each runner needs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import pairwise

import pendulum
import pytest

from lead_pipelines.common.windows import Window, logical_date_for, split_windows

UTC = timezone.utc
CET = timezone(timedelta(hours=2))


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 6, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2024, 6, 1, 5), at(1, 6)),
        (at(1, 5), datetime(2024, 6, 1, 6)),
        (datetime(2024, 6, 1, 5), datetime(2024, 6, 1, 6)),
    ],
    ids=["naive-start", "naive-end", "both-naive"],
)
def test_naive_bounds_are_rejected(start, end):
    with pytest.raises(ValueError, match="timezone-aware"):
        Window(start, end)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (at(1, 6), at(1, 6)),
        (at(1, 6), at(1, 5)),
        # 07:00+02:00 is 05:00 UTC: earlier than 06:00 UTC although the wall clock says later.
        (at(1, 6), datetime(2024, 6, 1, 7, tzinfo=CET)),
    ],
    ids=["empty", "reversed", "reversed-across-zones"],
)
def test_end_not_after_start_is_rejected(start, end):
    with pytest.raises(ValueError, match="is not after its start"):
        Window(start, end)


def test_bounds_are_converted_to_utc():
    window = Window(datetime(2024, 6, 1, 7, tzinfo=CET), datetime(2024, 6, 1, 8, tzinfo=CET))

    assert window.start == at(1, 5) and window.end == at(1, 6)
    assert window.start.tzinfo is UTC and window.end.tzinfo is UTC
    assert window.start.hour == 5
    assert window == Window(at(1, 5), at(1, 6))


def test_str_is_half_open_iso_utc():
    window = Window(datetime(2024, 6, 1, 7, 30, tzinfo=CET), at(1, 6))

    assert str(window) == "[2024-06-01T05:30:00Z, 2024-06-01T06:00:00Z)"


def test_windows_are_frozen_and_ordered():
    early, late = Window(at(1, 5), at(1, 6)), Window(at(1, 6), at(1, 7))

    with pytest.raises(AttributeError):
        early.start = at(1, 4)  # type: ignore[misc]
    assert sorted([late, early]) == [early, late]
    assert len({early, Window(at(1, 5), at(1, 6))}) == 1


def test_from_context_reads_pendulum_interval():
    context = {
        "data_interval_start": pendulum.datetime(2024, 6, 1, 7, tz="Europe/Helsinki"),
        "data_interval_end": pendulum.datetime(2024, 6, 1, 8, tz="Europe/Helsinki"),
    }

    window = Window.from_context(context)

    assert (window.start, window.end) == (at(1, 4), at(1, 5))
    assert type(window.start) is datetime and type(window.end) is datetime
    assert window.start.tzinfo is UTC


def test_from_context_reads_plain_datetimes():
    window = Window.from_context({"data_interval_start": at(1, 5), "data_interval_end": at(1, 6)})

    assert window == Window(at(1, 5), at(1, 6))


@pytest.mark.parametrize(
    "context",
    [
        {},
        {"data_interval_start": None, "data_interval_end": None},
        {"data_interval_start": pendulum.datetime(2024, 6, 1, 5), "data_interval_end": None},
        {"data_interval_start": None, "data_interval_end": pendulum.datetime(2024, 6, 1, 6)},
    ],
    ids=["absent", "both-none", "end-none", "start-none"],
)
def test_from_context_without_interval_names_the_timetable(context):
    with pytest.raises(ValueError, match="no data interval") as excinfo:
        Window.from_context(context)

    assert "CronDataIntervalTimetable" in str(excinfo.value)


def test_split_windows_covers_the_range_hour_by_hour():
    windows = list(split_windows(at(1, 0), at(1, 4), timedelta(hours=1)))

    assert windows == [Window(at(1, h), at(1, h + 1)) for h in range(4)]
    assert all(a.end == b.start for a, b in pairwise(windows))


@pytest.mark.parametrize(
    ("end", "expected"),
    [
        (at(1, 2, 30), 2),
        (at(1, 0, 59), 0),
        (at(1, 1), 1),
        (at(1, 0), 0),
    ],
    ids=["trailing-partial-dropped", "shorter-than-step", "exact-one", "empty-range"],
)
def test_split_windows_yields_only_whole_windows(end, expected):
    windows = list(split_windows(at(1, 0), end, timedelta(hours=1)))

    assert len(windows) == expected
    assert all(w.end - w.start == timedelta(hours=1) for w in windows)
    assert all(w.end <= end for w in windows)


def test_split_windows_crosses_days_with_odd_step():
    windows = list(split_windows(at(1, 22), at(2, 2), timedelta(minutes=90)))

    assert [str(w) for w in windows] == [
        "[2024-06-01T22:00:00Z, 2024-06-01T23:30:00Z)",
        "[2024-06-01T23:30:00Z, 2024-06-02T01:00:00Z)",
    ]


@pytest.mark.parametrize(
    ("run_type", "expected"),
    [("manual", at(1, 6)), ("scheduled", at(1, 5)), ("backfill", at(1, 5))],
    ids=["manual-uses-end", "scheduled-uses-start", "backfill-uses-start"],
)
def test_logical_date_for_run_type(run_type, expected):
    assert logical_date_for(Window(at(1, 5), at(1, 6)), run_type) == expected


@pytest.mark.parametrize("run_type", ["asset_triggered", "MANUAL", ""], ids=["asset", "upper-case", "empty"])
def test_logical_date_for_unknown_run_type(run_type):
    with pytest.raises(ValueError, match="unknown run type") as excinfo:
        logical_date_for(Window(at(1, 5), at(1, 6)), run_type)

    assert repr(run_type) in str(excinfo.value)
    assert "manual, scheduled or backfill" in str(excinfo.value)
