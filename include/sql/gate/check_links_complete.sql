-- Quality gate (rendered by Airflow: the window comes from build_marts): every unified lead active in
-- the window has at least one link to a raw record.
{% set built = ti.xcom_pull(task_ids='build_marts') %}
{% set s = "'" ~ built['window_start'] ~ "'::timestamptz" %}
{% set e = "'" ~ built['window_end'] ~ "'::timestamptz" %}
SELECT count(*) = 0 AS links_complete,
       format('links_complete: %s unified leads of the window have no link', count(*)) AS detail
FROM mart.unified_leads AS u
WHERE u.first_seen_at < {{ e }} AND u.last_seen_at >= {{ s }}
  AND NOT EXISTS (SELECT FROM mart.lead_links AS l WHERE l.unified_id = u.unified_id)
