-- Link each staged record: an email key names its unified lead ('ul_' + md5 of the key, so the id
-- depends on the person, not on which record came first); a record without one gets its phone's id
-- for now and is resolved against email-bearing records by resolve_phone_links.sql.
INSERT INTO mart.lead_links AS l (source, stream, record_id, occurred_at, email_key, phone_key, unified_id, linked_at)
SELECT source, stream, record_id, occurred_at, email_key, phone_key,
       'ul_' || left(md5(CASE WHEN email_key IS NOT NULL THEN 'email:' || email_key ELSE 'phone:' || phone_key END), 20),
       now()
FROM link_stage
WHERE email_key IS NOT NULL OR phone_key IS NOT NULL
ON CONFLICT (source, stream, record_id) DO UPDATE
SET occurred_at = EXCLUDED.occurred_at, email_key = EXCLUDED.email_key, phone_key = EXCLUDED.phone_key,
    unified_id = EXCLUDED.unified_id, linked_at = now()
WHERE (l.occurred_at, l.email_key, l.phone_key) IS DISTINCT FROM
      (EXCLUDED.occurred_at, EXCLUDED.email_key, EXCLUDED.phone_key)
