-- The aggregates (both grains) whose period ends in the push window (window_start, window_end], oldest
-- first: an hourly run pushes its hour, and the day once its last hour's run comes (the day is whole).
SELECT grain, period_start, period_end, source, channel,
       touchpoints, new_leads, multi_source_leads, outcome_success, outcome_failure, outcome_error,
       visitors, views, sessions, interactions
FROM mart.lead_aggregates
WHERE period_end > %(window_start)s
  AND period_end <= %(window_end)s
ORDER BY period_start, grain, source, channel
