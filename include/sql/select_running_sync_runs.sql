SELECT run_id, airflow_run_id, started_at
FROM ops.sync_runs
WHERE vendor = %(vendor)s AND stream = %(stream)s
  AND window_start = %(window_start)s AND window_end = %(window_end)s
  AND status = 'running'
ORDER BY run_id DESC
