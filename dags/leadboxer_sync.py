"""
### LeadBoxer sync (hourly Airflow DAG)

Lands the LeadBoxer leads active in the run's hour into `raw.leadboxer_leads` (keyed by `use_id`),
then the sessions of those leads into `raw.leadboxer_sessions` (keyed by `session_id`), then the
events of those sessions into `raw.leadboxer_events` (keyed by `event_id`), each as LeadBoxer sent it.

- **Window**: LeadBoxer filters leads by whole days (`criteriaTimeFilter=eventEsTimestamp|between|...`
  in the connection's `time_zone`), so the hook asks for the days covering the window, sorted by
  `lastEvent` ascending, keeps the leads whose `lastEvent` lies in `[start - 1 h, end)` and pages with
  `nextToken` (which expires after 10 minutes: the listing restarts).
- **Leads change** as visitors return: each run re-reads the hour before its window; a newer
  `lastEvent` replaces the stored lead (counted as updated), an older one never does.
- **Fan-out**: the sessions and events tasks read their parents from the warehouse (what the window
  landed) and check that every child belongs to the parent asked for.
- **Rate limit**: calls are spaced under the connection's `rate_limit_per_minute` per endpoint,
  shared by every task through `ops.api_pacing`; a 429's `retry-after` (header or body) is honoured.
  Tasks run in the pool `leadboxer`: `airflow pools set leadboxer 1 "LeadBoxer API"`.
- **Re-pull a range**: trigger the DAG with the params `start` and `end` (whole hours, UTC, at most
  31 days, already over) to land exactly `[start, end)` instead of the run's hour; `check_params`
  rejects anything else, with what to use instead, before any call to the vendor.
- **Connection** `leadboxer_default`: host = API base URL, password = API key, extras `site`,
  `time_zone`, `rate_limit_per_minute`.
- **Audit**: `ops.sync_runs` (one row per try and stream, `http_paced_seconds` included),
  `ops.sync_windows`, `ops.sync_state`.
- Publishes the Assets `raw.leadboxer_leads`, `raw.leadboxer_sessions`, `raw.leadboxer_events`.
"""

from lead_pipelines.common.factory import build_sync_dag
from lead_pipelines.leadboxer.operators import (
    LeadBoxerEventsOperator,
    LeadBoxerLeadsOperator,
    LeadBoxerSessionsOperator,
)
from lead_pipelines.leadboxer.settings import SOURCE

dag = build_sync_dag(
    SOURCE,
    {"leads": LeadBoxerLeadsOperator, "sessions": LeadBoxerSessionsOperator, "events": LeadBoxerEventsOperator},
    doc_md=__doc__,
)

if __name__ == "__main__":
    dag.test()
