-- Quality gate: each day of the window's lead counts (touchpoints, new leads, outcomes) equal the sum of
-- its hours, per source and channel.
{% set built = ti.xcom_pull(task_ids='build_marts') %}
{% set s = "'" ~ built['window_start'] ~ "'::timestamptz" %}
{% set e = "'" ~ built['window_end'] ~ "'::timestamptz" %}
WITH days AS (
    SELECT source, channel, period_start AS day, touchpoints, new_leads, outcome_success, outcome_failure, outcome_error
    FROM mart.lead_aggregates
    WHERE grain = 'day' AND period_start >= date_trunc('day', {{ s }}) AND period_start < {{ e }}
      AND source NOT IN ('pirsch', 'giosg')
), hours AS (
    SELECT source, channel, date_trunc('day', period_start) AS day, sum(touchpoints) AS touchpoints,
           sum(new_leads) AS new_leads, sum(outcome_success) AS outcome_success,
           sum(outcome_failure) AS outcome_failure, sum(outcome_error) AS outcome_error
    FROM mart.lead_aggregates
    WHERE grain = 'hour' AND period_start >= date_trunc('day', {{ s }})
      AND period_start < date_trunc('day', {{ e }} - interval '1 microsecond') + interval '1 day'
    GROUP BY source, channel, date_trunc('day', period_start)
), compared AS (
    SELECT coalesce(d.source, h.source) AS source, coalesce(d.channel, h.channel) AS channel,
           coalesce(d.day, h.day) AS day,
           coalesce(d.touchpoints, 0) - coalesce(h.touchpoints, 0) AS touchpoints_off,
           coalesce(d.new_leads, 0) - coalesce(h.new_leads, 0) AS new_leads_off,
           (coalesce(d.outcome_success, 0) + coalesce(d.outcome_failure, 0) + coalesce(d.outcome_error, 0))
             - (coalesce(h.outcome_success, 0) + coalesce(h.outcome_failure, 0) + coalesce(h.outcome_error, 0)) AS outcomes_off
    FROM days AS d FULL JOIN hours AS h USING (source, channel, day)
)
SELECT bool_and(touchpoints_off = 0 AND new_leads_off = 0 AND outcomes_off = 0) IS NOT FALSE AS days_add_up,
       coalesce('days_add_up: ' || string_agg(format('%s %s %s off by %s touchpoints, %s new leads, %s outcomes',
                to_char(day AT TIME ZONE 'UTC', 'YYYY-MM-DD'), source, channel, touchpoints_off, new_leads_off, outcomes_off), '; ')
                FILTER (WHERE touchpoints_off <> 0 OR new_leads_off <> 0 OR outcomes_off <> 0),
                'days_add_up: every day adds up') AS detail
FROM compared
