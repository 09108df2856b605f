-- Status page, panel "recent": per registered stream, what the tries of its recent windows did: the
-- windows that start within %(span)s of the stream's newest window (so a stream that stopped still
-- shows its last windows). records is what the successful tries received. A partitioned stream's
-- partitions (audited as <stream>/<partition>) are summed into it.
-- Index-driven on any history, through ops.sync_runs' window index (vendor, stream, window_start,
-- window_end): the audited streams are found by a skip scan (one probe per stream or partition), then
-- each one's newest window by one backward probe and its recent tries by one range read.
WITH RECURSIVE audited AS (
    (SELECT r.vendor, r.stream FROM ops.sync_runs AS r ORDER BY r.vendor, r.stream LIMIT 1)
    UNION ALL
    SELECT later.vendor, later.stream
    FROM audited AS a
    CROSS JOIN LATERAL (
        SELECT r.vendor, r.stream FROM ops.sync_runs AS r
        WHERE (r.vendor, r.stream) > (a.vendor, a.stream)
        ORDER BY r.vendor, r.stream
        LIMIT 1
    ) AS later
),
registered AS (
    SELECT * FROM unnest(%(vendors)s::text[], %(streams)s::text[]) WITH ORDINALITY AS s(vendor, stream, ord)
),
newest AS (
    SELECT g.ord, a.vendor, a.stream,
           (SELECT max(r.window_start) FROM ops.sync_runs AS r
             WHERE r.vendor = a.vendor AND r.stream = a.stream) AS window_start
    FROM registered AS g
    JOIN audited AS a ON a.vendor = g.vendor AND split_part(a.stream, '/', 1) = g.stream
),
bounds AS (
    SELECT n.*, max(n.window_start) OVER (PARTITION BY n.ord) - %(span)s::interval AS since
    FROM newest AS n
),
recent AS (
    SELECT b.ord, r.*
    FROM bounds AS b
    CROSS JOIN LATERAL (
        SELECT r.status, r.window_start, r.window_end, r.records, r.inserted, r.updated, r.quarantined
        FROM ops.sync_runs AS r
        WHERE r.vendor = b.vendor AND r.stream = b.stream AND r.window_start > b.since
    ) AS r
)
SELECT g.vendor || '.' || g.stream                                       AS stream,
       count(DISTINCT (r.window_start, r.window_end)) FILTER (WHERE r.status IS NOT NULL) AS windows,
       count(r.status)                                                   AS runs,
       count(*) FILTER (WHERE r.status IN ('failed', 'abandoned'))       AS failed,
       coalesce(sum(r.records) FILTER (WHERE r.status = 'success'), 0)   AS records,
       coalesce(sum(r.inserted), 0)                                      AS inserted,
       coalesce(sum(r.updated), 0)                                       AS updated,
       coalesce(sum(r.quarantined), 0)                                   AS quarantined,
       min(r.window_start)                                               AS first_window_start,
       max(r.window_end)                                                 AS last_window_end
FROM registered AS g
LEFT JOIN recent AS r ON r.ord = g.ord
GROUP BY g.ord, g.vendor, g.stream
ORDER BY g.ord
