-- The end of the latest window landed per stream of a vendor (a mapped stream's partitions,
-- '<stream>/<partition>', count as their stream: its latest partition window).
SELECT split_part(stream, '/', 1) AS stream, max(watermark) AS last_window_end
FROM ops.sync_state
WHERE vendor = %(vendor)s AND split_part(stream, '/', 1) = ANY(%(streams)s)
GROUP BY 1
