-- The newest copy of a record within the window wins (and decides whether the vendor's count includes it) (by the vendor's update time where the stream
-- has one, else the last one sent). Unchanged records (same hash of the vendor's bytes) are not
-- written; a version older than the stored one (stale) is not written either.
WITH src AS (
    SELECT DISTINCT ON (record_id) record_id, payload, payload_hash, source_updated_at, counted
    FROM {stage}
    ORDER BY record_id, source_updated_at DESC NULLS LAST, seq DESC
), compared AS (
    SELECT s.record_id, s.payload, s.payload_hash, s.source_updated_at,
           t.record_id IS NULL AS is_new,
           t.payload_hash IS DISTINCT FROM s.payload_hash AS is_changed,
           coalesce(s.source_updated_at < t.source_updated_at, false) AS is_stale
    FROM src AS s
    LEFT JOIN {table} AS t ON t.record_id = s.record_id
), merged AS (
    INSERT INTO {table} AS t
        (record_id, payload, payload_hash, first_loaded_at, first_run_id, last_loaded_at, last_run_id,
         source_updated_at)
    SELECT record_id, payload, payload_hash, now(), %(run_id)s, now(), %(run_id)s, source_updated_at
    FROM compared
    WHERE is_new OR (is_changed AND NOT is_stale)
    ON CONFLICT (record_id) DO UPDATE
        SET payload           = EXCLUDED.payload,
            payload_hash      = EXCLUDED.payload_hash,
            last_loaded_at    = EXCLUDED.last_loaded_at,
            last_run_id       = EXCLUDED.last_run_id,
            source_updated_at = EXCLUDED.source_updated_at,
            change_count      = t.change_count + 1
        -- Checked again here: a concurrent landing may have written the row since the join above.
        WHERE t.payload_hash IS DISTINCT FROM EXCLUDED.payload_hash
          AND NOT coalesce(EXCLUDED.source_updated_at < t.source_updated_at, false)
    RETURNING (xmax = 0) AS inserted
)
SELECT (SELECT count(*) FROM src)                                        AS distinct_records,
       count(*) FILTER (WHERE inserted)                                  AS inserted,
       count(*) FILTER (WHERE NOT inserted)                              AS updated,
       (SELECT count(*) FROM compared WHERE is_changed AND is_stale)     AS stale,
       (SELECT count(*) FROM src WHERE counted)                          AS counted
FROM merged
