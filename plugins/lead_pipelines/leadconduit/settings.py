"""LeadConduit's source settings: one hourly stream of events."""

from __future__ import annotations

from datetime import timedelta

from lead_pipelines.common.settings import ConnectionForm, SourceSettings, StreamSettings, utc

#: An event's creation time is its ``end_timestamp`` (epoch ms): every landed event must lie in its window.
EVENT_TYPES = ("source", "recipient", "filter", "feedback-received", "feedback-sent")
#: Outcomes ``/events/stats`` counts in ``total``; ``stop`` and ``continue`` steps are not counted.
STATS_OUTCOMES = frozenset({"success", "failure", "error"})

#: The documented maximum page size of ``/events``; the current docs default to 100 and the legacy ones
#: to 1000, so the hook always sends it.
MAX_PAGE_SIZE = 1000

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
    hook_class="lead_pipelines.leadconduit.hook.LeadConduitHook",
    pool="leadconduit",
    pool_slots=3,
    freshness=timedelta(hours=2),
    connection_form=ConnectionForm(
        relabeling=(("host", "API base URL"), ("login", "Username (optional)"), ("password", "API key")),
        placeholders=(
            ("host", "https://app.leadconduit.com"),
            ("login", "API"),
            ("password", "the API key from LeadConduit's account settings"),
            ("extra", '{"max_attempts": 5, "max_retry_after": 120, "timeout": 60}'),
        ),
    ),
)


def counted_by_stats(event: dict) -> bool:
    """Tell whether ``/events/stats`` counts an event in its ``total`` (its outcome decides)."""
    return event.get("outcome") in STATS_OUTCOMES and event.get("type") in EVENT_TYPES

#: The events' raw table, schema-qualified.
RAW_TABLE = f"raw.{SOURCE.raw_table(EVENTS)}"
