-- How far a raw table has been read into the marts (0 when never).
SELECT coalesce((SELECT last_run_id FROM mart.build_state WHERE raw_table = %(raw_table)s), 0)
