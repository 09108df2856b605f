-- The leads landed for a window (their last event in [lo, hi)): the parents whose sessions are read.
-- total_number_visits tells how many sessions LeadBoxer holds for the lead (at least).
SELECT record_id AS use_id,
       CASE WHEN jsonb_typeof(payload->'total_number_visits') = 'number'
            THEN (payload->>'total_number_visits')::numeric::bigint END AS visits
FROM raw.leadboxer_leads
WHERE source_updated_at >= %(lo)s AND source_updated_at < %(hi)s
ORDER BY record_id
