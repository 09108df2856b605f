"""GetLandy's source settings: one hourly stream of leads, read without marking them read."""

from __future__ import annotations

from datetime import timedelta

from lead_pipelines.common.settings import ConnectionForm, ExtraField, SourceSettings, StreamSettings, utc

#: The documented maximum of ``limit`` on ``GET /leads``.
MAX_PAGE_SIZE = 1000

#: The DAG param that turns on marking a landed window's leads read at GetLandy (off by default).
PARAM_MARK_READ = "mark_read_at_vendor"

#: A lead's ``date`` (ISO 8601 with a ``+hhmm`` offset) is its arrival time: every landed lead lies in its window.
LEADS = StreamSettings(name="leads", record_id_field="id", endpoint="/leads", time_field="date", time_unit="iso")

SOURCE = SourceSettings(
    vendor="getlandy",
    display_name="GetLandy",
    dag_id="getlandy_sync",
    conn_id="getlandy_default",
    cron="0 * * * *",
    interval=timedelta(hours=1),
    start_date=utc(2024, 1, 1),
    streams=(LEADS,),
    tags=("hourly",),
    hook_class="lead_pipelines.getlandy.hook.GetLandyHook",
    pool="getlandy",
    pool_slots=2,
    freshness=timedelta(hours=2),
    connection_form=ConnectionForm(
        relabeling=(("host", "API base URL"), ("password", "Access token")),
        placeholders=(
            ("host", "https://api.getlandy.com"),
            ("password", "the OAuth2 access token (Bearer)"),
            ("extra", '{"max_attempts": 5, "max_retry_after": 120, "timeout": 60}'),
        ),
        hidden_fields=("login", "schema", "port"),
        extra_fields=(
            # GetLandy's token endpoint is not confirmed by its docs: every renewal setting is optional.
            ExtraField("token_url", "Token URL",
                       "OAuth2 token endpoint for the refresh grant (unconfirmed; renewal is off when empty)"),
            ExtraField("client_id", "Client ID", "The API client id generated in GetLandy"),
            ExtraField("client_secret", "Client secret", "The API client secret", secret=True),
            ExtraField("refresh_token", "Refresh token",
                       "From the one-time authorization; renews the access token when it expires", secret=True),
        ),
    ),
)

#: The leads' raw table, schema-qualified.
RAW_TABLE = f"raw.{SOURCE.raw_table(LEADS)}"
