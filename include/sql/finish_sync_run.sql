UPDATE ops.sync_runs
SET status = %(status)s,
    finished_at = clock_timestamp(),
    pages = %(pages)s,
    records = %(records)s,
    inserted = %(inserted)s,
    updated = %(updated)s,
    unchanged = %(unchanged)s,
    http_requests = %(http_requests)s,
    http_retries = %(http_retries)s,
    http_wait_seconds = %(http_wait_seconds)s,
    duration_seconds = %(duration_seconds)s,
    error = %(error)s
WHERE run_id = %(run_id)s
