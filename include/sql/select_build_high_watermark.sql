-- The highest sync run id whose writes to one raw table the marts may read: below every run of that
-- stream still landing (its rows commit later under a lower id), ignoring 'running' rows older than
-- the stale bound (a killed task committed nothing).
SELECT coalesce(
    (SELECT min(run_id) - 1 FROM ops.sync_runs
     WHERE vendor = %(vendor)s AND (stream = %(stream)s OR stream LIKE %(stream)s || '/%%')
       AND status = 'running' AND started_at > now() - make_interval(secs => %(stale_seconds)s)),
    (SELECT max(run_id) FROM ops.sync_runs),
    0)
