-- A new version of an aggregate to send (version 1, or a correction after a sent one), pending.
INSERT INTO ops.push_outbox (push_key, target, aggregate_key, version, kind, grain, period_start, payload,
                             content_hash, state)
VALUES (%(push_key)s, %(target)s, %(aggregate_key)s, %(version)s, %(kind)s, %(grain)s, %(period_start)s,
        %(payload)s, %(content_hash)s, 'pending')
ON CONFLICT DO NOTHING
