-- The same bad record seen again in a re-run of its window is one row, refreshed.
INSERT INTO ops.quarantine AS q
    (vendor, stream, window_start, window_end, first_run_id, last_run_id, page, position, record_id, reason,
     raw, raw_sha256)
VALUES (%(vendor)s, %(stream)s, %(window_start)s, %(window_end)s, %(run_id)s, %(run_id)s, %(page)s, %(position)s,
        %(record_id)s, %(reason)s, %(raw)s, %(raw_sha256)s)
ON CONFLICT (vendor, stream, window_start, window_end, raw_sha256) DO UPDATE
    SET last_run_id = EXCLUDED.last_run_id,
        page = EXCLUDED.page,
        position = EXCLUDED.position,
        reason = EXCLUDED.reason,
        last_seen_at = now()
