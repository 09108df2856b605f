-- Every LeadConduit submission (its 'source' event: one per lead, after the flow handled it) written by
-- sync runs in (lo, hi]: flow, the lead's source as channel, outcome. The hours it lands in are noted.
WITH upserted AS (
    INSERT INTO mart.touchpoints AS t (source, stream, record_id, lead_record_id, occurred_at, unified_id, kind,
                                       channel, landing_page, flow, utm_source, utm_medium, utm_campaign, outcome)
    SELECT 'leadconduit', 'events', r.record_id, r.record_id,
           to_timestamp((r.payload ->> 'end_timestamp')::numeric / 1000),
           l.unified_id, 'submission',
           coalesce(r.payload #>> '{vars,source,name}', r.payload #>> '{vars,source,id}', 'unknown'),
           r.payload #>> '{vars,lead,landing_page}',
           r.payload #>> '{vars,flow,name}',
           r.payload #>> '{vars,lead,utm_source}', r.payload #>> '{vars,lead,utm_medium}',
           r.payload #>> '{vars,lead,utm_campaign}',
           r.payload ->> 'outcome'
    FROM raw.leadconduit_events AS r
    LEFT JOIN mart.lead_links AS l ON l.source = 'leadconduit' AND l.stream = 'events' AND l.record_id = r.record_id
    WHERE r.last_run_id > %(lo)s AND r.last_run_id <= %(hi)s AND r.payload ->> 'type' = 'source'
    ON CONFLICT (source, stream, record_id) DO UPDATE
    SET occurred_at = EXCLUDED.occurred_at, unified_id = EXCLUDED.unified_id, channel = EXCLUDED.channel,
        landing_page = EXCLUDED.landing_page, flow = EXCLUDED.flow, utm_source = EXCLUDED.utm_source,
        utm_medium = EXCLUDED.utm_medium, utm_campaign = EXCLUDED.utm_campaign, outcome = EXCLUDED.outcome
    RETURNING t.occurred_at
)
INSERT INTO build_touched (hour)
SELECT DISTINCT date_trunc('hour', occurred_at) FROM upserted
ON CONFLICT DO NOTHING
