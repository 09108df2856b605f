-- Rows whose earlier send was read back and not found at the vendor: to be sent again.
UPDATE ops.push_outbox
SET state = 'pending', resolved_by = NULL
WHERE push_key = ANY(%(push_keys)s)
  AND state = 'sending'
