-- Release the push target's lock (lock_push_outbox_target.sql).
SELECT pg_advisory_unlock(%(lock_key)s)
