"""LeadConduit's source settings: one hourly stream of events."""

from __future__ import annotations

from datetime import timedelta

from lead_pipelines.common.settings import SourceSettings, StreamSettings, utc

#: An event's creation time is its ``end_timestamp`` (epoch ms): every landed event must lie in its window.
EVENTS = StreamSettings(name="events", record_id_field="id", endpoint="/events", time_field="end_timestamp",
                        time_unit="ms")

SOURCE = SourceSettings(
    vendor="leadconduit",
    display_name="LeadConduit",
    dag_id="leadconduit_sync",
    conn_id="leadconduit_default",
    cron="0 * * * *",
    interval=timedelta(hours=1),
    start_date=utc(2024, 1, 1),
    streams=(EVENTS,),
    tags=("hourly",),
)
