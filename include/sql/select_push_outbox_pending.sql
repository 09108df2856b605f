-- A target's rows waiting to be sent, in the order they are sent (by event time).
SELECT push_key, period_start, payload
FROM ops.push_outbox
WHERE target = %(target)s
  AND state = 'pending'
ORDER BY period_start, push_key
