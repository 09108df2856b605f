"""giosg's source settings: the organisation's workflows, then each workflow's sidedata per day."""

from __future__ import annotations

from datetime import timedelta

from lead_pipelines.common.settings import ConnectionForm, ExtraField, SourceSettings, StreamSettings, utc

DEFAULT_HOST = "https://api.giosg.com"

#: Both endpoints carry the organisation (and the workflow) in their path: these are the paths' fixed
#: prefixes; errors name the full path.
WORKFLOWS = StreamSettings(name="workflows", record_id_field="id", endpoint="/api/objectives/v1/orgs")
#: One aggregate per workflow per interval, keyed by (workflow, interval start, interval end): landed by
#: one mapped task per workflow, so a workflow answering 403 fails only its own task.
SIDEDATA = StreamSettings(name="sidedata", endpoint="/api/reporting/workflow/v1/orgs", partitioned_by="workflows")

SOURCE = SourceSettings(
    vendor="giosg",
    display_name="giosg",
    dag_id="giosg_sync",
    conn_id="giosg_default",
    cron="0 0 * * *",
    interval=timedelta(days=1),
    start_date=utc(2024, 1, 1),
    streams=(WORKFLOWS, SIDEDATA),
    tags=("daily",),
    hook_class="lead_pipelines.giosg.hook.GiosgHook",
    pool="giosg",
    pool_slots=2,
    freshness=timedelta(days=2),
    connection_form=ConnectionForm(
        relabeling=(("host", "API base URL"), ("password", "API token")),
        placeholders=(
            ("host", DEFAULT_HOST),
            ("password", "a token from Console > Settings > Company > Access tokens"),
            ("extra", '{"organization_id": "<organization UUID>", "max_attempts": 5, "timeout": 60}'),
        ),
        hidden_fields=("schema", "port", "login"),
        extra_fields=(
            ExtraField("organization_id", "Organization ID", "UUID of the giosg organisation whose workflows land"),
        ),
    ),
)
