-- Every LeadBoxer visit (session) written by sync runs in (lo, hi], linked through its lead (use_id):
-- landing page, UTM parameters from the landing URL; channel 'referral' when it had a referrer.
WITH found AS (
    SELECT r.record_id, r.payload ->> 'use_id' AS use_id,
           to_timestamp((r.payload ->> 'session_unix_timestamp')::numeric / 1000) AS occurred_at,
           r.payload ->> 'landing_url' AS url, nullif(r.payload ->> 'referrer', '') AS referrer
    FROM raw.leadboxer_sessions AS r
    WHERE r.last_run_id > %(lo)s AND r.last_run_id <= %(hi)s
), upserted AS (
    INSERT INTO mart.touchpoints AS t (source, stream, record_id, lead_record_id, occurred_at, unified_id, kind,
                                       channel, landing_page, flow, utm_source, utm_medium, utm_campaign, outcome)
    SELECT 'leadboxer', 'sessions', f.record_id, coalesce(f.use_id, ''), f.occurred_at, l.unified_id, 'visit',
           coalesce(substring(f.url FROM '[?&]utm_source=([^&#]+)'),
                    CASE WHEN f.referrer IS NULL THEN 'direct' ELSE 'referral' END),
           f.url, NULL,
           substring(f.url FROM '[?&]utm_source=([^&#]+)'), substring(f.url FROM '[?&]utm_medium=([^&#]+)'),
           substring(f.url FROM '[?&]utm_campaign=([^&#]+)'), NULL
    FROM found AS f
    LEFT JOIN mart.lead_links AS l ON l.source = 'leadboxer' AND l.stream = 'leads' AND l.record_id = f.use_id
    ON CONFLICT (source, stream, record_id) DO UPDATE
    SET lead_record_id = EXCLUDED.lead_record_id, occurred_at = EXCLUDED.occurred_at,
        unified_id = EXCLUDED.unified_id, channel = EXCLUDED.channel, landing_page = EXCLUDED.landing_page,
        utm_source = EXCLUDED.utm_source, utm_medium = EXCLUDED.utm_medium, utm_campaign = EXCLUDED.utm_campaign
    RETURNING t.occurred_at
)
INSERT INTO build_touched (hour)
SELECT DISTINCT date_trunc('hour', occurred_at) FROM upserted
ON CONFLICT DO NOTHING
