"""Build the ``unified_leads`` DAG: marts, quality gate, pushes. No I/O at parse time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow.providers.common.sql.operators.sql import SQLCheckOperator, SQLColumnCheckOperator
from airflow.sdk import DAG, Asset, AssetOrTimeSchedule, CronDataIntervalTimetable, Param, task

from lead_pipelines.common.factory import check_params_task, migrate_task, range_params, raw_asset
from lead_pipelines.common.settings import ASSET_HOST, WAREHOUSE_CONN_ID
from lead_pipelines.common.sqlfiles import sql_dir
from lead_pipelines.registry import SOURCES

if TYPE_CHECKING:
    from lead_pipelines.common.windows import Window

DAG_ID = "unified_leads"
#: The DAG's own window: its fallback schedule is hourly, and a manual re-pull is whole hours.
INTERVAL = timedelta(hours=1)
#: Lead streams whose landing triggers a build (any of them), and the daily engagement streams.
TRIGGERING_STREAMS = (("leadconduit", "events"), ("getlandy", "leads"), ("leadboxer", "leads"),
                      ("leadboxer", "sessions"), ("pirsch", "visitor"), ("giosg", "sidedata"))
#: An asset-triggered run covers the windows its events name, at most this long (older events: backfill).
MAX_TRIGGERED_SPAN = timedelta(days=31)
MART_TABLES = ("lead_links", "unified_leads", "touchpoints", "lead_aggregates")
PIRSCH_PUSH = Asset(uri="pirsch://events/lead_aggregates", name="push.pirsch_events", group="push")
LEADCONDUIT_REPORTS = Asset(uri="leadconduit://reports/lead-pipelines", name="push.leadconduit_reports", group="push")
GATE_CHECKS = ("links_complete", "touchpoints_add_up", "days_add_up", "outcomes_match_raw")
COUNT_COLUMNS = ("touchpoints", "new_leads", "multi_source_leads", "outcome_success", "outcome_failure",
                 "outcome_error", "visitors", "views", "sessions", "interactions")


def mart_asset(table: str) -> Asset:
    """Return the Asset of a mart table."""
    return Asset(uri=f"postgres://{ASSET_HOST}/mart/{table}", name=f"mart.{table}", group="mart")


def run_window(context: dict[str, Any]) -> Window:
    """Return the window a run covers: the range a manual run's ``start``/``end`` params ask for, else
    its data interval, or for an asset-triggered run (which has none) the span of the landed windows
    its asset events name (``window_start``/``window_end`` in their extra).

    :param context: The task context.
    """
    from lead_pipelines.common.windows import Window, requested_range

    has_interval = context.get("data_interval_start") is not None and context.get("data_interval_end") is not None
    if has_interval or requested_range(context) is not None:
        return Window.from_context(context, interval=INTERVAL)
    starts, ends = [], []
    for events in (context.get("triggering_asset_events") or {}).values():
        for event in events:
            extra = event.extra or {}
            if extra.get("window_start") and extra.get("window_end"):
                starts.append(datetime.fromisoformat(str(extra["window_start"])))
                ends.append(datetime.fromisoformat(str(extra["window_end"])))
    if not starts:
        now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
        return Window(now - timedelta(hours=1), now)
    start, end = min(starts), max(ends)
    return Window(max(start, end - MAX_TRIGGERED_SPAN), end)


def _window_sql(task_id: str) -> tuple[str, str]:
    pulled = f"ti.xcom_pull(task_ids='{task_id}')"
    return f"'{{{{ {pulled}['window_start'] }}}}'::timestamptz", f"'{{{{ {pulled}['window_end'] }}}}'::timestamptz"


def build_unified_leads_dag(*, doc_md: str | None, warehouse_conn_id: str = WAREHOUSE_CONN_ID) -> DAG:
    """Return the ``unified_leads`` DAG.

    :param doc_md: Markdown for the DAG's page (the DAG file's ``__doc__``).
    :param warehouse_conn_id: Postgres connection of the warehouse.
    """
    sources = {source.vendor: source for source in SOURCES}
    triggers = [raw_asset(sources[v], s) for v, s in TRIGGERING_STREAMS]
    condition = triggers[0]
    for asset in triggers[1:]:
        condition = condition | asset
    with DAG(
        dag_id=DAG_ID,
        description="Join leads across sources into mart.unified_leads, aggregate, check, push to Pirsch and LeadConduit",
        doc_md=doc_md,
        schedule=AssetOrTimeSchedule(timetable=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
                                     assets=condition),
        start_date=datetime(2024, 6, 1, tzinfo=timezone.utc),
        catchup=False,
        max_active_runs=1,
        template_searchpath=[str(sql_dir() / "gate")],
        tags=["lead-pipelines", "downstream"],
        params={
            **range_params(INTERVAL),
            "pirsch_dry_run": Param(False, type="boolean",
                                    description="Log the Pirsch events that would be sent; send and record nothing."),
            "report_tolerance": Param(0.0, type="number", minimum=0,
                                      description="Relative difference between LeadConduit's report and the "
                                      "warehouse tolerated before a reconciliation row is flagged."),
            "fold_email_aliases": Param(False, type="boolean",
                                        description="Fold Gmail dots and +tags into the email match key."),
        },
        default_args={"owner": "lead-pipelines", "retries": 3, "retry_delay": timedelta(minutes=2),
                      "retry_exponential_backoff": 2.0},
    ) as dag:
        ready = migrate_task(warehouse_conn_id)
        check_params_task(INTERVAL) >> ready

        @task(task_id="build_marts", outlets=[mart_asset(t) for t in MART_TABLES], doc_md=_BUILD_DOC)
        def build_marts(**context) -> dict[str, Any]:
            """Link the records landed since the last build, rebuild the people they touch, then the
            aggregates of every hour (and day) whose inputs changed plus the run's own window."""
            from lead_pipelines.common.warehouse import connect
            from lead_pipelines.downstream.build import build_links, periods, rebuild_aggregates

            window = run_window(context)
            fold = bool((context.get("params") or {}).get("fold_email_aliases", False))
            with connect(warehouse_conn_id) as conn:
                summary = build_links(conn, fold_provider_aliases=fold)
                hours, days = periods(summary.touched_hours, window)
                rows = rebuild_aggregates(conn, hours, days)
            result = {"window_start": window.start.isoformat(), "window_end": window.end.isoformat(),
                      "linked": summary.linked, "unified_leads_touched": summary.unified_leads_touched,
                      "hours_rebuilt": len(hours), "days_rebuilt": len(days), "aggregate_rows": rows}
            events = context.get("outlet_events")
            for table in MART_TABLES:
                if events is not None:
                    events[mart_asset(table)].extra.update(result)
            return result

        built = build_marts()
        start, end = _window_sql("build_marts")
        gate = [
            SQLCheckOperator(task_id=f"check_{name}", conn_id=warehouse_conn_id, sql=f"check_{name}.sql",
                             doc_md=_gate_doc(name))
            for name in GATE_CHECKS
        ]
        gate.append(SQLColumnCheckOperator(
            task_id="check_counts_not_negative", conn_id=warehouse_conn_id, table="mart.lead_aggregates",
            column_mapping={c: {"null_check": {"equal_to": 0}, "min": {"geq_to": 0}} for c in COUNT_COLUMNS},
            partition_clause=f"period_start >= {start} AND period_start < {end}",
            doc_md=_COUNTS_DOC,
        ))

        @task(task_id="push_pirsch_events", outlets=[PIRSCH_PUSH], doc_md=_PUSH_DOC)
        def push_pirsch_events(**context) -> dict[str, Any]:
            """Send each aggregate of the window to Pirsch once, through ops.push_outbox."""
            from lead_pipelines.common.warehouse import connect
            from lead_pipelines.pirsch.hook import PirschHook
            from lead_pipelines.pirsch.push import push_aggregates

            window = _pulled_window(context)
            dry_run = bool((context.get("params") or {}).get("pirsch_dry_run", False))
            hook = PirschHook()
            with connect(warehouse_conn_id) as conn:
                summary = push_aggregates(conn, hook, window, dry_run=dry_run)
            return _as_dict(summary)

        @task(task_id="sync_leadconduit_reports", outlets=[LEADCONDUIT_REPORTS], doc_md=_REPORTS_DOC)
        def sync_leadconduit_reports(**context) -> dict[str, Any]:
            """Keep the package's LeadConduit report definitions (find by name, update or create once), run
            them for the window and reconcile them with the warehouse in ops.report_reconciliation."""
            from lead_pipelines.common.warehouse import connect
            from lead_pipelines.leadconduit.hook import LeadConduitHook
            from lead_pipelines.leadconduit.reports import sync_reports

            window = _pulled_window(context)
            tolerance = float((context.get("params") or {}).get("report_tolerance", 0.0))
            with connect(warehouse_conn_id) as conn:
                summary = sync_reports(conn, LeadConduitHook(), window, tolerance=tolerance)
            return _as_dict(summary)

        ready >> built >> gate
        gate >> push_pirsch_events()
        gate >> sync_leadconduit_reports()
    return dag


def _pulled_window(context: dict[str, Any]) -> Window:
    from lead_pipelines.common.windows import Window

    built = context["ti"].xcom_pull(task_ids="build_marts")
    return Window(datetime.fromisoformat(built["window_start"]), datetime.fromisoformat(built["window_end"]))


def _as_dict(summary: Any) -> dict[str, Any]:
    from dataclasses import asdict, is_dataclass

    return asdict(summary) if is_dataclass(summary) else dict(summary)


_GATE_DOCS = {
    "links_complete": "Every unified lead has at least one link to a raw record.",
    "touchpoints_add_up": "The window's hourly aggregates add up to its touchpoints, per source.",
    "days_add_up": "Each day's lead counts add up to the sum of its hours (touchpoints, outcomes, new leads).",
    "outcomes_match_raw": "LeadConduit outcomes in the aggregates equal the raw 'source' events of the window.",
}

_WINDOW = ("the run's data interval (one hour); a run triggered by a source's landing covers the windows its "
           "asset events name (at most 31 days); a manual run given the params `start` and `end` covers exactly "
           "`[start, end)` (the `window_start`/`window_end` that `build_marts` returns, which every later task reads)")

_BUILD_DOC = f"""\
**Builds the marts**: reads the raw tables the source DAGs land (`raw.leadconduit_events`,
`raw.getlandy_leads`, `raw.leadboxer_leads`, `raw.leadboxer_sessions`, `raw.pirsch_visitor`,
`raw.giosg_sidedata`; only rows written since the previous build, by sync run id) through the
connection `leads_warehouse`; writes `mart.lead_links`, `mart.unified_leads`, `mart.touchpoints`,
`mart.lead_aggregates` and `mart.build_state`, and publishes their Assets with the window and counts.

- **Window**: {_WINDOW}. Every hour (and day) whose inputs changed is rebuilt too.
- **Fails** (and retries; the build commits as a whole) when the warehouse cannot be reached or a
  statement fails; the gate and the pushes then do not run.
"""

_PUSH_DOC = f"""\
**Pushes the window's aggregates to Pirsch**: reads `mart.lead_aggregates` and `ops.push_outbox`
(connection `leads_warehouse`); sends one event per aggregate to Pirsch's `/api/v1/event/batch`
(connection `pirsch_default`), each exactly once, recorded in `ops.push_outbox` (a changed aggregate
goes out as a correction). Param `pirsch_dry_run` only logs what would be sent.

- **Window**: {_WINDOW}. Runs only when every gate check passed.
- **Fails** when Pirsch refuses the credentials or the batch; an outcome lost on the wire is
  resolved on the retry by reading Pirsch's statistics back, never by sending twice.
"""

_REPORTS_DOC = f"""\
**Keeps and reconciles the LeadConduit reports**: finds the package's report definitions by name
at LeadConduit (connection `leadconduit_default`; creates each once, updates a changed one), runs
them for the window and stores LeadConduit's numbers beside the warehouse's (`mart.lead_aggregates`,
connection `leads_warehouse`) in `ops.report_reconciliation` and `ops.vendor_reports`; param
`report_tolerance` sets the difference tolerated before a row is flagged.

- **Window**: {_WINDOW}. Runs only when every gate check passed.
- **Fails** (and retries) when LeadConduit or the warehouse cannot be reached; a definition is never
  created twice (found by name first).
"""

_COUNTS_DOC = """\
**Gate check**: no aggregate of the window has a null or negative count. Reads the window's rows of
`mart.lead_aggregates` (connection `leads_warehouse`); writes nothing. Fails (naming the column)
when one has; the pushes then do not run.
"""


def _gate_doc(name: str) -> str:
    """Return a gate check's docs: what it asserts, what it reads, what its failure stops."""
    return (f"**Gate check**: {_GATE_DOCS[name]}\n\nReads the marts (and for outcomes the raw LeadConduit "
            f"events) of the window `build_marts` returned, through `include/sql/gate/check_{name}.sql` "
            "(connection `leads_warehouse`); writes nothing. A failure names the check and the difference; "
            "the pushes then do not run.\n")
