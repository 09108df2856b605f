-- LeadConduit events per report group, event type and outcome, created in [start_ms, end_ms): what a
-- report run counts (events, not leads, by end_timestamp in epoch ms). group_values holds each
-- group_by path's value as text (null where absent), in the report's group_by order.
SELECT ARRAY(
           SELECT e.payload #>> string_to_array(path, '.')
           FROM unnest(%(group_by)s::text[]) WITH ORDINALITY AS g(path, position)
           ORDER BY g.position
       ) AS group_values,
       e.payload ->> 'type' AS event_type,
       e.payload ->> 'outcome' AS outcome,
       count(*) AS events
FROM raw.leadconduit_events AS e
WHERE e.payload ->> 'type' = ANY(%(types)s::text[])
  AND CASE WHEN jsonb_typeof(e.payload -> 'end_timestamp') = 'number'
           THEN (e.payload ->> 'end_timestamp')::numeric END >= %(start_ms)s
  AND CASE WHEN jsonb_typeof(e.payload -> 'end_timestamp') = 'number'
           THEN (e.payload ->> 'end_timestamp')::numeric END < %(end_ms)s
GROUP BY 1, 2, 3
