-- The sessions of the leads landed for a window (their last event in [lo, hi)): the parents whose
-- events are read. event_count tells how many events LeadBoxer holds for the session (at least).
SELECT s.record_id AS session_id,
       l.record_id AS use_id,
       CASE WHEN jsonb_typeof(s.payload->'event_count') = 'number'
            THEN (s.payload->>'event_count')::numeric::bigint END AS events
FROM raw.leadboxer_leads AS l
JOIN raw.leadboxer_sessions AS s ON s.payload->>'use_id' = l.record_id
WHERE l.source_updated_at >= %(lo)s AND l.source_updated_at < %(hi)s
ORDER BY s.record_id
