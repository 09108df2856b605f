-- Schema drift of one staged window: walk its records' JSON (max_depth levels deep; above
-- max_records records, an even sample of that many), keep each distinct (path, JSON type), compare
-- them with what the stream has seen (ops.stream_fields), record the differences in
-- ops.schema_drift and the fields seen.
-- Paths: 'a.b' for object keys, 'a[]' for array elements. The rules (see common/drift.py):
-- new = a path the stream never carried (none on its first window: that one is the baseline);
-- retyped = a non-null type a known path never had, where it had another non-null type;
-- vanished = a path carried by each of the stream's last vanish_after profiled windows and absent
-- now, judged only when every record and every path of this window was walked (no sample).
-- Fields are upserted in path order, so two windows of a stream landing at once lock rows in the same
-- order and cannot deadlock.
WITH RECURSIVE sample AS (
    -- Every record of a window up to max_records; above, every stride-th record (evenly spread).
    SELECT greatest(1, ceil(count(*) / %(max_records)s::numeric))::bigint AS stride FROM {stage}
), walk (path, json_type, value, depth) AS (
    -- A scalar keeps only its type (value NULL) and UNION drops repeats: one row per path and type
    -- for scalars, one per distinct container value, so the walk stays small.
    SELECT e.key, jsonb_typeof(e.value), CASE WHEN jsonb_typeof(e.value) IN ('object', 'array') THEN e.value END, 1
    FROM {stage} AS s
    CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(s.payload) = 'object' THEN s.payload END) AS e
    WHERE mod(s.seq, (SELECT stride FROM sample)) = 0
  UNION
    SELECT w.path || coalesce('.' || c.key, '[]'), jsonb_typeof(c.value),
           CASE WHEN jsonb_typeof(c.value) IN ('object', 'array') THEN c.value END, w.depth + 1
    FROM walk AS w
    CROSS JOIN LATERAL (
        SELECT o.key, o.value FROM jsonb_each(CASE WHEN jsonb_typeof(w.value) = 'object' THEN w.value END) AS o
        UNION ALL
        SELECT NULL, a.value FROM jsonb_array_elements(CASE WHEN jsonb_typeof(w.value) = 'array' THEN w.value END) AS a
    ) AS c
    WHERE w.value IS NOT NULL AND w.depth < %(max_depth)s
), distinct_fields AS (
    SELECT path, json_type FROM walk GROUP BY 1, 2
), seen AS (
    SELECT path, json_type FROM distinct_fields ORDER BY path, json_type LIMIT %(max_paths)s
), complete AS (
    SELECT (SELECT stride FROM sample) = 1 AND (SELECT count(*) FROM distinct_fields) <= %(max_paths)s AS whole
), known AS (
    SELECT path, json_type, last_seen_run_id, consecutive_runs
    FROM ops.stream_fields
    WHERE vendor = %(vendor)s AND stream = %(stream)s
), previous AS (
    SELECT max(last_seen_run_id) AS run_id FROM known WHERE last_seen_run_id <> %(run_id)s
), changes AS (
    SELECT 'new' AS change, s.path, NULL AS old_type, string_agg(s.json_type, ',' ORDER BY s.json_type) AS new_type
    FROM seen AS s
    WHERE EXISTS (SELECT 1 FROM known) AND NOT EXISTS (SELECT 1 FROM known AS k WHERE k.path = s.path)
    GROUP BY s.path
  UNION ALL
    SELECT 'retyped', s.path,
           (SELECT string_agg(k.json_type, ',' ORDER BY k.json_type) FROM known AS k
            WHERE k.path = s.path AND k.json_type <> 'null'),
           s.json_type
    FROM seen AS s
    WHERE s.json_type <> 'null'
      AND EXISTS (SELECT 1 FROM known AS k WHERE k.path = s.path AND k.json_type <> 'null')
      AND NOT EXISTS (SELECT 1 FROM known AS k WHERE k.path = s.path AND k.json_type = s.json_type)
  UNION ALL
    SELECT 'vanished', k.path, string_agg(k.json_type, ',' ORDER BY k.json_type), NULL
    FROM known AS k, previous AS p, complete AS c
    WHERE c.whole AND EXISTS (SELECT 1 FROM seen)
      AND k.last_seen_run_id = p.run_id AND k.consecutive_runs >= %(vanish_after)s
      AND NOT EXISTS (SELECT 1 FROM seen AS s WHERE s.path = k.path)
    GROUP BY k.path
), recorded AS (
    INSERT INTO ops.schema_drift (vendor, stream, window_start, window_end, run_id, change, path, old_type, new_type)
    SELECT %(vendor)s, %(stream)s, %(window_start)s, %(window_end)s, %(run_id)s, change, path, old_type, new_type
    FROM changes
    RETURNING change, path, old_type, new_type
), upserted AS (
    INSERT INTO ops.stream_fields AS f
        (vendor, stream, path, json_type, first_seen_run_id, last_seen_run_id, first_seen_at, last_seen_at)
    SELECT %(vendor)s, %(stream)s, path, json_type, %(run_id)s, %(run_id)s, now(), now()
    FROM seen
    ORDER BY path, json_type
    ON CONFLICT (vendor, stream, path, json_type) DO UPDATE
        SET consecutive_runs = CASE
                WHEN f.last_seen_run_id = EXCLUDED.last_seen_run_id THEN f.consecutive_runs
                -- Seen by the previous profiled run (or a concurrent later one): the streak goes on.
                WHEN f.last_seen_run_id >= (SELECT run_id FROM previous) THEN f.consecutive_runs + 1
                ELSE 1 END,
            last_seen_run_id = greatest(f.last_seen_run_id, EXCLUDED.last_seen_run_id),
            last_seen_at = EXCLUDED.last_seen_at
    RETURNING 1
)
SELECT (SELECT count(*) FROM upserted)                           AS fields,
       NOT EXISTS (SELECT 1 FROM known)                         AS baseline,
       (SELECT whole FROM complete)                             AS whole,
       coalesce((SELECT jsonb_agg(jsonb_build_array(change, path, old_type, new_type) ORDER BY change, path)
                 FROM recorded), '[]'::jsonb)                   AS changes
