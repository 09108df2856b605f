-- Touchpoints follow their record's link (a phone-only person absorbed, a LeadBoxer lead identified
-- after its visits landed); the hours of every touchpoint of a touched person are rebuilt, since
-- "new" and "seen in two sources" depend on all of that person's records.
WITH relinked AS (
    UPDATE mart.touchpoints AS t
    SET unified_id = l.unified_id
    FROM mart.lead_links AS l
    WHERE l.unified_id IN (SELECT unified_id FROM build_affected)
      AND t.source = l.source AND t.lead_record_id = l.record_id
      AND t.unified_id IS DISTINCT FROM l.unified_id
    RETURNING t.occurred_at
), orphaned AS (
    UPDATE mart.touchpoints AS t
    SET unified_id = NULL
    WHERE t.unified_id IN (SELECT unified_id FROM build_affected)
      AND NOT EXISTS (SELECT FROM mart.lead_links AS l WHERE l.source = t.source AND l.record_id = t.lead_record_id)
    RETURNING t.occurred_at
)
INSERT INTO build_touched (hour)
SELECT date_trunc('hour', occurred_at) FROM relinked
UNION SELECT date_trunc('hour', occurred_at) FROM orphaned
UNION SELECT date_trunc('hour', t.occurred_at) FROM mart.touchpoints AS t
      WHERE t.unified_id IN (SELECT unified_id FROM build_affected)
ON CONFLICT DO NOTHING
