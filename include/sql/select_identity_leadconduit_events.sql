-- LeadConduit events written by sync runs in (lo, hi]: the lead's typed email and phone (vars.lead.*,
-- the raw value as submitted; lead_pipelines.identity normalizes it). Every event type names its lead.
SELECT record_id,
       to_timestamp((payload ->> 'end_timestamp')::numeric / 1000) AS occurred_at,
       CASE jsonb_typeof(payload #> '{vars,lead,email}')
           WHEN 'object' THEN payload #>> '{vars,lead,email,raw}'
           ELSE payload #>> '{vars,lead,email}' END AS email_raw,
       CASE jsonb_typeof(payload #> '{vars,lead,phone_1}')
           WHEN 'object' THEN payload #>> '{vars,lead,phone_1,raw}'
           ELSE payload #>> '{vars,lead,phone_1}' END AS phone_raw,
       'US' AS region
FROM raw.leadconduit_events
WHERE last_run_id > %(lo)s AND last_run_id <= %(hi)s
