"""Pirsch's source settings: one daily stream per statistics endpoint, re-pulled over trailing days."""

from __future__ import annotations

from datetime import timedelta

from lead_pipelines.common.settings import ConnectionForm, ExtraField, SourceSettings, StreamSettings, utc

#: Days before the window each run reads again: Pirsch merges late hits and sessions into recent days.
DEFAULT_TRAILING_DAYS = 2
#: The documented hard cap of ``limit`` on every statistics endpoint.
MAX_PAGE_SIZE = 100
API = "/api/v1"
STATISTICS = f"{API}/statistics"

#: Stream name -> (endpoint below the base URL, the row fields that identify a row within a day).
STATISTICS_STREAMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "visitor": (f"{STATISTICS}/visitor", ()),
    "total": (f"{STATISTICS}/total", ()),
    "page": (f"{STATISTICS}/page", ("path",)),
    "page_entry": (f"{STATISTICS}/page/entry", ("path",)),
    "page_exit": (f"{STATISTICS}/page/exit", ("path",)),
    "referrer": (f"{STATISTICS}/referrer", ("referrer", "referrer_name")),
    "utm_source": (f"{STATISTICS}/utm/source", ("utm_source",)),
    "utm_medium": (f"{STATISTICS}/utm/medium", ("utm_medium",)),
    "utm_campaign": (f"{STATISTICS}/utm/campaign", ("utm_campaign",)),
    "utm_content": (f"{STATISTICS}/utm/content", ("utm_content",)),
    "utm_term": (f"{STATISTICS}/utm/term", ("utm_term",)),
    "country": (f"{STATISTICS}/country", ("country_code",)),
    "events": (f"{STATISTICS}/events", ("name",)),
    "event_meta": (f"{STATISTICS}/event/meta", ("name", "meta_value")),
    "event_list": (f"{STATISTICS}/event/list", ("name", "meta")),
}

#: A statistics row is identified by its domain, its day and its dimensions (``record_ids`` in the hook);
#: the trailing re-pull of a day replaces the rows whose values changed.
STREAMS: tuple[StreamSettings, ...] = tuple(
    StreamSettings(name=name, record_id_field="record_id", endpoint=endpoint, max_pages=2_000,
                   lookback=timedelta(days=DEFAULT_TRAILING_DAYS))
    for name, (endpoint, _) in STATISTICS_STREAMS.items()
)

SOURCE = SourceSettings(
    vendor="pirsch",
    display_name="Pirsch",
    dag_id="pirsch_sync",
    conn_id="pirsch_default",
    cron="0 0 * * *",
    interval=timedelta(days=1),
    start_date=utc(2024, 1, 1),
    streams=STREAMS,
    tags=("daily",),
    hook_class="lead_pipelines.pirsch.hook.PirschHook",
    pool="pirsch",
    pool_slots=2,
    freshness=timedelta(days=2),
    connection_form=ConnectionForm(
        relabeling=(("host", "API base URL"), ("login", "Client ID"), ("password", "Client secret")),
        placeholders=(
            ("host", "https://api.pirsch.io"),
            ("login", "the oAuth client id (32 characters)"),
            ("password", "the oAuth client secret (64 characters)"),
        ),
        hidden_fields=("schema", "port"),
        extra_fields=(
            ExtraField("domain_id", "Domain id", "The domain whose statistics are landed (sent as `id`); "
                       "looked up from `hostname` when empty."),
            ExtraField("hostname", "Hostname", "Finds the domain id when `domain_id` is empty."),
            ExtraField("time_zone", "Time zone", "The zone days are read in (`tz`); the domain's when empty."),
            ExtraField("trailing_days", "Trailing days",
                       "Days before the window each run reads again, for late data.", kind="integer",
                       default=DEFAULT_TRAILING_DAYS),
        ),
    ),
)


def stream(name: str) -> StreamSettings:
    """Return the stream called ``name``.

    :param name: A key of ``STATISTICS_STREAMS``.
    """
    return next(s for s in STREAMS if s.name == name)
