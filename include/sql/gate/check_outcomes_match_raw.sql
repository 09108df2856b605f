-- Quality gate: LeadConduit outcomes in the window's hourly aggregates equal its raw 'source' events by
-- outcome. Event ids are BSON ObjectIds, which start with their creation second: the primary key's
-- range (widened by an hour each side) keeps this an index scan however long the history.
{% set built = ti.xcom_pull(task_ids='build_marts') %}
{% set s = "'" ~ built['window_start'] ~ "'::timestamptz" %}
{% set e = "'" ~ built['window_end'] ~ "'::timestamptz" %}
WITH raw_counts AS (
    SELECT count(*) FILTER (WHERE payload ->> 'outcome' = 'success') AS success,
           count(*) FILTER (WHERE payload ->> 'outcome' = 'failure') AS failure,
           count(*) FILTER (WHERE payload ->> 'outcome' = 'error') AS error
    FROM raw.leadconduit_events
    WHERE record_id >= lpad(to_hex((extract(epoch FROM {{ s }}) - 3600)::bigint), 8, '0')
      AND record_id < lpad(to_hex((extract(epoch FROM {{ e }}) + 3600)::bigint), 8, '0')
      AND payload ->> 'type' = 'source'
      AND jsonb_typeof(payload -> 'end_timestamp') = 'number'
      AND (payload ->> 'end_timestamp')::numeric >= extract(epoch FROM {{ s }}) * 1000
      AND (payload ->> 'end_timestamp')::numeric < extract(epoch FROM {{ e }}) * 1000
), aggregated AS (
    SELECT coalesce(sum(outcome_success), 0) AS success, coalesce(sum(outcome_failure), 0) AS failure,
           coalesce(sum(outcome_error), 0) AS error
    FROM mart.lead_aggregates
    WHERE grain = 'hour' AND source = 'leadconduit' AND period_start >= {{ s }} AND period_start < {{ e }}
)
SELECT (a.success, a.failure, a.error) = (r.success, r.failure, r.error) AS outcomes_match_raw,
       format('outcomes_match_raw: aggregates success %s, failure %s, error %s vs raw %s, %s, %s (off by %s, %s, %s)',
              a.success, a.failure, a.error, r.success, r.failure, r.error,
              a.success - r.success, a.failure - r.failure, a.error - r.error) AS detail
FROM aggregated AS a, raw_counts AS r
