-- A session-level lock per push target (ops.push_outbox.target): held from planning to the last send,
-- so two pushes to one target never resolve or send the same row; released when the push ends or its
-- connection dies. Waiting is bounded by the transaction's lock_timeout.
SELECT set_config('lock_timeout', %(lock_timeout)s, true), pg_advisory_lock(%(lock_key)s)
