SELECT watermark, cursor, last_success_run_id, updated_at
FROM ops.sync_state
WHERE vendor = %(vendor)s AND stream = %(stream)s
