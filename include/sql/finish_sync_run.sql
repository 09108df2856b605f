-- A failure may be recorded after another run already marked this one abandoned (its connection
-- died first); a success never overwrites anything but 'running'.
UPDATE ops.sync_runs
SET status = %(status)s,
    finished_at = clock_timestamp(),
    pages = %(pages)s,
    records = %(records)s,
    inserted = %(inserted)s,
    updated = %(updated)s,
    unchanged = %(unchanged)s,
    stale = %(stale)s,
    quarantined = %(quarantined)s,
    vendor_count = %(vendor_count)s,
    counted = %(counted)s,
    http_requests = %(http_requests)s,
    http_retries = %(http_retries)s,
    http_wait_seconds = %(http_wait_seconds)s,
    http_paced_seconds = %(http_paced_seconds)s,
    lock_wait_seconds = %(lock_wait_seconds)s,
    duration_seconds = %(duration_seconds)s,
    error = %(error)s
WHERE run_id = %(run_id)s
  AND (status = 'running' OR (%(status)s = 'failed' AND status = 'abandoned'))
