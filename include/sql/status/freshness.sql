-- Status page, panel "freshness": per registered stream, the newest window landed, its age against
-- the stream's freshness target, and whether the marts have read it (mart.build_state; NULL where no
-- mart reads the stream). A partitioned stream (audited as <stream>/<partition>) shows its newest
-- partition window. Index-driven on any history: ops.sync_state lists the audited streams (one row
-- each), then one backward probe of ops.sync_windows' primary key per audited stream.
WITH registered AS (
    SELECT *
    FROM unnest(%(vendors)s::text[], %(streams)s::text[], %(freshness)s::interval[])
         WITH ORDINALITY AS s(vendor, stream, freshness, ord)
)
SELECT g.vendor || '.' || g.stream                            AS stream,
       g.freshness                                            AS freshness,
       w.window_start                                         AS window_start,
       w.window_end                                           AS window_end,
       w.landed_at                                            AS landed_at,
       w.records                                              AS records,
       now() - w.window_end                                   AS age,
       coalesce(now() - w.window_end > g.freshness, true)     AS late,
       b.last_run_id >= w.last_run_id                         AS in_marts
FROM registered AS g
LEFT JOIN LATERAL (
    SELECT newest.*
    FROM ops.sync_state AS st
    CROSS JOIN LATERAL (
        SELECT sw.window_start, sw.window_end, sw.landed_at, sw.records, sw.last_run_id
        FROM ops.sync_windows AS sw
        WHERE sw.vendor = st.vendor AND sw.stream = st.stream
        ORDER BY sw.window_start DESC, sw.window_end DESC
        LIMIT 1
    ) AS newest
    WHERE st.vendor = g.vendor AND (st.stream = g.stream OR starts_with(st.stream, g.stream || '/'))
    ORDER BY newest.window_end DESC
    LIMIT 1
) AS w ON true
LEFT JOIN mart.build_state AS b ON b.raw_table = g.vendor || '_' || g.stream
ORDER BY g.ord
