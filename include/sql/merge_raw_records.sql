-- The last copy of a record within the window wins; unchanged records (same hash) are not written.
WITH src AS (
    SELECT DISTINCT ON (record_id) record_id, payload, payload_hash
    FROM {stage}
    ORDER BY record_id, seq DESC
), changed AS (
    SELECT s.record_id, s.payload, s.payload_hash
    FROM src AS s
    LEFT JOIN {table} AS t ON t.record_id = s.record_id
    WHERE t.record_id IS NULL OR t.payload_hash <> s.payload_hash
), merged AS (
    INSERT INTO {table} AS t
        (record_id, payload, payload_hash, first_loaded_at, first_run_id, last_loaded_at, last_run_id)
    SELECT record_id, payload::jsonb, payload_hash, now(), %(run_id)s, now(), %(run_id)s
    FROM changed
    ON CONFLICT (record_id) DO UPDATE
        SET payload        = EXCLUDED.payload,
            payload_hash   = EXCLUDED.payload_hash,
            last_loaded_at = EXCLUDED.last_loaded_at,
            last_run_id    = EXCLUDED.last_run_id,
            change_count   = t.change_count + 1
        WHERE t.payload_hash IS DISTINCT FROM EXCLUDED.payload_hash
    RETURNING (xmax = 0) AS inserted
)
SELECT (SELECT count(*) FROM src)                       AS distinct_records,
       count(*) FILTER (WHERE inserted)                 AS inserted,
       count(*) FILTER (WHERE NOT inserted)             AS updated
FROM merged
