-- Only a run holding the window's lock calls this, and live runs insert their row only once they
-- hold it: so any other 'running' row of this window belongs to a process that is gone.
UPDATE ops.sync_runs
SET status = 'abandoned',
    finished_at = clock_timestamp(),
    error = coalesce(error, 'the process ended before the run finished; found by run ' || %(run_id)s)
WHERE vendor = %(vendor)s AND stream = %(stream)s
  AND window_start = %(window_start)s AND window_end = %(window_end)s
  AND status = 'running' AND run_id <> %(run_id)s
