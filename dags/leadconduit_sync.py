"""
### LeadConduit sync (hourly Airflow DAG)

Lands every LeadConduit event (all five types: source, recipient, filter, feedback-received,
feedback-sent) created in the run's hour into `raw.leadconduit_events`, keyed by event id.

- **Window**: each run owns `[data_interval_start, data_interval_end)`; `/events` is asked for
  `sort=asc&limit=1000` between the window's bounds and paged with `after_id`.
- **Re-runs** (retry, clear, backfill) converge: a window lands in one transaction, unchanged events
  are not rewritten, changed ones are updated and counted.
- **Re-pull a range**: trigger the DAG with the params `start` and `end` (whole hours, UTC, at most
  31 days, already over) to land exactly `[start, end)` instead of the run's hour; `check_params`
  rejects anything else, with what to use instead, before any call to the vendor.
- **Connection** `leadconduit_default`: host = API base URL, password = API key.
- **Audit**: `ops.sync_runs` (one row per try), `ops.sync_windows`, `ops.sync_state`.
- Publishes the Asset `raw.leadconduit_events`.
"""

from lead_pipelines.common.factory import build_sync_dag
from lead_pipelines.leadconduit.operators import LeadConduitEventsOperator
from lead_pipelines.leadconduit.settings import SOURCE

dag = build_sync_dag(SOURCE, {"events": LeadConduitEventsOperator}, doc_md=__doc__)

if __name__ == "__main__":
    dag.test()
