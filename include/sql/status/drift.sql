-- Status page, panel "drift": per registered stream, the newest schema changes recorded in
-- ops.schema_drift (fields new, vanished or retyped, by JSON path), at most %(limit)s each. The page
-- says so when the warehouse has no ops.schema_drift yet. Reads its index (vendor, stream,
-- detected_at DESC), a partitioned stream's partitions (<stream>/<partition>) through the vendor's part.
WITH registered AS (
    SELECT *
    FROM unnest(%(vendors)s::text[], %(streams)s::text[], %(partitioned)s::boolean[])
         WITH ORDINALITY AS s(vendor, stream, partitioned, ord)
)
SELECT g.vendor || '.' || g.stream   AS stream,
       d.change                      AS change,
       d.path                        AS path,
       d.old_type                    AS old_type,
       d.new_type                    AS new_type,
       d.window_start                AS window_start,
       d.window_end                  AS window_end,
       d.run_id                      AS run_id,
       d.detected_at                 AS detected_at
FROM registered AS g
CROSS JOIN LATERAL (
    SELECT sd.*
    FROM ((SELECT * FROM ops.schema_drift AS x
            WHERE x.vendor = g.vendor AND x.stream = g.stream
            ORDER BY x.detected_at DESC LIMIT %(limit)s)
          UNION ALL
          (SELECT * FROM ops.schema_drift AS x
            WHERE g.partitioned AND x.vendor = g.vendor AND starts_with(x.stream, g.stream || '/')
            ORDER BY x.detected_at DESC LIMIT %(limit)s)) AS sd
    ORDER BY sd.detected_at DESC, sd.path
    LIMIT %(limit)s
) AS d
ORDER BY g.ord, d.detected_at DESC, d.path
