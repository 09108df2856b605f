"""
### giosg sync (daily Airflow DAG)

Lands the organisation's workflows into `raw.giosg_workflows` (keyed by workflow id), then each
workflow's sidedata (workflow reporting aggregates) for the run's day into `raw.giosg_sidedata`,
keyed by (workflow, interval start, interval end), each response stored exactly as giosg sent it.

- **Window**: each run owns `[data_interval_start, data_interval_end)`, one UTC day; sidedata is
  asked for that interval with explicit `+00:00` offsets (`POST .../workflows/<id>/sidedata/`).
- **Mapped**: `plan_sidedata` lists the workflows landed; `land_sidedata` runs once per workflow
  (the map index reads as the workflow id). A workflow giosg refuses (403: no reporting
  permission) fails its own task at once; the others land.
- **Re-runs** converge: unchanged aggregates are not rewritten, changed ones are updated and counted.
- **Re-pull a range**: trigger the DAG with the params `start` and `end` (midnights UTC, at most
  366 days, already over) to land exactly `[start, end)` instead of the run's day; `check_params`
  rejects anything else, with what to use instead, before any call to the vendor.
- **Connection** `giosg_default`: host = API base URL (`https://api.giosg.com`), password = API
  token (sent as `Authorization: Token <t>`), extra `organization_id`.
- **Audit**: `ops.sync_runs` (one row per try; sidedata as `sidedata/<workflow id>`), `ops.sync_windows`.
"""

from lead_pipelines.common.factory import build_sync_dag
from lead_pipelines.giosg.operators import GiosgSidedataOperator, GiosgWorkflowsOperator
from lead_pipelines.giosg.settings import SOURCE

dag = build_sync_dag(SOURCE, {"workflows": GiosgWorkflowsOperator, "sidedata": GiosgSidedataOperator}, doc_md=__doc__)

if __name__ == "__main__":
    dag.test()
