-- Take the next batch of a target's pending rows, by event time, and mark them sending (committed before the call).
UPDATE ops.push_outbox AS o
SET state = 'sending', attempts = o.attempts + 1, attempted_at = now()
FROM (
    SELECT push_key
    FROM ops.push_outbox
    WHERE target = %(target)s
      AND state = 'pending'
    ORDER BY period_start, push_key
    LIMIT %(batch_size)s
    FOR UPDATE SKIP LOCKED
) AS next
WHERE o.push_key = next.push_key
RETURNING o.push_key, o.period_start, o.payload
