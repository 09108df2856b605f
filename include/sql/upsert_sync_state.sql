-- A backfill of an older window never moves the watermark (or its cursor) back.
INSERT INTO ops.sync_state AS s (vendor, stream, watermark, cursor, last_success_run_id, updated_at)
VALUES (%(vendor)s, %(stream)s, %(window_end)s, %(cursor)s, %(run_id)s, now())
ON CONFLICT (vendor, stream) DO UPDATE
    SET watermark = greatest(s.watermark, EXCLUDED.watermark),
        cursor = CASE WHEN EXCLUDED.watermark >= s.watermark THEN EXCLUDED.cursor ELSE s.cursor END,
        last_success_run_id = EXCLUDED.last_success_run_id,
        updated_at = EXCLUDED.updated_at
