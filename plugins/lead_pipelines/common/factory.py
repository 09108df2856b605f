"""Build a source's sync DAG from its frozen settings: no I/O at parse time."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from airflow.sdk import DAG, Asset, CronDataIntervalTimetable, Param, task

from lead_pipelines.common.settings import WAREHOUSE_CONN_ID

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator

    from lead_pipelines.common.operators import VendorToWarehouseOperator
    from lead_pipelines.common.settings import SourceSettings

BASE_TAGS = ("lead-pipelines", "ingest")


def raw_asset(source: SourceSettings, stream_name: str) -> Asset:
    """Return the Asset of a stream's raw table."""
    stream = next(s for s in source.streams if s.name == stream_name)
    return Asset(uri=source.asset_uri(stream), name=f"raw.{source.raw_table(stream)}", group="raw")


def migrate_task(warehouse_conn_id: str):
    """Return the task (in the DAG being defined) that brings the warehouse up to date first."""

    @task(task_id="migrate_warehouse")
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


def _plan_task(operator: type[VendorToWarehouseOperator], stream: str, conn_id: str, warehouse_conn_id: str):
    """Return the task that lists a mapped stream's partitions for the run's window (its XCom is the list)."""

    @task(task_id=f"plan_{stream}")
    def plan(**context) -> list[str]:
        """List the partitions to land (e.g. one per workflow); each becomes one mapped landing task."""
        from lead_pipelines.common.windows import Window

        found = operator.plan_partitions(Window.from_context(context), conn_id=conn_id,
                                         warehouse_conn_id=warehouse_conn_id)
        return [str(p) for p in found]

    return plan()


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
    Every landing task runs in the source's pool, where it has one.

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
        lands = {}
        pool = {"pool": source.pool} if source.pool else {}
        for stream in source.streams:
            operator = operators[stream.name]
            if stream.partitioned_by is None:
                lands[stream.name] = operator(
                    task_id=f"land_{stream.name}",
                    outlets=[raw_asset(source, stream.name)],
                    warehouse_conn_id=warehouse_conn_id,
                    **pool,
                )
                continue
            plan = _plan_task(operator, stream.name, source.conn_id, warehouse_conn_id)
            lands[stream.name] = operator.partial(
                task_id=f"land_{stream.name}",
                outlets=[raw_asset(source, stream.name)],
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
                              **({"pool": source.pool} if source.pool else {}))
            list(lands.values()) >> follow
    return dag
