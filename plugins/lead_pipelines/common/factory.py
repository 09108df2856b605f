"""Build a source's sync DAG from its frozen settings: no I/O at parse time."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from airflow.sdk import DAG, Asset, CronDataIntervalTimetable, Param, task

from lead_pipelines.common.settings import WAREHOUSE_CONN_ID
from lead_pipelines.common.windows import PARAM_END, PARAM_START, max_range

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator

    from lead_pipelines.common.operators import VendorToWarehouseOperator
    from lead_pipelines.common.settings import SourceSettings, StreamSettings

BASE_TAGS = ("lead-pipelines", "ingest")


def raw_asset(source: SourceSettings, stream_name: str) -> Asset:
    """Return the Asset of a stream's raw table."""
    stream = next(s for s in source.streams if s.name == stream_name)
    return Asset(uri=source.asset_uri(stream), name=f"raw.{source.raw_table(stream)}", group="raw")


def range_params(interval: timedelta) -> dict[str, Param]:
    """Return the trigger form's ``start``/``end`` params: a manual re-pull of ``[start, end)``.

    The form checks that each is empty or a date-time; the ``check_params`` task checks the rest
    (both given, order, alignment, size, not in the future) before anything calls a vendor.

    :param interval: The DAG's window length (one hour, one day).
    """
    unit = "whole hour" if interval < timedelta(days=1) else "midnight"
    limit = f"at most {max_range(interval).days} days"
    shared = (f"UTC unless an offset is given; on a {unit}. Give both start and end (end excluded, {limit}, "
              "already over) to re-pull that range instead of the run's own window; leave both empty otherwise.")
    return {
        PARAM_START: Param(None, type=["null", "string"], format="date-time", title="Re-pull from (start)",
                           description=f"First moment of a one-off re-pull, e.g. 2024-06-01T05:00:00Z. {shared}"),
        PARAM_END: Param(None, type=["null", "string"], format="date-time", title="Re-pull until (end)",
                         description=f"End of the re-pull, excluded, e.g. 2024-06-01T07:00:00Z. {shared}"),
    }


def check_params_task(interval: timedelta):
    """Return the first task of a DAG: it fails the run on params that cannot be honoured, before any vendor call.

    :param interval: The DAG's window length.
    """

    @task(task_id="check_params", doc_md=CHECK_PARAMS_DOC)
    def check_params(**context) -> dict[str, str] | None:
        """Check the run's params; return the range it re-pulls, or None when it lands its own window."""
        from airflow.sdk.exceptions import AirflowFailException

        from lead_pipelines.common.windows import InvalidRangeError, requested_range

        try:
            window = requested_range(context, interval=interval)
        except InvalidRangeError as exc:
            raise AirflowFailException(f"Invalid params: {exc}") from None
        if window is None:
            return None
        return {"window_start": window.start.isoformat(), "window_end": window.end.isoformat()}

    return check_params()


CHECK_PARAMS_DOC = """\
**Checks the run's params** before anything calls a vendor or the warehouse; reads nothing else.

- **Window**: the run's data interval, or for a manual run given both `start` and `end`, exactly
  `[start, end)` (a one-off re-pull). Returns that range (XCom `window_start`, `window_end`), or
  nothing when the run lands its own window; every later task reads the params the same way.
- **Fails at once, without retrying** (the message shows in the task log) when only one of
  `start`/`end` is given, when `end` is not after `start`, when the range ends in the future, when it is longer than
  one re-pull may be (31 days of an hourly source, 366 of a daily one), when a bound is not on the
  source's window grid (whole hours, or midnights UTC: the message names the bound to use), or when
  a scheduled, backfill or asset-triggered run is given a range.
"""

MIGRATE_DOC = """\
**Checks the warehouse schema** before anything lands: reads `ops.schema_migrations` and the
catalogue of the `leads_warehouse` connection; applies what is missing when it runs as the owner
role, and does nothing on an up-to-date warehouse (as the loader role it only checks).

- **Writes**: nothing as the loader; as the owner, the `raw`, `mart` and `ops` schemas and their
  tables (idempotent, safe when several DAGs run it at once).
- **Window**: none (it does not depend on the run's window).
- **Fails without retrying** with `WarehouseNotMigratedError` when a migration is missing or
  changed (run `make migrate` as the owner role); retries when the warehouse cannot be reached.
"""


def migrate_task(warehouse_conn_id: str):
    """Return the task (in the DAG being defined) that brings the warehouse up to date first."""

    @task(task_id="migrate_warehouse", doc_md=MIGRATE_DOC)
    def migrate_warehouse() -> list[str]:
        """Create or update the warehouse's schemas and raw tables (idempotent, concurrency-safe)."""
        from airflow.sdk.exceptions import AirflowFailException

        from lead_pipelines.common.warehouse import WarehouseNotMigratedError, connect, migrate

        with connect(warehouse_conn_id) as conn:
            try:
                return migrate(conn)
            except WarehouseNotMigratedError as exc:
                # The loader role may not migrate: retrying cannot help until the owner runs it.
                raise AirflowFailException(str(exc)) from None

    return migrate_warehouse()


def _plan_task(operator: type[VendorToWarehouseOperator], source: SourceSettings, stream: StreamSettings,
               warehouse_conn_id: str):
    """Return the task that lists a mapped stream's partitions for the run's window (its XCom is the list)."""

    @task(task_id=f"plan_{stream.name}", doc_md=_plan_doc(source, stream))
    def plan(**context) -> list[str]:
        """List the partitions to land (e.g. one per workflow); each becomes one mapped landing task."""
        from lead_pipelines.common.windows import Window

        found = operator.plan_partitions(Window.from_context(context, interval=source.interval),
                                         conn_id=source.conn_id, warehouse_conn_id=warehouse_conn_id)
        return [str(p) for p in found]

    return plan()


def _plan_doc(source: SourceSettings, stream: StreamSettings) -> str:
    """Return the ``plan_<stream>`` task's docs."""
    parent = f"raw.{source.vendor}_{stream.partitioned_by}"
    return (
        f"**Lists the partitions of {source.display_name} `{stream.name}`** for the run's window: reads what "
        f"`land_{stream.partitioned_by}` landed in `{parent}` (connection `{WAREHOUSE_CONN_ID}`); writes "
        f"nothing but its XCom, the list that `land_{stream.name}` is mapped over (one task per partition, "
        "labelled with its id).\n\n"
        f"- **Window**: {_window_doc(source)}\n"
        "- **Fails** (and retries) when the warehouse cannot be read; an empty list lands nothing.\n"
    )


def _window_doc(source: SourceSettings) -> str:
    """Return how a task's window is chosen, in the source's own terms."""
    unit = "hour" if source.interval < timedelta(days=1) else "day (UTC)"
    return (f"the run's data interval, one {unit} `[data_interval_start, data_interval_end)`; a manual "
            "run given the params `start` and `end` covers exactly `[start, end)` instead.")


def landing_doc(source: SourceSettings, stream: StreamSettings) -> str:
    """Return a landing task's docs from the stream's settings: reads, writes, window, failure modes.

    :param source: The source's settings.
    :param stream: The stream the task lands.
    """
    endpoint = stream.endpoint or f"/{stream.name}"
    reads = f"{source.display_name} `{endpoint}` through the connection `{source.conn_id}`"
    if stream.after:
        reads += f", for the {stream.after} that `land_{stream.after}` landed in the window"
    if stream.partitioned_by:
        reads += f", one task per partition listed by `plan_{stream.name}`"
    lines = [
        f"**Lands {source.display_name} `{stream.name}`**: reads {reads}; writes "
        f"`raw.{source.raw_table(stream)}` (merged by `{stream.record_id_field}`: unchanged records are not "
        "rewritten, changed ones updated and counted), the run audit `ops.sync_runs`, `ops.sync_windows`, "
        "`ops.sync_state` and any record set aside in `ops.quarantine`; returns counts, never records.",
        "",
        f"- **Window**: {_window_doc(source)}",
    ]
    if stream.lookback:
        lines.append(f"- **Re-reads** {stream.lookback} before the window (records that change after they arrive).")
    if source.pool:
        lines.append(f"- **Pool** `{source.pool}`: keeps concurrent calls within {source.display_name}'s limits.")
    lines += [
        "- **Fails without retrying** when the vendor refuses the credentials or the request (401, 403, 422), "
        "returns records outside the window, or holds records set aside while `fail_on_quarantine` is on.",
        "- **Retries** (Airflow's retries; the window lands in one transaction, so nothing half-lands) on "
        "429/5xx and transport errors after its own retries, a count that does not match the vendor's own "
        "(`on_count_mismatch`), a warehouse error, or another run holding the same window.",
    ]
    return "\n".join(lines) + "\n"


def _after_landing_doc(operator: type, source: SourceSettings) -> str:
    """Return an after-landing task's docs: its operator's docstring (without ``:param:`` lines) and its window."""
    doc = (inspect.getdoc(operator) or "").split("\n:param", 1)[0].strip()
    return f"{doc}\n\n- **Window**: {_window_doc(source)}\n"


def build_sync_dag(
    source: SourceSettings,
    operators: Mapping[str, type[VendorToWarehouseOperator]],
    *,
    doc_md: str | None,
    warehouse_conn_id: str = WAREHOUSE_CONN_ID,
    params: Mapping[str, Param] | None = None,
    after_landing: Mapping[str, type[BaseOperator]] | None = None,
) -> DAG:
    """Return the sync DAG of ``source``: migrate the warehouse, then land each stream's window.

    A stream with ``after`` set lands once that stream's window has landed (it reads from it).
    Every landing task runs in the source's pool, where it has one. The first task, ``check_params``,
    fails the run on params it cannot honour (a manual re-pull's ``start``/``end``) before any
    vendor call. Every task carries its ``doc_md``.

    :param source: The source's settings.
    :param operators: Operator class per stream name.
    :param doc_md: Markdown for the DAG's page (pass the DAG file's ``__doc__``).
    :param warehouse_conn_id: Postgres connection of the warehouse, for every task.
    :param params: The source's own DAG params, shown on the trigger form beside the common ones.
    :param after_landing: Task id -> operator class of tasks that run once every stream has landed
        (e.g. an opt-in write-back to the vendor); each gets ``conn_id`` and ``warehouse_conn_id``.
    """
    with DAG(
        dag_id=source.dag_id,
        description=f"Land {source.display_name} into raw.{source.vendor}_* one data interval at a time",
        doc_md=doc_md,
        schedule=CronDataIntervalTimetable(source.cron, timezone="UTC"),
        start_date=source.start_date,
        catchup=False,
        max_active_runs=1,
        max_consecutive_failed_dag_runs=24,
        tags=[*BASE_TAGS, source.vendor, *source.tags],
        params={
            **range_params(source.interval),
            "fail_on_quarantine": Param(
                False, type="boolean",
                description="Fail the run instead of landing around records set aside in ops.quarantine.",
            ),
            "on_count_mismatch": Param(
                "fail", enum=["fail", "warn"],
                description="When the vendor's own count for the window differs from what arrived: fail "
                "(roll back; a retry reads the window again) or warn (land and record a warning).",
            ),
            **(params or {}),
        },
        default_args={
            "owner": source.owner,
            "retries": source.retries,
            "retry_delay": source.retry_delay,
            "retry_exponential_backoff": 2.0,
        },
    ) as dag:

        ready = migrate_task(warehouse_conn_id)
        check_params_task(source.interval) >> ready
        lands = {}
        pool = {"pool": source.pool} if source.pool else {}
        for stream in source.streams:
            operator = operators[stream.name]
            if stream.partitioned_by is None:
                lands[stream.name] = operator(
                    task_id=f"land_{stream.name}",
                    outlets=[raw_asset(source, stream.name)],
                    warehouse_conn_id=warehouse_conn_id,
                    doc_md=landing_doc(source, stream),
                    **pool,
                )
                continue
            plan = _plan_task(operator, source, stream, warehouse_conn_id)
            lands[stream.name] = operator.partial(
                task_id=f"land_{stream.name}",
                outlets=[raw_asset(source, stream.name)],
                doc_md=landing_doc(source, stream),
                warehouse_conn_id=warehouse_conn_id,
                map_index_template="{{ task.partition }}",
                **pool,
            ).expand(partition=plan)
            lands[stream.partitioned_by] >> plan
        for stream in source.streams:
            if stream.partitioned_by is None:
                upstream = lands[stream.after] if stream.after else ready
                upstream >> lands[stream.name]
        for task_id, operator in (after_landing or {}).items():
            follow = operator(task_id=task_id, conn_id=source.conn_id, warehouse_conn_id=warehouse_conn_id,
                              doc_md=_after_landing_doc(operator, source), **pool)
            list(lands.values()) >> follow
        # --- freshness: check_freshness, the DAG's teardown, once every landing is done (common/freshness.py)
        from lead_pipelines.common.freshness import freshness_task

        list(lands.values()) >> freshness_task(source, warehouse_conn_id)
        # --- end freshness
    return dag
