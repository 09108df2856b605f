-- Rows whose send is known to have arrived: a 2xx answer ('response') or found at the vendor ('readback').
UPDATE ops.push_outbox
SET state = 'sent', sent_at = now(), resolved_by = %(resolved_by)s
WHERE push_key = ANY(%(push_keys)s)
  AND state = 'sending'
