"""
### Pirsch sync (daily Airflow DAG)

Lands Pirsch's aggregated statistics of the run's day, one task and raw table per endpoint:
`raw.pirsch_visitor`, `_total`, `_page`, `_page_entry`, `_page_exit`, `_referrer`, `_utm_source`,
`_utm_medium`, `_utm_campaign`, `_utm_content`, `_utm_term`, `_country`, `_events`, `_event_meta`
and `_event_list`, each row as Pirsch sent it.

- **Auth**: an oAuth client (login = client id, password = client secret); the hook asks
  `POST /api/v1/token` for an access token, renews it a minute before `expires_at` and once on a 401.
- **Days**: Pirsch returns aggregates per day in the domain's time zone. Each run asks its window's
  day (`from` = `to` = `YYYY-MM-DD`, `tz` = the zone) and the `trailing_days` (default 2) before it,
  one request set per day, paged with `offset`/`limit` (at most 100) until a short page.
- **Late data**: recent days change as late hits and sessions are merged. Rows are keyed on
  (domain, day, dimension values), so a re-pulled row whose values changed replaces the stored one
  and is counted as updated (`ops.sync_runs.updated`); nothing is duplicated.
- **`event_meta`** asks `/statistics/event/meta` for each event and metadata key that
  `/statistics/events` lists for the day.
- **Re-pull a range**: trigger the DAG with the params `start` and `end` (midnights UTC, at most
  366 days, already over) to land exactly `[start, end)` instead of the run's day; `check_params`
  rejects anything else, with what to use instead, before any call to the vendor.
- **Connection** `pirsch_default`: host = API base URL, login = client id, password = client secret,
  extras `domain_id` (or `hostname`), `time_zone` (default: the domain's), `trailing_days`.
- **Audit**: `ops.sync_runs` (one row per try and stream), `ops.sync_windows`, `ops.sync_state`.
"""

from lead_pipelines.common.factory import build_sync_dag
from lead_pipelines.pirsch.operators import OPERATORS
from lead_pipelines.pirsch.settings import SOURCE

dag = build_sync_dag(SOURCE, OPERATORS, doc_md=__doc__)

if __name__ == "__main__":
    dag.test()
