-- The workflows landed from giosg: one sidedata partition (mapped landing task) each.
SELECT record_id
FROM raw.giosg_workflows
ORDER BY record_id
