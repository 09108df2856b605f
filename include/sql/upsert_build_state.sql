-- Record how far a raw table has been read into the marts.
INSERT INTO mart.build_state (raw_table, last_run_id, updated_at)
VALUES (%(raw_table)s, %(last_run_id)s, now())
ON CONFLICT (raw_table) DO UPDATE SET last_run_id = EXCLUDED.last_run_id, updated_at = now()
