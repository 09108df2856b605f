-- Quality gate: the window's hourly aggregates add up to its touchpoints (mart.touchpoints), per source.
{% set built = ti.xcom_pull(task_ids='build_marts') %}
{% set s = "'" ~ built['window_start'] ~ "'::timestamptz" %}
{% set e = "'" ~ built['window_end'] ~ "'::timestamptz" %}
WITH aggregated AS (
    SELECT source, sum(touchpoints) AS n FROM mart.lead_aggregates
    WHERE grain = 'hour' AND period_start >= {{ s }} AND period_start < {{ e }}
    GROUP BY source
), counted AS (
    SELECT source, count(*) AS n FROM mart.touchpoints
    WHERE occurred_at >= {{ s }} AND occurred_at < {{ e }}
    GROUP BY source
), compared AS (
    SELECT coalesce(a.source, c.source) AS source, coalesce(a.n, 0) AS aggregated, coalesce(c.n, 0) AS counted
    FROM aggregated AS a FULL JOIN counted AS c USING (source)
)
SELECT bool_and(aggregated = counted) IS NOT FALSE AS touchpoints_add_up,
       coalesce('touchpoints_add_up: ' || string_agg(format('%s aggregates %s vs touchpoints %s (off by %s)',
                source, aggregated, counted, aggregated - counted), '; ') FILTER (WHERE aggregated <> counted),
                'touchpoints_add_up: every source adds up') AS detail
FROM compared
