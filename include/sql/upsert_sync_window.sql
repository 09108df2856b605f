INSERT INTO ops.sync_windows (vendor, stream, window_start, window_end, last_run_id, records, landed_at)
VALUES (%(vendor)s, %(stream)s, %(window_start)s, %(window_end)s, %(run_id)s, %(records)s, now())
ON CONFLICT (vendor, stream, window_start, window_end) DO UPDATE
    SET last_run_id = EXCLUDED.last_run_id, records = EXCLUDED.records, landed_at = EXCLUDED.landed_at
