-- The hours this build changed the inputs of, in order.
SELECT hour FROM build_touched ORDER BY hour
