-- Every GetLandy form submission written by sync runs in (lo, hi]: landing page, the page's name as
-- flow, UTM parameters from its URL; channel = utm_source, else 'direct'.
WITH found AS (
    SELECT r.record_id, (r.payload ->> 'date')::timestamptz AS occurred_at, r.payload ->> 'url' AS url,
           r.payload ->> 'pageName' AS page_name
    FROM raw.getlandy_leads AS r
    WHERE r.last_run_id > %(lo)s AND r.last_run_id <= %(hi)s
), upserted AS (
    INSERT INTO mart.touchpoints AS t (source, stream, record_id, lead_record_id, occurred_at, unified_id, kind,
                                       channel, landing_page, flow, utm_source, utm_medium, utm_campaign, outcome)
    SELECT 'getlandy', 'leads', f.record_id, f.record_id, f.occurred_at, l.unified_id, 'submission',
           coalesce(substring(f.url FROM '[?&]utm_source=([^&#]+)'), 'direct'),
           f.url, f.page_name,
           substring(f.url FROM '[?&]utm_source=([^&#]+)'), substring(f.url FROM '[?&]utm_medium=([^&#]+)'),
           substring(f.url FROM '[?&]utm_campaign=([^&#]+)'), NULL
    FROM found AS f
    LEFT JOIN mart.lead_links AS l ON l.source = 'getlandy' AND l.stream = 'leads' AND l.record_id = f.record_id
    ON CONFLICT (source, stream, record_id) DO UPDATE
    SET occurred_at = EXCLUDED.occurred_at, unified_id = EXCLUDED.unified_id, channel = EXCLUDED.channel,
        landing_page = EXCLUDED.landing_page, flow = EXCLUDED.flow, utm_source = EXCLUDED.utm_source,
        utm_medium = EXCLUDED.utm_medium, utm_campaign = EXCLUDED.utm_campaign
    RETURNING t.occurred_at
)
INSERT INTO build_touched (hour)
SELECT DISTINCT date_trunc('hour', occurred_at) FROM upserted
ON CONFLICT DO NOTHING
