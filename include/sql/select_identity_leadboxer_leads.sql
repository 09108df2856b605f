-- LeadBoxer leads written by sync runs in (lo, hi] that carry an identity (email or phone traits).
-- A lead's phone defaults to the country LeadBoxer located it in (last_country_code), else US.
SELECT record_id,
       to_timestamp((payload ->> 'first_session_unix_timestamp')::numeric / 1000) AS occurred_at,
       payload ->> 'email' AS email_raw,
       payload ->> 'phone' AS phone_raw,
       coalesce(nullif(payload ->> 'last_country_code', ''), 'US') AS region
FROM raw.leadboxer_leads
WHERE last_run_id > %(lo)s AND last_run_id <= %(hi)s
  AND (payload ? 'email' OR payload ? 'phone')
