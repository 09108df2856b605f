-- A person known only by phone whose records an email-bearing record of the same phone absorbed: the
-- old id points at the new one.
INSERT INTO mart.unified_lead_merges AS m (old_id, new_id, merged_at)
SELECT DISTINCT ON (old.unified_id) old.unified_id, l.unified_id, now()
FROM mart.unified_leads AS old
JOIN build_affected AS a ON a.unified_id = old.unified_id
JOIN mart.lead_links AS l ON l.phone_key = old.phone_key AND l.email_key IS NULL
WHERE old.matched_by = 'phone'
  AND NOT EXISTS (SELECT FROM mart.lead_links AS k WHERE k.unified_id = old.unified_id)
ORDER BY old.unified_id, l.unified_id
ON CONFLICT (old_id) DO UPDATE SET new_id = EXCLUDED.new_id, merged_at = now()
