-- GetLandy leads written by sync runs in (lo, hi]. Each landing page's form names its fields its own
-- way: the first field whose name means e-mail (email, e-mail, courriel, mail) and the first whose name
-- means phone (telephone, tel, phone, mobile, portable). GetLandy is French: phones default to FR.
SELECT r.record_id,
       (r.payload ->> 'date')::timestamptz AS occurred_at,
       (SELECT f.value FROM jsonb_each_text(CASE jsonb_typeof(r.payload -> 'data') WHEN 'object' THEN r.payload -> 'data' END) AS f
        WHERE lower(f.key) IN ('email', 'e-mail', 'courriel', 'mail', 'adresse_email') ORDER BY f.key LIMIT 1) AS email_raw,
       (SELECT f.value FROM jsonb_each_text(CASE jsonb_typeof(r.payload -> 'data') WHEN 'object' THEN r.payload -> 'data' END) AS f
        WHERE lower(f.key) IN ('telephone', 'téléphone', 'tel', 'phone', 'mobile', 'portable') ORDER BY f.key LIMIT 1) AS phone_raw,
       'FR' AS region
FROM raw.getlandy_leads AS r
WHERE r.last_run_id > %(lo)s AND r.last_run_id <= %(hi)s
