-- Status page, panel "failures": per registered stream, its newest failed or abandoned tries (at most
-- %(limit)s) among the warehouse's last %(tries)s tries of every stream, with the first line of the
-- error and whether a later try of the same window succeeded. A partitioned stream's partitions
-- (audited as <stream>/<partition>) count as the stream.
-- Index-driven on any history: the last tries are a range of ops.sync_runs' primary key, the later
-- success an exact probe of its window index (vendor, stream, window_start, window_end).
WITH registered AS (
    SELECT * FROM unnest(%(vendors)s::text[], %(streams)s::text[]) WITH ORDINALITY AS s(vendor, stream, ord)
),
failed AS (
    SELECT r.*, split_part(r.stream, '/', 1) AS base,
           row_number() OVER (PARTITION BY r.vendor, split_part(r.stream, '/', 1) ORDER BY r.run_id DESC) AS n
    FROM ops.sync_runs AS r
    WHERE r.run_id > (SELECT max(l.run_id) FROM ops.sync_runs AS l) - %(tries)s
      AND r.status IN ('failed', 'abandoned')
)
SELECT g.vendor || '.' || g.stream                                  AS stream,
       f.stream                                                     AS audited_stream,
       f.window_start                                               AS window_start,
       f.window_end                                                 AS window_end,
       f.status                                                     AS status,
       f.try_number                                                 AS try_number,
       f.dag_id                                                     AS dag_id,
       f.airflow_run_id                                             AS airflow_run_id,
       f.task_id                                                    AS task_id,
       f.finished_at                                                AS finished_at,
       left(split_part(coalesce(f.error, ''), E'\n', 1), 500)       AS error_line,
       EXISTS (SELECT 1 FROM ops.sync_runs AS s
                WHERE s.vendor = f.vendor AND s.stream = f.stream
                  AND s.window_start = f.window_start AND s.window_end = f.window_end
                  AND s.status = 'success' AND s.run_id > f.run_id)   AS resolved
FROM registered AS g
JOIN failed AS f ON f.vendor = g.vendor AND f.base = g.stream AND f.n <= %(limit)s
ORDER BY g.ord, f.run_id DESC
