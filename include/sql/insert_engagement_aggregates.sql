-- The same days' web engagement: Pirsch's daily visitor row (source pirsch, channel web) and each giosg
-- workflow's sidedata of the day (source giosg, channel = the workflow's name). Both raw tables hold a
-- few rows per day (a count that is not a JSON number counts 0); their record ids are natural keys (a JSON array whose second item is the day or
-- the interval's start).
INSERT INTO mart.lead_aggregates (grain, period_start, period_end, source, channel, visitors, views, sessions,
                                  interactions, built_at)
SELECT 'day', d.day, d.day + interval '1 day', 'pirsch', 'web',
       sum(CASE WHEN jsonb_typeof(r.payload -> 'visitors') = 'number' THEN (r.payload ->> 'visitors')::numeric ELSE 0 END)::int,
       sum(CASE WHEN jsonb_typeof(r.payload -> 'views') = 'number' THEN (r.payload ->> 'views')::numeric ELSE 0 END)::int,
       sum(CASE WHEN jsonb_typeof(r.payload -> 'sessions') = 'number' THEN (r.payload ->> 'sessions')::numeric ELSE 0 END)::int,
       0, now()
FROM unnest(%(periods)s::timestamptz[]) AS d(day)
JOIN raw.pirsch_visitor AS r ON (r.record_id::jsonb ->> 1)::date = (d.day AT TIME ZONE 'UTC')::date
GROUP BY d.day
UNION ALL
SELECT 'day', d.day, d.day + interval '1 day', 'giosg', coalesce(w.payload ->> 'name', s.record_id::jsonb ->> 0),
       sum(CASE WHEN jsonb_typeof(s.payload -> 'unique_visitors_count') = 'number' THEN (s.payload ->> 'unique_visitors_count')::numeric ELSE 0 END)::int,
       0,
       sum(CASE WHEN jsonb_typeof(s.payload -> 'unique_sessions_count') = 'number' THEN (s.payload ->> 'unique_sessions_count')::numeric ELSE 0 END)::int,
       sum(CASE WHEN jsonb_typeof(s.payload -> 'started_workflows_count') = 'number' THEN (s.payload ->> 'started_workflows_count')::numeric ELSE 0 END)::int,
       now()
FROM unnest(%(periods)s::timestamptz[]) AS d(day)
JOIN raw.giosg_sidedata AS s
  ON (s.record_id::jsonb ->> 1)::timestamptz >= d.day AND (s.record_id::jsonb ->> 1)::timestamptz < d.day + interval '1 day'
LEFT JOIN raw.giosg_workflows AS w ON w.record_id = s.record_id::jsonb ->> 0
GROUP BY d.day, coalesce(w.payload ->> 'name', s.record_id::jsonb ->> 0)
