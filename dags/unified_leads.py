"""
### Unified leads (hourly Airflow DAG, and whenever a source lands)

Joins the people seen in LeadConduit, GetLandy and LeadBoxer into one unified lead each, aggregates
per hour and day, checks the result, and pushes it out: one Pirsch event per aggregate, and the
package's LeadConduit reports reconciled against the warehouse.

- **Reads** the raw tables the source DAGs land (`raw.leadconduit_events`, `raw.getlandy_leads`,
  `raw.leadboxer_leads`, `raw.leadboxer_sessions`, `raw.pirsch_visitor`, `raw.giosg_sidedata`), only
  the rows written since the previous build (by sync run id).
- **Writes** `mart.lead_links` (each raw record's unified lead), `mart.unified_leads` (one row per
  person; the id comes from the email key, or the phone key of a person known only by phone, so it
  does not depend on arrival order), `mart.touchpoints` (every submission and visit) and
  `mart.lead_aggregates` (per hour and day, per source and channel: new leads, leads seen in two or
  more sources, LeadConduit outcomes, Pirsch and giosg engagement).
- **Window**: a scheduled or backfill run owns its hour; a run triggered by a source's landing covers the
  windows its asset events name. Every hour whose inputs changed is rebuilt too.
- **Re-build a range**: trigger the DAG with the params `start` and `end` (whole hours, UTC, at most
  31 days, already over) to rebuild and push exactly `[start, end)`; `check_params` rejects anything
  else before the warehouse or a vendor is touched.
- **Quality gate** (common-sql check operators) before anything leaves the warehouse: every unified lead
  has a link, hours add up to touchpoints, days to hours, outcomes to raw LeadConduit events, no null or
  negative count. A failing check names itself and the difference; the pushes do not run.
- **Pushes**: `push_pirsch_events` sends each aggregate once through `ops.push_outbox` (an outcome lost
  on the wire is resolved by reading Pirsch's statistics back; an aggregate that changed after it was
  sent goes out as a correction); param `pirsch_dry_run` only logs. `sync_leadconduit_reports` keeps
  the package's report definitions (found by name, created once), runs them and stores both sides in
  `ops.report_reconciliation` (param `report_tolerance`).
- **Connections**: `leads_warehouse`, `pirsch_default`, `leadconduit_default`.
"""

from lead_pipelines.downstream.dag import build_unified_leads_dag

dag = build_unified_leads_dag(doc_md=__doc__)

if __name__ == "__main__":
    dag.test()
