-- Per stream over [start, end): windows landed, tries, and what they did. records is what the latest
-- successful run of each window received; the other counts sum every try. A mapped stream's
-- partitions (audited as <stream>/<partition>) are summed into their stream.
WITH runs AS (
    SELECT r.*, split_part(r.stream, '/', 1) AS base
    FROM ops.sync_runs AS r
    WHERE r.window_start >= %(start)s AND r.window_end <= %(end)s
)
SELECT r.vendor || '.' || r.base                                                     AS stream,
       count(DISTINCT (r.window_start, r.window_end)) FILTER (WHERE r.status = 'success') AS windows,
       count(*)                                                                      AS runs,
       (SELECT sum(w.records) FROM ops.sync_windows AS w
         WHERE w.vendor = r.vendor AND split_part(w.stream, '/', 1) = r.base
           AND w.window_start >= %(start)s AND w.window_end <= %(end)s)              AS records,
       sum(r.inserted)                                                               AS inserted,
       sum(r.updated)                                                                AS updated,
       sum(r.unchanged)                                                              AS unchanged,
       (SELECT count(*) FROM ops.quarantine AS q
         WHERE q.vendor = r.vendor AND split_part(q.stream, '/', 1) = r.base
           AND q.window_start >= %(start)s AND q.window_end <= %(end)s)              AS quarantined,
       sum(r.http_retries)                                                           AS retries,
       sum(r.http_wait_seconds)                                                      AS waited_seconds,
       sum(r.duration_seconds)                                                       AS seconds
FROM runs AS r
GROUP BY r.vendor, r.base
ORDER BY 1
