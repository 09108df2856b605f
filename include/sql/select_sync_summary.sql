-- Per stream over [start, end): windows landed, tries, and what they did. records is what the latest
-- successful run of each window received; the other counts sum every try.
SELECT r.vendor || '.' || r.stream                                                   AS stream,
       count(DISTINCT (r.window_start, r.window_end)) FILTER (WHERE r.status = 'success') AS windows,
       count(*)                                                                      AS runs,
       (SELECT sum(w.records) FROM ops.sync_windows AS w
         WHERE w.vendor = r.vendor AND w.stream = r.stream
           AND w.window_start >= %(start)s AND w.window_end <= %(end)s)              AS records,
       sum(r.inserted)                                                               AS inserted,
       sum(r.updated)                                                                AS updated,
       sum(r.unchanged)                                                              AS unchanged,
       (SELECT count(*) FROM ops.quarantine AS q
         WHERE q.vendor = r.vendor AND q.stream = r.stream
           AND q.window_start >= %(start)s AND q.window_end <= %(end)s)              AS quarantined,
       sum(r.http_retries)                                                           AS retries,
       sum(r.http_wait_seconds)                                                      AS waited_seconds,
       sum(r.duration_seconds)                                                       AS seconds
FROM ops.sync_runs AS r
WHERE r.window_start >= %(start)s AND r.window_end <= %(end)s
GROUP BY r.vendor, r.stream
ORDER BY 1
