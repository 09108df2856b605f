-- The unified leads the staged records (and every record sharing one of their phone keys) belong to;
-- run before relinking (the people they leave) and after (the people they join).
INSERT INTO build_affected (unified_id)
SELECT l.unified_id FROM mart.lead_links AS l JOIN link_stage AS s USING (source, stream, record_id)
UNION
SELECT l.unified_id FROM mart.lead_links AS l
WHERE l.phone_key IN (SELECT phone_key FROM link_stage WHERE phone_key IS NOT NULL)
ON CONFLICT DO NOTHING
