-- One row per touched unified lead, from all of its links (an index probe per lead, not a scan).
INSERT INTO mart.unified_leads (unified_id, matched_by, email_key, phone_key, first_seen_at, first_source,
                                last_seen_at, sources, record_count, updated_at)
SELECT l.unified_id,
       CASE WHEN bool_or(l.email_key IS NOT NULL) THEN 'email' ELSE 'phone' END,
       min(l.email_key),
       coalesce(min(l.phone_key) FILTER (WHERE l.email_key IS NULL), min(l.phone_key)),
       min(l.occurred_at),
       (array_agg(l.source ORDER BY l.occurred_at, l.source, l.record_id))[1],
       max(l.occurred_at),
       array_agg(DISTINCT l.source ORDER BY l.source),
       count(*),
       now()
FROM mart.lead_links AS l
WHERE l.unified_id IN (SELECT unified_id FROM build_affected)
GROUP BY l.unified_id
