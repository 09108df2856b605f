-- Replace what a version will send while it is still pending and was never attempted.
UPDATE ops.push_outbox
SET payload = %(payload)s, content_hash = %(content_hash)s
WHERE push_key = %(push_key)s
  AND state = 'pending'
  AND attempts = 0
