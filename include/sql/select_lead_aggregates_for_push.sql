-- The aggregates (both grains) whose period lies in the push window [window_start, window_end), oldest first.
SELECT grain, period_start, period_end, source, channel,
       touchpoints, new_leads, multi_source_leads, outcome_success, outcome_failure, outcome_error,
       visitors, views, sessions, interactions
FROM mart.lead_aggregates
WHERE period_start >= %(window_start)s
  AND period_end <= %(window_end)s
ORDER BY period_start, grain, source, channel
