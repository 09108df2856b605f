INSERT INTO ops.sync_runs (vendor, stream, window_start, window_end, dag_id, airflow_run_id, task_id, try_number, status)
VALUES (%(vendor)s, %(stream)s, %(window_start)s, %(window_end)s, %(dag_id)s, %(airflow_run_id)s, %(task_id)s,
        %(try_number)s, 'running')
RETURNING run_id
