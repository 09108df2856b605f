-- A record that no longer names anyone (its email and phone were removed at the vendor) leaves the links.
DELETE FROM mart.lead_links AS l
USING link_stage AS s
WHERE l.source = s.source AND l.stream = s.stream AND l.record_id = s.record_id
  AND s.email_key IS NULL AND s.phone_key IS NULL
