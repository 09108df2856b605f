-- The latest version of each of the given aggregates in a target's outbox (the caller holds the target's lock).
SELECT DISTINCT ON (aggregate_key)
       aggregate_key, push_key, version, state, attempts, content_hash, payload
FROM ops.push_outbox
WHERE target = %(target)s
  AND aggregate_key = ANY(%(aggregate_keys)s)
ORDER BY aggregate_key, version DESC
