-- A run killed outright (kill -9, lost worker) never records its end: the next run of the window does.
UPDATE ops.sync_runs
SET status = 'abandoned',
    finished_at = clock_timestamp(),
    error = coalesce(error, 'the process ended before the run finished; superseded by run ' || %(run_id)s)
WHERE vendor = %(vendor)s AND stream = %(stream)s
  AND window_start = %(window_start)s AND window_end = %(window_end)s
  AND status = 'running' AND run_id < %(run_id)s
