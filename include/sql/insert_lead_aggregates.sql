-- Per period (an hour or a UTC day) and per source and channel, from the touchpoints of the period
-- (index range on occurred_at; the "first touchpoint" probe uses the unified_id index):
--   touchpoints         submissions and visits;
--   new_leads           touchpoints that are their unified lead's first (by time, then source, record);
--   multi_source_leads  distinct unified leads of the period seen in two or more sources (all history);
--   outcome_*           LeadConduit outcomes of the submissions.
INSERT INTO mart.lead_aggregates (grain, period_start, period_end, source, channel, touchpoints, new_leads,
                                  multi_source_leads, outcome_success, outcome_failure, outcome_error, built_at)
SELECT %(grain)s, p.period_start, p.period_start + %(step)s::interval, t.source, t.channel,
       count(*),
       count(*) FILTER (WHERE t.unified_id IS NOT NULL AND NOT EXISTS (
           SELECT FROM mart.touchpoints AS e
           WHERE e.unified_id = t.unified_id
             AND (e.occurred_at, e.source, e.stream, e.record_id) < (t.occurred_at, t.source, t.stream, t.record_id))),
       count(DISTINCT t.unified_id) FILTER (WHERE cardinality(u.sources) >= 2),
       count(*) FILTER (WHERE t.outcome = 'success'),
       count(*) FILTER (WHERE t.outcome = 'failure'),
       count(*) FILTER (WHERE t.outcome = 'error'),
       now()
FROM unnest(%(periods)s::timestamptz[]) AS p(period_start)
JOIN mart.touchpoints AS t
  ON t.occurred_at >= p.period_start AND t.occurred_at < p.period_start + %(step)s::interval
LEFT JOIN mart.unified_leads AS u ON u.unified_id = t.unified_id
GROUP BY p.period_start, t.source, t.channel
