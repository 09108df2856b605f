"""
### GetLandy sync (hourly Airflow DAG)

Lands every GetLandy lead (landing-page form submissions, free-form `data`) dated in the run's hour into
`raw.getlandy_leads`, keyed by lead id.

- **Never consumes leads**: GetLandy marks the leads it returns as read by default, so a crash after
  the answer would lose them. Every call sends `withReaded=1&markReaded=0`.
- **Window**: each run owns `[data_interval_start, data_interval_end)`; `/leads` is asked
  `from`/`to` (`+hhmm` offsets, sent as `%2B`), paged by moving `from` to one second before the latest
  lead seen, deduplicated by id and filtered to the window locally.
- **Marking read** (opt-in): with the param `mark_read_at_vendor` on, the task `mark_read_at_vendor`
  asks the same window with `markReaded=1` once it has landed, and checks every lead it marked is landed.
- **Re-pull a range**: trigger the DAG with the params `start` and `end` (whole hours, UTC, at most
  31 days, already over) to land exactly `[start, end)` instead of the run's hour; `check_params`
  rejects anything else, with what to use instead, before any call to the vendor.
- **Connection** `getlandy_default`: host = API base URL, password = access token; extras `token_url`,
  `client_id`, `client_secret`, `refresh_token` renew an expired token.
- **Audit**: `ops.sync_runs` (one row per try), `ops.sync_windows`, `ops.sync_state`.
- Publishes the Asset `raw.getlandy_leads`.
"""

from airflow.sdk import Param

from lead_pipelines.common.factory import build_sync_dag
from lead_pipelines.getlandy.operators import GetLandyLeadsOperator, GetLandyMarkReadOperator
from lead_pipelines.getlandy.settings import PARAM_MARK_READ, SOURCE

dag = build_sync_dag(
    SOURCE,
    {"leads": GetLandyLeadsOperator},
    doc_md=__doc__,
    params={PARAM_MARK_READ: Param(False, type="boolean", description=(
        "After the window has landed, mark its leads read at GetLandy (markReaded=1), so other tools "
        "reading unread leads no longer see them. Off: GetLandy's read flags are left untouched."))},
    after_landing={PARAM_MARK_READ: GetLandyMarkReadOperator},
)

if __name__ == "__main__":
    dag.test()
