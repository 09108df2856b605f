-- A target's rows whose send has an unknown outcome (marked sending before a call that never answered).
SELECT push_key, period_start, payload
FROM ops.push_outbox
WHERE target = %(target)s
  AND state = 'sending'
ORDER BY period_start, push_key
