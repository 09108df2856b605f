-- A session-level lock per (vendor, stream, window): held while the run lands, released when it
-- ends or its connection dies. Waiting is bounded by the transaction's lock_timeout.
SELECT set_config('lock_timeout', %(lock_timeout)s, true), pg_advisory_lock(%(lock_key)s)
