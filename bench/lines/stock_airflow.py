"""Stock Airflow: the HTTP provider's paging collects every page, then ``PostgresHook.insert_rows(replace=True)``.

What a DAG written with the providers alone does: an ``HttpOperator`` with a ``pagination_function``
(the documented pattern: read the cursor from ``response.json()``) and a ``response_filter`` that
turns the collected responses into records, then ``insert_rows`` with ``replace=True`` into
``(record_id text primary key, payload jsonb)`` (an upsert on ``record_id``, 1000 rows a commit).
Both run in this one process, so the records skip the XCom a two-task DAG would push them through.
"""

from __future__ import annotations

import contextvars

from bench.lines.measure import Meter, report, spec_from_argv


def main() -> None:
    """Page the window, insert every record, and report the rate."""
    spec = spec_from_argv()
    import airflow.sdk.execution_time.task_runner  # noqa: F401 - loaded in every task process
    from airflow.providers.http.operators.http import HttpOperator
    from airflow.providers.postgres.hooks.postgres import PostgresHook
    from airflow.sdk.bases.operator import ExecutorSafeguard

    params = {"start": spec["start"], "end": spec["end"], "sort": "asc", "limit": spec["page_size"]}

    def next_page(response):
        records = response.json()
        return {"data": {"after_id": records[-1]["id"]}} if records else None

    fetch = HttpOperator(
        task_id="fetch_events", http_conn_id=spec["http_conn_id"], method="GET", endpoint="events",
        data=params, headers={"Accept": "application/json"}, pagination_function=next_page,
        response_filter=lambda responses: [record for r in responses for record in r.json()],
    )
    meter = Meter()
    run = contextvars.copy_context()
    run.run(ExecutorSafeguard.tracker.set, fetch)
    records = run.run(fetch.execute, {})
    rows = [(record["id"], record) for record in records]
    PostgresHook(postgres_conn_id=spec["postgres_conn_id"]).insert_rows(
        spec["table"], rows, target_fields=["record_id", "payload"], replace=True, replace_index="record_id",
    )
    measured = meter.stop()
    report(**measured, records=len(records), rows_written=len(rows))


if __name__ == "__main__":
    main()
