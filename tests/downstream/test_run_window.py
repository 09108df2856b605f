"""The window an unified_leads run covers: its data interval, or the windows its asset events name."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from lead_pipelines.common.windows import Window
from lead_pipelines.downstream.dag import MAX_TRIGGERED_SPAN, run_window


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2024, 6, day, hour, tzinfo=timezone.utc)


def event(start: datetime, end: datetime, **extra) -> SimpleNamespace:
    return SimpleNamespace(extra={"window_start": start.isoformat(), "window_end": end.isoformat(), **extra})


def test_a_scheduled_or_backfill_run_covers_its_data_interval():
    context = {"data_interval_start": at(1, 5), "data_interval_end": at(1, 6), "triggering_asset_events": {}}
    assert run_window(context) == Window(at(1, 5), at(1, 6))


def test_an_asset_triggered_run_covers_the_windows_its_events_name():
    context = {"data_interval_start": None, "data_interval_end": None, "triggering_asset_events": {
        "raw.leadconduit_events": [event(at(1, 5), at(1, 6), inserted=3), event(at(1, 7), at(1, 8))],
        "raw.pirsch_visitor": [event(at(1), at(2))],
    }}
    assert run_window(context) == Window(at(1), at(2))


def test_a_very_old_event_is_left_to_a_backfill():
    late = datetime(2024, 7, 20, tzinfo=timezone.utc)
    context = {"triggering_asset_events": {"raw.getlandy_leads": [event(at(1), at(1, 1)), event(late, late + timedelta(hours=1))]}}
    window = run_window(context)
    assert window.end == late + timedelta(hours=1) and window.end - window.start == MAX_TRIGGERED_SPAN


def test_events_without_a_window_fall_back_to_the_last_hour():
    window = run_window({"triggering_asset_events": {"raw.getlandy_leads": [SimpleNamespace(extra={})]}})
    assert window.end - window.start == timedelta(hours=1)
    assert window.end <= datetime.now(timezone.utc) < window.end + timedelta(hours=1)
