-- A record without an email joins the person whose email-bearing records carry its phone key (the
-- smallest such id where several do, so the answer does not depend on arrival order); with none, the
-- phone key names a person known only by phone. Only the phones this build staged are looked at.
UPDATE mart.lead_links AS l
SET unified_id = r.unified_id, linked_at = now()
FROM (
    SELECT p.phone_key,
           coalesce((SELECT min(e.unified_id) FROM mart.lead_links AS e
                     WHERE e.phone_key = p.phone_key AND e.email_key IS NOT NULL),
                    'ul_' || left(md5('phone:' || p.phone_key), 20)) AS unified_id
    FROM (SELECT DISTINCT phone_key FROM link_stage WHERE phone_key IS NOT NULL) AS p
) AS r
WHERE l.email_key IS NULL AND l.phone_key = r.phone_key AND l.unified_id <> r.unified_id
