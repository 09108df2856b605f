"""LeadBoxer's source settings: hourly leads, then the sessions and events of those leads (fan-out)."""

from __future__ import annotations

from datetime import timedelta

from lead_pipelines.common.settings import ConnectionForm, ExtraField, SourceSettings, StreamSettings, utc

#: The documented trigger of LeadBoxer's 429: more than 10 requests a minute to any endpoint.
DEFAULT_RATE_LIMIT_PER_MINUTE = 10
#: Leads per page; the vendor's default (no maximum is documented).
DEFAULT_PAGE_SIZE = 50
#: The zone LeadBoxer reads its day filters in, by default.
DEFAULT_TIME_ZONE = "Europe/Amsterdam"
#: How often one listing restarts after its ``nextToken`` expired (10 minutes) before the task fails.
MAX_RESTARTS = 3

#: Leads change as visitors return, and LeadBoxer's store is distributed (an event shows up a few
#: seconds late): each window re-reads the hour before it, and so do its fan-out streams.
LOOKBACK = timedelta(hours=1)

LEADS = StreamSettings(name="leads", record_id_field="use_id", endpoint="/v1/leads", time_field="lastEvent",
                       time_unit="ms", updated_field="lastEvent", updated_unit="ms", lookback=LOOKBACK)
SESSIONS = StreamSettings(name="sessions", record_id_field="session_id", endpoint="/v1/leads/sessions",
                          lookback=LOOKBACK, after="leads")
EVENTS = StreamSettings(name="events", record_id_field="event_id", endpoint="/v1/leads/events",
                        lookback=LOOKBACK, after="sessions")

SOURCE = SourceSettings(
    vendor="leadboxer",
    display_name="LeadBoxer",
    dag_id="leadboxer_sync",
    conn_id="leadboxer_default",
    cron="0 * * * *",
    interval=timedelta(hours=1),
    start_date=utc(2024, 1, 1),
    streams=(LEADS, SESSIONS, EVENTS),
    tags=("hourly",),
    hook_class="lead_pipelines.leadboxer.hook.LeadBoxerHook",
    pool="leadboxer",
    pool_slots=1,
    freshness=timedelta(hours=3),
    connection_form=ConnectionForm(
        relabeling=(("host", "API base URL"), ("password", "API key")),
        placeholders=(
            ("host", "https://api.leadboxer.com"),
            ("password", "the API key from Integrations > Data > API key"),
        ),
        hidden_fields=("login", "schema", "port"),
        extra_fields=(
            ExtraField("site", "Dataset id (site)", "The dataset whose leads are landed, sent as `site`."),
            ExtraField("time_zone", "Time zone", "The zone LeadBoxer reads its day filters in.",
                       default=DEFAULT_TIME_ZONE),
            ExtraField("rate_limit_per_minute", "Requests per minute (per endpoint)",
                       "The account's limit; calls are spaced to stay under it.", kind="integer",
                       default=DEFAULT_RATE_LIMIT_PER_MINUTE),
            ExtraField("rate_limit_period_seconds", "Rate limit period (seconds)",
                       "The limit's period: 60 (a minute) for LeadBoxer; tests scale it down.", kind="number",
                       default=60),
            ExtraField("page_size", "Leads per page", "`limit` of /v1/leads.", kind="integer",
                       default=DEFAULT_PAGE_SIZE),
        ),
    ),
)


def raw_table(stream: StreamSettings) -> str:
    """Return a stream's raw table, schema-qualified.

    :param stream: One of LEADS, SESSIONS, EVENTS.
    """
    return f"raw.{SOURCE.raw_table(stream)}"
